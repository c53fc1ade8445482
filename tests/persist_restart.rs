//! Durable streams survive a restart: each test starts Herald in-process on a fresh data
//! directory, runs commands, stops it, starts a new server on the same directory and compares
//! what XINFO STREAM FULL, XINFO GROUPS, XPENDING and XRANGE say before and after.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::TestServer;
use herald::persist::{DurablePolicy, FsyncPolicy};
use std::path::{Path, PathBuf};

/// A fresh, empty data directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("herald-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start_durable(dir: &Path, policy: DurablePolicy) -> TestServer {
    let dir = dir.to_string_lossy().into_owned();
    common::start_with(move |c| {
        c.dir = dir;
        c.durable_streams = policy;
        c.stream_fsync = FsyncPolicy::Always;
    })
    .await
}

/// Stops the server's durability (everything queued is synced) and the server itself.
fn stop(server: TestServer) {
    herald::persist::stop(&server.shared.keyspace);
    server.shared.request_shutdown();
}

/// How many stream folders the data directory holds.
fn stream_folders(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("streams")).map(|d| d.count()).unwrap_or(0)
}

/// Runs one command written as space-separated words; returns the raw reply.
async fn run(server: &TestServer, line: &str) -> String {
    let mut client = server.raw().await;
    let words: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    String::from_utf8_lossy(&client.call(&words).await).into_owned()
}

/// Everything observable about stream `key` and groups g1, g2 that does not depend on the
/// clock at reading time.
async fn observe(server: &TestServer, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in [
        format!("XRANGE {key} - +"),
        format!("XINFO STREAM {key} FULL COUNT 0"),
        format!("XINFO GROUPS {key}"),
        format!("XPENDING {key} g1"),
        format!("XPENDING {key} g2"),
        format!("XLEN {key}"),
        format!("TYPE {key}"),
    ] {
        let reply = run(server, &line).await;
        out.push(format!("{line} => {reply}"));
    }
    out
}

/// Runs `commands` on a durable server, restarts it, and checks nothing changed.
async fn survives_restart(name: &str, commands: &[&str]) {
    let dir = temp_dir(name);
    let server = start_durable(&dir, DurablePolicy::All).await;
    for line in commands {
        let reply = run(&server, line).await;
        assert!(!reply.starts_with("-ERR") && !reply.starts_with("-NOGROUP") && !reply.starts_with("-WRONGTYPE"), "{line} => {reply}");
    }
    let before = observe(&server, "s").await;
    stop(server);
    let server = start_durable(&dir, DurablePolicy::All).await;
    let after = observe(&server, "s").await;
    stop(server);
    assert_eq!(before, after, "state of 's' changed across a restart");
    std::fs::remove_dir_all(&dir).ok();
}

const BASE: &[&str] = &[
    "XADD s 1-1 f v1",
    "XADD s 2-1 f v2 g w2",
    "XADD s 3-1 f v3",
    "XADD s 4-1 f v4",
    "XADD s 5-1 f v5",
    "XGROUP CREATE s g1 0",
];

fn with_base(more: &[&'static str]) -> Vec<&'static str> {
    BASE.iter().copied().chain(more.iter().copied()).collect()
}

#[tokio::test]
async fn entries_and_metadata_survive_a_restart() {
    survives_restart("entries", &["XADD s 1-1 a 1", "XADD s 1-2 b 2 c 3", "XADD s * d 4", "XADD s MAXLEN 2 * e 5", "XDEL s 1-2", "XSETID s 99999999999999-0 ENTRIESADDED 10 MAXDELETEDID 1-2"]).await;
}

#[tokio::test]
async fn xgroup_create_and_mkstream_survive_a_restart() {
    survives_restart("create", &with_base(&["XGROUP CREATE s g2 $ ENTRIESREAD 5", "XGROUP CREATE other g1 $ MKSTREAM"])).await;
}

#[tokio::test]
async fn xreadgroup_deliveries_survive_a_restart() {
    survives_restart("read", &with_base(&["XREADGROUP GROUP g1 alice COUNT 2 STREAMS s >", "XREADGROUP GROUP g1 bob COUNT 1 STREAMS s >", "XREADGROUP GROUP g1 alice STREAMS s 0"])).await;
}

#[tokio::test]
async fn noack_reads_move_the_group_without_pending_entries_after_a_restart() {
    survives_restart("noack", &with_base(&["XREADGROUP GROUP g1 alice NOACK COUNT 3 STREAMS s >"])).await;
}

#[tokio::test]
async fn xack_survives_a_restart() {
    survives_restart("ack", &with_base(&["XREADGROUP GROUP g1 alice STREAMS s >", "XACK s g1 1-1 3-1 9-9"])).await;
}

#[tokio::test]
async fn xclaim_with_its_options_survives_a_restart() {
    survives_restart(
        "claim",
        &with_base(&[
            "XREADGROUP GROUP g1 alice STREAMS s >",
            "XCLAIM s g1 bob 0 1-1 2-1",
            "XCLAIM s g1 carol 0 3-1 IDLE 5000 RETRYCOUNT 7",
            "XCLAIM s g1 dave 0 4-1 TIME 1700000000000 JUSTID",
            "XCLAIM s g1 erin 0 5-1 FORCE LASTID 5-1",
        ]),
    )
    .await;
}

#[tokio::test]
async fn xclaim_of_a_deleted_entry_drops_it_from_the_pel_after_a_restart() {
    survives_restart("claimdel", &with_base(&["XREADGROUP GROUP g1 alice STREAMS s >", "XDEL s 2-1", "XCLAIM s g1 bob 0 1-1 2-1"])).await;
}

#[tokio::test]
async fn xautoclaim_survives_a_restart() {
    survives_restart("autoclaim", &with_base(&["XREADGROUP GROUP g1 alice STREAMS s >", "XDEL s 3-1", "XAUTOCLAIM s g1 bob 0 0 COUNT 2", "XAUTOCLAIM s g1 carol 0 0 JUSTID"])).await;
}

#[tokio::test]
async fn xgroup_setid_survives_a_restart() {
    survives_restart("setid", &with_base(&["XGROUP CREATE s g2 0", "XGROUP SETID s g1 3-1", "XGROUP SETID s g2 $ ENTRIESREAD 2"])).await;
}

#[tokio::test]
async fn consumer_creation_and_deletion_survive_a_restart() {
    survives_restart(
        "consumers",
        &with_base(&["XGROUP CREATECONSUMER s g1 idle", "XREADGROUP GROUP g1 alice COUNT 2 STREAMS s >", "XREADGROUP GROUP g1 bob STREAMS s >", "XGROUP DELCONSUMER s g1 alice"]),
    )
    .await;
}

#[tokio::test]
async fn xgroup_destroy_survives_a_restart() {
    survives_restart("destroy", &with_base(&["XGROUP CREATE s g2 0", "XREADGROUP GROUP g2 alice STREAMS s >", "XGROUP DESTROY s g2"])).await;
}

#[tokio::test]
async fn trims_survive_a_restart() {
    survives_restart("trim", &with_base(&["XREADGROUP GROUP g1 alice STREAMS s >", "XTRIM s MAXLEN 3", "XADD s MINID 4-1 6-1 f v6", "XTRIM s MINID 5-0"])).await;
}

#[tokio::test]
async fn deleted_durable_streams_stay_deleted_after_a_restart() {
    let dir = temp_dir("deleted");
    let server = start_durable(&dir, DurablePolicy::All).await;
    for line in ["XADD a 1-1 f v", "XADD b 1-1 f v", "XADD c 1-1 f v", "SET plain x", "DEL a", "UNLINK b", "XADD d 1-1 f v", "SET c not-a-stream-any-more", "SELECT 0"] {
        run(&server, line).await;
    }
    stop(server);
    assert_eq!(stream_folders(&dir), 1, "the folders of deleted and overwritten streams are removed");
    let server = start_durable(&dir, DurablePolicy::All).await;
    assert_eq!(run(&server, "EXISTS a").await, ":0\r\n");
    assert_eq!(run(&server, "EXISTS b").await, ":0\r\n");
    assert_eq!(run(&server, "TYPE c").await, "+none\r\n", "a stream overwritten by a string is gone (strings are not durable)");
    assert_eq!(run(&server, "XLEN d").await, ":1\r\n");
    assert_eq!(run(&server, "EXISTS plain").await, ":0\r\n", "only streams are durable");
    run(&server, "FLUSHALL").await;
    stop(server);
    assert_eq!(stream_folders(&dir), 0);
    let server = start_durable(&dir, DurablePolicy::All).await;
    assert_eq!(run(&server, "DBSIZE").await, ":0\r\n");
    stop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_renamed_stream_is_durable_under_its_new_name() {
    let dir = temp_dir("rename");
    let server = start_durable(&dir, DurablePolicy::All).await;
    for line in ["XADD old 1-1 f v", "XGROUP CREATE old g1 0", "XREADGROUP GROUP g1 alice STREAMS old >", "RENAME old new", "XADD new 2-1 f w"] {
        run(&server, line).await;
    }
    let before = observe(&server, "new").await;
    stop(server);
    assert_eq!(stream_folders(&dir), 1, "the old name's folder is removed");
    let server = start_durable(&dir, DurablePolicy::All).await;
    assert_eq!(run(&server, "EXISTS old").await, ":0\r\n");
    assert_eq!(observe(&server, "new").await, before);
    stop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn only_streams_matching_the_policy_patterns_are_durable() {
    let dir = temp_dir("patterns");
    let policy = DurablePolicy::parse("orders:* audit").unwrap();
    let server = start_durable(&dir, policy.clone()).await;
    for line in ["XADD orders:eu 1-1 f v", "XADD audit 1-1 f v", "XADD scratch 1-1 f v"] {
        run(&server, line).await;
    }
    assert_eq!(run(&server, "CONFIG GET durable-streams").await, "*2\r\n$15\r\ndurable-streams\r\n$14\r\norders:* audit\r\n");
    stop(server);
    let server = start_durable(&dir, policy).await;
    assert_eq!(run(&server, "EXISTS orders:eu audit scratch").await, ":2\r\n");
    stop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn full_segments_roll_and_a_trim_deletes_the_sealed_ones_it_emptied() {
    let dir = temp_dir("roll");
    let server = start_durable(&dir, DurablePolicy::All).await;
    run(&server, "CONFIG SET stream-segment-size 4096").await;
    let value = "x".repeat(200);
    let mut client = server.raw().await;
    for i in 1..=200u32 {
        let id = format!("{i}-0");
        client.call(&[b"XADD", b"s", id.as_bytes(), b"f", value.as_bytes()]).await;
    }
    let info = run(&server, "INFO persistence").await;
    let segments = |info: &str| -> u64 { info.lines().find_map(|l| l.strip_prefix("stream_segments:")).unwrap().trim().parse().unwrap() };
    let rolled = segments(&info);
    assert!(rolled >= 10, "200 entries of 200 bytes in 4 KiB segments: {info}");
    run(&server, "XTRIM s MAXLEN 10").await;
    let info = run(&server, "INFO persistence").await;
    assert!(segments(&info) <= 2, "the trim left entries in at most the last two segments: {info}");
    let before = observe(&server, "s").await;
    stop(server);
    let server = start_durable(&dir, DurablePolicy::All).await;
    assert_eq!(observe(&server, "s").await, before);
    let info = run(&server, "INFO persistence").await;
    assert!(info.contains("stream_last_recovery_entries:10\r\n"), "{info}");
    stop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn info_persistence_reports_durable_streams() {
    let dir = temp_dir("info");
    let server = start_durable(&dir, DurablePolicy::All).await;
    run(&server, "XADD s 1-1 f v").await;
    let info = run(&server, "INFO persistence").await;
    for field in ["durable_streams_enabled:1", "durable_streams:1", "stream_fsync:always", "stream_segments:1", "stream_torn_records_truncated:0"] {
        assert!(info.contains(&format!("{field}\r\n")), "{field} missing from {info}");
    }
    assert!(!info.contains("stream_fsyncs:0\r\n"), "an always-synced write did fsync: {info}");
    stop(server);
    let plain = common::start().await;
    assert!(run(&plain, "INFO persistence").await.contains("durable_streams_enabled:0\r\n"));
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn while_durable_streams_load_commands_get_loading_errors_except_those_flagged_loading() {
    let dir = temp_dir("loading");
    let server = start_durable(&dir, DurablePolicy::All).await;
    assert!(!server.shared.is_loading(), "a started test server has loaded");
    let loading = "-LOADING Redis is loading the dataset in memory\r\n";
    let mut c = server.raw().await;
    assert_eq!(run(&server, "XADD s 1-1 f v").await, "$3\r\n1-1\r\n");
    // The recovery thread holds this state while it replays segments.
    server.shared.set_loading(true);
    assert_eq!(String::from_utf8_lossy(&c.call(&[b"PING"]).await), loading);
    assert_eq!(String::from_utf8_lossy(&c.call(&[b"XADD", b"s", b"2-1", b"f", b"v"]).await), loading);
    assert_eq!(String::from_utf8_lossy(&c.call(&[b"XLEN", b"s"]).await), loading);
    let info = String::from_utf8_lossy(&c.call(&[b"INFO", b"persistence"]).await).into_owned();
    assert!(info.contains("\r\nloading:1\r\n"), "{info}");
    assert_eq!(c.call(&[b"SELECT", b"0"]).await, b"+OK\r\n");
    assert_eq!(c.call(&[b"MULTI"]).await, b"+OK\r\n");
    assert_eq!(String::from_utf8_lossy(&c.call(&[b"XLEN", b"s"]).await), loading);
    assert!(c.call(&[b"EXEC"]).await.starts_with(b"-EXECABORT"));
    server.shared.set_loading(false);
    assert_eq!(c.call(&[b"PING"]).await, b"+PONG\r\n");
    assert_eq!(c.call(&[b"XLEN", b"s"]).await, b":1\r\n");
    let info = String::from_utf8_lossy(&c.call(&[b"INFO", b"persistence"]).await).into_owned();
    assert!(info.contains("\r\nloading:0\r\n"), "{info}");
    stop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_server_recovers_durable_streams_in_the_background_and_then_serves_them() {
    let dir = temp_dir("background");
    let server = start_durable(&dir, DurablePolicy::All).await;
    assert_eq!(run(&server, "XADD s 5-1 f v").await, "$3\r\n5-1\r\n");
    stop(server);
    let config = herald::Config {
        bind: vec!["127.0.0.1".into()],
        port: 0,
        dir: dir.to_string_lossy().into_owned(),
        durable_streams: DurablePolicy::All,
        ..herald::Config::default()
    };
    let bound = herald::Server::bind(config).await.unwrap();
    let shared = bound.shared();
    tokio::spawn(bound.run());
    shared.loaded().await;
    let mut ks = shared.keyspace.lock();
    let now = ks.now_ms();
    let len = match ks.db(0).get_value(b"s", now) {
        Some(herald::keyspace::Value::Stream(s)) => s.len(),
        _ => 0,
    };
    drop(ks);
    assert_eq!(len, 1);
    herald::persist::stop(&shared.keyspace);
    shared.request_shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_durable_streams_ttl_survives_a_restart_and_persist_removes_it() {
    let dir = temp_dir("ttl");
    let server = start_durable(&dir, DurablePolicy::All).await;
    let far = "4102444800000"; // 2100-01-01
    for line in ["XADD s 1-1 f v", "XADD p 1-1 f v", "XADD r 1-1 f v", "XADD e 1-1 f v"] {
        run(&server, line).await;
    }
    assert_eq!(run(&server, &format!("PEXPIREAT s {far}")).await, ":1\r\n");
    assert_eq!(run(&server, "EXPIRE p 1000").await, ":1\r\n");
    assert_eq!(run(&server, "PERSIST p").await, ":1\r\n");
    // RENAME carries the TTL to the new name (a new folder whose snapshot restates it).
    assert_eq!(run(&server, &format!("PEXPIREAT r {far}")).await, ":1\r\n");
    assert_eq!(run(&server, "RENAME r renamed").await, "+OK\r\n");
    assert_eq!(run(&server, "EXPIRE e 100000").await, ":1\r\n");
    stop(server);

    let server = start_durable(&dir, DurablePolicy::All).await;
    assert_eq!(run(&server, "PEXPIRETIME s").await, format!(":{far}\r\n"));
    assert_eq!(run(&server, "TTL p").await, ":-1\r\n");
    assert_eq!(run(&server, "PEXPIRETIME renamed").await, format!(":{far}\r\n"));
    assert_eq!(run(&server, "EXISTS r").await, ":0\r\n");
    let ttl: i64 = run(&server, "TTL e").await.trim_start_matches(':').trim().parse().unwrap();
    assert!((1..=100_000).contains(&ttl), "TTL e after restart: {ttl}");
    // Removing a TTL after a restart is logged too.
    assert_eq!(run(&server, "PERSIST s").await, ":1\r\n");
    stop(server);

    let server = start_durable(&dir, DurablePolicy::All).await;
    assert_eq!(run(&server, "TTL s").await, ":-1\r\n");
    assert_eq!(run(&server, "XLEN s").await, ":1\r\n");
    stop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_durable_stream_whose_ttl_passed_while_the_server_was_down_is_gone_after_recovery() {
    let dir = temp_dir("ttl-passed");
    let server = start_durable(&dir, DurablePolicy::All).await;
    run(&server, "XADD s 1-1 f v").await;
    run(&server, "XADD kept 1-1 f v").await;
    assert_eq!(run(&server, "PEXPIRE s 50").await, ":1\r\n");
    let deadline: u64 = run(&server, "PEXPIRETIME s").await.trim_start_matches(':').trim().parse().unwrap();
    stop(server);
    // Wait (bounded) until the deadline has passed on the wall clock.
    for _ in 0..1000 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        if now > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let server = start_durable(&dir, DurablePolicy::All).await;
    assert_eq!(run(&server, "EXISTS s").await, ":0\r\n");
    assert_eq!(run(&server, "XLEN kept").await, ":1\r\n");
    stop(server);
    assert_eq!(stream_folders(&dir), 1, "the expired stream's folder is removed");
    std::fs::remove_dir_all(&dir).ok();
}
