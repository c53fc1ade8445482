//! Pub/Sub through the `redis` crate: its async PubSub connection (RESP2) and RESP3 push
//! messages on a multiplexed connection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod common;

use futures_util::StreamExt;
use redis::{AsyncCommands, PushKind, Value};

#[tokio::test]
async fn the_redis_crate_pubsub_receives_channel_and_pattern_messages() {
    let server = common::start().await;
    let client = redis::Client::open(format!("redis://{}/", server.addr)).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe("orders").await.unwrap();
    pubsub.psubscribe("orders.*").await.unwrap();
    let mut publisher = server.client().await;
    let receivers: i64 = publisher.publish("orders", "first").await.unwrap();
    assert_eq!(receivers, 1);
    let receivers: i64 = publisher.publish("orders.eu", "second").await.unwrap();
    assert_eq!(receivers, 1);
    let mut messages = pubsub.on_message();
    let first = messages.next().await.unwrap();
    assert_eq!((first.get_channel_name(), first.get_payload::<String>().unwrap()), ("orders", "first".to_string()));
    assert!(!first.from_pattern());
    let second = messages.next().await.unwrap();
    assert_eq!(second.get_channel_name(), "orders.eu");
    assert_eq!(second.get_pattern::<String>().unwrap(), "orders.*");
    assert_eq!(second.get_payload::<String>().unwrap(), "second");
}

#[tokio::test]
async fn the_redis_crate_can_unsubscribe_and_stop_receiving() {
    let server = common::start().await;
    let client = redis::Client::open(format!("redis://{}/", server.addr)).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe("a").await.unwrap();
    pubsub.subscribe("b").await.unwrap();
    pubsub.unsubscribe("a").await.unwrap();
    let mut publisher = server.client().await;
    let to_a: i64 = publisher.publish("a", "lost").await.unwrap();
    let to_b: i64 = publisher.publish("b", "kept").await.unwrap();
    assert_eq!((to_a, to_b), (0, 1));
    let message = pubsub.on_message().next().await.unwrap();
    assert_eq!(message.get_payload::<String>().unwrap(), "kept");
}

#[tokio::test]
async fn resp3_messages_arrive_as_push_frames_while_commands_keep_working() {
    let server = common::start().await;
    let client = redis::Client::open(format!("redis://{}/?protocol=resp3", server.addr)).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let config = redis::AsyncConnectionConfig::new().set_push_sender(tx);
    let mut conn = client.get_multiplexed_async_connection_with_config(&config).await.unwrap();
    conn.subscribe("ticks").await.unwrap();
    // A subscribed RESP3 connection still runs ordinary commands.
    let _: () = conn.set("k", "v").await.unwrap();
    let value: String = conn.get("k").await.unwrap();
    assert_eq!(value, "v");
    let mut publisher = server.client().await;
    for i in 0..3 {
        let receivers: i64 = publisher.publish("ticks", i).await.unwrap();
        assert_eq!(receivers, 1);
    }
    let mut payloads = Vec::new();
    while payloads.len() < 3 {
        let push = rx.recv().await.unwrap();
        if push.kind == PushKind::Message {
            assert_eq!(push.data[0], Value::BulkString(b"ticks".to_vec()));
            payloads.push(push.data[1].clone());
        }
    }
    assert_eq!(payloads, vec![Value::BulkString(b"0".to_vec()), Value::BulkString(b"1".to_vec()), Value::BulkString(b"2".to_vec())]);
}
