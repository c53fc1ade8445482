//! The keyspace index: an open-addressing hash table kept in hash order.
//!
//! The keyspace needs three things of its index: O(1) point lookups, iteration in hash order
//! from any position (so a `SCAN` cursor is simply "the next hash", and a key present for a
//! whole scan is never missed however the table grows), and a compact slot per key.
//!
//! # Layout
//! - **Slots**: a `Vec` of 8-byte slots `(fragment, node)`, linear probing with a home slot
//!   taken from the top `bits` of the 64-bit key hash. `fragment` is the hash's top 32 bits
//!   and `node` the index of the entry in the node arena (`u32::MAX` marks an empty slot).
//! - **Ordered linear probing** (Amble & Knuth; the same invariant as Robin Hood hashing with
//!   ties broken by hash): occupied slots are sorted by fragment, and every entry sits at or
//!   after its home slot with no empty slot in between. Insertion puts the new slot where its
//!   fragment sorts and shifts the rest of that run right by one; deletion shifts the following
//!   displaced slots back by one (backward-shift deletion, no tombstones). A lookup stops at an
//!   empty slot or at the first larger fragment, so a miss costs about what a hit does.
//! - Because homes are monotonic in the fragment, **iterating the slots in index order is
//!   iterating the hashes in order**, and doubling the slot count (one more bit of home) keeps
//!   that order: growth rebuilds the slots in one sequential pass, and a cursor taken before
//!   the growth means the same thing after it. There is no wrap-around: a run that reaches the
//!   end of the slots extends the `Vec` by a slot instead (rare; the next doubling absorbs it).
//! - **Nodes**: the entries themselves live in an arena of fixed chunks (`CHUNK` nodes each,
//!   so growing never copies or doubles them), with a free list of holes left by removals.
//!   Slots move during insertion and deletion; nodes never do.
//!
//! Positions: a SCAN position is a 64-bit value whose top 32 bits are a fragment; entries
//! with the same fragment (n²/2^33 pairs among n keys: ~116 among 1,000,000) form one group that a page never splits ([`OrderedTable::scan`]).
//!
//! # Why (numbers in BENCHMARKS.md, "Memory per key")
//! The previous index (a `Vec` of small `BTreeMap<u64, Bucket>` segments, ~8 entries each)
//! stored each 112-byte bucket inline in B-tree leaves of 11 slots at partial fill, about
//! 190 bytes of index per key. Here a key costs 8 bytes of slot at a load of 0.44-0.875
//! (9-18 bytes) plus its node in the arena, with no per-node allocator rounding.
//! Lookups touch the slot run (one cache line, usually) and one node.

/// An empty slot's node index.
const EMPTY: u32 = u32::MAX;

/// Slot count of a new or cleared table (`1 << MIN_BITS`).
const MIN_BITS: u32 = 3;

/// Nodes per arena chunk (a power of two).
const CHUNK_BITS: u32 = 10;
const CHUNK: usize = 1 << CHUNK_BITS;

/// One slot: the hash's top 32 bits and the node's index in the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    fragment: u32,
    node: u32,
}

impl Slot {
    const VACANT: Slot = Slot { fragment: 0, node: EMPTY };

    fn is_empty(self) -> bool {
        self.node == EMPTY
    }
}

/// The SCAN position of a fragment.
fn position(fragment: u32) -> u64 {
    u64::from(fragment) << 32
}

/// The fragment of a 64-bit hash (its top 32 bits).
fn fragment(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// A multimap from 64-bit hashes to `T`, in hash order, with O(1) expected lookups.
///
/// Several values may share a hash: lookups and removals take a predicate that picks the
/// one meant (the keyspace compares key bytes).
#[derive(Debug)]
pub struct OrderedTable<T> {
    /// `1 << bits` slots, plus any that a run spilling past the end added.
    slots: Vec<Slot>,
    bits: u32,
    /// The node arena: chunks of `CHUNK` nodes; `None` marks a hole listed in `free`.
    chunks: Vec<Vec<Option<T>>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for OrderedTable<T> {
    fn default() -> Self {
        OrderedTable { slots: vec![Slot::VACANT; 1 << MIN_BITS], bits: MIN_BITS, chunks: Vec::new(), free: Vec::new(), len: 0 }
    }
}

impl<T> OrderedTable<T> {
    /// How many values the table holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table holds no value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The home slot of `fragment` at the current size.
    fn home(&self, fragment: u32) -> usize {
        (u64::from(fragment) >> (32 - self.bits)) as usize
    }

    fn node(&self, index: u32) -> Option<&T> {
        let index = index as usize;
        self.chunks.get(index >> CHUNK_BITS)?.get(index & (CHUNK - 1))?.as_ref()
    }

    fn node_slot_mut(&mut self, index: u32) -> Option<&mut Option<T>> {
        let index = index as usize;
        self.chunks.get_mut(index >> CHUNK_BITS)?.get_mut(index & (CHUNK - 1))
    }

    /// Stores `value` in the arena, returning its index.
    fn alloc(&mut self, value: T) -> u32 {
        if let Some(index) = self.free.pop() {
            if let Some(hole) = self.node_slot_mut(index) {
                *hole = Some(value);
                return index;
            }
        }
        let last = self.chunks.len().saturating_sub(1);
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => {
                chunk.push(Some(value));
                ((last << CHUNK_BITS) + chunk.len() - 1) as u32
            }
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(Some(value));
                self.chunks.push(chunk);
                ((self.chunks.len() - 1) << CHUNK_BITS) as u32
            }
        }
    }

    /// The slot index of the value at `hash` that `is` picks.
    fn find(&self, hash: u64, mut is: impl FnMut(&T) -> bool) -> Option<usize> {
        let fragment = fragment(hash);
        let mut at = self.home(fragment);
        while let Some(&slot) = self.slots.get(at) {
            if slot.is_empty() || slot.fragment > fragment {
                return None;
            }
            if slot.fragment == fragment && self.node(slot.node).is_some_and(&mut is) {
                return Some(at);
            }
            at += 1;
        }
        None
    }

    /// The value at `hash` that `is` picks.
    pub fn get(&self, hash: u64, is: impl FnMut(&T) -> bool) -> Option<&T> {
        let at = self.find(hash, is)?;
        self.node(self.slots.get(at)?.node)
    }

    /// The value at `hash` that `is` picks, mutably.
    pub fn get_mut(&mut self, hash: u64, is: impl FnMut(&T) -> bool) -> Option<&mut T> {
        let at = self.find(hash, is)?;
        let node = self.slots.get(at)?.node;
        self.node_slot_mut(node)?.as_mut()
    }

    /// Adds `value` at `hash`, after any values already there. The caller makes sure the
    /// value is not already present (the table is a multimap).
    pub fn insert(&mut self, hash: u64, value: T) {
        if (self.len + 1) * 8 > (1usize << self.bits) * 7 {
            self.grow();
        }
        let node = self.alloc(value);
        let fragment = fragment(hash);
        let mut at = self.home(fragment);
        while self.slots.get(at).is_some_and(|slot| !slot.is_empty() && slot.fragment <= fragment) {
            at += 1;
        }
        let vacant = match self.slots.get(at..).and_then(|run| run.iter().position(|slot| slot.is_empty())) {
            Some(offset) => at + offset,
            None => {
                self.slots.push(Slot::VACANT);
                self.slots.len() - 1
            }
        };
        self.slots.copy_within(at..vacant, at + 1);
        if let Some(slot) = self.slots.get_mut(at) {
            *slot = Slot { fragment, node };
        }
        self.len += 1;
    }

    /// Removes and returns the value at `hash` that `is` picks.
    pub fn remove(&mut self, hash: u64, is: impl FnMut(&T) -> bool) -> Option<T> {
        let at = self.find(hash, is)?;
        let node = self.slots.get(at)?.node;
        // Backward shift: pull each following displaced slot one step closer to its home.
        let mut end = at + 1;
        while let Some(&slot) = self.slots.get(end) {
            if slot.is_empty() || self.home(slot.fragment) >= end {
                break;
            }
            end += 1;
        }
        self.slots.copy_within(at + 1..end, at);
        if let Some(last) = self.slots.get_mut(end - 1) {
            *last = Slot::VACANT;
        }
        let value = self.node_slot_mut(node)?.take();
        self.free.push(node);
        self.len -= 1;
        value
    }

    /// Removes everything and gives the memory back.
    pub fn clear(&mut self) {
        *self = OrderedTable::default();
    }

    /// Every `(position, value)` with `position >= from`, in hash order; a value's position is
    /// its hash with the low 32 bits cleared.
    pub fn range_from(&self, from: u64) -> impl Iterator<Item = (u64, &T)> {
        let from = fragment(from);
        let start = self.home(from);
        self.slots
            .get(start..)
            .unwrap_or_default()
            .iter()
            .filter(move |slot| !slot.is_empty() && slot.fragment >= from)
            .filter_map(|slot| Some((position(slot.fragment), self.node(slot.node)?)))
    }

    /// Every `(position, value)`, in hash order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        self.range_from(0)
    }

    /// Visits values from position `from` in order, calling `visit` on each; once `visit` has
    /// returned false, stops before the next position (values sharing a position are visited
    /// together, so a page never splits them). Returns the position to resume from, or 0 when
    /// it ran to the end. Position 0 is never returned before the end: the first position
    /// visited is at least `from`, and a stop always comes after it.
    pub fn scan(&self, from: u64, mut visit: impl FnMut(&T) -> bool) -> u64 {
        let mut stop = false;
        let mut current = None;
        for (at, value) in self.range_from(from) {
            if stop && current != Some(at) {
                return at;
            }
            current = Some(at);
            stop |= !visit(value);
        }
        0
    }

    /// Doubles the slot count, placing the slots again in one pass (their order is unchanged).
    fn grow(&mut self) {
        let bits = self.bits + 1;
        let old = std::mem::replace(&mut self.slots, vec![Slot::VACANT; 1 << bits]);
        self.bits = bits;
        let mut next = 0;
        for slot in old.into_iter().filter(|slot| !slot.is_empty()) {
            let at = self.home(slot.fragment).max(next);
            match self.slots.get_mut(at) {
                Some(place) => *place = slot,
                None => self.slots.push(slot),
            }
            next = at + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Entries are `(hash, id)`; ids tell apart values that share a hash.
    type Table = OrderedTable<(u64, u32)>;

    fn is(hash: u64, id: u32) -> impl FnMut(&(u64, u32)) -> bool {
        move |&(h, i)| h == hash && i == id
    }

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    #[test]
    fn iteration_stays_in_hash_order_across_growth() {
        let mut table = Table::default();
        let mut expected = Vec::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..10_000u32 {
            let h = xorshift(&mut x);
            table.insert(h, (h, i));
            expected.push(h);
        }
        expected.sort_unstable();
        let seen: Vec<u64> = table.iter().map(|(_, &(h, _))| h).collect();
        let mut sorted_by_position = seen.clone();
        sorted_by_position.sort_by_key(|h| h >> 32);
        assert_eq!(seen, sorted_by_position, "positions ascend");
        let mut seen_sorted = seen.clone();
        seen_sorted.sort_unstable();
        assert_eq!(seen_sorted, expected);
        let middle = expected[expected.len() / 2];
        assert!(table.range_from(middle & !0xFFFF_FFFF).all(|(at, &(h, _))| at <= h && h >> 32 >= middle >> 32));
        for (i, h) in expected.iter().enumerate() {
            assert!(table.get(*h, |&(hh, _)| hh == *h).is_some(), "lookup {i}");
        }
    }

    #[test]
    fn remove_and_shared_hashes_keep_the_count() {
        let mut table = Table::default();
        table.insert(5, (5, 0));
        table.insert(5, (5, 1));
        assert_eq!(table.len(), 2);
        assert_eq!(table.get(5, is(5, 1)), Some(&(5, 1)));
        assert_eq!(table.remove(5, is(5, 0)), Some((5, 0)));
        assert_eq!(table.remove(5, is(5, 0)), None);
        assert_eq!(table.iter().count(), 1);
        table.insert(u64::MAX, (u64::MAX, 2));
        assert_eq!(table.range_from(u64::MAX).count(), 1);
        table.clear();
        assert!(table.is_empty());
        assert_eq!(table.iter().count(), 0);
    }

    #[test]
    fn runs_spilling_past_the_last_slot_extend_the_slots() {
        let mut table = Table::default();
        // Six values whose home is the very last slot.
        for id in 0..6 {
            table.insert(u64::MAX - u64::from(id), (u64::MAX - u64::from(id), id));
        }
        assert_eq!(table.len(), 6);
        for id in 0..6 {
            assert!(table.get(u64::MAX - u64::from(id), is(u64::MAX - u64::from(id), id)).is_some());
        }
        for id in 0..6 {
            assert!(table.remove(u64::MAX - u64::from(id), is(u64::MAX - u64::from(id), id)).is_some());
        }
        assert!(table.is_empty());
    }

    /// One step of the model test. Hashes come from a few top bits and a few low bits so that
    /// runs, shared fragments and shared hashes all happen.
    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64),
        Remove(u64),
        Get(u64),
        /// Advance the open scan by a page of this many values.
        Page(usize),
    }

    fn hash_strategy() -> impl Strategy<Value = u64> {
        (0u64..64, 0u64..4, 0u64..3).prop_map(|(top, mid, low)| (top << 58) | (mid << 32) | low)
    }

    fn op_strategy() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => hash_strategy().prop_map(Op::Insert),
            2 => hash_strategy().prop_map(Op::Remove),
            2 => hash_strategy().prop_map(Op::Get),
            2 => (1usize..6).prop_map(Op::Page),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Against a `BTreeMap` model: lookups and removals agree, iteration is in position
        /// order, and a scan started at a random cursor, with inserts (and so growth) and
        /// removals between its pages, returns every value present from its start to its end.
        #[test]
        fn table_agrees_with_a_btreemap_and_scans_never_miss(
            preload in proptest::collection::vec(hash_strategy(), 0..40),
            cursor in any::<u64>(),
            ops in proptest::collection::vec(op_strategy(), 1..200),
        ) {
            let mut table = Table::default();
            // The model: (hash, id) -> present. Ids count up, so equal hashes are distinct values.
            let mut model: BTreeMap<(u64, u32), ()> = BTreeMap::new();
            let mut next_id = 0u32;
            for h in preload {
                table.insert(h, (h, next_id));
                model.insert((h, next_id), ());
                next_id += 1;
            }
            let start = cursor & !0xFFFF_FFFF;
            // Values present at the scan's start, at or after its cursor; removed ones leave.
            let mut must_see: BTreeSet<(u64, u32)> = model.keys().filter(|(h, _)| *h >= start).copied().collect();
            let mut seen: BTreeSet<(u64, u32)> = BTreeSet::new();
            let mut scan_at = Some(cursor);
            for op in ops {
                match op {
                    Op::Insert(h) => {
                        table.insert(h, (h, next_id));
                        model.insert((h, next_id), ());
                        next_id += 1;
                    }
                    Op::Remove(h) => {
                        let victim = model.range((h, 0)..=(h, u32::MAX)).next().map(|(k, _)| *k);
                        let removed = table.remove(h, |&(hh, _)| hh == h);
                        prop_assert_eq!(removed.is_some(), victim.is_some());
                        if let Some(removed) = removed {
                            prop_assert!(model.remove(&removed).is_some());
                            must_see.remove(&removed);
                        }
                    }
                    Op::Get(h) => {
                        let found = table.get(h, |&(hh, _)| hh == h).copied();
                        let expected = model.range((h, 0)..=(h, u32::MAX)).next().map(|(k, _)| *k);
                        prop_assert_eq!(found.is_some(), expected.is_some());
                        if let Some(found) = found {
                            prop_assert!(model.contains_key(&found));
                        }
                    }
                    Op::Page(n) => {
                        if let Some(from) = scan_at {
                            let mut taken = 0;
                            let next = table.scan(from, |&v| {
                                seen.insert(v);
                                taken += 1;
                                taken < n
                            });
                            scan_at = (next != 0).then_some(next);
                        }
                    }
                }
                prop_assert_eq!(table.len(), model.len());
            }
            while let Some(from) = scan_at {
                let next = table.scan(from, |&v| {
                    seen.insert(v);
                    false
                });
                scan_at = (next != 0).then_some(next);
            }
            for v in &must_see {
                prop_assert!(seen.contains(v), "scan missed {:?}", v);
            }
            let positions: Vec<u64> = table.iter().map(|(at, _)| at).collect();
            prop_assert!(positions.windows(2).all(|w| w[0] <= w[1]));
            let mut all: Vec<(u64, u32)> = table.iter().map(|(_, &v)| v).collect();
            all.sort_unstable();
            prop_assert_eq!(all, model.keys().copied().collect::<Vec<_>>());
        }
    }
}
