//! Hash commands: replies, errors, RESP3 shapes, deletion of emptied hashes, keyspace events,
//! the compact form's encoding switch and HSCAN paging. The byte-exact comparison with Redis
//! lives in `tests/differential/hashes.redis`; these tests pin down what a script cannot see.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use bytes::Bytes;
use common::direct::{ev, Direct};
use herald::resp::Reply;
use redis::AsyncCommands;
use std::collections::{HashMap, HashSet};

#[tokio::test]
async fn hset_hget_and_friends_behave_like_redis() {
    let server = common::start().await;
    let mut c = server.client().await;
    let added: i64 = redis::cmd("HSET").arg("h").arg("a").arg("1").arg("b").arg("2").query_async(&mut c).await.unwrap();
    assert_eq!(added, 2);
    let added: i64 = redis::cmd("HSET").arg("h").arg("a").arg("10").arg("c").arg("3").query_async(&mut c).await.unwrap();
    assert_eq!(added, 1, "only c is new");
    let a: String = c.hget("h", "a").await.unwrap();
    assert_eq!(a, "10");
    let missing: Option<String> = c.hget("h", "zz").await.unwrap();
    assert_eq!(missing, None);
    let values: Vec<Option<String>> = redis::cmd("HMGET").arg("h").arg("a").arg("zz").arg("c").query_async(&mut c).await.unwrap();
    assert_eq!(values, [Some("10".to_string()), None, Some("3".to_string())]);
    let all: Vec<(String, String)> = c.hgetall("h").await.unwrap();
    assert_eq!(all, [("a".into(), "10".into()), ("b".into(), "2".into()), ("c".into(), "3".into())], "a small hash keeps insertion order");
    let keys: Vec<String> = c.hkeys("h").await.unwrap();
    assert_eq!(keys, ["a", "b", "c"]);
    let vals: Vec<String> = c.hvals("h").await.unwrap();
    assert_eq!(vals, ["10", "2", "3"]);
    let len: i64 = c.hlen("h").await.unwrap();
    assert_eq!(len, 3);
    let strlen: i64 = redis::cmd("HSTRLEN").arg("h").arg("a").query_async(&mut c).await.unwrap();
    assert_eq!(strlen, 2);
    let exists: bool = c.hexists("h", "b").await.unwrap();
    assert!(exists);
    let set: bool = c.hset_nx("h", "a", "x").await.unwrap();
    assert!(!set);
    let set: bool = c.hset_nx("h", "d", "4").await.unwrap();
    assert!(set);
    let ok: String = redis::cmd("HMSET").arg("h").arg("e").arg("5").query_async(&mut c).await.unwrap();
    assert_eq!(ok, "OK");
    let removed: i64 = c.hdel("h", &["a", "zz", "b"]).await.unwrap();
    assert_eq!(removed, 2);
}

#[tokio::test]
async fn errors_match_redis_texts() {
    let server = common::start().await;
    let mut c = server.raw().await;
    assert_eq!(c.call(&[b"HSET", b"h", b"a"]).await, b"-ERR wrong number of arguments for 'hset' command\r\n");
    assert_eq!(c.call(&[b"HSET", b"h", b"a", b"1", b"b"]).await, b"-ERR wrong number of arguments for 'hset' command\r\n");
    assert_eq!(c.call(&[b"HMSET", b"h", b"a", b"1", b"b"]).await, b"-ERR wrong number of arguments for 'hmset' command\r\n");
    assert_eq!(c.call(&[b"EXISTS", b"h"]).await, b":0\r\n", "a rejected HSET creates nothing");
    c.call(&[b"SET", b"s", b"v"]).await;
    for cmd in [&[b"HGET" as &[u8], b"s", b"f"][..], &[b"HSET", b"s", b"f", b"v"], &[b"HGETALL", b"s"], &[b"HDEL", b"s", b"f"], &[b"HINCRBY", b"s", b"f", b"1"], &[b"HSCAN", b"s", b"0"], &[b"HRANDFIELD", b"s"]] {
        assert_eq!(c.call(cmd).await, b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    }
    c.call(&[b"HSET", b"h", b"s", b"abc", b"n", b"9223372036854775807", b"f", b"1.5"]).await;
    assert_eq!(c.call(&[b"HINCRBY", b"h", b"s", b"1"]).await, b"-ERR hash value is not an integer\r\n");
    assert_eq!(c.call(&[b"HINCRBY", b"h", b"f", b"1"]).await, b"-ERR hash value is not an integer\r\n");
    assert_eq!(c.call(&[b"HINCRBY", b"h", b"n", b"1"]).await, b"-ERR increment or decrement would overflow\r\n");
    assert_eq!(c.call(&[b"HINCRBY", b"h", b"n", b"x"]).await, b"-ERR value is not an integer or out of range\r\n");
    assert_eq!(c.call(&[b"HINCRBYFLOAT", b"h", b"s", b"1"]).await, b"-ERR hash value is not a float\r\n");
    assert_eq!(c.call(&[b"HINCRBYFLOAT", b"h", b"f", b"x"]).await, b"-ERR value is not a valid float\r\n");
    assert_eq!(c.call(&[b"HINCRBYFLOAT", b"h", b"f", b"inf"]).await, b"-ERR value is NaN or Infinity\r\n");
    c.call(&[b"HSET", b"h", b"m", b"1.1e4932"]).await;
    assert_eq!(c.call(&[b"HINCRBYFLOAT", b"h", b"m", b"1.1e4932"]).await, b"-ERR increment would produce NaN or Infinity\r\n");
    assert_eq!(c.call(&[b"HRANDFIELD", b"h", b"1", b"foo"]).await, b"-ERR syntax error\r\n");
    assert_eq!(c.call(&[b"HRANDFIELD", b"h", b"x"]).await, b"-ERR value is not an integer or out of range\r\n");
    assert_eq!(
        c.call(&[b"HRANDFIELD", b"h", b"-9223372036854775808"]).await,
        b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n".to_vec()
    );
    assert_eq!(c.call(&[b"HRANDFIELD", b"h", b"-5000000000000000000", b"WITHVALUES"]).await, b"-ERR value is out of range\r\n");
    assert_eq!(c.call(&[b"HSCAN", b"h", b"x"]).await, b"-ERR invalid cursor\r\n");
    assert_eq!(c.call(&[b"HSCAN", b"h", b"0", b"COUNT", b"0"]).await, b"-ERR syntax error\r\n");
    assert_eq!(c.call(&[b"HSCAN", b"h", b"0", b"FOO"]).await, b"-ERR syntax error\r\n");
    assert_eq!(c.call(&[b"HSCAN", b"nokey", b"0", b"FOO"]).await, b"*2\r\n$1\r\n0\r\n*0\r\n", "a missing key replies before options are read");
}

#[tokio::test]
async fn hincrby_and_hincrbyfloat_store_what_redis_stores() {
    let server = common::start().await;
    let mut c = server.raw().await;
    assert_eq!(c.call(&[b"HINCRBY", b"h", b"n", b"-3"]).await, b":-3\r\n");
    assert_eq!(c.call(&[b"HINCRBY", b"h", b"n", b"10"]).await, b":7\r\n");
    assert_eq!(c.call(&[b"HINCRBYFLOAT", b"h", b"f", b"10.5"]).await, b"$4\r\n10.5\r\n");
    assert_eq!(c.call(&[b"HINCRBYFLOAT", b"h", b"f", b"0.1"]).await, b"$4\r\n10.6\r\n");
    assert_eq!(c.call(&[b"HINCRBYFLOAT", b"h", b"f", b"5.0e3"]).await, b"$22\r\n5010.60000000000000009\r\n", "x87 long double, as Redis");
    assert_eq!(c.call(&[b"HINCRBYFLOAT", b"h", b"n", b"-7"]).await, b"$1\r\n0\r\n");
    assert_eq!(c.call(&[b"HGET", b"h", b"f"]).await, b"$22\r\n5010.60000000000000009\r\n");
}

#[tokio::test]
async fn resp3_replies_use_maps_and_pairs() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"HELLO", b"3"]).await;
    c.call(&[b"HSET", b"h", b"a", b"1", b"b", b"2"]).await;
    assert_eq!(c.call(&[b"HGETALL", b"h"]).await, b"%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(c.call(&[b"HGETALL", b"none"]).await, b"%0\r\n");
    assert_eq!(c.call(&[b"HRANDFIELD", b"h", b"5", b"WITHVALUES"]).await, b"*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(c.call(&[b"HRANDFIELD", b"none"]).await, b"_\r\n");
    assert_eq!(c.call(&[b"HMGET", b"h", b"zz"]).await, b"*1\r\n_\r\n");
    let mut c2 = server.raw().await;
    c2.call(&[b"HSET", b"h2", b"a", b"1"]).await;
    assert_eq!(c2.call(&[b"HGETALL", b"h2"]).await, b"*2\r\n$1\r\na\r\n$1\r\n1\r\n", "RESP2 flattens the map");
    assert_eq!(c2.call(&[b"HRANDFIELD", b"h2", b"-2", b"WITHVALUES"]).await, b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n1\r\n");
}

#[tokio::test]
async fn hrandfield_counts_follow_redis_rules() {
    let server = common::start().await;
    let mut c = server.client().await;
    let fields: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
    for f in &fields {
        let _: () = c.hset("h", f, "v").await.unwrap();
    }
    let picked: Vec<String> = redis::cmd("HRANDFIELD").arg("h").arg(10).query_async(&mut c).await.unwrap();
    assert_eq!(picked.len(), 10);
    assert_eq!(picked.iter().collect::<HashSet<_>>().len(), 10, "a positive count picks distinct fields");
    let picked: Vec<String> = redis::cmd("HRANDFIELD").arg("h").arg(500).query_async(&mut c).await.unwrap();
    assert_eq!(picked, fields, "a count covering the hash returns all of it in order");
    let picked: Vec<String> = redis::cmd("HRANDFIELD").arg("h").arg(-200).query_async(&mut c).await.unwrap();
    assert_eq!(picked.len(), 200, "a negative count returns exactly that many, repeating");
    assert!(picked.iter().all(|f| fields.contains(f)));
    let none: Vec<String> = redis::cmd("HRANDFIELD").arg("h").arg(0).query_async(&mut c).await.unwrap();
    assert!(none.is_empty());
    let missing: Vec<String> = redis::cmd("HRANDFIELD").arg("nokey").arg(3).query_async(&mut c).await.unwrap();
    assert!(missing.is_empty());
}

#[tokio::test]
async fn emptied_hash_is_deleted_with_events_in_redis_order() {
    let server = common::start().await;
    let shared = &server.shared;
    let mut d = Direct::new(shared);
    assert_eq!(d.run(shared, &["HSET", "h", "a", "1", "b", "2"]).1, [ev('h', "hset", "h")]);
    assert_eq!(d.run(shared, &["HSETNX", "h", "a", "1"]).1, []);
    assert_eq!(d.run(shared, &["HSETNX", "h", "c", "1"]).1, [ev('h', "hset", "h")]);
    assert_eq!(d.run(shared, &["HINCRBY", "h", "n", "1"]).1, [ev('h', "hincrby", "h")]);
    assert_eq!(d.run(shared, &["HINCRBYFLOAT", "h", "n", "1"]).1, [ev('h', "hincrbyfloat", "h")]);
    assert_eq!(d.run(shared, &["HDEL", "h", "zz"]).1, []);
    assert_eq!(d.run(shared, &["HDEL", "h", "a", "b"]).1, [ev('h', "hdel", "h")]);
    let (reply, events) = d.run(shared, &["HDEL", "h", "c", "n"]);
    assert_eq!(reply, Reply::Integer(2));
    assert_eq!(events, [ev('h', "hdel", "h"), ev('g', "del", "h")]);
    assert_eq!(d.run(shared, &["EXISTS", "h"]).0, Reply::Integer(0));
}

#[tokio::test]
async fn encoding_switches_at_the_configured_thresholds_and_never_back() {
    let server = common::start().await;
    let mut c = server.client().await;
    for i in 0..128 {
        let _: () = c.hset("h", format!("f{i}"), "v").await.unwrap();
    }
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("h").query_async(&mut c).await.unwrap();
    assert_eq!(enc, "listpack");
    let _: () = c.hset("h", "f128", "v").await.unwrap();
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("h").query_async(&mut c).await.unwrap();
    assert_eq!(enc, "hashtable");
    let _: i64 = c.hdel("h", (1..129).map(|i| format!("f{i}")).collect::<Vec<_>>()).await.unwrap();
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("h").query_async(&mut c).await.unwrap();
    assert_eq!(enc, "hashtable", "Redis never converts back");

    let _: () = redis::cmd("CONFIG").arg("SET").arg("hash-max-ziplist-value").arg("4").query_async(&mut c).await.unwrap();
    let got: HashMap<String, String> = redis::cmd("CONFIG").arg("GET").arg("hash-max-listpack-value").query_async(&mut c).await.unwrap();
    assert_eq!(got.get("hash-max-listpack-value").map(String::as_str), Some("4"), "the ziplist name is an alias");
    let _: () = c.hset("short", "f", "1234").await.unwrap();
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("short").query_async(&mut c).await.unwrap();
    assert_eq!(enc, "listpack");
    let _: () = c.hset("short", "g", "12345").await.unwrap();
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("short").query_async(&mut c).await.unwrap();
    assert_eq!(enc, "hashtable");
    let defaults: HashMap<String, String> = redis::cmd("CONFIG").arg("GET").arg("hash-max-listpack-entries").query_async(&mut c).await.unwrap();
    assert_eq!(defaults.get("hash-max-listpack-entries").map(String::as_str), Some("128"));
}

#[tokio::test]
async fn hscan_of_a_large_hash_pages_through_every_field() {
    let server = common::start().await;
    let mut c = server.client().await;
    for i in 0..1000 {
        let _: () = c.hset("big", format!("f{i}"), i).await.unwrap();
    }
    let mut seen = HashMap::new();
    let mut cursor: u64 = 0;
    let mut pages = 0;
    loop {
        let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN").arg("big").arg(cursor).arg("COUNT").arg(50).query_async(&mut c).await.unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone(), pair[1].clone());
        }
        // Churn between pages: fields that come and go must not hide the stable ones.
        let _: () = c.hset("big", format!("churn{pages}"), 1).await.unwrap();
        pages += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert!(pages > 10, "a large hash is paged");
    for i in 0..1000 {
        assert_eq!(seen.get(&format!("f{i}")), Some(&i.to_string()));
    }
    let (next, items): (u64, Vec<String>) = redis::cmd("HSCAN").arg("big").arg(0).arg("COUNT").arg(5000).arg("MATCH").arg("f99*").arg("NOVALUES").query_async(&mut c).await.unwrap();
    assert_eq!(next, 0);
    let mut items = items;
    items.sort();
    assert_eq!(items, ["f99", "f990", "f991", "f992", "f993", "f994", "f995", "f996", "f997", "f998", "f999"]);
}

#[tokio::test]
async fn key_commands_work_on_hashes() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"HSET", b"h", b"a", b"1"]).await;
    assert_eq!(c.call(&[b"TYPE", b"h"]).await, b"+hash\r\n");
    assert_eq!(c.call(&[b"COPY", b"h", b"h2"]).await, b":1\r\n");
    c.call(&[b"HSET", b"h", b"b", b"2"]).await;
    assert_eq!(c.call(&[b"HLEN", b"h2"]).await, b":1\r\n", "COPY is deep");
    assert_eq!(c.call(&[b"RENAME", b"h2", b"h3"]).await, b"+OK\r\n");
    assert_eq!(c.call(&[b"HGET", b"h3", b"a"]).await, b"$1\r\n1\r\n");
    c.call(&[b"SET", b"str", b"v"]).await;
    let reply = c.call(&[b"SCAN", b"0", b"TYPE", b"HASH", b"COUNT", b"100"]).await;
    let text = String::from_utf8_lossy(&reply);
    assert!(text.contains("h3") && text.contains("\r\nh\r\n") && !text.contains("str"));
}

#[tokio::test]
async fn hgetdel_returns_values_and_deletes_fields_as_redis_8_does() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"HSET", b"h", b"a", b"1", b"b", b"2"]).await;
    assert_eq!(c.call(&[b"HGETDEL", b"h", b"FIELDS", b"2", b"a", b"zz"]).await, b"*2\r\n$1\r\n1\r\n$-1\r\n");
    assert_eq!(c.call(&[b"HGETALL", b"h"]).await, b"*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(c.call(&[b"HGETDEL", b"h", b"FIELDS", b"0", b"b"]).await, b"-ERR Number of fields must be a positive integer\r\n");
    assert_eq!(c.call(&[b"HGETDEL", b"h", b"FIELDS", b"2", b"b"]).await, b"-ERR The `numfields` parameter must match the number of arguments\r\n");
    assert_eq!(c.call(&[b"HGETDEL", b"h", b"FOO", b"1", b"b"]).await, b"-ERR Mandatory argument FIELDS is missing or not at the right position\r\n");
    assert_eq!(c.call(&[b"HGETDEL", b"none", b"FIELDS", b"1", b"b"]).await, b"*1\r\n$-1\r\n");
    c.call(&[b"SET", b"s", b"v"]).await;
    assert_eq!(c.call(&[b"HGETDEL", b"s", b"FIELDS", b"0", b"b"]).await, b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "the type is checked first");

    let shared = &server.shared;
    let mut d = Direct::new(shared);
    assert_eq!(d.run(shared, &["HGETDEL", "h", "FIELDS", "1", "zz"]).1, []);
    assert_eq!(d.run(shared, &["HGETDEL", "h", "FIELDS", "1", "b"]).1, [ev('h', "hdel", "h"), ev('g', "del", "h")]);
    assert_eq!(d.run(shared, &["EXISTS", "h"]).0, Reply::Integer(0));
}

#[tokio::test]
async fn field_expiry_commands_reply_per_field_as_redis_7_4_does() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"HSET", b"h", b"a", b"1", b"b", b"2", b"c", b"3"]).await;
    assert_eq!(c.call(&[b"HEXPIRE", b"h", b"100", b"FIELDS", b"2", b"a", b"zz"]).await, b"*2\r\n:1\r\n:-2\r\n");
    assert_eq!(c.call(&[b"OBJECT", b"ENCODING", b"h"]).await, b"$10\r\nlistpackex\r\n");
    assert_eq!(c.call(&[b"HEXPIRE", b"h", b"100", b"NX", b"FIELDS", b"1", b"a"]).await, b"*1\r\n:0\r\n");
    assert_eq!(c.call(&[b"HEXPIRE", b"h", b"50", b"GT", b"FIELDS", b"2", b"a", b"b"]).await, b"*2\r\n:0\r\n:0\r\n");
    assert_eq!(c.call(&[b"HEXPIRE", b"h", b"50", b"LT", b"FIELDS", b"2", b"a", b"b"]).await, b"*2\r\n:1\r\n:1\r\n");
    assert_eq!(c.call(&[b"HTTL", b"h", b"FIELDS", b"3", b"a", b"c", b"zz"]).await, b"*3\r\n:50\r\n:-1\r\n:-2\r\n");
    assert_eq!(c.call(&[b"HPEXPIREAT", b"h", b"70368744177663", b"FIELDS", b"1", b"c"]).await, b"*1\r\n:1\r\n");
    assert_eq!(c.call(&[b"HPEXPIRETIME", b"h", b"FIELDS", b"1", b"c"]).await, b"*1\r\n:70368744177663\r\n");
    assert_eq!(c.call(&[b"HEXPIRETIME", b"h", b"FIELDS", b"1", b"c"]).await, b"*1\r\n:70368744178\r\n");
    assert_eq!(c.call(&[b"HPEXPIREAT", b"h", b"70368744177664", b"FIELDS", b"1", b"c"]).await, b"-ERR invalid expire time in 'hpexpireat' command\r\n");
    assert_eq!(c.call(&[b"HPERSIST", b"h", b"FIELDS", b"3", b"a", b"c", b"zz"]).await, b"*3\r\n:1\r\n:1\r\n:-2\r\n");
    assert_eq!(c.call(&[b"HPERSIST", b"h", b"FIELDS", b"1", b"a"]).await, b"*1\r\n:-1\r\n");
    c.call(&[b"HEXPIRE", b"h", b"100", b"FIELDS", b"1", b"b"]).await;
    c.call(&[b"HINCRBY", b"h", b"b", b"1"]).await;
    assert_eq!(c.call(&[b"HTTL", b"h", b"FIELDS", b"1", b"b"]).await, b"*1\r\n:100\r\n", "HINCRBY keeps the field's TTL");
    c.call(&[b"HSET", b"h", b"b", b"9"]).await;
    assert_eq!(c.call(&[b"HTTL", b"h", b"FIELDS", b"1", b"b"]).await, b"*1\r\n:-1\r\n", "HSET clears it");
    assert_eq!(c.call(&[b"HEXPIRE", b"nokey", b"100", b"FIELDS", b"2", b"a", b"b"]).await, b"*2\r\n:-2\r\n:-2\r\n");
    assert_eq!(c.call(&[b"HEXPIRE", b"h", b"-1", b"FIELDS", b"1", b"a"]).await, b"-ERR invalid expire time, must be >= 0\r\n");
    assert_eq!(c.call(&[b"HEXPIRE", b"h", b"100", b"FIELDS", b"0", b"a"]).await, b"-ERR Parameter `numFields` should be greater than 0\r\n");
    assert_eq!(c.call(&[b"HTTL", b"h", b"FIELDS", b"x", b"a"]).await, b"-ERR Number of fields must be a positive integer\r\n");
    assert_eq!(c.call(&[b"HEXPIRE", b"h", b"100", b"NX", b"XX", b"FIELDS", b"1", b"a"]).await, b"-ERR Mandatory argument FIELDS is missing or not at the right position\r\n");
    assert_eq!(c.call(&[b"HEXPIRE", b"h", b"9223372036854775807", b"FIELDS", b"1", b"a"]).await, b"-ERR invalid expire time in 'hexpire' command\r\n");
    c.call(&[b"SET", b"s", b"v"]).await;
    assert_eq!(c.call(&[b"HEXPIRE", b"s", b"x", b"FIELDS", b"1", b"a"]).await, b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "the type is checked first");
}

#[tokio::test]
async fn field_expiry_raises_redis_events_and_expired_fields_vanish() {
    let server = common::start().await;
    let shared = &server.shared;
    let mut d = Direct::new(shared);
    d.run(shared, &["HSET", "h", "a", "1", "b", "2"]);
    assert_eq!(d.run(shared, &["HEXPIRE", "h", "100", "FIELDS", "1", "a"]).1, [ev('h', "hexpire", "h")]);
    assert_eq!(d.run(shared, &["HPERSIST", "h", "FIELDS", "1", "a"]).1, [ev('h', "hpersist", "h")]);
    let (reply, events) = d.run(shared, &["HEXPIRE", "h", "0", "FIELDS", "1", "a"]);
    assert_eq!(reply, Reply::Array(vec![Reply::Integer(2)]), "a time already past deletes the field");
    assert_eq!(events, [ev('h', "hdel", "h")]);
    d.run(shared, &["HPEXPIRE", "h", "1", "FIELDS", "1", "b"]);
    // A real 1 ms TTL: poll until it has passed (bounded), then the next access reclaims it.
    let mut gone = Vec::new();
    for _ in 0..1000 {
        let (reply, events) = d.run(shared, &["HGET", "h", "b"]);
        if reply == Reply::Null {
            gone = events;
            break;
        }
        tokio::task::yield_now().await;
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(gone, [ev('h', "hexpired", "h"), ev('g', "del", "h")]);
    assert_eq!(d.run(shared, &["EXISTS", "h"]).0, Reply::Integer(0));
}

#[tokio::test]
async fn hgetex_reads_fields_and_sets_or_clears_their_ttl_as_redis_8_does() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"HSET", b"g", b"a", b"1", b"b", b"2"]).await;
    assert_eq!(c.call(&[b"HGETEX", b"g", b"EX", b"100", b"FIELDS", b"2", b"a", b"zz"]).await, b"*2\r\n$1\r\n1\r\n$-1\r\n");
    assert_eq!(c.call(&[b"HTTL", b"g", b"FIELDS", b"1", b"a"]).await, b"*1\r\n:100\r\n");
    assert_eq!(c.call(&[b"HGETEX", b"g", b"PERSIST", b"FIELDS", b"1", b"a"]).await, b"*1\r\n$1\r\n1\r\n");
    assert_eq!(c.call(&[b"HTTL", b"g", b"FIELDS", b"1", b"a"]).await, b"*1\r\n:-1\r\n");
    assert_eq!(c.call(&[b"HGETEX", b"g", b"EX", b"10", b"PX", b"10", b"FIELDS", b"1", b"b"]).await, b"-ERR Mandatory argument FIELDS is missing or not at the right position\r\n");
    assert_eq!(c.call(&[b"HGETEX", b"g", b"EX", b"10", b"FIELDS"]).await, b"-ERR wrong number of arguments for 'hgetex' command\r\n");
    assert_eq!(c.call(&[b"HGETEX", b"nokey", b"EX", b"10", b"FIELDS", b"1", b"b"]).await, b"*1\r\n$-1\r\n");

    let shared = &server.shared;
    let mut d = Direct::new(shared);
    assert_eq!(d.run(shared, &["HGETEX", "g", "EX", "5", "FIELDS", "1", "b"]).1, [ev('h', "hexpire", "g")]);
    assert_eq!(d.run(shared, &["HGETEX", "g", "PERSIST", "FIELDS", "1", "b"]).1, [ev('h', "hpersist", "g")]);
    assert_eq!(d.run(shared, &["HGETEX", "g", "PERSIST", "FIELDS", "1", "b"]).1, []);
    let (reply, events) = d.run(shared, &["HGETEX", "g", "PX", "0", "FIELDS", "2", "a", "b"]);
    assert_eq!(reply, Reply::Array(vec![Reply::Bulk(Bytes::from("1")), Reply::Bulk(Bytes::from("2"))]));
    assert_eq!(events, [ev('h', "hdel", "g"), ev('g', "del", "g")]);
}

#[tokio::test]
async fn hsetex_sets_fields_with_conditions_and_ttls_as_redis_8_does() {
    let server = common::start().await;
    let mut c = server.raw().await;
    assert_eq!(c.call(&[b"HSETEX", b"k", b"EX", b"100", b"FIELDS", b"2", b"a", b"1", b"b", b"2"]).await, b":1\r\n");
    assert_eq!(c.call(&[b"HTTL", b"k", b"FIELDS", b"2", b"a", b"b"]).await, b"*2\r\n:100\r\n:100\r\n");
    assert_eq!(c.call(&[b"HSETEX", b"k", b"KEEPTTL", b"FIELDS", b"1", b"a", b"5"]).await, b":1\r\n");
    assert_eq!(c.call(&[b"HTTL", b"k", b"FIELDS", b"1", b"a"]).await, b"*1\r\n:100\r\n");
    assert_eq!(c.call(&[b"HSETEX", b"k", b"FIELDS", b"1", b"a", b"6"]).await, b":1\r\n");
    assert_eq!(c.call(&[b"HTTL", b"k", b"FIELDS", b"1", b"a"]).await, b"*1\r\n:-1\r\n", "without KEEPTTL the TTL goes");
    assert_eq!(c.call(&[b"HSETEX", b"k", b"FNX", b"FIELDS", b"2", b"a", b"1", b"c", b"3"]).await, b":0\r\n");
    assert_eq!(c.call(&[b"HSETEX", b"k", b"FXX", b"FIELDS", b"2", b"a", b"1", b"d", b"3"]).await, b":0\r\n");
    assert_eq!(c.call(&[b"HEXISTS", b"k", b"d"]).await, b":0\r\n");
    assert_eq!(c.call(&[b"HSETEX", b"nokey", b"FXX", b"FIELDS", b"1", b"a", b"1"]).await, b":0\r\n");
    assert_eq!(c.call(&[b"EXISTS", b"nokey"]).await, b":0\r\n");
    assert_eq!(c.call(&[b"HSETEX", b"k", b"FNX", b"FXX", b"FIELDS", b"1", b"a", b"9"]).await, b"-ERR Only one of FXX or FNX arguments can be specified\r\n");
    assert_eq!(c.call(&[b"HSETEX", b"k", b"EX", b"1", b"KEEPTTL", b"FIELDS", b"1", b"a", b"9"]).await, b"-ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified\r\n");
    assert_eq!(c.call(&[b"HSETEX", b"k", b"FIELDS", b"0", b"a", b"1"]).await, b"-ERR invalid number of fields\r\n");
    assert_eq!(c.call(&[b"HSETEX", b"k", b"FIELDS", b"2", b"a", b"1"]).await, b"-ERR wrong number of arguments for 'hsetex' command\r\n");
    assert_eq!(c.call(&[b"HSETEX", b"k", b"FOO", b"FIELDS", b"1", b"a", b"1"]).await, b"-ERR unknown argument: FOO\r\n");

    let shared = &server.shared;
    let mut d = Direct::new(shared);
    assert_eq!(d.run(shared, &["HSETEX", "e", "FIELDS", "1", "a", "1"]).1, [ev('h', "hset", "e")]);
    assert_eq!(d.run(shared, &["HSETEX", "e", "EX", "100", "FIELDS", "1", "a", "1"]).1, [ev('h', "hset", "e"), ev('h', "hexpire", "e")]);
    assert_eq!(d.run(shared, &["HSETEX", "e", "FNX", "FIELDS", "1", "a", "1"]).1, []);
    assert_eq!(d.run(shared, &["HSETEX", "e", "EX", "0", "FIELDS", "1", "a", "1"]).1, [ev('h', "hset", "e"), ev('h', "hdel", "e"), ev('g', "del", "e")]);
}
