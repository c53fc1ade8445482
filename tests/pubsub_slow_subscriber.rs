//! `client-output-buffer-limit pubsub`: a subscriber that stops reading is disconnected once
//! its pending output passes the limit, while the publisher and the other subscribers carry on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod common;

use herald::config::BufferLimit;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

const MESSAGES: usize = 16_000;
const PAYLOAD: usize = 1000;
/// Publishes per pipelined batch: far below the limit, so a subscriber that reads keeps up.
const BATCH: usize = 16;

#[tokio::test]
async fn a_stalled_subscriber_is_dropped_while_another_receives_every_message() {
    let server = common::start().await;
    let mut admin = server.raw().await;
    // Small enough that the stalled client overflows soon, large enough for a reading one.
    assert_eq!(admin.call(&[b"CONFIG", b"SET", b"client-output-buffer-limit", b"pubsub 256kb 0 0"]).await.first(), Some(&b'+'));
    assert_eq!(server.shared.config.read().client_output_buffer_limit.pubsub, BufferLimit { hard: 256 * 1024, soft: 0, soft_seconds: 0 });

    // The stalled subscriber: a tiny receive window, subscribes, then never reads again.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(server.addr).await.unwrap();
    stalled.write_all(&common::encode_command(&[b"SUBSCRIBE", b"feed"])).await.unwrap();

    let mut reader = server.raw().await;
    reader.call(&[b"SUBSCRIBE", b"feed"]).await;
    // Wait (bounded) until both subscriptions are in place.
    for _ in 0..1000 {
        if admin.call(&[b"PUBSUB", b"NUMSUB", b"feed"]).await.ends_with(b":2\r\n") {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(admin.call(&[b"PUBSUB", b"NUMSUB", b"feed"]).await.ends_with(b":2\r\n"));

    let receiving = tokio::spawn(async move {
        let mut seen = 0usize;
        while seen < MESSAGES {
            let frame = reader.read_reply().await.expect("the reading subscriber was dropped");
            let expected_tail = format!("{seen:0>width$}\r\n", width = PAYLOAD);
            assert!(frame.ends_with(expected_tail.as_bytes()), "message {seen} out of order");
            seen += 1;
        }
        seen
    });

    let mut publisher = server.raw().await;
    let mut receivers_seen = Vec::new();
    for start in (0..MESSAGES).step_by(BATCH) {
        let mut pipeline = Vec::new();
        for i in start..(start + BATCH).min(MESSAGES) {
            let payload = format!("{i:0>width$}", width = PAYLOAD);
            pipeline.extend(common::encode_command(&[b"PUBLISH", b"feed", payload.as_bytes()]));
        }
        publisher.send(&pipeline).await;
        for _ in start..(start + BATCH).min(MESSAGES) {
            receivers_seen.push(publisher.read_reply().await.unwrap());
        }
    }
    assert_eq!(receivers_seen.first().map(Vec::as_slice), Some(&b":2\r\n"[..]));
    assert_eq!(receivers_seen.last().map(Vec::as_slice), Some(&b":1\r\n"[..]), "the stalled subscriber is gone by the end");
    assert_eq!(receiving.await.unwrap(), MESSAGES);
    assert_eq!(server.shared.stats.client_output_buffer_limit_disconnections.load(Ordering::Relaxed), 1);

    // The stalled socket ends after the bytes the kernel had already buffered for it.
    let mut rest = Vec::new();
    let _ = stalled.read_to_end(&mut rest).await;
    assert!(rest.len() < MESSAGES * PAYLOAD);
}
