//! The sorted set value: members ordered by `(score, member)`, with O(log n) rank queries.
//!
//! # Layout
//! A [`ZSet`] is a member → score `HashMap` (O(1) `ZSCORE`, `ZADD` conflict checks) beside a
//! [`SkipList`] ordered by `(score, member bytes)`.
//!
//! # Why a skip list
//! Rank queries (`ZRANK`, `ZRANGE` by index, `LIMIT` offsets) need an order-statistic
//! structure. The skip list keeps, on every forward link, the number of level-0 nodes it
//! jumps over (its *span*), so a rank is the sum of the spans walked and an element by rank is
//! found by walking spans down: both O(log n) expected, as are insert and delete. The same
//! walk answers "how many elements sort before this score / lex bound", so every range
//! command reduces to a rank interval, and reverse iteration is free through the backward
//! links. An order-statistic B-tree would be denser but needs node splitting, merging and
//! count maintenance on every level; the skip list's invariants are local to one node, which
//! keeps the code short and easy to check against the reference model the property tests
//! drive (`tests/zset_model.rs`). It is the structure Redis uses, so iteration order and
//! tie-breaking match it exactly.
//!
//! Nodes live in an arena (`Vec<Node>` with a free list) and link by index, so there is no
//! `unsafe` and no reference counting.
//!
//! # Encoding names
//! `OBJECT ENCODING` answers `listpack` while the set is within `zset-max-listpack-entries`
//! and `zset-max-listpack-value` and `skiplist` once it outgrew them (it never goes back, as
//! in Redis). The storage is the same in both cases; as in Redis's listpack, a `-0` score is
//! read back as `0` while the set is small.

use bytes::Bytes;
use std::collections::HashMap;

/// Most levels a node may have (enough for 2^64 elements at p = 1/4).
const MAX_LEVEL: usize = 32;
/// Probability of a node reaching the next level, as in Redis.
const LEVEL_P: f64 = 0.25;
/// The "no node" link.
const NIL: usize = usize::MAX;
/// Index of the head sentinel in the arena.
const HEAD: usize = 0;

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

#[derive(Debug, Clone, Copy)]
struct Level {
    forward: usize,
    span: usize,
}

#[derive(Debug, Clone)]
struct Node {
    member: Bytes,
    score: f64,
    backward: usize,
    levels: Vec<Level>,
}

/// A skip list of `(score, member)` with spans, ordered by score then member bytes.
#[derive(Debug, Clone)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<usize>,
    tail: usize,
    level: usize,
    len: usize,
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList::new()
    }
}

impl SkipList {
    /// An empty list.
    pub fn new() -> SkipList {
        let head = Node { member: Bytes::new(), score: 0.0, backward: NIL, levels: vec![Level { forward: NIL, span: 0 }; MAX_LEVEL] };
        SkipList { nodes: vec![head], free: Vec::new(), tail: NIL, level: 1, len: 0 }
    }

    /// How many elements it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn node(&self, index: usize) -> Option<&Node> {
        self.nodes.get(index)
    }

    fn forward(&self, index: usize, level: usize) -> usize {
        self.nodes.get(index).and_then(|n| n.levels.get(level)).map_or(NIL, |l| l.forward)
    }

    fn span(&self, index: usize, level: usize) -> usize {
        self.nodes.get(index).and_then(|n| n.levels.get(level)).map_or(0, |l| l.span)
    }

    fn set_level(&mut self, index: usize, level: usize, forward: usize, span: usize) {
        if let Some(l) = self.nodes.get_mut(index).and_then(|n| n.levels.get_mut(level)) {
            l.forward = forward;
            l.span = span;
        }
    }

    fn set_span(&mut self, index: usize, level: usize, span: usize) {
        if let Some(l) = self.nodes.get_mut(index).and_then(|n| n.levels.get_mut(level)) {
            l.span = span;
        }
    }

    fn set_backward(&mut self, index: usize, backward: usize) {
        if let Some(n) = self.nodes.get_mut(index) {
            n.backward = backward;
        }
    }

    fn random_level() -> usize {
        let mut level = 1;
        while level < MAX_LEVEL && rand::random::<f64>() < LEVEL_P {
            level += 1;
        }
        level
    }

    /// Inserts `(score, member)`, which must not be present.
    // `update` and `rank` have MAX_LEVEL slots and every level index is below `self.level`
    // or the new node's level, both at most MAX_LEVEL: the indexing cannot go out of bounds.
    #[allow(clippy::indexing_slicing, clippy::needless_range_loop)]
    pub fn insert(&mut self, score: f64, member: Bytes) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let next = self.forward(x, i);
                match self.node(next) {
                    Some(n) if n.score < score || (n.score == score && n.member < member) => {
                        rank[i] += self.span(x, i);
                        x = next;
                    }
                    _ => break,
                }
            }
            update[i] = x;
        }
        let level = Self::random_level();
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEAD;
                self.set_span(HEAD, i, self.len);
            }
            self.level = level;
        }
        let node = Node { member, score, backward: NIL, levels: vec![Level { forward: NIL, span: 0 }; level] };
        let x = match self.free.pop() {
            Some(slot) => {
                if let Some(n) = self.nodes.get_mut(slot) {
                    *n = node;
                }
                slot
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        };
        for i in 0..level {
            let prev = update[i];
            let prev_forward = self.forward(prev, i);
            let prev_span = self.span(prev, i);
            self.set_level(x, i, prev_forward, prev_span - (rank[0] - rank[i]));
            self.set_level(prev, i, x, rank[0] - rank[i] + 1);
        }
        for i in level..self.level {
            let prev = update[i];
            self.set_span(prev, i, self.span(prev, i) + 1);
        }
        self.set_backward(x, if update[0] == HEAD { NIL } else { update[0] });
        let next = self.forward(x, 0);
        if next == NIL {
            self.tail = x;
        } else {
            self.set_backward(next, x);
        }
        self.len += 1;
    }

    /// Removes `(score, member)`; returns whether it was there.
    // `update` and `rank` have MAX_LEVEL slots and every level index is below `self.level`
    // or the new node's level, both at most MAX_LEVEL: the indexing cannot go out of bounds.
    #[allow(clippy::indexing_slicing, clippy::needless_range_loop)]
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let mut update = [HEAD; MAX_LEVEL];
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let next = self.forward(x, i);
                match self.node(next) {
                    Some(n) if n.score < score || (n.score == score && n.member.as_ref() < member) => x = next,
                    _ => break,
                }
            }
            update[i] = x;
        }
        let target = self.forward(x, 0);
        match self.node(target) {
            Some(n) if n.score == score && n.member.as_ref() == member => {}
            _ => return false,
        }
        for i in 0..self.level {
            let prev = update[i];
            if self.forward(prev, i) == target {
                let span = self.span(prev, i) + self.span(target, i) - 1;
                self.set_level(prev, i, self.forward(target, i), span);
            } else {
                self.set_span(prev, i, self.span(prev, i).saturating_sub(1));
            }
        }
        let next = self.forward(target, 0);
        let back = self.node(target).map_or(NIL, |n| n.backward);
        if next == NIL {
            self.tail = back;
        } else {
            self.set_backward(next, back);
        }
        while self.level > 1 && self.forward(HEAD, self.level - 1) == NIL {
            self.level -= 1;
        }
        if let Some(n) = self.nodes.get_mut(target) {
            n.member = Bytes::new();
            n.levels = Vec::new();
        }
        self.free.push(target);
        self.len -= 1;
        true
    }

    /// How many elements come before the first one for which `is_before` is false.
    /// `is_before(score, member)` must be true for a prefix of the order and false after.
    pub fn count_before(&self, is_before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0;
        for i in (0..self.level).rev() {
            loop {
                let next = self.forward(x, i);
                match self.node(next) {
                    Some(n) if is_before(n.score, &n.member) => {
                        rank += self.span(x, i);
                        x = next;
                    }
                    _ => break,
                }
            }
        }
        rank
    }

    /// The 0-based rank of `(score, member)`, if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let rank = self.count_before(|s, m| s < score || (s == score && m < member));
        let (s, m) = self.get(rank)?;
        (s == score && m.as_ref() == member).then_some(rank)
    }

    fn node_at(&self, rank: usize) -> usize {
        if rank >= self.len {
            return NIL;
        }
        let target = rank + 1;
        let mut x = HEAD;
        let mut traversed = 0;
        for i in (0..self.level).rev() {
            loop {
                let next = self.forward(x, i);
                if next != NIL && traversed + self.span(x, i) <= target {
                    traversed += self.span(x, i);
                    x = next;
                } else {
                    break;
                }
            }
            if traversed == target {
                return x;
            }
        }
        NIL
    }

    /// The element at 0-based `rank`.
    pub fn get(&self, rank: usize) -> Option<(f64, &Bytes)> {
        self.node(self.node_at(rank)).map(|n| (n.score, &n.member))
    }

    /// Elements from rank `start` onwards (towards higher ranks, or lower when `rev`).
    pub fn iter_from(&self, start: usize, rev: bool) -> Iter<'_> {
        Iter { list: self, at: self.node_at(start), rev }
    }

    /// Every element in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter { list: self, at: self.forward(HEAD, 0), rev: false }
    }

    /// The last element.
    pub fn last(&self) -> Option<(f64, &Bytes)> {
        self.node(self.tail).map(|n| (n.score, &n.member))
    }
}

/// An iterator over `(score, member)` along the level-0 links.
pub struct Iter<'a> {
    list: &'a SkipList,
    at: usize,
    rev: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (f64, &'a Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        let node = self.list.nodes.get(self.at)?;
        if self.at == HEAD {
            return None;
        }
        self.at = if self.rev { node.backward } else { node.levels.first().map_or(NIL, |l| l.forward) };
        Some((node.score, &node.member))
    }
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

/// A sorted set.
#[derive(Debug, Clone, Default)]
pub struct ZSet {
    scores: HashMap<Bytes, f64>,
    list: SkipList,
    /// Whether `OBJECT ENCODING` says `listpack`.
    packed: bool,
}

impl ZSet {
    /// An empty set, `listpack` if `size_hint` members of up to `len_hint` bytes fit `limits`
    /// (Redis's `zsetTypeCreate`).
    pub fn new(limits: ZSetLimits, size_hint: usize, len_hint: usize) -> ZSet {
        ZSet { scores: HashMap::new(), list: SkipList::new(), packed: size_hint <= limits.max_entries && len_hint <= limits.max_value }
    }

    /// How many members it holds.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// `OBJECT ENCODING`'s name.
    pub fn encoding(&self) -> &'static str {
        if self.packed {
            "listpack"
        } else {
            "skiplist"
        }
    }

    /// The member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets the member's score (adding it if new); `limits` decides the encoding name.
    pub fn add(&mut self, member: &[u8], score: f64, limits: ZSetLimits) -> AddOutcome {
        let score = if self.packed && score == 0.0 { 0.0 } else { score };
        match self.scores.get(member).copied() {
            Some(old) if old == score => AddOutcome::Unchanged,
            Some(old) => {
                self.list.remove(old, member);
                let member = Bytes::copy_from_slice(member);
                self.list.insert(score, member.clone());
                self.scores.insert(member, score);
                AddOutcome::Updated
            }
            None => {
                let member = Bytes::copy_from_slice(member);
                if member.len() > limits.max_value {
                    self.packed = false;
                }
                self.list.insert(score, member.clone());
                self.scores.insert(member, score);
                if self.len() > limits.max_entries {
                    self.packed = false;
                }
                AddOutcome::Added
            }
        }
    }

    /// Removes the member; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove(member) {
            Some(score) => self.list.remove(score, member),
            None => false,
        }
    }

    /// The member's 0-based rank (from the highest score when `rev`) and score.
    pub fn rank(&self, member: &[u8], rev: bool) -> Option<(usize, f64)> {
        let score = self.score(member)?;
        let rank = self.list.rank(score, member)?;
        Some((if rev { self.len() - 1 - rank } else { rank }, score))
    }

    /// The members with ranks `start..=stop` (already clamped to the set), ascending, or
    /// counted from the highest score when `rev`.
    pub fn range_by_rank(&self, start: usize, stop: usize, rev: bool) -> Vec<(Bytes, f64)> {
        if start > stop || start >= self.len() {
            return Vec::new();
        }
        let count = stop.min(self.len() - 1) - start + 1;
        let first = if rev { self.len() - 1 - start } else { start };
        self.list.iter_from(first, rev).take(count).map(|(s, m)| (m.clone(), s)).collect()
    }

    /// The rank interval `[from, to)` of the members a score or lex range selects.
    pub fn rank_interval(&self, range: &Range) -> (usize, usize) {
        let from = self.list.count_before(|s, m| range.below_min(s, m));
        let to = self.list.count_before(|s, m| !range.above_max(s, m));
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
        self.list.iter_from(first, rev).take(count).map(|(s, m)| (m.clone(), s)).collect()
    }

    /// Every member in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, f64)> {
        self.list.iter().map(|(s, m)| (m, s))
    }

    /// Removes and returns up to `count` members from the lowest (or, when `max`, highest)
    /// score.
    pub fn pop(&mut self, count: usize, max: bool) -> Vec<(Bytes, f64)> {
        if count == 0 || self.is_empty() {
            return Vec::new();
        }
        let taken = self.range_by_rank(0, count.min(self.len()) - 1, max);
        for (member, _) in &taken {
            self.remove(member);
        }
        taken
    }

    /// The member at 0-based rank `rank`.
    pub fn get(&self, rank: usize) -> Option<(Bytes, f64)> {
        self.list.get(rank).map(|(s, m)| (m.clone(), s))
    }

    /// The longest member, in bytes (for the encoding of a copy).
    pub fn max_member_len(&self) -> usize {
        self.scores.keys().map(Bytes::len).max().unwrap_or(0)
    }

    /// Recomputes the encoding name for a freshly built set (`*STORE` results).
    pub fn settle_encoding(&mut self, limits: ZSetLimits) {
        self.packed = self.len() <= limits.max_entries && self.max_member_len() <= limits.max_value;
        if self.packed {
            let zeros: Vec<Bytes> = self.scores.iter().filter(|(_, s)| **s == 0.0 && s.is_sign_negative()).map(|(m, _)| m.clone()).collect();
            for member in zeros {
                self.remove(&member);
                self.add(&member, 0.0, limits);
            }
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
        match self {
            Range::Score(min, _) => if min.exclusive { score <= min.value } else { score < min.value },
            Range::Lex(min, _) => match min {
                LexBound::Min => false,
                LexBound::Max => true,
                LexBound::Member(m, exclusive) => if *exclusive { member <= m.as_ref() } else { member < m.as_ref() },
            },
        }
    }

    /// Whether `(score, member)` sorts after the range's end.
    pub fn above_max(&self, score: f64, member: &[u8]) -> bool {
        match self {
            Range::Score(_, max) => if max.exclusive { score >= max.value } else { score > max.value },
            Range::Lex(_, max) => match max {
                LexBound::Min => true,
                LexBound::Max => false,
                LexBound::Member(m, exclusive) => if *exclusive { member >= m.as_ref() } else { member > m.as_ref() },
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
        let order: Vec<_> = z.iter().map(|(m, _)| m.clone()).collect();
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
        let all: Vec<_> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
        for (rank, (m, s)) in all.iter().enumerate() {
            assert_eq!(z.rank(m, false), Some((rank, *s)));
            assert_eq!(z.get(rank), Some((m.clone(), *s)));
        }
        assert_eq!(z.encoding(), "skiplist");
    }
}
