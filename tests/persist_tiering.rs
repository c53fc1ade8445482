//! Tiering of durable streams against real segment files (through the storage trait): a
//! stream larger than its memory budget serves old history from its segments, across a
//! restart, and deletions, trims and claims over evicted entries stay correct.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use bytes::Bytes;
use herald::keyspace::stream::{AddId, ColdTier, Stream, StreamEntry, StreamId, Trim, TrimStrategy};
use herald::persist::format::Record;
use herald::persist::io::{FaultStorage, Storage};
use herald::persist::recovery;
use herald::persist::segment::{stream_dir, SegmentReader, SegmentWriter};
use herald::persist::tier::{SegmentColdStore, TierSettings};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const BUDGET: u64 = 16 * 1024;

/// A durable stream as the journal keeps it: every entry is written to segments (rolling every
/// `roll_every` entries) and the stream evicts beyond its budget.
struct Durable {
    stream: Stream,
    writer: SegmentWriter,
    store: Arc<SegmentColdStore>,
    written: Arc<AtomicU64>,
    added: Vec<StreamEntry>,
}

fn fields(i: u64) -> Vec<(Bytes, Bytes)> {
    vec![(Bytes::from_static(b"sensor"), Bytes::from(format!("reading-{i}-{}", "x".repeat((i % 7) as usize))))]
}

fn store_for(storage: &FaultStorage, dir: &Path, written: &Arc<AtomicU64>) -> Arc<SegmentColdStore> {
    let settings = Arc::new(TierSettings::default());
    settings.set_memory_budget(BUDGET);
    let seq = written.clone();
    Arc::new(SegmentColdStore::new(Arc::new(storage.clone()), dir.to_path_buf(), settings, Arc::new(move || seq.load(Ordering::SeqCst))))
}

fn dir() -> PathBuf {
    stream_dir(Path::new("/data"), 1)
}

impl Durable {
    fn new(storage: &FaultStorage) -> Durable {
        let writer = SegmentWriter::create(Arc::new(storage.clone()), dir(), 0, Bytes::from_static(b"s"), 0).unwrap();
        let written = Arc::new(AtomicU64::new(0));
        let store = store_for(storage, &dir(), &written);
        let mut stream = Stream::new();
        stream.set_cold_tier(ColdTier { store: store.clone(), key: Bytes::from_static(b"s") });
        Durable { stream, writer, store, written, added: Vec::new() }
    }

    fn add(&mut self, n: u64, roll_every: u64) {
        for i in 1..=n {
            let f = fields(i);
            let id = self.stream.add(AddId::Explicit(StreamId::new(1_000 + i, 0)), &f, 0).unwrap();
            self.writer.append(&Record::EntryAdded { id, fields: f.clone() }.encode()).unwrap();
            // Written as operation i, and the writer got there at once.
            self.store.note_queued(i, id);
            self.written.store(i, Ordering::SeqCst);
            self.added.push(StreamEntry { id, fields: f });
            if i % roll_every == 0 {
                self.writer.roll().unwrap();
            }
        }
    }
}

fn all(stream: &Stream) -> Vec<StreamEntry> {
    stream.try_range(StreamId::MIN, StreamId::MAX, None, false).unwrap()
}

/// Rebuilds the stream from its segments, as recovery does, with the tier attached first so
/// the rebuilt stream stays within its budget too.
fn restart(storage: &FaultStorage) -> (Stream, Arc<SegmentColdStore>) {
    let written = Arc::new(AtomicU64::new(0));
    let store = store_for(storage, &dir(), &written);
    let reader = SegmentReader::new(Arc::new(storage.clone()), dir());
    let mut stream = Stream::new();
    stream.set_cold_tier(ColdTier { store: store.clone(), key: Bytes::from_static(b"s") });
    for entry in reader.read_entries(StreamId::MIN, usize::MAX).unwrap() {
        store.note_written(entry.id);
        stream.add(AddId::Explicit(entry.id), &entry.fields, 0).unwrap();
    }
    (stream, store)
}

#[test]
fn a_stream_larger_than_its_budget_serves_its_whole_history_from_segments_across_a_restart() {
    let storage = FaultStorage::new();
    let mut d = Durable::new(&storage);
    d.add(30_000, 5_000);
    assert!(d.stream.cold_runs() > 0, "history was evicted");
    assert!(d.stream.resident_bytes() as u64 <= BUDGET, "resident {} > budget", d.stream.resident_bytes());
    assert_eq!(d.stream.len(), 30_000);
    assert_eq!(all(&d.stream), d.added);
    let mut newest_first = d.added.clone();
    newest_first.reverse();
    assert_eq!(d.stream.try_range(StreamId::MIN, StreamId::MAX, None, true).unwrap(), newest_first);
    let middle = d.stream.try_range(StreamId::new(5_500, 0), StreamId::MAX, Some(10), false).unwrap();
    assert_eq!(middle, d.added[4_499..4_509].to_vec());

    let (stream, _store) = restart(&storage);
    assert!(stream.cold_runs() > 0);
    assert!(stream.resident_bytes() as u64 <= BUDGET);
    assert_eq!(all(&stream), d.added);
}

#[test]
fn recovery_of_a_stream_larger_than_its_budget_evicts_while_it_replays_and_reads_everything_back() {
    let storage = FaultStorage::new();
    let mut d = Durable::new(&storage);
    d.add(30_000, 5_000);
    // Deletions and a trim that reach history already evicted when replay gets to them.
    let deleted = [StreamId::new(1_600, 0), StreamId::new(3_000, 0), StreamId::new(20_000, 0)];
    d.writer.append(&Record::EntriesDeleted { ids: deleted.to_vec() }.encode()).unwrap();
    d.writer.append(&Record::Trimmed { min_kept: StreamId::new(1_501, 0) }.encode()).unwrap();
    let expected: Vec<StreamEntry> = d.added.iter().filter(|e| e.id >= StreamId::new(1_501, 0) && !deleted.contains(&e.id)).cloned().collect();

    let written = Arc::new(AtomicU64::new(0));
    let factory = |_handle: u64| store_for(&storage, &dir(), &written);
    let (streams, report) = recovery::recover_tiered(&storage, Path::new("/data"), Some(&factory)).unwrap();
    assert_eq!(streams.len(), 1);
    let stream = &streams[0].stream;
    assert!(report.peak_resident_bytes <= BUDGET, "resident during replay {} > budget {BUDGET}", report.peak_resident_bytes);
    assert!(report.peak_resident_bytes > 0);
    assert!(stream.cold_runs() > 0, "replay evicted history");
    assert!(stream.resident_bytes() as u64 <= BUDGET);
    assert_eq!(stream.len(), expected.len() as u64);
    assert_eq!(stream.first_id(), StreamId::new(1_501, 0));
    assert_eq!(all(stream), expected);
    assert!(streams[0].cold.is_some(), "the store used during replay stays with the stream");

    // Without a tier, the same replay holds the whole stream.
    let (whole, report) = recovery::recover(&storage, Path::new("/data")).unwrap();
    assert!(report.peak_resident_bytes > BUDGET);
    assert_eq!(all(&whole[0].stream), expected);
}

#[test]
fn entries_still_in_the_writers_queue_are_not_evicted() {
    let storage = FaultStorage::new();
    let mut d = Durable::new(&storage);
    d.add(1_000, u64::MAX);
    // The writer falls behind: later entries are "queued" but never reported written.
    d.written.store(1_000, Ordering::SeqCst);
    let cold_before = d.stream.cold_runs();
    for i in 1_001..=20_000 {
        let f = fields(i);
        let id = d.stream.add(AddId::Explicit(StreamId::new(1_000 + i, 0)), &f, 0).unwrap();
        d.store.note_queued(i, id);
    }
    assert!(d.stream.resident_bytes() as u64 > BUDGET, "unwritten entries stay resident despite the budget");
    assert!(d.stream.cold_runs() <= cold_before + 1);
    assert_eq!(d.stream.len(), 20_000);
}

#[test]
fn deletes_trims_and_claims_over_evicted_entries_stay_correct() {
    let storage = FaultStorage::new();
    let mut d = Durable::new(&storage);
    d.add(20_000, 4_000);
    let old = |i: u64| StreamId::new(1_000 + i, 0);
    // XDEL of cold entries, including the first one.
    assert!(d.stream.try_delete(old(1)).unwrap());
    assert!(d.stream.try_delete(old(2_500)).unwrap());
    assert!(!d.stream.try_delete(old(2_500)).unwrap());
    assert_eq!(d.stream.first_entry().unwrap().id, old(2));
    assert_eq!(d.stream.len(), 19_998);
    assert_eq!(d.stream.max_deleted_id(), old(2_500));
    assert!(d.stream.try_get(old(2_500)).unwrap().is_none());
    assert_eq!(d.stream.try_get(old(2_501)).unwrap().unwrap().fields, fields(2_501));

    // A group delivers old entries, one of which is then deleted: claims see fields or a deletion.
    d.stream.groups.insert(Bytes::from_static(b"g"), herald::keyspace::stream::Group::new(StreamId::MIN, Some(0)));
    let consumer = Bytes::from_static(b"alice");
    d.stream.groups.get_mut(&b"g"[..]).unwrap().consumer(&consumer, 1);
    let delivered = d.stream.read_group_new(b"g", &consumer, Some(5), false, 1).unwrap().unwrap();
    assert_eq!(delivered.iter().map(|e| e.id).collect::<Vec<_>>(), (2..=6).map(old).collect::<Vec<_>>());
    assert!(d.stream.try_delete(old(4)).unwrap());
    let history = d.stream.read_group_history(b"g", &consumer, StreamId::MIN, None, 2).unwrap().unwrap();
    assert_eq!(history.iter().map(|(id, e)| (*id, e.is_some())).collect::<Vec<_>>(), vec![(old(2), true), (old(3), true), (old(4), false), (old(5), true), (old(6), true)]);

    // Exact MINID and MAXLEN trims cut through cold runs.
    let removed = d.stream.try_trim(Trim { strategy: TrimStrategy::MinId(old(3_000)), approx: false, limit: 0 }).unwrap();
    assert_eq!(removed, 2_998 - 2, "entries 2..3000 less the two deleted");
    assert_eq!(d.stream.first_id(), old(3_000));
    let removed = d.stream.try_trim(Trim { strategy: TrimStrategy::MaxLen(9_000), approx: false, limit: 0 }).unwrap();
    assert_eq!(removed, 17_001 - 9_000);
    let rest = all(&d.stream);
    assert_eq!(rest.len(), 9_000);
    assert_eq!(rest, d.added[11_000..].to_vec());
    assert_eq!(d.stream.len(), 9_000);
}

#[test]
fn a_failing_read_of_old_history_is_reported_not_served_as_missing() {
    let storage = FaultStorage::new();
    let mut d = Durable::new(&storage);
    d.add(10_000, 2_000);
    // The oldest segment disappears behind the stream's back.
    let first_segment = storage.list_dir(&dir()).unwrap().into_iter().next().unwrap();
    storage.remove_file(&first_segment).unwrap();
    let err = d.stream.try_range(StreamId::MIN, StreamId::MAX, None, false).unwrap_err();
    assert!(err.message().starts_with("ERR cannot read stream history from disk"), "{}", err.message());
    // Newer history, and everything that needs no load, is still served.
    assert_eq!(d.stream.try_range(StreamId::new(10_500, 0), StreamId::MAX, None, false).unwrap().len(), 501);
    assert_eq!(d.stream.len(), 10_000);
}

// ---------------------------------------------------------------------------------------
// The same through a real server: durable-streams on, a tiny stream-memory-budget.
// ---------------------------------------------------------------------------------------

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("herald-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start_durable(dir: &Path) -> common::TestServer {
    let dir = dir.to_string_lossy().into_owned();
    common::start_with(move |c| {
        c.dir = dir;
        c.durable_streams = herald::persist::DurablePolicy::All;
        c.stream_fsync = herald::persist::FsyncPolicy::Everysec;
        c.stream_segment_size = 64 * 1024;
        c.tiering.set_memory_budget(4096);
    })
    .await
}

fn stop(server: common::TestServer) {
    herald::persist::stop(&server.shared.keyspace);
    server.shared.request_shutdown();
}

fn cold_runs(server: &common::TestServer, key: &[u8]) -> usize {
    let mut ks = server.shared.keyspace.lock();
    let now = ks.now_ms();
    match ks.db(0).get_value(key, now) {
        Some(herald::keyspace::Value::Stream(s)) => s.cold_runs(),
        _ => 0,
    }
}

type Entries = Vec<(String, Vec<(String, String)>)>;

/// The whole stream, oldest first (or newest first), read in pages so that no single reply
/// (which may load several cold runs in a debug build) runs into the client's timeout.
async fn xrange_all(c: &mut redis::aio::MultiplexedConnection, key: &str, rev: bool) -> Entries {
    let mut out: Entries = Vec::new();
    let mut bound = if rev { "+".to_string() } else { "-".to_string() };
    loop {
        let page: Entries = if rev {
            cmd(c, &["XREVRANGE", key, &bound, "-", "COUNT", "300"]).await
        } else {
            cmd(c, &["XRANGE", key, &bound, "+", "COUNT", "300"]).await
        };
        let Some(last) = page.last() else { return out };
        bound = format!("({}", last.0);
        out.extend(page);
    }
}

async fn cmd<T: redis::FromRedisValue>(c: &mut redis::aio::MultiplexedConnection, args: &[&str]) -> T {
    let mut command = redis::cmd(args[0]);
    for a in &args[1..] {
        command.arg(*a);
    }
    command.query_async(c).await.unwrap()
}

#[tokio::test]
async fn a_durable_server_serves_history_beyond_its_memory_budget_before_and_after_a_restart() {
    let dir = temp_dir("tiering");
    let server = start_durable(&dir).await;
    let mut c = server.client().await;
    let mut added: Entries = Vec::new();
    for batch in 0..20 {
        let mut pipe = redis::pipe();
        for i in 0..500 {
            let n = batch * 500 + i + 1;
            pipe.cmd("XADD").arg("s").arg(format!("{n}-1")).arg("n").arg(n.to_string()).arg("pad").arg("p".repeat(n % 13));
            added.push((format!("{n}-1"), vec![("n".into(), n.to_string()), ("pad".into(), "p".repeat(n % 13))]));
        }
        let _: Vec<String> = pipe.query_async(&mut c).await.unwrap();
    }
    // The writer hands entries to the OS asynchronously; more appends let the stream evict
    // what it has written since.
    let mut polls = 0;
    while cold_runs(&server, b"s") == 0 && polls < 1000 {
        let id: String = cmd(&mut c, &["XADD", "s", "*", "late", "1"]).await;
        added.push((id, vec![("late".into(), "1".into())]));
        polls += 1;
    }
    assert!(cold_runs(&server, b"s") > 0, "old history was evicted");
    let expected = added.clone();
    assert_eq!(xrange_all(&mut c, "s", false).await, expected);
    let mut newest_first = expected.clone();
    newest_first.reverse();
    assert_eq!(xrange_all(&mut c, "s", true).await, newest_first);
    // XREAD from an old ID reads from disk too.
    let from_old: Vec<(String, Entries)> = redis::cmd("XREAD").arg("COUNT").arg(3).arg("STREAMS").arg("s").arg("0-0").query_async(&mut c).await.unwrap();
    assert_eq!(from_old[0].1, expected[..3].to_vec());
    stop(server);

    let server = start_durable(&dir).await;
    let mut c = server.client().await;
    assert!(cold_runs(&server, b"s") > 0, "a recovered stream is tiered too");
    let resident = {
        let mut ks = server.shared.keyspace.lock();
        let now = ks.now_ms();
        match ks.db(0).get_value(b"s", now) {
            Some(herald::keyspace::Value::Stream(s)) => s.resident_bytes(),
            _ => usize::MAX,
        }
    };
    assert!(resident <= 4096, "resident after recovery {resident} > budget");
    let info: String = cmd(&mut c, &["INFO", "persistence"]).await;
    let peak: u64 = info.lines().find_map(|l| l.strip_prefix("stream_last_recovery_peak_resident_bytes:")).unwrap().trim().parse().unwrap();
    assert!(peak <= 4096, "resident during recovery {peak} > budget");
    assert_eq!(xrange_all(&mut c, "s", false).await, expected);
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn claims_and_deletions_of_evicted_entries_work_through_commands_and_survive_a_restart() {
    let dir = temp_dir("tiering-claim");
    let server = start_durable(&dir).await;
    let mut c = server.client().await;
    let _: () = redis::cmd("XGROUP").arg("CREATE").arg("s").arg("g").arg("0").arg("MKSTREAM").query_async(&mut c).await.unwrap();
    for batch in 0..40 {
        let mut pipe = redis::pipe();
        for i in 0..250 {
            let n = batch * 250 + i + 1;
            pipe.cmd("XADD").arg("s").arg(format!("{n}-0")).arg("v").arg(n.to_string());
        }
        let _: Vec<String> = pipe.query_async(&mut c).await.unwrap();
    }
    // alice takes the first 3 entries and never acknowledges them.
    let _: redis::Value = redis::cmd("XREADGROUP").arg("GROUP").arg("g").arg("alice").arg("COUNT").arg(3).arg("STREAMS").arg("s").arg(">").query_async(&mut c).await.unwrap();
    let mut polls = 0;
    while cold_runs(&server, b"s") == 0 && polls < 1000 {
        let _: String = cmd(&mut c, &["XADD", "s", "*", "f", "v"]).await;
        polls += 1;
    }
    assert!(cold_runs(&server, b"s") > 0);
    let deleted: u64 = cmd(&mut c, &["XDEL", "s", "2-0"]).await;
    assert_eq!(deleted, 1);
    // XREADGROUP with an explicit ID re-reads alice's PEL from disk: 2-0 is a deleted body.
    let history: redis::Value = redis::cmd("XREADGROUP").arg("GROUP").arg("g").arg("alice").arg("STREAMS").arg("s").arg("0").query_async(&mut c).await.unwrap();
    let text = format!("{history:?}");
    assert!(text.contains("\"1\"") || text.contains("bulk-string('\"1\"')") || text.contains("1-0"), "{text}");
    // bob claims them: 1-0 and 3-0 with their fields, 2-0 dropped as deleted.
    let claimed: redis::Value = redis::cmd("XAUTOCLAIM").arg("s").arg("g").arg("bob").arg(0).arg("0").query_async(&mut c).await.unwrap();
    let redis::Value::Array(parts) = claimed else { panic!("{claimed:?}") };
    let entries: Entries = redis::from_redis_value(parts[1].clone()).unwrap();
    assert_eq!(entries, vec![("1-0".to_string(), vec![("v".to_string(), "1".to_string())]), ("3-0".to_string(), vec![("v".to_string(), "3".to_string())])]);
    let dropped: Vec<String> = redis::from_redis_value(parts[2].clone()).unwrap();
    assert_eq!(dropped, vec!["2-0".to_string()]);
    let trimmed: u64 = redis::cmd("XTRIM").arg("s").arg("MINID").arg("500").query_async(&mut c).await.unwrap();
    assert_eq!(trimmed, 498);
    let first: Entries = redis::cmd("XRANGE").arg("s").arg("-").arg("+").arg("COUNT").arg(1).query_async(&mut c).await.unwrap();
    assert_eq!(first[0].0, "500-0");
    let len: u64 = cmd(&mut c, &["XLEN", "s"]).await;
    stop(server);

    let server = start_durable(&dir).await;
    let mut c = server.client().await;
    let len_after: u64 = cmd(&mut c, &["XLEN", "s"]).await;
    assert_eq!(len_after, len);
    let first: Entries = redis::cmd("XRANGE").arg("s").arg("-").arg("+").arg("COUNT").arg(2).query_async(&mut c).await.unwrap();
    assert_eq!(first.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), vec!["500-0", "501-0"]);
    let pending: redis::Value = redis::cmd("XPENDING").arg("s").arg("g").arg("-").arg("+").arg(10).query_async(&mut c).await.unwrap();
    assert!(format!("{pending:?}").contains("bob"), "{pending:?}");
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
