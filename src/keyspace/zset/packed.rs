//! The compact (`listpack`) form of a sorted set: entries in one exact-size [`Block`], sorted
//! by `(score, member)`.
//!
//! # Entry layout
//! `score | varint(member length) | member`, where the score is either
//! - a whole number `i` with `|i| <= 2^53` (so the `f64` is exactly `i`): `varint(zigzag(i) << 1)`,
//!   one byte for `-32..=31`, two up to ±4096, three up to ±2^19, seven for a Unix time in
//!   milliseconds; or
//! - anything else (fractions, larger magnitudes, infinities): the byte `0x01`, then the `f64`
//!   in 8 little-endian bytes.
//!
//! The low bit of the first byte tells them apart (a varint's first byte carries its lowest
//! bits). Redis's listpack stores integer-valued scores as integers too; leaderboards, counters
//! and rank-by-insertion sets mostly hold them, and a 19-byte member with a small score costs
//! 21 bytes instead of 28. Decoding gives back the same `f64` bit for bit, except `-0`, which
//! the compact form stores as `0` as Redis's listpack does (the caller normalises it).

use super::sorts_before;
use crate::keyspace::block::Block;
use crate::keyspace::varint::{read_varint, write_varint};
use bytes::Bytes;

/// Largest magnitude stored as an integer: every integer up to it is exactly an `f64`.
const EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53

/// First byte of a score stored as 8 raw bytes.
const DOUBLE_TAG: u8 = 0x01;

/// Appends the encoding of `score` (see the module docs).
fn write_score(out: &mut Vec<u8>, score: f64) {
    // `fract() == 0` excludes NaN and the infinities; -0 goes the raw way (callers store it
    // as 0 anyway, and this keeps its sign if one ever does not).
    if score.fract() == 0.0 && score.abs() <= EXACT_INT && !(score == 0.0 && score.is_sign_negative()) {
        let i = score as i64;
        let zigzag = ((i << 1) ^ (i >> 63)) as u64;
        write_varint(out, (zigzag << 1) as usize);
    } else {
        out.push(DOUBLE_TAG);
        out.extend_from_slice(&score.to_le_bytes());
    }
}

/// Reads a score at `pos`: the score and the bytes it took.
fn read_score(data: &[u8], pos: usize) -> Option<(f64, usize)> {
    let first = *data.get(pos)?;
    if first & 1 == 1 {
        let raw: [u8; 8] = data.get(pos + 1..pos + 9)?.try_into().ok()?;
        return Some((f64::from_le_bytes(raw), 9));
    }
    let (value, used) = read_varint(data, pos)?;
    let zigzag = value as u64 >> 1;
    let i = (zigzag >> 1) as i64 ^ -((zigzag & 1) as i64);
    Some((i as f64, used))
}

/// Appends one entry.
fn write_entry(out: &mut Vec<u8>, score: f64, member: &[u8]) {
    write_score(out, score);
    write_varint(out, member.len());
    out.extend_from_slice(member);
}

/// Members and scores in one block, ordered by `(score, member)` (see the module docs).
#[derive(Debug, Clone, Default)]
pub(super) struct Packed(Block);

/// One entry of a [`Packed`] set: where it lies, its score and member.
#[derive(Debug, Clone, Copy)]
pub(super) struct PackedEntry<'a> {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) score: f64,
    pub(super) member: &'a [u8],
}

/// The entries of a [`Packed`] set in ascending order.
pub(super) struct PackedIter<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = PackedEntry<'a>;

    fn next(&mut self) -> Option<PackedEntry<'a>> {
        let start = self.pos;
        let (score, score_len) = read_score(self.data, start)?;
        let (len, used) = read_varint(self.data, start + score_len)?;
        let begin = start + score_len + used;
        let member = self.data.get(begin..begin + len)?;
        self.pos = begin + len;
        Some(PackedEntry { start, end: self.pos, score, member })
    }
}

impl Packed {
    /// A set of `entries`, which must be in order with distinct members.
    pub(super) fn from_sorted<'a>(entries: impl Iterator<Item = (f64, &'a [u8])>) -> Packed {
        let mut data = Vec::new();
        let mut count = 0;
        for (score, member) in entries {
            write_entry(&mut data, score, member);
            count += 1;
        }
        let mut packed = Packed::default();
        packed.0.append(&data, count);
        packed
    }

    /// How many members it holds.
    pub(super) fn len(&self) -> usize {
        self.0.count()
    }

    pub(super) fn iter(&self) -> PackedIter<'_> {
        PackedIter { data: self.0.body(), pos: 0 }
    }

    pub(super) fn find(&self, member: &[u8]) -> Option<PackedEntry<'_>> {
        self.iter().find(|e| e.member == member)
    }

    /// Inserts `(score, member)`, which must not be present, at its place in the order.
    pub(super) fn insert(&mut self, score: f64, member: &[u8]) {
        let at = self.iter().find(|e| sorts_before(score, member, e.score, e.member)).map_or(self.0.body().len(), |e| e.start);
        let mut entry = Vec::with_capacity(11 + member.len());
        write_entry(&mut entry, score, member);
        self.0.splice(at, at, &entry, self.len() + 1);
    }

    /// Removes the entry at `start..end`.
    pub(super) fn remove(&mut self, start: usize, end: usize) {
        self.0.splice(start, end, &[], self.len().saturating_sub(1));
    }

    /// `count` entries from rank `first`, ascending, or descending when `rev`.
    pub(super) fn run(&self, first: usize, rev: bool, count: usize) -> Vec<(Bytes, f64)> {
        let owned = |e: PackedEntry<'_>| (Bytes::copy_from_slice(e.member), e.score);
        if rev {
            let mut head: Vec<PackedEntry<'_>> = self.iter().take(first + 1).collect();
            head.reverse();
            head.into_iter().take(count).map(owned).collect()
        } else {
            self.iter().skip(first).take(count).map(owned).collect()
        }
    }

    /// The bytes held, as the allocator rounds them (MEMORY USAGE).
    pub(super) fn allocated_bytes(&self) -> usize {
        self.0.allocated_bytes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scores_round_trip_bit_for_bit_and_small_integers_take_one_byte() {
        let cases = [
            (0.0, 1),
            (-0.0, 9),
            (1.0, 1),
            (-1.0, 1),
            (31.0, 1),
            (-32.0, 1),
            (32.0, 2),
            (1_700_000_000_000.0, 7),
            (EXACT_INT, 8),
            (-EXACT_INT, 8),
            (EXACT_INT * 2.0, 9),
            (0.5, 9),
            (-2.25, 9),
            (f64::INFINITY, 9),
            (f64::NEG_INFINITY, 9),
            (f64::MAX, 9),
            (f64::MIN_POSITIVE, 9),
            (1e300, 9),
        ];
        for (score, len) in cases {
            let mut out = Vec::new();
            write_score(&mut out, score);
            assert_eq!(out.len(), len, "{score}");
            let (back, used) = read_score(&out, 0).unwrap();
            assert_eq!(used, out.len());
            assert_eq!(back.to_bits(), score.to_bits(), "{score}");
        }
    }

    #[test]
    fn entries_stay_sorted_by_score_then_member() {
        let mut packed = Packed::default();
        for (score, member) in [(3.0, "c"), (0.5, "z"), (-7.0, "a"), (3.0, "b"), (f64::INFINITY, "i"), (1e20, "big")] {
            packed.insert(score, member.as_bytes());
        }
        let order: Vec<(f64, &[u8])> = packed.iter().map(|e| (e.score, e.member)).collect();
        let expected: Vec<(f64, &[u8])> =
            vec![(-7.0, b"a"), (0.5, b"z"), (3.0, b"b"), (3.0, b"c"), (1e20, b"big"), (f64::INFINITY, b"i")];
        assert_eq!(order, expected);
        assert_eq!(packed.len(), 6);
        let e = packed.find(b"b").unwrap();
        packed.remove(e.start, e.end);
        assert_eq!(packed.len(), 5);
        assert!(packed.find(b"b").is_none());
        let copy = Packed::from_sorted(packed.iter().map(|e| (e.score, e.member)));
        assert_eq!(copy.iter().map(|e| e.member).collect::<Vec<_>>(), packed.iter().map(|e| e.member).collect::<Vec<_>>());
    }
}
