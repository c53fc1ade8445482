//! The wire protocol's hot paths, Herald's against the `redis-protocol` crate (version 6).
//!
//! Why this exists: Herald parses requests with its own resumable [`RequestParser`] instead of
//! a general RESP decoder. The choice rests on two claims, which these benches check with
//! numbers (results and the machine they came from: `BENCHMARKS.md`):
//!
//! 1. a request parser that knows it only ever sees arrays of bulk strings is several times
//!    faster than a general frame decoder on ordinary commands;
//! 2. a decoder that starts over on every read is quadratic on a big command that arrives in
//!    many pieces, where a resumable parser stays linear.
//!
//! Cases (each run by both parsers, with zero-copy `Bytes` output on both sides):
//!
//! * `small_set`: one `SET key:000042 value` command, whole in the buffer;
//! * `pipeline_16_get`: 16 `GET` commands in one read, parsed until the buffer is empty;
//! * `large_in_pieces`: one 160,000-argument command (about 2 MB) arriving in 16 KiB reads;
//!   after each read the parser is asked for a command, as a connection does.
//!
//! And the reply path: `encode_array_100`, a 100-element array of bulk strings encoded as
//! RESP2 by [`herald::resp::encode`] and by `redis_protocol::resp2::encode::extend_encode`.
//!
//! Run: `cargo bench --bench resp_parser` (about two minutes; the measurement time is kept short
//! on purpose, the differences measured are far larger than the noise).

// criterion's macros generate undocumented functions.
#![allow(missing_docs)]

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use herald::resp::{encode, ParserLimits, Protocol, Reply, RequestParser};
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::encode::extend_encode;
use redis_protocol::resp2::types::BytesFrame;
use std::time::Duration;

/// The size of one read in `large_in_pieces`.
const PIECE: usize = 16 * 1024;
/// The argument count of the large command.
const LARGE_ARGS: usize = 160_000;

/// Encodes one request as a client does: `*<n>` then `$<len>` and the bytes of each argument.
fn multibulk(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn small_set() -> Vec<u8> {
    let mut out = Vec::new();
    multibulk(&mut out, &[b"SET", b"key:000042", b"value"]);
    out
}

fn pipeline_of_gets(count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..count {
        multibulk(&mut out, &[b"GET", format!("key:{i:06}").as_bytes()]);
    }
    out
}

/// `RPUSH list v0000000 v0000001 ...`: 160,000 arguments of 8 bytes, 14 bytes each on the wire.
fn large_command() -> Vec<u8> {
    let values: Vec<Vec<u8>> = (0..LARGE_ARGS - 2).map(|i| format!("v{i:07}").into_bytes()).collect();
    let mut args: Vec<&[u8]> = vec![b"RPUSH", b"list"];
    args.extend(values.iter().map(Vec::as_slice));
    let mut out = Vec::new();
    multibulk(&mut out, &args);
    out
}

/// Herald: parse every command in `input`, returning how many arguments were seen.
fn herald_parse_all(parser: &mut RequestParser, buf: &mut BytesMut) -> usize {
    let mut args = 0;
    while let Ok(Some(command)) = parser.parse(buf) {
        args += command.len();
        black_box(command);
    }
    args
}

/// redis-protocol: decode every frame in `buf`, returning how many array elements were seen.
fn rp_decode_all(buf: &mut BytesMut) -> usize {
    let mut args = 0;
    while let Ok(Some((frame, _, _))) = decode_bytes_mut(buf) {
        if let BytesFrame::Array(items) = &frame {
            args += items.len();
        }
        black_box(frame);
    }
    args
}

fn parse_whole(c: &mut Criterion) {
    for (name, input, expected_args) in [
        ("small_set", small_set(), 3),
        ("pipeline_16_get", pipeline_of_gets(16), 32),
    ] {
        // Both parsers must see the same commands, or the comparison means nothing.
        assert_eq!(herald_parse_all(&mut RequestParser::new(ParserLimits::default()), &mut BytesMut::from(&input[..])), expected_args);
        assert_eq!(rp_decode_all(&mut BytesMut::from(&input[..])), expected_args);

        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(input.len() as u64));
        let mut parser = RequestParser::new(ParserLimits::default());
        group.bench_function("herald", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&input[..]),
                |buf| herald_parse_all(&mut parser, buf),
                BatchSize::SmallInput,
            )
        });
        group.bench_function("redis_protocol", |b| {
            b.iter_batched_ref(|| BytesMut::from(&input[..]), rp_decode_all, BatchSize::SmallInput)
        });
        group.finish();
    }
}

fn parse_in_pieces(c: &mut Criterion) {
    let input = large_command();
    let mut group = c.benchmark_group("large_in_pieces");
    group.throughput(Throughput::Bytes(input.len() as u64));
    // One redis-protocol iteration takes seconds: the minimum sample count keeps this short.
    group.sample_size(10);

    group.bench_function("herald", |b| {
        b.iter(|| {
            let mut parser = RequestParser::new(ParserLimits::default());
            let mut buf = BytesMut::with_capacity(PIECE);
            let mut got = 0;
            for piece in input.chunks(PIECE) {
                buf.extend_from_slice(piece);
                got += herald_parse_all(&mut parser, &mut buf);
            }
            assert_eq!(got, LARGE_ARGS);
            got
        })
    });
    group.bench_function("redis_protocol", |b| {
        b.iter(|| {
            let mut buf = BytesMut::with_capacity(PIECE);
            let mut got = 0;
            for piece in input.chunks(PIECE) {
                buf.extend_from_slice(piece);
                got += rp_decode_all(&mut buf);
            }
            assert_eq!(got, LARGE_ARGS);
            got
        })
    });
    group.finish();
}

fn encode_array(c: &mut Criterion) {
    let values: Vec<Bytes> = (0..100).map(|i| Bytes::from(format!("value:{i:010}"))).collect();
    let reply = Reply::Array(values.iter().cloned().map(Reply::Bulk).collect());
    let frame = BytesFrame::Array(values.iter().cloned().map(BytesFrame::BulkString).collect());

    let mut ours = BytesMut::new();
    encode(&reply, Protocol::Resp2, &mut ours);
    let mut theirs = BytesMut::new();
    let _ = extend_encode(&mut theirs, &frame, false);
    assert_eq!(ours, theirs, "both encoders must write the same bytes");

    let mut group = c.benchmark_group("encode_array_100");
    group.throughput(Throughput::Bytes(ours.len() as u64));
    // Reuse one output buffer, as a connection does.
    let mut out = BytesMut::with_capacity(ours.len() * 2);
    group.bench_function("herald", |b| {
        b.iter(|| {
            out.clear();
            encode(black_box(&reply), Protocol::Resp2, &mut out);
            out.len()
        })
    });
    group.bench_function("redis_protocol", |b| {
        b.iter(|| {
            out.clear();
            let _ = extend_encode(&mut out, black_box(&frame), false);
            out.len()
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse_whole, parse_in_pieces, encode_array
}
criterion_main!(benches);
