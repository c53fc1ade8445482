//! Set commands: replies, errors, RESP3 shapes, deletion of emptied sets, keyspace events,
//! the intset/listpack/hashtable switch and SSCAN paging. The byte-exact comparison with Redis
//! lives in `tests/differential/sets.redis`; these tests pin down what a script cannot see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::direct::{ev, Direct};
use redis::AsyncCommands;
use std::collections::HashSet;

async fn encoding(c: &mut redis::aio::MultiplexedConnection, key: &str) -> String {
    redis::cmd("OBJECT").arg("ENCODING").arg(key).query_async(c).await.unwrap()
}

#[tokio::test]
async fn membership_commands_behave_like_redis() {
    let server = common::start().await;
    let mut c = server.client().await;
    let added: i64 = c.sadd("s", &["3", "1", "2", "1"]).await.unwrap();
    assert_eq!(added, 3);
    let members: Vec<String> = c.smembers("s").await.unwrap();
    assert_eq!(members, ["1", "2", "3"], "an intset comes back sorted");
    let is: bool = c.sismember("s", "2").await.unwrap();
    assert!(is);
    let many: Vec<i64> = redis::cmd("SMISMEMBER").arg("s").arg("1").arg("9").arg("3").query_async(&mut c).await.unwrap();
    assert_eq!(many, [1, 0, 1]);
    let card: i64 = c.scard("s").await.unwrap();
    assert_eq!(card, 3);
    let removed: i64 = c.srem("s", &["1", "9"]).await.unwrap();
    assert_eq!(removed, 1);
    let added: i64 = c.sadd("s", &["b", "a"]).await.unwrap();
    assert_eq!(added, 2);
    let members: Vec<String> = c.smembers("s").await.unwrap();
    assert_eq!(members, ["2", "3", "b", "a"], "a listpack keeps insertion order");
    let missing: Vec<String> = c.smembers("nokey").await.unwrap();
    assert!(missing.is_empty());
}

#[tokio::test]
async fn errors_match_redis_texts() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"SET", b"str", b"v"]).await;
    for cmd in [
        &[b"SADD" as &[u8], b"str", b"m"][..],
        &[b"SREM", b"str", b"m"],
        &[b"SMEMBERS", b"str"],
        &[b"SPOP", b"str"],
        &[b"SINTER", b"str"],
        &[b"SUNIONSTORE", b"d", b"str"],
        &[b"SSCAN", b"str", b"0"],
    ] {
        assert_eq!(c.call(cmd).await, b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    }
    c.call(&[b"SADD", b"s", b"1"]).await;
    assert_eq!(c.call(&[b"SPOP", b"s", b"-1"]).await, b"-ERR value is out of range, must be positive\r\n");
    assert_eq!(c.call(&[b"SPOP", b"s", b"x"]).await, b"-ERR value is out of range, must be positive\r\n");
    assert_eq!(c.call(&[b"SPOP", b"s", b"1", b"2"]).await, b"-ERR syntax error\r\n");
    assert_eq!(c.call(&[b"SRANDMEMBER", b"s", b"x"]).await, b"-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.call(&[b"SINTERCARD", b"0", b"s"]).await, b"-ERR numkeys should be greater than 0\r\n");
    assert_eq!(c.call(&[b"SINTERCARD", b"2", b"s"]).await, b"-ERR Number of keys can't be greater than number of args\r\n");
    assert_eq!(c.call(&[b"SINTERCARD", b"1", b"s", b"LIMIT", b"-1"]).await, b"-ERR LIMIT can't be negative\r\n");
    assert_eq!(c.call(&[b"SINTERCARD", b"1", b"s", b"FOO"]).await, b"-ERR syntax error\r\n");
    assert_eq!(c.call(&[b"SSCAN", b"s", b"x"]).await, b"-ERR invalid cursor\r\n");
    assert_eq!(c.call(&[b"SSCAN", b"s", b"0", b"NOVALUES"]).await, b"-ERR NOVALUES option can only be used in HSCAN\r\n");
    assert_eq!(c.call(&[b"SMOVE", b"s", b"str", b"1"]).await, b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    assert_eq!(c.call(&[b"SMOVE", b"nokey", b"str", b"1"]).await, b":0\r\n", "a missing source wins over a wrong destination");
}

#[tokio::test]
async fn resp3_replies_use_sets_where_redis_does() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"HELLO", b"3"]).await;
    c.call(&[b"SADD", b"s", b"1", b"2"]).await;
    assert_eq!(c.call(&[b"SMEMBERS", b"s"]).await, b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(c.call(&[b"SMEMBERS", b"none"]).await, b"~0\r\n");
    assert_eq!(c.call(&[b"SINTER", b"s", b"none"]).await, b"~0\r\n");
    assert_eq!(c.call(&[b"SUNION", b"s"]).await, b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(c.call(&[b"SDIFF", b"s"]).await, b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(c.call(&[b"SRANDMEMBER", b"s", b"5"]).await, b"*2\r\n$1\r\n1\r\n$1\r\n2\r\n", "SRANDMEMBER stays an array");
    assert_eq!(c.call(&[b"SPOP", b"none", b"2"]).await, b"~0\r\n");
    assert_eq!(c.call(&[b"SPOP", b"s", b"0"]).await, b"~0\r\n");
    assert_eq!(c.call(&[b"SPOP", b"none"]).await, b"_\r\n");
    assert_eq!(c.call(&[b"SPOP", b"s", b"5"]).await, b"~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(c.call(&[b"EXISTS", b"s"]).await, b":0\r\n");
}

#[tokio::test]
async fn random_picks_follow_count_rules() {
    let server = common::start().await;
    let mut c = server.client().await;
    let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let _: i64 = c.sadd("s", &members).await.unwrap();
    let picked: Vec<String> = redis::cmd("SRANDMEMBER").arg("s").arg(20).query_async(&mut c).await.unwrap();
    assert_eq!(picked.iter().collect::<HashSet<_>>().len(), 20, "a positive count picks distinct members");
    let picked: Vec<String> = redis::cmd("SRANDMEMBER").arg("s").arg(-1000).query_async(&mut c).await.unwrap();
    assert_eq!(picked.len(), 1000);
    assert!(picked.iter().all(|m| members.contains(m)));
    let one: String = c.srandmember("s").await.unwrap();
    assert!(members.contains(&one));
    let popped: Vec<String> = redis::cmd("SPOP").arg("s").arg(100).query_async(&mut c).await.unwrap();
    assert_eq!(popped.iter().collect::<HashSet<_>>().len(), 100);
    let card: i64 = c.scard("s").await.unwrap();
    assert_eq!(card, 200);
    for m in &popped {
        let is: bool = c.sismember("s", m).await.unwrap();
        assert!(!is, "{m} was popped");
    }
    let one: String = c.spop("s").await.unwrap();
    assert!(members.contains(&one));
}

#[tokio::test]
async fn algebra_matches_set_semantics() {
    let server = common::start().await;
    let mut c = server.client().await;
    let _: i64 = c.sadd("a", &["1", "2", "3", "x", "y"]).await.unwrap();
    let _: i64 = c.sadd("b", &["2", "3", "y", "z"]).await.unwrap();
    let _: i64 = c.sadd("c", &["3", "y", "q"]).await.unwrap();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let inter: Vec<String> = c.sinter(&["a", "b", "c"]).await.unwrap();
    assert_eq!(sorted(inter), ["3", "y"]);
    let union: Vec<String> = c.sunion(&["a", "b", "c"]).await.unwrap();
    assert_eq!(sorted(union), ["1", "2", "3", "q", "x", "y", "z"]);
    let diff: Vec<String> = c.sdiff(&["a", "b", "c"]).await.unwrap();
    assert_eq!(sorted(diff), ["1", "x"]);
    let card: i64 = redis::cmd("SINTERCARD").arg(2).arg("a").arg("b").query_async(&mut c).await.unwrap();
    assert_eq!(card, 3);
    let card: i64 = redis::cmd("SINTERCARD").arg(2).arg("a").arg("b").arg("LIMIT").arg(2).query_async(&mut c).await.unwrap();
    assert_eq!(card, 2);
    let _: () = c.set_ex("dest", "string", 100).await.unwrap();
    let n: i64 = c.sinterstore("dest", &["a", "b"]).await.unwrap();
    assert_eq!(n, 3);
    let ttl: i64 = c.ttl("dest").await.unwrap();
    assert_eq!(ttl, -1, "a STORE replaces the destination, TTL included");
    let n: i64 = c.sunionstore("u", &["a", "nokey"]).await.unwrap();
    assert_eq!(n, 5);
    let n: i64 = c.sdiffstore("dest", &["a", "a"]).await.unwrap();
    assert_eq!(n, 0);
    let exists: bool = c.exists("dest").await.unwrap();
    assert!(!exists, "an empty result deletes the destination");
}

#[tokio::test]
async fn writes_raise_redis_events_and_empty_sets_vanish() {
    let server = common::start().await;
    let shared = &server.shared;
    let mut d = Direct::new(shared);
    assert_eq!(d.run(shared, &["SADD", "s", "a", "b"]).1, [ev('s', "sadd", "s")]);
    assert_eq!(d.run(shared, &["SADD", "s", "a"]).1, []);
    assert_eq!(d.run(shared, &["SREM", "s", "zz"]).1, []);
    assert_eq!(d.run(shared, &["SREM", "s", "a"]).1, [ev('s', "srem", "s")]);
    assert_eq!(d.run(shared, &["SMOVE", "s", "t", "b"]).1, [ev('s', "srem", "s"), ev('g', "del", "s"), ev('s', "sadd", "t")]);
    assert_eq!(d.run(shared, &["SADD", "s", "b"]).1, [ev('s', "sadd", "s")]);
    assert_eq!(d.run(shared, &["SMOVE", "s", "t", "b"]).1, [ev('s', "srem", "s"), ev('g', "del", "s")], "no sadd when the member was already there");
    assert_eq!(d.run(shared, &["SPOP", "t"]).1, [ev('s', "spop", "t"), ev('g', "del", "t")]);
    d.run(shared, &["SADD", "a", "1", "2"]);
    d.run(shared, &["SADD", "b", "2", "3"]);
    assert_eq!(d.run(shared, &["SINTERSTORE", "d", "a", "b"]).1, [ev('s', "sinterstore", "d")]);
    assert_eq!(d.run(shared, &["SUNIONSTORE", "d", "a", "b"]).1, [ev('s', "sunionstore", "d")]);
    assert_eq!(d.run(shared, &["SDIFFSTORE", "d", "a", "b"]).1, [ev('s', "sdiffstore", "d")]);
    assert_eq!(d.run(shared, &["SDIFFSTORE", "d", "a", "a"]).1, [ev('g', "del", "d")]);
    assert_eq!(d.run(shared, &["SDIFFSTORE", "d", "a", "a"]).1, []);
    assert_eq!(d.run(shared, &["SPOP", "a", "1"]).1, [ev('s', "spop", "a")]);
    assert_eq!(d.run(shared, &["SPOP", "a", "5"]).1, [ev('s', "spop", "a"), ev('g', "del", "a")]);
}

#[tokio::test]
async fn encoding_moves_from_intset_to_listpack_to_hashtable() {
    let server = common::start().await;
    let mut c = server.client().await;
    let _: i64 = c.sadd("s", &["1", "2"]).await.unwrap();
    assert_eq!(encoding(&mut c, "s").await, "intset");
    let _: i64 = c.sadd("s", "x").await.unwrap();
    assert_eq!(encoding(&mut c, "s").await, "listpack");
    let many: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    let _: i64 = c.sadd("s", &many).await.unwrap();
    assert_eq!(encoding(&mut c, "s").await, "hashtable");
    let _: i64 = c.srem("s", &many).await.unwrap();
    assert_eq!(encoding(&mut c, "s").await, "hashtable", "never converts back");
    let ints: Vec<String> = (0..513).map(|i| i.to_string()).collect();
    let _: i64 = c.sadd("ints", &ints[..512]).await.unwrap();
    assert_eq!(encoding(&mut c, "ints").await, "intset");
    let _: i64 = c.sadd("ints", &ints[512]).await.unwrap();
    assert_eq!(encoding(&mut c, "ints").await, "hashtable");
    let long = "x".repeat(65);
    let _: i64 = c.sadd("long", &long).await.unwrap();
    assert_eq!(encoding(&mut c, "long").await, "hashtable", "a long member never enters a listpack");
    let _: i64 = c.sadd("long2", &["a", &long]).await.unwrap();
    assert_eq!(encoding(&mut c, "long2").await, "hashtable");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("set-max-intset-entries").arg("2").query_async(&mut c).await.unwrap();
    let _: i64 = c.sadd("small", &["1", "2", "3"]).await.unwrap();
    assert_eq!(encoding(&mut c, "small").await, "listpack", "more integers than the intset limit start as a listpack");
}

#[tokio::test]
async fn sscan_of_a_large_set_pages_through_every_member() {
    let server = common::start().await;
    let mut c = server.client().await;
    let members: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
    let _: i64 = c.sadd("big", &members).await.unwrap();
    let mut seen = HashSet::new();
    let mut cursor: u64 = 0;
    let mut pages = 0;
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd("SSCAN").arg("big").arg(cursor).arg("COUNT").arg(20).query_async(&mut c).await.unwrap();
        seen.extend(items);
        let _: i64 = c.sadd("big", format!("churn{pages}")).await.unwrap();
        let _: i64 = c.srem("big", format!("churn{}", pages.max(1) - 1)).await.unwrap();
        pages += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert!(pages > 20);
    assert!(members.iter().all(|m| seen.contains(m)));
    let (next, items): (u64, Vec<String>) = redis::cmd("SSCAN").arg("big").arg(0).arg("MATCH").arg("m99?").arg("COUNT").arg(5000).query_async(&mut c).await.unwrap();
    assert_eq!(next, 0);
    assert_eq!(items.len(), 10);
}

#[tokio::test]
async fn key_commands_work_on_sets() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"SADD", b"s", b"a"]).await;
    assert_eq!(c.call(&[b"TYPE", b"s"]).await, b"+set\r\n");
    assert_eq!(c.call(&[b"COPY", b"s", b"s2"]).await, b":1\r\n");
    c.call(&[b"SADD", b"s", b"b"]).await;
    assert_eq!(c.call(&[b"SCARD", b"s2"]).await, b":1\r\n", "COPY is deep");
    assert_eq!(c.call(&[b"RENAME", b"s2", b"s3"]).await, b"+OK\r\n");
    assert_eq!(c.call(&[b"SMEMBERS", b"s3"]).await, b"*1\r\n$1\r\na\r\n");
    assert_eq!(c.call(&[b"OBJECT", b"ENCODING", b"s3"]).await, b"$8\r\nlistpack\r\n");
}
