//! Pub/Sub over raw sockets: the exact bytes of confirmations, messages and errors in RESP2
//! and RESP3, subscribed-mode gating, PUBSUB introspection and cleanup on disconnect.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod common;

use common::RawClient;

/// A RESP2 array (or with `push`, a RESP3 push) of bulk strings and a trailing integer.
fn frame(push: bool, words: &[&[u8]], count: Option<i64>) -> Vec<u8> {
    let n = words.len() + usize::from(count.is_some());
    let mut out = format!("{}{}\r\n", if push { '>' } else { '*' }, n).into_bytes();
    for word in words {
        out.extend_from_slice(format!("${}\r\n", word.len()).as_bytes());
        out.extend_from_slice(word);
        out.extend_from_slice(b"\r\n");
    }
    if let Some(count) = count {
        out.extend_from_slice(format!(":{count}\r\n").as_bytes());
    }
    out
}

async fn resp3(raw: &mut RawClient) {
    let hello = raw.call(&[b"HELLO", b"3"]).await;
    assert_eq!(hello[0], b'%');
}

#[tokio::test]
async fn subscribe_confirms_each_channel_with_a_running_count() {
    let server = common::start().await;
    let mut sub = server.raw().await;
    sub.send_command(&[b"SUBSCRIBE", b"a", b"b", b"a"]).await;
    assert_eq!(sub.read_reply().await.unwrap(), frame(false, &[b"subscribe", b"a"], Some(1)));
    assert_eq!(sub.read_reply().await.unwrap(), frame(false, &[b"subscribe", b"b"], Some(2)));
    assert_eq!(sub.read_reply().await.unwrap(), frame(false, &[b"subscribe", b"a"], Some(2)));
    sub.send_command(&[b"PSUBSCRIBE", b"n.*"]).await;
    assert_eq!(sub.read_reply().await.unwrap(), frame(false, &[b"psubscribe", b"n.*"], Some(3)));
    // Shard subscriptions are counted on their own.
    sub.send_command(&[b"SSUBSCRIBE", b"s"]).await;
    assert_eq!(sub.read_reply().await.unwrap(), frame(false, &[b"ssubscribe", b"s"], Some(1)));
}

#[tokio::test]
async fn unsubscribe_without_subscriptions_replies_with_a_nil_channel() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"UNSUBSCRIBE"]).await, b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
    assert_eq!(raw.call(&[b"PUNSUBSCRIBE"]).await, b"*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n");
    assert_eq!(raw.call(&[b"SUNSUBSCRIBE"]).await, b"*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n");
    resp3(&mut raw).await;
    assert_eq!(raw.call(&[b"UNSUBSCRIBE"]).await, b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
}

#[tokio::test]
async fn unsubscribe_without_arguments_leaves_every_channel_in_subscription_order() {
    let server = common::start().await;
    let mut sub = server.raw().await;
    sub.send_command(&[b"SUBSCRIBE", b"x", b"y"]).await;
    sub.read_reply().await.unwrap();
    sub.read_reply().await.unwrap();
    sub.send_command(&[b"UNSUBSCRIBE"]).await;
    assert_eq!(sub.read_reply().await.unwrap(), frame(false, &[b"unsubscribe", b"x"], Some(1)));
    assert_eq!(sub.read_reply().await.unwrap(), frame(false, &[b"unsubscribe", b"y"], Some(0)));
    // Out of subscribed mode: ordinary commands work again.
    assert_eq!(sub.call(&[b"PING"]).await, b"+PONG\r\n");
}

#[tokio::test]
async fn a_resp2_subscriber_may_only_run_subscription_commands_ping_quit_and_reset() {
    let server = common::start().await;
    let mut sub = server.raw().await;
    sub.call(&[b"SUBSCRIBE", b"ch"]).await;
    assert_eq!(
        sub.call(&[b"GET", b"k"]).await,
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n".to_vec()
    );
    assert_eq!(sub.call(&[b"PING"]).await, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(sub.call(&[b"PING", b"hi"]).await, b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n");
    // Unknown commands and bad arity are still reported as such.
    assert_eq!(sub.call(&[b"NOPE"]).await, b"-ERR unknown command 'NOPE', with args beginning with: \r\n");
    assert_eq!(sub.call(&[b"QUIT"]).await, b"+OK\r\n");
    assert!(sub.is_closed().await);
}

#[tokio::test]
async fn a_resp3_subscriber_can_run_any_command() {
    let server = common::start().await;
    let mut sub = server.raw().await;
    resp3(&mut sub).await;
    assert_eq!(sub.call(&[b"SUBSCRIBE", b"ch"]).await, frame(true, &[b"subscribe", b"ch"], Some(1)));
    assert_eq!(sub.call(&[b"SET", b"k", b"v"]).await, b"+OK\r\n");
    assert_eq!(sub.call(&[b"GET", b"k"]).await, b"$1\r\nv\r\n");
    assert_eq!(sub.call(&[b"PING"]).await, b"+PONG\r\n");
}

#[tokio::test]
async fn publish_reaches_channel_and_pattern_subscribers_and_counts_them() {
    let server = common::start().await;
    let mut chan = server.raw().await;
    let mut pat = server.raw().await;
    let mut publisher = server.raw().await;
    chan.call(&[b"SUBSCRIBE", b"news.tech"]).await;
    pat.call(&[b"PSUBSCRIBE", b"news.*"]).await;
    pat.call(&[b"PSUBSCRIBE", b"*.tech"]).await;
    assert_eq!(publisher.call(&[b"PUBLISH", b"news.tech", b"hello"]).await, b":3\r\n");
    assert_eq!(publisher.call(&[b"PUBLISH", b"nobody", b"x"]).await, b":0\r\n");
    assert_eq!(chan.read_reply().await.unwrap(), frame(false, &[b"message", b"news.tech", b"hello"], None));
    let mut got = vec![pat.read_reply().await.unwrap(), pat.read_reply().await.unwrap()];
    got.sort();
    let mut want = vec![
        frame(false, &[b"pmessage", b"news.*", b"news.tech", b"hello"], None),
        frame(false, &[b"pmessage", b"*.tech", b"news.tech", b"hello"], None),
    ];
    want.sort();
    assert_eq!(got, want);
    // Nothing else was queued: the next thing each subscriber reads is its PING reply.
    assert_eq!(chan.call(&[b"PING"]).await, b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[tokio::test]
async fn messages_from_one_publisher_arrive_in_publish_order() {
    let server = common::start().await;
    let mut sub = server.raw().await;
    let mut publisher = server.raw().await;
    sub.call(&[b"SUBSCRIBE", b"seq"]).await;
    let mut pipeline = Vec::new();
    for i in 0..500 {
        pipeline.extend(common::encode_command(&[b"PUBLISH", b"seq", i.to_string().as_bytes()]));
    }
    publisher.send(&pipeline).await;
    for _ in 0..500 {
        assert_eq!(publisher.read_reply().await.unwrap(), b":1\r\n");
    }
    for i in 0..500 {
        let expected = frame(false, &[b"message", b"seq", i.to_string().as_bytes()], None);
        assert_eq!(sub.read_reply().await.unwrap(), expected);
    }
}

#[tokio::test]
async fn resp3_subscribers_receive_push_frames() {
    let server = common::start().await;
    let mut sub = server.raw().await;
    let mut publisher = server.raw().await;
    resp3(&mut sub).await;
    sub.call(&[b"SUBSCRIBE", b"c"]).await;
    sub.call(&[b"PSUBSCRIBE", b"c*"]).await;
    sub.call(&[b"SSUBSCRIBE", b"s"]).await;
    assert_eq!(publisher.call(&[b"PUBLISH", b"c", b"m"]).await, b":2\r\n");
    assert_eq!(publisher.call(&[b"SPUBLISH", b"s", b"m2"]).await, b":1\r\n");
    assert_eq!(sub.read_reply().await.unwrap(), frame(true, &[b"message", b"c", b"m"], None));
    assert_eq!(sub.read_reply().await.unwrap(), frame(true, &[b"pmessage", b"c*", b"c", b"m"], None));
    assert_eq!(sub.read_reply().await.unwrap(), frame(true, &[b"smessage", b"s", b"m2"], None));
}

#[tokio::test]
async fn a_resp3_client_publishing_to_itself_gets_the_reply_before_the_push() {
    // Redis 7.4 (checked against 8.2) writes the command's reply first, then the pushes the
    // command caused for the same client; 7.0 did it the other way round.
    let server = common::start().await;
    let mut me = server.raw().await;
    resp3(&mut me).await;
    me.call(&[b"SUBSCRIBE", b"ch"]).await;
    me.call(&[b"PSUBSCRIBE", b"c*"]).await;
    let mut pipeline = common::encode_command(&[b"PUBLISH", b"ch", b"x"]);
    pipeline.extend(common::encode_command(&[b"PING"]));
    me.send(&pipeline).await;
    assert_eq!(me.read_reply().await.unwrap(), b":2\r\n");
    assert_eq!(me.read_reply().await.unwrap(), frame(true, &[b"message", b"ch", b"x"], None));
    assert_eq!(me.read_reply().await.unwrap(), frame(true, &[b"pmessage", b"c*", b"ch", b"x"], None));
    assert_eq!(me.read_reply().await.unwrap(), b"+PONG\r\n");
}

#[tokio::test]
async fn pubsub_introspection_reports_channels_patterns_and_counts() {
    let server = common::start().await;
    let mut a = server.raw().await;
    let mut b = server.raw().await;
    let mut admin = server.raw().await;
    a.send_command(&[b"SUBSCRIBE", b"news", b"sport"]).await;
    a.read_reply().await.unwrap();
    a.read_reply().await.unwrap();
    b.call(&[b"SUBSCRIBE", b"news"]).await;
    b.call(&[b"PSUBSCRIBE", b"n*"]).await;
    a.call(&[b"PSUBSCRIBE", b"n*"]).await;
    b.call(&[b"SSUBSCRIBE", b"shard1"]).await;
    assert_eq!(admin.call(&[b"PUBSUB", b"CHANNELS"]).await, b"*2\r\n$4\r\nnews\r\n$5\r\nsport\r\n");
    assert_eq!(admin.call(&[b"PUBSUB", b"CHANNELS", b"s*"]).await, b"*1\r\n$5\r\nsport\r\n");
    assert_eq!(admin.call(&[b"PUBSUB", b"NUMSUB", b"news", b"sport", b"none"]).await, b"*6\r\n$4\r\nnews\r\n:2\r\n$5\r\nsport\r\n:1\r\n$4\r\nnone\r\n:0\r\n");
    assert_eq!(admin.call(&[b"PUBSUB", b"NUMPAT"]).await, b":1\r\n");
    assert_eq!(admin.call(&[b"PUBSUB", b"SHARDCHANNELS"]).await, b"*1\r\n$6\r\nshard1\r\n");
    assert_eq!(admin.call(&[b"PUBSUB", b"SHARDNUMSUB", b"shard1"]).await, b"*2\r\n$6\r\nshard1\r\n:1\r\n");
    assert_eq!(
        admin.call(&[b"PUBSUB", b"CHANNELS", b"a", b"b"]).await,
        b"-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.\r\n".to_vec()
    );
    assert_eq!(server.shared.pubsub.channel_count(), 2);
    assert_eq!(server.shared.pubsub.pattern_count(), 1);
    assert_eq!(server.shared.pubsub.shard_channel_count(), 1);
}

#[tokio::test]
async fn client_info_shows_subscription_counts() {
    let server = common::start().await;
    let mut sub = server.raw().await;
    sub.send_command(&[b"SUBSCRIBE", b"a", b"b"]).await;
    sub.read_reply().await.unwrap();
    sub.read_reply().await.unwrap();
    sub.call(&[b"PSUBSCRIBE", b"p*"]).await;
    sub.call(&[b"SSUBSCRIBE", b"s"]).await;
    let handle = server.shared.clients.all().into_iter().next().unwrap();
    let info = handle.info.lock().clone();
    assert_eq!((info.sub, info.psub, info.ssub), (2, 1, 1));
}

#[tokio::test]
async fn disconnecting_removes_every_subscription() {
    let server = common::start().await;
    let mut sub = server.raw().await;
    sub.call(&[b"SUBSCRIBE", b"gone"]).await;
    sub.call(&[b"PSUBSCRIBE", b"g*"]).await;
    let mut publisher = server.raw().await;
    assert_eq!(publisher.call(&[b"PUBLISH", b"gone", b"x"]).await, b":2\r\n");
    drop(sub);
    // The server notices the close asynchronously; poll (bounded) until it has.
    let mut count = Vec::new();
    for _ in 0..500 {
        count = publisher.call(&[b"PUBLISH", b"gone", b"x"]).await;
        if count == b":0\r\n" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    assert_eq!(count, b":0\r\n");
    assert_eq!(publisher.call(&[b"PUBSUB", b"NUMPAT"]).await, b":0\r\n");
}

#[tokio::test]
async fn reset_leaves_every_subscription_and_subscribed_mode() {
    let server = common::start().await;
    let mut sub = server.raw().await;
    sub.call(&[b"SUBSCRIBE", b"ch"]).await;
    sub.call(&[b"PSUBSCRIBE", b"c*"]).await;
    sub.call(&[b"SSUBSCRIBE", b"s"]).await;
    assert_eq!(sub.call(&[b"RESET"]).await, b"+RESET\r\n");
    assert_eq!(sub.call(&[b"GET", b"k"]).await, b"$-1\r\n");
    let mut publisher = server.raw().await;
    assert_eq!(publisher.call(&[b"PUBLISH", b"ch", b"x"]).await, b":0\r\n");
    assert_eq!(publisher.call(&[b"SPUBLISH", b"s", b"x"]).await, b":0\r\n");
    assert_eq!(publisher.call(&[b"PUBSUB", b"NUMPAT"]).await, b":0\r\n");
}

#[tokio::test]
async fn a_subscriber_that_switches_to_resp3_gets_push_frames_from_then_on() {
    let server = common::start().await;
    let mut sub = server.raw().await;
    let mut publisher = server.raw().await;
    // HELLO is not allowed in RESP2 subscribed mode, so switch first, then subscribe and
    // switch back: messages follow the protocol the client speaks when they are published.
    assert_eq!(sub.call(&[b"HELLO", b"3"]).await[0], b'%');
    sub.call(&[b"SUBSCRIBE", b"ch"]).await;
    publisher.call(&[b"PUBLISH", b"ch", b"one"]).await;
    assert_eq!(sub.read_reply().await.unwrap(), frame(true, &[b"message", b"ch", b"one"], None));
    assert_eq!(sub.call(&[b"HELLO", b"2"]).await[0], b'*');
    publisher.call(&[b"PUBLISH", b"ch", b"two"]).await;
    assert_eq!(sub.read_reply().await.unwrap(), frame(false, &[b"message", b"ch", b"two"], None));
}
