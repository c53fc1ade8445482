//! The segment file format: header, record framing, record types, CRC-32.
//!
//! Specified byte by byte in `protocol/segments.md`; this is a summary. Every integer is
//! little-endian.
//!
//! ```text
//! segment header
//!   0   8  magic "HRLDSEG\0"
//!   8   2  u16 format version (1)
//!   10  2  u16 flags (0; readers reject unknown bits)
//!   12  4  u32 database index
//!   16  8  u64 segment index (0, 1, 2, ... per stream)
//!   24  4  u32 key length n
//!   28  n  key bytes
//!   28+n 4 u32 CRC-32 (IEEE) of bytes 0 .. 28+n
//! then records, back to back
//!   0   4  u32 body length L (1 ..= MAX_RECORD_LEN)
//!   4   4  u32 CRC-32 (IEEE) of the body
//!   8   L  body: u8 record type, then the type's payload
//! ```
//!
//! Record type numbers are never reused or renumbered: a retired type keeps its number and
//! readers refuse it. Payload building blocks: `id` = u64 ms, u64 seq (16 bytes); `bytes` = u32
//! length then the bytes; `opt` = u8 0 (absent) or u8 1 then u64.

use crate::keyspace::stream::StreamId;
use bytes::Bytes;
use std::fmt;

/// The first eight bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"HRLDSEG\0";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u16 = 1;
/// The largest record body accepted: a longer length field can only be corruption.
pub const MAX_RECORD_LEN: u32 = 1 << 30;
/// Bytes before a record's body (length and CRC).
pub const RECORD_PREFIX: usize = 8;

/// A segment file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The database the stream lives in.
    pub db: u32,
    /// The segment's position in its stream's sequence of segments.
    pub index: u64,
    /// The stream's key.
    pub key: Bytes,
}

/// One pending entry as a delivery or claim leaves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingState {
    /// The entry.
    pub id: StreamId,
    /// When it was last delivered, in Unix ms.
    pub delivery_ms: u64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// One record: a change to a stream, stated as its outcome (never "re-run this command"), so
/// that replaying a log rebuilds exactly the state the commands left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// Type 1: the stream begins (first record of its first segment).
    StreamCreated {
        /// Database index.
        db: u32,
        /// Key.
        key: Bytes,
    },
    /// Type 2: the key was deleted (DEL, UNLINK, FLUSH*, expiry, overwrite, rename away).
    StreamDeleted,
    /// Type 3: an entry was appended with this concrete ID (XADD).
    EntryAdded {
        /// The ID the entry got.
        id: StreamId,
        /// Field/value pairs in order.
        fields: Vec<(Bytes, Bytes)>,
    },
    /// Type 4: these entries were deleted (XDEL; only IDs that existed).
    EntriesDeleted {
        /// The IDs deleted.
        ids: Vec<StreamId>,
    },
    /// Type 5: a trim removed every entry with an ID below `min_kept` (XTRIM, XADD MAXLEN/MINID).
    Trimmed {
        /// The smallest ID that may remain.
        min_kept: StreamId,
    },
    /// Type 6: the stream's metadata (XSETID, and the head of every snapshot).
    StreamMeta {
        /// Last ID generated.
        last_id: StreamId,
        /// Entries ever added.
        entries_added: u64,
        /// Largest ID ever deleted.
        max_deleted_id: StreamId,
    },
    /// Type 7: a group was created, or restated (snapshots): replaces any group of that name.
    GroupCreated {
        /// Group name.
        group: Bytes,
        /// Its last delivered ID.
        last_id: StreamId,
        /// Its entries-read counter, when known.
        entries_read: Option<u64>,
    },
    /// Type 8: a group's position changed (XGROUP SETID, XREADGROUP `>`, XCLAIM LASTID).
    GroupSetId {
        /// Group name.
        group: Bytes,
        /// Its last delivered ID.
        last_id: StreamId,
        /// Its entries-read counter, when known.
        entries_read: Option<u64>,
    },
    /// Type 9: entries were delivered to a consumer (XREADGROUP): each becomes (or stays)
    /// pending for it with the given time and count.
    Delivered {
        /// Group name.
        group: Bytes,
        /// Consumer name.
        consumer: Bytes,
        /// The pending entries as the delivery left them.
        entries: Vec<PendingState>,
    },
    /// Type 10: entries were acknowledged (XACK): they leave the PEL.
    Acked {
        /// Group name.
        group: Bytes,
        /// IDs that were pending.
        ids: Vec<StreamId>,
    },
    /// Type 11: pending entries moved to a consumer (XCLAIM, XAUTOCLAIM, with or without
    /// JUSTID), and pending entries whose stream entry was gone were dropped.
    Claimed {
        /// Group name.
        group: Bytes,
        /// The consumer that claimed.
        consumer: Bytes,
        /// Whether JUSTID was given (informational: the counts are already as it left them).
        justid: bool,
        /// The claimed entries as the claim left them.
        entries: Vec<PendingState>,
        /// Pending IDs dropped because the entry no longer exists.
        dropped: Vec<StreamId>,
    },
    /// Type 12: a consumer was created or seen: sets its times, creating it if missing
    /// (XGROUP CREATECONSUMER, XREADGROUP, XCLAIM, XAUTOCLAIM, snapshots).
    ConsumerSeen {
        /// Group name.
        group: Bytes,
        /// Consumer name.
        consumer: Bytes,
        /// `seen-time`.
        seen_ms: u64,
        /// `active-time`, if it ever read or claimed.
        active_ms: Option<u64>,
    },
    /// Type 13: a consumer was deleted with its pending entries (XGROUP DELCONSUMER).
    ConsumerDeleted {
        /// Group name.
        group: Bytes,
        /// Consumer name.
        consumer: Bytes,
    },
    /// Type 14: a group was destroyed (XGROUP DESTROY).
    GroupDestroyed {
        /// Group name.
        group: Bytes,
    },
    /// Type 15: the key's time to live was set or removed (EXPIRE, PEXPIRE, EXPIREAT,
    /// PEXPIREAT, PERSIST, snapshots of a key with a TTL).
    Expiry {
        /// The absolute deadline, Unix time in milliseconds; `None`: the key does not expire.
        deadline_ms: Option<u64>,
    },
}

/// Why bytes could not be read as a header or record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the length field (or the prefix) promises: a torn write.
    Truncated,
    /// The stored CRC does not match the bytes.
    BadChecksum,
    /// The length field is 0 or above [`MAX_RECORD_LEN`].
    BadLength(u32),
    /// Not a segment file.
    BadMagic,
    /// A format version this code does not know.
    UnsupportedVersion(u16),
    /// Header flags this code does not know.
    UnsupportedFlags(u16),
    /// A record type number this code does not know.
    UnknownType(u8),
    /// The payload does not match its type's layout.
    Malformed(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("truncated (torn write)"),
            DecodeError::BadChecksum => f.write_str("CRC-32 mismatch"),
            DecodeError::BadLength(n) => write!(f, "impossible record length {n}"),
            DecodeError::BadMagic => f.write_str("not a segment file (bad magic)"),
            DecodeError::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            DecodeError::UnsupportedFlags(v) => write!(f, "unsupported header flags {v:#x}"),
            DecodeError::UnknownType(t) => write!(f, "unknown record type {t}"),
            DecodeError::Malformed(what) => write!(f, "malformed payload: {what}"),
        }
    }
}

impl std::error::Error for DecodeError {}

// ---------------------------------------------------------------------------------------
// Writing.
// ---------------------------------------------------------------------------------------

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

/// Starts a record of type `type_number`: room for its length and CRC, then the type. Returns
/// where it starts, for [`end_record`].
fn begin_record(out: &mut Vec<u8>, type_number: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_PREFIX]);
    out.push(type_number);
    start
}

/// Fills in the length and CRC of the record that starts at `start`.
fn end_record(out: &mut [u8], start: usize) {
    let body = out.get(start + RECORD_PREFIX..).unwrap_or_default();
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let crc = crc32fast::hash(body);
    if let Some(prefix) = out.get_mut(start..start + RECORD_PREFIX) {
        for (slot, byte) in prefix.iter_mut().zip(len.to_le_bytes().into_iter().chain(crc.to_le_bytes())) {
            *slot = byte;
        }
    }
}

/// An entry's ID and fields.
fn put_entry(out: &mut Vec<u8>, id: StreamId, fields: &[(Bytes, Bytes)]) {
    put_id(out, id);
    put_len(out, fields.len());
    for (f, v) in fields {
        put_bytes(out, f);
        put_bytes(out, v);
    }
}

fn put_id(out: &mut Vec<u8>, id: StreamId) {
    put_u64(out, id.ms);
    put_u64(out, id.seq);
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    put_u32(out, u32::try_from(n).unwrap_or(u32::MAX));
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

fn put_opt(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        None => out.push(0),
        Some(n) => {
            out.push(1);
            put_u64(out, n);
        }
    }
}

fn put_pending(out: &mut Vec<u8>, entries: &[PendingState]) {
    put_len(out, entries.len());
    for p in entries {
        put_id(out, p.id);
        put_u64(out, p.delivery_ms);
        put_u64(out, p.delivery_count);
    }
}

fn put_ids(out: &mut Vec<u8>, ids: &[StreamId]) {
    put_len(out, ids.len());
    for id in ids {
        put_id(out, *id);
    }
}

/// Encodes a segment header.
pub fn encode_header(header: &SegmentHeader) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + header.key.len());
    out.extend_from_slice(&SEGMENT_MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    put_u32(&mut out, header.db);
    put_u64(&mut out, header.index);
    put_bytes(&mut out, &header.key);
    let crc = crc32fast::hash(&out);
    put_u32(&mut out, crc);
    out
}

impl Record {
    /// The record's type number (never reused).
    pub fn type_number(&self) -> u8 {
        match self {
            Record::StreamCreated { .. } => 1,
            Record::StreamDeleted => 2,
            Record::EntryAdded { .. } => 3,
            Record::EntriesDeleted { .. } => 4,
            Record::Trimmed { .. } => 5,
            Record::StreamMeta { .. } => 6,
            Record::GroupCreated { .. } => 7,
            Record::GroupSetId { .. } => 8,
            Record::Delivered { .. } => 9,
            Record::Acked { .. } => 10,
            Record::Claimed { .. } => 11,
            Record::ConsumerSeen { .. } => 12,
            Record::ConsumerDeleted { .. } => 13,
            Record::GroupDestroyed { .. } => 14,
            Record::Expiry { .. } => 15,
        }
    }

    /// Appends the framed record (length, CRC, type, payload) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = begin_record(out, self.type_number());
        match self {
            Record::StreamCreated { db, key } => {
                put_u32(out, *db);
                put_bytes(out, key);
            }
            Record::StreamDeleted => {}
            Record::EntryAdded { id, fields } => put_entry(out, *id, fields),
            Record::EntriesDeleted { ids } => put_ids(out, ids),
            Record::Trimmed { min_kept } => put_id(out, *min_kept),
            Record::StreamMeta { last_id, entries_added, max_deleted_id } => {
                put_id(out, *last_id);
                put_u64(out, *entries_added);
                put_id(out, *max_deleted_id);
            }
            Record::GroupCreated { group, last_id, entries_read } | Record::GroupSetId { group, last_id, entries_read } => {
                put_bytes(out, group);
                put_id(out, *last_id);
                put_opt(out, *entries_read);
            }
            Record::Delivered { group, consumer, entries } => {
                put_bytes(out, group);
                put_bytes(out, consumer);
                put_pending(out, entries);
            }
            Record::Acked { group, ids } => {
                put_bytes(out, group);
                put_ids(out, ids);
            }
            Record::Claimed { group, consumer, justid, entries, dropped } => {
                put_bytes(out, group);
                put_bytes(out, consumer);
                out.push(u8::from(*justid));
                put_pending(out, entries);
                put_ids(out, dropped);
            }
            Record::ConsumerSeen { group, consumer, seen_ms, active_ms } => {
                put_bytes(out, group);
                put_bytes(out, consumer);
                put_u64(out, *seen_ms);
                put_opt(out, *active_ms);
            }
            Record::ConsumerDeleted { group, consumer } => {
                put_bytes(out, group);
                put_bytes(out, consumer);
            }
            Record::GroupDestroyed { group } => put_bytes(out, group),
            Record::Expiry { deadline_ms } => put_opt(out, *deadline_ms),
        }
        end_record(out, start);
    }

    /// Encodes an "entry added" record straight from the entry's borrowed fields (XADD's
    /// record, without building a [`Record`]); the same bytes as [`Record::EntryAdded`].
    pub fn encode_entry_added(id: StreamId, fields: &[(Bytes, Bytes)], out: &mut Vec<u8>) {
        let start = begin_record(out, 3); // Record::EntryAdded's type number
        put_entry(out, id, fields);
        end_record(out, start);
    }

    /// The framed record as a new vector.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }
}

// ---------------------------------------------------------------------------------------
// Reading.
// ---------------------------------------------------------------------------------------

/// A cursor over a payload that fails instead of panicking on short input.
struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Malformed("payload shorter than its fields"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?.first().copied().unwrap_or_default())
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    fn id(&mut self) -> Result<StreamId, DecodeError> {
        Ok(StreamId::new(self.u64()?, self.u64()?))
    }

    fn count(&mut self, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        // A count that cannot fit in what is left is corruption; checking first keeps a bad
        // count from allocating gigabytes.
        if n.saturating_mul(min_item) > self.buf.len() {
            return Err(DecodeError::Malformed("count larger than the payload"));
        }
        Ok(n)
    }

    fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        let n = self.u32()? as usize;
        Ok(Bytes::copy_from_slice(self.take(n)?))
    }

    fn opt(&mut self) -> Result<Option<u64>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()?)),
            _ => Err(DecodeError::Malformed("option tag not 0 or 1")),
        }
    }

    fn ids(&mut self) -> Result<Vec<StreamId>, DecodeError> {
        let n = self.count(16)?;
        (0..n).map(|_| self.id()).collect()
    }

    fn pending(&mut self) -> Result<Vec<PendingState>, DecodeError> {
        let n = self.count(32)?;
        (0..n).map(|_| Ok(PendingState { id: self.id()?, delivery_ms: self.u64()?, delivery_count: self.u64()? })).collect()
    }

    fn end(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Malformed("bytes left after the payload"))
        }
    }
}

/// Decodes a header at the start of `buf`. Returns it and its length in bytes.
pub fn decode_header(buf: &[u8]) -> Result<(SegmentHeader, usize), DecodeError> {
    if buf.len() < 8 {
        return Err(DecodeError::Truncated);
    }
    if buf.get(..8) != Some(&SEGMENT_MAGIC[..]) {
        return Err(DecodeError::BadMagic);
    }
    let mut c = Cursor { buf: buf.get(8..).unwrap_or_default() };
    let fixed = |e: DecodeError| if matches!(e, DecodeError::Malformed(_)) { DecodeError::Truncated } else { e };
    let version = u16::from_le_bytes([c.u8().map_err(fixed)?, c.u8().map_err(fixed)?]);
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let flags = u16::from_le_bytes([c.u8().map_err(fixed)?, c.u8().map_err(fixed)?]);
    let db = c.u32().map_err(fixed)?;
    let index = c.u64().map_err(fixed)?;
    let key = c.bytes().map_err(fixed)?;
    let end = 28 + key.len();
    let crc = c.u32().map_err(fixed)?;
    if crc32fast::hash(buf.get(..end).unwrap_or_default()) != crc {
        return Err(DecodeError::BadChecksum);
    }
    if flags != 0 {
        return Err(DecodeError::UnsupportedFlags(flags));
    }
    Ok((SegmentHeader { db, index, key }, end + 4))
}

/// Decodes the framed record at the start of `buf`. Returns it and its framed length.
/// [`DecodeError::Truncated`] means `buf` ends inside the record (a torn tail).
pub fn decode_record(buf: &[u8]) -> Result<(Record, usize), DecodeError> {
    let word = |range: std::ops::Range<usize>| buf.get(range).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(u32::from_le_bytes);
    let (Some(len), Some(crc)) = (word(0..4), word(4..8)) else { return Err(DecodeError::Truncated) };
    if len == 0 || len > MAX_RECORD_LEN {
        return Err(DecodeError::BadLength(len));
    }
    let total = RECORD_PREFIX + len as usize;
    let Some(body) = buf.get(RECORD_PREFIX..total) else { return Err(DecodeError::Truncated) };
    if crc32fast::hash(body) != crc {
        return Err(DecodeError::BadChecksum);
    }
    Ok((decode_body(body)?, total))
}

/// Decodes a record body (type byte and payload) whose CRC was checked.
fn decode_body(body: &[u8]) -> Result<Record, DecodeError> {
    let mut c = Cursor { buf: body };
    let kind = c.u8()?;
    let record = match kind {
        1 => Record::StreamCreated { db: c.u32()?, key: c.bytes()? },
        2 => Record::StreamDeleted,
        3 => {
            let id = c.id()?;
            let n = c.count(8)?;
            let mut fields = Vec::with_capacity(n);
            for _ in 0..n {
                fields.push((c.bytes()?, c.bytes()?));
            }
            Record::EntryAdded { id, fields }
        }
        4 => Record::EntriesDeleted { ids: c.ids()? },
        5 => Record::Trimmed { min_kept: c.id()? },
        6 => Record::StreamMeta { last_id: c.id()?, entries_added: c.u64()?, max_deleted_id: c.id()? },
        7 => Record::GroupCreated { group: c.bytes()?, last_id: c.id()?, entries_read: c.opt()? },
        8 => Record::GroupSetId { group: c.bytes()?, last_id: c.id()?, entries_read: c.opt()? },
        9 => Record::Delivered { group: c.bytes()?, consumer: c.bytes()?, entries: c.pending()? },
        10 => Record::Acked { group: c.bytes()?, ids: c.ids()? },
        11 => {
            let group = c.bytes()?;
            let consumer = c.bytes()?;
            let justid = match c.u8()? {
                0 => false,
                1 => true,
                _ => return Err(DecodeError::Malformed("JUSTID flag not 0 or 1")),
            };
            Record::Claimed { group, consumer, justid, entries: c.pending()?, dropped: c.ids()? }
        }
        12 => Record::ConsumerSeen { group: c.bytes()?, consumer: c.bytes()?, seen_ms: c.u64()?, active_ms: c.opt()? },
        13 => Record::ConsumerDeleted { group: c.bytes()?, consumer: c.bytes()? },
        14 => Record::GroupDestroyed { group: c.bytes()? },
        15 => Record::Expiry { deadline_ms: c.opt()? },
        other => return Err(DecodeError::UnknownType(other)),
    };
    c.end()?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    /// One record of every type.
    pub(crate) fn every_record() -> Vec<Record> {
        let p = PendingState { id: StreamId::new(5, 1), delivery_ms: 1_700_000_000_000, delivery_count: 2 };
        vec![
            Record::StreamCreated { db: 3, key: b("orders") },
            Record::StreamDeleted,
            Record::EntryAdded { id: StreamId::new(1, 2), fields: vec![(b("f"), b("v")), (b("g"), Bytes::new())] },
            Record::EntriesDeleted { ids: vec![StreamId::new(1, 2), StreamId::new(7, 0)] },
            Record::Trimmed { min_kept: StreamId::new(9, 9) },
            Record::StreamMeta { last_id: StreamId::new(10, 0), entries_added: 42, max_deleted_id: StreamId::new(7, 0) },
            Record::GroupCreated { group: b("g1"), last_id: StreamId::new(0, 0), entries_read: None },
            Record::GroupSetId { group: b("g1"), last_id: StreamId::new(4, 0), entries_read: Some(4) },
            Record::Delivered { group: b("g1"), consumer: b("alice"), entries: vec![p] },
            Record::Acked { group: b("g1"), ids: vec![StreamId::new(5, 1)] },
            Record::Claimed { group: b("g1"), consumer: b("bob"), justid: true, entries: vec![p], dropped: vec![StreamId::new(6, 0)] },
            Record::ConsumerSeen { group: b("g1"), consumer: b("bob"), seen_ms: 11, active_ms: Some(12) },
            Record::ConsumerDeleted { group: b("g1"), consumer: b("bob") },
            Record::GroupDestroyed { group: b("g1") },
            Record::Expiry { deadline_ms: Some(1_700_000_060_000) },
        ]
    }

    #[test]
    fn every_record_type_round_trips() {
        for record in every_record() {
            let bytes = record.encode();
            let (back, used) = decode_record(&bytes).unwrap();
            assert_eq!(back, record);
            assert_eq!(used, bytes.len());
        }
    }

    #[test]
    fn type_numbers_are_distinct_and_stable() {
        let numbers: Vec<u8> = every_record().iter().map(Record::type_number).collect();
        assert_eq!(numbers, (1..=15).collect::<Vec<u8>>());
    }

    #[test]
    fn a_record_cut_anywhere_reads_as_truncated_and_a_flipped_bit_as_a_bad_checksum() {
        let bytes = Record::EntryAdded { id: StreamId::new(1, 2), fields: vec![(b("field"), b("value"))] }.encode();
        for cut in 0..bytes.len() {
            assert_eq!(decode_record(&bytes[..cut]).unwrap_err(), DecodeError::Truncated, "cut at {cut}");
        }
        for at in RECORD_PREFIX..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert_eq!(decode_record(&bad).unwrap_err(), DecodeError::BadChecksum, "flip at {at}");
        }
    }

    #[test]
    fn headers_round_trip_and_reject_other_files() {
        let h = SegmentHeader { db: 2, index: 7, key: b("k") };
        let bytes = encode_header(&h);
        assert_eq!(decode_header(&bytes).unwrap(), (h, bytes.len()));
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(decode_header(&bad).unwrap_err(), DecodeError::BadMagic);
        let mut bad = bytes.clone();
        bad[8] = 9;
        assert_eq!(decode_header(&bad).unwrap_err(), DecodeError::UnsupportedVersion(9));
        assert_eq!(decode_header(&bytes[..bytes.len() - 1]).unwrap_err(), DecodeError::Truncated);
    }

    #[test]
    fn impossible_lengths_and_counts_are_rejected_without_allocating() {
        let mut bytes = vec![0u8; 8];
        assert_eq!(decode_record(&bytes).unwrap_err(), DecodeError::BadLength(0));
        // A deletion record claiming 2^32-1 IDs in a 5-byte payload.
        let body = [4u8, 0xff, 0xff, 0xff, 0xff];
        bytes = Vec::new();
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
        assert!(matches!(decode_record(&bytes).unwrap_err(), DecodeError::Malformed(_)));
    }

    #[test]
    fn an_entry_encoded_from_borrowed_fields_is_the_entry_added_record() {
        let fields = vec![(b("field"), b("value")), (b("g"), Bytes::new())];
        let mut out = vec![7];
        Record::encode_entry_added(StreamId::new(5, 6), &fields, &mut out);
        assert_eq!(out.get(1..), Some(&Record::EntryAdded { id: StreamId::new(5, 6), fields }.encode()[..]));
    }
}
