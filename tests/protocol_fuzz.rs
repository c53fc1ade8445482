//! Property tests for the request parser: the stable-Rust counterpart of the cargo-fuzz target
//! `fuzz/fuzz_targets/request_parser.rs`, run by every `cargo test`.
//!
//! Inputs are random mixes of protocol fragments (headers, lengths good and bad, inline lines,
//! quotes, CR/LF in odd places) and raw bytes, cut into random reads. Properties:
//! the parser never panics; its output (commands, then the protocol error that ends the
//! stream, if any) does not depend on how the bytes were split; and every command it returns
//! survives a round trip through the multibulk encoding. Inputs stay under the 64 KiB line
//! limit, where Redis's "too big" checks are the one legitimate dependence on read sizes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use bytes::{Bytes, BytesMut};
use herald::resp::{ParserLimits, ProtocolError, RequestParser};
use proptest::prelude::*;

/// Everything the parser made of a stream: its commands, and the error that ended it.
type Outcome = (Vec<Vec<Bytes>>, Option<ProtocolError>);

/// Feeds `bytes` in reads of the given sizes (cycled; 0 counts as 1; none means one read).
fn parse(bytes: &[u8], chunks: &[usize], max_bulk_len: u64) -> Outcome {
    let mut parser = RequestParser::new(ParserLimits { max_bulk_len });
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    let mut rest = bytes;
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

fn encode(command: &[Bytes]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", command.len()).into_bytes();
    for arg in command {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

const MALFORMED: &[&[u8]] = &[
    b"*01\r\n", b"$04\r\n", b"*+1\r\n", b"$-0\r\n", b"* 1\r\n", b"$\r\n", b"*\r\n", b"*1\n", b":1\r\n",
    b"\r\n", b"\n", b"\r", b"$3\r\nabc\r\n", b"$1\r\nx",
];

const INLINE_WORDS: &[&[u8]] = &[
    b"PING", b"\"a b\"", b"'c d'", b"\"\\x41\"", b"\"unterminated", b"'it\\'s'", b"\"q\"x", b"\"\\\"\"", b"\t", b" ",
];

/// A piece of a request stream: mostly well-formed, often subtly not.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    let word = proptest::collection::vec(any::<u8>(), 0..12);
    prop_oneof![
        // A well-formed multibulk command.
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..5).prop_map(|args| {
            let args: Vec<Bytes> = args.into_iter().map(Bytes::from).collect();
            encode(&args)
        }),
        // Headers with interesting counts and lengths.
        prop_oneof![
            Just(-2i64), Just(-1), Just(0), Just(1), Just(2), Just(3), Just(16), Just(2147483647),
            Just(2147483648), Just(536870912), Just(i64::MAX)
        ]
        .prop_flat_map(|n| prop_oneof![Just(format!("*{n}\r\n")), Just(format!("${n}\r\n"))])
        .prop_map(String::into_bytes),
        // Malformed numbers and stray line ends.
        proptest::sample::select(MALFORMED).prop_map(<[u8]>::to_vec),
        // Inline lines with quoting.
        proptest::collection::vec(proptest::sample::select(INLINE_WORDS), 1..6).prop_map(|words| {
            let mut line = words.join(&b' ');
            line.extend_from_slice(b"\r\n");
            line
        }),
        // Raw noise.
        word,
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(fragment(), 0..12).prop_map(|parts| parts.concat())
}

fn chunking() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(0usize..40, 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_does_not_depend_on_how_the_bytes_are_split(
        bytes in stream(),
        chunks in chunking(),
        max_bulk_len in prop_oneof![Just(512u64 * 1024 * 1024), 0u64..32],
    ) {
        let whole = parse(&bytes, &[], max_bulk_len);
        prop_assert_eq!(&whole, &parse(&bytes, &chunks, max_bulk_len));
        prop_assert_eq!(&whole, &parse(&bytes, &[1], max_bulk_len));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_split_the_same_way(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        chunks in chunking(),
    ) {
        let max = 512 * 1024 * 1024;
        prop_assert_eq!(parse(&bytes, &[], max), parse(&bytes, &chunks, max));
    }

    #[test]
    fn every_parsed_command_survives_a_multibulk_round_trip(bytes in stream()) {
        let max = 512 * 1024 * 1024;
        let (commands, _) = parse(&bytes, &[], max);
        let reencoded: Vec<u8> = commands.iter().flat_map(|c| encode(c)).collect();
        let (again, error) = parse(&reencoded, &[], max);
        prop_assert_eq!(error, None);
        prop_assert_eq!(again, commands);
    }
}

#[test]
fn a_declared_but_missing_argument_is_awaited_not_allocated_up_front() {
    let mut parser = RequestParser::new(ParserLimits::default());
    let mut buf = BytesMut::from(&b"*2147483647\r\n$536870912\r\nabc"[..]);
    assert_eq!(parser.parse(&mut buf), Ok(None));
    // The parser holds onto the partial argument instead of copying it out.
    assert!(buf.capacity() < 1024 * 1024, "buffer grew to {}", buf.capacity());
    assert_eq!(parser.pending_bulk_len(), Some(536870914));
}
