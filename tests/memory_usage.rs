//! MEMORY USAGE for every type: an estimate that exists for each, grows with the value, and
//! reflects the compact forms; plus the MEMORY container's other subcommands and errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use redis::aio::MultiplexedConnection;

async fn usage(c: &mut MultiplexedConnection, key: &str) -> Option<i64> {
    redis::cmd("MEMORY").arg("USAGE").arg(key).query_async(c).await.unwrap()
}

/// Fills `key` (of type `kind`) with `n` elements of about 10 bytes each.
async fn fill(c: &mut MultiplexedConnection, kind: &str, key: &str, n: usize) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(250) {
        fill_range(c, kind, key, chunk).await;
    }
}

async fn fill_range(c: &mut MultiplexedConnection, kind: &str, key: &str, items: &[usize]) {
    let mut pipe = redis::pipe();
    for &i in items {
        let item = format!("item:{i:05}");
        match kind {
            "string" => pipe.cmd("APPEND").arg(key).arg(&item),
            "list" => pipe.cmd("RPUSH").arg(key).arg(&item),
            "stream" => pipe.cmd("XADD").arg(key).arg("*").arg("f").arg(&item),
            "hash" => pipe.cmd("HSET").arg(key).arg(&item).arg("value"),
            "set" => pipe.cmd("SADD").arg(key).arg(&item),
            "zset" => pipe.cmd("ZADD").arg(key).arg(i).arg(&item),
            _ => panic!("unknown kind {kind}"),
        };
        pipe.ignore();
    }
    let () = pipe.query_async(c).await.unwrap();
}

#[tokio::test]
async fn memory_usage_grows_with_the_value_for_every_type() {
    let server = common::start().await;
    let mut c = server.client().await;
    for kind in ["string", "list", "stream", "hash", "set", "zset"] {
        let (small, large) = (format!("{kind}:small"), format!("{kind}:large"));
        fill(&mut c, kind, &small, 10).await;
        fill(&mut c, kind, &large, 2000).await;
        let small_bytes = usage(&mut c, &small).await.unwrap();
        let large_bytes = usage(&mut c, &large).await.unwrap();
        // Ten 10-byte items need at least 100 bytes; 2000 of them at least 20,000.
        assert!(small_bytes >= 100, "{kind}: small value reported {small_bytes} bytes");
        assert!(large_bytes >= 20_000, "{kind}: large value reported {large_bytes} bytes");
        assert!(large_bytes > 20 * small_bytes, "{kind}: {small_bytes} for 10 items but {large_bytes} for 2000");
    }
}

#[tokio::test]
async fn a_compact_sorted_set_costs_less_than_the_same_members_in_a_skip_list() {
    let server = common::start().await;
    let mut c = server.client().await;
    fill(&mut c, "zset", "packed", 100).await;
    let () = redis::cmd("CONFIG").arg("SET").arg("zset-max-listpack-entries").arg("10").query_async(&mut c).await.unwrap();
    fill(&mut c, "zset", "skiplist", 100).await;
    let encoding: String = redis::cmd("OBJECT").arg("ENCODING").arg("skiplist").query_async(&mut c).await.unwrap();
    assert_eq!(encoding, "skiplist");
    let packed = usage(&mut c, "packed").await.unwrap();
    let skiplist = usage(&mut c, "skiplist").await.unwrap();
    assert!(packed * 2 < skiplist, "listpack {packed} bytes, skiplist {skiplist} bytes");
}

#[tokio::test]
async fn memory_usage_of_a_missing_key_is_null_and_bad_options_are_errors() {
    let server = common::start().await;
    let mut c = server.raw().await;
    use common::text::call;
    assert_eq!(call(&mut c, &["MEMORY", "USAGE", "nokey"]).await, "$-1\r\n");
    call(&mut c, &["SET", "k", "v"]).await;
    assert!(call(&mut c, &["MEMORY", "USAGE", "k", "SAMPLES", "0"]).await.starts_with(':'));
    assert_eq!(call(&mut c, &["MEMORY", "USAGE", "k", "SAMPLES", "-1"]).await, "-ERR syntax error\r\n");
    assert_eq!(call(&mut c, &["MEMORY", "USAGE", "k", "SAMPLES", "x"]).await, "-ERR value is not an integer or out of range\r\n");
    assert_eq!(call(&mut c, &["MEMORY", "USAGE", "k", "SAMPLES"]).await, "-ERR syntax error\r\n");
    assert_eq!(call(&mut c, &["MEMORY", "PURGE"]).await, "+OK\r\n");
    assert!(call(&mut c, &["MEMORY", "NOPE"]).await.starts_with("-ERR unknown subcommand 'NOPE'"));
}
