//! Blocking sorted set pops: BZPOPMIN, BZPOPMAX, BZMPOP, their FIFO fairness and timeouts.
//!
//! A test knows a client is blocked by polling the blocking registry in a bounded loop,
//! never by sleeping; timeouts are short real timeouts that are awaited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::blocking::{reply, wait_blocked};

#[tokio::test]
async fn bzpopmin_times_out_with_a_null_array_in_resp2_and_a_null_in_resp3() {
    let server = common::start().await;
    let mut c = server.raw().await;
    assert_eq!(c.call(&[b"BZPOPMIN", b"empty", b"0.05"]).await, b"*-1\r\n");
    assert_eq!(c.call(&[b"BZMPOP", b"0.05", b"1", b"empty", b"MIN"]).await, b"*-1\r\n");
    c.call(&[b"HELLO", b"3"]).await;
    assert_eq!(c.call(&[b"BZPOPMAX", b"empty", b"0.05"]).await, b"_\r\n");
    assert_eq!(server.shared.keyspace.lock().blocking.blocked_clients(), 0);
}

#[tokio::test]
async fn bzpopmin_returns_at_once_when_a_set_has_members() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"ZADD", b"b", b"2", b"x", b"1.5", b"y"]).await;
    assert_eq!(c.call(&[b"BZPOPMIN", b"a", b"b", b"0"]).await, b"*3\r\n$1\r\nb\r\n$1\r\ny\r\n$3\r\n1.5\r\n");
    c.call(&[b"HELLO", b"3"]).await;
    assert_eq!(c.call(&[b"BZPOPMAX", b"b", b"0"]).await, b"*3\r\n$1\r\nb\r\n$1\r\nx\r\n,2\r\n");
}

#[tokio::test]
async fn bzpopmax_wakes_when_another_client_adds() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    let mut writer = server.raw().await;
    waiter.send_command(&[b"BZPOPMAX", b"board", b"0"]).await;
    wait_blocked(&server, 1).await;
    assert_eq!(writer.call(&[b"ZADD", b"board", b"1", b"low", b"9", b"high"]).await, b":2\r\n");
    assert_eq!(reply(&mut waiter).await, b"*3\r\n$5\r\nboard\r\n$4\r\nhigh\r\n$1\r\n9\r\n");
    assert_eq!(writer.call(&[b"ZRANGE", b"board", b"0", b"-1"]).await, b"*1\r\n$3\r\nlow\r\n");
}

#[tokio::test]
async fn waiters_are_served_in_the_order_they_blocked() {
    let server = common::start().await;
    let mut first = server.raw().await;
    let mut second = server.raw().await;
    let mut writer = server.raw().await;
    first.send_command(&[b"BZPOPMIN", b"q", b"0"]).await;
    wait_blocked(&server, 1).await;
    second.send_command(&[b"BZPOPMIN", b"q", b"0"]).await;
    wait_blocked(&server, 2).await;
    // One member: only the longest waiter gets it; the other keeps waiting.
    writer.call(&[b"ZADD", b"q", b"1", b"a"]).await;
    assert_eq!(reply(&mut first).await, b"*3\r\n$1\r\nq\r\n$1\r\na\r\n$1\r\n1\r\n");
    wait_blocked(&server, 1).await;
    writer.call(&[b"ZADD", b"q", b"2", b"b"]).await;
    assert_eq!(reply(&mut second).await, b"*3\r\n$1\r\nq\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(writer.call(&[b"EXISTS", b"q"]).await, b":0\r\n");
}

#[tokio::test]
async fn bzmpop_wakes_with_up_to_count_members_as_pairs() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    let mut writer = server.raw().await;
    waiter.send_command(&[b"BZMPOP", b"0", b"2", b"x", b"y", b"MIN", b"COUNT", b"2"]).await;
    wait_blocked(&server, 1).await;
    writer.call(&[b"ZADD", b"y", b"3", b"c", b"1", b"a", b"2", b"b"]).await;
    assert_eq!(reply(&mut waiter).await, b"*2\r\n$1\r\ny\r\n*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
}

#[tokio::test]
async fn a_write_of_another_type_does_not_wake_a_sorted_set_waiter() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    let mut writer = server.raw().await;
    waiter.send_command(&[b"BZPOPMIN", b"k", b"0"]).await;
    wait_blocked(&server, 1).await;
    writer.call(&[b"LPUSH", b"k", b"v"]).await;
    assert_eq!(server.shared.keyspace.lock().blocking.blocked_clients(), 1);
    writer.call(&[b"DEL", b"k"]).await;
    writer.call(&[b"ZADD", b"k", b"5", b"m"]).await;
    assert_eq!(reply(&mut waiter).await, b"*3\r\n$1\r\nk\r\n$1\r\nm\r\n$1\r\n5\r\n");
}

#[tokio::test]
async fn zunionstore_into_a_waited_key_wakes_the_waiter() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    let mut writer = server.raw().await;
    writer.call(&[b"ZADD", b"src", b"4", b"m"]).await;
    waiter.send_command(&[b"BZPOPMIN", b"dst", b"0"]).await;
    wait_blocked(&server, 1).await;
    writer.call(&[b"ZUNIONSTORE", b"dst", b"1", b"src"]).await;
    assert_eq!(reply(&mut waiter).await, b"*3\r\n$3\r\ndst\r\n$1\r\nm\r\n$1\r\n4\r\n");
}

#[tokio::test]
async fn bzpopmin_inside_multi_never_blocks() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"MULTI"]).await;
    c.call(&[b"BZPOPMIN", b"none", b"0"]).await;
    assert_eq!(c.call(&[b"EXEC"]).await, b"*1\r\n*-1\r\n");
}

#[tokio::test]
async fn bad_timeouts_are_rejected() {
    let server = common::start().await;
    let mut c = server.raw().await;
    assert_eq!(c.call(&[b"BZPOPMIN", b"k", b"-1"]).await, b"-ERR timeout is negative\r\n");
    assert_eq!(c.call(&[b"BZPOPMIN", b"k", b"x"]).await, b"-ERR timeout is not a float or out of range\r\n");
    assert_eq!(c.call(&[b"BZMPOP", b"0", b"0", b"k", b"MIN"]).await, b"-ERR numkeys should be greater than 0\r\n");
}
