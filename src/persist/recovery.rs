//! Recovery: rebuilding durable streams from their segments on start.
//!
//! [`apply`] is the one place a record changes a stream; it only uses the stream's own data
//! operations, so replay and live commands cannot disagree on what a change means. [`recover`]
//! reads every stream folder, checks every record's CRC, cuts torn or corrupt tails (logged
//! with `tracing::warn!`), and returns the streams with what the writer needs to continue.

use super::format::{decode_header, DecodeError, PendingState, Record, SegmentHeader};
use super::io::Storage;
use super::segment::{list_segments, parse_hex_name, parse_segment_with, STREAMS_DIR};
use super::tier::SegmentColdStore;
use crate::keyspace::stream::{AddId, ColdTier, Group, Stream, StreamId, Trim, TrimStrategy};
use std::sync::Arc;
use bytes::Bytes;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Why a record could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// An entry's ID is not above the stream's last ID.
    EntryOutOfOrder(StreamId),
    /// The record names a group the stream does not have.
    NoSuchGroup(Bytes),
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyError::EntryOutOfOrder(id) => write!(f, "entry {id} is not above the stream's last ID"),
            ApplyError::NoSuchGroup(g) => write!(f, "no group '{}'", String::from_utf8_lossy(g)),
        }
    }
}

/// What applying a record did to the stream's existence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The stream still exists.
    Live,
    /// The record deleted the key.
    Deleted,
}

fn group_mut<'a>(stream: &'a mut Stream, group: &Bytes) -> Result<&'a mut Group, ApplyError> {
    stream.groups.get_mut(group).ok_or_else(|| ApplyError::NoSuchGroup(group.clone()))
}

fn set_pending(g: &mut Group, consumer: &Bytes, entries: &[PendingState]) {
    g.consumer(consumer, 0);
    for p in entries {
        g.deliver(p.id, consumer, p.delivery_ms);
        if let Some(pending) = g.pel.get_mut(&p.id) {
            pending.delivery_ms = p.delivery_ms;
            pending.delivery_count = p.delivery_count;
        }
    }
}

/// Applies one record to `stream` (see `protocol/segments.md` for each type's meaning).
pub fn apply(stream: &mut Stream, record: Record) -> Result<Applied, ApplyError> {
    match record {
        Record::StreamCreated { .. } => {}
        Record::StreamDeleted => {
            *stream = Stream::new();
            return Ok(Applied::Deleted);
        }
        Record::EntryAdded { id, fields } => {
            stream.add(AddId::Explicit(id), &fields, 0).map_err(|_| ApplyError::EntryOutOfOrder(id))?;
        }
        Record::EntriesDeleted { ids } => {
            for id in ids {
                stream.delete(id);
            }
        }
        Record::Trimmed { min_kept } => {
            stream.trim(Trim { strategy: TrimStrategy::MinId(min_kept), approx: false, limit: 0 });
        }
        Record::StreamMeta { last_id, entries_added, max_deleted_id } => stream.set_id(last_id, Some(entries_added), Some(max_deleted_id)),
        Record::GroupCreated { group, last_id, entries_read } => {
            stream.groups.insert(group, Group::new(last_id, entries_read));
        }
        Record::GroupSetId { group, last_id, entries_read } => {
            let g = group_mut(stream, &group)?;
            g.last_id = last_id;
            g.entries_read = entries_read;
        }
        Record::Delivered { group, consumer, entries } => set_pending(group_mut(stream, &group)?, &consumer, &entries),
        Record::Claimed { group, consumer, entries, dropped, .. } => {
            let g = group_mut(stream, &group)?;
            for id in dropped {
                g.ack(id);
            }
            set_pending(g, &consumer, &entries);
        }
        Record::Acked { group, ids } => {
            let g = group_mut(stream, &group)?;
            for id in ids {
                g.ack(id);
            }
        }
        Record::ConsumerSeen { group, consumer, seen_ms, active_ms } => {
            let (c, _) = group_mut(stream, &group)?.consumer(&consumer, seen_ms);
            c.seen_ms = seen_ms;
            c.active_ms = active_ms;
        }
        Record::ConsumerDeleted { group, consumer } => {
            group_mut(stream, &group)?.remove_consumer(&consumer);
        }
        Record::GroupDestroyed { group } => {
            stream.groups.remove(&group);
        }
        // The key's deadline is not part of the value: `recover` keeps it beside the stream.
        Record::Expiry { .. } => {}
    }
    Ok(Applied::Live)
}

/// One stream rebuilt from its segments.
#[derive(Debug)]
pub struct RecoveredStream {
    /// Its handle (folder name).
    pub handle: u64,
    /// The database it lives in.
    pub db: u32,
    /// Its key.
    pub key: Bytes,
    /// The rebuilt value.
    pub stream: Stream,
    /// Sealed segments: index and the last entry ID added in each.
    pub sealed: Vec<(u64, Option<StreamId>)>,
    /// The active segment's header, its length, and the last entry ID added in it.
    pub active: (SegmentHeader, u64, Option<StreamId>),
    /// The cold store attached during replay (tiering on), which the stream keeps using.
    pub cold: Option<Arc<SegmentColdStore>>,
    /// The key's deadline (Unix ms) from the last *expiry* record, if it has one.
    pub expires_at: Option<u64>,
}

/// Makes the cold store of the stream with this handle, so replay can evict as it goes.
pub type ColdStoreFactory<'a> = &'a dyn Fn(u64) -> Arc<SegmentColdStore>;

/// What recovery found, for the log and INFO `persistence`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Streams rebuilt.
    pub streams: u64,
    /// Live entries loaded.
    pub entries: u64,
    /// Records replayed.
    pub records: u64,
    /// Segment files read.
    pub segments: u64,
    /// Bytes of valid records read.
    pub bytes: u64,
    /// Torn or corrupt records cut off (one per file cut).
    pub torn_records_truncated: u64,
    /// How long it took.
    pub elapsed: Duration,
    /// The highest handle seen (new streams get higher ones).
    pub max_handle: u64,
    /// The most bytes of sealed blocks any one stream held resident at the end of a segment's
    /// replay (with tiering on, bounded by the memory budget plus about one block).
    pub peak_resident_bytes: u64,
}

fn cut(storage: &dyn Storage, path: &Path, at: u64, offset_of_file: u64, reason: &DecodeError) -> io::Result<()> {
    warn!("durable streams: {} has a bad record at byte {at} of {offset_of_file} ({reason}); truncating the file there, nothing after it is served", path.display());
    storage.truncate(path, at)
}

/// Rebuilds every durable stream under `root`. Cuts torn or corrupt tails, removes the folders
/// of deleted streams and of older lives of a key. Every stream is rebuilt whole in memory;
/// see [`recover_tiered`] for bounded memory.
pub fn recover(storage: &dyn Storage, root: &Path) -> io::Result<(Vec<RecoveredStream>, RecoveryReport)> {
    recover_tiered(storage, root, None)
}

/// [`recover`], with each stream's cold store (made by `cold`) attached before its first
/// record is replayed: as replay passes the memory budget, sealed blocks already in the files
/// are evicted exactly as in steady state, so recovery's peak memory is bounded too.
pub fn recover_tiered(storage: &dyn Storage, root: &Path, cold: Option<ColdStoreFactory<'_>>) -> io::Result<(Vec<RecoveredStream>, RecoveryReport)> {
    let started = Instant::now();
    let mut report = RecoveryReport::default();
    let mut by_key: HashMap<(u32, Bytes), RecoveredStream> = HashMap::new();
    let mut stale: Vec<PathBuf> = Vec::new();
    for dir in storage.list_dir(&root.join(STREAMS_DIR))? {
        let Some(handle) = parse_hex_name(&dir, None) else { continue };
        report.max_handle = report.max_handle.max(handle);
        match recover_stream(storage, &dir, handle, cold, &mut report)? {
            None => stale.push(dir),
            Some(rec) => {
                let slot = (rec.db, rec.key.clone());
                match by_key.get(&slot) {
                    Some(existing) if existing.handle > rec.handle => stale.push(dir),
                    Some(existing) => {
                        stale.push(super::segment::stream_dir(root, existing.handle));
                        by_key.insert(slot, rec);
                    }
                    None => {
                        by_key.insert(slot, rec);
                    }
                }
            }
        }
    }
    for dir in stale {
        info!("durable streams: removing {} (deleted, or an older life of its key)", dir.display());
        storage.remove_dir_all(&dir)?;
    }
    let streams: Vec<RecoveredStream> = by_key.into_values().collect();
    report.streams = streams.len() as u64;
    report.entries = streams.iter().map(|s| s.stream.len()).sum();
    report.elapsed = started.elapsed();
    Ok((streams, report))
}

/// Rebuilds one stream folder; `None` if it holds no live stream (deleted, or empty).
fn recover_stream(storage: &dyn Storage, dir: &Path, handle: u64, cold: Option<ColdStoreFactory<'_>>, report: &mut RecoveryReport) -> io::Result<Option<RecoveredStream>> {
    let files = list_segments(storage, dir)?;
    let mut stream = Stream::new();
    let mut tier: Option<(Arc<SegmentColdStore>, ColdTier)> = None;
    let mut expires_at = None;
    let mut deleted = false;
    let mut segs: Vec<(u64, SegmentHeader, u64, Option<StreamId>)> = Vec::new();
    for (index, path) in files {
        let data = storage.read(&path)?;
        let header = match decode_header(&data) {
            Ok((header, _)) => header,
            Err(e) => {
                // A header cut short is a roll that crashed: the file holds nothing yet.
                warn!("durable streams: {} has an unreadable header ({e}); removing it", path.display());
                report.torn_records_truncated += 1;
                storage.remove_file(&path)?;
                continue;
            }
        };
        if let (None, Some(make)) = (&tier, cold) {
            let store = make(handle);
            let link = ColdTier { store: store.clone(), key: header.key.clone() };
            stream.set_cold_tier(link.clone());
            tier = Some((store, link));
        }
        // Records are applied as they are decoded: a segment's decoded records are never all
        // in memory at once, only its bytes.
        let mut last_entry = None;
        let mut records = 0u64;
        let parsed = parse_segment_with(&data, |offset, record| {
            records += 1;
            if let Record::Expiry { deadline_ms } = record {
                expires_at = deadline_ms;
                return;
            }
            if let Record::EntryAdded { id, .. } = &record {
                last_entry = Some(*id);
                // The entry is in the file: blocks it seals may be evicted.
                if let Some((store, _)) = &tier {
                    store.note_written(*id);
                }
            }
            match apply(&mut stream, record) {
                Ok(Applied::Deleted) => {
                    deleted = true;
                    expires_at = None;
                    if let Some((_, link)) = &tier {
                        stream.set_cold_tier(link.clone());
                    }
                }
                Ok(Applied::Live) => deleted = false,
                Err(e) => warn!("durable streams: {} record at byte {offset} cannot be applied ({e}); skipped", path.display()),
            }
        });
        drop(data);
        let seg = match parsed {
            Ok(seg) => seg,
            // Not reached: the header decoded above.
            Err(_) => continue,
        };
        report.records += records;
        report.segments += 1;
        if let Some(reason) = &seg.bad_tail {
            report.torn_records_truncated += 1;
            cut(storage, &path, seg.valid_len, seg.file_len, reason)?;
        }
        report.bytes += seg.valid_len;
        segs.push((index, seg.header, seg.valid_len, last_entry));
        report.peak_resident_bytes = report.peak_resident_bytes.max(stream.resident_bytes() as u64);
    }
    let Some((_, header, len, last_entry)) = segs.pop() else { return Ok(None) };
    if deleted {
        return Ok(None);
    }
    let sealed = segs.into_iter().map(|(index, _, _, last)| (index, last)).collect();
    let active = (header, len, last_entry);
    let (db, key) = (active.0.db, active.0.key.clone());
    Ok(Some(RecoveredStream { handle, db, key, stream, sealed, active, cold: tier.map(|(store, _)| store), expires_at }))
}
