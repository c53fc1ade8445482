//! Generic key commands over the socket: DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX, COPY,
//! MOVE, KEYS, SCAN, RANDOMKEY, TOUCH and OBJECT, with their exact replies and errors, keyspace
//! events and hit/miss statistics. The EXPIRE and TTL families are in `keys_expiry.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::keys::{expect_all, listening, run, string};
use common::{RawClient, TestServer};
use herald::keyspace::list::{End, List};
use herald::keyspace::Value;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

fn list_of(items: &[&str]) -> Value {
    let mut list = List::new();
    for item in items {
        list.push(End::Right, item.as_bytes());
    }
    Value::List(Box::new(list))
}

/// Stores a value directly in database `db`, last accessed at `accessed_ms`.
fn put(server: &TestServer, db: usize, key: &str, value: Value, accessed_ms: u64) {
    server.shared.keyspace.lock().db(db).insert(key.as_bytes(), value, None, accessed_ms);
}

/// A page of SCAN as (cursor, keys).
async fn scan_page(con: &mut redis::aio::MultiplexedConnection, cursor: u64, extra: &[&str]) -> (u64, Vec<String>) {
    let mut cmd = redis::cmd("SCAN");
    cmd.arg(cursor);
    for arg in extra {
        cmd.arg(*arg);
    }
    let (next, keys): (String, Vec<String>) = cmd.query_async(con).await.unwrap();
    (next.parse().unwrap(), keys)
}

/// Every key a full SCAN returns, with the number of pages it took.
async fn full_scan(con: &mut redis::aio::MultiplexedConnection, extra: &[&str]) -> (Vec<String>, usize) {
    let (mut cursor, mut all, mut pages) = (0, Vec::new(), 0);
    loop {
        let (next, keys) = scan_page(con, cursor, extra).await;
        all.extend(keys);
        pages += 1;
        cursor = next;
        if cursor == 0 {
            return (all, pages);
        }
        assert!(pages < 100_000, "SCAN never finished");
    }
}

// --- DEL, UNLINK, EXISTS, TYPE ------------------------------------------------------------------

#[tokio::test]
async fn del_and_unlink_count_each_existing_key_once() {
    let server = common::start().await;
    let mut con = server.client().await;
    for key in ["a", "b", "c", "d"] {
        let _: () = redis::cmd("SET").arg(key).arg("v").query_async(&mut con).await.unwrap();
    }
    let removed: i64 = redis::cmd("DEL").arg(&["a", "a", "b", "missing"]).query_async(&mut con).await.unwrap();
    assert_eq!(removed, 2);
    let removed: i64 = redis::cmd("UNLINK").arg(&["c", "d", "c", "a"]).query_async(&mut con).await.unwrap();
    assert_eq!(removed, 2);
    let left: i64 = redis::cmd("DBSIZE").query_async(&mut con).await.unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn exists_counts_a_repeated_key_each_time() {
    let server = common::start().await;
    let mut con = server.client().await;
    let _: () = redis::cmd("SET").arg("k").arg("v").query_async(&mut con).await.unwrap();
    let count: i64 = redis::cmd("EXISTS").arg(&["k", "k", "missing", "k"]).query_async(&mut con).await.unwrap();
    assert_eq!(count, 3);
}

#[tokio::test]
async fn type_names_each_kind_of_value_and_none() {
    let server = common::start().await;
    put(&server, 0, "s", string("x"), 0);
    put(&server, 0, "l", list_of(&["a"]), 0);
    let mut raw = server.raw().await;
    expect_all(&mut raw, &[("TYPE s", "+string\r\n"), ("TYPE l", "+list\r\n"), ("TYPE missing", "+none\r\n")]).await;
}

#[tokio::test]
async fn key_commands_reject_wrong_argument_counts_with_redis_texts() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    for (line, name) in [
        ("DEL", "del"),
        ("UNLINK", "unlink"),
        ("EXISTS", "exists"),
        ("TYPE", "type"),
        ("TYPE a b", "type"),
        ("RENAME a", "rename"),
        ("RENAMENX a b c", "renamenx"),
        ("COPY a", "copy"),
        ("MOVE a", "move"),
        ("KEYS", "keys"),
        ("SCAN", "scan"),
        ("RANDOMKEY x", "randomkey"),
        ("TOUCH", "touch"),
        ("OBJECT", "object"),
        ("OBJECT ENCODING", "object|encoding"),
        ("OBJECT FREQ a b", "object|freq"),
        ("OBJECT HELP x", "object|help"),
    ] {
        assert_eq!(run(&mut raw, line).await, format!("-ERR wrong number of arguments for '{name}' command\r\n"), "{line}");
    }
    assert_eq!(run(&mut raw, "OBJECT nosuch k").await, "-ERR unknown subcommand 'nosuch'. Try OBJECT HELP.\r\n");
}

// --- RENAME, RENAMENX -----------------------------------------------------------------------

#[tokio::test]
async fn rename_replaces_the_target_and_keeps_the_source_value() {
    let server = common::start().await;
    put(&server, 0, "list", list_of(&["x", "y"]), 0);
    let mut raw = server.raw().await;
    expect_all(
        &mut raw,
        &[
            ("SET target old", "+OK\r\n"),
            ("RENAME list target", "+OK\r\n"),
            ("EXISTS list", ":0\r\n"),
            ("TYPE target", "+list\r\n"),
            ("RENAME target target", "+OK\r\n"),
            ("TYPE target", "+list\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn rename_of_a_missing_key_is_an_error_even_onto_itself() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    expect_all(
        &mut raw,
        &[
            ("RENAME missing other", "-ERR no such key\r\n"),
            ("RENAME missing missing", "-ERR no such key\r\n"),
            ("RENAMENX missing other", "-ERR no such key\r\n"),
            ("RENAMENX missing missing", "-ERR no such key\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn renamenx_renames_only_onto_a_free_name() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    expect_all(
        &mut raw,
        &[
            ("SET a 1", "+OK\r\n"),
            ("SET b 2", "+OK\r\n"),
            ("RENAMENX a b", ":0\r\n"),
            ("GET b", "$1\r\n2\r\n"),
            ("RENAMENX a a", ":0\r\n"),
            ("RENAMENX a c", ":1\r\n"),
            ("GET c", "$1\r\n1\r\n"),
            ("EXISTS a", ":0\r\n"),
        ],
    )
    .await;
}

// --- COPY, MOVE -----------------------------------------------------------------------------

#[tokio::test]
async fn copy_makes_an_independent_value_in_the_same_or_another_database() {
    let server = common::start().await;
    put(&server, 0, "src", list_of(&["a", "b"]), 0);
    let mut raw = server.raw().await;
    expect_all(
        &mut raw,
        &[
            ("COPY src dst", ":1\r\n"),
            ("COPY src dst", ":0\r\n"),
            ("RPUSH src c", ":3\r\n"),
            ("LLEN dst", ":2\r\n"),
            ("COPY src dst REPLACE", ":1\r\n"),
            ("LLEN dst", ":3\r\n"),
            ("COPY src dst DB 3", ":1\r\n"),
            ("COPY src dst db 3 replace", ":1\r\n"),
            ("COPY src dst REPLACE DB 3", ":1\r\n"),
            ("SELECT 3", "+OK\r\n"),
            ("TYPE dst", "+list\r\n"),
            ("COPY dst dst", "-ERR source and destination objects are the same\r\n"),
            ("COPY dst dst DB 3", "-ERR source and destination objects are the same\r\n"),
            ("COPY dst dst DB 0", ":0\r\n"),
            ("COPY dst dst DB 5", ":1\r\n"),
            ("COPY missing x", ":0\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn copy_rejects_bad_options_before_touching_anything() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    expect_all(
        &mut raw,
        &[
            ("SET src v", "+OK\r\n"),
            ("COPY src dst DB 16", "-ERR DB index is out of range\r\n"),
            ("COPY src dst DB -1", "-ERR DB index is out of range\r\n"),
            ("COPY src dst DB x", "-ERR value is not an integer or out of range\r\n"),
            ("COPY src dst DB 2147483648", "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"),
            ("COPY src dst DB", "-ERR syntax error\r\n"),
            ("COPY src dst NOPE", "-ERR syntax error\r\n"),
            ("COPY src dst REPLACE NOPE", "-ERR syntax error\r\n"),
            ("EXISTS dst", ":0\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn move_hands_a_key_to_another_database_unless_it_is_taken() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    expect_all(
        &mut raw,
        &[
            ("SET k here", "+OK\r\n"),
            ("MOVE k 1", ":1\r\n"),
            ("EXISTS k", ":0\r\n"),
            ("MOVE k 1", ":0\r\n"),
            ("SET k again", "+OK\r\n"),
            ("MOVE k 1", ":0\r\n"),
            ("GET k", "$5\r\nagain\r\n"),
            ("MOVE k 0", "-ERR source and destination objects are the same\r\n"),
            ("MOVE missing 0", "-ERR source and destination objects are the same\r\n"),
            ("MOVE k 16", "-ERR DB index is out of range\r\n"),
            ("MOVE k -1", "-ERR DB index is out of range\r\n"),
            ("MOVE k one", "-ERR value is not an integer or out of range\r\n"),
            ("MOVE k 99999999999", "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"),
            ("SELECT 1", "+OK\r\n"),
            ("GET k", "$4\r\nhere\r\n"),
        ],
    )
    .await;
}

// --- KEYS -----------------------------------------------------------------------------------

#[tokio::test]
async fn keys_returns_every_matching_key_in_some_order() {
    let server = common::start().await;
    let mut con = server.client().await;
    let mut expected = HashSet::new();
    for i in 0..300 {
        let _: () = redis::cmd("SET").arg(format!("user:{i}")).arg(i).query_async(&mut con).await.unwrap();
        let _: () = redis::cmd("SET").arg(format!("item:{i}")).arg(i).query_async(&mut con).await.unwrap();
        expected.insert(format!("user:{i}"));
    }
    let users: Vec<String> = redis::cmd("KEYS").arg("user:*").query_async(&mut con).await.unwrap();
    assert_eq!(users.len(), 300, "no duplicates");
    assert_eq!(users.into_iter().collect::<HashSet<_>>(), expected);
    let all: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut con).await.unwrap();
    assert_eq!(all.len(), 600);
    let tens: Vec<String> = redis::cmd("KEYS").arg("item:?0").query_async(&mut con).await.unwrap();
    assert_eq!(tens.into_iter().collect::<HashSet<_>>(), (1..10).map(|d| format!("item:{d}0")).collect());
    let none: Vec<String> = redis::cmd("KEYS").arg("nothing*").query_async(&mut con).await.unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn keys_and_scan_leave_out_expired_keys() {
    let server = common::start().await;
    {
        let mut keyspace = server.shared.keyspace.lock();
        keyspace.db(0).insert(b"dead", string("v"), Some(1), 0);
        keyspace.db(0).insert(b"alive", string("v"), None, 0);
    }
    let mut con = server.client().await;
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query_async(&mut con).await.unwrap();
    assert_eq!(keys, vec!["alive".to_string()]);
    let (scanned, _) = full_scan(&mut con, &[]).await;
    assert_eq!(scanned, vec!["alive".to_string()]);
}

// --- SCAN -----------------------------------------------------------------------------------

#[tokio::test]
async fn scan_returns_each_key_once_across_small_pages() {
    let server = common::start().await;
    let mut con = server.client().await;
    for i in 0..250 {
        let _: () = redis::cmd("SET").arg(format!("k{i}")).arg(i).query_async(&mut con).await.unwrap();
    }
    let (keys, pages) = full_scan(&mut con, &["COUNT", "7"]).await;
    assert_eq!(keys.len(), 250, "a quiet keyspace is returned without duplicates");
    assert_eq!(keys.into_iter().collect::<HashSet<_>>().len(), 250);
    assert!(pages > 250 / 7 - 1, "COUNT 7 bounds the page size ({pages} pages)");
    let (keys, pages) = full_scan(&mut con, &["COUNT", "1000"]).await;
    assert_eq!((keys.len(), pages), (250, 1));
}

#[tokio::test]
async fn scan_filters_by_pattern_and_type_without_losing_keys() {
    let server = common::start().await;
    for i in 0..40 {
        put(&server, 0, &format!("s:{i}"), string("v"), 0);
        put(&server, 0, &format!("l:{i}"), list_of(&["v"]), 0);
    }
    let mut con = server.client().await;
    let (lists, _) = full_scan(&mut con, &["TYPE", "list", "COUNT", "3"]).await;
    assert_eq!(lists.len(), 40);
    assert_eq!(lists.into_iter().collect::<HashSet<_>>(), (0..40).map(|i| format!("l:{i}")).collect());
    let (strings, _) = full_scan(&mut con, &["TYPE", "STRING"]).await;
    assert_eq!(strings.len(), 40, "TYPE ignores case");
    let (matched, _) = full_scan(&mut con, &["MATCH", "s:1*", "COUNT", "2"]).await;
    assert_eq!(matched.into_iter().collect::<HashSet<_>>(), (0..40).map(|i| format!("s:{i}")).filter(|k| k.starts_with("s:1")).collect());
    let (both, _) = full_scan(&mut con, &["MATCH", "s:*", "TYPE", "list"]).await;
    assert!(both.is_empty());
    let (unknown, _) = full_scan(&mut con, &["TYPE", "nosuchtype"]).await;
    assert!(unknown.is_empty(), "an unknown type matches nothing (Redis 7.4)");
}

#[tokio::test]
async fn scan_under_churn_returns_every_key_present_throughout() {
    let server = common::start().await;
    let mut scanner = server.client().await;
    let mut writer = server.client().await;
    let stable: HashSet<String> = (0..500).map(|i| format!("stable:{i}")).collect();
    for key in &stable {
        let _: () = redis::cmd("SET").arg(key).arg("v").query_async(&mut writer).await.unwrap();
    }
    let mut seen = HashSet::new();
    let mut cursor = 0;
    let mut round = 0u32;
    loop {
        let (next, keys) = scan_page(&mut scanner, cursor, &["COUNT", "10"]).await;
        seen.extend(keys);
        // Between pages another client adds a batch of keys and deletes the previous one,
        // so keys come and go all over the hash space while the scan is under way.
        let mut pipe = redis::pipe();
        for j in 0..25 {
            pipe.cmd("SET").arg(format!("churn:{round}:{j}")).arg("x").ignore();
            if round > 0 {
                pipe.cmd("DEL").arg(format!("churn:{}:{j}", round - 1)).ignore();
            }
        }
        let _: () = pipe.query_async(&mut writer).await.unwrap();
        round += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
        assert!(round < 10_000, "SCAN never finished");
    }
    let missed: Vec<&String> = stable.iter().filter(|k| !seen.contains(*k)).collect();
    assert!(missed.is_empty(), "SCAN missed keys present throughout: {missed:?}");
    assert!(round > 10, "the churn happened between pages ({round} pages)");
}

#[tokio::test]
async fn scan_rejects_bad_cursors_and_options_with_redis_7_4_texts() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    expect_all(
        &mut raw,
        &[
            ("SCAN -1", "-ERR invalid cursor\r\n"),
            ("SCAN abc", "-ERR invalid cursor\r\n"),
            ("SCAN 18446744073709551616", "-ERR invalid cursor\r\n"),
            ("SCAN 0 COUNT 0", "-ERR syntax error\r\n"),
            ("SCAN 0 COUNT -5", "-ERR syntax error\r\n"),
            ("SCAN 0 COUNT ten", "-ERR value is not an integer or out of range\r\n"),
            ("SCAN 0 COUNT", "-ERR syntax error\r\n"),
            ("SCAN 0 MATCH", "-ERR syntax error\r\n"),
            ("SCAN 0 TYPE", "-ERR syntax error\r\n"),
            ("SCAN 0 BOGUS x", "-ERR syntax error\r\n"),
            ("SCAN 0 NOVALUES", "-ERR NOVALUES option can only be used in HSCAN\r\n"),
            ("SCAN 18446744073709551615", "*2\r\n$1\r\n0\r\n*0\r\n"),
            ("SCAN +0", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ],
    )
    .await;
    assert_eq!(raw.call(&[b"SCAN", b""]).await, b"-ERR invalid cursor\r\n");
    assert_eq!(raw.call(&[b"SCAN", b" 0"]).await, b"*2\r\n$1\r\n0\r\n*0\r\n", "strtoull skips leading spaces");
}

// --- RANDOMKEY, TOUCH -----------------------------------------------------------------------

#[tokio::test]
async fn randomkey_returns_an_existing_key_or_null() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(run(&mut raw, "RANDOMKEY").await, "$-1\r\n");
    let mut con = server.client().await;
    let keys: HashSet<String> = (0..20).map(|i| format!("r{i}")).collect();
    for key in &keys {
        let _: () = redis::cmd("SET").arg(key).arg("v").query_async(&mut con).await.unwrap();
    }
    for _ in 0..50 {
        let key: String = redis::cmd("RANDOMKEY").query_async(&mut con).await.unwrap();
        assert!(keys.contains(&key), "{key} is not a key");
    }
}

#[tokio::test]
async fn randomkey_skips_expired_keys() {
    let server = common::start().await;
    {
        let mut keyspace = server.shared.keyspace.lock();
        for i in 0..500 {
            keyspace.db(0).insert(format!("dead:{i}").as_bytes(), string("v"), Some(1), 0);
        }
        keyspace.db(0).insert(b"alive", string("v"), None, 0);
    }
    let mut raw = server.raw().await;
    assert_eq!(run(&mut raw, "RANDOMKEY").await, "$5\r\nalive\r\n");
}

#[tokio::test]
async fn touch_refreshes_idle_time_but_type_ttl_and_object_do_not() {
    let server = common::start().await;
    let long_ago = herald::keyspace::unix_time_ms() - 100_000;
    put(&server, 0, "old", string("v"), long_ago);
    let mut raw = server.raw().await;
    let idle = |reply: String| reply.trim_start_matches(':').trim_end().parse::<i64>().unwrap();
    for line in ["TYPE old", "TTL old", "PTTL old", "EXPIRETIME old", "EXISTS old", "OBJECT ENCODING old", "OBJECT REFCOUNT old", "SCAN 0", "KEYS *"] {
        run(&mut raw, line).await;
        assert!(idle(run(&mut raw, "OBJECT IDLETIME old").await) >= 100, "{line} counted as an access");
    }
    assert_eq!(run(&mut raw, "TOUCH old old missing").await, ":2\r\n");
    assert!(idle(run(&mut raw, "OBJECT IDLETIME old").await) < 100, "TOUCH counts as an access");
    assert_eq!(run(&mut raw, "TOUCH missing").await, ":0\r\n");
}

// --- OBJECT ---------------------------------------------------------------------------------

#[tokio::test]
async fn object_reports_encodings_refcounts_and_redis_errors() {
    let server = common::start().await;
    put(&server, 0, "list", list_of(&["a", "b"]), 0);
    let mut raw = server.raw().await;
    let long = "x".repeat(45);
    run(&mut raw, &format!("SET long {long}")).await;
    expect_all(
        &mut raw,
        &[
            ("SET int 123456", "+OK\r\n"),
            ("SET small 9999", "+OK\r\n"),
            ("SET short abc", "+OK\r\n"),
            ("OBJECT ENCODING int", "$3\r\nint\r\n"),
            ("OBJECT ENCODING short", "$6\r\nembstr\r\n"),
            ("OBJECT ENCODING long", "$3\r\nraw\r\n"),
            ("OBJECT ENCODING list", "$8\r\nlistpack\r\n"),
            ("OBJECT ENCODING missing", "$-1\r\n"),
            ("object Encoding int", "$3\r\nint\r\n"),
            ("OBJECT REFCOUNT small", ":2147483647\r\n"),
            ("OBJECT REFCOUNT int", ":1\r\n"),
            ("OBJECT REFCOUNT list", ":1\r\n"),
            ("OBJECT REFCOUNT missing", "$-1\r\n"),
            ("OBJECT IDLETIME missing", "$-1\r\n"),
            ("OBJECT FREQ missing", "$-1\r\n"),
            (
                "OBJECT FREQ int",
                "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when \
                 switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n",
            ),
        ],
    )
    .await;
    let help = run(&mut raw, "OBJECT HELP").await;
    assert!(help.starts_with("*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n"), "{help}");
    assert!(help.ends_with("+HELP\r\n+    Prints this help.\r\n"), "{help}");
}

// --- Statistics and events ------------------------------------------------------------------

#[tokio::test]
async fn read_lookups_count_as_keyspace_hits_and_misses() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    run(&mut raw, "SET k v").await;
    let stats = &server.shared.stats;
    let before = (stats.keyspace_hits.load(Ordering::Relaxed), stats.keyspace_misses.load(Ordering::Relaxed));
    for line in [
        "EXISTS k missing", // 1 hit, 1 miss
        "TYPE k",           // hit
        "TTL missing",      // miss
        "PTTL k",           // hit
        "TOUCH k missing",  // 1 hit, 1 miss
        "OBJECT ENCODING missing", // miss
        "COPY k k2",        // hit (the source)
        // Writes and listings do not count.
        "DEL k2",
        "RENAME k k3",
        "EXPIRE k3 100",
        "PERSIST k3",
        "KEYS *",
        "SCAN 0",
        "RANDOMKEY",
    ] {
        run(&mut raw, line).await;
    }
    let after = (stats.keyspace_hits.load(Ordering::Relaxed), stats.keyspace_misses.load(Ordering::Relaxed));
    assert_eq!((after.0 - before.0, after.1 - before.1), (5, 4));
}

/// The `(channel, key)` of every event the listener got before its PING reply.
async fn events(listener: &mut RawClient) -> Vec<(String, String)> {
    listener.send_command(&[b"PING"]).await;
    let mut out = Vec::new();
    loop {
        let frame = String::from_utf8_lossy(&listener.read_reply().await.unwrap()).into_owned();
        if frame == "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
            return out;
        }
        let parts: Vec<&str> = frame.split("\r\n").collect();
        assert_eq!(parts[2], "pmessage", "{frame}");
        out.push((parts[6].to_string(), parts[8].to_string()));
    }
}

fn event(db: usize, name: &str, key: &str) -> (String, String) {
    (format!("__keyevent@{db}__:{name}"), key.to_string())
}

#[tokio::test]
async fn writes_raise_the_generic_events_redis_names() {
    let (server, mut listener) = listening("Eg").await;
    let mut raw = server.raw().await;
    for line in [
        "SET a 1",
        "SET b 2",
        "DEL a missing",
        "UNLINK b",
        "SET c 3",
        "RENAME c d",
        "RENAMENX d e",
        "RENAME e e",
        "COPY e f",
        "COPY e f DB 4",
        "COPY e f",
        "MOVE e 2",
        "EXPIRE f 100",
        "PEXPIRE f 100 GT",
        "PERSIST f",
        "PERSIST f",
        "EXPIRE f -1",
        "EXPIRE f 100",
    ] {
        run(&mut raw, line).await;
    }
    assert_eq!(
        events(&mut listener).await,
        vec![
            event(0, "del", "a"),
            event(0, "del", "b"),
            event(0, "rename_from", "c"),
            event(0, "rename_to", "d"),
            event(0, "rename_from", "d"),
            event(0, "rename_to", "e"),
            event(0, "copy_to", "f"),
            event(4, "copy_to", "f"),
            event(0, "move_from", "e"),
            event(2, "move_to", "e"),
            event(0, "expire", "f"),
            event(0, "persist", "f"),
            event(0, "del", "f"),
        ]
    );
}

#[tokio::test]
async fn read_misses_raise_keymiss_except_for_object() {
    let (server, mut listener) = listening("Em").await;
    let mut raw = server.raw().await;
    for line in ["EXISTS m1", "TYPE m2", "TTL m3", "PEXPIRETIME m4", "TOUCH m5", "COPY m6 x", "OBJECT ENCODING m7", "DEL m8", "EXPIRE m9 10"] {
        run(&mut raw, line).await;
    }
    let names: Vec<String> = events(&mut listener).await.into_iter().map(|(_, key)| key).collect();
    assert_eq!(names, ["m1", "m2", "m3", "m4", "m5", "m6"]);
}

#[tokio::test]
async fn a_key_found_expired_is_reported_expired_before_the_miss() {
    let (server, mut listener) = listening("Exm").await;
    server.shared.keyspace.lock().db(0).insert(b"old", string("v"), Some(1), 0);
    let mut raw = server.raw().await;
    assert_eq!(run(&mut raw, "TYPE old").await, "+none\r\n");
    assert_eq!(events(&mut listener).await, vec![event(0, "expired", "old"), event(0, "keymiss", "old")]);
}
