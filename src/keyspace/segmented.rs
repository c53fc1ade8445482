//! An ordered map from 64-bit hashes to values with near O(1) lookups.
//!
//! The keyspace needs two things of its index: fast point lookups, and iteration in hash order
//! from any position (so a SCAN cursor is simply "the next hash", and keys present for a whole
//! scan are never missed). One big `BTreeMap<u64, _>` gives the order but costs a walk through
//! several levels of large nodes per lookup. Here the hash space is cut into `2^bits` equal
//! ranges ("segments") by the hash's top bits, each a small `BTreeMap`: a lookup indexes the
//! segment directly and searches a map of a handful of entries. Because segments are ranges of
//! the hash space, iterating them in index order is iterating all hashes in order, and doubling
//! the segment count (splitting each range in two) never changes that order.

use std::collections::BTreeMap;

/// Average entries per segment before the segment count doubles.
const GROW_AT_AVERAGE: usize = 8;

/// A map from `u64` hashes to `V`, ordered by hash, with lookups that touch one small map.
#[derive(Debug)]
pub struct SegmentedMap<V> {
    segments: Vec<BTreeMap<u64, V>>,
    /// `segments.len() == 1 << bits`.
    bits: u32,
    len: usize,
}

impl<V> Default for SegmentedMap<V> {
    fn default() -> Self {
        SegmentedMap { segments: vec![BTreeMap::new()], bits: 0, len: 0 }
    }
}

impl<V> SegmentedMap<V> {
    fn segment_index(&self, hash: u64) -> usize {
        if self.bits == 0 {
            0
        } else {
            usize::try_from(hash >> (64 - self.bits)).unwrap_or(0)
        }
    }

    fn segment_mut(&mut self, hash: u64) -> Option<&mut BTreeMap<u64, V>> {
        let index = self.segment_index(hash);
        self.segments.get_mut(index)
    }

    /// The value at `hash`, mutably.
    pub fn get_mut(&mut self, hash: u64) -> Option<&mut V> {
        self.segment_mut(hash)?.get_mut(&hash)
    }

    /// Stores `value` at `hash`, returning the value it replaced.
    pub fn insert(&mut self, hash: u64, value: V) -> Option<V> {
        let old = self.segment_mut(hash)?.insert(hash, value);
        if old.is_none() {
            self.len += 1;
            if self.len > self.segments.len() * GROW_AT_AVERAGE {
                self.grow();
            }
        }
        old
    }

    /// Removes and returns the value at `hash`.
    pub fn remove(&mut self, hash: u64) -> Option<V> {
        let removed = self.segment_mut(hash)?.remove(&hash);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Removes everything (the segment count stays).
    pub fn clear(&mut self) {
        for segment in &mut self.segments {
            segment.clear();
        }
        self.len = 0;
    }

    /// Every `(hash, value)` with `hash >= from`, in hash order.
    pub fn range_from(&self, from: u64) -> impl Iterator<Item = (&u64, &V)> {
        let first = self.segment_index(from);
        self.segments.get(first..).into_iter().flatten().enumerate().flat_map(move |(offset, segment)| {
            let start = if offset == 0 { from } else { 0 };
            segment.range(start..)
        })
    }

    /// Every `(hash, value)`, in hash order.
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &V)> {
        self.range_from(0)
    }

    /// Doubles the segment count: each range splits at its midpoint, keeping the global order.
    fn grow(&mut self) {
        let bits = self.bits + 1;
        let old = std::mem::take(&mut self.segments);
        let mut segments = Vec::with_capacity(old.len() * 2);
        for (index, mut low) in old.into_iter().enumerate() {
            // The upper half of segment `index` starts where segment `2 * index + 1` of the new
            // layout starts.
            let upper_start = ((index as u64) * 2 + 1) << (64 - bits);
            let high = low.split_off(&upper_start);
            segments.push(low);
            segments.push(high);
        }
        self.segments = segments;
        self.bits = bits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_stays_in_hash_order_across_growth() {
        let mut map = SegmentedMap::default();
        let mut expected = Vec::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..10_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            map.insert(x, i);
            expected.push(x);
        }
        expected.sort_unstable();
        expected.dedup();
        let seen: Vec<u64> = map.iter().map(|(h, _)| *h).collect();
        assert_eq!(seen, expected);
        assert_eq!(map.iter().count(), expected.len());
        let middle = expected[expected.len() / 2];
        let tail: Vec<u64> = map.range_from(middle).map(|(h, _)| *h).collect();
        assert_eq!(tail, expected[expected.len() / 2..]);
        for h in &expected {
            assert!(map.get_mut(*h).is_some());
        }
    }

    #[test]
    fn remove_and_replace_keep_the_count() {
        let mut map = SegmentedMap::default();
        assert_eq!(map.insert(5, "a"), None);
        assert_eq!(map.insert(5, "b"), Some("a"));
        assert_eq!(map.iter().count(), 1);
        assert_eq!(map.remove(5), Some("b"));
        assert_eq!(map.remove(5), None);
        assert_eq!(map.iter().count(), 0);
        assert_eq!(map.insert(u64::MAX, "max"), None);
        assert_eq!(map.range_from(u64::MAX).count(), 1);
    }
}
