//! Keyspace notifications: `notify-keyspace-events` decides which events reach
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`, one test per class.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod common;

use common::{RawClient, TestServer};
use herald::keyspace::{StringValue, Value};

fn message(channel: &str, payload: &str) -> Vec<u8> {
    format!("*3\r\n$7\r\nmessage\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n", channel.len(), payload.len()).into_bytes()
}

fn pmessage(pattern: &str, channel: &str, payload: &str) -> Vec<u8> {
    format!(
        "*4\r\n$8\r\npmessage\r\n${}\r\n{pattern}\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        pattern.len(),
        channel.len(),
        payload.len()
    )
    .into_bytes()
}

/// A server with `flags`, and a RESP2 client subscribed to every notification channel.
async fn listening(flags: &str) -> (TestServer, RawClient) {
    let server = common::start().await;
    server.shared.config.write().set("notify-keyspace-events", flags).unwrap();
    let mut listener = server.raw().await;
    listener.call(&[b"PSUBSCRIBE", b"__key*__:*"]).await;
    (server, listener)
}

/// Raises an event the way a command does, then lets the connection layer publish it.
fn raise(server: &TestServer, class: char, event: &'static str, key: &[u8]) {
    let mut keyspace = server.shared.keyspace.lock();
    keyspace.notify(0, class, event, key);
    herald::connection::publish_events(&server.shared, &mut keyspace);
}

/// Asserts the listener got exactly `expected` and nothing else (its PING reply comes next).
async fn expect_only(listener: &mut RawClient, expected: &[Vec<u8>]) {
    for frame in expected {
        assert_eq!(String::from_utf8_lossy(&listener.read_reply().await.unwrap()), String::from_utf8_lossy(frame));
    }
    assert_eq!(listener.call(&[b"PING"]).await, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

fn both(event: &str, key: &str) -> Vec<Vec<u8>> {
    vec![
        pmessage("__key*__:*", &format!("__keyspace@0__:{key}"), event),
        pmessage("__key*__:*", &format!("__keyevent@0__:{event}"), key),
    ]
}

#[tokio::test]
async fn string_commands_notify_under_the_dollar_class() {
    let (server, mut listener) = listening("K$").await;
    let mut client = server.raw().await;
    client.call(&[b"SET", b"k", b"v"]).await;
    expect_only(&mut listener, &[pmessage("__key*__:*", "__keyspace@0__:k", "set")]).await;
}

#[tokio::test]
async fn generic_commands_notify_under_g_on_keyevent_channels() {
    let (server, mut listener) = listening("Eg").await;
    let mut client = server.raw().await;
    client.call(&[b"SET", b"k", b"v"]).await;
    client.call(&[b"DEL", b"k"]).await;
    expect_only(&mut listener, &[pmessage("__key*__:*", "__keyevent@0__:del", "k")]).await;
}

#[tokio::test]
async fn a_key_found_expired_notifies_under_x() {
    let (server, mut listener) = listening("KEx").await;
    {
        let mut keyspace = server.shared.keyspace.lock();
        keyspace.db(0).insert(b"old", Value::String(StringValue::from_bytes(b"v")), Some(1), 0);
    }
    let mut client = server.raw().await;
    assert_eq!(client.call(&[b"GET", b"old"]).await, b"$-1\r\n");
    expect_only(&mut listener, &both("expired", "old")).await;
}

#[tokio::test]
async fn every_class_letter_selects_its_own_events() {
    // Classes whose commands other modules provide are raised directly, as those commands do.
    for (letter, event) in [('l', "lpush"), ('s', "sadd"), ('h', "hset"), ('z', "zadd"), ('t', "xadd"), ('e', "evicted"), ('d', "module"), ('n', "new"), ('m', "keymiss")] {
        let flags = format!("KE{letter}");
        let (server, mut listener) = listening(&flags).await;
        // One event of another class first: it must not be published.
        let other = if letter == 'g' { '$' } else { 'g' };
        raise(&server, other, "other", b"k");
        raise(&server, letter, event, b"k");
        expect_only(&mut listener, &both(event, "k")).await;
    }
}

#[tokio::test]
async fn a_covers_the_classic_classes_but_not_new_or_miss_events() {
    let (server, mut listener) = listening("AK").await;
    raise(&server, 'n', "new", b"k");
    raise(&server, 'm', "keymiss", b"k");
    raise(&server, 'l', "rpush", b"k");
    expect_only(&mut listener, &[pmessage("__key*__:*", "__keyspace@0__:k", "rpush")]).await;
}

#[tokio::test]
async fn without_k_or_e_nothing_is_published() {
    let (server, mut listener) = listening("A").await;
    let mut client = server.raw().await;
    client.call(&[b"SET", b"k", b"v"]).await;
    client.call(&[b"DEL", b"k"]).await;
    expect_only(&mut listener, &[]).await;
}

#[tokio::test]
async fn notifications_name_the_database_and_reach_exact_channel_subscribers() {
    let server = common::start().await;
    server.shared.config.write().set("notify-keyspace-events", "KE$").unwrap();
    let mut listener = server.raw().await;
    listener.call(&[b"SUBSCRIBE", b"__keyevent@0__:set"]).await;
    let mut client = server.raw().await;
    client.call(&[b"SET", b"a", b"1"]).await;
    {
        let mut keyspace = server.shared.keyspace.lock();
        keyspace.notify(3, '$', "set", b"elsewhere");
        herald::connection::publish_events(&server.shared, &mut keyspace);
    }
    client.call(&[b"SET", b"b", b"2"]).await;
    expect_only(&mut listener, &[message("__keyevent@0__:set", "a"), message("__keyevent@0__:set", "b")]).await;
}

#[tokio::test]
async fn a_resp3_client_gets_its_own_notification_after_the_reply() {
    // Redis 7.4 semantics (checked on 8.2): `SET` replies `+OK`, then the push it caused.
    let server = common::start().await;
    server.shared.config.write().set("notify-keyspace-events", "K$").unwrap();
    let mut me = server.raw().await;
    assert_eq!(me.call(&[b"HELLO", b"3"]).await[0], b'%');
    me.call(&[b"SUBSCRIBE", b"__keyspace@0__:k"]).await;
    let mut pipeline = common::encode_command(&[b"SET", b"k", b"v"]);
    pipeline.extend(common::encode_command(&[b"GET", b"k"]));
    me.send(&pipeline).await;
    assert_eq!(me.read_reply().await.unwrap(), b"+OK\r\n");
    assert_eq!(me.read_reply().await.unwrap(), b">3\r\n$7\r\nmessage\r\n$16\r\n__keyspace@0__:k\r\n$3\r\nset\r\n");
    assert_eq!(me.read_reply().await.unwrap(), b"$1\r\nv\r\n");
}
