//! Torn writes, corrupt tails and crashes, simulated through the fault-injecting storage
//! (`FaultStorage`): the journal and writer run for real, the "disk" forgets what was not
//! synced, and recovery must serve exactly the records that were whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use bytes::Bytes;
use herald::keyspace::stream::{AddId, Group, Stream, StreamId};
use herald::keyspace::{Keyspace, Value};
use herald::persist::segment::{list_segments, read_segment, stream_dir, SegmentWriter};
use herald::persist::{self, hooks, DurablePolicy, FaultStorage, FsyncPolicy, Record, Settings, Storage};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::Arc;

fn root() -> PathBuf {
    PathBuf::from("/data")
}

fn settings(fsync: FsyncPolicy) -> Settings {
    Settings { policy: DurablePolicy::All, fsync, segment_size: 64 * 1024 * 1024 }
}

/// A keyspace with durability on over `storage`.
fn open(storage: &FaultStorage, fsync: FsyncPolicy) -> (Mutex<Keyspace>, persist::RecoveryReport) {
    let mut ks = Keyspace::new(16);
    let report = persist::start(&mut ks, settings(fsync), Arc::new(storage.clone()), root()).unwrap();
    (Mutex::new(ks), report)
}

fn fields(n: u64) -> Vec<(Bytes, Bytes)> {
    vec![(Bytes::from_static(b"n"), Bytes::from(n.to_string()))]
}

/// XADD as the command does it: the data operation, then the record; returns the batch's
/// ticket (its durability claim).
fn xadd(ks: &Mutex<Keyspace>, key: &[u8], ms: u64) -> Option<persist::Ticket> {
    let mut ks = ks.lock();
    let since = persist::seq(&ks);
    let now = ks.now_ms();
    let id = StreamId::new(ms, 0);
    let exists = matches!(ks.db(0).get_value(key, now), Some(Value::Stream(_)));
    if exists {
        if let Some(Value::Stream(s)) = ks.db(0).get_value(key, now) {
            s.add(AddId::Explicit(id), &fields(ms), now).unwrap();
        }
        persist::record(&mut ks, 0, key, |_| vec![hooks::entry_added(id, &fields(ms))]);
    } else {
        let mut s = Stream::new();
        s.add(AddId::Explicit(id), &fields(ms), now).unwrap();
        ks.db(0).insert(key, Value::Stream(Box::new(s)), None, now);
    }
    persist::ticket(&mut ks, since)
}

fn ids(ks: &Mutex<Keyspace>, key: &[u8]) -> Vec<u64> {
    let mut ks = ks.lock();
    let now = ks.now_ms();
    match ks.db(0).get_value(key, now) {
        Some(Value::Stream(s)) => s.range(StreamId::MIN, StreamId::MAX, None, false).iter().map(|e| e.id.ms).collect(),
        _ => Vec::new(),
    }
}

fn only_segment(storage: &FaultStorage) -> PathBuf {
    let dirs = storage.list_dir(&root().join("streams")).unwrap();
    assert_eq!(dirs.len(), 1);
    let segs = list_segments(storage, &dirs[0]).unwrap();
    segs.last().unwrap().1.clone()
}

#[test]
fn acknowledged_always_writes_survive_a_crash_that_tears_the_next_record() {
    let storage = FaultStorage::new();
    let (ks, _) = open(&storage, FsyncPolicy::Always);
    for ms in 1..=5 {
        xadd(&ks, b"s", ms).unwrap().wait_blocking().unwrap();
    }
    // The sixth record reaches the OS but not the disk: a crash keeps 7 bytes of it.
    storage.fail_syncs(true);
    let ticket = xadd(&ks, b"s", 6).unwrap();
    assert!(ticket.wait_blocking().is_err(), "a failed fsync must not be reported durable");
    storage.crash(7);
    drop(ks);
    storage.fail_syncs(false);
    let (ks, report) = open(&storage, FsyncPolicy::Always);
    assert_eq!(ids(&ks, b"s"), vec![1, 2, 3, 4, 5]);
    assert_eq!(report.torn_records_truncated, 1);
    let seg = read_segment(&storage, &only_segment(&storage)).unwrap().unwrap();
    assert_eq!(seg.bad_tail, None, "the torn tail was cut off the file");
    // Appending after recovery continues the log cleanly.
    xadd(&ks, b"s", 7).unwrap().wait_blocking().unwrap();
    persist::stop(&ks);
    let (ks, report) = open(&storage, FsyncPolicy::Always);
    assert_eq!(ids(&ks, b"s"), vec![1, 2, 3, 4, 5, 7]);
    assert_eq!(report.torn_records_truncated, 0);
}

#[test]
fn a_corrupt_tail_record_is_cut_and_never_served() {
    let storage = FaultStorage::new();
    let (ks, _) = open(&storage, FsyncPolicy::Always);
    for ms in 1..=3 {
        xadd(&ks, b"s", ms).unwrap().wait_blocking().unwrap();
    }
    persist::stop(&ks);
    let path = only_segment(&storage);
    let len = storage.read(&path).unwrap().len();
    storage.flip_byte(&path, len - 2);
    let (ks, report) = open(&storage, FsyncPolicy::Always);
    assert_eq!(ids(&ks, b"s"), vec![1, 2]);
    assert_eq!(report.torn_records_truncated, 1);
    let seg = read_segment(&storage, &path).unwrap().unwrap();
    assert_eq!((seg.bad_tail, seg.valid_len, seg.file_len), (None, seg.file_len, seg.file_len));
}

#[test]
fn garbage_after_the_last_record_is_cut() {
    let storage = FaultStorage::new();
    let (ks, _) = open(&storage, FsyncPolicy::Always);
    xadd(&ks, b"s", 1).unwrap().wait_blocking().unwrap();
    persist::stop(&ks);
    let path = only_segment(&storage);
    storage.append_raw(&path, &[0xff; 3]);
    let (ks, report) = open(&storage, FsyncPolicy::Always);
    assert_eq!(ids(&ks, b"s"), vec![1]);
    assert_eq!(report.torn_records_truncated, 1);
}

#[test]
fn every_cut_of_the_last_record_recovers_the_records_before_it() {
    // Write three records, then for each possible torn length of the third, recover.
    let storage = FaultStorage::new();
    let dir = stream_dir(&root(), 1);
    let mut w = SegmentWriter::create(Arc::new(storage.clone()), dir.clone(), 0, Bytes::from_static(b"s"), 0).unwrap();
    let mut full = Vec::new();
    for ms in 1..=3u64 {
        let bytes = Record::EntryAdded { id: StreamId::new(ms, 0), fields: fields(ms) }.encode();
        if ms < 3 {
            w.append(&bytes).unwrap();
        } else {
            full = bytes;
        }
    }
    w.sync().unwrap();
    let path = list_segments(&storage, &dir).unwrap()[0].1.clone();
    let base = storage.read(&path).unwrap();
    for cut in 0..full.len() {
        let torn = FaultStorage::new();
        torn.create_dir_all(&dir).unwrap();
        let mut f = torn.open_append(&path).unwrap();
        f.append(&base).unwrap();
        f.append(&full[..cut]).unwrap();
        let (streams, report) = persist::recovery::recover(&torn, &root()).unwrap();
        assert_eq!(streams.len(), 1);
        let got: Vec<u64> = streams[0].stream.range(StreamId::MIN, StreamId::MAX, None, false).iter().map(|e| e.id.ms).collect();
        assert_eq!(got, vec![1, 2], "cut at {cut}");
        assert_eq!(report.torn_records_truncated, u64::from(cut > 0), "cut at {cut}");
        assert_eq!(torn.read(&path).unwrap(), base, "cut at {cut}: file truncated to the whole records");
    }
}

#[test]
fn a_crash_while_rolling_leaves_a_headerless_segment_that_recovery_removes() {
    let storage = FaultStorage::new();
    let (ks, _) = open(&storage, FsyncPolicy::Always);
    xadd(&ks, b"s", 1).unwrap().wait_blocking().unwrap();
    persist::stop(&ks);
    let dir = storage.list_dir(&root().join("streams")).unwrap()[0].clone();
    let next = dir.join(format!("{:016x}.seg", 1));
    storage.open_append(&next).unwrap().append(b"HRLDS").unwrap();
    let (ks, report) = open(&storage, FsyncPolicy::Always);
    assert_eq!(ids(&ks, b"s"), vec![1]);
    assert_eq!(report.torn_records_truncated, 1);
    assert!(storage.read(&next).is_err(), "the torn segment file is gone");
    xadd(&ks, b"s", 2).unwrap().wait_blocking().unwrap();
    persist::stop(&ks);
    let (ks, _) = open(&storage, FsyncPolicy::Always);
    assert_eq!(ids(&ks, b"s"), vec![1, 2]);
}

#[test]
fn group_state_is_rebuilt_exactly_from_records() {
    let storage = FaultStorage::new();
    let (ks, _) = open(&storage, FsyncPolicy::Always);
    for ms in 1..=4 {
        xadd(&ks, b"s", ms).unwrap().wait_blocking().unwrap();
    }
    let expected = {
        let mut guard = ks.lock();
        let since = persist::seq(&guard);
        let now = guard.now_ms();
        let alice = Bytes::from_static(b"alice");
        if let Some(Value::Stream(s)) = guard.db(0).get_value(b"s", now) {
            s.groups.insert(Bytes::from_static(b"g"), Group::new(StreamId::MIN, Some(0)));
            // As XREADGROUP does: the consumer first, then the read.
            if let Some(g) = s.groups.get_mut(&b"g"[..]) {
                g.consumer(&alice, 1_000);
            }
            s.read_group_new(b"g", &alice, Some(3), false, 1_000).unwrap();
        }
        persist::record(&mut guard, 0, b"s", |s| {
            let mut r = vec![Record::GroupCreated { group: Bytes::from_static(b"g"), last_id: StreamId::MIN, entries_read: Some(0) }];
            r.extend(hooks::delivered(s, b"g", b"alice", &[StreamId::new(1, 0), StreamId::new(2, 0), StreamId::new(3, 0)]));
            r
        });
        let ticket = persist::ticket(&mut guard, since).unwrap();
        let group = match guard.db(0).get_value(b"s", now) {
            Some(Value::Stream(s)) => s.groups.get(&b"g"[..]).cloned().unwrap(),
            _ => unreachable!(),
        };
        drop(guard);
        ticket.wait_blocking().unwrap();
        group
    };
    storage.crash(0);
    let (ks2, _) = open(&storage, FsyncPolicy::Always);
    let mut guard = ks2.lock();
    let now = guard.now_ms();
    let Some(Value::Stream(s)) = guard.db(0).get_value(b"s", now) else { panic!("stream missing") };
    assert_eq!(s.groups.get(&b"g"[..]), Some(&expected));
    assert_eq!(expected.pel.len(), 3);
    assert_eq!(expected.consumers.get(&b"alice"[..]).map(|c| (c.seen_ms, c.active_ms, c.pel.len())), Some((1_000, Some(1_000), 3)));
    drop(guard);
    persist::stop(&ks);
}

#[test]
fn everysec_and_no_report_writes_before_any_fsync() {
    for policy in [FsyncPolicy::Everysec, FsyncPolicy::No] {
        let storage = FaultStorage::new();
        let (ks, _) = open(&storage, policy);
        let syncs_before = storage.syncs();
        xadd(&ks, b"s", 1).unwrap().wait_blocking().unwrap();
        xadd(&ks, b"s", 2).unwrap().wait_blocking().unwrap();
        assert_eq!(storage.syncs(), syncs_before, "{policy}: no fsync on the reply path");
        persist::stop(&ks);
        assert!(storage.syncs() > syncs_before, "{policy}: stopping syncs everything");
        let (ks, _) = open(&storage, policy);
        assert_eq!(ids(&ks, b"s"), vec![1, 2]);
    }
}

/// The length of the only segment file.
fn segment_len(storage: &FaultStorage) -> usize {
    storage.read(&only_segment(storage)).unwrap().len()
}

#[test]
fn a_batch_writes_its_records_at_its_end_and_always_acks_only_once_they_are_synced() {
    let storage = FaultStorage::new();
    let (ks, _) = open(&storage, FsyncPolicy::Always);
    xadd(&ks, b"s", 1).unwrap().wait_blocking().unwrap();
    let (ticket, buffered_len, before) = {
        let mut guard = ks.lock();
        let before = segment_len(&storage);
        let since = persist::begin(&mut guard);
        let now = guard.now_ms();
        for ms in 2..=4 {
            if let Some(Value::Stream(s)) = guard.db(0).get_value(b"s", now) {
                s.add(AddId::Explicit(StreamId::new(ms, 0)), &fields(ms), now).unwrap();
            }
            persist::record(&mut guard, 0, b"s", |_| vec![hooks::entry_added(StreamId::new(ms, 0), &fields(ms))]);
        }
        let buffered_len = segment_len(&storage);
        (persist::ticket(&mut guard, since).unwrap(), buffered_len, before)
    };
    assert_eq!(buffered_len, before, "records wait in the batch's buffer until its end");
    assert!(segment_len(&storage) > before, "the batch's end wrote them");
    ticket.wait_blocking().unwrap();
    // Acknowledged: a crash that keeps only synced bytes keeps all of them.
    storage.crash(0);
    drop(ks);
    let (ks, report) = open(&storage, FsyncPolicy::Always);
    assert_eq!(ids(&ks, b"s"), vec![1, 2, 3, 4]);
    assert_eq!(report.torn_records_truncated, 0);
    persist::stop(&ks);
}

#[test]
fn everysec_syncs_written_records_in_the_background() {
    let storage = FaultStorage::new();
    let (ks, _) = open(&storage, FsyncPolicy::Everysec);
    xadd(&ks, b"s", 1).unwrap().wait_blocking().unwrap();
    xadd(&ks, b"s", 2).unwrap().wait_blocking().unwrap();
    // Nothing wakes the fsync thread: its clock does, about a second later.
    let mut polls = 0;
    while storage.syncs() == 0 && polls < 100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        polls += 1;
    }
    assert!(storage.syncs() > 0, "the fsync thread synced within five seconds");
    storage.crash(0);
    drop(ks);
    let (ks, _) = open(&storage, FsyncPolicy::Everysec);
    assert_eq!(ids(&ks, b"s"), vec![1, 2]);
    persist::stop(&ks);
}
