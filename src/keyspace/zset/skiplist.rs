//! The large sorted set: a skip list with spans and a member index beside it.
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
//! Nodes live in a chunked arena (chunks of 1024 nodes, free slots chained) and link by `u32`
//! index, so there is no `unsafe` and no reference counting. A node is 40 bytes: score,
//! backward link, the level-0 link inline (its span is always 1), its tower's index, and its
//! member in a heap block of its own. Heights are drawn as in Redis (one more level with
//! probability 1/4, at most 32), from one xorshift draw. The index is a
//! `hashbrown::HashTable<u32>` of node numbers hashed (foldhash, seeded per set) by the member
//! bytes they hold.
//!
//! # Towers: one cache line per step
//! On a large set every step of a walk is a cache miss, so the layout is chosen for the number
//! of lines a walk touches, not for instructions. The links above level 0 of a node taller
//! than 1 (one in four) are its *tower*: `2h - 1` contiguous words in one `u64` arena (the
//! node's index and height, then per level the forward node's score, the forward node's tower
//! and the span). A link leads to the next tower, not to the node, and carries the score of
//! the node it leads to, so a walk above level 0 reads one tower per step, decides whether to
//! follow a link from the link alone (the node and its member are read only on a score tie),
//! and reads a node only when it drops to level 0. Redis's `zskiplistNode` keeps its levels
//! inline for the same reason; it still reads the next node to compare its score, which the
//! cached score saves. The price is the score copy in every upper link (a score change
//! updates the links that lead to the node) and 8 bytes of tower header per tall node. For a
//! 19-byte member that is about 40 + 24 (member block) + 7 (towers, on average) + 6 (index)
//! bytes per element, against ~128 for Redis's skiplist + dict.

use super::{AddOutcome, Range, sorts_before};
use bytes::Bytes;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Most levels a node may have (enough for 2^64 elements at p = 1/4).
const MAX_LEVEL: usize = 32;
/// The "no node" link.
const NIL: u32 = u32::MAX;
/// Index of the head sentinel in the arena.
const HEAD: u32 = 0;
/// Nodes per arena chunk, as a power of two: past the first chunk (which grows by doubling, so
/// a set just converted from the compact form stays small) the arena grows a whole chunk at a
/// time and never moves or over-reserves more than one chunk.
const CHUNK_BITS: u32 = 10;
/// Nodes per arena chunk.
const CHUNK: usize = 1 << CHUNK_BITS;
/// Index of the head's tower in the tower arena.
const HEAD_TOWER: u32 = 0;
// A path's `update` array holds a node at level 0 and towers above: `[HEAD; MAX_LEVEL]` is
// the head at every level only because the two indices are equal.
const _: () = assert!(HEAD == HEAD_TOWER);

/// One element: 40 bytes in the arena, its member in a heap block of its own, and, for the
/// one node in four that is taller than level 0, a tower in the tower arena.
#[derive(Debug, Clone)]
struct Node {
    score: f64,
    /// The previous node at level 0 (`NIL` for the first).
    backward: u32,
    /// The level-0 link, whose span is always 1; for a free slot, the next free slot.
    forward0: u32,
    /// The node's tower (its links above level 0) in the tower arena, or `NIL` for a node of
    /// height 1.
    tower: u32,
    member: Box<[u8]>,
}

/// One link above level 0: the tower of the node it leads to (or, where the list's API speaks
/// of nodes, that node), the level-0 nodes it jumps over, and that node's score, so a walk
/// decides whether to follow the link without reading anything else.
#[derive(Debug, Clone, Copy)]
struct Link {
    forward: u32,
    span: usize,
    score: f64,
}

/// The link a missing level reads as.
const NO_LINK: Link = Link { forward: NIL, span: 0, score: 0.0 };

/// A count or rank as stored in a span (`u32`: the arena cannot hold more nodes).
fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Node {
    fn new(score: f64, member: &[u8]) -> Node {
        Node { score, backward: NIL, forward0: NIL, tower: NIL, member: member.into() }
    }

    fn member(&self) -> &[u8] {
        &self.member
    }
}

/// Words per tower-arena chunk, as a power of two (64 KiB chunks).
const TOWER_CHUNK_BITS: u32 = 13;
/// Words per tower-arena chunk.
const TOWER_CHUNK: usize = 1 << TOWER_CHUNK_BITS;

/// The links above level 0 of every node taller than 1, each node's contiguous in a chunked
/// `u64` arena, so a walk above level 0 reads one tower per step and nothing else.
///
/// A tower of height `h` is `2h - 1` words at its index `t`: `t` holds the node's index (low
/// 32 bits) and `h` (high 32 bits); level `i` (1 to `h - 1`) is the two words at
/// `t + 2i - 1`: the forward node's score (its `f64` bits), then the forward node's tower
/// (low 32) and the span (high 32). Word `t` is `chunks[t >> TOWER_CHUNK_BITS][t % CHUNK]`; a
/// tower never straddles two chunks. As in the node arena, the first chunk grows by doubling
/// (a set just converted from the compact form stays small) and later ones are allocated
/// whole, so the arena never moves or copies. A freed tower chains to the next free one of
/// its height through its first word's low half.
#[derive(Debug, Clone, Default)]
struct Towers {
    chunks: Vec<Vec<u64>>,
    /// The first free tower of each height, or `NIL`.
    free: Vec<u32>,
}

impl Towers {
    /// The words of the tower at `t`, from its first word to its chunk's end.
    #[inline]
    fn words(&self, t: u32) -> Option<&[u64]> {
        self.chunks.get((t >> TOWER_CHUNK_BITS) as usize)?.get(t as usize & (TOWER_CHUNK - 1)..)
    }

    fn words_mut(&mut self, t: u32) -> Option<&mut [u64]> {
        self.chunks.get_mut((t >> TOWER_CHUNK_BITS) as usize)?.get_mut(t as usize & (TOWER_CHUNK - 1)..)
    }

    /// A new tower of `height` (at least 2) for node `node`, all its links empty.
    fn alloc(&mut self, node: u32, height: usize) -> u32 {
        let size = 2 * height - 1;
        let header = u64::from(node) | (height as u64) << 32;
        let empty = u64::from(NIL);
        let fill = |words: &mut [u64]| {
            for (k, w) in words.iter_mut().take(size).enumerate() {
                *w = if k == 0 { header } else if k % 2 == 1 { 0 } else { empty };
            }
        };
        if let Some(&t) = self.free.get(height).filter(|&&t| t != NIL) {
            if let Some(words) = self.words_mut(t) {
                let next = words.first().map_or(NIL, |&w| w as u32);
                fill(words);
                if let Some(slot) = self.free.get_mut(height) {
                    *slot = next;
                }
                return t;
            }
        }
        if self.chunks.last().is_none_or(|c| c.len() + size > TOWER_CHUNK) {
            // The first chunk grows by doubling; later ones are allocated whole.
            self.chunks.push(if self.chunks.is_empty() { Vec::new() } else { Vec::with_capacity(TOWER_CHUNK) });
        }
        let chunk_index = self.chunks.len() - 1;
        match self.chunks.last_mut() {
            Some(chunk) => {
                let at = chunk.len();
                chunk.resize(at + size, 0);
                if let Some(words) = chunk.get_mut(at..) {
                    fill(words);
                }
                to_u32((chunk_index << TOWER_CHUNK_BITS) | at)
            }
            None => NIL,
        }
    }

    /// Returns tower `t` to its height's free list.
    fn release(&mut self, t: u32) {
        let height = self.height(t);
        if self.free.len() <= height {
            self.free.resize(height + 1, NIL);
        }
        let next = self.free.get(height).copied().unwrap_or(NIL);
        if let Some(w) = self.words_mut(t).and_then(|w| w.first_mut()) {
            *w = u64::from(next) | (height as u64) << 32;
        }
        if let Some(slot) = self.free.get_mut(height) {
            *slot = t;
        }
    }

    /// The node whose tower `t` is.
    #[inline]
    fn node(&self, t: u32) -> u32 {
        self.words(t).and_then(|w| w.first()).map_or(NIL, |&w| w as u32)
    }

    fn height(&self, t: u32) -> usize {
        self.words(t).and_then(|w| w.first()).map_or(1, |&w| (w >> 32) as usize)
    }

    /// Tower `t`'s link at `level` (1 or more), its forward as a tower.
    #[inline]
    fn link(&self, t: u32, level: usize) -> Link {
        let at = 2 * level - 1;
        match self.words(t).and_then(|w| w.get(at..at + 2)) {
            Some(&[score, rest]) => Link { score: f64::from_bits(score), forward: rest as u32, span: (rest >> 32) as usize },
            _ => NO_LINK,
        }
    }

    fn set_link(&mut self, t: u32, level: usize, link: Link) {
        let at = 2 * level - 1;
        if let Some(words) = self.words_mut(t).and_then(|w| w.get_mut(at..at + 2)) {
            words.copy_from_slice(&[link.score.to_bits(), u64::from(link.forward) | u64::from(to_u32(link.span)) << 32]);
        }
    }

    /// Heap bytes held (MEMORY USAGE).
    fn allocated_bytes(&self) -> usize {
        use super::super::memory::heap_block;
        let chunks: usize = self.chunks.iter().map(|c| heap_block(c.capacity() * std::mem::size_of::<u64>())).sum();
        chunks
            + heap_block(self.chunks.capacity() * std::mem::size_of::<Vec<u64>>())
            + heap_block(self.free.capacity() * std::mem::size_of::<u32>())
    }
}

/// A skip list of `(score, member)` with spans, ordered by score then member bytes, with a
/// member index beside it: the large sorted set in one structure that stores each member once.
#[derive(Debug, Clone)]
pub struct SkipList {
    /// The node arena; node `i` is `chunks[i >> CHUNK_BITS][i % CHUNK]`, node 0 the head.
    chunks: Vec<Vec<Node>>,
    /// The links above level 0; tower 0 is the head's, of height `MAX_LEVEL`.
    towers: Towers,
    /// The first free slot (freed slots chain through `forward0`), or `NIL`.
    free: u32,
    tail: u32,
    level: usize,
    len: usize,
    /// Node indices, hashed by their member's bytes (which live in the node only).
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
    /// State of the xorshift generator that draws node heights.
    rng: u64,
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList::new()
    }
}

/// The node at `i` in `chunks` (a free function so the index's hasher can borrow the arena
/// while the index itself is borrowed mutably).
#[inline]
fn arena_node(chunks: &[Vec<Node>], i: u32) -> Option<&Node> {
    chunks.get((i >> CHUNK_BITS) as usize)?.get(i as usize & (CHUNK - 1))
}

fn arena_member(chunks: &[Vec<Node>], i: u32) -> &[u8] {
    arena_node(chunks, i).map_or(&[], Node::member)
}

impl SkipList {
    /// An empty list.
    pub fn new() -> SkipList {
        let mut head = Node::new(0.0, &[]);
        let mut towers = Towers::default();
        head.tower = towers.alloc(HEAD, MAX_LEVEL);
        SkipList {
            chunks: vec![vec![head]],
            towers,
            free: NIL,
            tail: NIL,
            level: 1,
            len: 0,
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            rng: rand::random::<u64>() | 1,
        }
    }

    /// How many elements it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn node(&self, i: u32) -> Option<&Node> {
        arena_node(&self.chunks, i)
    }

    fn node_mut(&mut self, i: u32) -> Option<&mut Node> {
        self.chunks.get_mut((i >> CHUNK_BITS) as usize)?.get_mut(i as usize & (CHUNK - 1))
    }

    fn tower(&self, x: u32) -> u32 {
        self.node(x).map_or(NIL, |n| n.tower)
    }

    fn height(&self, x: u32) -> usize {
        match self.tower(x) {
            NIL => 1,
            t => self.towers.height(t),
        }
    }

    /// The node after `x` at level 0.
    fn forward(&self, x: u32) -> u32 {
        self.node(x).map_or(NIL, |n| n.forward0)
    }

    /// Whether the node with tower `t`, whose score is `t_score`, sorts before
    /// `(score, member)`: its member is read only on a score tie.
    #[inline]
    fn tower_before(&self, t: u32, t_score: f64, score: f64, member: &[u8]) -> bool {
        t_score < score || (t_score == score && arena_member(&self.chunks, self.towers.node(t)) < member)
    }

    fn set_forward(&mut self, x: u32, forward: u32) {
        if let Some(n) = self.node_mut(x) {
            n.forward0 = forward;
        }
    }

    fn set_backward(&mut self, x: u32, backward: u32) {
        if let Some(n) = self.node_mut(x) {
            n.backward = backward;
        }
    }

    /// A node height: 1, then one more with probability 1/4 each time (Redis's `ZSKIPLIST_P`),
    /// at most `MAX_LEVEL`, from one xorshift draw (two bits per level).
    fn random_level(&mut self) -> usize {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (1 + x.trailing_zeros() as usize / 2).min(MAX_LEVEL)
    }

    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    /// The node holding `member`.
    fn find(&self, member: &[u8]) -> Option<u32> {
        let chunks = &self.chunks;
        self.index.find(self.hash(member), |&i| arena_member(chunks, i) == member).copied()
    }

    /// The member's score.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).and_then(|i| self.node(i)).map(|n| n.score)
    }

    fn alloc(&mut self, node: Node) -> u32 {
        if self.free != NIL {
            let i = self.free;
            if let Some(slot) = self.node_mut(i) {
                let next = slot.forward0;
                *slot = node;
                self.free = next;
                return i;
            }
        }
        if self.chunks.last().is_none_or(|c| c.len() >= CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let chunk_index = self.chunks.len() - 1;
        match self.chunks.last_mut() {
            Some(chunk) => {
                chunk.push(node);
                to_u32((chunk_index << CHUNK_BITS) | (chunk.len() - 1))
            }
            None => NIL,
        }
    }

    fn release(&mut self, i: u32) {
        let free = self.free;
        let tower = self.tower(i);
        if tower != NIL {
            self.towers.release(tower);
        }
        if let Some(n) = self.node_mut(i) {
            n.member = Box::default();
            n.tower = NIL;
            n.forward0 = free;
            n.backward = NIL;
            self.free = i;
        }
    }

    /// The last node at each level that sorts before `(score, member)`, and its rank: at
    /// level 0 as a node, above as a tower (what the mutation paths use: `[HEAD; MAX_LEVEL]`
    /// means the head at every level, `HEAD_TOWER` being `HEAD`).
    // `update` and `rank` have MAX_LEVEL slots and `self.level` is at most MAX_LEVEL.
    #[allow(clippy::indexing_slicing)]
    fn path(&self, score: f64, member: &[u8], update: &mut [u32; MAX_LEVEL], rank: &mut [usize; MAX_LEVEL]) {
        let mut t = HEAD_TOWER;
        for i in (1..self.level).rev() {
            rank[i] = if i == self.level - 1 { 0 } else { rank[i + 1] };
            loop {
                let link = self.towers.link(t, i);
                if link.forward == NIL || !self.tower_before(link.forward, link.score, score, member) {
                    break;
                }
                rank[i] += link.span;
                t = link.forward;
            }
            update[i] = t;
        }
        rank[0] = if self.level == 1 { 0 } else { rank[1] };
        let mut x = self.towers.node(t);
        loop {
            let next = self.forward(x);
            match self.node(next) {
                Some(n) if sorts_before(n.score, &n.member, score, member) => {
                    rank[0] += 1;
                    x = next;
                }
                _ => break,
            }
        }
        update[0] = x;
    }

    /// Links node `x` (allocated, unlinked) at its place in the order.
    // `update` and `rank` have MAX_LEVEL slots and every level index is below `self.level`
    // or the node's height, both at most MAX_LEVEL: the indexing cannot go out of bounds.
    #[allow(clippy::indexing_slicing, clippy::needless_range_loop)]
    fn link_node(&mut self, x: u32) {
        let Some(score) = self.node(x).map(|n| n.score) else { return };
        let height = self.height(x);
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        self.path(score, arena_member(&self.chunks, x), &mut update, &mut rank);
        if height > self.level {
            for i in self.level..height {
                rank[i] = 0;
                update[i] = HEAD_TOWER;
                self.towers.set_link(HEAD_TOWER, i, Link { span: self.len, ..NO_LINK });
            }
            self.level = height;
        }
        let after = self.forward(update[0]);
        self.set_forward(x, after);
        self.set_forward(update[0], x);
        let tower = self.tower(x);
        for i in 1..height {
            let link = self.towers.link(update[i], i);
            self.towers.set_link(tower, i, Link { span: link.span - (rank[0] - rank[i]), ..link });
            self.towers.set_link(update[i], i, Link { forward: tower, span: rank[0] - rank[i] + 1, score });
        }
        for i in height.max(1)..self.level {
            let link = self.towers.link(update[i], i);
            self.towers.set_link(update[i], i, Link { span: link.span + 1, ..link });
        }
        self.set_backward(x, if update[0] == HEAD { NIL } else { update[0] });
        let next = self.forward(x);
        if next == NIL {
            self.tail = x;
        } else {
            self.set_backward(next, x);
        }
        self.len += 1;
    }

    /// The last node at each level that sorts before node `x` (as [`SkipList::path`] gives it).
    fn path_to(&self, x: u32) -> [u32; MAX_LEVEL] {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0usize; MAX_LEVEL];
        if let Some(n) = self.node(x) {
            self.path(n.score, n.member(), &mut update, &mut rank);
        }
        update
    }

    /// Unlinks node `x` from the order (it stays allocated and indexed).
    fn unlink_node(&mut self, x: u32) {
        let update = self.path_to(x);
        self.unlink_after(x, &update);
    }

    /// Unlinks node `x`, given the last node before it at each level (`update`, as
    /// [`SkipList::path_to`] finds it).
    // `update` has MAX_LEVEL slots and every level index is below `self.level`.
    #[allow(clippy::indexing_slicing, clippy::needless_range_loop)]
    fn unlink_after(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        let next = self.forward(x);
        if self.forward(update[0]) != x {
            return;
        }
        self.set_forward(update[0], next);
        let tower = self.tower(x);
        for i in 1..self.level {
            let link = self.towers.link(update[i], i);
            if tower != NIL && link.forward == tower {
                let skipped = self.towers.link(tower, i);
                self.towers.set_link(update[i], i, Link { span: link.span + skipped.span - 1, ..skipped });
            } else {
                self.towers.set_link(update[i], i, Link { span: link.span.saturating_sub(1), ..link });
            }
        }
        let back = self.node(x).map_or(NIL, |n| n.backward);
        if next == NIL {
            self.tail = back;
        } else {
            self.set_backward(next, back);
        }
        while self.level > 1 && self.towers.link(HEAD_TOWER, self.level - 1).forward == NIL {
            self.level -= 1;
        }
        self.len -= 1;
    }

    /// Sets the member's score, adding it if new.
    pub fn add(&mut self, member: &[u8], score: f64) -> AddOutcome {
        let hash = self.hash(member);
        let chunks = &self.chunks;
        let found = self.index.find(hash, |&i| arena_member(chunks, i) == member).copied();
        match found {
            Some(x) => {
                let Some(node) = self.node(x) else { return AddOutcome::Unchanged };
                if node.score == score {
                    return AddOutcome::Unchanged;
                }
                // Redis's zslUpdateScore: if the node stays between its neighbours, only the
                // score changes (and the copies of it cached in the links that lead to it);
                // otherwise it moves, keeping its slot (and index entry).
                let stays = self.node(node.backward).is_none_or(|b| sorts_before(b.score, b.member(), score, member))
                    && self.node(node.forward0).is_none_or(|f| sorts_before(score, member, f.score, f.member()));
                let height = self.height(x);
                // A node of height 1 (three in four) has no link above level 0 leading to it.
                let update = if stays && height == 1 { [HEAD; MAX_LEVEL] } else { self.path_to(x) };
                if !stays {
                    self.unlink_after(x, &update);
                }
                if let Some(n) = self.node_mut(x) {
                    n.score = score;
                }
                if stays {
                    for (level, &prev) in update.iter().enumerate().take(height).skip(1) {
                        let link = self.towers.link(prev, level);
                        self.towers.set_link(prev, level, Link { score, ..link });
                    }
                } else {
                    self.link_node(x);
                }
                AddOutcome::Updated
            }
            None => {
                let height = self.random_level();
                let x = self.alloc(Node::new(score, member));
                if height > 1 {
                    let tower = self.towers.alloc(x, height);
                    if let Some(n) = self.node_mut(x) {
                        n.tower = tower;
                    }
                }
                self.link_node(x);
                let chunks = &self.chunks;
                let hasher = &self.hasher;
                self.index.insert_unique(hash, x, |&i| hasher.hash_one(arena_member(chunks, i)));
                AddOutcome::Added
            }
        }
    }

    /// Removes the member; returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let hash = self.hash(member);
        let chunks = &self.chunks;
        let Ok(entry) = self.index.find_entry(hash, |&i| arena_member(chunks, i) == member) else { return false };
        let (x, _) = entry.remove();
        self.unlink_node(x);
        self.release(x);
        true
    }

    /// How many elements come before the first one for which `is_before` is false, and the
    /// last element for which it holds (the head if none does).
    /// `is_before(score, member)` must be true for a prefix of the order and false after; it
    /// gets the member as a [`MemberOf`] so a score comparison never reads it.
    fn last_before(&self, is_before: impl Fn(f64, MemberOf<'_>) -> bool) -> (usize, u32) {
        let mut t = HEAD_TOWER;
        let mut rank = 0;
        for i in (1..self.level).rev() {
            loop {
                let link = self.towers.link(t, i);
                if link.forward == NIL || !is_before(link.score, MemberOf { list: self, node: NIL, tower: link.forward }) {
                    break;
                }
                rank += link.span;
                t = link.forward;
            }
        }
        let mut x = self.towers.node(t);
        loop {
            let next = self.forward(x);
            match self.node(next) {
                Some(n) if is_before(n.score, MemberOf { list: self, node: next, tower: NIL }) => {
                    rank += 1;
                    x = next;
                }
                _ => break,
            }
        }
        (rank, x)
    }

    /// How many elements come before the first one for which `is_before` is false.
    /// `is_before(score, member)` must be true for a prefix of the order and false after.
    pub fn count_before(&self, is_before: impl Fn(f64, MemberOf<'_>) -> bool) -> usize {
        self.last_before(is_before).0
    }

    /// The member's 0-based rank and score, if present: one walk that stops on the node
    /// itself (Redis's `zslGetRank`).
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let target = self.find(member)?;
        let (score, target_tower) = self.node(target).map(|n| (n.score, n.tower))?;
        let mut t = HEAD_TOWER;
        let mut rank = 0;
        for i in (1..self.level).rev() {
            loop {
                let link = self.towers.link(t, i);
                if link.forward == NIL
                    || (link.forward != target_tower && !self.tower_before(link.forward, link.score, score, member))
                {
                    break;
                }
                rank += link.span;
                t = link.forward;
            }
            if t == target_tower {
                return Some((rank - 1, score));
            }
        }
        let mut x = self.towers.node(t);
        loop {
            let next = self.forward(x);
            match self.node(next) {
                Some(n) if next == target || sorts_before(n.score, &n.member, score, member) => {
                    rank += 1;
                    x = next;
                }
                _ => break,
            }
            if x == target {
                return Some((rank - 1, score));
            }
        }
        None
    }

    fn node_at(&self, rank: usize) -> u32 {
        if rank >= self.len {
            return NIL;
        }
        let target = rank + 1;
        let mut t = HEAD_TOWER;
        let mut traversed = 0;
        for i in (1..self.level).rev() {
            loop {
                let link = self.towers.link(t, i);
                if link.forward != NIL && traversed + link.span <= target {
                    traversed += link.span;
                    t = link.forward;
                } else {
                    break;
                }
            }
            if traversed == target {
                return self.towers.node(t);
            }
        }
        let mut x = self.towers.node(t);
        while traversed < target && x != NIL {
            x = self.forward(x);
            traversed += 1;
        }
        x
    }

    /// The element at 0-based `rank`.
    pub fn get(&self, rank: usize) -> Option<(f64, &[u8])> {
        self.node(self.node_at(rank)).map(|n| (n.score, n.member()))
    }

    /// Elements from rank `start` onwards (towards higher ranks, or lower when `rev`).
    pub fn iter_from(&self, start: usize, rev: bool) -> Iter<'_> {
        Iter { list: self, at: self.node_at(start), rev }
    }

    /// Every element in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter { list: self, at: self.forward(HEAD), rev: false }
    }

    /// Removes and returns the first element (the last when `last`). Popping the first costs
    /// no walk: its predecessor is the head at every level.
    pub fn pop(&mut self, last: bool) -> Option<(Bytes, f64)> {
        let x = if last { self.tail } else { self.forward(HEAD) };
        let (member, score) = self.node(x).map(|n| (Bytes::copy_from_slice(n.member()), n.score))?;
        if let Ok(entry) = self.index.find_entry(self.hash(&member), |&i| i == x) {
            entry.remove();
        }
        let update = if last { self.path_to(x) } else { [HEAD; MAX_LEVEL] };
        self.unlink_after(x, &update);
        self.release(x);
        Some((member, score))
    }

    /// The last element.
    pub fn last(&self) -> Option<(f64, &[u8])> {
        self.node(self.tail).map(|n| (n.score, n.member()))
    }

    /// Up to `limit` elements of `range`, skipping the first `offset`, ascending or (when
    /// `rev`) descending: one walk to the first element, then the level-0 links (Redis's
    /// `zslNthInRange` and iteration); the far end of the range costs no walk.
    pub fn range(&self, range: &Range, rev: bool, offset: usize, limit: usize) -> Vec<(Bytes, f64)> {
        let mut at = if rev {
            let (within, last) = self.last_before(|s, m| !range.above_max_with(s, || m.get()));
            match offset {
                0 if within > 0 => last,
                _ if offset < within => self.node_at(within - 1 - offset),
                _ => NIL,
            }
        } else {
            let (below, last_below) = self.last_before(|s, m| range.below_min_with(s, || m.get()));
            if offset == 0 { self.forward(last_below) } else { self.node_at(below + offset) }
        };
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(n) = self.node(at) else { break };
            if at == HEAD || (rev && range.below_min(n.score, n.member())) || (!rev && range.above_max(n.score, n.member())) {
                break;
            }
            out.push((Bytes::copy_from_slice(n.member()), n.score));
            at = if rev { n.backward } else { n.forward0 };
        }
        out
    }

    /// An estimate of the heap bytes the list holds: the arena chunks, each node's member
    /// block, the tower arena and the member index.
    pub fn allocated_bytes(&self) -> usize {
        use super::super::memory::heap_block;
        let chunks: usize = self.chunks.iter().map(|c| heap_block(c.capacity() * std::mem::size_of::<Node>())).sum();
        let members: usize = self.chunks.iter().flatten().map(|n| heap_block(n.member.len())).sum();
        heap_block(self.chunks.capacity() * std::mem::size_of::<Vec<Node>>())
            + chunks
            + members
            + self.towers.allocated_bytes()
            + super::super::memory::hashmap_bytes(self.index.capacity(), std::mem::size_of::<u32>())
    }
}

/// A node's member, read only if asked for (a walk's comparison by score never reads it).
#[derive(Clone, Copy)]
pub struct MemberOf<'a> {
    list: &'a SkipList,
    /// The node, or `NIL` when only its tower is at hand.
    node: u32,
    tower: u32,
}

impl<'a> MemberOf<'a> {
    /// The member's bytes.
    pub fn get(self) -> &'a [u8] {
        let node = if self.node == NIL { self.list.towers.node(self.tower) } else { self.node };
        arena_member(&self.list.chunks, node)
    }
}

/// An iterator over `(score, member)` along the level-0 links.
pub struct Iter<'a> {
    list: &'a SkipList,
    at: u32,
    rev: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (f64, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at == HEAD {
            return None;
        }
        let node = self.list.node(self.at)?;
        self.at = if self.rev { node.backward } else { node.forward0 };
        Some((node.score, node.member()))
    }
}


#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    impl SkipList {
    /// Node `x`'s link at `level`, its forward as a node; `score` is the forward node's above
    /// level 0 and meaningless at level 0 (the mutation paths' view of a link).
    fn upper(&self, x: u32, level: usize) -> Link {
        if level == 0 {
            return Link { forward: self.forward(x), span: 1, score: 0.0 };
        }
        let link = self.towers.link(self.tower(x), level);
        Link { forward: if link.forward == NIL { NIL } else { self.towers.node(link.forward) }, ..link }
    }

        /// Checks every link: it leads to the next node of its level, jumps over as many
        /// level-0 nodes as its span says, and caches the score of the node it leads to.
        fn check_links(&self) {
            let order: Vec<u32> = {
                let mut out = Vec::new();
                let mut x = self.forward(HEAD);
                while x != NIL {
                    out.push(x);
                    x = self.forward(x);
                }
                out
            };
            assert_eq!(order.len(), self.len);
            let rank_of = |x: u32| order.iter().position(|&y| y == x).map_or(0, |r| r + 1);
            for level in 1..self.level {
                let mut x = HEAD;
                loop {
                    let link = self.upper(x, level);
                    let next = order[rank_of(x)..].iter().copied().find(|&y| self.height(y) > level);
                    assert_eq!(link.forward, next.unwrap_or(NIL), "level {level} link from {x}");
                    let Some(next) = next else { break };
                    assert_eq!(link.span, rank_of(next) - rank_of(x), "span at level {level} from {x}");
                    assert_eq!(link.score.to_bits(), self.node(next).unwrap().score.to_bits(), "cached score at level {level}");
                    x = next;
                }
            }
        }
    }

    #[test]
    fn links_keep_their_spans_and_cached_scores_through_adds_updates_removes_and_pops() {
        let mut list = SkipList::new();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for round in 0..4000 {
            let member = format!("m{}", next() % 600);
            let score = (next() % 50) as f64;
            match next() % 10 {
                0..=5 => {
                    list.add(member.as_bytes(), score);
                }
                // Small moves, which mostly leave the node between its neighbours.
                6 => {
                    if let Some(old) = list.score(member.as_bytes()) {
                        list.add(member.as_bytes(), old + 0.25);
                    }
                }
                7 => {
                    list.remove(member.as_bytes());
                }
                _ => {
                    list.pop(round % 2 == 0);
                }
            }
            if round % 97 == 0 {
                list.check_links();
            }
        }
        list.check_links();
        let all: Vec<(f64, Vec<u8>)> = list.iter().map(|(s, m)| (s, m.to_vec())).collect();
        for (rank, (score, member)) in all.iter().enumerate() {
            assert_eq!(list.rank(member), Some((rank, *score)));
        }
    }

    #[test]
    fn towers_spread_over_several_arena_chunks_keep_ranks_and_reuse_freed_towers() {
        let mut list = SkipList::new();
        let n = 40_000u64;
        // Members in a scrambled order, so towers and nodes are not laid out in rank order.
        for i in 0..n {
            let m = (i * 7919) % n;
            list.add(format!("m{m:06}").as_bytes(), (m % 1000) as f64);
        }
        assert!(list.towers.chunks.len() > 1, "the test should cross a tower chunk");
        for m in (0..n).step_by(3) {
            assert!(list.remove(format!("m{m:06}").as_bytes()));
        }
        let words_before = list.towers.chunks.iter().map(Vec::len).sum::<usize>();
        for m in (0..n).step_by(3) {
            list.add(format!("m{m:06}").as_bytes(), (m % 1000) as f64 + 0.5);
        }
        // Re-adding as many nodes as were removed mostly reuses the freed towers.
        let words_after = list.towers.chunks.iter().map(Vec::len).sum::<usize>();
        assert!(words_after < words_before + words_before / 4, "{words_before} -> {words_after}");
        let all: Vec<(f64, Vec<u8>)> = list.iter().map(|(s, m)| (s, m.to_vec())).collect();
        assert_eq!(all.len() as u64, n);
        assert!(all.windows(2).all(|w| sorts_before(w[0].0, &w[0].1, w[1].0, &w[1].1)));
        for (rank, (score, member)) in all.iter().enumerate().step_by(97) {
            assert_eq!(list.rank(member), Some((rank, *score)));
            assert_eq!(list.get(rank).map(|(s, m)| (s, m.to_vec())), Some((*score, member.clone())));
        }
    }
}
