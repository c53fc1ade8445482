//! One block of a stream: up to [`BLOCK_MAX_ENTRIES`] entries packed into a byte vector.
//!
//! # Encoding
//! A block keeps its *master fields* (the field names of the first entry added to it) and a
//! byte vector of entries, each:
//!
//! ```text
//! varint  ms delta        entry.ms - base.ms
//! varint  seq             entry.seq - base.seq when the ms delta is 0, else entry.seq
//! u8      flags           bit 0: deleted (XDEL, exact trims); bit 1: same fields as master
//! varint  n               number of field/value pairs
//! same fields:  n × (varint len, value bytes)
//! otherwise:    n × (varint len, field bytes, varint len, value bytes)
//! ```
//!
//! Varints are LEB128 (7 bits a byte, low bits first). IDs in a block are increasing, so the
//! deltas are small: an entry with two short fields added by `XADD s * f v` costs a handful of
//! bytes beyond its value, and field names the entries share are stored once per block, as in
//! Redis's listpacks. Deleting marks the flag in place, so no entry moves; a block whose entries
//! are all deleted is dropped by the stream.

use super::StreamId;
use bytes::Bytes;

/// How many entries (deleted ones included) a block takes before a new one starts; Redis's
/// `stream-node-max-entries` default, so approximate trims cut where Redis's would.
pub const BLOCK_MAX_ENTRIES: u32 = 100;
/// How many bytes of entries a block takes before a new one starts (`stream-node-max-bytes`).
pub const BLOCK_MAX_BYTES: usize = 4096;

const FLAG_DELETED: u8 = 1;
const FLAG_SAME_FIELDS: u8 = 2;

/// An entry read out of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// Its ID.
    pub id: StreamId,
    /// Its field/value pairs, in the order they were added.
    pub fields: Vec<(Bytes, Bytes)>,
}

/// A packed run of entries (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Block {
    /// The ID the deltas are taken from: the first entry's, which is also the block's key.
    base: StreamId,
    /// The largest ID ever stored here (deleted or not).
    last: StreamId,
    /// Field names shared by entries flagged "same fields".
    master: Vec<Bytes>,
    data: Vec<u8>,
    /// Entries not deleted.
    live: u32,
    /// Entries stored, deleted ones included.
    total: u32,
}

/// Where one entry sits in a block's bytes.
struct Raw<'a> {
    id: StreamId,
    flags_at: usize,
    deleted: bool,
    fields: Vec<(&'a [u8], &'a [u8])>,
}

impl Block {
    /// A block whose first entry will be `base`.
    pub fn new(base: StreamId, fields: &[(Bytes, Bytes)]) -> Block {
        // Copied: argument bytes share the connection's read buffer, which must not be kept alive.
        Block { base, last: base, master: fields.iter().map(|(f, _)| Bytes::copy_from_slice(f)).collect(), ..Block::default() }
    }

    /// Whether another entry of `fields` still fits.
    pub fn has_room(&self, fields: &[(Bytes, Bytes)]) -> bool {
        let size: usize = fields.iter().map(|(f, v)| f.len() + v.len() + 4).sum();
        self.total < BLOCK_MAX_ENTRIES && (self.total == 0 || self.data.len() + size <= BLOCK_MAX_BYTES)
    }

    /// Entries not deleted.
    pub fn live(&self) -> u32 {
        self.live
    }

    /// Entries stored, deleted ones included.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// The IDs stored here and deleted since.
    pub fn deleted_ids(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.raws().filter(|raw| raw.deleted).map(|raw| raw.id)
    }

    /// The first live entry.
    pub fn first_live(&self) -> Option<StreamEntry> {
        self.range(StreamId::MIN, StreamId::MAX).next()
    }

    /// The largest ID stored.
    pub fn last(&self) -> StreamId {
        self.last
    }

    /// Bytes used, roughly (MEMORY USAGE).
    pub fn bytes(&self) -> usize {
        self.data.capacity() + self.master.iter().map(|f| f.len() + 16).sum::<usize>() + 64
    }

    /// Gives back spare capacity once no more entries will be appended (a newer block took
    /// over as the stream's tail).
    pub fn seal(&mut self) {
        self.data.shrink_to_fit();
    }

    /// Appends an entry; `id` must be above every ID in the block.
    pub fn push(&mut self, id: StreamId, fields: &[(Bytes, Bytes)]) {
        let ms_delta = id.ms - self.base.ms;
        write_varint(&mut self.data, ms_delta);
        write_varint(&mut self.data, if ms_delta == 0 { id.seq - self.base.seq } else { id.seq });
        let same = fields.len() == self.master.len() && fields.iter().zip(&self.master).all(|((f, _), m)| f == m);
        self.data.push(if same { FLAG_SAME_FIELDS } else { 0 });
        write_varint(&mut self.data, fields.len() as u64);
        for (field, value) in fields {
            if !same {
                write_bytes(&mut self.data, field);
            }
            write_bytes(&mut self.data, value);
        }
        self.last = id;
        self.live += 1;
        self.total += 1;
    }

    fn decode_at<'a>(&'a self, at: &mut usize) -> Option<Raw<'a>> {
        let data = &self.data;
        let ms_delta = read_varint(data, at)?;
        let seq = read_varint(data, at)?;
        let id = if ms_delta == 0 {
            StreamId::new(self.base.ms, self.base.seq.wrapping_add(seq))
        } else {
            StreamId::new(self.base.ms.wrapping_add(ms_delta), seq)
        };
        let flags_at = *at;
        let flags = *data.get(flags_at)?;
        *at += 1;
        let n = usize::try_from(read_varint(data, at)?).ok()?;
        let mut fields = Vec::with_capacity(n);
        for i in 0..n {
            let field: &[u8] = if flags & FLAG_SAME_FIELDS != 0 { self.master.get(i)? } else { read_bytes(data, at)? };
            let value = read_bytes(data, at)?;
            fields.push((field, value));
        }
        Some(Raw { id, flags_at, deleted: flags & FLAG_DELETED != 0, fields })
    }

    fn raws(&self) -> impl Iterator<Item = Raw<'_>> {
        let mut at = 0;
        std::iter::from_fn(move || if at < self.data.len() { self.decode_at(&mut at) } else { None })
    }

    /// The live entries with IDs in `start..=end`, in order.
    pub fn range(&self, start: StreamId, end: StreamId) -> impl Iterator<Item = StreamEntry> + '_ {
        self.raws()
            .skip_while(move |raw| raw.id < start)
            .take_while(move |raw| raw.id <= end)
            .filter(|raw| !raw.deleted)
            .map(|raw| StreamEntry {
                id: raw.id,
                fields: raw.fields.iter().map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v))).collect(),
            })
    }

    /// The live IDs in order.
    pub fn ids(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.raws().filter(|raw| !raw.deleted).map(|raw| raw.id)
    }

    /// Whether `id` is a live entry here.
    pub fn contains(&self, id: StreamId) -> bool {
        self.raws().any(|raw| raw.id == id && !raw.deleted)
    }

    /// Marks `id` deleted. Returns whether it was a live entry.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let found = self.raws().take_while(|raw| raw.id <= id).find(|raw| raw.id == id && !raw.deleted).map(|raw| raw.flags_at);
        match found.and_then(|at| self.data.get_mut(at)) {
            Some(flags) => {
                *flags |= FLAG_DELETED;
                self.live -= 1;
                true
            }
            None => false,
        }
    }

    /// Marks deleted, from the front, the live entries for which `remove` holds, stopping at
    /// the first that it does not hold for or after `max` deletions. Returns how many.
    pub fn delete_front_while(&mut self, max: u64, mut remove: impl FnMut(StreamId) -> bool) -> u64 {
        let mut marks = Vec::new();
        for raw in self.raws().filter(|raw| !raw.deleted) {
            if marks.len() as u64 >= max || !remove(raw.id) {
                break;
            }
            marks.push(raw.flags_at);
        }
        for at in &marks {
            if let Some(flags) = self.data.get_mut(*at) {
                *flags |= FLAG_DELETED;
            }
        }
        self.live -= marks.len() as u32;
        marks.len() as u64
    }
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint(data: &[u8], at: &mut usize) -> Option<u64> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *data.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte < 0x80 {
            return Some(value);
        }
        shift += 7;
    }
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn read_bytes<'a>(data: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let len = usize::try_from(read_varint(data, at)?).ok()?;
    let bytes = data.get(*at..at.checked_add(len)?)?;
    *at += len;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(Bytes, Bytes)> {
        items.iter().map(|(f, v)| (Bytes::copy_from_slice(f.as_bytes()), Bytes::copy_from_slice(v.as_bytes()))).collect()
    }

    #[test]
    fn entries_round_trip_through_the_packed_form() {
        let first = pairs(&[("f", "1"), ("g", "2")]);
        let other = pairs(&[("h", "3")]);
        let mut block = Block::new(StreamId::new(10, 5), &first);
        block.push(StreamId::new(10, 5), &first);
        block.push(StreamId::new(10, 6), &other);
        block.push(StreamId::new(u64::MAX, u64::MAX), &first);
        let all: Vec<StreamEntry> = block.range(StreamId::MIN, StreamId::MAX).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[1], StreamEntry { id: StreamId::new(10, 6), fields: other });
        assert_eq!(all[2].id, StreamId::MAX);
        assert_eq!(all[2].fields, first);
        assert!(block.delete(StreamId::new(10, 6)));
        assert!(!block.delete(StreamId::new(10, 6)));
        assert_eq!(block.ids().collect::<Vec<_>>(), vec![StreamId::new(10, 5), StreamId::MAX]);
        assert_eq!(block.delete_front_while(10, |id| id.ms == 10), 1);
        assert_eq!(block.live(), 1);
    }
}
