//! List commands: replies, errors, deletion of emptied lists, keyspace events, WATCH and the
//! compact representation's encoding names. The byte-exact comparison with Redis lives in
//! `tests/differential/lists.redis`; these tests pin down behaviour a script cannot see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::direct::{ev, Direct};
use herald::keyspace::Value;
use redis::AsyncCommands;

#[tokio::test]
async fn pushes_pops_and_ranges_behave_like_redis() {
    let server = common::start().await;
    let mut c = server.client().await;
    let n: i64 = c.rpush("l", &["a", "b", "c"]).await.unwrap();
    assert_eq!(n, 3);
    let n: i64 = c.lpush("l", &["z", "y"]).await.unwrap();
    assert_eq!(n, 5);
    let all: Vec<String> = c.lrange("l", 0, -1).await.unwrap();
    assert_eq!(all, ["y", "z", "a", "b", "c"]);
    let head: Option<String> = c.lpop("l", None).await.unwrap();
    assert_eq!(head.as_deref(), Some("y"));
    let tail: Vec<String> = c.rpop("l", std::num::NonZeroUsize::new(2)).await.unwrap();
    assert_eq!(tail, ["c", "b"]);
    let len: i64 = c.llen("l").await.unwrap();
    assert_eq!(len, 2);
    let missing: Option<String> = c.lindex("l", 10).await.unwrap();
    assert_eq!(missing, None);
    let x: i64 = c.lpush_exists("nothing", "v").await.unwrap();
    assert_eq!(x, 0);
    let exists: bool = c.exists("nothing").await.unwrap();
    assert!(!exists);
}

#[tokio::test]
async fn pop_shapes_match_redis_in_resp2() {
    let server = common::start().await;
    let mut c = server.raw().await;
    assert_eq!(c.call(&[b"LPOP", b"none"]).await, b"$-1\r\n");
    assert_eq!(c.call(&[b"LPOP", b"none", b"0"]).await, b"*-1\r\n");
    assert_eq!(c.call(&[b"RPOP", b"none", b"2"]).await, b"*-1\r\n");
    c.call(&[b"RPUSH", b"l", b"a"]).await;
    assert_eq!(c.call(&[b"LPOP", b"l", b"0"]).await, b"*0\r\n");
    assert_eq!(c.call(&[b"LPOP", b"l", b"-1"]).await, b"-ERR value is out of range, must be positive\r\n");
    assert_eq!(c.call(&[b"LPOP", b"l", b"1", b"2"]).await, b"-ERR wrong number of arguments for 'lpop' command\r\n");
    assert_eq!(c.call(&[b"RPOP", b"l", b"5"]).await, b"*1\r\n$1\r\na\r\n");
    assert_eq!(c.call(&[b"LMPOP", b"1", b"l", b"LEFT"]).await, b"*-1\r\n");
}

#[tokio::test]
async fn emptied_lists_are_deleted_by_every_removing_command() {
    let server = common::start().await;
    let mut c = server.raw().await;
    let cases: &[&[&[u8]]] = &[
        &[b"LPOP", b"k"],
        &[b"RPOP", b"k", b"9"],
        &[b"LREM", b"k", b"0", b"v"],
        &[b"LTRIM", b"k", b"1", b"0"],
        &[b"LMOVE", b"k", b"other", b"LEFT", b"LEFT"],
        &[b"LMPOP", b"1", b"k", b"RIGHT"],
        &[b"BLPOP", b"k", b"0"],
    ];
    for case in cases {
        c.call(&[b"RPUSH", b"k", b"v"]).await;
        c.call(case).await;
        assert_eq!(c.call(&[b"EXISTS", b"k"]).await, b":0\r\n", "after {:?}", String::from_utf8_lossy(case[0]));
    }
}

#[tokio::test]
async fn lmove_rotates_a_list_onto_itself() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"RPUSH", b"r", b"1", b"2", b"3"]).await;
    assert_eq!(c.call(&[b"LMOVE", b"r", b"r", b"LEFT", b"RIGHT"]).await, b"$1\r\n1\r\n");
    assert_eq!(c.call(&[b"LRANGE", b"r", b"0", b"-1"]).await, b"*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n");
    c.call(&[b"RPUSH", b"one", b"x"]).await;
    assert_eq!(c.call(&[b"RPOPLPUSH", b"one", b"one"]).await, b"$1\r\nx\r\n");
    assert_eq!(c.call(&[b"LLEN", b"one"]).await, b":1\r\n");
}

#[tokio::test]
async fn lpos_finds_ranks_counts_and_respects_maxlen() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"RPUSH", b"p", b"a", b"b", b"a", b"c", b"a"]).await;
    assert_eq!(c.call(&[b"LPOS", b"p", b"a", b"RANK", b"-1"]).await, b":4\r\n");
    assert_eq!(c.call(&[b"LPOS", b"p", b"a", b"RANK", b"2", b"COUNT", b"0"]).await, b"*2\r\n:2\r\n:4\r\n");
    assert_eq!(c.call(&[b"LPOS", b"p", b"a", b"COUNT", b"0", b"MAXLEN", b"3"]).await, b"*2\r\n:0\r\n:2\r\n");
    assert_eq!(c.call(&[b"LPOS", b"p", b"c", b"MAXLEN", b"3"]).await, b"$-1\r\n");
    assert_eq!(
        c.call(&[b"LPOS", b"p", b"a", b"RANK", b"-9223372036854775808"]).await,
        b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
}

#[tokio::test]
async fn list_writes_raise_the_keyspace_events_redis_raises() {
    let server = common::start().await;
    let shared = &server.shared;
    let mut d = Direct::new(shared);
    assert_eq!(d.run(shared, &["RPUSH", "k", "a", "b"]).1, [ev('l', "rpush", "k")]);
    assert_eq!(d.run(shared, &["LPUSH", "k", "z"]).1, [ev('l', "lpush", "k")]);
    assert_eq!(d.run(shared, &["LPUSHX", "none", "z"]).1, []);
    assert_eq!(d.run(shared, &["LSET", "k", "0", "y"]).1, [ev('l', "lset", "k")]);
    assert_eq!(d.run(shared, &["LINSERT", "k", "BEFORE", "a", "x"]).1, [ev('l', "linsert", "k")]);
    assert_eq!(d.run(shared, &["LINSERT", "k", "BEFORE", "nope", "x"]).1, []);
    assert_eq!(d.run(shared, &["LREM", "k", "0", "x"]).1, [ev('l', "lrem", "k")]);
    assert_eq!(d.run(shared, &["LREM", "k", "0", "nope"]).1, []);
    assert_eq!(d.run(shared, &["LTRIM", "k", "0", "-1"]).1, [ev('l', "ltrim", "k")]);
    // LMOVE: the destination's push first, then the source's pop.
    assert_eq!(d.run(shared, &["LMOVE", "k", "d", "LEFT", "RIGHT"]).1, [ev('l', "rpush", "d"), ev('l', "lpop", "k")]);
    assert_eq!(d.run(shared, &["LPOP", "k", "0"]).1, []);
    // Emptying a list deletes it with a generic `del` event, as Redis does.
    assert_eq!(d.run(shared, &["RPOP", "k", "5"]).1, [ev('l', "rpop", "k"), ev('g', "del", "k")]);
    assert_eq!(d.run(shared, &["RPOPLPUSH", "d", "e"]).1, [ev('l', "lpush", "e"), ev('l', "rpop", "d"), ev('g', "del", "d")]);
    assert_eq!(d.run(shared, &["LMPOP", "2", "none", "e", "LEFT"]).1, [ev('l', "lpop", "e"), ev('g', "del", "e")]);
    d.run(shared, &["RPUSH", "t", "1", "2"]);
    assert_eq!(d.run(shared, &["LTRIM", "t", "5", "6"]).1, [ev('l', "ltrim", "t"), ev('g', "del", "t")]);
}

#[tokio::test]
async fn list_writes_invalidate_watch() {
    let server = common::start().await;
    let mut watcher = server.raw().await;
    let mut writer = server.raw().await;
    writer.call(&[b"RPUSH", b"w", b"a", b"b"]).await;
    for write in [&[b"LSET" as &[u8], b"w", b"0", b"x"] as &[&[u8]], &[b"RPOP", b"w"], &[b"RPUSH", b"w", b"c"], &[b"LTRIM", b"w", b"0", b"0"]] {
        watcher.call(&[b"WATCH", b"w"]).await;
        writer.call(write).await;
        watcher.call(&[b"MULTI"]).await;
        watcher.call(&[b"LLEN", b"w"]).await;
        assert_eq!(watcher.call(&[b"EXEC"]).await, b"*-1\r\n", "after {:?}", String::from_utf8_lossy(write[0]));
    }
}

#[tokio::test]
async fn encoding_is_listpack_while_small_and_quicklist_once_large() {
    let server = common::start().await;
    let shared = &server.shared;
    let mut d = Direct::new(shared);
    d.run(shared, &["RPUSH", "small", "a", "b"]);
    let big = "x".repeat(200);
    for _ in 0..60 {
        d.run(shared, &["RPUSH", "big", &big]);
    }
    let mut keyspace = shared.keyspace.lock();
    let now = keyspace.now_ms();
    let encoding = |v: Option<&mut Value>| v.map(|v| (v.type_name(), v.encoding()));
    assert_eq!(encoding(keyspace.db(0).get_value(b"small", now)), Some(("list", "listpack")));
    assert_eq!(encoding(keyspace.db(0).get_value(b"big", now)), Some(("list", "quicklist")));
}

#[tokio::test]
async fn large_lists_keep_order_through_both_ends_and_the_middle() {
    let server = common::start().await;
    let mut c = server.client().await;
    let values: Vec<String> = (0..20_000).map(|i| format!("job-{i}")).collect();
    for chunk in values.chunks(1000) {
        let _: i64 = c.rpush("big", chunk).await.unwrap();
    }
    let middle: Option<String> = c.lindex("big", 12_345).await.unwrap();
    assert_eq!(middle.as_deref(), Some("job-12345"));
    let _: () = c.lset("big", -2, "changed").await.unwrap();
    let tail: Vec<String> = c.lrange("big", -3, -1).await.unwrap();
    assert_eq!(tail, ["job-19997", "changed", "job-19999"]);
    let pos: Option<i64> = c.lpos("big", "job-15000", redis::LposOptions::default()).await.unwrap();
    assert_eq!(pos, Some(15_000));
    let removed: i64 = c.lrem("big", 1, "job-10").await.unwrap();
    assert_eq!(removed, 1);
    let _: () = c.ltrim("big", 5, 9).await.unwrap();
    let rest: Vec<String> = c.lrange("big", 0, -1).await.unwrap();
    assert_eq!(rest, ["job-5", "job-6", "job-7", "job-8", "job-9"]);
}
