//! Expiry: the EXPIRE family (NX/XX/GT/LT, overflow, deadlines in the past), the TTL family,
//! PERSIST, lazy expiry on access and the active expiry cycle.
//!
//! Exact values come from absolute deadlines (PEXPIREAT / PEXPIRETIME) or from the data layer
//! driven with an explicit clock; only two tests let a real TTL elapse over the socket, with a
//! few milliseconds of TTL and a bounded polling loop, never a sleep as synchronisation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::keys::{expect_all, listening, run, string};
use common::{RawClient, TestServer};
use herald::keyspace::{expire, Db, Keyspace};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// 2100-01-01T00:00:00Z in Unix milliseconds: a deadline safely in the future.
const Y2100_MS: u64 = 4_102_444_800_000;

async fn integer(raw: &mut RawClient, line: &str) -> i64 {
    let reply = run(raw, line).await;
    reply.strip_prefix(':').and_then(|r| r.strip_suffix("\r\n")).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("`{line}` replied {reply:?}"))
}

/// Polls `line` until it replies `expected`, awaiting between tries; fails after ~5 s.
async fn poll_until(raw: &mut RawClient, line: &str, expected: &str) {
    for _ in 0..500 {
        if run(raw, line).await == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("`{line}` never replied {expected:?}");
}

// --- EXPIRE family over the socket ------------------------------------------------------------

#[tokio::test]
async fn expire_sets_a_deadline_that_ttl_and_pttl_report() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    run(&mut raw, "SET k v").await;
    assert_eq!(run(&mut raw, "EXPIRE k 100").await, ":1\r\n");
    let ttl = integer(&mut raw, "TTL k").await;
    assert!((0..=100).contains(&ttl), "TTL {ttl}");
    let pttl = integer(&mut raw, "PTTL k").await;
    assert!((1..=100_000).contains(&pttl), "PTTL {pttl}");
    let deadline = integer(&mut raw, "PEXPIRETIME k").await;
    let now = i64::try_from(herald::keyspace::unix_time_ms()).unwrap();
    assert!(deadline > now && deadline <= now + 100_000, "deadline {deadline}, now {now}");
    assert_eq!(run(&mut raw, "PEXPIRE k 5000").await, ":1\r\n");
    assert!((1..=5_000).contains(&integer(&mut raw, "PTTL k").await));
}

#[tokio::test]
async fn absolute_deadlines_read_back_exactly_and_round_to_the_nearest_second() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    run(&mut raw, "SET k v").await;
    expect_all(
        &mut raw,
        &[
            ("PEXPIREAT k 4102444800499", ":1\r\n"),
            ("PEXPIRETIME k", ":4102444800499\r\n"),
            ("EXPIRETIME k", ":4102444800\r\n"),
            ("PEXPIREAT k 4102444800500", ":1\r\n"),
            ("EXPIRETIME k", ":4102444801\r\n"),
            ("EXPIREAT k 4102444802", ":1\r\n"),
            ("PEXPIRETIME k", ":4102444802000\r\n"),
            ("PEXPIREAT k 9223372036854775807", ":1\r\n"),
            ("PEXPIRETIME k", ":9223372036854775807\r\n"),
            ("EXPIRETIME k", ":9223372036854776\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn nx_xx_gt_lt_decide_whether_the_deadline_changes() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    run(&mut raw, "SET k v").await;
    expect_all(
        &mut raw,
        &[
            // No TTL yet: XX and GT refuse, NX and LT accept.
            ("PEXPIREAT k 4102444800000 XX", ":0\r\n"),
            ("PEXPIREAT k 4102444800000 GT", ":0\r\n"),
            ("PEXPIREAT k 4102444800000 XX GT", ":0\r\n"),
            ("PEXPIRETIME k", ":-1\r\n"),
            ("PEXPIREAT k 4102444800000 LT", ":1\r\n"),
            ("PERSIST k", ":1\r\n"),
            ("PEXPIREAT k 4102444800000 NX", ":1\r\n"),
            // Now it has one: NX refuses, XX accepts.
            ("PEXPIREAT k 4102444809999 NX", ":0\r\n"),
            ("PEXPIREAT k 4102444801000 XX", ":1\r\n"),
            ("PEXPIRETIME k", ":4102444801000\r\n"),
            // GT needs strictly later, LT strictly earlier.
            ("PEXPIREAT k 4102444801000 GT", ":0\r\n"),
            ("PEXPIREAT k 4102444800999 GT", ":0\r\n"),
            ("PEXPIREAT k 4102444801001 gt", ":1\r\n"),
            ("PEXPIREAT k 4102444801001 LT", ":0\r\n"),
            ("PEXPIREAT k 4102444801002 LT", ":0\r\n"),
            ("PEXPIREAT k 4102444801000 lt", ":1\r\n"),
            ("PEXPIREAT k 4102444801500 XX GT", ":1\r\n"),
            ("PEXPIREAT k 4102444801400 XX LT", ":1\r\n"),
            ("PEXPIRETIME k", ":4102444801400\r\n"),
            ("EXPIRE missing 100 NX", ":0\r\n"),
            ("EXPIRE missing 100", ":0\r\n"),
        ],
    )
    .await;
}

#[tokio::test]
async fn conflicting_or_unknown_options_are_rejected_before_the_time_is_read() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    run(&mut raw, "SET k v").await;
    let nx_err = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    let gt_lt = "-ERR GT and LT options at the same time are not compatible\r\n";
    for command in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        expect_all(
            &mut raw,
            &[
                (&format!("{command} k 100 NX XX"), nx_err),
                (&format!("{command} k 100 NX GT"), nx_err),
                (&format!("{command} k 100 lt nx"), nx_err),
                (&format!("{command} k 100 GT LT"), gt_lt),
                (&format!("{command} k 100 XX GT LT"), gt_lt),
                (&format!("{command} k 100 NX FOO"), "-ERR Unsupported option FOO\r\n"),
                (&format!("{command} k 100 bar"), "-ERR Unsupported option bar\r\n"),
                (&format!("{command} k soon NX XX"), nx_err),
                (&format!("{command} k soon"), "-ERR value is not an integer or out of range\r\n"),
                (&format!("{command} k 1.5"), "-ERR value is not an integer or out of range\r\n"),
                (&format!("{command} k"), &format!("-ERR wrong number of arguments for '{}' command\r\n", command.to_lowercase())),
            ],
        )
        .await;
    }
    assert_eq!(run(&mut raw, "TTL k").await, ":-1\r\n", "no rejected command changed the key");
}

#[tokio::test]
async fn deadlines_that_overflow_are_invalid_expire_times() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    run(&mut raw, "SET k v").await;
    expect_all(
        &mut raw,
        &[
            ("EXPIRE k 9223372036854776", "-ERR invalid expire time in 'expire' command\r\n"),
            ("EXPIRE k -9223372036854776", "-ERR invalid expire time in 'expire' command\r\n"),
            ("PEXPIRE k 9223372036854775807", "-ERR invalid expire time in 'pexpire' command\r\n"),
            ("EXPIREAT k 9223372036854775807", "-ERR invalid expire time in 'expireat' command\r\n"),
            ("EXPIRE missing 9223372036854776", "-ERR invalid expire time in 'expire' command\r\n"),
            ("EXPIRE k 9223372036854775808", "-ERR value is not an integer or out of range\r\n"),
            ("TTL k", ":-1\r\n"),
        ],
    )
    .await;
}

/// The `(event, key)` of every event the listener got before its PING reply.
async fn events(listener: &mut RawClient) -> Vec<(String, String)> {
    listener.send_command(&[b"PING"]).await;
    let mut out = Vec::new();
    loop {
        let frame = String::from_utf8_lossy(&listener.read_reply().await.unwrap()).into_owned();
        if frame == "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
            return out;
        }
        let parts: Vec<&str> = frame.split("\r\n").collect();
        let event = parts[6].rsplit(':').next().unwrap().to_string();
        out.push((event, parts[8].to_string()));
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[tokio::test]
async fn a_deadline_in_the_past_deletes_the_key_and_raises_del_not_expired() {
    let (server, mut listener) = listening("Egx").await;
    let mut raw = server.raw().await;
    for (i, line) in ["EXPIRE k{} -1", "PEXPIRE k{} 0", "EXPIREAT k{} 1", "PEXPIREAT k{} 0", "EXPIRE k{} -9223372036854775"].iter().enumerate() {
        run(&mut raw, &format!("SET k{i} v")).await;
        assert_eq!(run(&mut raw, &line.replace("{}", &i.to_string())).await, ":1\r\n", "{line}");
        assert_eq!(run(&mut raw, &format!("EXISTS k{i}")).await, ":0\r\n", "{line}");
    }
    // LT always accepts on a key with a later deadline; the past deadline then deletes it.
    run(&mut raw, "SET lt v").await;
    run(&mut raw, "EXPIRE lt 100").await;
    assert_eq!(run(&mut raw, "EXPIRE lt -1 LT").await, ":1\r\n");
    // GT refuses an earlier deadline, so the key stays.
    run(&mut raw, "SET gt v").await;
    run(&mut raw, "EXPIRE gt 100").await;
    assert_eq!(run(&mut raw, "EXPIRE gt -1 GT").await, ":0\r\n");
    assert_eq!(run(&mut raw, "EXISTS gt").await, ":1\r\n");
    assert_eq!(
        events(&mut listener).await,
        pairs(&[("del", "k0"), ("del", "k1"), ("del", "k2"), ("del", "k3"), ("del", "k4"), ("expire", "lt"), ("del", "lt"), ("expire", "gt")])
    );
    assert_eq!(server.shared.stats.expired_keys.load(Ordering::Relaxed), 0, "deleting by EXPIRE is not expiring");
}

#[tokio::test]
async fn persist_removes_a_ttl_and_reports_whether_there_was_one() {
    let (server, mut listener) = listening("Eg").await;
    let mut raw = server.raw().await;
    expect_all(
        &mut raw,
        &[
            ("PERSIST missing", ":0\r\n"),
            ("SET k v", "+OK\r\n"),
            ("PERSIST k", ":0\r\n"),
            ("PEXPIREAT k 4102444800000", ":1\r\n"),
            ("PERSIST k", ":1\r\n"),
            ("TTL k", ":-1\r\n"),
            ("PEXPIRETIME k", ":-1\r\n"),
            ("PERSIST k", ":0\r\n"),
        ],
    )
    .await;
    assert_eq!(events(&mut listener).await, pairs(&[("expire", "k"), ("persist", "k")]));
}

#[tokio::test]
async fn ttl_family_reports_minus_two_for_missing_and_minus_one_for_persistent_keys() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    run(&mut raw, "SET k v").await;
    for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(run(&mut raw, &format!("{command} missing")).await, ":-2\r\n");
        assert_eq!(run(&mut raw, &format!("{command} k")).await, ":-1\r\n");
        let name = command.to_lowercase();
        assert_eq!(run(&mut raw, &format!("{command} a b")).await, format!("-ERR wrong number of arguments for '{name}' command\r\n"));
    }
}

#[tokio::test]
async fn rename_copy_and_move_carry_the_deadline_with_the_key() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    expect_all(
        &mut raw,
        &[
            ("SET k v", "+OK\r\n"),
            ("PEXPIREAT k 4102444800123", ":1\r\n"),
            ("RENAME k r", "+OK\r\n"),
            ("PEXPIRETIME r", ":4102444800123\r\n"),
            ("RENAMENX r n", ":1\r\n"),
            ("PEXPIRETIME n", ":4102444800123\r\n"),
            ("COPY n c", ":1\r\n"),
            ("PEXPIRETIME c", ":4102444800123\r\n"),
            ("COPY n c DB 3", ":1\r\n"),
            ("MOVE n 2", ":1\r\n"),
            ("SELECT 2", "+OK\r\n"),
            ("PEXPIRETIME n", ":4102444800123\r\n"),
            ("SELECT 3", "+OK\r\n"),
            ("PEXPIRETIME c", ":4102444800123\r\n"),
            // A replaced destination loses its own deadline.
            ("SET plain v", "+OK\r\n"),
            ("RENAME plain c", "+OK\r\n"),
            ("PEXPIRETIME c", ":-1\r\n"),
        ],
    )
    .await;
}

// --- Lazy expiry over the socket: keys whose deadline passed are gone for every command ---------

#[tokio::test]
async fn a_key_past_its_deadline_is_missing_to_every_key_command() {
    let server = common::start().await;
    let reset = |server: &TestServer| {
        let mut keyspace = server.shared.keyspace.lock();
        keyspace.db(0).insert(b"old", string("v"), Some(1), 0);
        keyspace.db(1).insert(b"old", string("v"), Some(1), 0);
    };
    let mut raw = server.raw().await;
    for (line, expected) in [
        ("EXISTS old", ":0\r\n"),
        ("TYPE old", "+none\r\n"),
        ("TTL old", ":-2\r\n"),
        ("PTTL old", ":-2\r\n"),
        ("EXPIRETIME old", ":-2\r\n"),
        ("PEXPIRETIME old", ":-2\r\n"),
        ("EXPIRE old 100", ":0\r\n"),
        ("PERSIST old", ":0\r\n"),
        ("TOUCH old", ":0\r\n"),
        ("DEL old", ":0\r\n"),
        ("UNLINK old", ":0\r\n"),
        ("RENAME old new", "-ERR no such key\r\n"),
        ("COPY old new", ":0\r\n"),
        ("MOVE old 2", ":0\r\n"),
        ("OBJECT ENCODING old", "$-1\r\n"),
        ("KEYS old", "*0\r\n"),
        ("SCAN 0 MATCH old", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("RANDOMKEY", "$-1\r\n"),
    ] {
        reset(&server);
        assert_eq!(run(&mut raw, line).await, expected, "{line}");
    }
    // An expired key in the destination database does not block MOVE or COPY.
    reset(&server);
    expect_all(&mut raw, &[("SET fresh v", "+OK\r\n"), ("RENAME fresh old", "+OK\r\n"), ("MOVE old 1", ":1\r\n")]).await;
    reset(&server);
    expect_all(&mut raw, &[("SET fresh v", "+OK\r\n"), ("COPY fresh old DB 1", ":1\r\n")]).await;
}

#[tokio::test]
async fn a_key_with_a_few_milliseconds_of_ttl_expires_over_the_socket() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    run(&mut raw, "SET k v").await;
    assert_eq!(run(&mut raw, "PEXPIRE k 5").await, ":1\r\n");
    poll_until(&mut raw, "EXISTS k", ":0\r\n").await;
    assert_eq!(run(&mut raw, "TTL k").await, ":-2\r\n");
}

#[tokio::test]
async fn the_active_cycle_reclaims_keys_nobody_reads() {
    let server = common::start_with(|config| config.hz = 100).await;
    let mut raw = server.raw().await;
    for i in 0..50 {
        run(&mut raw, &format!("SET k{i} v")).await;
        run(&mut raw, &format!("PEXPIRE k{i} 5")).await;
    }
    run(&mut raw, "SET keep v").await;
    // DBSIZE counts keys without reclaiming any, so only the active cycle can bring it down.
    poll_until(&mut raw, "DBSIZE", ":1\r\n").await;
    assert_eq!(server.shared.stats.expired_keys.load(Ordering::Relaxed), 50);
    assert_eq!(server.shared.keyspace.lock().db(0).expires_count(), 0);
}

// --- The data layer with an explicit clock ------------------------------------------------------

#[test]
fn a_key_lives_until_the_millisecond_before_its_deadline() {
    let mut db = Db::new();
    db.insert(b"k", string("v"), None, 0);
    assert!(db.set_expiry(b"k", Some(1_000), 0));
    assert!(db.peek(b"k", 999).is_some());
    assert!(db.contains(b"k", 999));
    assert!(!db.contains(b"k", 1_000));
    assert!(!db.set_expiry(b"k", Some(5_000), 1_000), "an expired key cannot get a new deadline");
    assert_eq!(db.take_expired_keys().len(), 1);
}

#[test]
fn clearing_or_replacing_a_deadline_keeps_the_deadline_index_exact() {
    let mut db = Db::new();
    db.insert(b"a", string("v"), Some(100), 0);
    db.insert(b"b", string("v"), Some(100), 0);
    db.insert(b"c", string("v"), Some(100), 0);
    assert!(db.set_expiry(b"a", None, 0));
    db.insert(b"b", string("w"), None, 0);
    assert!(db.set_expiry(b"c", Some(300), 0));
    assert_eq!(db.expires_count(), 1);
    assert_eq!(db.next_deadline(), Some(300));
    assert_eq!(db.expire_due(200, usize::MAX), 0, "no stale deadline removes a+b");
    assert_eq!(db.len(), 3);
    assert_eq!(db.expire_due(300, usize::MAX), 1);
    assert_eq!(db.len(), 2);
}

#[test]
fn a_renamed_key_expires_under_its_new_name() {
    let mut db = Db::new();
    db.insert(b"old", string("v"), Some(100), 0);
    db.rename(b"old", b"new", false, 0).unwrap();
    assert_eq!(db.expire_due(100, usize::MAX), 1);
    assert_eq!(db.take_expired_keys(), vec![bytes::Bytes::from("new")]);
    assert!(db.is_empty());
}

#[test]
fn scan_at_a_given_time_skips_and_reclaims_due_keys() {
    let mut db = Db::new();
    for i in 0..20u64 {
        db.insert(format!("k{i}").as_bytes(), string("v"), Some(100 + i), 0);
    }
    let page = db.scan(0, 1_000, 110);
    assert_eq!(page.cursor, 0);
    assert_eq!(page.keys.len(), 9, "k11..k19 are still alive at 110");
    assert_eq!(db.len(), 9);
    assert_eq!(db.take_expired_keys().len(), 11);
}

#[test]
fn the_active_cycle_removes_exactly_the_due_keys_at_the_keyspace_clock() {
    let mut keyspace = Keyspace::new(2);
    for i in 0..10u64 {
        keyspace.db(0).insert(format!("a{i}").as_bytes(), string("v"), Some(1_000 + i * 100), 0);
        keyspace.db(1).insert(format!("b{i}").as_bytes(), string("v"), Some(1_000 + i * 100), 0);
    }
    keyspace.set_clock(999);
    assert_eq!(expire::run_cycle(&mut keyspace), 0);
    keyspace.set_clock(1_450);
    assert_eq!(expire::run_cycle(&mut keyspace), 10, "a0..a4 and b0..b4");
    assert_eq!(keyspace.db(0).len(), 5);
    assert_eq!(keyspace.db(1).len(), 5);
    let expired = keyspace.drain_events();
    assert_eq!(expired.len(), 10);
    assert!(expired.iter().all(|e| e.event == "expired"));
    keyspace.set_clock(u64::MAX);
    assert_eq!(expire::run_cycle(&mut keyspace), 10);
    assert_eq!(keyspace.db(0).len() + keyspace.db(1).len(), 0);
}

#[test]
fn the_active_cycle_stops_at_its_budget_and_resumes_oldest_first() {
    let mut keyspace = Keyspace::new(1);
    let total = expire::CYCLE_BUDGET + 10;
    for i in 0..total {
        keyspace.db(0).insert(format!("k{i}").as_bytes(), string("v"), Some(10 + i as u64), 0);
    }
    keyspace.set_clock(Y2100_MS);
    assert_eq!(expire::run_cycle(&mut keyspace), expire::CYCLE_BUDGET);
    let first: Vec<_> = keyspace.drain_events().into_iter().map(|e| e.key).collect();
    assert_eq!(first.first().map(|k| k.as_ref()), Some(&b"k0"[..]), "oldest deadline first");
    assert_eq!(keyspace.db(0).len(), 10);
    assert_eq!(expire::run_cycle(&mut keyspace), 10);
    assert!(keyspace.db(0).is_empty());
}
