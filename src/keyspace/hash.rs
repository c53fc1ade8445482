//! The hash value: field → value, compact while small, hashed when large.
//!
//! # Layout
//! A small [`struct@Hash`] is one [`Packed`] byte vector holding `field, value, field, value, ...`
//! back to back, each entry `varint(len) | bytes`, in insertion order, like Redis's listpack.
//! Lookups walk it; that is cheaper than hashing for the 128 short entries it may hold, and it
//! costs two or three bytes of overhead per entry instead of a heap object per field.
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

/// Byte strings packed back to back in one vector, each `varint(len) | bytes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packed {
    data: Vec<u8>,
    count: usize,
}

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
        self.count
    }

    /// Whether it holds no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends an entry.
    pub fn push(&mut self, bytes: &[u8]) {
        // Exact growth, as a listpack reallocates (see the sorted set's packed form).
        self.data.reserve_exact(bytes.len() + 2);
        write_varint(&mut self.data, bytes.len());
        self.data.extend_from_slice(bytes);
        self.count += 1;
    }

    /// The entries in order.
    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter { data: &self.data, pos: 0, left: self.count }
    }

    /// Removes the entries occupying `start..end` (`removed` of them).
    pub fn remove_span(&mut self, start: usize, end: usize, removed: usize) {
        if start <= end && end <= self.data.len() {
            self.data.drain(start..end);
            self.count -= removed;
        }
    }

    /// Replaces the entry at `start..end` by `bytes`.
    pub fn replace(&mut self, start: usize, end: usize, bytes: &[u8]) {
        if start <= end && end <= self.data.len() {
            let mut entry = Vec::with_capacity(bytes.len() + 2);
            write_varint(&mut entry, bytes.len());
            entry.extend_from_slice(bytes);
            self.data.splice(start..end, entry);
        }
    }

    /// Bytes held, for memory reports.
    pub fn allocated_bytes(&self) -> usize {
        super::memory::heap_block(self.data.capacity())
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
    Packed(Packed),
    Table(Table<FieldValue>),
}

/// Per-field deadlines (HEXPIRE and friends), indexed both ways.
#[derive(Debug, Clone, Default)]
struct FieldTtls {
    by_field: HashMap<Bytes, u64>,
    by_deadline: BTreeSet<(u64, Bytes)>,
}

/// A hash value (see the module docs for its two forms).
#[derive(Debug, Clone)]
pub struct Hash {
    repr: Repr,
    /// Field deadlines in Unix ms; `Some` once any field was given one (Redis's `listpackex`
    /// encoding stays even when the deadlines are gone).
    ttls: Option<Box<FieldTtls>>,
}

impl Default for Hash {
    fn default() -> Self {
        Hash { repr: Repr::Packed(Packed::default()), ttls: None }
    }
}

/// Finds `field` in a packed hash: the start of the field's entry and the value's entry.
fn packed_find<'a>(packed: &'a Packed, field: &[u8]) -> Option<(usize, PackedEntry<'a>)> {
    let mut entries = packed.iter();
    while let (Some(f), Some(v)) = (entries.next(), entries.next()) {
        if f.bytes == field {
            return Some((f.start, v));
        }
    }
    None
}

impl Hash {
    /// An empty hash in the compact form.
    pub fn new() -> Hash {
        Hash::default()
    }

    /// How many fields it holds.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.len() / 2,
            Repr::Table(t) => t.len(),
        }
    }

    /// Whether it holds no fields (an empty hash is deleted from the keyspace).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Packed(_) if self.ttls.is_some() => "listpackex",
            Repr::Packed(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// The deadline of `field` in Unix ms, if it has one.
    pub fn field_expiry(&self, field: &[u8]) -> Option<u64> {
        self.ttls.as_ref()?.by_field.get(field).copied()
    }

    /// Sets (or with `None` clears) the deadline of an existing `field`.
    pub fn set_field_expiry(&mut self, field: &[u8], deadline: Option<u64>) {
        if deadline.is_none() && self.ttls.is_none() {
            return;
        }
        let ttls = self.ttls.get_or_insert_with(Box::default);
        let owned = Bytes::copy_from_slice(field);
        if let Some(old) = ttls.by_field.remove(field) {
            ttls.by_deadline.remove(&(old, owned.clone()));
        }
        if let Some(deadline) = deadline {
            ttls.by_field.insert(owned.clone(), deadline);
            ttls.by_deadline.insert((deadline, owned));
        }
    }

    /// Removes every field whose deadline is at or before `now_ms`; returns how many.
    pub fn expire_fields(&mut self, now_ms: u64) -> usize {
        let mut due = Vec::new();
        if let Some(ttls) = self.ttls.as_mut() {
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

    /// An estimate of the heap bytes held, for MEMORY USAGE (see [`super::memory`]).
    pub fn allocated_bytes(&self) -> usize {
        use super::memory::{btree_bytes, bytes_block, hashmap_bytes, heap_block};
        let fields = match &self.repr {
            Repr::Packed(p) => p.allocated_bytes(),
            Repr::Table(t) => t.allocated_bytes(),
        };
        let ttls = self.ttls.as_ref().map_or(0, |t| {
            heap_block(std::mem::size_of::<FieldTtls>())
                + hashmap_bytes(t.by_field.capacity(), std::mem::size_of::<(Bytes, u64)>())
                + btree_bytes(t.by_deadline.len(), std::mem::size_of::<(u64, Bytes)>())
                + t.by_field.keys().map(bytes_block).sum::<usize>()
        });
        fields + ttls
    }

    fn convert_to_table(&mut self) {
        if let Repr::Packed(packed) = &self.repr {
            let mut table = Table::default();
            let mut entries = packed.iter();
            while let (Some(f), Some(v)) = (entries.next(), entries.next()) {
                table.insert(FieldValue::new(f.bytes, v.bytes));
            }
            self.repr = Repr::Table(table);
        }
    }

    /// Converts to the large form before a write of `new_fields` fields whose arguments
    /// (fields and values) are `args`, if Redis would (`hashTypeTryConversion`).
    pub fn prepare_for<'a>(&mut self, new_fields: usize, args: impl IntoIterator<Item = &'a [u8]>, limits: HashLimits) {
        if !matches!(self.repr, Repr::Packed(_)) {
            return;
        }
        if new_fields > limits.max_entries || args.into_iter().any(|a| a.len() > limits.max_value) {
            self.convert_to_table();
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<Bytes> {
        match &self.repr {
            Repr::Packed(p) => packed_find(p, field).map(|(_, value)| Bytes::copy_from_slice(value.bytes)),
            Repr::Table(t) => t.get(field).map(|e| Bytes::copy_from_slice(e.value())),
        }
    }

    /// Whether `field` exists.
    pub fn contains(&self, field: &[u8]) -> bool {
        match &self.repr {
            Repr::Packed(p) => packed_find(p, field).is_some(),
            Repr::Table(t) => t.get(field).is_some(),
        }
    }

    /// Sets `field` to `value`. Returns true if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        if matches!(self.repr, Repr::Packed(_)) && (field.len() > limits.max_value || value.len() > limits.max_value) {
            self.convert_to_table();
        }
        let new = match &mut self.repr {
            Repr::Packed(p) => match packed_find(p, field) {
                Some((_, found)) => {
                    let (start, end) = (found.start, found.end);
                    p.replace(start, end, value);
                    false
                }
                None => {
                    p.push(field);
                    p.push(value);
                    true
                }
            },
            Repr::Table(t) => t.insert(FieldValue::new(field, value)).is_none(),
        };
        if matches!(self.repr, Repr::Packed(_)) && self.len() > limits.max_entries {
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
        if self.ttls.as_ref().is_some_and(|t| t.by_field.contains_key(field)) {
            self.set_field_expiry(field, None);
        }
        match &mut self.repr {
            Repr::Packed(p) => match packed_find(p, field) {
                Some((start, found)) => {
                    let end = found.end;
                    p.remove_span(start, end, 2);
                    true
                }
                None => false,
            },
            Repr::Table(t) => t.remove(field).is_some(),
        }
    }

    /// Every (field, value), in insertion order while compact, else in hash order.
    pub fn pairs(&self) -> Vec<(Bytes, Bytes)> {
        match &self.repr {
            Repr::Packed(p) => {
                let mut out = Vec::with_capacity(p.len() / 2);
                let mut entries = p.iter();
                while let (Some(f), Some(v)) = (entries.next(), entries.next()) {
                    out.push((Bytes::copy_from_slice(f.bytes), Bytes::copy_from_slice(v.bytes)));
                }
                out
            }
            Repr::Table(t) => t.iter().map(owned_pair).collect(),
        }
    }

    /// One (field, value) chosen at random.
    pub fn random_pair(&self) -> Option<(Bytes, Bytes)> {
        match &self.repr {
            Repr::Packed(p) => {
                let n = p.len() / 2;
                if n == 0 {
                    return None;
                }
                let index = random_index(n);
                let mut entries = p.iter().skip(2 * index);
                let (f, v) = (entries.next()?, entries.next()?);
                Some((Bytes::copy_from_slice(f.bytes), Bytes::copy_from_slice(v.bytes)))
            }
            Repr::Table(t) => t.near(rand::random()).map(owned_pair),
        }
    }

    /// `count` pairs chosen at random, repeats allowed (`HRANDFIELD key -count`).
    pub fn random_pairs_with_repeats(&self, count: usize) -> Vec<(Bytes, Bytes)> {
        if self.is_empty() {
            return Vec::new();
        }
        if let Repr::Packed(_) = &self.repr {
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
        match &self.repr {
            Repr::Packed(_) => (0, self.pairs()),
            Repr::Table(t) => {
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
    #![allow(clippy::unwrap_used)]
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
