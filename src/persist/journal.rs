//! The journal: which streams are durable, and their segment files. It lives in the keyspace
//! ([`crate::keyspace::Keyspace::persist`]) and runs under the keyspace lock, so records are
//! encoded, numbered and written in exactly the order the commands ran.
//!
//! # Writing in the batch, syncing on the fsync thread
//! A command's records are encoded straight into the stream's segment buffer
//! ([`SegmentWriter::buffer`]). During a connection batch ([`Journal::begin`]) they stay there
//! and the batch's end ([`Journal::flush`], from [`super::ticket`]) writes each touched stream's
//! buffer with one `write`, still under the keyspace lock; outside a batch (the expiry cycle,
//! the WebSocket gateway) every command's records are written at once. The journal then hands
//! the dirty files to the fsync thread ([`super::writer`]), which syncs them without the lock.
//! Rolls happen here too (the sealed segment is synced before the next one gets records, so
//! recovery never sees a gap); removing a deleted stream's folder and deleting emptied
//! segments are left to the fsync thread.
//!
//! Why write under the lock rather than hand the bytes to a writer thread (as this module
//! did until 2026-11-23) or write them from a per-connection buffer after the lock is
//! released: the server runs on one pinned core, so a writer thread competed with the request
//! path for it and every batch paid a futex wake and two context switches for it (perf: 24% of
//! the samples in the writer thread, 5% waking it); writing after the lock would need a
//! second, ordered hand-off to keep each file in keyspace order, for a lock that nothing else
//! on the same core could have taken meanwhile. Measured numbers are in BENCHMARKS.md
//! ("Durable XADD written in the batch").

use super::format::Record;
use super::hooks;
use super::recovery::{RecoveredStream, RecoveryReport};
use super::io::Storage;
use super::segment::{stream_dir, SegmentWriter, STREAMS_DIR};
use super::writer::{Op, WriterShared};
use super::DurablePolicy;
use super::tier::{SegmentColdStore, TierSettings};
use crate::keyspace::stream::{ColdTier, Stream, StreamId};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

/// One durable stream's place on disk, as the journal tracks it.
#[derive(Debug, Clone)]
struct Durable {
    handle: u64,
    /// Where its active segment is in [`Journal::files`] (`usize::MAX`: none, creating it
    /// failed).
    slot: usize,
    active_index: u64,
    active_bytes: u64,
    /// Sealed segments, oldest first: index and the last entry ID added in each.
    sealed: VecDeque<(u64, Option<StreamId>)>,
    /// The cold store serving the stream's evicted history (tiering), once attached.
    cold: Option<Arc<SegmentColdStore>>,
    /// Bytes of the sealed segments rolled since start, by index (retention by size; older
    /// ones count as a full segment).
    sealed_bytes: HashMap<u64, u64>,
    /// Whether a segment rolled since retention was last checked.
    rolled: bool,
    /// The key's deadline as last logged (restated in every new segment's snapshot).
    expires_at: Option<u64>,
}

/// What the journal needs to give durable streams a cold tier (see [`super::tier`]).
#[derive(Debug, Clone)]
pub struct Tiering {
    /// The storage the segments are on.
    pub storage: Arc<dyn Storage>,
    /// The data directory.
    pub root: PathBuf,
    /// The shared settings (memory budget).
    pub settings: Arc<TierSettings>,
}

/// Which streams are durable and the queue to their files.
#[derive(Debug)]
pub struct Journal {
    pub(super) writer: Arc<WriterShared>,
    pub(super) thread: Option<JoinHandle<()>>,
    pub(super) policy: DurablePolicy,
    pub(super) segment_size: u64,
    streams: Vec<HashMap<Bytes, Durable>>,
    next_handle: u64,
    /// The sequence number of the last record logged.
    pub(super) seq: u64,
    /// Where segment files are created.
    storage: Arc<dyn Storage>,
    /// The data directory.
    root: PathBuf,
    /// The active segment of every durable stream with its handle, by slot ([`Durable::slot`]:
    /// an index, so a command finds its file without hashing).
    files: Vec<Option<(u64, SegmentWriter)>>,
    /// Free places in `files`.
    free_slots: Vec<usize>,
    /// Recovered streams' segments until [`Journal::adopt`] gives each a slot.
    reopened: HashMap<u64, SegmentWriter>,
    /// Slots whose segment buffer holds records not written yet.
    dirty: Vec<usize>,
    /// How many streams have `rolled` set: retention is checked only when some have.
    unchecked_rolls: usize,
    /// Whether a connection batch is running: records wait in the buffers for its end.
    batch: bool,
    /// What the last recovery found.
    pub(super) last_recovery: RecoveryReport,
    /// Where durable streams' cold stores read from; `None`: every stream stays resident.
    pub(super) tiering: Option<Tiering>,
}

impl Journal {
    /// A journal over `root` that continues the recovered streams' active segments (`files`).
    pub(super) fn new(writer: Arc<WriterShared>, thread: JoinHandle<()>, settings: super::Settings, report: RecoveryReport, storage: Arc<dyn Storage>, root: PathBuf, files: HashMap<u64, SegmentWriter>) -> Journal {
        let next_handle = report.max_handle + 1;
        Journal {
            writer,
            thread: Some(thread),
            policy: settings.policy,
            segment_size: settings.segment_size,
            streams: Vec::new(),
            next_handle,
            seq: 0,
            storage,
            root,
            files: Vec::new(),
            free_slots: Vec::new(),
            reopened: files,
            dirty: Vec::new(),
            unchecked_rolls: 0,
            batch: false,
            last_recovery: report,
            tiering: None,
        }
    }

    /// A connection batch starts: records wait in the segment buffers until [`Journal::flush`].
    pub(super) fn begin(&mut self) {
        self.batch = true;
    }

    /// Writes every buffered record (one `write` per stream), reports them written to the
    /// fsync thread, and ends the batch if one was running. A failed write is reported and
    /// makes every later wait for durability fail.
    pub(super) fn flush(&mut self) {
        self.batch = false;
        if !self.dirty.is_empty() {
            self.write_out(None);
        }
    }

    /// Puts a stream's active segment in a free slot.
    fn add_file(&mut self, handle: u64, file: SegmentWriter) -> usize {
        match self.free_slots.pop() {
            Some(slot) => {
                if let Some(place) = self.files.get_mut(slot) {
                    *place = Some((handle, file));
                }
                slot
            }
            None => {
                self.files.push(Some((handle, file)));
                self.files.len() - 1
            }
        }
    }

    /// The active segment in `slot`.
    fn file(&mut self, slot: usize) -> Option<&mut SegmentWriter> {
        self.files.get_mut(slot).and_then(Option::as_mut).map(|(_, f)| f)
    }

    /// Writes the buffered records and hands the fsync thread the dirty files and `op`.
    fn write_out(&mut self, op: Option<Op>) {
        let mut written = 0;
        for slot in &self.dirty {
            if let Some(Some((_, file))) = self.files.get_mut(*slot) {
                match file.flush() {
                    Ok(n) => written += n,
                    Err(e) => self.writer.fail(&format!("segment write failed: {e}")),
                }
            }
        }
        self.writer.stats.bytes_on_disk.fetch_add(written, std::sync::atomic::Ordering::Relaxed);
        let files = &self.files;
        self.writer.wrote(self.seq, self.dirty.iter().filter_map(|slot| files.get(*slot).and_then(Option::as_ref).map(|(h, f)| (*h, f.syncer()))), op);
        self.dirty.clear();
    }

    /// Queues an operation for the fsync thread, after writing what is buffered (so the
    /// thread never sees an operation before the records logged ahead of it). A running
    /// batch goes on.
    fn push_op(&mut self, op: Op) {
        self.write_out(Some(op));
    }

    /// Notes that `slot`'s buffer has records to write.
    fn mark(&mut self, slot: usize) {
        if !self.dirty.contains(&slot) {
            self.dirty.push(slot);
        }
    }

    /// Outside a batch, writes what the command logged now.
    fn flush_unless_batch(&mut self) {
        if !self.batch {
            self.flush();
        }
    }

    /// Registers a recovered stream (its files are already there).
    pub(super) fn adopt(&mut self, db: usize, rec: &RecoveredStream) {
        let slot = match self.reopened.remove(&rec.handle) {
            Some(file) => self.add_file(rec.handle, file),
            None => usize::MAX,
        };
        self.unchecked_rolls += 1;
        let durable = Durable { handle: rec.handle, slot, active_index: rec.active.0.index, active_bytes: rec.active.1, sealed: rec.sealed.iter().copied().collect(), cold: rec.cold.clone(), sealed_bytes: HashMap::new(), rolled: true, expires_at: rec.expires_at };
        self.slot(db).insert(rec.key.clone(), durable);
    }

    fn slot(&mut self, db: usize) -> &mut HashMap<Bytes, Durable> {
        if self.streams.len() <= db {
            self.streams.resize_with(db + 1, HashMap::new);
        }
        // Just resized to hold `db`.
        self.streams.get_mut(db).unwrap_or_else(|| unreachable_slot())
    }

    /// Whether `key` in `db` is a durable stream.
    pub fn is_durable(&self, db: usize, key: &[u8]) -> bool {
        self.streams.get(db).is_some_and(|m| m.contains_key(key))
    }

    /// Where retention (`stream-retention-ms`, `stream-retention-bytes`) cuts durable stream
    /// `key`: everything below the returned ID goes, with the sealed segments holding it.
    /// Checked only after a segment rolled (or once after recovery), so it costs nothing per
    /// command; see [`super::retention`].
    pub fn retention_cut(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<StreamId> {
        if self.unchecked_rolls == 0 {
            return None;
        }
        let settings = self.tiering.as_ref().map(|t| t.settings.clone())?;
        let policy = super::retention::RetentionPolicy { max_age_ms: settings.retention_ms(), max_bytes: settings.retention_bytes() };
        let segment_size = self.segment_size;
        let d = self.streams.get_mut(db).and_then(|m| m.get_mut(key))?;
        if !std::mem::take(&mut d.rolled) {
            return None;
        }
        self.unchecked_rolls = self.unchecked_rolls.saturating_sub(1);
        if policy.is_off() {
            return None;
        }
        d.sealed_bytes.retain(|index, _| d.sealed.iter().any(|(i, _)| i == index));
        let segments: Vec<super::segment::SegmentInfo> = d
            .sealed
            .iter()
            .map(|(index, last)| super::segment::SegmentInfo {
                index: *index,
                path: PathBuf::new(),
                bytes: d.sealed_bytes.get(index).copied().unwrap_or(segment_size),
                entries: 0,
                first_id: None,
                last_id: *last,
                sealed: true,
            })
            .chain(std::iter::once(super::segment::SegmentInfo {
                index: d.active_index,
                path: PathBuf::new(),
                bytes: d.active_bytes,
                entries: 0,
                first_id: None,
                last_id: None,
                sealed: false,
            }))
            .collect();
        super::retention::plan(&segments, policy, now_ms).min_kept
    }

    /// The keys of `db`'s durable streams.
    pub fn durable_keys(&self, db: usize) -> Vec<Bytes> {
        self.streams.get(db).map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    /// How many streams are durable.
    pub fn durable_count(&self) -> usize {
        self.streams.iter().map(HashMap::len).sum()
    }

    /// Logs a command's records for durable stream `key`; rolls the segment when it is full
    /// (the new one starts with a state snapshot) and drops sealed segments a trim emptied.
    pub fn log(&mut self, db: usize, key: &[u8], stream: &Stream, records: &[Record]) {
        self.log_with(db, key, stream, |buffer| {
            let mut min_kept = None;
            for record in records {
                record.encode_into(buffer);
                if let Record::Trimmed { min_kept: m } = record {
                    min_kept = Some(*m);
                }
            }
            min_kept
        });
    }

    /// Logs XADD's records (the entry, and the trim if `trimmed`) for durable stream `key`,
    /// encoded from the borrowed fields: [`Journal::log`] without building records.
    pub fn log_entry(&mut self, db: usize, key: &[u8], stream: &Stream, id: StreamId, fields: &[(Bytes, Bytes)], trimmed: bool) {
        self.log_with(db, key, stream, |buffer| {
            Record::encode_entry_added(id, fields, buffer);
            if !trimmed {
                return None;
            }
            let record = hooks::trimmed(stream);
            record.encode_into(buffer);
            match record {
                Record::Trimmed { min_kept } => Some(min_kept),
                _ => None,
            }
        });
    }

    /// [`Journal::log`] with `encode` writing the records into the segment buffer and
    /// returning the lowest ID kept if they include a trim.
    fn log_with(&mut self, db: usize, key: &[u8], stream: &Stream, encode: impl FnOnce(&mut Vec<u8>) -> Option<StreamId>) {
        let segment_size = self.segment_size;
        let Some(d) = self.streams.get_mut(db).and_then(|m| m.get_mut(key)) else { return };
        let (handle, slot) = (d.handle, d.slot);
        self.seq += 1;
        let Some(Some((_, file))) = self.files.get_mut(slot) else { return };
        let buffer = file.buffer();
        let before = buffer.len();
        let min_kept = encode(buffer);
        d.active_bytes += (buffer.len() - before) as u64;
        if !self.dirty.contains(&slot) {
            self.dirty.push(slot);
        }
        let cold = d.cold.clone();
        let mut drop_below = None;
        if let Some(min_kept) = min_kept {
            while let Some((index, last)) = d.sealed.front().copied() {
                if last.is_some_and(|l| l >= min_kept) {
                    break;
                }
                d.sealed.pop_front();
                drop_below = Some(index + 1);
            }
        }
        let roll = d.active_bytes >= segment_size;
        if roll {
            d.sealed.push_back((d.active_index, last_entry_before(stream)));
            d.sealed_bytes.insert(d.active_index, d.active_bytes);
            if !d.rolled {
                self.unchecked_rolls += 1;
            }
            d.rolled = true;
            d.active_index += 1;
        }
        let expires_at = d.expires_at;
        if let Some(below) = drop_below {
                self.push_op(Op::DropSegments { dir: stream_dir(&self.root, handle), below });
        }
        if roll {
            self.roll(db, key, slot, stream, expires_at);
        }
        self.flush_unless_batch();
        if let Some(cold) = cold {
            cold.note_queued(self.seq, stream.last_id());
        }
    }

    /// Seals `handle`'s active segment (written and synced) and starts the next one with a
    /// snapshot of the stream's state.
    fn roll(&mut self, db: usize, key: &[u8], slot: usize, stream: &Stream, expires_at: Option<u64>) {
        let stats = &self.writer.stats;
        let Some(Some((_, file))) = self.files.get_mut(slot) else { return };
        let result = file.flush().and_then(|n| {
            stats.bytes_on_disk.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            file.roll()
        });
        if let Err(e) = result {
            self.writer.fail(&format!("segment roll failed: {e}"));
            return;
        }
        stats.bytes_on_disk.fetch_add(file.len(), std::sync::atomic::Ordering::Relaxed);
        stats.segments.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let header_len = file.len();
        let buffer = file.buffer();
        for record in hooks::state_snapshot(stream) {
            record.encode_into(buffer);
        }
        if expires_at.is_some() {
            Record::Expiry { deadline_ms: expires_at }.encode_into(buffer);
        }
        let active_bytes = header_len + buffer.len() as u64;
        if let Some(d) = self.streams.get_mut(db).and_then(|m| m.get_mut(key)) {
            d.active_bytes = active_bytes;
        }
        self.mark(slot);
    }

    /// The cold tier to attach to durable stream `key` (created on first use), or `None` if
    /// tiering is off or the stream is not durable. `last` is the stream's last ID: already in
    /// the files if `recovered`, else just queued with the last operation.
    pub fn cold_tier(&mut self, db: usize, key: &[u8], last: StreamId, recovered: bool) -> Option<ColdTier> {
        let tiering = self.tiering.clone()?;
        let seq = self.seq;
        let writer = self.writer.clone();
        let d = self.streams.get_mut(db).and_then(|m| m.get_mut(key))?;
        let store = d
            .cold
            .get_or_insert_with(|| {
                let progress: super::tier::WrittenSeq = Arc::new(move || writer.progress().written);
                Arc::new(SegmentColdStore::new(tiering.storage.clone(), stream_dir(&tiering.root, d.handle), tiering.settings.clone(), progress))
            })
            .clone();
        if recovered {
            store.note_written(last);
        } else {
            store.note_queued(seq, last);
        }
        Some(ColdTier { store, key: Bytes::copy_from_slice(key) })
    }

    /// Logs that durable stream `key`'s deadline is now `expires_at` (Unix ms; `None`: no
    /// TTL), if that changes what was logged.
    pub fn set_expiry(&mut self, db: usize, key: &[u8], stream: &Stream, expires_at: Option<u64>) {
        let Some(d) = self.streams.get_mut(db).and_then(|m| m.get_mut(key)) else { return };
        if d.expires_at == expires_at {
            return;
        }
        d.expires_at = expires_at;
        self.log(db, key, stream, &[Record::Expiry { deadline_ms: expires_at }]);
    }

    /// Makes `key` durable: a new folder whose first segment holds the whole stream, and its
    /// deadline if it has one.
    pub fn make_durable(&mut self, db: usize, key: &[u8], stream: &Stream, expires_at: Option<u64>) {
        let handle = self.next_handle;
        self.next_handle += 1;
        self.seq += 1;
        let key = Bytes::copy_from_slice(key);
        let db32 = u32::try_from(db).unwrap_or(u32::MAX);
        let mut active_bytes = 0;
        let mut slot = usize::MAX;
        match SegmentWriter::create(self.storage.clone(), stream_dir(&self.root, handle), db32, key.clone(), 0) {
            Ok(mut file) => {
                let stats = &self.writer.stats;
                stats.bytes_on_disk.fetch_add(file.len(), std::sync::atomic::Ordering::Relaxed);
                stats.segments.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let buffer = file.buffer();
                for record in hooks::full_snapshot(db, &key, stream) {
                    record.encode_into(buffer);
                }
                if expires_at.is_some() {
                    Record::Expiry { deadline_ms: expires_at }.encode_into(buffer);
                }
                let buffered = buffer.len() as u64;
                active_bytes = file.len() + buffered;
                slot = self.add_file(handle, file);
                self.mark(slot);
            }
            Err(e) => self.writer.fail(&format!("cannot create the segment of '{}': {e}", String::from_utf8_lossy(&key))),
        }
        let durable = Durable { handle, slot, active_index: 0, active_bytes, sealed: VecDeque::new(), cold: None, sealed_bytes: HashMap::new(), rolled: false, expires_at };
        self.slot(db).insert(key, durable);
        // The new folder's name must survive a crash too.
        self.push_op(Op::SyncDir { path: self.root.join(STREAMS_DIR) });
    }

    /// Records that durable stream `key` was deleted, and removes its files.
    pub fn drop_stream(&mut self, db: usize, key: &[u8]) {
        let Some(d) = self.streams.get_mut(db).and_then(|m| m.remove(key)) else { return };
        if d.rolled {
            self.unchecked_rolls = self.unchecked_rolls.saturating_sub(1);
        }
        self.seq += 1;
        let Some(file) = self.file(d.slot) else { return };
        Record::StreamDeleted.encode_into(file.buffer());
        let active = file.syncer().clone();
        self.mark(d.slot);
        // The "deleted" record is written before the folder's removal is queued.
        self.push_op(Op::Remove { dir: stream_dir(&self.root, d.handle), active });
        if let Some(place) = self.files.get_mut(d.slot) {
            *place = None;
            self.free_slots.push(d.slot);
        }
    }

    /// Drops every durable stream of `db` (FLUSHDB, FLUSHALL).
    pub fn drop_db(&mut self, db: usize) {
        let keys: Vec<Bytes> = self.streams.get(db).map(|m| m.keys().cloned().collect()).unwrap_or_default();
        for key in keys {
            self.drop_stream(db, &key);
        }
    }
}

/// An upper bound of the last entry ID added in the segment being sealed: the stream's last
/// ID (XSETID can only raise it, which keeps the segment longer). `None` if nothing was added.
fn last_entry_before(stream: &Stream) -> Option<StreamId> {
    let last = stream.last_id();
    (!last.is_zero()).then_some(last)
}

#[cold]
fn unreachable_slot() -> ! {
    #[allow(clippy::panic)]
    {
        panic!("journal slot missing right after resize")
    }
}
