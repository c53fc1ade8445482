//! Fuzz target: arbitrary bytes, cut into arbitrary chunks, fed to `RequestParser`.
//!
//! Properties: the parser never panics, and what it produces (the commands, then the protocol
//! error if any) does not depend on how the bytes were split across reads. Inputs stay under
//! the 64 KiB line limit (`-max_len` defaults to 4096), where Redis's own "too big" checks are
//! the one legitimate dependence on read sizes.
//!
//! Run: `cargo +nightly fuzz run request_parser -- -max_total_time=60` (see README.md).
#![no_main]

use bytes::{Bytes, BytesMut};
use herald::resp::{ParserLimits, ProtocolError, RequestParser};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    /// The bytes a client sends.
    bytes: Vec<u8>,
    /// Sizes of the reads they arrive in (cycled; 0 counts as 1).
    chunks: Vec<u8>,
    /// A small `proto-max-bulk-len`, so that limit is exercised too.
    max_bulk_len: u16,
}

/// Everything the parser made of a stream: its commands, and the error that ended it.
type Outcome = (Vec<Vec<Bytes>>, Option<ProtocolError>);

fn parse(input: &Input, chunks: &[usize]) -> Outcome {
    let limits = ParserLimits { max_bulk_len: u64::from(input.max_bulk_len) };
    let mut parser = RequestParser::new(limits);
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    let mut rest = input.bytes.as_slice();
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let size = sizes.next().copied().unwrap_or(rest.len()).clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        buf.extend_from_slice(chunk);
        loop {
            match parser.parse(&mut buf) {
                Ok(Some(command)) => {
                    assert!(!command.is_empty(), "the parser returned an empty command");
                    commands.push(command);
                }
                Ok(None) => break,
                Err(error) => return (commands, Some(error)),
            }
        }
    }
    (commands, None)
}

fuzz_target!(|input: Input| {
    let whole = parse(&input, &[]);
    let chunks: Vec<usize> = input.chunks.iter().map(|&c| usize::from(c)).collect();
    let chunked = parse(&input, &chunks);
    assert_eq!(whole, chunked, "parsing depends on how the input was split");
    let byte_by_byte = parse(&input, &[1]);
    assert_eq!(whole, byte_by_byte, "parsing byte by byte differs");
});
