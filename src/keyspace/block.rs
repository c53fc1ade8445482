//! The storage of every compact (`listpack`) form: one exact-size heap block holding an entry
//! count and the entries back to back.
//!
//! # Layout
//! `varint(count) | entries`, in a boxed slice: 16 bytes inline (so a hash or sorted set that
//! holds one fits in a [`super::Value`] without a box of its own), no capacity slack, and no
//! allocation at all while empty. What an entry looks like is up to the form using the block
//! (see `hash.rs`, `set.rs`, `zset/packed.rs`).
//!
//! # Why exact size
//! Small collections are many, so each one's block is what a key costs. A block grows by
//! exactly what a write adds, as Redis's listpack reallocates: mimalloc resizes in place
//! while the new size stays within the block's size class, so most writes do not move it, and
//! no block carries the up-to-half slack of a doubling `Vec`.

use super::varint::{read_varint, write_varint};

/// A count and entries in one exact-size block (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Block(Box<[u8]>);

impl Block {
    /// The entry count and the length of its varint.
    fn header(&self) -> (usize, usize) {
        read_varint(&self.0, 0).unwrap_or((0, 0))
    }

    /// How many entries the block holds.
    pub fn count(&self) -> usize {
        self.header().0
    }

    /// The entries' bytes.
    pub fn body(&self) -> &[u8] {
        self.0.get(self.header().1..).unwrap_or_default()
    }

    /// Replaces the body's bytes `start..end` by `with` and sets the count to `count`. Offsets
    /// out of the body leave the block unchanged.
    pub fn splice(&mut self, start: usize, end: usize, with: &[u8], count: usize) {
        let head = self.header().1;
        let body_len = self.0.len() - head;
        if start > end || end > body_len {
            return;
        }
        if count == 0 && body_len - (end - start) + with.len() == 0 {
            self.0 = Box::default();
            return;
        }
        let mut header = Vec::with_capacity(10);
        write_varint(&mut header, count);
        let mut data = std::mem::take(&mut self.0).into_vec();
        let new_len = header.len() + body_len - (end - start) + with.len();
        // Exact growth: see the module docs.
        data.reserve_exact(new_len.saturating_sub(data.len()));
        data.splice(head + start..head + end, with.iter().copied());
        if header.len() == head {
            data.get_mut(..head).unwrap_or_default().copy_from_slice(&header);
        } else {
            data.splice(..head, header);
        }
        self.0 = data.into_boxed_slice();
    }

    /// Appends `with` to the body and sets the count to `count`.
    pub fn append(&mut self, with: &[u8], count: usize) {
        let end = self.body().len();
        self.splice(end, end, with, count);
    }

    /// The bytes held, as the allocator rounds them (for MEMORY USAGE).
    pub fn allocated_bytes(&self) -> usize {
        super::memory::heap_block(self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_keeps_its_count_and_body_through_splices() {
        let mut block = Block::default();
        assert_eq!((block.count(), block.body()), (0, &b""[..]));
        assert_eq!(block.allocated_bytes(), 0, "an empty block allocates nothing");
        block.append(b"abc", 1);
        block.append(b"de", 2);
        assert_eq!((block.count(), block.body()), (2, &b"abcde"[..]));
        block.splice(1, 3, b"XYZW", 2);
        assert_eq!(block.body(), b"aXYZWde");
        // A count whose varint grows or shrinks moves the body.
        block.splice(0, 0, b"", 300);
        assert_eq!((block.count(), block.body()), (300, &b"aXYZWde"[..]));
        block.splice(0, 1, b"", 5);
        assert_eq!((block.count(), block.body()), (5, &b"XYZWde"[..]));
        block.splice(3, 99, b"nope", 9);
        assert_eq!((block.count(), block.body()), (5, &b"XYZWde"[..]), "out of range: unchanged");
        block.splice(0, 6, b"", 0);
        assert_eq!(block, Block::default());
    }
}
