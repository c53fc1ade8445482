//! The sorted set value: members ordered by `(score, member)`, with O(log n) rank queries.
//!
//! # Layout
//! A [`ZSet`] has two forms, as in Redis:
//! - `listpack` (compact): one exact-size block of entries `score | varint(len) | member`,
//!   kept sorted by `(score, member)`, while the set has at most `zset-max-listpack-entries`
//!   members of at most `zset-max-listpack-value` bytes; whole-number scores take 1-8 bytes,
//!   others 9 (`zset/packed.rs`). Every operation is a linear walk, cheaper than pointer
//!   chasing for the ~128 short entries it holds, and a member costs its bytes plus 2-10,
//!   with no allocation of its own. A [`ZSet`] is 16 bytes, held unboxed in its key's entry.
//! - `skiplist` (large): a [`SkipList`] ordered by `(score, member bytes)` with a member
//!   index beside it (O(1) `ZSCORE`, `ZADD` conflict checks) that stores node numbers, not
//!   members: each member is stored once, in its node.
//!
//! A compact set that would outgrow either limit turns into the large form before the write
//! and never goes back, except for a freshly built `*STORE` result, which takes the form its
//! size calls for ([`ZSet::settle_encoding`], Redis's `zsetConvertToListpackIfNeeded`).
//!
//! The large form, its layout and why it is a skip list: `zset/skiplist.rs`.
//!
//! # Encoding names
//! `OBJECT ENCODING` answers `listpack` for the compact form and `skiplist` for the large one:
//! the name always says what the storage is. As in Redis's listpack, a `-0` score is stored
//! as `0` while the set is compact.

mod packed;
mod skiplist;

use packed::{Packed, PackedIter};
pub use skiplist::{Iter, SkipList};

use bytes::Bytes;

/// When a small sorted set stops being reported as `listpack` (`zset-max-listpack-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZSetLimits {
    /// Most members in the compact form.
    pub max_entries: usize,
    /// Longest member, in bytes, in the compact form.
    pub max_value: usize,
}

impl Default for ZSetLimits {
    fn default() -> Self {
        ZSetLimits { max_entries: 128, max_value: 64 }
    }
}

/// Whether `(a_score, a_member)` sorts before `(b_score, b_member)`.
fn sorts_before(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> bool {
    a_score < b_score || (a_score == b_score && a_member < b_member)
}

/// What [`ZSet::add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The member was new.
    Added,
    /// The member's score changed.
    Updated,
    /// Nothing changed.
    Unchanged,
}

// ---------------------------------------------------------------------------------------
// The sorted set value
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Repr {
    Packed(Packed),
    /// Boxed: the skip list is ~100 bytes and most sorted sets are small.
    Skip(Box<SkipList>),
}

/// A sorted set: packed while small, a skip list beside a map once large (see the module docs).
#[derive(Debug, Clone)]
pub struct ZSet {
    repr: Repr,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet { repr: Repr::Packed(Packed::default()) }
    }
}

/// The members of a [`ZSet`] in ascending order, as `(member, score)`.
pub struct ZSetIter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Packed(PackedIter<'a>),
    Skip(Iter<'a>),
}

impl<'a> Iterator for ZSetIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Packed(it) => it.next().map(|e| (e.member, e.score)),
            IterRepr::Skip(it) => it.next().map(|(s, m)| (m, s)),
        }
    }
}

impl ZSet {
    /// An empty set, packed if `size_hint` members of up to `len_hint` bytes fit `limits`
    /// (Redis's `zsetTypeCreate`).
    pub fn new(limits: ZSetLimits, size_hint: usize, len_hint: usize) -> ZSet {
        if size_hint <= limits.max_entries && len_hint <= limits.max_value {
            ZSet::default()
        } else {
            ZSet { repr: Repr::Skip(Box::default()) }
        }
    }

    /// How many members it holds.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.len(),
            Repr::Skip(s) => s.len(),
        }
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`'s name: `listpack` for the compact form, `skiplist` for the large one.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Packed(_) => "listpack",
            Repr::Skip(_) => "skiplist",
        }
    }

    /// Whether it is in the compact form.
    pub fn is_packed(&self) -> bool {
        matches!(self.repr, Repr::Packed(_))
    }

    /// The member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Packed(p) => p.find(member).map(|e| e.score),
            Repr::Skip(s) => s.score(member),
        }
    }

    /// Turns the compact form into the skip list (never the other way but through
    /// [`ZSet::settle_encoding`]).
    fn convert_to_skiplist(&mut self) {
        if let Repr::Packed(packed) = &self.repr {
            let mut skip = SkipList::new();
            for e in packed.iter() {
                skip.add(e.member, e.score);
            }
            self.repr = Repr::Skip(Box::new(skip));
        }
    }

    /// Converts a compact set to the skip list before a write of `size_hint` members of up to
    /// `len_hint` bytes that could not fit `limits` (Redis's `zsetTypeMaybeConvert`).
    pub fn maybe_convert(&mut self, size_hint: usize, len_hint: usize, limits: ZSetLimits) {
        if size_hint > limits.max_entries || len_hint > limits.max_value {
            self.convert_to_skiplist();
        }
    }

    /// Sets the member's score (adding it if new). A compact set that would outgrow `limits`
    /// (more than `max_entries` members, or a member longer than `max_value` bytes) turns into
    /// the skip list first.
    pub fn add(&mut self, member: &[u8], score: f64, limits: ZSetLimits) -> AddOutcome {
        if let Repr::Packed(packed) = &mut self.repr {
            // As in Redis's listpack, a -0 score is stored as 0 while the set is small.
            let score = if score == 0.0 { 0.0 } else { score };
            match packed.find(member) {
                Some(e) if e.score == score => return AddOutcome::Unchanged,
                Some(e) => {
                    let (start, end) = (e.start, e.end);
                    packed.remove(start, end);
                    packed.insert(score, member);
                    return AddOutcome::Updated;
                }
                None if packed.len() < limits.max_entries && member.len() <= limits.max_value => {
                    packed.insert(score, member);
                    return AddOutcome::Added;
                }
                None => self.convert_to_skiplist(),
            }
        }
        match &mut self.repr {
            Repr::Skip(skip) => skip.add(member, score),
            Repr::Packed(_) => AddOutcome::Unchanged,
        }
    }

    /// Removes the member; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed(p) => match p.find(member) {
                Some(e) => {
                    let (start, end) = (e.start, e.end);
                    p.remove(start, end);
                    true
                }
                None => false,
            },
            Repr::Skip(s) => s.remove(member),
        }
    }

    /// The member's 0-based rank (from the highest score when `rev`) and score.
    pub fn rank(&self, member: &[u8], rev: bool) -> Option<(usize, f64)> {
        let (rank, score) = match &self.repr {
            Repr::Packed(p) => p.iter().enumerate().find(|(_, e)| e.member == member).map(|(i, e)| (i, e.score))?,
            Repr::Skip(s) => s.rank(member)?,
        };
        Some((if rev { self.len() - 1 - rank } else { rank }, score))
    }

    /// `count` members from rank `first`, ascending, or descending when `rev`.
    fn run(&self, first: usize, rev: bool, count: usize) -> Vec<(Bytes, f64)> {
        match &self.repr {
            Repr::Packed(p) => p.run(first, rev, count),
            Repr::Skip(s) => s.iter_from(first, rev).take(count).map(|(s, m)| (Bytes::copy_from_slice(m), s)).collect(),
        }
    }

    /// The members with ranks `start..=stop` (already clamped to the set), ascending, or
    /// counted from the highest score when `rev`.
    pub fn range_by_rank(&self, start: usize, stop: usize, rev: bool) -> Vec<(Bytes, f64)> {
        if start > stop || start >= self.len() {
            return Vec::new();
        }
        let count = stop.min(self.len() - 1) - start + 1;
        let first = if rev { self.len() - 1 - start } else { start };
        self.run(first, rev, count)
    }

    /// The rank interval `[from, to)` of the members a score or lex range selects.
    pub fn rank_interval(&self, range: &Range) -> (usize, usize) {
        let (from, to) = match &self.repr {
            Repr::Packed(p) => (
                p.iter().take_while(|e| range.below_min(e.score, e.member)).count(),
                p.iter().take_while(|e| !range.above_max(e.score, e.member)).count(),
            ),
            Repr::Skip(s) => (
                s.count_before(|score, m| range.below_min_with(score, || m.get())),
                s.count_before(|score, m| !range.above_max_with(score, || m.get())),
            ),
        };
        (from, to.max(from))
    }

    /// The members in rank interval `[from, to)`, ascending or (when `rev`) descending,
    /// skipping `offset` and taking at most `limit`.
    pub fn slice(&self, (from, to): (usize, usize), rev: bool, offset: usize, limit: Option<usize>) -> Vec<(Bytes, f64)> {
        let available = to.saturating_sub(from);
        if offset >= available {
            return Vec::new();
        }
        let count = (available - offset).min(limit.unwrap_or(usize::MAX));
        let first = if rev { to - 1 - offset } else { from + offset };
        self.run(first, rev, count)
    }

    /// Up to `limit` members of `range` after skipping `offset`, ascending or (when `rev`)
    /// descending. The large form walks once to the first member and follows the links.
    pub fn select_range(&self, range: &Range, rev: bool, offset: usize, limit: Option<usize>) -> Vec<(Bytes, f64)> {
        match &self.repr {
            Repr::Packed(_) => self.slice(self.rank_interval(range), rev, offset, limit),
            Repr::Skip(s) => s.range(range, rev, offset, limit.unwrap_or(usize::MAX)),
        }
    }

    /// Every member in ascending order.
    pub fn iter(&self) -> ZSetIter<'_> {
        match &self.repr {
            Repr::Packed(p) => ZSetIter(IterRepr::Packed(p.iter())),
            Repr::Skip(s) => ZSetIter(IterRepr::Skip(s.iter())),
        }
    }

    /// Removes and returns up to `count` members from the lowest (or, when `max`, highest)
    /// score.
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(Bytes, f64)> {
        if count == 0 || self.is_empty() {
            return Vec::new();
        }
        if let Repr::Skip(s) = &mut self.repr {
            return (0..count).map_while(|_| s.pop(max)).collect();
        }
        let taken = self.range_by_rank(0, count.min(self.len()) - 1, max);
        for (member, _) in &taken {
            self.remove(member);
        }
        taken
    }

    /// The member at 0-based rank `rank`.
    pub fn get(&self, rank: usize) -> Option<(Bytes, f64)> {
        match &self.repr {
            Repr::Packed(p) => p.iter().nth(rank).map(|e| (Bytes::copy_from_slice(e.member), e.score)),
            Repr::Skip(s) => s.get(rank).map(|(s, m)| (Bytes::copy_from_slice(m), s)),
        }
    }

    /// The longest member, in bytes (for the encoding of a copy).
    pub fn max_member_len(&self) -> usize {
        self.iter().map(|(m, _)| m.len()).max().unwrap_or(0)
    }

    /// Puts a freshly built set (a `*STORE` result) in the form its size calls for, in either
    /// direction (Redis's `zsetConvertToListpackIfNeeded`).
    pub fn settle_encoding(&mut self, limits: ZSetLimits) {
        let fits = self.len() <= limits.max_entries && self.max_member_len() <= limits.max_value;
        match (&self.repr, fits) {
            (Repr::Skip(skip), true) => {
                // In order, so the packed order holds; -0 reads back as 0 as above.
                let packed = Packed::from_sorted(skip.iter().map(|(score, member)| (if score == 0.0 { 0.0 } else { score }, member)));
                self.repr = Repr::Packed(packed);
            }
            (Repr::Packed(_), false) => self.convert_to_skiplist(),
            _ => {}
        }
    }

    /// An estimate of the heap bytes the set holds (MEMORY USAGE); see
    /// [`crate::keyspace::memory`] for the method.
    pub fn allocated_bytes(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.allocated_bytes(),
            Repr::Skip(s) => super::memory::heap_block(std::mem::size_of::<SkipList>()) + s.allocated_bytes(),
        }
    }
}

/// One end of a score range: `(1.5` (exclusive) or `1.5` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreBound {
    /// The score.
    pub value: f64,
    /// Whether the bound itself is excluded.
    pub exclusive: bool,
}

/// One end of a lex range: `-`, `+`, `[a` or `(a`.
#[derive(Debug, Clone, PartialEq)]
pub enum LexBound {
    /// Below every member.
    Min,
    /// Above every member.
    Max,
    /// A member, included or not.
    Member(Bytes, bool),
}

/// A range of members by score or by lex order.
#[derive(Debug, Clone, PartialEq)]
pub enum Range {
    /// `min <= score <= max` (bounds may be exclusive).
    Score(ScoreBound, ScoreBound),
    /// `min <= member <= max` (bounds may be exclusive or infinite).
    Lex(LexBound, LexBound),
}

impl Range {
    /// Whether `(score, member)` sorts before the range's start.
    pub fn below_min(&self, score: f64, member: &[u8]) -> bool {
        self.below_min_with(score, || member)
    }

    /// [`Range::below_min`] with the member fetched only if the range is by lex.
    pub fn below_min_with<'m>(&self, score: f64, member: impl FnOnce() -> &'m [u8]) -> bool {
        match self {
            Range::Score(min, _) => if min.exclusive { score <= min.value } else { score < min.value },
            Range::Lex(min, _) => match min {
                LexBound::Min => false,
                LexBound::Max => true,
                LexBound::Member(m, exclusive) => {
                    let member = member();
                    if *exclusive { member <= m.as_ref() } else { member < m.as_ref() }
                }
            },
        }
    }

    /// Whether `(score, member)` sorts after the range's end.
    pub fn above_max(&self, score: f64, member: &[u8]) -> bool {
        self.above_max_with(score, || member)
    }

    /// [`Range::above_max`] with the member fetched only if the range is by lex.
    pub fn above_max_with<'m>(&self, score: f64, member: impl FnOnce() -> &'m [u8]) -> bool {
        match self {
            Range::Score(_, max) => if max.exclusive { score >= max.value } else { score > max.value },
            Range::Lex(_, max) => match max {
                LexBound::Min => true,
                LexBound::Max => false,
                LexBound::Member(m, exclusive) => {
                    let member = member();
                    if *exclusive { member >= m.as_ref() } else { member > m.as_ref() }
                }
            },
        }
    }

    /// Whether the range can select nothing whatever the set holds (Redis's empty-range
    /// shortcut: `min > max`, or equal with an exclusive end).
    pub fn is_empty(&self) -> bool {
        match self {
            Range::Score(min, max) => min.value > max.value || (min.value == max.value && (min.exclusive || max.exclusive)),
            Range::Lex(min, max) => match (min, max) {
                (LexBound::Max, _) | (_, LexBound::Min) => true,
                (LexBound::Min, _) | (_, LexBound::Max) => false,
                (LexBound::Member(a, ae), LexBound::Member(b, be)) => a > b || (a == b && (*ae || *be)),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_score_then_member_order() {
        let limits = ZSetLimits::default();
        let mut z = ZSet::new(limits, 0, 0);
        for (i, m) in ["e", "d", "c", "b", "a"].iter().enumerate() {
            z.add(m.as_bytes(), (i % 2) as f64, limits);
        }
        let order: Vec<_> = z.iter().map(|(m, _)| Bytes::copy_from_slice(m)).collect();
        assert_eq!(order, vec!["a", "c", "e", "b", "d"]);
        assert_eq!(z.rank(b"b", false), Some((3, 1.0)));
        assert_eq!(z.rank(b"b", true), Some((1, 1.0)));
        assert!(z.remove(b"c"));
        assert_eq!(z.rank(b"e", false), Some((1, 0.0)));
        assert_eq!(z.get(3).map(|(m, _)| m), Some(Bytes::from("d")));
    }

    #[test]
    fn a_thousand_members_keep_consistent_ranks() {
        let limits = ZSetLimits::default();
        let mut z = ZSet::new(limits, 0, 0);
        for i in 0..1000u32 {
            z.add(format!("m{i}").as_bytes(), f64::from((i * 7919) % 1000), limits);
        }
        for i in (0..1000u32).step_by(3) {
            z.remove(format!("m{i}").as_bytes());
        }
        let all: Vec<_> = z.iter().map(|(m, s)| (Bytes::copy_from_slice(m), s)).collect();
        for (rank, (m, s)) in all.iter().enumerate() {
            assert_eq!(z.rank(m, false), Some((rank, *s)));
            assert_eq!(z.get(rank), Some((m.clone(), *s)));
        }
        assert_eq!(z.encoding(), "skiplist");
    }
}
