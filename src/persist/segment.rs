//! Segments on disk: where they live, appending and rolling, reading them back.
//!
//! # Layout
//! ```text
//! <dir>/streams/<handle as 16 hex digits>/<segment index as 16 hex digits>.seg
//! ```
//! A *handle* names one life of one durable stream: deleting a key and creating it again gives
//! the new stream a new handle, so the new directory never mixes with the old one being
//! removed. The stream's database and key are in every segment's header. The segment with the
//! highest index is the *active* one (appended to); the others are *sealed* and never change
//! again, except that recovery may cut a corrupt tail.
//!
//! # Reader API (for tiering and tools)
//! [`SegmentReader`] lists a stream's segments with their first and last entry IDs
//! ([`SegmentReader::segments`]) and reads entries from them ([`SegmentReader::read_entries`],
//! [`read_segment_entries`]); [`read_segment`] gives every record of one file.

use super::format::{decode_header, decode_record, encode_header, DecodeError, Record, SegmentHeader};
use super::io::{AppendFile, FileSync, Storage};
use crate::keyspace::stream::{StreamEntry, StreamId};
use bytes::Bytes;
use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The folder under the data directory that holds one folder per durable stream.
pub const STREAMS_DIR: &str = "streams";
/// The extension of segment files.
pub const SEGMENT_EXT: &str = "seg";

/// The folder of stream `handle` under data directory `root`.
pub fn stream_dir(root: &Path, handle: u64) -> PathBuf {
    root.join(STREAMS_DIR).join(format!("{handle:016x}"))
}

/// The path of segment `index` in `stream_dir`.
pub fn segment_path(stream_dir: &Path, index: u64) -> PathBuf {
    stream_dir.join(format!("{index:016x}.{SEGMENT_EXT}"))
}

/// Parses a hex file or folder name (`00000000000000a1` or `00000000000000a1.seg`).
pub fn parse_hex_name(path: &Path, ext: Option<&str>) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let stem = match ext {
        Some(ext) => name.strip_suffix(ext)?.strip_suffix('.')?,
        None => name,
    };
    if stem.len() != 16 {
        return None;
    }
    u64::from_str_radix(stem, 16).ok()
}

/// A stream's segment files, `(index, path)` in index order.
pub fn list_segments(storage: &dyn Storage, stream_dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out: Vec<(u64, PathBuf)> = storage.list_dir(stream_dir)?.into_iter().filter_map(|p| parse_hex_name(&p, Some(SEGMENT_EXT)).map(|i| (i, p))).collect();
    out.sort();
    Ok(out)
}

/// One segment file read back.
#[derive(Debug, Clone)]
pub struct ReadSegment {
    /// Its header.
    pub header: SegmentHeader,
    /// Every good record, in order, each with its byte offset in the file.
    pub records: Vec<(u64, Record)>,
    /// Bytes up to the end of the last good record.
    pub valid_len: u64,
    /// The file's length.
    pub file_len: u64,
    /// Why reading stopped before the end of the file, if it did (torn or corrupt tail).
    pub bad_tail: Option<DecodeError>,
}

/// Reads one segment file: its header, then records until the end or the first bad one.
/// `Ok(Err(_))` means the header itself is unreadable.
pub fn read_segment(storage: &dyn Storage, path: &Path) -> io::Result<Result<ReadSegment, DecodeError>> {
    let data = storage.read(path)?;
    Ok(parse_segment(&data))
}

/// [`read_segment`] on bytes already in memory.
pub fn parse_segment(data: &[u8]) -> Result<ReadSegment, DecodeError> {
    let mut records = Vec::new();
    let mut seg = parse_segment_with(data, |at, record| records.push((at, record)))?;
    seg.records = records;
    Ok(seg)
}

/// [`parse_segment`] without collecting the records: `each` gets every good record in order
/// with its byte offset, as it is decoded (recovery applies them one by one, so a segment's
/// decoded records are never all in memory at once). The result's `records` is empty.
pub fn parse_segment_with(data: &[u8], mut each: impl FnMut(u64, Record)) -> Result<ReadSegment, DecodeError> {
    let (header, mut at) = decode_header(data)?;
    let records = Vec::new();
    let mut bad_tail = None;
    while at < data.len() {
        match decode_record(data.get(at..).unwrap_or_default()) {
            Ok((record, used)) => {
                each(at as u64, record);
                at += used;
            }
            Err(e) => {
                bad_tail = Some(e);
                break;
            }
        }
    }
    Ok(ReadSegment { header, records, valid_len: at as u64, file_len: data.len() as u64, bad_tail })
}

/// Appends to a stream's active segment and rolls to a new one.
///
/// Records can be appended at once ([`SegmentWriter::append`]) or gathered in the writer's
/// buffer ([`SegmentWriter::buffer`]) and written in one `write` by [`SegmentWriter::flush`]
/// (the journal gathers a connection batch's records this way). [`SegmentWriter::syncer`]
/// syncs the active file from another thread.
#[derive(Debug)]
pub struct SegmentWriter {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
    db: u32,
    key: Bytes,
    index: u64,
    file: Box<dyn AppendFile>,
    /// Syncs `file` from the fsync thread.
    syncer: Arc<dyn FileSync>,
    /// Framed records not written yet.
    buffer: Vec<u8>,
    /// Whether bytes were appended since the last sync through this writer.
    dirty: bool,
}

impl SegmentWriter {
    /// Starts segment `index` of a stream in `dir` (created if missing), writing its header.
    pub fn create(storage: Arc<dyn Storage>, dir: PathBuf, db: u32, key: Bytes, index: u64) -> io::Result<SegmentWriter> {
        storage.create_dir_all(&dir)?;
        let mut file = storage.open_append(&segment_path(&dir, index))?;
        file.append(&encode_header(&SegmentHeader { db, index, key: key.clone() }))?;
        let syncer = file.syncer()?;
        Ok(SegmentWriter { storage, dir, db, key, index, file, syncer, buffer: Vec::new(), dirty: true })
    }

    /// Continues appending to an existing segment (after recovery checked and cut it).
    pub fn reopen(storage: Arc<dyn Storage>, dir: PathBuf, header: &SegmentHeader) -> io::Result<SegmentWriter> {
        let file = storage.open_append(&segment_path(&dir, header.index))?;
        let syncer = file.syncer()?;
        Ok(SegmentWriter { storage, dir, db: header.db, key: header.key.clone(), index: header.index, file, syncer, buffer: Vec::new(), dirty: false })
    }

    /// Appends framed records.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.dirty = true;
        self.file.append(bytes)
    }

    /// The buffer of framed records that [`SegmentWriter::flush`] writes next.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buffer
    }

    /// Writes the buffered records in one append; returns how many bytes it wrote. The
    /// buffer is emptied (and keeps its capacity) even if the write fails.
    pub fn flush(&mut self) -> io::Result<u64> {
        if self.buffer.is_empty() {
            return Ok(0);
        }
        self.dirty = true;
        let written = self.buffer.len() as u64;
        let result = self.file.append(&self.buffer);
        self.buffer.clear();
        result.map(|()| written)
    }

    /// Syncs the active segment from another thread (see [`AppendFile::syncer`]); changes
    /// when the segment rolls.
    pub fn syncer(&self) -> &Arc<dyn FileSync> {
        &self.syncer
    }

    /// Makes everything appended durable; a no-op when nothing was appended since.
    pub fn sync(&mut self) -> io::Result<()> {
        if self.dirty {
            self.file.sync()?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Whether bytes were appended since the last sync.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Writes what is buffered, seals the active segment (synced) and starts the next one.
    pub fn roll(&mut self) -> io::Result<()> {
        self.flush()?;
        self.sync()?;
        let next = self.index + 1;
        let mut file = self.storage.open_append(&segment_path(&self.dir, next))?;
        file.append(&encode_header(&SegmentHeader { db: self.db, index: next, key: self.key.clone() }))?;
        self.syncer = file.syncer()?;
        self.file = file;
        self.index = next;
        self.dirty = true;
        // The new file's name must survive a crash too.
        self.storage.sync_dir(&self.dir)
    }

    /// The active segment's index.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The active segment's length in bytes.
    pub fn len(&self) -> u64 {
        self.file.len()
    }

    /// Whether the active segment is empty (never true once its header is written).
    pub fn is_empty(&self) -> bool {
        self.file.is_empty()
    }

    /// The stream's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// What [`SegmentReader::segments`] tells about one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Its index (position in the stream's sequence).
    pub index: u64,
    /// Its file.
    pub path: PathBuf,
    /// Its size in bytes (valid records only).
    pub bytes: u64,
    /// Entries added in it.
    pub entries: u64,
    /// The first entry ID added in it, if any.
    pub first_id: Option<StreamId>,
    /// The last entry ID added in it, if any.
    pub last_id: Option<StreamId>,
    /// Whether it is sealed (not the highest index).
    pub sealed: bool,
}

/// Reads a durable stream's entries back from its segment files.
///
/// Reading never changes the files and does not need the keyspace lock. The active segment
/// may be appended to while it is read: a partly written record at its end reads as a torn
/// tail and is simply not returned.
#[derive(Debug, Clone)]
pub struct SegmentReader {
    storage: Arc<dyn Storage>,
    dir: PathBuf,
}

impl SegmentReader {
    /// A reader of the stream stored in `dir` (see [`stream_dir`]).
    pub fn new(storage: Arc<dyn Storage>, dir: PathBuf) -> SegmentReader {
        SegmentReader { storage, dir }
    }

    /// Every segment with its first and last entry ID, oldest first.
    pub fn segments(&self) -> io::Result<Vec<SegmentInfo>> {
        let files = list_segments(self.storage.as_ref(), &self.dir)?;
        let last = files.last().map(|(i, _)| *i);
        let mut out = Vec::with_capacity(files.len());
        for (index, path) in files {
            let Ok(seg) = read_segment(self.storage.as_ref(), &path)? else { continue };
            let mut info = SegmentInfo { index, path, bytes: seg.valid_len, entries: 0, first_id: None, last_id: None, sealed: Some(index) != last };
            for (_, record) in &seg.records {
                if let Record::EntryAdded { id, .. } = record {
                    info.entries += 1;
                    info.first_id.get_or_insert(*id);
                    info.last_id = Some(*id);
                }
            }
            out.push(info);
        }
        Ok(out)
    }

    /// Up to `count` live entries with IDs at or above `from`, oldest first, read from the
    /// segments. Deletions (XDEL), trims and a key deletion recorded in any segment are
    /// applied, so an entry is returned only if the log says it still exists.
    pub fn read_entries(&self, from: StreamId, count: usize) -> io::Result<Vec<StreamEntry>> {
        let mut entries: Vec<StreamEntry> = Vec::new();
        let mut deleted: HashSet<StreamId> = HashSet::new();
        let mut min_kept = StreamId::MIN;
        for (_, path) in list_segments(self.storage.as_ref(), &self.dir)? {
            let Ok(seg) = read_segment(self.storage.as_ref(), &path)? else { continue };
            for (_, record) in seg.records {
                match record {
                    Record::EntryAdded { id, fields } if id >= from => entries.push(StreamEntry { id, fields }),
                    Record::EntriesDeleted { ids } => deleted.extend(ids),
                    Record::Trimmed { min_kept: m } => min_kept = min_kept.max(m),
                    Record::StreamDeleted => {
                        entries.clear();
                        deleted.clear();
                    }
                    _ => {}
                }
            }
        }
        Ok(entries.into_iter().filter(|e| e.id >= min_kept && !deleted.contains(&e.id)).take(count).collect())
    }
}

/// The entries added in one segment (no deletions applied), for callers that cache per
/// segment (see [`SegmentReader::segments`] for the listing).
pub fn read_segment_entries(storage: &dyn Storage, path: &Path) -> io::Result<Vec<StreamEntry>> {
    let Ok(seg) = read_segment(storage, path)? else { return Ok(Vec::new()) };
    Ok(seg
        .records
        .into_iter()
        .filter_map(|(_, r)| match r {
            Record::EntryAdded { id, fields } => Some(StreamEntry { id, fields }),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::persist::io::FaultStorage;

    fn entry(ms: u64) -> Record {
        Record::EntryAdded { id: StreamId::new(ms, 0), fields: vec![(Bytes::from_static(b"f"), Bytes::from(ms.to_string()))] }
    }

    fn writer(storage: &FaultStorage) -> SegmentWriter {
        let dir = stream_dir(Path::new("/data"), 1);
        SegmentWriter::create(Arc::new(storage.clone()), dir, 0, Bytes::from_static(b"s"), 0).unwrap()
    }

    #[test]
    fn the_reader_lists_segments_with_their_id_ranges_and_reads_across_them() {
        let storage = FaultStorage::new();
        let mut w = writer(&storage);
        for ms in 1..=3 {
            w.append(&entry(ms).encode()).unwrap();
        }
        w.roll().unwrap();
        for ms in 4..=6 {
            w.append(&entry(ms).encode()).unwrap();
        }
        w.append(&Record::EntriesDeleted { ids: vec![StreamId::new(5, 0)] }.encode()).unwrap();
        w.append(&Record::Trimmed { min_kept: StreamId::new(2, 0) }.encode()).unwrap();
        let reader = SegmentReader::new(Arc::new(storage.clone()), w.dir().to_path_buf());
        let segments = reader.segments().unwrap();
        assert_eq!(segments.len(), 2);
        assert_eq!((segments[0].first_id, segments[0].last_id, segments[0].sealed), (Some(StreamId::new(1, 0)), Some(StreamId::new(3, 0)), true));
        assert_eq!((segments[1].first_id, segments[1].last_id, segments[1].sealed), (Some(StreamId::new(4, 0)), Some(StreamId::new(6, 0)), false));
        let ids: Vec<u64> = reader.read_entries(StreamId::MIN, 10).unwrap().iter().map(|e| e.id.ms).collect();
        assert_eq!(ids, vec![2, 3, 4, 6]);
        let ids: Vec<u64> = reader.read_entries(StreamId::new(3, 0), 2).unwrap().iter().map(|e| e.id.ms).collect();
        assert_eq!(ids, vec![3, 4]);
    }

    #[test]
    fn a_torn_tail_stops_reading_at_the_last_whole_record() {
        let storage = FaultStorage::new();
        let mut w = writer(&storage);
        w.append(&entry(1).encode()).unwrap();
        w.sync().unwrap();
        w.append(&entry(2).encode()).unwrap();
        storage.crash(5);
        let path = segment_path(w.dir(), 0);
        let seg = read_segment(&storage, &path).unwrap().unwrap();
        assert_eq!(seg.records.len(), 1);
        assert_eq!(seg.bad_tail, Some(DecodeError::Truncated));
        assert_eq!(seg.file_len, seg.valid_len + 5);
    }
}
