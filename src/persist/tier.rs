//! Tiering of durable streams: the settings they share and the [`ColdStore`] that reads their
//! evicted history back from segment files.
//!
//! The stream side (what is evicted, the stubs, how deletions over cold entries are recorded)
//! is in [`crate::keyspace::stream::cold`]; this module only answers "give me the entries
//! written with IDs in `first..=last`" from a stream's folder, and "how far has the writer
//! got", so that only entries already handed to the OS are evicted from memory.
//!
//! # Reading
//! A stream's segments are in ID order, so segment *i* holds the entries from its first ID up
//! to the next segment's first ID. A load binary-searches the segment listing for the one
//! holding its first ID, learning each probed segment's first ID once, and keeps the decoded
//! entries of the last two sealed segments it read, so a scan over old history (XRANGE from
//! `-`, a consumer catching up) decodes each segment about once instead of once per run.
//! Segments deleted by retention or trimming simply disappear from the next listing.

use crate::keyspace::stream::{ColdStore, StreamEntry, StreamId};
use crate::persist::io::Storage;
use crate::persist::segment::{list_segments, read_segment_entries};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Tiering and retention settings every durable stream shares; CONFIG SET changes them in
/// place (the config holds the same `Arc`).
#[derive(Debug)]
pub struct TierSettings {
    /// Bytes of sealed blocks a durable stream keeps resident (`stream-memory-budget`).
    memory_budget: AtomicU64,
    /// Sealed segments whose newest entry is older than this many ms are deleted
    /// (`stream-retention-ms`); 0 keeps them.
    retention_ms: AtomicU64,
    /// The oldest sealed segments are deleted while a stream's segments exceed this many
    /// bytes (`stream-retention-bytes`); 0 keeps them.
    retention_bytes: AtomicU64,
}

/// `stream-memory-budget`'s default: 64 MiB of sealed blocks per durable stream.
pub const DEFAULT_MEMORY_BUDGET: u64 = 64 * 1024 * 1024;

impl Default for TierSettings {
    fn default() -> Self {
        TierSettings { memory_budget: AtomicU64::new(DEFAULT_MEMORY_BUDGET), retention_ms: AtomicU64::new(0), retention_bytes: AtomicU64::new(0) }
    }
}

impl TierSettings {
    /// `stream-memory-budget`.
    pub fn memory_budget(&self) -> u64 {
        self.memory_budget.load(Ordering::Relaxed)
    }

    /// Sets `stream-memory-budget`.
    pub fn set_memory_budget(&self, bytes: u64) {
        self.memory_budget.store(bytes, Ordering::Relaxed);
    }

    /// `stream-retention-ms` (0: off).
    pub fn retention_ms(&self) -> u64 {
        self.retention_ms.load(Ordering::Relaxed)
    }

    /// Sets `stream-retention-ms`.
    pub fn set_retention_ms(&self, ms: u64) {
        self.retention_ms.store(ms, Ordering::Relaxed);
    }

    /// `stream-retention-bytes` (0: off).
    pub fn retention_bytes(&self) -> u64 {
        self.retention_bytes.load(Ordering::Relaxed)
    }

    /// Sets `stream-retention-bytes`.
    pub fn set_retention_bytes(&self, bytes: u64) {
        self.retention_bytes.store(bytes, Ordering::Relaxed);
    }
}

/// How far the writer has got: the sequence number of the last operation handed to the OS.
pub type WrittenSeq = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Reads one durable stream's evicted history from its folder of segments.
pub struct SegmentColdStore {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    settings: Arc<TierSettings>,
    written_seq: WrittenSeq,
    /// Entries queued to the writer and not yet known written: `(op sequence, last ID)`.
    queued: Mutex<VecDeque<(u64, StreamId)>>,
    /// The largest ID known to be written.
    readable: Mutex<StreamId>,
    /// First entry ID of each segment seen, by segment index.
    firsts: Mutex<HashMap<u64, Option<StreamId>>>,
    /// The decoded entries of the last sealed segments read, newest last.
    cache: Mutex<VecDeque<(u64, Arc<Vec<StreamEntry>>)>>,
}

impl fmt::Debug for SegmentColdStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentColdStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl SegmentColdStore {
    /// A store for the stream whose segments are in `dir`. `written_seq` reports the writer's
    /// progress; see [`SegmentColdStore::note_queued`].
    pub fn new(storage: Arc<dyn Storage>, dir: PathBuf, settings: Arc<TierSettings>, written_seq: WrittenSeq) -> SegmentColdStore {
        SegmentColdStore {
            storage,
            dir,
            settings,
            written_seq,
            queued: Mutex::new(VecDeque::new()),
            readable: Mutex::new(StreamId::MIN),
            firsts: Mutex::new(HashMap::new()),
            cache: Mutex::new(VecDeque::new()),
        }
    }

    /// Records that entries up to `last` were queued to the writer as operation `seq`: once
    /// the writer reports `seq` written, they may be evicted from memory.
    pub fn note_queued(&self, seq: u64, last: StreamId) {
        self.queued.lock().push_back((seq, last));
    }

    /// Records that entries up to `last` are already in the files (recovery).
    pub fn note_written(&self, last: StreamId) {
        let mut readable = self.readable.lock();
        *readable = (*readable).max(last);
    }

    /// The stream's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The first entry ID of segment `index` at `path`, read once and remembered (an empty
    /// segment is asked again: the active one may get entries).
    fn first_of(&self, index: u64, path: &Path) -> io::Result<Option<StreamId>> {
        if let Some(first) = self.firsts.lock().get(&index) {
            return Ok(*first);
        }
        let entries = self.entries(index, path, false)?;
        let first = entries.first().map(|e| e.id);
        if first.is_some() {
            self.firsts.lock().insert(index, first);
        }
        Ok(first)
    }

    /// The entries of segment `index`, from the cache when it is a sealed one read lately.
    fn entries(&self, index: u64, path: &Path, sealed: bool) -> io::Result<Arc<Vec<StreamEntry>>> {
        if let Some((_, entries)) = self.cache.lock().iter().find(|(i, _)| *i == index) {
            return Ok(entries.clone());
        }
        let entries = Arc::new(read_segment_entries(self.storage.as_ref(), path)?);
        if sealed {
            let mut cache = self.cache.lock();
            if cache.len() >= CACHED_SEGMENTS {
                cache.pop_front();
            }
            cache.push_back((index, entries.clone()));
        }
        Ok(entries)
    }
}

/// How many decoded sealed segments a store keeps (a run may straddle two).
const CACHED_SEGMENTS: usize = 2;

impl ColdStore for SegmentColdStore {
    fn load(&self, _key: &[u8], first: StreamId, last: StreamId) -> io::Result<Vec<StreamEntry>> {
        let files = list_segments(self.storage.as_ref(), &self.dir)?;
        self.firsts.lock().retain(|index, _| files.iter().any(|(i, _)| i == index));
        let missing = || io::Error::new(io::ErrorKind::NotFound, format!("no segment in {} holds entries from {first}", self.dir.display()));
        // Cold runs only ask for entries they were told were written: if the oldest segment
        // starts after them, their segment is gone and the answer would be silently short.
        let Some((oldest_index, oldest_path)) = files.first() else { return Err(missing()) };
        if self.first_of(*oldest_index, oldest_path)?.is_none_or(|oldest| oldest > first) {
            return Err(missing());
        }
        // Binary search for the last segment starting at or before `first`, reading only the
        // segments probed (an entry-less segment counts as starting after everything).
        let (mut lo, mut hi) = (0usize, files.len());
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let Some((index, path)) = files.get(mid) else { break };
            match self.first_of(*index, path)? {
                Some(f) if f <= first => lo = mid,
                _ => hi = mid,
            }
        }
        let mut out = Vec::new();
        for (i, (index, path)) in files.iter().enumerate().skip(lo) {
            if i > lo && self.first_of(*index, path)?.is_some_and(|f| f > last) {
                break;
            }
            let entries = self.entries(*index, path, i + 1 < files.len())?;
            let from = entries.partition_point(|e| e.id < first);
            out.extend(entries.iter().skip(from).take_while(|e| e.id <= last).cloned());
        }
        Ok(out)
    }

    fn readable_through(&self, _key: &[u8]) -> StreamId {
        let written = (self.written_seq)();
        let mut queued = self.queued.lock();
        let mut readable = self.readable.lock();
        while let Some(&(seq, id)) = queued.front() {
            if seq > written {
                break;
            }
            *readable = (*readable).max(id);
            queued.pop_front();
        }
        *readable
    }

    fn memory_budget(&self) -> u64 {
        self.settings.memory_budget()
    }
}
