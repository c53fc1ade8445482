//! `MEMORY USAGE` estimates: the bytes a key and its value take in Herald's structures.
//!
//! # Method
//! An estimate is the sum of what the key's structures allocate, computed from their shapes
//! rather than measured (Rust's allocator cannot be asked the size of one value's blocks):
//! - every heap block is counted as the binary's allocator (mimalloc) hands it out: no header,
//!   rounded up to its size class: a multiple of 8 up to 64 bytes, then classes an eighth of a
//!   power of two apart ([`heap_block`]);
//! - vectors and byte buffers count their capacity, not their length; a `HashMap` counts its
//!   buckets and control bytes at its capacity ([`hashmap_bytes`]); a `BTreeMap` counts its
//!   entries at the average fill of a B-tree node ([`btree_bytes`]);
//! - a large sorted set counts its arena chunks, each node's block (member and upper levels)
//!   and its index of node numbers; a large hash or set counts its B-tree of 24-byte entries
//!   and each entry's one block (see `zset.rs` and `hash.rs`);
//! - the key costs its node in the keyspace index's arena (name up to 22 bytes inline, entry
//!   and the value's fixed part), its name's block when longer, and its 8-byte slot at the
//!   index's mid-range load of 2/3 ([`super::db::index_bytes`]).
//!
//! It does not count allocator fragmentation or the keyspace index's own growth steps, so RSS
//! grows a little faster than the sum of the estimates. Like Redis's `MEMORY USAGE`, large
//! values are costed in full (Herald does not sample), which is O(n) in the members.

use super::Value;
use bytes::Bytes;

/// The bytes mimalloc really takes for a request of `n` bytes (0 for no allocation).
pub fn heap_block(n: usize) -> usize {
    if n <= 64 {
        n.div_ceil(8) * 8
    } else {
        let step = (n.next_power_of_two() / 8).max(8);
        n.div_ceil(step) * step
    }
}

/// The bytes of a std `HashMap` with `capacity` (as `HashMap::capacity` reports it) holding
/// entries of `entry_size` bytes: a power-of-two bucket count at 7/8 load, one control byte
/// per bucket plus a group's worth.
pub fn hashmap_bytes(capacity: usize, entry_size: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 { (capacity + 1).next_power_of_two() } else { (capacity * 8 / 7).next_power_of_two() };
    heap_block(buckets * entry_size + buckets + 16)
}

/// The bytes of a std `BTreeMap` holding `len` entries of `entry_size` bytes (key and value):
/// nodes hold up to 11 entries and B-trees settle around 2/3 full, plus a node header.
pub fn btree_bytes(len: usize, entry_size: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let nodes = len.div_ceil(7);
    nodes * heap_block(11 * entry_size + 16)
}

/// A byte string's own block.
pub fn bytes_block(bytes: &Bytes) -> usize {
    heap_block(bytes.len())
}

/// The bytes a key's name and its slot in the keyspace take.
pub fn key_bytes(key: &[u8]) -> usize {
    super::db::index_bytes(key)
}

/// The heap bytes a value holds beyond its fixed part (which [`key_bytes`] counts).
pub fn value_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => match s {
            super::StringValue::Int(_) | super::StringValue::Short(_) => 0,
            super::StringValue::Long(b) => heap_block(b.len()),
            super::StringValue::Raw(b) => heap_block(std::mem::size_of::<Vec<u8>>()) + heap_block(b.capacity()),
        },
        Value::List(l) => heap_block(std::mem::size_of::<super::list::List>()) + l.allocated_bytes(),
        Value::Stream(s) => heap_block(std::mem::size_of::<super::stream::Stream>()) + s.memory(),
        Value::Hash(h) => h.allocated_bytes(),
        Value::Set(s) => heap_block(std::mem::size_of::<super::set::Set>()) + s.allocated_bytes(),
        Value::ZSet(z) => z.allocated_bytes(),
    }
}

/// `MEMORY USAGE`'s answer for `key` holding `value`.
pub fn usage(key: &[u8], value: &Value) -> usize {
    key_bytes(key) + value_bytes(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_blocks_round_to_mimalloc_size_classes() {
        assert_eq!(heap_block(0), 0);
        assert_eq!(heap_block(1), 8);
        assert_eq!(heap_block(24), 24);
        assert_eq!(heap_block(65), 80);
        assert_eq!(heap_block(100), 112);
        assert_eq!(heap_block(1000), 1024);
    }
}
