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
//! to the next segment's first ID. The store learns each segment's first ID once (reading the
//! file the first time it is needed) and keeps the decoded entries of the last sealed segment
//! it read, so a scan over old history (XRANGE from `-`, a consumer catching up) decodes each
//! segment once instead of once per run. Segments deleted by retention or trimming simply
//! disappear from the next listing.

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
    /// The decoded entries of the last sealed segment read.
    cache: Mutex<Option<(u64, Arc<Vec<StreamEntry>>)>>,
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
            cache: Mutex::new(None),
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

    /// The segments with their first entry ID, oldest first.
    fn index(&self) -> io::Result<Vec<(u64, PathBuf, Option<StreamId>)>> {
        let files = list_segments(self.storage.as_ref(), &self.dir)?;
        let mut firsts = self.firsts.lock();
        firsts.retain(|index, _| files.iter().any(|(i, _)| i == index));
        let mut out = Vec::with_capacity(files.len());
        for (index, path) in files {
            let first = match firsts.get(&index) {
                Some(Some(first)) => Some(*first),
                _ => {
                    let first = read_segment_entries(self.storage.as_ref(), &path)?.first().map(|e| e.id);
                    // An empty segment may still get entries if it is the active one: ask again.
                    if first.is_some() {
                        firsts.insert(index, first);
                    }
                    first
                }
            };
            out.push((index, path, first));
        }
        Ok(out)
    }

    /// The entries of segment `index`, from the cache when it is a sealed one read last.
    fn entries(&self, index: u64, path: &Path, sealed: bool) -> io::Result<Arc<Vec<StreamEntry>>> {
        if let Some((cached, entries)) = self.cache.lock().as_ref() {
            if *cached == index {
                return Ok(entries.clone());
            }
        }
        let entries = Arc::new(read_segment_entries(self.storage.as_ref(), path)?);
        if sealed {
            *self.cache.lock() = Some((index, entries.clone()));
        }
        Ok(entries)
    }
}

impl ColdStore for SegmentColdStore {
    fn load(&self, _key: &[u8], first: StreamId, last: StreamId) -> io::Result<Vec<StreamEntry>> {
        let index = self.index()?;
        // Cold runs only ask for entries they were told were written: if the oldest segment
        // starts after them, their segment is gone and the answer would be silently short.
        if index.iter().find_map(|(_, _, f)| *f).is_none_or(|oldest| oldest > first) {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no segment in {} holds entries from {first}", self.dir.display())));
        }
        let mut out = Vec::new();
        for (i, (seg, path, seg_first)) in index.iter().enumerate() {
            let next_first = index.get(i + 1).and_then(|(_, _, f)| *f);
            // Segment i covers [its first ID, the next segment's first ID).
            if seg_first.is_none_or(|f| f > last) || next_first.is_some_and(|n| n <= first) {
                continue;
            }
            let sealed = i + 1 < index.len();
            let entries = self.entries(*seg, path, sealed)?;
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
