//! The request parser and reply encoder seen over a real socket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test helpers outside #[test] fns
mod common;

#[tokio::test]
async fn ping_answers_pong_in_multibulk_and_inline_form() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n");
    raw.send(b"PING\r\n").await;
    assert_eq!(raw.read_reply().await.unwrap(), b"+PONG\r\n");
}

#[tokio::test]
async fn a_protocol_error_is_answered_then_the_connection_closes() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.send(b"*1\r\n:1\r\n").await;
    assert_eq!(raw.read_reply().await.unwrap(), b"-ERR Protocol error: expected '$', got ':'\r\n");
    assert!(raw.is_closed().await);
}

#[tokio::test]
async fn an_unknown_command_gets_an_error_and_the_connection_lives_on() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(
        raw.call(&[b"NOPE", b"a", b"b"]).await,
        b"-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(raw.call(&[b"GET"]).await, b"-ERR wrong number of arguments for 'get' command\r\n");
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n");
}

// ---------------------------------------------------------------------------------------------
// Framing, byte by byte. Expected bytes are redis-server 7's, taken from raw sockets against it.
// ---------------------------------------------------------------------------------------------

use common::RawClient;
use std::time::Duration;

/// A safety net so a server that never answers fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(10);

async fn reply(raw: &mut RawClient) -> Vec<u8> {
    tokio::time::timeout(WAIT, raw.read_reply())
        .await
        .expect("no reply in time")
        .expect("server closed the connection")
}

/// True if the server closes the connection (and sends nothing more).
async fn closes(raw: &mut RawClient) -> bool {
    tokio::time::timeout(WAIT, raw.is_closed()).await.unwrap_or(false)
}

/// Sends `input` and expects exactly `error` back, then the connection to close.
async fn assert_protocol_error(server: &common::TestServer, input: &[u8], error: &str) {
    let mut raw = server.raw().await;
    raw.send(input).await;
    let got = reply(&mut raw).await;
    assert_eq!(
        String::from_utf8_lossy(&got),
        format!("-{error}\r\n"),
        "reply to {:?}",
        String::from_utf8_lossy(&input[..input.len().min(64)])
    );
    assert!(closes(&mut raw).await, "connection stayed open after {error}");
}

#[tokio::test]
async fn a_command_split_at_every_byte_boundary_gets_exactly_one_reply() {
    let server = common::start().await;
    let command = b"*3\r\n$3\r\nSET\r\n$4\r\nk\r\n1\r\n$5\r\nv\x00l\r\n\r\n";
    for split in 1..command.len() {
        let mut raw = server.raw().await;
        raw.stream.set_nodelay(true).unwrap();
        raw.send(&command[..split]).await;
        raw.send(&command[split..]).await;
        raw.send(b"*2\r\n$3\r\nGET\r\n$4\r\nk\r\n1\r\n").await;
        assert_eq!(reply(&mut raw).await, b"+OK\r\n", "split at {split}");
        assert_eq!(reply(&mut raw).await, b"$5\r\nv\x00l\r\n\r\n", "split at {split}");
    }
}

#[tokio::test]
async fn an_inline_command_split_at_every_byte_boundary_gets_exactly_one_reply() {
    let server = common::start().await;
    let command = b"ECHO \"a b\\r\\n\" \r\n";
    for split in 1..command.len() {
        let mut raw = server.raw().await;
        raw.stream.set_nodelay(true).unwrap();
        raw.send(&command[..split]).await;
        raw.send(&command[split..]).await;
        raw.send(b"PING\r\n").await;
        assert_eq!(reply(&mut raw).await, b"$5\r\na b\r\n\r\n", "split at {split}");
        assert_eq!(reply(&mut raw).await, b"+PONG\r\n", "split at {split}");
    }
}

#[tokio::test]
async fn a_command_sent_one_byte_per_write_is_parsed_once() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.stream.set_nodelay(true).unwrap();
    for byte in b"*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n" {
        raw.send(&[*byte]).await;
    }
    assert_eq!(reply(&mut raw).await, b"$11\r\nhello world\r\n");
}

#[tokio::test]
async fn inline_commands_follow_redis_cli_quoting() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let cases: &[(&[u8], &[u8])] = &[
        (b"PING\r\n", b"+PONG\r\n"),
        (b"PING\n", b"+PONG\r\n"),
        (b"ping  \"a\"  \r\n", b"$1\r\na\r\n"),
        (b"echo \"\"\r\n", b"$0\r\n\r\n"),
        (b"echo ''\r\n", b"$0\r\n\r\n"),
        (b"echo \"a b\"\r\n", b"$3\r\na b\r\n"),
        (b"echo 'a \"b\" c'\r\n", b"$7\r\na \"b\" c\r\n"),
        (b"echo 'it\\'s'\r\n", b"$4\r\nit's\r\n"),
        (b"echo \"q\\\"q\"\r\n", b"$3\r\nq\"q\r\n"),
        (b"echo \"\\x41\\x42\\n\\t\"\r\n", b"$4\r\nAB\n\t\r\n"),
        (b"echo \"\\x41\\x\"\r\n", b"$2\r\nAx\r\n"),
        (b"echo a\"b\"\r\n", b"$2\r\nab\r\n"),
        (b"PING\tfoo\r\n", b"$3\r\nfoo\r\n"),
        (b"echo   spaced   \r\n", b"$6\r\nspaced\r\n"),
    ];
    for (input, expected) in cases {
        raw.send(input).await;
        assert_eq!(
            String::from_utf8_lossy(&reply(&mut raw).await),
            String::from_utf8_lossy(expected),
            "reply to {:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[tokio::test]
async fn blank_inline_lines_and_empty_multibulks_are_skipped_silently() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.send(b"\r\n\n   \r\n*0\r\n*-1\r\n*-2\r\nPING\r\n").await;
    assert_eq!(reply(&mut raw).await, b"+PONG\r\n");
    assert_eq!(raw.call(&[b"ECHO", b"next"]).await, b"$4\r\nnext\r\n");
}

#[tokio::test]
async fn a_bulk_header_line_sent_inline_is_an_unknown_command() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.send(b"$4\r\nPING\r\n").await;
    assert_eq!(reply(&mut raw).await, b"-ERR unknown command '$4', with args beginning with: \r\n");
    assert_eq!(reply(&mut raw).await, b"+PONG\r\n");
}

#[tokio::test]
async fn the_two_bytes_after_bulk_data_are_skipped_unchecked() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.send(b"*1\r\n$4\r\nPINGxx*2\r\n$4\r\nECHO\r\n$1\r\nz\r\n").await;
    assert_eq!(reply(&mut raw).await, b"+PONG\r\n");
    assert_eq!(reply(&mut raw).await, b"$1\r\nz\r\n");
}

#[tokio::test]
async fn unbalanced_quotes_are_an_error_and_close_the_connection() {
    let server = common::start().await;
    let error = "ERR Protocol error: unbalanced quotes in request";
    assert_protocol_error(&server, b"set \"abc\r\nPING\r\n", error).await;
    assert_protocol_error(&server, b"set 'abc\r\n", error).await;
    assert_protocol_error(&server, b"set \"a\"b\r\n", error).await;
    assert_protocol_error(&server, b"set 'a'b\r\n", error).await;
}

#[tokio::test]
async fn malformed_multibulk_lengths_are_errors_that_close_the_connection() {
    let server = common::start().await;
    let error = "ERR Protocol error: invalid multibulk length";
    for input in [
        &b"*x\r\n"[..],
        b"*2147483648\r\n",
        b"*9223372036854775808\r\n",
        b"*01\r\n$4\r\nPING\r\n",
        b"*+1\r\n$4\r\nPING\r\n",
        b"*-0\r\n",
        b"* 1\r\n",
        b"*1 \r\n",
        b"*\r\n",
        b"*1\nPING\r\n",
    ] {
        assert_protocol_error(&server, input, error).await;
    }
}

#[tokio::test]
async fn malformed_bulk_lengths_are_errors_that_close_the_connection() {
    let server = common::start().await;
    let error = "ERR Protocol error: invalid bulk length";
    for input in [
        &b"*1\r\n$x\r\n"[..],
        b"*1\r\n$-1\r\n",
        b"*1\r\n$-0\r\n",
        b"*1\r\n$04\r\nPING\r\n",
        b"*1\r\n$ 4\r\nPING\r\n",
        b"*1\r\n$\r\n",
        b"*1\r\n$4\nPING\r\n",
        b"*2\r\n$4\r\nECHO\r\n$-5\r\n",
    ] {
        assert_protocol_error(&server, input, error).await;
    }
}

#[tokio::test]
async fn a_bulk_longer_than_proto_max_bulk_len_is_refused_before_its_data_arrives() {
    let server = common::start().await;
    // 512 MiB is the default limit and itself allowed; one byte more is not.
    assert_protocol_error(&server, b"*1\r\n$536870913\r\n", "ERR Protocol error: invalid bulk length").await;

    let small = common::start_with(|config| config.proto_max_bulk_len = 10).await;
    let mut raw = small.raw().await;
    assert_eq!(raw.call(&[b"ECHO", b"0123456789"]).await, b"$10\r\n0123456789\r\n");
    assert_protocol_error(&small, b"*2\r\n$4\r\nECHO\r\n$11\r\n", "ERR Protocol error: invalid bulk length").await;
}

#[tokio::test]
async fn a_non_bulk_element_inside_a_multibulk_is_an_error() {
    let server = common::start().await;
    assert_protocol_error(&server, b"*1\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'").await;
    assert_protocol_error(&server, b"*2\r\n$4\r\nECHO\r\nx\r\n", "ERR Protocol error: expected '$', got 'x'").await;
    assert_protocol_error(&server, b"*1\r\n*1\r\n", "ERR Protocol error: expected '$', got '*'").await;
}

#[tokio::test]
async fn overlong_lines_without_a_newline_are_refused() {
    let server = common::start().await;
    let mut inline = vec![b'a'; 64 * 1024];
    inline.push(b'b');
    assert_protocol_error(&server, &inline, "ERR Protocol error: too big inline request").await;

    let mut count = b"*".to_vec();
    count.extend(std::iter::repeat_n(b'1', 64 * 1024));
    assert_protocol_error(&server, &count, "ERR Protocol error: too big mbulk count string").await;

    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(std::iter::repeat_n(b'1', 64 * 1024));
    assert_protocol_error(&server, &bulk, "ERR Protocol error: too big bulk count string").await;

    let mut junk = b"*1\r\n".to_vec();
    junk.extend(std::iter::repeat_n(b'x', 64 * 1024 + 1));
    assert_protocol_error(&server, &junk, "ERR Protocol error: too big bulk count string").await;
}

#[tokio::test]
async fn an_inline_line_just_under_the_limit_is_still_a_command() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let mut line = vec![b'a'; 64 * 1024 - 1];
    line.extend_from_slice(b"\r\n");
    raw.send(&line).await;
    let got = reply(&mut raw).await;
    assert!(got.starts_with(b"-ERR unknown command 'aaaa"), "{}", String::from_utf8_lossy(&got[..40]));
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n");
}

#[tokio::test]
async fn a_thousand_pipelined_commands_in_one_write_get_a_thousand_replies_in_order() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let mut pipeline = Vec::new();
    for i in 0..1000 {
        let n = i.to_string();
        pipeline.extend(common::encode_command(&[b"SET", format!("key:{i}").as_bytes(), n.as_bytes()]));
        pipeline.extend(common::encode_command(&[b"ECHO", n.as_bytes()]));
    }
    pipeline.extend_from_slice(b"PING\r\n");
    raw.send(&pipeline).await;
    for i in 0..1000 {
        let n = i.to_string();
        assert_eq!(reply(&mut raw).await, b"+OK\r\n", "SET #{i}");
        assert_eq!(reply(&mut raw).await, format!("${}\r\n{n}\r\n", n.len()).into_bytes(), "ECHO #{i}");
    }
    assert_eq!(reply(&mut raw).await, b"+PONG\r\n");
    assert_eq!(raw.call(&[b"GET", b"key:999"]).await, b"$3\r\n999\r\n");
}

#[tokio::test]
async fn huge_declared_lengths_that_never_arrive_do_not_take_the_server_down() {
    let server = common::start().await;
    for header in [
        &b"*2147483647\r\n"[..],
        b"*2147483647\r\n$536870912\r\n",
        b"*2147483647\r\n$536870912\r\nabc",
        b"*1048576\r\n$1\r\na\r\n",
    ] {
        let mut raw = server.raw().await;
        raw.send(header).await;
        drop(raw);
    }
    let mut other = server.raw().await;
    assert_eq!(other.call(&[b"PING"]).await, b"+PONG\r\n");
    assert_eq!(other.call(&[b"ECHO", b"alive"]).await, b"$5\r\nalive\r\n");
}

#[tokio::test]
async fn a_client_that_vanishes_mid_command_leaves_nothing_behind() {
    let server = common::start().await;
    let mut watcher = server.raw().await;
    assert_eq!(watcher.call(&[b"PING"]).await, b"+PONG\r\n");
    {
        let mut leaving = server.raw().await;
        leaving.send(b"*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$100\r\nonly some of it").await;
    }
    // The half-sent SET never runs, and the server keeps serving everyone else.
    assert_eq!(watcher.call(&[b"GET", b"half"]).await, b"$-1\r\n");
    assert_eq!(watcher.call(&[b"ECHO", b"still"]).await, b"$5\r\nstill\r\n");
    // Its client entry goes away once the server sees the close.
    let mut gone = false;
    for _ in 0..500 {
        if server.shared.clients.len() == 1 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone, "{} clients still registered", server.shared.clients.len());
}

#[tokio::test]
async fn a_client_over_the_query_buffer_limit_is_disconnected() {
    let server = common::start_with(|config| config.client_query_buffer_limit = 16 * 1024).await;
    let mut greedy = server.raw().await;
    assert_eq!(greedy.call(&[b"PING"]).await, b"+PONG\r\n");
    let mut big = b"*2\r\n$4\r\nECHO\r\n$100000\r\n".to_vec();
    big.extend(std::iter::repeat_n(b'x', 64 * 1024));
    // The server may close while we are still writing; either way nothing comes back.
    let _ = tokio::io::AsyncWriteExt::write_all(&mut greedy.stream, &big).await;
    assert!(closes(&mut greedy).await, "connection over the query buffer limit stayed open");

    let mut polite = server.raw().await;
    assert_eq!(polite.call(&[b"ECHO", b"fine"]).await, b"$4\r\nfine\r\n");
}

#[tokio::test]
async fn keys_and_values_are_binary_safe() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let key: &[u8] = b"k\r\ney\x00\xff";
    let value: &[u8] = b"*1\r\n$4\r\nPING\r\n\x00\r\n";
    assert_eq!(raw.call(&[b"SET", key, value]).await, b"+OK\r\n");
    let mut expected = format!("${}\r\n", value.len()).into_bytes();
    expected.extend_from_slice(value);
    expected.extend_from_slice(b"\r\n");
    assert_eq!(raw.call(&[b"GET", key]).await, expected);
    assert_eq!(raw.call(&[b"GET", b"k\r\ney\x00"]).await, b"$-1\r\n");
    assert_eq!(raw.call(&[b"SET", b"", b""]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"GET", b""]).await, b"$0\r\n\r\n");
}

#[tokio::test]
async fn a_large_argument_arriving_in_many_reads_is_received_whole() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let value: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(raw.call(&[b"SET", b"big", &value]).await, b"+OK\r\n");
    let got = raw.call(&[b"GET", b"big"]).await;
    assert_eq!(&got[..11], b"$3000000\r\n\x00");
    assert_eq!(&got[10..got.len() - 2], &value[..]);
}

#[tokio::test]
async fn a_nul_byte_in_an_inline_line_ends_the_line_and_the_server_keeps_serving() {
    // Redis never finds the newline past a NUL (strchr) and stalls the client until 64 KiB;
    // Herald ends the line at the NUL, as sdssplitargs does, and must not spin on it.
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.send(b"PING\x00foo\r\n").await;
    assert_eq!(reply(&mut raw).await, b"+PONG\r\n");
    assert_eq!(raw.call(&[b"ECHO", b"after"]).await, b"$5\r\nafter\r\n");
    let mut other = server.raw().await;
    assert_eq!(other.call(&[b"PING"]).await, b"+PONG\r\n");
}
