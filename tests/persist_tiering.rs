//! Tiering of durable streams against real segment files (through the storage trait): a
//! stream larger than its memory budget serves old history from its segments, across a
//! restart, and deletions, trims and claims over evicted entries stay correct.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use bytes::Bytes;
use herald::keyspace::stream::{AddId, ColdTier, Stream, StreamEntry, StreamId, Trim, TrimStrategy};
use herald::persist::format::Record;
use herald::persist::io::{FaultStorage, Storage};
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
