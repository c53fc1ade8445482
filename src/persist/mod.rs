//! Durable streams: append-only segment files per stream, a writer with a sync policy, and
//! recovery on start.
//!
//! The on-disk format is specified byte by byte in `protocol/segments.md` and summarised in
//! [`format`]: magic, version, little-endian integers, a CRC-32 per record, record type
//! numbers never reused.
//!
//! # Layout
//! - [`format`]: the segment header and the records (encode, decode, CRC-32).
//! - [`io`]: file I/O behind the [`io::Storage`] trait: the real file system, and an in-memory
//!   store that simulates crashes, torn writes and corruption for tests.
//! - [`segment`]: where segments live, appending and rolling, and the reader API
//!   ([`segment::SegmentReader`]) that lists segments with their ID ranges and reads entries.
//! - [`tier`]: the settings of tiering and retention, and the cold store that serves a durable
//!   stream's evicted history from its segments.
//! - [`retention`]: age- and size-based retention by whole sealed segments.

pub mod format;
pub mod io;
pub mod retention;
pub mod segment;
pub mod tier;

pub use format::{PendingState, Record, SegmentHeader};
pub use io::{FaultStorage, FsStorage, Storage};
pub use segment::{SegmentInfo, SegmentReader, SegmentWriter};
