//! The list value: a deque of byte strings packed into chunks.
//!
//! # Layout
//! A [`List`] is a `VecDeque` of [`Chunk`]s, like Redis's quicklist of listpacks. Each chunk is
//! one `Vec<u8>` holding up to [`CHUNK_BYTES`] bytes of entries back to back:
//!
//! ```text
//! entry = varint(len) | bytes[len] | reverse-varint(len)
//! ```
//!
//! `varint` is LEB128 (7 bits per byte, high bit = more follows); the trailing length is the same
//! varint with its bytes reversed, so the entry can be found walking backwards from its end. A
//! chunk's live entries occupy `data[head..]`: popping from the front only advances `head`,
//! pushing to the front writes into the room before `head` (grown by doubling, so repeated
//! `LPUSH` is amortised O(1)), and pushing or popping at the back is a `Vec` push or truncate.
//!
//! # Why
//! Queues hold millions of small jobs. One heap object per element (a `VecDeque<Bytes>`) costs
//! 32 bytes of handle plus an allocation (16+ bytes of allocator overhead) per element: ~60
//! bytes to store a 10-byte job. Packed, the same element costs its length plus 2 bytes, and
//! the per-chunk overhead (a 40-byte header per ~8 KiB) is negligible. Both ends stay O(1),
//! which is what `LPUSH`/`BRPOP` and `RPUSH`/`BLPOP` queues need; operations in the middle
//! (`LSET`, `LINSERT`, `LREM`) rewrite one chunk, as Redis does with a listpack node.
//!
//! [`List::encoding`] reports what Redis 7.4 would: `listpack` while the whole list would fit
//! one 8 KiB listpack (Redis's `list-max-listpack-size -2`), `quicklist` once it outgrew that,
//! and back to `listpack` when it shrinks under half the limit (Redis's hysteresis). To do so
//! the list keeps the size Redis's listpack encoding would give its elements.

use super::varint::{read_varint, write_varint};
use bytes::Bytes;
use std::collections::VecDeque;

/// Most entry bytes one chunk holds before a new chunk is started (Redis's 8 KiB node).
pub const CHUNK_BYTES: usize = 8 * 1024;

/// Redis's listpack size limit for `list-max-listpack-size -2`.
const LISTPACK_LIMIT: usize = 8 * 1024;

/// Bytes of a listpack's header (total bytes + count) and end marker.
const LISTPACK_OVERHEAD: usize = 7;

/// Which end of a list an operation works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The head (`LEFT`, index 0).
    Left,
    /// The tail (`RIGHT`, index -1).
    Right,
}

impl End {
    /// The opposite end.
    pub fn other(self) -> End {
        match self {
            End::Left => End::Right,
            End::Right => End::Left,
        }
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn write_entry(out: &mut Vec<u8>, value: &[u8]) {
    write_varint(out, value.len());
    out.extend_from_slice(value);
    let mark = out.len();
    write_varint(out, value.len());
    if let Some(tail) = out.get_mut(mark..) {
        tail.reverse();
    }
}

fn entry_len(value_len: usize) -> usize {
    2 * varint_len(value_len) + value_len
}

/// Reads the reversed varint that ends just before `end`; returns (value, bytes used).
fn read_backlen(data: &[u8], end: usize) -> Option<(usize, usize)> {
    let mut value = 0usize;
    let mut shift = 0;
    let mut used = 0;
    loop {
        used += 1;
        let byte = *data.get(end.checked_sub(used)?)?;
        value |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((value, used));
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// The bytes Redis's listpack spends on `value` (encoding, data and back-length), so that
/// [`List::encoding`] switches where Redis does.
fn listpack_entry_size(value: &[u8]) -> usize {
    let body = match crate::resp::parse_i64(value) {
        Some(n) if value.len() <= 20 => {
            if (0..=127).contains(&n) {
                1
            } else if (-4096..4096).contains(&n) {
                2
            } else if (-32768..32768).contains(&n) {
                3
            } else if (-8_388_608..8_388_608).contains(&n) {
                4
            } else if (-2_147_483_648..2_147_483_648).contains(&n) {
                5
            } else {
                9
            }
        }
        _ => {
            let len = value.len();
            if len < 64 {
                1 + len
            } else if len < 4096 {
                2 + len
            } else {
                5 + len
            }
        }
    };
    let backlen = match body {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    body + backlen
}

/// One packed run of entries (see the module docs).
#[derive(Debug, Clone, Default)]
struct Chunk {
    /// Entries live in `data[head..]`.
    data: Vec<u8>,
    head: usize,
    count: usize,
}

impl Chunk {
    fn live_bytes(&self) -> usize {
        self.data.len() - self.head
    }

    fn from_values<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Chunk {
        let mut chunk = Chunk::default();
        for value in values {
            write_entry(&mut chunk.data, value);
            chunk.count += 1;
        }
        chunk.data.shrink_to_fit();
        chunk
    }

    fn push_back(&mut self, value: &[u8]) {
        write_entry(&mut self.data, value);
        self.count += 1;
    }

    fn push_front(&mut self, value: &[u8]) {
        let need = entry_len(value.len());
        if self.head < need {
            // Make room before the entries: at least as much again as is live, so a run of
            // front pushes moves the bytes O(log n) times.
            let live = self.live_bytes();
            let room = need.max(live).max(64);
            let mut data = Vec::with_capacity(room + live);
            data.resize(room, 0);
            data.extend_from_slice(self.data.get(self.head..).unwrap_or_default());
            self.data = data;
            self.head = room;
        }
        let start = self.head - need;
        let mut entry = Vec::with_capacity(need);
        write_entry(&mut entry, value);
        if let Some(slot) = self.data.get_mut(start..self.head) {
            slot.copy_from_slice(&entry);
        }
        self.head = start;
        self.count += 1;
    }

    fn pop_front(&mut self) -> Option<Bytes> {
        let (len, used) = read_varint(&self.data, self.head)?;
        let start = self.head + used;
        let value = Bytes::copy_from_slice(self.data.get(start..start + len)?);
        self.head = start + len + varint_len(len);
        self.count -= 1;
        if self.count == 0 {
            self.data.clear();
            self.head = 0;
        }
        Some(value)
    }

    fn pop_back(&mut self) -> Option<Bytes> {
        let end = self.data.len();
        let (len, used) = read_backlen(&self.data, end)?;
        let stop = end - used;
        let start = stop.checked_sub(len)?;
        let value = Bytes::copy_from_slice(self.data.get(start..stop)?);
        self.data.truncate(start - varint_len(len));
        self.count -= 1;
        if self.count == 0 {
            self.data.clear();
            self.head = 0;
        }
        Some(value)
    }

    fn iter(&self) -> ChunkIter<'_> {
        ChunkIter { data: &self.data, front: self.head, back: self.data.len(), left: self.count }
    }
}

/// The entries of one chunk, from either end.
struct ChunkIter<'a> {
    data: &'a [u8],
    front: usize,
    back: usize,
    left: usize,
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (len, used) = read_varint(self.data, self.front)?;
        let start = self.front + used;
        let value = self.data.get(start..start + len)?;
        self.front = start + len + varint_len(len);
        self.left -= 1;
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for ChunkIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let (len, used) = read_backlen(self.data, self.back)?;
        let stop = self.back - used;
        let start = stop.checked_sub(len)?;
        let value = self.data.get(start..stop)?;
        self.back = start.checked_sub(varint_len(len))?;
        self.left -= 1;
        Some(value)
    }
}

impl ExactSizeIterator for ChunkIter<'_> {}

/// A list value (see the module docs for its layout).
#[derive(Debug, Clone, Default)]
pub struct List {
    chunks: VecDeque<Chunk>,
    len: usize,
    /// What Redis's listpack would spend on the entries (for [`List::encoding`]).
    listpack_bytes: usize,
    /// Whether Redis would have converted this list to a quicklist by now.
    quicklist: bool,
}

impl List {
    /// An empty list.
    pub fn new() -> List {
        List::default()
    }

    /// How many elements the list holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty (an empty list is deleted from the keyspace).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The name `OBJECT ENCODING` reports, as Redis 7.4 would for this list's history.
    pub fn encoding(&self) -> &'static str {
        if self.quicklist {
            "quicklist"
        } else {
            "listpack"
        }
    }

    /// Bytes of element storage held, for memory reports.
    pub fn allocated_bytes(&self) -> usize {
        self.chunks.iter().map(|c| c.data.capacity() + std::mem::size_of::<Chunk>()).sum()
    }

    fn grew(&mut self, value: &[u8]) {
        self.len += 1;
        self.listpack_bytes += listpack_entry_size(value);
        if !self.quicklist && self.listpack_bytes + LISTPACK_OVERHEAD > LISTPACK_LIMIT {
            self.quicklist = true;
        }
    }

    fn shrank(&mut self, value: &[u8]) {
        self.len -= 1;
        self.listpack_bytes = self.listpack_bytes.saturating_sub(listpack_entry_size(value));
    }

    /// Redis re-checks after removals whether the list fits half a listpack again.
    fn maybe_shrink_encoding(&mut self) {
        if self.quicklist && self.listpack_bytes + LISTPACK_OVERHEAD <= LISTPACK_LIMIT / 2 {
            self.quicklist = false;
        }
    }

    /// Adds `value` at `end`.
    pub fn push(&mut self, end: End, value: &[u8]) {
        let need = entry_len(value.len());
        match end {
            End::Right => match self.chunks.back_mut() {
                Some(chunk) if chunk.live_bytes() + need <= CHUNK_BYTES || chunk.count == 0 => chunk.push_back(value),
                _ => {
                    let mut chunk = Chunk::default();
                    chunk.data.reserve(need.max(256));
                    chunk.push_back(value);
                    self.chunks.push_back(chunk);
                }
            },
            End::Left => match self.chunks.front_mut() {
                Some(chunk) if chunk.live_bytes() + need <= CHUNK_BYTES || chunk.count == 0 => chunk.push_front(value),
                _ => {
                    let mut chunk = Chunk::default();
                    chunk.push_front(value);
                    self.chunks.push_front(chunk);
                }
            },
        }
        self.grew(value);
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        let value = match end {
            End::Left => {
                let chunk = self.chunks.front_mut()?;
                let value = chunk.pop_front()?;
                if chunk.count == 0 {
                    self.chunks.pop_front();
                }
                value
            }
            End::Right => {
                let chunk = self.chunks.back_mut()?;
                let value = chunk.pop_back()?;
                if chunk.count == 0 {
                    self.chunks.pop_back();
                }
                value
            }
        };
        self.shrank(&value);
        self.maybe_shrink_encoding();
        Some(value)
    }

    /// Removes up to `count` elements from `end`, in pop order.
    pub fn pop_many(&mut self, end: End, count: usize) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(count.min(self.len));
        while out.len() < count {
            match self.pop(end) {
                Some(value) => out.push(value),
                None => break,
            }
        }
        out
    }

    /// Every element from head to tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.chunks.iter().flat_map(Chunk::iter)
    }

    /// Resolves a Redis index (negative counts from the tail) to a position.
    pub fn resolve_index(&self, index: i64) -> Option<usize> {
        let len = i64::try_from(self.len).ok()?;
        let index = if index < 0 { len.checked_add(index)? } else { index };
        if (0..len).contains(&index) {
            usize::try_from(index).ok()
        } else {
            None
        }
    }

    /// Which chunk holds position `pos`, and the position within it.
    fn locate(&self, pos: usize) -> Option<(usize, usize)> {
        if pos >= self.len {
            return None;
        }
        if pos >= self.len / 2 {
            // Walk from the tail for positions in the second half.
            let mut from_end = self.len - pos;
            for (i, chunk) in self.chunks.iter().enumerate().rev() {
                if from_end <= chunk.count {
                    return Some((i, chunk.count - from_end));
                }
                from_end -= chunk.count;
            }
            return None;
        }
        let mut pos = pos;
        for (i, chunk) in self.chunks.iter().enumerate() {
            if pos < chunk.count {
                return Some((i, pos));
            }
            pos -= chunk.count;
        }
        None
    }

    /// The element at position `pos` (0-based from the head).
    pub fn get(&self, pos: usize) -> Option<Bytes> {
        let (chunk, offset) = self.locate(pos)?;
        let chunk = self.chunks.get(chunk)?;
        let value = if offset > chunk.count / 2 {
            chunk.iter().nth_back(chunk.count - 1 - offset)?
        } else {
            chunk.iter().nth(offset)?
        };
        Some(Bytes::copy_from_slice(value))
    }

    /// Rewrites chunk `index` from `values`, splitting it if it outgrew [`CHUNK_BYTES`].
    fn replace_chunk(&mut self, index: usize, values: &[&[u8]]) {
        let mut pieces = Vec::new();
        let mut start = 0;
        let mut bytes = 0;
        for (i, value) in values.iter().enumerate() {
            let need = entry_len(value.len());
            if bytes + need > CHUNK_BYTES && i > start {
                pieces.push(Chunk::from_values(values.get(start..i).unwrap_or_default().iter().copied()));
                start = i;
                bytes = 0;
            }
            bytes += need;
        }
        if start < values.len() {
            pieces.push(Chunk::from_values(values.get(start..).unwrap_or_default().iter().copied()));
        }
        self.chunks.remove(index);
        for (offset, piece) in pieces.into_iter().enumerate() {
            self.chunks.insert(index + offset, piece);
        }
    }

    /// Replaces the element at `pos`. Returns false if `pos` is out of range.
    pub fn set(&mut self, pos: usize, value: &[u8]) -> bool {
        let Some((index, offset)) = self.locate(pos) else { return false };
        let Some(chunk) = self.chunks.get(index).cloned() else { return false };
        let mut values: Vec<&[u8]> = chunk.iter().collect();
        let Some(slot) = values.get_mut(offset) else { return false };
        let old = std::mem::replace(slot, value);
        let old_size = listpack_entry_size(old);
        self.replace_chunk(index, &values);
        self.listpack_bytes = self.listpack_bytes.saturating_sub(old_size) + listpack_entry_size(value);
        if !self.quicklist && self.listpack_bytes + LISTPACK_OVERHEAD > LISTPACK_LIMIT {
            self.quicklist = true;
        }
        self.maybe_shrink_encoding();
        true
    }

    /// Inserts `value` before (`after` false) or after the first element equal to `pivot`.
    /// Returns false if there is no such element.
    pub fn insert(&mut self, pivot: &[u8], value: &[u8], after: bool) -> bool {
        let found = self.chunks.iter().enumerate().find_map(|(i, chunk)| chunk.iter().position(|v| v == pivot).map(|p| (i, p)));
        let Some((index, offset)) = found else { return false };
        let Some(chunk) = self.chunks.get(index).cloned() else { return false };
        let mut values: Vec<&[u8]> = chunk.iter().collect();
        values.insert(if after { offset + 1 } else { offset }, value);
        self.replace_chunk(index, &values);
        self.grew(value);
        true
    }

    /// Removes elements equal to `value`: the first `count` from the head if `count > 0`, the
    /// last `-count` from the tail if negative, all if 0. Returns how many it removed.
    pub fn remove(&mut self, value: &[u8], count: i64) -> usize {
        let limit = if count == 0 { usize::MAX } else { usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX) };
        let from_tail = count < 0;
        let mut removed = 0;
        let order: Vec<usize> = if from_tail { (0..self.chunks.len()).rev().collect() } else { (0..self.chunks.len()).collect() };
        let mut emptied = Vec::new();
        for index in order {
            if removed >= limit {
                break;
            }
            let Some(chunk) = self.chunks.get(index) else { continue };
            if !chunk.iter().any(|v| v == value) {
                continue;
            }
            let mut values: Vec<&[u8]> = chunk.iter().collect();
            let mut hits = 0;
            if from_tail {
                let mut i = values.len();
                while i > 0 && removed + hits < limit {
                    i -= 1;
                    if values.get(i) == Some(&value) {
                        values.remove(i);
                        hits += 1;
                    }
                }
            } else {
                let mut i = 0;
                while i < values.len() && removed + hits < limit {
                    if values.get(i) == Some(&value) {
                        values.remove(i);
                        hits += 1;
                    } else {
                        i += 1;
                    }
                }
            }
            let rebuilt = Chunk::from_values(values.iter().copied());
            if rebuilt.count == 0 {
                emptied.push(index);
            }
            if let Some(slot) = self.chunks.get_mut(index) {
                *slot = rebuilt;
            }
            removed += hits;
        }
        emptied.sort_unstable();
        for index in emptied.into_iter().rev() {
            self.chunks.remove(index);
        }
        self.len -= removed;
        self.listpack_bytes = self.listpack_bytes.saturating_sub(removed * listpack_entry_size(value));
        self.maybe_shrink_encoding();
        removed
    }

    /// Keeps only positions `start..=stop` (already clamped by the caller; `None` empties it).
    pub fn trim(&mut self, keep: Option<(usize, usize)>) {
        let (start, stop) = match keep {
            Some((start, stop)) if start <= stop && start < self.len => (start, stop.min(self.len - 1)),
            _ => {
                *self = List { quicklist: self.quicklist, ..List::default() };
                return;
            }
        };
        let drop_tail = self.len - 1 - stop;
        for _ in 0..start {
            self.drop_one(End::Left);
        }
        for _ in 0..drop_tail {
            self.drop_one(End::Right);
        }
        self.maybe_shrink_encoding();
    }

    fn drop_one(&mut self, end: End) {
        let value = match end {
            End::Left => self.chunks.front_mut().and_then(Chunk::pop_front),
            End::Right => self.chunks.back_mut().and_then(Chunk::pop_back),
        };
        let empty = match end {
            End::Left => self.chunks.front().is_some_and(|c| c.count == 0),
            End::Right => self.chunks.back().is_some_and(|c| c.count == 0),
        };
        if empty {
            match end {
                End::Left => self.chunks.pop_front(),
                End::Right => self.chunks.pop_back(),
            };
        }
        if let Some(value) = value {
            self.shrank(&value);
        }
    }

    /// The elements at positions `start..=stop` (clamped), head to tail, borrowed.
    pub fn range_iter(&self, start: usize, stop: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let located = if start < self.len && start <= stop { self.locate(start) } else { None };
        let wanted = match located {
            Some(_) => stop.min(self.len.saturating_sub(1)) - start + 1,
            None => 0,
        };
        let (first, offset) = located.unwrap_or((0, 0));
        self.chunks.iter().skip(first).flat_map(Chunk::iter).skip(offset).take(wanted)
    }

    /// The elements at positions `start..=stop` (clamped), head to tail.
    pub fn range(&self, start: usize, stop: usize) -> Vec<Bytes> {
        if start >= self.len || start > stop {
            return Vec::new();
        }
        let stop = stop.min(self.len - 1);
        let Some((first, offset)) = self.locate(start) else { return Vec::new() };
        let mut out = Vec::with_capacity(stop - start + 1);
        let wanted = stop - start + 1;
        for (i, chunk) in self.chunks.iter().enumerate().skip(first) {
            let skip = if i == first { offset } else { 0 };
            for value in chunk.iter().skip(skip) {
                if out.len() == wanted {
                    return out;
                }
                out.push(Bytes::copy_from_slice(value));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::VecDeque as Model;

    fn collect(list: &List) -> Vec<Vec<u8>> {
        list.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn pushes_and_pops_at_both_ends_match_a_deque_across_many_chunks() {
        let mut list = List::new();
        let mut model: Model<Vec<u8>> = Model::new();
        for i in 0..20_000u32 {
            let value = format!("v{i}").repeat((i % 7) as usize + 1).into_bytes();
            match i % 5 {
                0 | 1 => {
                    list.push(End::Right, &value);
                    model.push_back(value);
                }
                2 | 3 => {
                    list.push(End::Left, &value);
                    model.push_front(value);
                }
                _ => {
                    let end = if i % 2 == 0 { End::Left } else { End::Right };
                    let got = list.pop(end).map(|b| b.to_vec());
                    let want = if end == End::Left { model.pop_front() } else { model.pop_back() };
                    assert_eq!(got, want);
                }
            }
        }
        assert!(list.chunks.len() > 5);
        assert_eq!(list.len(), model.len());
        assert_eq!(collect(&list), model.iter().cloned().collect::<Vec<_>>());
        let back: Vec<Vec<u8>> = list.iter().rev().map(<[u8]>::to_vec).collect();
        assert_eq!(back, model.iter().rev().cloned().collect::<Vec<_>>());
        for pos in [0, 1, 777, model.len() / 2, model.len() - 1] {
            assert_eq!(list.get(pos).unwrap().to_vec(), model[pos]);
        }
        assert_eq!(list.range(100, 250).iter().map(|b| b.to_vec()).collect::<Vec<_>>(), model.range(100..=250).cloned().collect::<Vec<_>>());
        let tail_start = model.len() - 3;
        assert_eq!(list.range_iter(tail_start, usize::MAX).map(<[u8]>::to_vec).collect::<Vec<_>>(), model.range(tail_start..).cloned().collect::<Vec<_>>());
        assert_eq!(list.range_iter(model.len(), model.len() + 5).count(), 0);
    }

    #[test]
    fn middle_edits_keep_order_and_split_full_chunks() {
        let mut list = List::new();
        for i in 0..3000 {
            list.push(End::Right, format!("{}", i % 10).as_bytes());
        }
        assert!(list.set(1500, b"x"));
        assert_eq!(list.get(1500).unwrap().as_ref(), b"x");
        for _ in 0..2000 {
            assert!(list.insert(b"x", b"y", true));
        }
        assert_eq!(list.len(), 5000);
        assert_eq!(list.remove(b"y", -3), 3);
        assert_eq!(list.remove(b"y", 0), 1997);
        assert_eq!(list.remove(b"7", 2), 2);
        assert_eq!(list.len(), 2998);
        assert_eq!(list.iter().count(), 2998);
        list.trim(Some((10, 19)));
        assert_eq!(list.len(), 10);
        assert_eq!(list.range(0, 100).len(), 10);
    }

    #[test]
    fn encoding_follows_redis_listpack_limit_with_hysteresis() {
        let mut list = List::new();
        let value = [b'a'; 100];
        for _ in 0..79 {
            list.push(End::Right, &value);
        }
        assert_eq!(list.encoding(), "listpack");
        list.push(End::Right, &value);
        assert_eq!(list.encoding(), "quicklist");
        for _ in 0..30 {
            list.pop(End::Left);
        }
        assert_eq!(list.encoding(), "quicklist");
        for _ in 0..20 {
            list.pop(End::Left);
        }
        assert_eq!(list.encoding(), "listpack");
    }

    #[test]
    fn long_elements_use_multi_byte_lengths() {
        let mut list = List::new();
        let big = vec![7u8; 20_000];
        list.push(End::Left, b"small");
        list.push(End::Left, &big);
        list.push(End::Right, &big);
        assert_eq!(list.pop(End::Right).unwrap().len(), 20_000);
        assert_eq!(list.pop(End::Left).unwrap().len(), 20_000);
        assert_eq!(list.pop(End::Left).unwrap().as_ref(), b"small");
        assert!(list.is_empty());
    }
}
