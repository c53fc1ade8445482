//! Blocking XREAD and XREADGROUP: woken by XADD in arrival order, timeouts, and the errors a
//! group reader gets when its group or stream goes away.
//!
//! A test knows a client is blocked by polling the blocking registry in a bounded loop, never
//! by sleeping; timeouts are short real timeouts that are awaited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

#[path = "stream_support.rs"]
mod support;

use support::{call, next_reply, wait_blocked};

fn send(words: &str) -> Vec<Vec<u8>> {
    words.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

async fn send_command(c: &mut support::RawClient, words: &str) {
    let args = send(words);
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    c.send_command(&refs).await;
}

#[tokio::test]
async fn blocking_reads_time_out_with_the_null_of_the_protocol() {
    let server = support::start().await;
    let mut c = server.raw().await;
    call(&mut c, "XGROUP CREATE s g $ MKSTREAM").await;
    assert_eq!(call(&mut c, "XREAD BLOCK 30 STREAMS s $").await, "nil");
    assert_eq!(c.call(&[b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"30", b"STREAMS", b"s", b">"]).await, b"*-1\r\n");
    call(&mut c, "HELLO 3").await;
    assert_eq!(c.call(&[b"XREAD", b"BLOCK", b"30", b"STREAMS", b"s", b"$"]).await, b"_\r\n");
    assert_eq!(server.shared.keyspace.lock().blocking.blocked_clients(), 0);
    assert_eq!(call(&mut c, "XREAD BLOCK -1 STREAMS s $").await, "(error) ERR timeout is negative");
    assert_eq!(call(&mut c, "XREAD BLOCK x STREAMS s $").await, "(error) ERR timeout is not an integer or out of range");
}

#[tokio::test]
async fn xread_block_on_dollar_gets_exactly_the_entries_added_after_it_blocked() {
    let server = support::start().await;
    let mut waiter = server.raw().await;
    let mut writer = server.raw().await;
    call(&mut writer, "XADD s 1-1 old 1").await;
    send_command(&mut waiter, "XREAD BLOCK 0 STREAMS s $").await;
    wait_blocked(&server, 1).await;
    // Both entries of the transaction are there when the waiter is served after EXEC.
    call(&mut writer, "MULTI").await;
    call(&mut writer, "XADD s 2-1 new 1").await;
    call(&mut writer, "XADD s 3-1 new 2").await;
    assert_eq!(call(&mut writer, "EXEC").await, r#"["2-1", "3-1"]"#);
    assert_eq!(next_reply(&mut waiter).await, r#"[["s", [["2-1", ["new", "1"]], ["3-1", ["new", "2"]]]]]"#);
    assert_eq!(server.shared.keyspace.lock().blocking.blocked_clients(), 0);
}

#[tokio::test]
async fn every_blocked_xread_sees_the_same_new_entry() {
    let server = support::start().await;
    let mut a = server.raw().await;
    let mut b = server.raw().await;
    let mut writer = server.raw().await;
    send_command(&mut a, "XREAD BLOCK 0 STREAMS s other 0 0").await;
    send_command(&mut b, "XREAD COUNT 5 BLOCK 0 STREAMS s 0").await;
    wait_blocked(&server, 2).await;
    call(&mut writer, "XADD s 7-0 f v").await;
    assert_eq!(next_reply(&mut a).await, r#"[["s", [["7-0", ["f", "v"]]]]]"#);
    assert_eq!(next_reply(&mut b).await, r#"[["s", [["7-0", ["f", "v"]]]]]"#);
}

#[tokio::test]
async fn blocked_group_readers_are_served_in_arrival_order_one_entry_each() {
    let server = support::start().await;
    let mut first = server.raw().await;
    let mut second = server.raw().await;
    let mut writer = server.raw().await;
    call(&mut writer, "XGROUP CREATE s g $ MKSTREAM").await;
    send_command(&mut first, "XREADGROUP GROUP g one BLOCK 0 STREAMS s >").await;
    wait_blocked(&server, 1).await;
    send_command(&mut second, "XREADGROUP GROUP g two BLOCK 0 STREAMS s >").await;
    wait_blocked(&server, 2).await;
    call(&mut writer, "XADD s 1-0 job 1").await;
    assert_eq!(next_reply(&mut first).await, r#"[["s", [["1-0", ["job", "1"]]]]]"#);
    wait_blocked(&server, 1).await;
    call(&mut writer, "XADD s 2-0 job 2").await;
    assert_eq!(next_reply(&mut second).await, r#"[["s", [["2-0", ["job", "2"]]]]]"#);
    assert_eq!(call(&mut writer, "XPENDING s g").await, r#"[2, "1-0", "2-0", [["one", "1"], ["two", "1"]]]"#);
}

#[tokio::test]
async fn resp3_blocked_readers_get_a_map() {
    let server = support::start().await;
    let mut waiter = server.raw().await;
    let mut writer = server.raw().await;
    call(&mut waiter, "HELLO 3").await;
    send_command(&mut waiter, "XREAD BLOCK 0 STREAMS s $").await;
    wait_blocked(&server, 1).await;
    call(&mut writer, "XADD s 1-0 f v").await;
    assert_eq!(next_reply(&mut waiter).await, r#"{"s": [["1-0", ["f", "v"]]]}"#);
}

#[tokio::test]
async fn group_readers_are_woken_with_an_error_when_the_group_or_stream_goes_away() {
    let server = support::start().await;
    let mut writer = server.raw().await;
    let mut on_destroy = server.raw().await;
    let mut on_del = server.raw().await;
    let mut on_retype = server.raw().await;
    let mut plain = server.raw().await;
    for key in ["a", "b", "c"] {
        call(&mut writer, &format!("XGROUP CREATE {key} g $ MKSTREAM")).await;
    }
    send_command(&mut on_destroy, "XREADGROUP GROUP g x BLOCK 0 STREAMS a >").await;
    send_command(&mut on_del, "XREADGROUP GROUP g x BLOCK 0 STREAMS b >").await;
    send_command(&mut on_retype, "XREADGROUP GROUP g x BLOCK 0 STREAMS c >").await;
    send_command(&mut plain, "XREAD BLOCK 0 STREAMS b $").await;
    wait_blocked(&server, 4).await;
    call(&mut writer, "XGROUP DESTROY a g").await;
    assert_eq!(next_reply(&mut on_destroy).await, "(error) NOGROUP No such key 'a' or consumer group 'g' in XREADGROUP with GROUP option");
    call(&mut writer, "DEL b").await;
    assert_eq!(next_reply(&mut on_del).await, "(error) NOGROUP No such key 'b' or consumer group 'g' in XREADGROUP with GROUP option");
    call(&mut writer, "SET c x").await;
    assert_eq!(next_reply(&mut on_retype).await, "(error) WRONGTYPE Operation against a key holding the wrong kind of value");
    // A plain XREAD keeps waiting through the deletion and is served by the next XADD.
    wait_blocked(&server, 1).await;
    call(&mut writer, "XADD b 1-0 f v").await;
    assert_eq!(next_reply(&mut plain).await, r#"[["b", [["1-0", ["f", "v"]]]]]"#);
}

#[tokio::test]
async fn blocking_reads_inside_multi_reply_at_once() {
    let server = support::start().await;
    let mut c = server.raw().await;
    call(&mut c, "MULTI").await;
    call(&mut c, "XREAD BLOCK 0 STREAMS s $").await;
    assert_eq!(call(&mut c, "EXEC").await, "[nil]");
    // The next blocking command is not confused by the transaction's leftovers.
    assert_eq!(call(&mut c, "XREAD BLOCK 20 STREAMS s 0").await, "nil");
}
