//! The journal: which streams are durable and where their records go. It lives in the
//! keyspace ([`crate::keyspace::Keyspace::persist`]) and runs under the keyspace lock, so
//! records are encoded and numbered in exactly the order the commands ran. It never touches a
//! file: it queues [`Op`]s for the writer thread.

use super::format::{encode_header, Record, SegmentHeader};
use super::hooks;
use super::recovery::{RecoveredStream, RecoveryReport};
use super::writer::{Op, WriterShared};
use super::DurablePolicy;
use super::io::Storage;
use super::segment::stream_dir;
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
    /// The sequence number of the last operation queued.
    pub(super) seq: u64,
    /// What the last recovery found.
    pub(super) last_recovery: RecoveryReport,
    /// Where durable streams' cold stores read from; `None`: every stream stays resident.
    pub(super) tiering: Option<Tiering>,
}

impl Journal {
    pub(super) fn new(writer: Arc<WriterShared>, thread: JoinHandle<()>, policy: DurablePolicy, segment_size: u64, report: RecoveryReport) -> Journal {
        let next_handle = report.max_handle + 1;
        Journal { writer, thread: Some(thread), policy, segment_size, streams: Vec::new(), next_handle, seq: 0, last_recovery: report, tiering: None }
    }

    /// Registers a recovered stream (its files are already there).
    pub(super) fn adopt(&mut self, db: usize, rec: &RecoveredStream) {
        let durable = Durable { handle: rec.handle, active_index: rec.active.0.index, active_bytes: rec.active.1, sealed: rec.sealed.iter().copied().collect(), cold: rec.cold.clone(), sealed_bytes: HashMap::new(), rolled: true, expires_at: rec.expires_at };
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
        let settings = self.tiering.as_ref().map(|t| t.settings.clone())?;
        let policy = super::retention::RetentionPolicy { max_age_ms: settings.retention_ms(), max_bytes: settings.retention_bytes() };
        let segment_size = self.segment_size;
        let d = self.streams.get_mut(db).and_then(|m| m.get_mut(key))?;
        if !std::mem::take(&mut d.rolled) || policy.is_off() {
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

    fn queue(&mut self, ops: Vec<Op>) {
        let first = self.seq + 1;
        self.seq += ops.len() as u64;
        self.writer.push(ops.into_iter().zip(first..).map(|(op, seq)| (seq, op)));
    }

    /// Logs a command's records for durable stream `key`; rolls the segment when it is full
    /// (the new one starts with a state snapshot) and drops sealed segments a trim emptied.
    pub fn log(&mut self, db: usize, key: &[u8], stream: &Stream, records: &[Record]) {
        let segment_size = self.segment_size;
        let Some(d) = self.streams.get_mut(db).and_then(|m| m.get_mut(key)) else { return };
        let mut bytes = Vec::new();
        let mut min_kept = None;
        for record in records {
            record.encode_into(&mut bytes);
            if let Record::Trimmed { min_kept: m } = record {
                min_kept = Some(*m);
            }
        }
        let handle = d.handle;
        let cold = d.cold.clone();
        d.active_bytes += bytes.len() as u64;
        let mut ops = vec![Op::Append { handle, bytes }];
        if let Some(min_kept) = min_kept {
            let mut below = None;
            while let Some((index, last)) = d.sealed.front().copied() {
                if last.is_some_and(|l| l >= min_kept) {
                    break;
                }
                d.sealed.pop_front();
                below = Some(index + 1);
            }
            if let Some(below) = below {
                ops.push(Op::DropSegments { handle, below });
            }
        }
        if d.active_bytes >= segment_size {
            d.sealed.push_back((d.active_index, last_entry_before(stream)));
            d.sealed_bytes.insert(d.active_index, d.active_bytes);
            d.rolled = true;
            d.active_index += 1;
            let header = encode_header(&SegmentHeader { db: u32::try_from(db).unwrap_or(u32::MAX), index: d.active_index, key: Bytes::copy_from_slice(key) });
            let mut snapshot = Vec::new();
            for record in hooks::state_snapshot(stream) {
                record.encode_into(&mut snapshot);
            }
            if d.expires_at.is_some() {
                Record::Expiry { deadline_ms: d.expires_at }.encode_into(&mut snapshot);
            }
            d.active_bytes = (header.len() + snapshot.len()) as u64;
            ops.push(Op::Roll { handle });
            ops.push(Op::Append { handle, bytes: snapshot });
        }
        self.queue(ops);
        if let Some(cold) = cold {
            cold.note_queued(self.seq, stream.last_id());
        }
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
        let key = Bytes::copy_from_slice(key);
        let mut bytes = Vec::new();
        for record in hooks::full_snapshot(db, &key, stream) {
            record.encode_into(&mut bytes);
        }
        if expires_at.is_some() {
            Record::Expiry { deadline_ms: expires_at }.encode_into(&mut bytes);
        }
        let header_len = encode_header(&SegmentHeader { db: u32::try_from(db).unwrap_or(u32::MAX), index: 0, key: key.clone() }).len();
        let durable = Durable { handle, active_index: 0, active_bytes: (header_len + bytes.len()) as u64, sealed: VecDeque::new(), cold: None, sealed_bytes: HashMap::new(), rolled: false, expires_at };
        self.slot(db).insert(key.clone(), durable);
        self.queue(vec![Op::Create { handle, db: u32::try_from(db).unwrap_or(u32::MAX), key }, Op::Append { handle, bytes }]);
    }

    /// Records that durable stream `key` was deleted, and removes its files.
    pub fn drop_stream(&mut self, db: usize, key: &[u8]) {
        let Some(d) = self.streams.get_mut(db).and_then(|m| m.remove(key)) else { return };
        self.queue(vec![Op::Append { handle: d.handle, bytes: Record::StreamDeleted.encode() }, Op::Remove { handle: d.handle }]);
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
