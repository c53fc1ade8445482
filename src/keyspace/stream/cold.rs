//! The cold tier: a durable stream's old history lives on disk, not in memory.
//!
//! # Design
//! A durable stream keeps at most a configured number of bytes of sealed blocks resident
//! (`stream-memory-budget`). When a sealed block pushes the stream over its budget, the oldest
//! resident block is *evicted*: its bytes are dropped and it is replaced by a [`ColdRun`], a
//! stub that records only what the stream needs without reading the entries back:
//!
//! - the first and last ID it covers (its place in the ID order),
//! - how many live entries it holds (so XLEN, trims by count and group lag need no load),
//! - its first live entry, whole (so `XINFO STREAM`'s `first-entry` and every `first_id()`
//!   computation need no load; only the first run's matters, but keeping it per run means a
//!   trim that drops whole runs never has to load the next one),
//! - the entries deleted or trimmed since they were written: IDs deleted by XDEL (a set,
//!   usually empty) and a floor below which a trim removed everything.
//!
//! Adjacent evicted blocks merge into one run of up to [`RUN_MAX_ENTRIES`] entries, so the
//! resident cost of cold history is about 150 bytes per 4096 entries: a 100-million-entry
//! stream keeps ~25 000 stubs (~4 MB) however small its budget. The price is that a read
//! reaching a run loads the whole run (up to 4096 entries, ~200 KB) and that approximate
//! trims (`~`) over cold history cut at run boundaries instead of block boundaries, which the
//! "at least this many" contract of `~` allows.
//!
//! Entries come back through the [`ColdStore`] trait, by ID range: the stream never learns
//! where (or whether in files) they live, so the tiering logic is tested against
//! [`MemoryColdStore`] and served in production by the segment reader of `crate::persist`.
//! The store returns every entry it wrote in the range, deleted or not; the run's deletion
//! record filters them, so deletions need no rewrite of sealed segments.
//!
//! Cold runs always precede resident blocks (eviction takes the oldest sealed block and new
//! entries have larger IDs), which keeps every operation a walk over two ordered maps.
//! Only blocks the store can already serve ([`ColdStore::readable_through`]) are evicted, so
//! an entry still in a write buffer is never dropped from memory. Loaded entries are not kept:
//! a read of old history costs a load each time, and memory stays bounded.

use super::{StreamEntry, StreamId};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Runs merge until they hold this many entries (deleted ones included).
pub const RUN_MAX_ENTRIES: u64 = 4096;

/// Where a durable stream's evicted history can be read back from.
pub trait ColdStore: Send + Sync + fmt::Debug {
    /// Every entry of stream `key` written with an ID in `first..=last`, in ID order, deleted
    /// ones included (the caller filters them).
    fn load(&self, key: &[u8], first: StreamId, last: StreamId) -> io::Result<Vec<StreamEntry>>;

    /// The largest ID of `key` that [`ColdStore::load`] can already return: blocks above it
    /// stay resident.
    fn readable_through(&self, key: &[u8]) -> StreamId;

    /// How many bytes of sealed blocks a stream may keep resident.
    fn memory_budget(&self) -> u64;
}

/// A stream's link to its cold store: the store and the name the store knows it by.
#[derive(Clone)]
pub struct ColdTier {
    /// The store.
    pub store: Arc<dyn ColdStore>,
    /// The stream's name in the store.
    pub key: Bytes,
}

impl fmt::Debug for ColdTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ColdTier").field("store", &self.store).field("key", &self.key).finish()
    }
}

/// Why old history could not be read.
#[derive(Debug)]
pub struct ColdError {
    /// The stream's name in the store.
    pub key: Bytes,
    /// The first ID of the run that failed to load.
    pub first: StreamId,
    /// What the store reported.
    pub source: io::Error,
}

impl ColdError {
    /// The error reply's text.
    pub fn message(&self) -> String {
        format!("ERR cannot read stream history from disk (entries from {}): {}", self.first, self.source)
    }
}

impl fmt::Display for ColdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message())
    }
}

impl std::error::Error for ColdError {}

/// An evicted stretch of a stream (see the module docs).
#[derive(Debug, Clone)]
pub struct ColdRun {
    /// The first ID written in the run (its key in the stream's index).
    pub first: StreamId,
    /// The last ID written in the run.
    pub last: StreamId,
    /// Entries written (deleted ones included), for merging.
    pub total: u64,
    /// Live entries.
    pub live: u64,
    /// The first live entry.
    pub head: StreamEntry,
    /// Entries below this ID were trimmed.
    pub floor: StreamId,
    /// Entries at or above the floor deleted since they were written.
    pub deleted: BTreeSet<StreamId>,
}

impl ColdRun {
    /// Whether a loaded entry is still live.
    pub fn is_live(&self, id: StreamId) -> bool {
        id >= self.floor && id >= self.first && id <= self.last && !self.deleted.contains(&id)
    }

    /// Approximate resident bytes.
    pub fn bytes(&self) -> usize {
        let head: usize = self.head.fields.iter().map(|(f, v)| f.len() + v.len() + 32).sum();
        160 + head + self.deleted.len() * 24
    }

    /// Loads the run's live entries in `start..=end`.
    pub fn load(&self, tier: &ColdTier, start: StreamId, end: StreamId) -> Result<Vec<StreamEntry>, ColdError> {
        let from = start.max(self.floor).max(self.first);
        let to = end.min(self.last);
        if from > to {
            return Ok(Vec::new());
        }
        let loaded = tier
            .store
            .load(&tier.key, from, to)
            .map_err(|source| ColdError { key: tier.key.clone(), first: self.first, source })?;
        Ok(loaded.into_iter().filter(|e| e.id >= from && e.id <= to && self.is_live(e.id)).collect())
    }
}

/// A [`ColdStore`] in memory, for tests: entries are appended as a writer would append them,
/// and loads are counted.
#[derive(Debug, Default)]
pub struct MemoryColdStore {
    entries: parking_lot::Mutex<BTreeMap<Bytes, Vec<StreamEntry>>>,
    budget: AtomicU64,
    loads: AtomicUsize,
    /// When set, every load fails (to test error paths).
    failing: std::sync::atomic::AtomicBool,
}

impl MemoryColdStore {
    /// A store whose streams keep `budget` bytes resident.
    pub fn new(budget: u64) -> MemoryColdStore {
        MemoryColdStore { budget: AtomicU64::new(budget), ..MemoryColdStore::default() }
    }

    /// Records an entry as written.
    pub fn append(&self, key: &[u8], entry: StreamEntry) {
        self.entries.lock().entry(Bytes::copy_from_slice(key)).or_default().push(entry);
    }

    /// How many loads were served.
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::Relaxed)
    }

    /// Changes the budget.
    pub fn set_budget(&self, budget: u64) {
        self.budget.store(budget, Ordering::Relaxed);
    }

    /// Makes every later load fail (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::Relaxed);
    }
}

impl ColdStore for MemoryColdStore {
    fn load(&self, key: &[u8], first: StreamId, last: StreamId) -> io::Result<Vec<StreamEntry>> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(io::Error::other("injected failure"));
        }
        self.loads.fetch_add(1, Ordering::Relaxed);
        let entries = self.entries.lock();
        let Some(all) = entries.get(key) else { return Ok(Vec::new()) };
        let from = all.partition_point(|e| e.id < first);
        Ok(all.iter().skip(from).take_while(|e| e.id <= last).cloned().collect())
    }

    fn readable_through(&self, key: &[u8]) -> StreamId {
        self.entries.lock().get(key).and_then(|all| all.last()).map_or(StreamId::MIN, |e| e.id)
    }

    fn memory_budget(&self) -> u64 {
        self.budget.load(Ordering::Relaxed)
    }
}
