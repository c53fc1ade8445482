//! The hash value: field → value, compact while small, hashed when large.
//!
//! # Layout
//! A small [`struct@Hash`] is one [`Pairs`] block (an exact-size allocation, `block.rs`)
//! holding `field, value, field, value, ...` back to back in insertion order, like Redis's
//! listpack, each with a one-byte length while short; a field that starts like the one before
//! it stores only its tail (front coding: `field:1`, `field:2`, ... cost their last bytes).
//! Lookups walk it; that is cheaper than hashing for the 128 short entries it may hold, and it
//! costs about one byte of overhead per field and per value instead of a heap object per
//! field. The [`struct@Hash`] itself is 16 bytes and sits unboxed in its
//! key's entry: a small hash costs its key's entry and one block. The table form and a compact
//! hash with field deadlines sit behind one box.
//!
//! Past `hash-max-listpack-entries` fields, or once a field or value is longer than
//! `hash-max-listpack-value` bytes, it becomes a [`Table`] and never goes back (as in Redis).
//!
//! Field deadlines (HEXPIRE, ...) live beside either form in a field → deadline map and a
//! deadline-ordered set, so the fields due are found in order without a scan; a hash that ever
//! had one reports `listpackex` while compact, as Redis does.
//!
//! # Why a table ordered by hash
//! The large form is a `BTreeMap` keyed by the field's keyed 64-bit hash (the keyspace's own
//! hash), not a `HashMap`; each entry is the hash and one block holding field and value
//! (`varint(field length) | field | value`), 24 bytes in the tree plus the block. Its order never changes as fields come and go, so an `HSCAN` cursor
//! is simply "the next hash to visit" and keeps SCAN's guarantee (every field present for the
//! whole scan is returned) with no rehashing to dodge; and a random field is the first one at
//! or after a random hash, in O(log n), which `HRANDFIELD`, `SPOP` and `SRANDMEMBER` need.
//! The picks are as uniform as the gaps between hashes, which like Redis's bucket sampling is
//! close to but not exactly uniform.

use super::block::Block;
use super::varint::{read_varint, write_varint};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// When a compact hash turns into a table (`hash-max-listpack-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// Most fields in the compact form.
    pub max_entries: usize,
    /// Longest field or value in the compact form.
    pub max_value: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits { max_entries: 128, max_value: 64 }
    }
}

// ---------------------------------------------------------------------------------------
// Packed entries
// ---------------------------------------------------------------------------------------

/// Byte strings packed back to back in one [`Block`], each `varint(len) | bytes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packed(Block);

/// One entry of a [`Packed`] vector: where it lies and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct PackedEntry<'a> {
    /// Offset of the entry's length prefix.
    pub start: usize,
    /// Offset just past the entry.
    pub end: usize,
    /// The entry's bytes.
    pub bytes: &'a [u8],
}

/// The entries of a [`Packed`] vector, in order.
pub struct PackedIter<'a> {
    data: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = PackedEntry<'a>;

    fn next(&mut self) -> Option<PackedEntry<'a>> {
        if self.left == 0 {
            return None;
        }
        let (len, used) = read_varint(self.data, self.pos)?;
        let begin = self.pos + used;
        let bytes = self.data.get(begin..begin + len)?;
        let entry = PackedEntry { start: self.pos, end: begin + len, bytes };
        self.pos = begin + len;
        self.left -= 1;
        Some(entry)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl Packed {
    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.0.count()
    }

    /// Whether it holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends an entry.
    pub fn push(&mut self, bytes: &[u8]) {
        self.push_all(&[bytes]);
    }

    /// Appends entries, growing the block once.
    pub fn push_all(&mut self, entries: &[&[u8]]) {
        let mut encoded = Vec::with_capacity(entries.iter().map(|e| e.len() + 2).sum());
        for bytes in entries {
            write_varint(&mut encoded, bytes.len());
            encoded.extend_from_slice(bytes);
        }
        self.0.append(&encoded, self.len() + entries.len());
    }

    /// The entries in order.
    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter { data: self.0.body(), pos: 0, left: self.len() }
    }

    /// Removes the entries occupying `start..end` (`removed` of them).
    pub fn remove_span(&mut self, start: usize, end: usize, removed: usize) {
        self.0.splice(start, end, &[], self.len().saturating_sub(removed));
    }

    /// Replaces the entry at `start..end` by `bytes`.
    pub fn replace(&mut self, start: usize, end: usize, bytes: &[u8]) {
        let mut entry = Vec::with_capacity(bytes.len() + 2);
        write_varint(&mut entry, bytes.len());
        entry.extend_from_slice(bytes);
        self.0.splice(start, end, &entry, self.len());
    }

    /// Bytes held, for memory reports.
    pub fn allocated_bytes(&self) -> usize {
        self.0.allocated_bytes()
    }
}

// ---------------------------------------------------------------------------------------
// Packed field-value pairs
// ---------------------------------------------------------------------------------------

/// Shortest prefix worth sharing with the previous field (sharing costs a byte).
const MIN_SHARED: usize = 2;

/// A small hash's fields and values in one [`Block`], in insertion order. Each pair is
/// `varint(suffix length << 1 | shares) [varint(shared)] suffix | varint(value length) | value`:
/// a field that begins with the same `shared` (at least [`MIN_SHARED`]) bytes as the field
/// before it stores only the rest (front coding; `shares` says whether it does). Fields with
/// nothing in common cost what a plain length prefix costs; `field:1`, `field:2`, ... or
/// `user:1000:name`-style fields cost their distinct tails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs(Block);

/// One pair of a [`Pairs`] block as read in place.
struct PairAt<'a> {
    /// Offset of the pair's first byte.
    start: usize,
    /// Offset of the value's length prefix.
    value_start: usize,
    /// Offset just past the pair.
    end: usize,
    /// Bytes the field shares with the previous field.
    shared: usize,
    /// The field's bytes after the shared ones.
    suffix: &'a [u8],
    value: &'a [u8],
}

/// Reads the pair at `pos`.
fn read_pair(data: &[u8], pos: usize) -> Option<PairAt<'_>> {
    let (head, used) = read_varint(data, pos)?;
    let mut at = pos + used;
    let shared = if head & 1 == 1 {
        let (shared, used) = read_varint(data, at)?;
        at += used;
        shared
    } else {
        0
    };
    let suffix = data.get(at..at + (head >> 1))?;
    at += suffix.len();
    let value_start = at;
    let (len, used) = read_varint(data, at)?;
    at += used;
    let value = data.get(at..at + len)?;
    Some(PairAt { start: pos, value_start, end: at + len, shared, suffix, value })
}

/// Appends `field`'s encoding after a field `previous`.
fn write_field(out: &mut Vec<u8>, previous: &[u8], field: &[u8]) {
    let shared = previous.iter().zip(field).take_while(|(a, b)| a == b).count();
    match field.get(shared..) {
        Some(suffix) if shared >= MIN_SHARED => {
            write_varint(out, suffix.len() << 1 | 1);
            write_varint(out, shared);
            out.extend_from_slice(suffix);
        }
        _ => {
            write_varint(out, field.len() << 1);
            out.extend_from_slice(field);
        }
    }
}

/// Appends a value's encoding.
fn write_value(out: &mut Vec<u8>, value: &[u8]) {
    write_varint(out, value.len());
    out.extend_from_slice(value);
}

/// The pairs of a [`Pairs`] block in order, each field rebuilt in the walker's own buffer.
struct PairWalk<'a> {
    data: &'a [u8],
    pos: usize,
    left: usize,
    /// The current pair's field.
    field: Vec<u8>,
}

impl<'a> PairWalk<'a> {
    /// The next pair; its field is then in `self.field`.
    fn next_pair(&mut self) -> Option<PairAt<'a>> {
        if self.left == 0 {
            return None;
        }
        let pair = read_pair(self.data, self.pos)?;
        self.field.truncate(pair.shared);
        self.field.extend_from_slice(pair.suffix);
        self.pos = pair.end;
        self.left -= 1;
        Some(pair)
    }
}

impl Pairs {
    /// How many pairs it holds.
    pub fn len(&self) -> usize {
        self.0.count()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn walk(&self) -> PairWalk<'_> {
        PairWalk { data: self.0.body(), pos: 0, left: self.len(), field: Vec::new() }
    }

    /// The pair whose field is `field`, found without rebuilding fields: `matched` is how
    /// many leading bytes `field` has in common with the field just read, and a field that
    /// keeps more of the one before it than `matched` cannot be `field`.
    fn find(&self, field: &[u8]) -> Option<PairAt<'_>> {
        let data = self.0.body();
        let (mut pos, mut matched) = (0, 0);
        for _ in 0..self.len() {
            let pair = read_pair(data, pos)?;
            if pair.shared <= matched {
                let rest = field.get(pair.shared..).unwrap_or_default();
                matched = pair.shared + rest.iter().zip(pair.suffix).take_while(|(a, b)| a == b).count();
                if matched == field.len() && pair.suffix.len() == rest.len() {
                    return Some(pair);
                }
            }
            pos = pair.end;
        }
        None
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.find(field).map(|pair| pair.value)
    }

    /// Sets `field` to `value`; returns whether the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let mut encoded = Vec::with_capacity(field.len() + value.len() + 4);
        if let Some(pair) = self.find(field) {
            write_value(&mut encoded, value);
            let (start, end) = (pair.value_start, pair.end);
            self.0.splice(start, end, &encoded, self.len());
            return false;
        }
        // A new field goes last, written against the last field.
        let mut walk = self.walk();
        while walk.next_pair().is_some() {}
        write_field(&mut encoded, &walk.field, field);
        write_value(&mut encoded, value);
        self.0.append(&encoded, self.len() + 1);
        true
    }

    /// Removes `field`; returns whether it was there. The next field is written again
    /// against the one before the removed pair.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        let mut walk = self.walk();
        let mut previous = Vec::new();
        while let Some(pair) = walk.next_pair() {
            if walk.field != field {
                previous.clone_from(&walk.field);
                continue;
            }
            let (start, mut end) = (pair.start, pair.end);
            let mut encoded = Vec::new();
            if let Some(next) = walk.next_pair() {
                write_field(&mut encoded, &previous, &walk.field);
                end = next.value_start;
            }
            let count = self.len() - 1;
            self.0.splice(start, end, &encoded, count);
            return true;
        }
        false
    }

    /// Calls `visit` on each `(field, value)` in order.
    pub fn for_each(&self, mut visit: impl FnMut(&[u8], &[u8])) {
        let mut walk = self.walk();
        while let Some(pair) = walk.next_pair() {
            visit(&walk.field, pair.value);
        }
    }

    /// The pair at position `index`, owned.
    pub fn nth(&self, index: usize) -> Option<(Bytes, Bytes)> {
        let mut walk = self.walk();
        for _ in 0..index {
            walk.next_pair()?;
        }
        let pair = walk.next_pair()?;
        Some((Bytes::copy_from_slice(&walk.field), Bytes::copy_from_slice(pair.value)))
    }

    /// Bytes held, for memory reports.
    pub fn allocated_bytes(&self) -> usize {
        self.0.allocated_bytes()
    }
}

// ---------------------------------------------------------------------------------------
// The large form
// ---------------------------------------------------------------------------------------

fn field_hash(field: &[u8]) -> u64 {
    super::db::key_hash(field)
}

/// What a [`Table`] stores: one heap block per entry, found by its key.
pub trait TableEntry {
    /// The bytes the entry is found by (a set member, a hash field).
    fn key(&self) -> &[u8];
    /// The heap bytes the entry holds (for MEMORY USAGE).
    fn heap_bytes(&self) -> usize;
}

/// A set member: its bytes in one exact-size block.
impl TableEntry for Box<[u8]> {
    fn key(&self) -> &[u8] {
        self
    }

    fn heap_bytes(&self) -> usize {
        super::memory::heap_block(self.len())
    }
}

/// A hash field and its value in one block: `varint(field length) | field | value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldValue(Box<[u8]>);

impl FieldValue {
    /// Packs `field` and `value` into one block.
    pub fn new(field: &[u8], value: &[u8]) -> FieldValue {
        let mut data = Vec::with_capacity(field.len() + value.len() + 2);
        write_varint(&mut data, field.len());
        data.extend_from_slice(field);
        data.extend_from_slice(value);
        FieldValue(data.into_boxed_slice())
    }

    /// Where the field ends and the value starts.
    fn split(&self) -> (&[u8], &[u8]) {
        let Some((len, used)) = read_varint(&self.0, 0) else { return (&[], &[]) };
        let rest = self.0.get(used..).unwrap_or_default();
        rest.split_at(len.min(rest.len()))
    }

    /// The field.
    pub fn field(&self) -> &[u8] {
        self.split().0
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        self.split().1
    }
}

impl TableEntry for FieldValue {
    fn key(&self) -> &[u8] {
        self.field()
    }

    fn heap_bytes(&self) -> usize {
        super::memory::heap_block(self.0.len())
    }
}

/// Entries ordered by the keyed hash of their key (see the module docs for why). Each hash
/// position holds one entry inline in the B-tree; the rare entries whose keys share a 64-bit
/// hash with another wait in `more`, so the common case pays nothing for collisions.
#[derive(Debug, Clone)]
pub struct Table<E> {
    slots: BTreeMap<u64, E>,
    more: BTreeMap<u64, Vec<E>>,
    len: usize,
}

impl<E> Default for Table<E> {
    fn default() -> Self {
        Table { slots: BTreeMap::new(), more: BTreeMap::new(), len: 0 }
    }
}

impl<E: TableEntry> Table<E> {
    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry with `key`.
    pub fn get(&self, key: &[u8]) -> Option<&E> {
        let hash = field_hash(key);
        let first = self.slots.get(&hash)?;
        if first.key() == key {
            return Some(first);
        }
        self.more.get(&hash)?.iter().find(|e| e.key() == key)
    }

    /// Stores `entry`, replacing the one with the same key; returns the replaced entry.
    pub fn insert(&mut self, entry: E) -> Option<E> {
        let hash = field_hash(entry.key());
        match self.slots.entry(hash) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(entry);
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                if slot.get().key() == entry.key() {
                    return Some(std::mem::replace(slot.get_mut(), entry));
                }
                let list = self.more.entry(hash).or_default();
                if let Some(same) = list.iter_mut().find(|e| e.key() == entry.key()) {
                    return Some(std::mem::replace(same, entry));
                }
                list.push(entry);
            }
        }
        self.len += 1;
        None
    }

    /// Removes the entry with `key`; returns it if it was there.
    pub fn remove(&mut self, key: &[u8]) -> Option<E> {
        let hash = field_hash(key);
        let removed = if self.slots.get(&hash)?.key() == key {
            let removed = self.slots.remove(&hash);
            // A colliding entry takes the freed place.
            if let Some(list) = self.more.get_mut(&hash) {
                if let Some(next) = list.pop() {
                    self.slots.insert(hash, next);
                }
                if list.is_empty() {
                    self.more.remove(&hash);
                }
            }
            removed
        } else {
            let list = self.more.get_mut(&hash)?;
            let at = list.iter().position(|e| e.key() == key)?;
            let removed = list.swap_remove(at);
            if list.is_empty() {
                self.more.remove(&hash);
            }
            Some(removed)
        };
        self.len -= 1;
        removed
    }

    /// The entries at one hash position.
    fn at<'a>(&'a self, hash: u64, first: &'a E) -> impl Iterator<Item = &'a E> {
        let more = if self.more.is_empty() { None } else { self.more.get(&hash) };
        std::iter::once(first).chain(more.into_iter().flatten())
    }

    /// Every entry, in hash order.
    pub fn iter(&self) -> impl Iterator<Item = &E> {
        self.slots.iter().flat_map(|(&hash, first)| self.at(hash, first))
    }

    /// The entry at the first hash at or after `position` (wrapping): a random pick when
    /// `position` is random.
    pub fn near(&self, position: u64) -> Option<&E> {
        self.slots.range(position..).next().or_else(|| self.slots.iter().next()).map(|(_, e)| e)
    }

    /// An estimate of the heap bytes held (see [`super::memory`]): the B-tree of entries,
    /// the collision lists, and each entry's block.
    pub fn allocated_bytes(&self) -> usize {
        use super::memory::{btree_bytes, heap_block};
        let slots = btree_bytes(self.slots.len(), std::mem::size_of::<(u64, E)>());
        let more = btree_bytes(self.more.len(), std::mem::size_of::<(u64, Vec<E>)>())
            + self.more.values().map(|l| heap_block(l.capacity() * std::mem::size_of::<E>())).sum::<usize>();
        slots + more + self.iter().map(E::heap_bytes).sum::<usize>()
    }

    /// One page of a scan from `cursor`: entries from at least `count` hash positions when
    /// that many remain, and the cursor for the next page (0 when done). Entries present for
    /// the whole scan are all returned, however others come and go in between.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<&E>) {
        let want = count.max(1);
        let mut out = Vec::new();
        for (visited, (&hash, first)) in self.slots.range(cursor..).enumerate() {
            if visited >= want {
                return (hash, out);
            }
            out.extend(self.at(hash, first));
        }
        // Cursor 0 means both "start" and "done": a page never stops before hash 0, the first
        // position, because it always visits at least one position.
        (0, out)
    }
}

// ---------------------------------------------------------------------------------------
// The hash value
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Repr {
    Packed(Pairs),
    Table(Table<FieldValue>),
}

/// Per-field deadlines (HEXPIRE and friends), indexed both ways.
#[derive(Debug, Clone, Default)]
struct FieldTtls {
    by_field: HashMap<Bytes, u64>,
    by_deadline: BTreeSet<(u64, Bytes)>,
}

/// A hash value (see the module docs for its forms): 16 bytes, so that a [`super::Value`]
/// holds it without a box of its own, and a small hash costs one block.
#[derive(Debug, Clone)]
pub struct Hash(Form);

#[derive(Debug, Clone)]
enum Form {
    /// Compact and never given a field deadline (`listpack`): the common small hash.
    Packed(Pairs),
    /// A table, or a compact hash with field deadlines (`listpackex`).
    Boxed(Box<Boxed>),
}

/// The less common forms, behind one box.
#[derive(Debug, Clone)]
struct Boxed {
    repr: Repr,
    /// Field deadlines in Unix ms; `Some` once any field was given one (Redis's `listpackex`
    /// encoding stays even when the deadlines are gone).
    ttls: Option<FieldTtls>,
}

/// A hash's fields, whichever form holds them.
enum View<'a> {
    Packed(&'a Pairs),
    Table(&'a Table<FieldValue>),
}

/// A hash's fields for writing, whichever form holds them.
enum ViewMut<'a> {
    Packed(&'a mut Pairs),
    Table(&'a mut Table<FieldValue>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash(Form::Packed(Pairs::default()))
    }
}

impl Hash {
    /// An empty hash in the compact form.
    pub fn new() -> Hash {
        Hash::default()
    }

    fn view(&self) -> View<'_> {
        match &self.0 {
            Form::Packed(p) => View::Packed(p),
            Form::Boxed(b) => match &b.repr {
                Repr::Packed(p) => View::Packed(p),
                Repr::Table(t) => View::Table(t),
            },
        }
    }

    fn view_mut(&mut self) -> ViewMut<'_> {
        match &mut self.0 {
            Form::Packed(p) => ViewMut::Packed(p),
            Form::Boxed(b) => match &mut b.repr {
                Repr::Packed(p) => ViewMut::Packed(p),
                Repr::Table(t) => ViewMut::Table(t),
            },
        }
    }

    fn is_packed(&self) -> bool {
        matches!(self.view(), View::Packed(_))
    }

    fn ttls(&self) -> Option<&FieldTtls> {
        match &self.0 {
            Form::Packed(_) => None,
            Form::Boxed(b) => b.ttls.as_ref(),
        }
    }

    fn ttls_mut(&mut self) -> Option<&mut FieldTtls> {
        match &mut self.0 {
            Form::Packed(_) => None,
            Form::Boxed(b) => b.ttls.as_mut(),
        }
    }

    /// Runs `f` on the boxed form, moving a plain compact hash into it first.
    fn with_boxed<R>(&mut self, f: impl FnOnce(&mut Boxed) -> R) -> R {
        match &mut self.0 {
            Form::Boxed(b) => f(b),
            Form::Packed(p) => {
                let mut boxed = Box::new(Boxed { repr: Repr::Packed(std::mem::take(p)), ttls: None });
                let result = f(&mut boxed);
                self.0 = Form::Boxed(boxed);
                result
            }
        }
    }

    /// How many fields it holds.
    pub fn len(&self) -> usize {
        match self.view() {
            View::Packed(p) => p.len(),
            View::Table(t) => t.len(),
        }
    }

    /// Whether it holds no fields (an empty hash is deleted from the keyspace).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match self.view() {
            View::Packed(_) if self.ttls().is_some() => "listpackex",
            View::Packed(_) => "listpack",
            View::Table(_) => "hashtable",
        }
    }

    /// The deadline of `field` in Unix ms, if it has one.
    pub fn field_expiry(&self, field: &[u8]) -> Option<u64> {
        self.ttls()?.by_field.get(field).copied()
    }

    /// Sets (or with `None` clears) the deadline of an existing `field`.
    pub fn set_field_expiry(&mut self, field: &[u8], deadline: Option<u64>) {
        if deadline.is_none() && self.ttls().is_none() {
            return;
        }
        self.with_boxed(|boxed| {
            let ttls = boxed.ttls.get_or_insert_with(FieldTtls::default);
            let owned = Bytes::copy_from_slice(field);
            if let Some(old) = ttls.by_field.remove(field) {
                ttls.by_deadline.remove(&(old, owned.clone()));
            }
            if let Some(deadline) = deadline {
                ttls.by_field.insert(owned.clone(), deadline);
                ttls.by_deadline.insert((deadline, owned));
            }
        });
    }

    /// Removes every field whose deadline is at or before `now_ms`; returns how many.
    pub fn expire_fields(&mut self, now_ms: u64) -> usize {
        let mut due = Vec::new();
        if let Some(ttls) = self.ttls_mut() {
            while let Some((deadline, field)) = ttls.by_deadline.first().cloned() {
                if deadline > now_ms {
                    break;
                }
                ttls.by_deadline.remove(&(deadline, field.clone()));
                ttls.by_field.remove(&field);
                due.push(field);
            }
        }
        due.iter().filter(|field| self.remove(field)).count()
    }

    /// An estimate of the heap bytes held, for MEMORY USAGE (see [`super::memory`]); the
    /// hash itself sits in its key's entry.
    pub fn allocated_bytes(&self) -> usize {
        use super::memory::{btree_bytes, bytes_block, hashmap_bytes, heap_block};
        let fields = match self.view() {
            View::Packed(p) => p.allocated_bytes(),
            View::Table(t) => t.allocated_bytes(),
        };
        let boxed = match &self.0 {
            Form::Packed(_) => 0,
            Form::Boxed(_) => heap_block(std::mem::size_of::<Boxed>()),
        };
        let ttls = self.ttls().map_or(0, |t| {
            hashmap_bytes(t.by_field.capacity(), std::mem::size_of::<(Bytes, u64)>())
                + btree_bytes(t.by_deadline.len(), std::mem::size_of::<(u64, Bytes)>())
                + t.by_field.keys().map(bytes_block).sum::<usize>()
        });
        boxed + fields + ttls
    }

    fn convert_to_table(&mut self) {
        if let View::Packed(packed) = self.view() {
            let mut table = Table::default();
            packed.for_each(|field, value| {
                table.insert(FieldValue::new(field, value));
            });
            self.with_boxed(|boxed| boxed.repr = Repr::Table(table));
        }
    }

    /// Converts to the large form before a write of `new_fields` fields whose arguments
    /// (fields and values) are `args`, if Redis would (`hashTypeTryConversion`).
    pub fn prepare_for<'a>(&mut self, new_fields: usize, args: impl IntoIterator<Item = &'a [u8]>, limits: HashLimits) {
        if !self.is_packed() {
            return;
        }
        if new_fields > limits.max_entries || args.into_iter().any(|a| a.len() > limits.max_value) {
            self.convert_to_table();
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<Bytes> {
        match self.view() {
            View::Packed(p) => p.get(field).map(Bytes::copy_from_slice),
            View::Table(t) => t.get(field).map(|e| Bytes::copy_from_slice(e.value())),
        }
    }

    /// Whether `field` exists.
    pub fn contains(&self, field: &[u8]) -> bool {
        match self.view() {
            View::Packed(p) => p.get(field).is_some(),
            View::Table(t) => t.get(field).is_some(),
        }
    }

    /// Sets `field` to `value`. Returns true if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if self.is_packed() && (field.len() > limits.max_value || value.len() > limits.max_value) {
            self.convert_to_table();
        }
        let new = match self.view_mut() {
            ViewMut::Packed(p) => p.set(field, value),
            ViewMut::Table(t) => t.insert(FieldValue::new(field, value)).is_none(),
        };
        if self.is_packed() && self.len() > limits.max_entries {
            self.convert_to_table();
        }
        self.set_field_expiry(field, None);
        new
    }

    /// Sets `field` to `value` keeping any deadline it has (HINCRBY, HINCRBYFLOAT).
    pub fn update(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        let deadline = self.field_expiry(field);
        let new = self.set(field, value, limits);
        if deadline.is_some() {
            self.set_field_expiry(field, deadline);
        }
        new
    }

    /// Removes `field`. Returns whether it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        if self.ttls().is_some_and(|t| t.by_field.contains_key(field)) {
            self.set_field_expiry(field, None);
        }
        match self.view_mut() {
            ViewMut::Packed(p) => p.remove(field),
            ViewMut::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Every (field, value), in insertion order while compact, else in hash order.
    pub fn pairs(&self) -> Vec<(Bytes, Bytes)> {
        match self.view() {
            View::Packed(p) => {
                let mut out = Vec::with_capacity(p.len());
                p.for_each(|field, value| out.push((Bytes::copy_from_slice(field), Bytes::copy_from_slice(value))));
                out
            }
            View::Table(t) => t.iter().map(owned_pair).collect(),
        }
    }

    /// One (field, value) chosen at random.
    pub fn random_pair(&self) -> Option<(Bytes, Bytes)> {
        match self.view() {
            View::Packed(p) if p.is_empty() => None,
            View::Packed(p) => p.nth(random_index(p.len())),
            View::Table(t) => t.near(rand::random()).map(owned_pair),
        }
    }

    /// `count` pairs chosen at random, repeats allowed (`HRANDFIELD key -count`).
    pub fn random_pairs_with_repeats(&self, count: usize) -> Vec<(Bytes, Bytes)> {
        if self.is_empty() {
            return Vec::new();
        }
        if self.is_packed() {
            let pairs = self.pairs();
            return (0..count).filter_map(|_| pairs.get(random_index(pairs.len())).cloned()).collect();
        }
        (0..count).filter_map(|_| self.random_pair()).collect()
    }

    /// Up to `count` distinct pairs chosen at random (`HRANDFIELD key count`): all of them,
    /// in order, when `count` covers the hash, as Redis does.
    pub fn random_distinct_pairs(&self, count: usize) -> Vec<(Bytes, Bytes)> {
        let len = self.len();
        if count >= len {
            return self.pairs();
        }
        distinct_sample(self.pairs(), count)
    }

    /// One page of an `HSCAN` (see [`Table::scan`]); the compact form returns everything with
    /// cursor 0, as Redis does.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<(Bytes, Bytes)>) {
        match self.view() {
            View::Packed(_) => (0, self.pairs()),
            View::Table(t) => {
                let (next, page) = t.scan(cursor, count);
                (next, page.into_iter().map(owned_pair).collect())
            }
        }
    }
}

/// A table entry as an owned `(field, value)` pair.
fn owned_pair(entry: &FieldValue) -> (Bytes, Bytes) {
    (Bytes::copy_from_slice(entry.field()), Bytes::copy_from_slice(entry.value()))
}

/// A random index below `n` (0 when `n` is 0).
pub fn random_index(n: usize) -> usize {
    use rand::Rng;
    if n == 0 {
        return 0;
    }
    rand::thread_rng().gen_range(0..n)
}

/// `count` distinct items of `items` chosen at random, in random order.
pub fn distinct_sample<T>(mut items: Vec<T>, count: usize) -> Vec<T> {
    let len = items.len();
    let count = count.min(len);
    // A partial Fisher-Yates shuffle: the first `count` slots end up a uniform sample.
    for i in 0..count {
        let j = i + random_index(len - i);
        items.swap(i, j);
    }
    items.truncate(count);
    items
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use std::collections::HashMap;

    const LIMITS: HashLimits = HashLimits { max_entries: 8, max_value: 16 };

    #[test]
    fn compact_hash_keeps_insertion_order_and_replaces_in_place() {
        let mut hash = Hash::new();
        assert!(hash.set(b"a", b"1", LIMITS));
        assert!(hash.set(b"b", b"2", LIMITS));
        assert!(!hash.set(b"a", b"longer value", LIMITS));
        assert_eq!(hash.get(b"a").unwrap().as_ref(), b"longer value");
        assert_eq!(hash.pairs(), vec![(Bytes::from("a"), Bytes::from("longer value")), (Bytes::from("b"), Bytes::from("2"))]);
        assert!(hash.remove(b"a"));
        assert!(!hash.remove(b"a"));
        assert_eq!(hash.len(), 1);
        assert_eq!(hash.encoding(), "listpack");
    }

    #[test]
    fn packed_pairs_share_field_prefixes_and_match_an_ordered_model() {
        let mut pairs = Pairs::default();
        let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let fields = ["", "a", "ab", "member:000000000001", "member:000000000002", "member:00000000001", "member:1", "mem", "zz", "user:1000:name", "user:1000:email"];
        for step in 0..4000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let field = fields[(x % fields.len() as u64) as usize].as_bytes();
            if (x >> 20).is_multiple_of(3) {
                let at = model.iter().position(|(f, _)| f == field);
                assert_eq!(pairs.remove(field), at.is_some(), "step {step}");
                if let Some(at) = at {
                    model.remove(at);
                }
            } else {
                let value = step.to_string().into_bytes();
                let at = model.iter().position(|(f, _)| f == field);
                assert_eq!(pairs.set(field, &value), at.is_none(), "step {step}");
                match at {
                    Some(at) => model[at].1 = value,
                    None => model.push((field.to_vec(), value)),
                }
            }
            let mut seen = Vec::new();
            pairs.for_each(|f, v| seen.push((f.to_vec(), v.to_vec())));
            assert_eq!(seen, model, "step {step}");
            assert_eq!(pairs.len(), model.len());
            for f in fields {
                let expected = model.iter().find(|(m, _)| m == f.as_bytes()).map(|(_, v)| v.as_slice());
                assert_eq!(pairs.get(f.as_bytes()), expected, "step {step} {f}");
            }
        }
        for (field, value) in &model {
            assert_eq!(pairs.get(field), Some(value.as_slice()));
        }
        // Ten `member:%012d` fields with 5-byte values: 26 bytes for the first pair, 9 after.
        let mut bench = Pairs::default();
        for i in 0..10 {
            bench.set(format!("member:{i:012}").as_bytes(), b"value");
        }
        assert_eq!(bench.0.body().len(), 26 + 9 * 9);
        assert_eq!(bench.nth(3), Some((Bytes::from("member:000000000003"), Bytes::from("value"))));
    }

    #[test]
    fn hash_converts_past_either_limit_and_never_back() {
        let mut hash = Hash::new();
        for i in 0..8 {
            hash.set(format!("f{i}").as_bytes(), b"v", LIMITS);
        }
        assert_eq!(hash.encoding(), "listpack");
        hash.set(b"f8", b"v", LIMITS);
        assert_eq!(hash.encoding(), "hashtable");
        for i in 0..9 {
            hash.remove(format!("f{i}").as_bytes());
        }
        assert_eq!(hash.encoding(), "hashtable");
        let mut long = Hash::new();
        long.set(b"f", &[b'x'; 17], LIMITS);
        assert_eq!(long.encoding(), "hashtable");
    }

    #[test]
    fn table_matches_a_model_and_scans_everything_present_throughout() {
        let mut table: Table<FieldValue> = Table::default();
        let mut model = HashMap::new();
        for i in 0..2000u32 {
            let key = Bytes::from(format!("k{}", i % 700));
            let value = i.to_string().into_bytes();
            if i % 3 == 0 {
                assert_eq!(table.remove(&key).map(|e| e.value().to_vec()), model.remove(&key));
            } else {
                assert_eq!(table.insert(FieldValue::new(&key, &value)).map(|e| e.value().to_vec()), model.insert(key, value));
            }
        }
        assert_eq!(table.len(), model.len());
        for (k, v) in &model {
            assert_eq!(table.get(k).map(FieldValue::value), Some(v.as_slice()));
        }
        let stable: Vec<Bytes> = model.keys().cloned().collect();
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0u32;
        loop {
            let (next, page) = table.scan(cursor, 7);
            seen.extend(page.into_iter().map(|e| Bytes::copy_from_slice(e.field())));
            table.insert(FieldValue::new(format!("churn{round}").as_bytes(), b"0"));
            round += 1;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        for key in stable {
            assert!(seen.contains(&key));
        }
    }

    #[test]
    fn random_picks_stay_within_the_hash() {
        let mut hash = Hash::new();
        for i in 0..20 {
            hash.set(format!("f{i}").as_bytes(), b"v", LIMITS);
        }
        let distinct = hash.random_distinct_pairs(5);
        assert_eq!(distinct.len(), 5);
        let fields: std::collections::HashSet<_> = distinct.iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(fields.len(), 5);
        assert_eq!(hash.random_pairs_with_repeats(50).len(), 50);
        assert!(hash.random_pairs_with_repeats(50).iter().all(|(f, _)| hash.contains(f)));
    }

    #[test]
    fn field_deadlines_expire_in_order_and_go_with_their_field() {
        let mut hash = Hash::new();
        for f in ["a", "b", "c"] {
            hash.set(f.as_bytes(), b"v", LIMITS);
        }
        hash.set_field_expiry(b"a", Some(100));
        hash.set_field_expiry(b"b", Some(200));
        assert_eq!(hash.encoding(), "listpackex");
        assert_eq!(hash.expire_fields(99), 0);
        assert_eq!(hash.expire_fields(150), 1);
        assert!(!hash.contains(b"a"));
        hash.set(b"b", b"new", LIMITS);
        assert_eq!(hash.field_expiry(b"b"), None, "a plain set clears the deadline");
        hash.set_field_expiry(b"c", Some(300));
        hash.update(b"c", b"2", LIMITS);
        assert_eq!(hash.field_expiry(b"c"), Some(300), "update keeps it");
        hash.remove(b"c");
        assert_eq!(hash.expire_fields(1000), 0);
        assert_eq!(hash.len(), 1);
    }
}
