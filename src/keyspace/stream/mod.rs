//! Streams: an append-only log of entries with IDs, plus consumer groups.
//!
//! # Layout
//! Entries live in [`Block`]s of up to 100 entries (or about 4 KiB), each packed into one byte
//! vector: IDs are stored as deltas from the block's first ID, and the field names of the
//! block's first entry are stored once and shared by every later entry with the same fields,
//! as Redis's listpacks do (the byte format is documented in [`block`]). The blocks sit in an
//! ordered index, `BTreeMap<StreamId, Block>` keyed by each block's first ID, so a range read
//! finds its first block in O(log n) and decodes only the blocks it returns entries from;
//! nothing ever copies the whole stream. Deleting an entry flags it in place; a block whose
//! entries are all deleted leaves the index. Trims drop whole blocks, and an exact trim flags
//! the remaining surplus at the front of the first block kept.
//!
//! Beside the entries a stream keeps Redis's metadata: the last ID generated (which never goes
//! down, even when entries are deleted), the largest ID ever deleted, and how many entries were
//! ever added; consumer groups use the last two to compute their `entries-read` and `lag`.
//!
//! Groups ([`Group`]) hold their last delivered ID, the pending entries list (every delivered,
//! unacknowledged ID with its owner, delivery time and count) and their consumers, each with
//! the set of IDs it owns. Everything here is a pure data operation; commands live in
//! `crate::cmd::stream`.

pub mod block;
pub mod group;
pub mod id;

pub use block::{Block, StreamEntry};
pub use group::{Consumer, Group, Pending};
pub use id::{parse_bound, AddId, IdError, StreamId};

use bytes::Bytes;
use std::collections::BTreeMap;

/// Why XADD refused an ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddError {
    /// `ERR The ID specified in XADD is equal or smaller than the target stream top item`.
    TooSmall,
    /// `ERR The stream has exhausted the last possible ID, unable to add more items`.
    Exhausted,
}

impl AddError {
    /// Redis's error text.
    pub fn message(self) -> &'static str {
        match self {
            AddError::TooSmall => "ERR The ID specified in XADD is equal or smaller than the target stream top item",
            AddError::Exhausted => "ERR The stream has exhausted the last possible ID, unable to add more items",
        }
    }
}

/// What a trim keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimStrategy {
    /// At most this many entries (`MAXLEN`).
    MaxLen(u64),
    /// No entry below this ID (`MINID`).
    MinId(StreamId),
}

/// A trim as XADD and XTRIM ask for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trim {
    /// What to keep.
    pub strategy: TrimStrategy,
    /// `~`: only drop whole blocks.
    pub approx: bool,
    /// The most entries to remove (approximate trims only); 0 for no limit.
    pub limit: u64,
}

/// A stream value.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    blocks: BTreeMap<StreamId, Block>,
    length: u64,
    last_id: StreamId,
    max_deleted_id: StreamId,
    entries_added: u64,
    /// Consumer groups by name (ordered, as Redis's radix tree orders them).
    pub groups: BTreeMap<Bytes, Group>,
}

impl Stream {
    /// An empty stream.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// How many entries it holds (XLEN).
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether it holds no entries.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The last ID generated.
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// The largest ID ever deleted (`max-deleted-entry-id`).
    pub fn max_deleted_id(&self) -> StreamId {
        self.max_deleted_id
    }

    /// How many entries were ever added (`entries-added`).
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// How many blocks the index holds (`radix-tree-keys`).
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Approximate bytes used (MEMORY USAGE).
    pub fn memory(&self) -> usize {
        self.blocks.values().map(Block::bytes).sum::<usize>() + 128
    }

    /// The first live entry's ID, or `0-0` if the stream is empty.
    pub fn first_id(&self) -> StreamId {
        self.blocks.values().find_map(|b| b.ids().next()).unwrap_or_default()
    }

    /// The first live entry.
    pub fn first_entry(&self) -> Option<StreamEntry> {
        self.range(StreamId::MIN, StreamId::MAX, Some(1), false).into_iter().next()
    }

    /// The last live entry.
    pub fn last_entry(&self) -> Option<StreamEntry> {
        self.range(StreamId::MIN, StreamId::MAX, Some(1), true).into_iter().next()
    }

    /// The ID XADD would give, or why it cannot.
    pub fn next_id(&self, spec: AddId, now_ms: u64) -> Result<StreamId, AddError> {
        if self.last_id == StreamId::MAX {
            return Err(AddError::Exhausted);
        }
        let last = self.last_id;
        match spec {
            AddId::Auto if now_ms > last.ms => Ok(StreamId::new(now_ms, 0)),
            AddId::Auto => last.next().ok_or(AddError::Exhausted),
            AddId::AutoSeq(ms) if ms > last.ms => Ok(StreamId::new(ms, 0)),
            AddId::AutoSeq(ms) if ms == last.ms && last.seq < u64::MAX => Ok(StreamId::new(ms, last.seq + 1)),
            AddId::AutoSeq(_) => Err(AddError::TooSmall),
            AddId::Explicit(id) if id > last => Ok(id),
            AddId::Explicit(_) => Err(AddError::TooSmall),
        }
    }

    /// Appends an entry (XADD). Returns its ID.
    pub fn add(&mut self, spec: AddId, fields: &[(Bytes, Bytes)], now_ms: u64) -> Result<StreamId, AddError> {
        let id = self.next_id(spec, now_ms)?;
        let fits = self.blocks.values().next_back().is_some_and(|b| b.has_room(fields));
        if !fits {
            if let Some(tail) = self.blocks.values_mut().next_back() {
                tail.seal();
            }
            self.blocks.insert(id, Block::new(id, fields));
        }
        if let Some(block) = self.blocks.values_mut().next_back() {
            block.push(id, fields);
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        Ok(id)
    }

    /// The live entries with IDs in `start..=end`, at most `count`, newest first if `rev`.
    /// Decodes only the blocks that overlap the range.
    pub fn range(&self, start: StreamId, end: StreamId, count: Option<usize>, rev: bool) -> Vec<StreamEntry> {
        let limit = count.unwrap_or(usize::MAX);
        if start > end || limit == 0 {
            return Vec::new();
        }
        let from = self.blocks.range(..=start).next_back().map_or(start, |(k, _)| *k);
        let blocks = self.blocks.range(from..=end).map(|(_, b)| b);
        if rev {
            blocks
                .rev()
                .flat_map(|b| {
                    let mut entries: Vec<StreamEntry> = b.range(start, end).collect();
                    entries.reverse();
                    entries
                })
                .take(limit)
                .collect()
        } else {
            blocks.flat_map(|b| b.range(start, end)).take(limit).collect()
        }
    }

    /// The entry `id`, if it is live.
    pub fn get(&self, id: StreamId) -> Option<StreamEntry> {
        self.range(id, id, Some(1), false).into_iter().next()
    }

    /// Whether `id` is a live entry.
    pub fn contains(&self, id: StreamId) -> bool {
        self.blocks.range(..=id).next_back().is_some_and(|(_, b)| b.contains(id))
    }

    /// Deletes `id` (XDEL). Returns whether it was there.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&key, block)) = self.blocks.range_mut(..=id).next_back() else { return false };
        if !block.delete(id) {
            return false;
        }
        if block.live() == 0 {
            self.blocks.remove(&key);
        }
        self.length -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        true
    }

    /// Trims as XADD/XTRIM ask. Returns how many entries were removed.
    pub fn trim(&mut self, trim: Trim) -> u64 {
        let mut removed = 0u64;
        while let Some((&key, block)) = self.blocks.iter_mut().next() {
            let live = u64::from(block.live());
            let whole = match trim.strategy {
                TrimStrategy::MaxLen(max) => {
                    if self.length <= max {
                        break;
                    }
                    self.length - live >= max
                }
                TrimStrategy::MinId(min) => {
                    if block.ids().next().is_none_or(|first| first >= min) {
                        break;
                    }
                    block.last() < min
                }
            };
            if trim.limit != 0 && removed + live > trim.limit {
                break;
            }
            if whole {
                self.blocks.remove(&key);
                self.length -= live;
                removed += live;
                continue;
            }
            if trim.approx {
                break;
            }
            let gone = match trim.strategy {
                TrimStrategy::MaxLen(max) => block.delete_front_while(self.length - max, |_| true),
                TrimStrategy::MinId(min) => block.delete_front_while(u64::MAX, |id| id < min),
            };
            self.length -= gone;
            removed += gone;
            if block.live() == 0 {
                self.blocks.remove(&key);
            }
            break;
        }
        removed
    }

    /// Sets the stream's metadata (XSETID). Checks are the caller's (see `cmd::stream`).
    pub fn set_id(&mut self, last_id: StreamId, entries_added: Option<u64>, max_deleted_id: Option<StreamId>) {
        self.last_id = last_id;
        if let Some(added) = entries_added {
            self.entries_added = added;
        }
        if let Some(max) = max_deleted_id {
            self.max_deleted_id = max;
        }
    }

    /// Whether an ID in `start..` (or `start..=end`) may have been deleted, which makes a
    /// group's `entries-read` counter unreliable there.
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id() > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// How many entries were added up to and including `id`, when that can be known.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if !id.is_zero() && id < self.max_deleted_id {
            // Deleted entries lie between `id` and the end: the count is unknown.
            return None;
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        let first = self.first_id();
        if self.max_deleted_id.is_zero() || self.max_deleted_id < first {
            if id < first {
                return Some(self.entries_added - self.length);
            }
            if id == first {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// A group's lag: entries added but not yet read by it, when that can be known.
    /// Like Redis, it goes negative when XSETID lowered `entries-added` below what the group
    /// has read.
    pub fn group_lag(&self, group: &Group) -> Option<i64> {
        if self.entries_added == 0 || self.length == 0 {
            return Some(0);
        }
        let first = self.first_id();
        if group.last_id < first && self.max_deleted_id < first {
            // Every entry left is ahead of the group.
            return Some(as_i64(self.length));
        }
        if let Some(read) = group.entries_read {
            if !self.range_has_tombstones(group.last_id, StreamId::MAX) {
                return Some(as_i64(self.entries_added).wrapping_sub(as_i64(read)));
            }
        }
        self.estimate_entries_read(group.last_id).map(|read| as_i64(self.entries_added).wrapping_sub(as_i64(read)))
    }

    /// Delivers to `consumer` of `group` up to `count` entries after the group's last ID
    /// (XREADGROUP `>`), advancing the group and, unless `noack`, adding them to its PEL.
    /// `None` if there is no such group.
    pub fn read_group_new(&mut self, group: &[u8], consumer: &Bytes, count: Option<usize>, noack: bool, now_ms: u64) -> Option<Vec<StreamEntry>> {
        let start = self.groups.get(group)?.last_id.next();
        let entries = match start {
            Some(start) => self.range(start, StreamId::MAX, count, false),
            None => Vec::new(),
        };
        // Whether the group's counter can simply count on, judged from the ID the group was at
        // before each entry (Redis 7.4's rule), and the estimate otherwise. Both depend only on
        // the stream, so they are computed before the group is borrowed.
        let first = self.first_id();
        let mut before = self.groups.get(group)?.last_id;
        let mut known: Vec<(bool, Option<u64>)> = Vec::with_capacity(entries.len());
        for e in &entries {
            let countable = before >= first && !self.range_has_tombstones(before, StreamId::MAX);
            known.push((countable, self.estimate_entries_read(e.id)));
            before = e.id;
        }
        let g = self.groups.get_mut(group)?;
        for (entry, (countable, estimate)) in entries.iter().zip(known) {
            g.entries_read = match g.entries_read {
                Some(n) if countable => Some(n + 1),
                _ => estimate,
            };
            g.last_id = entry.id;
            if !noack {
                g.deliver(entry.id, consumer, now_ms);
            }
        }
        // Only deliveries that create pending entries make the consumer active (Redis).
        if !entries.is_empty() && !noack {
            if let Some(c) = g.consumers.get_mut(consumer) {
                c.active_ms = Some(now_ms);
            }
        }
        Some(entries)
    }

    /// Re-delivers `consumer`'s pending entries after `after` (XREADGROUP with an ID): each
    /// with its fields, or `None` if it was deleted since. Counts a delivery for live ones.
    pub fn read_group_history(&mut self, group: &[u8], consumer: &Bytes, after: StreamId, count: Option<usize>, now_ms: u64) -> Option<Vec<(StreamId, Option<StreamEntry>)>> {
        let limit = count.unwrap_or(usize::MAX);
        let ids: Vec<StreamId> = match (self.groups.get(group)?.consumers.get(consumer), after.next()) {
            (Some(c), Some(start)) => c.pel.range(start..).take(limit).copied().collect(),
            _ => Vec::new(),
        };
        let entries: Vec<(StreamId, Option<StreamEntry>)> = ids.iter().map(|id| (*id, self.get(*id))).collect();
        let g = self.groups.get_mut(group)?;
        for (id, entry) in &entries {
            if entry.is_some() {
                if let Some(p) = g.pel.get_mut(id) {
                    p.delivery_ms = now_ms;
                    p.delivery_count += 1;
                }
            }
        }
        Some(entries)
    }
}

/// A counter as Redis's signed `long long`.
fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn fields() -> Vec<(Bytes, Bytes)> {
        vec![(Bytes::from_static(b"f"), Bytes::from_static(b"v"))]
    }

    fn filled(n: u64) -> Stream {
        let mut s = Stream::new();
        for i in 1..=n {
            s.add(AddId::Explicit(StreamId::new(i, 0)), &fields(), 0).unwrap();
        }
        s
    }

    #[test]
    fn ranges_cross_block_boundaries_in_both_directions() {
        let s = filled(450);
        assert_eq!(s.block_count(), 5);
        let r = s.range(StreamId::new(95, 0), StreamId::new(205, 0), None, false);
        assert_eq!(r.len(), 111);
        assert_eq!(r[0].id, StreamId::new(95, 0));
        let r = s.range(StreamId::new(95, 0), StreamId::new(205, 0), Some(3), true);
        assert_eq!(r.iter().map(|e| e.id.ms).collect::<Vec<_>>(), vec![205, 204, 203]);
    }

    #[test]
    fn approximate_trims_drop_only_whole_blocks() {
        let mut s = filled(450);
        let removed = s.trim(Trim { strategy: TrimStrategy::MaxLen(120), approx: true, limit: 0 });
        assert_eq!(removed, 300);
        assert_eq!(s.len(), 150);
        let removed = s.trim(Trim { strategy: TrimStrategy::MaxLen(120), approx: false, limit: 0 });
        assert_eq!(removed, 30);
        assert_eq!(s.first_id(), StreamId::new(331, 0));
        let removed = s.trim(Trim { strategy: TrimStrategy::MinId(StreamId::new(401, 0)), approx: false, limit: 0 });
        assert_eq!(removed, 70);
        assert_eq!(s.first_id(), StreamId::new(401, 0));
    }

    #[test]
    fn deleting_every_entry_of_a_block_drops_it() {
        let mut s = filled(3);
        for i in 1..=3 {
            assert!(s.delete(StreamId::new(i, 0)));
        }
        assert_eq!(s.block_count(), 0);
        assert_eq!(s.max_deleted_id(), StreamId::new(3, 0));
        assert_eq!(s.next_id(AddId::Explicit(StreamId::new(3, 0)), 0), Err(AddError::TooSmall));
    }
}

#[cfg(test)]
mod model_tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    //! The block store against a plain ordered map of the same entries.
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Add { gap_ms: u64, seq: u64, fields: u8 },
        Delete(usize),
        TrimLen { max: u64, approx: bool },
        TrimMin(usize),
        Range { from: usize, to: usize, count: usize, rev: bool },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0u64..3, 0u64..3, 0u8..3).prop_map(|(gap_ms, seq, fields)| Op::Add { gap_ms, seq, fields }),
            2 => (0usize..400).prop_map(Op::Delete),
            1 => (0u64..300, any::<bool>()).prop_map(|(max, approx)| Op::TrimLen { max, approx }),
            1 => (0usize..400).prop_map(Op::TrimMin),
            2 => (0usize..400, 0usize..400, 0usize..30, any::<bool>()).prop_map(|(from, to, count, rev)| Op::Range { from, to, count, rev }),
        ]
    }

    fn fields_for(kind: u8, n: u64) -> Vec<(Bytes, Bytes)> {
        let value = Bytes::from(n.to_string());
        match kind {
            0 => vec![(Bytes::from_static(b"f"), value)],
            1 => vec![(Bytes::from_static(b"f"), value.clone()), (Bytes::from_static(b"g"), value)],
            _ => vec![(Bytes::from_static(b"other"), value)],
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn the_block_store_behaves_like_an_ordered_map(ops in proptest::collection::vec(op(), 1..400)) {
            let mut stream = Stream::new();
            let mut model: BTreeMap<StreamId, Vec<(Bytes, Bytes)>> = BTreeMap::new();
            let mut last = StreamId::MIN;
            let mut n = 0u64;
            let pick = |model: &BTreeMap<StreamId, Vec<(Bytes, Bytes)>>, i: usize| model.keys().nth(i % model.len().max(1)).copied();
            for op in ops {
                match op {
                    Op::Add { gap_ms, seq, fields } => {
                        n += 1;
                        let id = StreamId::new(last.ms + gap_ms, if gap_ms == 0 { last.seq + 1 + seq } else { seq });
                        let f = fields_for(fields, n);
                        prop_assert_eq!(stream.add(AddId::Explicit(id), &f, 0), Ok(id));
                        model.insert(id, f);
                        last = id;
                    }
                    Op::Delete(i) => {
                        let id = pick(&model, i).unwrap_or(StreamId::new(1, 1));
                        prop_assert_eq!(stream.delete(id), model.remove(&id).is_some());
                    }
                    Op::TrimLen { max, approx } => {
                        let removed = stream.trim(Trim { strategy: TrimStrategy::MaxLen(max), approx, limit: 0 });
                        for _ in 0..removed {
                            model.pop_first();
                        }
                        if !approx {
                            prop_assert!(model.len() as u64 <= max);
                        }
                    }
                    Op::TrimMin(i) => {
                        let min = pick(&model, i).unwrap_or_default();
                        let removed = stream.trim(Trim { strategy: TrimStrategy::MinId(min), approx: false, limit: 0 });
                        let before = model.len();
                        model.retain(|id, _| *id >= min);
                        prop_assert_eq!(removed as usize, before - model.len());
                    }
                    Op::Range { from, to, count, rev } => {
                        let start = pick(&model, from).unwrap_or_default();
                        let end = pick(&model, to).unwrap_or(StreamId::MAX);
                        let got = stream.range(start, end, Some(count), rev);
                        let mut want: Vec<StreamEntry> = if start <= end {
                            model.range(start..=end).map(|(id, f)| StreamEntry { id: *id, fields: f.clone() }).collect()
                        } else {
                            Vec::new()
                        };
                        if rev {
                            want.reverse();
                        }
                        want.truncate(count);
                        prop_assert_eq!(got, want);
                    }
                }
                prop_assert_eq!(stream.len(), model.len() as u64);
                prop_assert_eq!(stream.first_id(), model.keys().next().copied().unwrap_or_default());
                prop_assert_eq!(stream.last_entry().map(|e| e.id), model.keys().next_back().copied());
            }
        }
    }
}
