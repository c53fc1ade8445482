//! The set value: three forms, as Redis 7.4 keeps them.
//!
//! # Layout
//! - `intset`: a sorted `Vec<i64>` while every member is a canonical integer and there are at
//!   most `set-max-intset-entries` of them. Eight bytes a member, binary-searched, and
//!   `SMEMBERS` comes back sorted, as from Redis's intset.
//! - `listpack`: a [`Packed`] byte vector of members in insertion order while there are at
//!   most `set-max-listpack-entries` members of at most `set-max-listpack-value` bytes.
//! - `hashtable`: a [`Table`] ordered by keyed hash (see [`super::hash`] for why: SSCAN
//!   cursors with SCAN's guarantee and O(log n) random picks for SPOP and SRANDMEMBER).
//!
//! Conversions follow Redis's `setTypeAdd`: a non-integer joins an intset by turning it into a
//! listpack if the result fits the listpack limits, else into a table; an intset past its limit
//! becomes a table. A set never goes back to a smaller form.

use super::hash::{distinct_sample, random_index, Packed, Table};
use bytes::Bytes;

/// When a set changes form (`set-max-intset-entries`, `set-max-listpack-*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetLimits {
    /// Most members of an intset.
    pub intset_entries: usize,
    /// Most members of a listpack.
    pub listpack_entries: usize,
    /// Longest member of a listpack.
    pub listpack_value: usize,
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits { intset_entries: 512, listpack_entries: 128, listpack_value: 64 }
    }
}

impl SetLimits {
    /// Redis caps the intset at 2^30 members whatever the configuration says.
    fn intset_max(self) -> usize {
        self.intset_entries.min(1 << 30)
    }
}

#[derive(Debug, Clone)]
enum Repr {
    Ints(Vec<i64>),
    Packed(Packed),
    Table(Table<Box<[u8]>>),
}

/// A set value (see the module docs for its forms).
#[derive(Debug, Clone)]
pub struct Set {
    repr: Repr,
}

impl Default for Set {
    fn default() -> Self {
        Set { repr: Repr::Ints(Vec::new()) }
    }
}

fn as_int(member: &[u8]) -> Option<i64> {
    crate::resp::parse_i64(member)
}

fn int_bytes(n: i64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

impl Set {
    /// An empty set, in the form Redis's `setTypeCreate` picks for a first member `first` when
    /// about `size_hint` members are coming (SADD's argument count).
    pub fn for_members(first: &[u8], size_hint: usize, limits: SetLimits) -> Set {
        let repr = if as_int(first).is_some() && size_hint <= limits.intset_max() {
            Repr::Ints(Vec::new())
        } else if size_hint <= limits.listpack_entries {
            Repr::Packed(Packed::default())
        } else {
            Repr::Table(Table::default())
        };
        Set { repr }
    }

    /// An empty set in the smallest form (the destination of SINTERSTORE, ...).
    pub fn new() -> Set {
        Set::default()
    }

    /// How many members it holds.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(v) => v.len(),
            Repr::Packed(p) => p.len(),
            Repr::Table(t) => t.len(),
        }
    }

    /// Whether it holds no members (an empty set is deleted from the keyspace).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` reports.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Ints(_) => "intset",
            Repr::Packed(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// An estimate of the heap bytes held, for MEMORY USAGE (see [`super::memory`]).
    pub fn allocated_bytes(&self) -> usize {
        match &self.repr {
            Repr::Ints(v) => super::memory::heap_block(v.capacity() * 8),
            Repr::Packed(p) => p.allocated_bytes(),
            Repr::Table(t) => t.allocated_bytes(),
        }
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(v) => as_int(member).is_some_and(|n| v.binary_search(&n).is_ok()),
            Repr::Packed(p) => p.iter().any(|e| e.bytes == member),
            Repr::Table(t) => t.get(member).is_some(),
        }
    }

    fn convert_to_table(&mut self) {
        let table = match &self.repr {
            Repr::Table(_) => return,
            Repr::Ints(v) => {
                let mut table = Table::default();
                for n in v {
                    table.insert(Box::from(int_bytes(*n).as_ref()));
                }
                table
            }
            Repr::Packed(p) => {
                let mut table = Table::default();
                for e in p.iter() {
                    table.insert(Box::from(e.bytes));
                }
                table
            }
        };
        self.repr = Repr::Table(table);
    }

    /// Adds `member`. Returns whether it was new.
    pub fn add(&mut self, member: &[u8], limits: SetLimits) -> bool {
        if self.contains(member) {
            return false;
        }
        match &mut self.repr {
            Repr::Ints(v) => {
                if let Some(n) = as_int(member) {
                    let at = v.binary_search(&n).unwrap_or_else(|at| at);
                    v.insert(at, n);
                    if v.len() > limits.intset_max() {
                        self.convert_to_table();
                    }
                    return true;
                }
                // A non-integer joins: listpack if everything would fit one, else a table.
                let widest = match (v.first(), v.last()) {
                    (Some(a), Some(b)) => itoa::Buffer::new().format(*a).len().max(itoa::Buffer::new().format(*b).len()),
                    _ => 0,
                };
                if v.len() < limits.listpack_entries && member.len() <= limits.listpack_value && widest <= limits.listpack_value {
                    let mut packed = Packed::default();
                    for n in v.iter() {
                        packed.push(itoa::Buffer::new().format(*n).as_bytes());
                    }
                    packed.push(member);
                    self.repr = Repr::Packed(packed);
                } else {
                    self.convert_to_table();
                    if let Repr::Table(t) = &mut self.repr {
                        t.insert(Box::from(member));
                    }
                }
                true
            }
            Repr::Packed(p) => {
                if p.len() < limits.listpack_entries && member.len() <= limits.listpack_value {
                    p.push(member);
                } else {
                    self.convert_to_table();
                    if let Repr::Table(t) = &mut self.repr {
                        t.insert(Box::from(member));
                    }
                }
                true
            }
            Repr::Table(t) => t.insert(Box::from(member)).is_none(),
        }
    }

    /// Removes `member`. Returns whether it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(v) => match as_int(member).map(|n| v.binary_search(&n)) {
                Some(Ok(at)) => {
                    v.remove(at);
                    true
                }
                _ => false,
            },
            Repr::Packed(p) => match p.iter().find(|e| e.bytes == member) {
                Some(found) => {
                    let (start, end) = (found.start, found.end);
                    p.remove_span(start, end, 1);
                    true
                }
                None => false,
            },
            Repr::Table(t) => t.remove(member).is_some(),
        }
    }

    /// Every member: sorted for an intset, insertion order for a listpack, hash order else.
    pub fn members(&self) -> Vec<Bytes> {
        match &self.repr {
            Repr::Ints(v) => v.iter().map(|n| int_bytes(*n)).collect(),
            Repr::Packed(p) => p.iter().map(|e| Bytes::copy_from_slice(e.bytes)).collect(),
            Repr::Table(t) => t.iter().map(|m| Bytes::copy_from_slice(m)).collect(),
        }
    }

    /// One member chosen at random.
    pub fn random_member(&self) -> Option<Bytes> {
        match &self.repr {
            Repr::Ints(v) => v.get(random_index(v.len())).map(|n| int_bytes(*n)),
            Repr::Packed(p) => p.iter().nth(random_index(p.len())).map(|e| Bytes::copy_from_slice(e.bytes)),
            Repr::Table(t) => t.near(rand::random()).map(|m| Bytes::copy_from_slice(m)),
        }
    }

    /// `count` members chosen at random, repeats allowed (`SRANDMEMBER key -count`).
    pub fn random_with_repeats(&self, count: usize) -> Vec<Bytes> {
        if self.is_empty() {
            return Vec::new();
        }
        if let Repr::Table(_) = &self.repr {
            return (0..count).filter_map(|_| self.random_member()).collect();
        }
        let members = self.members();
        (0..count).filter_map(|_| members.get(random_index(members.len())).cloned()).collect()
    }

    /// Up to `count` distinct members chosen at random (`SRANDMEMBER key count`): the whole
    /// set, in order, when `count` covers it.
    pub fn random_distinct(&self, count: usize) -> Vec<Bytes> {
        if count >= self.len() {
            return self.members();
        }
        distinct_sample(self.members(), count)
    }

    /// Removes and returns up to `count` distinct members chosen at random (`SPOP`).
    pub fn pop_random(&mut self, count: usize) -> Vec<Bytes> {
        let picked = if count >= self.len() { self.members() } else if count == 1 { self.random_member().into_iter().collect() } else { self.random_distinct(count) };
        for member in &picked {
            self.remove(member);
        }
        picked
    }

    /// One page of an `SSCAN`: the compact forms return everything with cursor 0, as Redis
    /// does; a table pages with SCAN's guarantee (see [`Table::scan`]).
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Bytes>) {
        match &self.repr {
            Repr::Table(t) => {
                let (next, page) = t.scan(cursor, count);
                (next, page.into_iter().map(|m| Bytes::copy_from_slice(m)).collect())
            }
            _ => (0, self.members()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const LIMITS: SetLimits = SetLimits { intset_entries: 6, listpack_entries: 4, listpack_value: 8 };

    #[test]
    fn integers_stay_sorted_in_an_intset_until_its_limit() {
        let mut set = Set::new();
        for n in [5, -3, 100, 0, 7, 5] {
            set.add(n.to_string().as_bytes(), LIMITS);
        }
        assert_eq!(set.encoding(), "intset");
        assert_eq!(set.members(), ["-3", "0", "5", "7", "100"].map(Bytes::from));
        assert!(set.contains(b"100"));
        assert!(!set.contains(b"0100"));
        set.add(b"8", LIMITS);
        set.add(b"9", LIMITS);
        assert_eq!(set.encoding(), "hashtable");
        assert_eq!(set.len(), 7);
    }

    #[test]
    fn a_string_turns_a_small_intset_into_a_listpack_in_order() {
        let mut set = Set::new();
        set.add(b"2", LIMITS);
        set.add(b"1", LIMITS);
        set.add(b"x", LIMITS);
        assert_eq!(set.encoding(), "listpack");
        assert_eq!(set.members(), ["1", "2", "x"].map(Bytes::from));
        set.add(b"y", LIMITS);
        assert_eq!(set.encoding(), "listpack");
        set.add(b"z", LIMITS);
        assert_eq!(set.encoding(), "hashtable");
        assert!(set.remove(b"z") && set.remove(b"y") && set.remove(b"x"));
        assert_eq!(set.encoding(), "hashtable");
        let mut long = Set::new();
        long.add(b"1", LIMITS);
        long.add(b"longer than eight", LIMITS);
        assert_eq!(long.encoding(), "hashtable");
    }

    #[test]
    fn pops_remove_distinct_members() {
        let mut set = Set::for_members(b"a", 3, SetLimits::default());
        for m in ["a", "b", "c", "d", "e"] {
            set.add(m.as_bytes(), SetLimits::default());
        }
        let popped = set.pop_random(3);
        assert_eq!(popped.len(), 3);
        assert_eq!(set.len(), 2);
        assert!(popped.iter().all(|m| !set.contains(m)));
        assert_eq!(set.pop_random(10).len(), 2);
        assert!(set.is_empty());
    }
}
