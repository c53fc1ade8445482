//! The string command family against a real Herald: replies and errors byte for byte (raw
//! client), behaviour through the `redis` crate, encodings, TTL effects, keyspace events,
//! WATCH signals and keyspace hit/miss counting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::text::call;
use common::RawClient;
use redis::AsyncCommands;
use std::sync::atomic::Ordering;

/// Asserts each `(command, reply)` in order.
async fn expect(client: &mut RawClient, script: &[(&[&str], &str)]) {
    for (words, reply) in script {
        assert_eq!(call(client, words).await, *reply, "reply to {words:?}");
    }
}

const OK: &str = "+OK\r\n";
const NULL: &str = "$-1\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";
const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const TOO_BIG: &str = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";

fn bulk(text: &str) -> String {
    format!("${}\r\n{text}\r\n", text.len())
}

fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

#[tokio::test]
async fn get_and_set_round_trip_through_a_client_library() {
    let server = common::start().await;
    let mut con = server.client().await;
    let missing: Option<String> = con.get("k").await.unwrap();
    assert_eq!(missing, None);
    let _: () = con.set("k", "value").await.unwrap();
    let value: String = con.get("k").await.unwrap();
    assert_eq!(value, "value");
    let _: () = con.set("bin", b"a\0b\r\n".as_slice()).await.unwrap();
    let bytes: Vec<u8> = con.get("bin").await.unwrap();
    assert_eq!(bytes, b"a\0b\r\n");
}

#[tokio::test]
async fn set_nx_xx_and_get_reply_as_redis_does() {
    let server = common::start().await;
    let mut c = server.raw().await;
    let v1 = bulk("v1");
    let v2 = bulk("v2");
    expect(
        &mut c,
        &[
            (&["SET", "k", "v1", "XX"], NULL),
            (&["EXISTS", "k"], ":0\r\n"),
            (&["SET", "k", "v1", "NX"], OK),
            (&["SET", "k", "v2", "NX"], NULL),
            (&["GET", "k"], &v1),
            (&["SET", "k", "v2", "XX", "GET"], &v1),
            (&["SET", "k", "v3", "NX", "GET"], &v2),
            (&["GET", "k"], &v2),
            (&["SET", "new", "x", "GET"], NULL),
            (&["SET", "new2", "x", "XX", "GET"], NULL),
            (&["EXISTS", "new2"], ":0\r\n"),
            (&["set", "k", "v1", "nx", "nx"], NULL),
        ],
    )
    .await;
}

#[tokio::test]
async fn conflicting_or_unknown_set_options_are_syntax_errors() {
    let server = common::start().await;
    let mut c = server.raw().await;
    let cases: &[&[&str]] = &[
        &["SET", "k", "v", "NX", "XX"],
        &["SET", "k", "v", "XX", "NX"],
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        &["SET", "k", "v", "EXAT", "10", "PXAT", "100"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "KEEPTTL", "PXAT", "10"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "FOO"],
        &["SET", "k", "v", "NX", "EX", "abc", "XX"],
        &["GETEX", "k", "NX"],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "PERSIST", "EX", "1"],
        &["GETEX", "k", "EX", "1", "PERSIST"],
        &["GETEX", "k", "EX", "1", "PX", "1"],
        &["GETEX", "k", "PX"],
    ];
    for words in cases {
        assert_eq!(call(&mut c, words).await, SYNTAX, "{words:?}");
    }
    assert_eq!(call(&mut c, &["EXISTS", "k"]).await, ":0\r\n");
    // The same expire form may repeat; the last one wins.
    assert_eq!(call(&mut c, &["SET", "k", "v", "PXAT", "1", "PXAT", "4102444800123"]).await, OK);
    assert_eq!(call(&mut c, &["PEXPIRETIME", "k"]).await, int(4_102_444_800_123));
}

#[tokio::test]
async fn invalid_expire_times_name_the_command() {
    let server = common::start().await;
    let mut c = server.raw().await;
    let invalid = |name: &str| format!("-ERR invalid expire time in '{name}' command\r\n");
    c.call(&[b"SET", b"g", b"v"]).await;
    let cases: Vec<(&[&str], String)> = vec![
        (&["SET", "k", "v", "EX", "0"], invalid("set")),
        (&["SET", "k", "v", "PX", "-1"], invalid("set")),
        (&["SET", "k", "v", "EXAT", "0"], invalid("set")),
        (&["SET", "k", "v", "EX", "9223372036854776"], invalid("set")),
        (&["SET", "k", "v", "PX", "9223372036854775807"], invalid("set")),
        (&["SET", "k", "v", "EX", "abc"], NOT_INT.to_string()),
        (&["SETEX", "k", "0", "v"], invalid("setex")),
        (&["SETEX", "k", "x", "v"], NOT_INT.to_string()),
        (&["PSETEX", "k", "-5", "v"], invalid("psetex")),
        (&["GETEX", "g", "EX", "-1"], invalid("getex")),
        (&["GETEX", "g", "PXAT", "0"], invalid("getex")),
        (&["GETEX", "g", "EX", "1.5"], NOT_INT.to_string()),
    ];
    for (words, reply) in &cases {
        assert_eq!(&call(&mut c, words).await, reply, "{words:?}");
    }
    assert_eq!(call(&mut c, &["EXISTS", "k"]).await, ":0\r\n");
    assert_eq!(call(&mut c, &["TTL", "g"]).await, ":-1\r\n");
}

#[tokio::test]
async fn expire_options_set_keep_and_clear_the_deadline() {
    let server = common::start().await;
    let mut c = server.raw().await;
    expect(
        &mut c,
        &[
            (&["SET", "k", "v", "PXAT", "4102444800123"], OK),
            (&["PEXPIRETIME", "k"], ":4102444800123\r\n"),
            (&["SET", "k", "v", "EXAT", "4102444800"], OK),
            (&["PEXPIRETIME", "k"], ":4102444800000\r\n"),
            (&["SET", "k", "w", "KEEPTTL"], OK),
            (&["PEXPIRETIME", "k"], ":4102444800000\r\n"),
            (&["SET", "k", "x"], OK),
            (&["TTL", "k"], ":-1\r\n"),
        ],
    )
    .await;
    assert_eq!(call(&mut c, &["SET", "k", "v", "EX", "100"]).await, OK);
    let ttl = call(&mut c, &["TTL", "k"]).await;
    assert!(ttl == ":100\r\n" || ttl == ":99\r\n", "{ttl}");
    assert_eq!(call(&mut c, &["SETEX", "s", "100", "v"]).await, OK);
    let pttl: i64 = call(&mut c, &["PTTL", "s"]).await.trim()[1..].parse().unwrap();
    assert!((1..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(call(&mut c, &["PSETEX", "p", "100000", "v"]).await, OK);
    let pttl: i64 = call(&mut c, &["PTTL", "p"]).await.trim()[1..].parse().unwrap();
    assert!((1..=100_000).contains(&pttl), "{pttl}");
}

#[tokio::test]
async fn a_past_absolute_deadline_leaves_no_visible_key() {
    let server = common::start().await;
    let mut c = server.raw().await;
    expect(
        &mut c,
        &[
            (&["SET", "k", "v", "EXAT", "1"], OK),
            (&["GET", "k"], NULL),
            (&["EXISTS", "k"], ":0\r\n"),
            (&["SET", "g", "v"], OK),
            (&["GETEX", "g", "PXAT", "1"], &bulk("v")),
            (&["EXISTS", "g"], ":0\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn setnx_getset_and_getdel_follow_redis() {
    let server = common::start().await;
    let mut c = server.raw().await;
    expect(
        &mut c,
        &[
            (&["SETNX", "k", "1"], ":1\r\n"),
            (&["SETNX", "k", "2"], ":0\r\n"),
            (&["GET", "k"], &bulk("1")),
            (&["GETSET", "new", "a"], NULL),
            (&["SETEX", "t", "100", "old"], OK),
            (&["GETSET", "t", "new"], &bulk("old")),
            (&["TTL", "t"], ":-1\r\n"),
            (&["GETDEL", "t"], &bulk("new")),
            (&["GETDEL", "t"], NULL),
            (&["EXISTS", "t"], ":0\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn getex_changes_or_removes_the_ttl_and_ignores_expire_errors_for_missing_keys() {
    let server = common::start().await;
    let mut c = server.raw().await;
    let v = bulk("v");
    expect(
        &mut c,
        &[
            (&["SET", "k", "v"], OK),
            (&["GETEX", "k"], &v),
            (&["TTL", "k"], ":-1\r\n"),
            (&["GETEX", "k", "PXAT", "4102444800123"], &v),
            (&["PEXPIRETIME", "k"], ":4102444800123\r\n"),
            (&["GETEX", "k", "EXAT", "4102444800"], &v),
            (&["PEXPIRETIME", "k"], ":4102444800000\r\n"),
            (&["GETEX", "k", "PERSIST"], &v),
            (&["TTL", "k"], ":-1\r\n"),
            (&["GETEX", "missing", "EX", "-1"], NULL),
            (&["GETEX", "missing", "EX", "abc"], NULL),
            (&["GETEX", "missing", "FOO"], SYNTAX),
        ],
    )
    .await;
}

#[tokio::test]
async fn mget_mset_and_msetnx_work_on_every_pair() {
    let server = common::start().await;
    let mut con = server.client().await;
    let _: () = redis::cmd("MSET").arg("a").arg("1").arg("b").arg("2").query_async(&mut con).await.unwrap();
    let _: () = redis::cmd("RPUSH").arg("list").arg("x").query_async(&mut con).await.unwrap();
    let values: Vec<Option<String>> = con.mget(&["a", "missing", "list", "b"]).await.unwrap();
    assert_eq!(values, vec![Some("1".into()), None, None, Some("2".into())]);
    let stored: i64 = redis::cmd("MSETNX").arg("c").arg("3").arg("a").arg("9").query_async(&mut con).await.unwrap();
    assert_eq!(stored, 0);
    let c: Option<String> = con.get("c").await.unwrap();
    assert_eq!(c, None);
    let stored: i64 = redis::cmd("MSETNX").arg("c").arg("3").arg("d").arg("4").query_async(&mut con).await.unwrap();
    assert_eq!(stored, 1);
    let values: Vec<String> = con.mget(&["c", "d"]).await.unwrap();
    assert_eq!(values, vec!["3", "4"]);

    let mut raw = server.raw().await;
    expect(
        &mut raw,
        &[
            (&["MSET", "a", "1", "b"], "-ERR wrong number of arguments for 'mset' command\r\n"),
            (&["MSETNX", "a", "1", "b"], "-ERR wrong number of arguments for 'msetnx' command\r\n"),
            (&["MSETNX", "list", "1"], ":0\r\n"),
            (&["SETEX", "t", "100", "v"], OK),
            (&["MSET", "t", "w"], OK),
            (&["TTL", "t"], ":-1\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn append_and_setrange_build_raw_strings() {
    let server = common::start().await;
    let mut c = server.raw().await;
    expect(
        &mut c,
        &[
            (&["APPEND", "k", "12"], ":2\r\n"),
            (&["OBJECT", "ENCODING", "k"], "$3\r\nint\r\n"),
            (&["APPEND", "k", "34"], ":4\r\n"),
            (&["OBJECT", "ENCODING", "k"], "$3\r\nraw\r\n"),
            (&["GET", "k"], &bulk("1234")),
            (&["APPEND", "k", ""], ":4\r\n"),
            (&["SETRANGE", "s", "3", "ab"], ":5\r\n"),
            (&["GET", "s"], "$5\r\n\0\0\0ab\r\n"),
            (&["OBJECT", "ENCODING", "s"], "$3\r\nraw\r\n"),
            (&["SETRANGE", "s", "0", "xy"], ":5\r\n"),
            (&["GET", "s"], "$5\r\nxy\0ab\r\n"),
            (&["SETRANGE", "s", "100", ""], ":5\r\n"),
            (&["SETRANGE", "none", "100", ""], ":0\r\n"),
            (&["EXISTS", "none"], ":0\r\n"),
            (&["SETRANGE", "s", "-1", "x"], "-ERR offset is out of range\r\n"),
            (&["SETRANGE", "s", "x", "x"], NOT_INT),
            (&["SETEX", "t", "100", "abc"], OK),
            (&["SETRANGE", "t", "1", "X"], ":3\r\n"),
            (&["APPEND", "t", "d"], ":4\r\n"),
            (&["GET", "t"], &bulk("aXcd")),
        ],
    )
    .await;
    let ttl = call(&mut c, &["TTL", "t"]).await;
    assert_ne!(ttl, ":-1\r\n", "in-place edits keep the TTL");
}

#[tokio::test]
async fn many_appends_accumulate_every_byte() {
    let server = common::start().await;
    let mut c = server.raw().await;
    for i in 0..2_000 {
        c.call(&[b"APPEND", b"log", format!("{:05}|", i).as_bytes()]).await;
    }
    let value = c.call(&[b"GET", b"log"]).await;
    let expected: String = (0..2_000).map(|i| format!("{:05}|", i)).collect();
    assert_eq!(value, bulk(&expected).into_bytes());
}

#[tokio::test]
async fn strings_may_not_outgrow_proto_max_bulk_len() {
    let server = common::start_with(|config| config.proto_max_bulk_len = 1024 * 1024).await;
    let mut c = server.raw().await;
    expect(
        &mut c,
        &[
            (&["SETRANGE", "k", "1048576", "x"], TOO_BIG),
            (&["SETRANGE", "k", "9223372036854775807", "x"], TOO_BIG),
            (&["EXISTS", "k"], ":0\r\n"),
            (&["SETRANGE", "k", "1048575", "x"], ":1048576\r\n"),
            (&["APPEND", "k", "y"], TOO_BIG),
            (&["STRLEN", "k"], ":1048576\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn counters_add_store_ints_and_keep_the_ttl() {
    let server = common::start().await;
    let mut c = server.raw().await;
    expect(
        &mut c,
        &[
            (&["INCR", "c"], ":1\r\n"),
            (&["INCRBY", "c", "41"], ":42\r\n"),
            (&["DECR", "c"], ":41\r\n"),
            (&["DECRBY", "c", "-9"], ":50\r\n"),
            (&["OBJECT", "ENCODING", "c"], "$3\r\nint\r\n"),
            (&["SET", "c", "9223372036854775807"], OK),
            (&["INCR", "c"], "-ERR increment or decrement would overflow\r\n"),
            (&["SET", "c", "-9223372036854775808"], OK),
            (&["DECR", "c"], "-ERR increment or decrement would overflow\r\n"),
            (&["DECRBY", "c", "-9223372036854775808"], "-ERR decrement would overflow\r\n"),
            (&["INCRBY", "c", "x"], NOT_INT),
            (&["SET", "c", " 1"], OK),
            (&["INCR", "c"], NOT_INT),
            (&["SET", "c", "1.5"], OK),
            (&["INCR", "c"], NOT_INT),
            (&["SETEX", "t", "100", "5"], OK),
            (&["INCR", "t"], ":6\r\n"),
        ],
    )
    .await;
    assert_ne!(call(&mut c, &["TTL", "t"]).await, ":-1\r\n");
}

#[tokio::test]
async fn incrbyfloat_prints_what_redis_prints() {
    let server = common::start().await;
    let mut c = server.raw().await;
    // Expected strings come from redis-server (x87 long double, %.17Lf, zeros stripped).
    let cases: &[(&str, &str, &str)] = &[
        ("10.5", "0.1", "10.6"),
        ("0.1", "0.2", "0.3"),
        ("3", "0.000003814697265625", "3.00000381469726562"),
        ("0", "1e-20", "0"),
        ("5", "0x10", "21"),
        ("10.6", "1e30", "1000000000000000000024696061952"),
        ("-5.5", "2.25", "-3.25"),
        ("123456789012345678", "0.5", "123456789012345678.5"),
    ];
    for (start, by, result) in cases {
        c.call(&[b"SET", b"f", start.as_bytes()]).await;
        assert_eq!(call(&mut c, &["INCRBYFLOAT", "f", by]).await, bulk(result), "{start} + {by}");
        assert_eq!(call(&mut c, &["GET", "f"]).await, bulk(result));
    }
    expect(
        &mut c,
        &[
            (&["INCRBYFLOAT", "new", "3"], &bulk("3")),
            (&["OBJECT", "ENCODING", "new"], "$6\r\nembstr\r\n"),
            (&["INCRBYFLOAT", "new", "abc"], NOT_FLOAT),
            (&["INCRBYFLOAT", "new", "nan"], NOT_FLOAT),
            (&["INCRBYFLOAT", "new", " 1"], NOT_FLOAT),
            (&["INCRBYFLOAT", "new", "inf"], "-ERR increment would produce NaN or Infinity\r\n"),
            (&["SET", "bad", "x"], OK),
            (&["INCRBYFLOAT", "bad", "1"], NOT_FLOAT),
            (&["GET", "new"], &bulk("3")),
        ],
    )
    .await;
}

#[tokio::test]
async fn getrange_and_substr_clamp_indexes_like_redis_7_4() {
    let server = common::start().await;
    let mut c = server.raw().await;
    expect(
        &mut c,
        &[
            (&["SET", "s", "Hello World"], OK),
            (&["GETRANGE", "s", "0", "4"], &bulk("Hello")),
            (&["GETRANGE", "s", "-5", "-1"], &bulk("World")),
            (&["GETRANGE", "s", "0", "-100"], &bulk("H")),
            (&["GETRANGE", "s", "-1", "-5"], &bulk("")),
            (&["GETRANGE", "s", "6", "100"], &bulk("World")),
            (&["GETRANGE", "s", "a", "1"], NOT_INT),
            (&["GETRANGE", "missing", "0", "-1"], &bulk("")),
            (&["SUBSTR", "s", "0", "4"], &bulk("Hello")),
            (&["SET", "n", "12345"], OK),
            (&["GETRANGE", "n", "1", "3"], &bulk("234")),
        ],
    )
    .await;
}

#[tokio::test]
async fn lcs_reports_the_subsequence_its_length_and_its_runs() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"MSET", b"a", b"ohmytext", b"b", b"mynewtext"]).await;
    expect(
        &mut c,
        &[
            (&["LCS", "a", "b"], &bulk("mytext")),
            (&["LCS", "a", "b", "LEN"], ":6\r\n"),
            (
                &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"],
                "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n",
            ),
            (&["LCS", "a", "b", "IDX", "LEN"], "-ERR If you want both the length and indexes, please just use IDX.\r\n"),
            (&["LCS", "a", "b", "FOO"], SYNTAX),
            (&["RPUSH", "l", "x"], ":1\r\n"),
            (&["LCS", "a", "l", "FOO"], "-ERR The specified keys must contain string values\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn every_string_command_rejects_a_list_with_wrongtype() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"RPUSH", b"l", b"x"]).await;
    let cases: &[&[&str]] = &[
        &["GET", "l"],
        &["SET", "l", "v", "GET"],
        &["GETSET", "l", "v"],
        &["GETDEL", "l"],
        &["GETEX", "l", "EX", "10"],
        &["APPEND", "l", "x"],
        &["STRLEN", "l"],
        &["INCR", "l"],
        &["DECR", "l"],
        &["INCRBY", "l", "1"],
        &["DECRBY", "l", "1"],
        &["INCRBYFLOAT", "l", "1"],
        &["GETRANGE", "l", "0", "1"],
        &["SUBSTR", "l", "0", "1"],
        &["SETRANGE", "l", "0", "x"],
    ];
    for words in cases {
        assert_eq!(call(&mut c, words).await, WRONGTYPE, "{words:?}");
    }
    assert_eq!(call(&mut c, &["TYPE", "l"]).await, "+list\r\n");
    assert_eq!(call(&mut c, &["SETNX", "l", "v"]).await, ":0\r\n");
    assert_eq!(call(&mut c, &["SET", "l", "v"]).await, OK);
    assert_eq!(call(&mut c, &["TYPE", "l"]).await, "+string\r\n");
}

#[tokio::test]
async fn encodings_follow_how_the_value_was_written() {
    let server = common::start().await;
    let mut c = server.raw().await;
    let long = "x".repeat(45);
    expect(
        &mut c,
        &[
            (&["SET", "i", "42"], OK),
            (&["OBJECT", "ENCODING", "i"], "$3\r\nint\r\n"),
            (&["SET", "e", "hello"], OK),
            (&["OBJECT", "ENCODING", "e"], "$6\r\nembstr\r\n"),
            (&["SET", "r", &long], OK),
            (&["OBJECT", "ENCODING", "r"], "$3\r\nraw\r\n"),
            (&["APPEND", "e", "!"], ":6\r\n"),
            (&["OBJECT", "ENCODING", "e"], "$3\r\nraw\r\n"),
            (&["INCR", "i"], ":43\r\n"),
            (&["OBJECT", "ENCODING", "i"], "$3\r\nint\r\n"),
            (&["SETRANGE", "i", "0", "5"], ":2\r\n"),
            (&["OBJECT", "ENCODING", "i"], "$3\r\nraw\r\n"),
            (&["INCR", "i"], ":54\r\n"),
            (&["OBJECT", "ENCODING", "i"], "$3\r\nint\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn read_commands_count_keyspace_hits_and_misses() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"SET", b"k", b"v"]).await;
    let stats = &server.shared.stats;
    let (hits, misses) = (stats.keyspace_hits.load(Ordering::Relaxed), stats.keyspace_misses.load(Ordering::Relaxed));
    c.call(&[b"GET", b"k"]).await;
    c.call(&[b"GET", b"nope"]).await;
    c.call(&[b"MGET", b"k", b"nope", b"k"]).await;
    c.call(&[b"STRLEN", b"k"]).await;
    c.call(&[b"GETRANGE", b"nope", b"0", b"1"]).await;
    c.call(&[b"INCR", b"counter"]).await; // a write lookup: not counted
    assert_eq!(stats.keyspace_hits.load(Ordering::Relaxed) - hits, 4);
    assert_eq!(stats.keyspace_misses.load(Ordering::Relaxed) - misses, 3);
}

#[tokio::test]
async fn in_place_writes_abort_a_watching_transaction() {
    let server = common::start().await;
    let mut writer = server.raw().await;
    for write in [&["APPEND", "k", "x"][..], &["SETRANGE", "k", "0", "y"], &["INCR", "n"], &["INCRBYFLOAT", "n", "1.5"], &["GETEX", "k", "EX", "100"]] {
        writer.call(&[b"SET", b"k", b"v"]).await;
        writer.call(&[b"SET", b"n", b"1"]).await;
        let mut watcher = server.raw().await;
        let key = write[1];
        assert_eq!(call(&mut watcher, &["WATCH", key]).await, OK);
        call(&mut writer, write).await;
        call(&mut watcher, &["MULTI"]).await;
        call(&mut watcher, &["GET", key]).await;
        assert_eq!(call(&mut watcher, &["EXEC"]).await, "*-1\r\n", "{write:?} must touch {key}");
    }
}

/// Collects `(event, key)` pairs from a `__keyevent@0__:*` subscriber until `PING`'s reply.
async fn events_until_ping(listener: &mut RawClient) -> Vec<(String, String)> {
    listener.send_command(&[b"PING"]).await;
    let mut events = Vec::new();
    loop {
        let frame = String::from_utf8_lossy(&listener.read_reply().await.unwrap()).into_owned();
        if frame.starts_with("*2\r\n$4\r\npong") {
            return events;
        }
        let parts: Vec<&str> = frame.split("\r\n").collect();
        // *4 $8 pmessage $n pattern $n channel $n key
        let channel = parts[6];
        let event = channel.rsplit(':').next().unwrap().to_string();
        events.push((event, parts[8].to_string()));
    }
}

#[tokio::test]
async fn writes_raise_the_keyspace_events_redis_raises() {
    let server = common::start().await;
    server.shared.config.write().set("notify-keyspace-events", "KEA").unwrap();
    let mut listener = server.raw().await;
    listener.call(&[b"PSUBSCRIBE", b"__keyevent@0__:*"]).await;
    let mut c = server.raw().await;
    let script: &[&[&str]] = &[
        &["SET", "a", "1", "EX", "100"],
        &["SETEX", "c", "10", "v"],
        &["GETEX", "c", "PERSIST"],
        &["GETEX", "c", "PERSIST"],
        &["GETEX", "c", "EXAT", "1"],
        &["SET", "d", "v"],
        &["GETDEL", "d"],
        &["GETDEL", "d"],
        &["INCRBYFLOAT", "e", "1"],
        &["APPEND", "e", "x"],
        &["APPEND", "e", ""],
        &["SETRANGE", "e", "0", ""],
        &["SETRANGE", "e", "0", "y"],
        &["INCR", "g"],
        &["DECRBY", "g", "2"],
        &["GETSET", "h", "2"],
        &["MSET", "j", "1", "k", "2"],
        &["MSETNX", "j", "1", "l", "2"],
        &["SETNX", "m", "1"],
        &["SETNX", "m", "1"],
        &["SET", "o", "1", "NX", "GET"],
        &["SET", "o", "2", "NX"],
        &["GETEX", "o", "PX", "100000"],
        &["SET", "o", "3", "PXAT", "4102444800123", "XX"],
    ];
    for words in script {
        call(&mut c, words).await;
    }
    let got = events_until_ping(&mut listener).await;
    let expected: Vec<(String, String)> = [
        ("set", "a"),
        ("expire", "a"),
        ("set", "c"),
        ("expire", "c"),
        ("persist", "c"),
        ("del", "c"),
        ("set", "d"),
        ("del", "d"),
        ("incrbyfloat", "e"),
        ("append", "e"),
        ("append", "e"),
        ("setrange", "e"),
        ("incrby", "g"),
        ("incrby", "g"),
        ("set", "h"),
        ("set", "j"),
        ("set", "k"),
        ("set", "m"),
        ("set", "o"),
        ("expire", "o"),
        ("set", "o"),
        ("expire", "o"),
    ]
    .iter()
    .map(|(e, k)| (e.to_string(), k.to_string()))
    .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn wrong_argument_counts_are_rejected_with_the_command_name() {
    let server = common::start().await;
    let mut c = server.raw().await;
    for (words, name) in [
        (&["GET"][..], "get"),
        (&["SET", "k"], "set"),
        (&["SETEX", "k", "1"], "setex"),
        (&["GETDEL", "a", "b"], "getdel"),
        (&["INCRBYFLOAT", "k"], "incrbyfloat"),
        (&["SUBSTR", "k", "0"], "substr"),
        (&["LCS", "a"], "lcs"),
    ] {
        assert_eq!(call(&mut c, words).await, format!("-ERR wrong number of arguments for '{name}' command\r\n"));
    }
}

/// The address of the bytes stored under `key` in db 0.
fn stored_ptr(server: &common::TestServer, key: &[u8]) -> (usize, usize) {
    let mut keyspace = server.shared.keyspace.lock();
    match keyspace.db(0).get_value(key, 0) {
        Some(herald::keyspace::Value::String(herald::keyspace::StringValue::Raw(bytes))) => (bytes.as_ptr() as usize, bytes.len()),
        other => panic!("expected a raw string, found {other:?}"),
    }
}

#[tokio::test]
async fn appends_grow_the_stored_buffer_in_place() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"APPEND", b"k", b"start"]).await;
    c.call(&[b"APPEND", b"k", &[b'x'; 1000]]).await;
    c.call(&[b"APPEND", b"k", b"y"]).await;
    let (before, _) = stored_ptr(&server, b"k");
    // The growth above at least doubled the buffer, leaving room: no copy, same buffer.
    c.call(&[b"APPEND", b"k", b"z"]).await;
    let (after, len) = stored_ptr(&server, b"k");
    assert_eq!(len, 1007);
    assert_eq!(before, after, "APPEND copied the whole value instead of growing it");
}

#[tokio::test]
async fn resp3_clients_get_nulls_and_maps_in_resp3_form() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"HELLO", b"3"]).await;
    c.call(&[b"MSET", b"a", b"ohmytext", b"b", b"mynewtext"]).await;
    expect(
        &mut c,
        &[
            (&["GET", "missing"], "_\r\n"),
            (&["SET", "a", "x", "NX"], "_\r\n"),
            (&["GETDEL", "missing"], "_\r\n"),
            (&["MGET", "a", "missing"], "*2\r\n$8\r\nohmytext\r\n_\r\n"),
            (&["INCRBYFLOAT", "f", "1.5"], "$3\r\n1.5\r\n"),
            (&["LCS", "a", "b", "IDX", "MINMATCHLEN", "4"], "%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_resp3_client_library_reads_string_replies() {
    let server = common::start().await;
    let mut con = server.client_resp3().await;
    let _: () = con.set("k", "10.5").await.unwrap();
    let sum: f64 = redis::cmd("INCRBYFLOAT").arg("k").arg("0.1").query_async(&mut con).await.unwrap();
    assert_eq!(sum, 10.6);
    let text: String = con.get("k").await.unwrap();
    assert_eq!(text, "10.6");
    let missing: Option<String> = con.get_del("missing").await.unwrap();
    assert_eq!(missing, None);
}
