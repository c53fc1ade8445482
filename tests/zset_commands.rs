//! Sorted set commands over the socket: RESP2/RESP3 reply shapes, Redis 7.4's score text,
//! encodings and their thresholds, keyspace events and key commands on sorted sets. The
//! 7.0-comparable behaviour is also pinned by `tests/differential/zsets.redis`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::text::call;

#[tokio::test]
async fn zadd_reports_added_or_changed_members_and_its_conflicting_options() {
    let server = common::start().await;
    let mut c = server.raw().await;
    assert_eq!(call(&mut c, &["ZADD", "z", "1", "a", "2", "b"]).await, ":2\r\n");
    assert_eq!(call(&mut c, &["ZADD", "z", "CH", "5", "a", "2", "b", "3", "c"]).await, ":2\r\n");
    assert_eq!(call(&mut c, &["ZADD", "z", "GT", "CH", "1", "a", "9", "b"]).await, ":1\r\n");
    assert_eq!(call(&mut c, &["ZADD", "z", "INCR", "0.5", "a"]).await, "$3\r\n5.5\r\n");
    assert_eq!(call(&mut c, &["ZADD", "z", "NX", "INCR", "1", "a"]).await, "$-1\r\n");
    assert_eq!(call(&mut c, &["ZADD", "z", "NX", "XX", "1", "a"]).await, "-ERR XX and NX options at the same time are not compatible\r\n");
    assert_eq!(call(&mut c, &["ZADD", "z", "LT", "GT", "1", "a"]).await, "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n");
    assert_eq!(call(&mut c, &["ZADD", "z", "INCR", "1", "a", "1", "b"]).await, "-ERR INCR option supports a single increment-element pair\r\n");
    assert_eq!(call(&mut c, &["ZADD", "z", "x", "a"]).await, "-ERR value is not a valid float\r\n");
    call(&mut c, &["ZADD", "inf", "inf", "m"]).await;
    assert_eq!(call(&mut c, &["ZINCRBY", "inf", "-inf", "m"]).await, "-ERR resulting score is not a number (NaN)\r\n");
    assert_eq!(call(&mut c, &["ZADD", "none", "XX", "1", "a"]).await, ":0\r\n");
    assert_eq!(call(&mut c, &["EXISTS", "none"]).await, ":0\r\n");
}

#[tokio::test]
async fn scores_are_printed_as_redis_7_4_does() {
    let server = common::start().await;
    let mut c = server.raw().await;
    call(&mut c, &["ZADD", "z", "0.1", "a", "1e-7", "b", "1e20", "c", "123456789012345678", "d"]).await;
    assert_eq!(call(&mut c, &["ZSCORE", "z", "a"]).await, "$3\r\n0.1\r\n");
    assert_eq!(call(&mut c, &["ZSCORE", "z", "b"]).await, "$4\r\n1e-7\r\n");
    assert_eq!(call(&mut c, &["ZSCORE", "z", "c"]).await, "$5\r\n1e+20\r\n");
    assert_eq!(call(&mut c, &["ZSCORE", "z", "d"]).await, "$18\r\n123456789012345680\r\n");
    assert_eq!(call(&mut c, &["ZINCRBY", "z", "0.2", "a"]).await, "$19\r\n0.30000000000000004\r\n");
    // A small set reads -0 back as 0 (listpack); a large one keeps the sign (skiplist).
    call(&mut c, &["ZADD", "z", "-0", "zero"]).await;
    assert_eq!(call(&mut c, &["ZSCORE", "z", "zero"]).await, "$1\r\n0\r\n");
    call(&mut c, &["CONFIG", "SET", "zset-max-listpack-entries", "0"]).await;
    call(&mut c, &["ZADD", "big", "-0", "zero"]).await;
    assert_eq!(call(&mut c, &["ZSCORE", "big", "zero"]).await, "$2\r\n-0\r\n");
}

#[tokio::test]
async fn resp3_replies_doubles_and_score_pairs() {
    let server = common::start().await;
    let mut c = server.raw().await;
    call(&mut c, &["HELLO", "3"]).await;
    call(&mut c, &["ZADD", "z", "1", "a", "2.5", "b", "3", "c"]).await;
    assert_eq!(call(&mut c, &["ZSCORE", "z", "b"]).await, ",2.5\r\n");
    assert_eq!(call(&mut c, &["ZMSCORE", "z", "a", "x"]).await, "*2\r\n,1\r\n_\r\n");
    assert_eq!(call(&mut c, &["ZRANGE", "z", "0", "1", "WITHSCORES"]).await, "*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n");
    assert_eq!(call(&mut c, &["ZRANK", "z", "b", "WITHSCORE"]).await, "*2\r\n:1\r\n,2.5\r\n");
    assert_eq!(call(&mut c, &["ZRANK", "z", "x", "WITHSCORE"]).await, "_\r\n");
    assert_eq!(call(&mut c, &["ZPOPMIN", "z"]).await, "*2\r\n$1\r\na\r\n,1\r\n");
    assert_eq!(call(&mut c, &["ZPOPMAX", "z", "1"]).await, "*1\r\n*2\r\n$1\r\nc\r\n,3\r\n");
    assert_eq!(call(&mut c, &["ZRANDMEMBER", "z", "1", "WITHSCORES"]).await, "*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n");
    assert_eq!(call(&mut c, &["ZSCAN", "z", "0"]).await, "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nb\r\n$3\r\n2.5\r\n");
    assert_eq!(call(&mut c, &["ZADD", "z", "INCR", "1", "b"]).await, ",3.5\r\n");
}

#[tokio::test]
async fn resp2_withscores_is_a_flat_array_and_zmpop_nests_pairs() {
    let server = common::start().await;
    let mut c = server.raw().await;
    call(&mut c, &["ZADD", "z", "1", "a", "2", "b"]).await;
    assert_eq!(call(&mut c, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]).await, "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(call(&mut c, &["ZRANK", "z", "b", "WITHSCORE"]).await, "*2\r\n:1\r\n$1\r\n2\r\n");
    assert_eq!(call(&mut c, &["ZMPOP", "1", "z", "MAX"]).await, "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
}

#[tokio::test]
async fn range_forms_select_by_rank_score_and_lex() {
    let server = common::start().await;
    let mut c = server.raw().await;
    call(&mut c, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]).await;
    assert_eq!(call(&mut c, &["ZRANGE", "z", "(1", "3", "BYSCORE"]).await, "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(call(&mut c, &["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2"]).await, "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(call(&mut c, &["ZREVRANGE", "z", "0", "0"]).await, "*1\r\n$1\r\nd\r\n");
    assert_eq!(call(&mut c, &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]).await, "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n");
    assert_eq!(call(&mut c, &["ZRANGE", "z", "a", "b", "BYSCORE"]).await, "-ERR min or max is not a float\r\n");
    call(&mut c, &["ZADD", "l", "0", "a", "0", "b", "0", "c"]).await;
    assert_eq!(call(&mut c, &["ZRANGEBYLEX", "l", "(a", "+"]).await, "*2\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(call(&mut c, &["ZLEXCOUNT", "l", "a", "+"]).await, "-ERR min or max not valid string range item\r\n");
    assert_eq!(call(&mut c, &["ZRANGESTORE", "dst", "z", "2", "+inf", "BYSCORE"]).await, ":3\r\n");
    assert_eq!(call(&mut c, &["ZREMRANGEBYSCORE", "dst", "-inf", "+inf"]).await, ":3\r\n");
    assert_eq!(call(&mut c, &["EXISTS", "dst"]).await, ":0\r\n");
}

#[tokio::test]
async fn encoding_follows_the_listpack_thresholds_and_never_goes_back() {
    let server = common::start().await;
    let mut c = server.raw().await;
    call(&mut c, &["CONFIG", "SET", "zset-max-ziplist-entries", "2"]).await;
    assert_eq!(call(&mut c, &["CONFIG", "GET", "zset-max-listpack-entries"]).await, "*2\r\n$25\r\nzset-max-listpack-entries\r\n$1\r\n2\r\n");
    call(&mut c, &["ZADD", "z", "1", "a", "2", "b"]).await;
    assert_eq!(call(&mut c, &["OBJECT", "ENCODING", "z"]).await, "$8\r\nlistpack\r\n");
    call(&mut c, &["ZADD", "z", "3", "c"]).await;
    assert_eq!(call(&mut c, &["OBJECT", "ENCODING", "z"]).await, "$8\r\nskiplist\r\n");
    call(&mut c, &["ZREM", "z", "c", "b"]).await;
    assert_eq!(call(&mut c, &["OBJECT", "ENCODING", "z"]).await, "$8\r\nskiplist\r\n");
    call(&mut c, &["CONFIG", "SET", "zset-max-listpack-value", "3"]).await;
    call(&mut c, &["ZADD", "long", "1", "abcd"]).await;
    assert_eq!(call(&mut c, &["OBJECT", "ENCODING", "long"]).await, "$8\r\nskiplist\r\n");
    // A store result takes the encoding its size calls for.
    call(&mut c, &["ZUNIONSTORE", "u", "1", "z"]).await;
    assert_eq!(call(&mut c, &["OBJECT", "ENCODING", "u"]).await, "$8\r\nlistpack\r\n");
}

#[tokio::test]
async fn key_commands_see_sorted_sets() {
    let server = common::start().await;
    let mut c = server.raw().await;
    call(&mut c, &["ZADD", "z", "1", "a"]).await;
    assert_eq!(call(&mut c, &["TYPE", "z"]).await, "+zset\r\n");
    assert_eq!(call(&mut c, &["COPY", "z", "z2"]).await, ":1\r\n");
    call(&mut c, &["ZADD", "z2", "2", "b"]).await;
    assert_eq!(call(&mut c, &["ZCARD", "z"]).await, ":1\r\n");
    assert_eq!(call(&mut c, &["RENAME", "z2", "z3"]).await, "+OK\r\n");
    assert_eq!(call(&mut c, &["SCAN", "0", "TYPE", "zset", "MATCH", "z3"]).await, "*2\r\n$1\r\n0\r\n*1\r\n$2\r\nz3\r\n");
    assert_eq!(call(&mut c, &["LPUSH", "z3", "x"]).await, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
}

#[tokio::test]
async fn writes_raise_redis_keyspace_events() {
    let server = common::start().await;
    server.shared.config.write().set("notify-keyspace-events", "Kzg").unwrap();
    let mut listener = server.raw().await;
    listener.call(&[b"PSUBSCRIBE", b"__keyspace@0__:*"]).await;
    let mut c = server.raw().await;
    for args in [
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"][..],
        &["ZINCRBY", "z", "1", "a"],
        &["ZREM", "z", "a"],
        &["ZREMRANGEBYSCORE", "z", "2", "2"],
        &["ZPOPMAX", "z"],
        &["ZUNIONSTORE", "u", "1", "nokey"],
        &["ZADD", "s", "1", "x"],
        &["ZINTERSTORE", "u", "1", "s"],
    ] {
        call(&mut c, args).await;
    }
    let mut events = Vec::new();
    for _ in 0..8 {
        let frame = String::from_utf8_lossy(&listener.read_reply().await.unwrap()).into_owned();
        let event = frame.trim_end().rsplit("\r\n").next().unwrap().to_string();
        events.push(event);
    }
    assert_eq!(events, ["zadd", "zincr", "zrem", "zremrangebyscore", "zpopmax", "del", "zadd", "zinterstore"]);
}
