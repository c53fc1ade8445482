//! Blocking list commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP and the wake-up rules.
//!
//! A test knows a client is blocked by polling the blocking registry in `server.shared` in a
//! bounded loop, never by sleeping; timeouts are short real timeouts that are awaited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::blocking::{reply, wait_blocked};
use common::TestServer;
use herald::blocking::{self, UnblockMode};

/// The id of the one client blocked on `key` right now.
fn blocked_ids(server: &TestServer) -> Vec<u64> {
    server.shared.keyspace.lock().blocking.blocked_client_ids()
}

fn bulk_pair(key: &str, value: &str) -> Vec<u8> {
    format!("*2\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n", key.len(), value.len()).into_bytes()
}

#[tokio::test]
async fn blpop_times_out_with_a_null_array_in_resp2_and_a_null_in_resp3() {
    let server = common::start().await;
    let mut c = server.raw().await;
    assert_eq!(c.call(&[b"BLPOP", b"empty", b"0.05"]).await, b"*-1\r\n");
    assert_eq!(c.call(&[b"BLMOVE", b"empty", b"d", b"LEFT", b"LEFT", b"0.05"]).await, b"*-1\r\n");
    assert_eq!(c.call(&[b"BLMPOP", b"0.05", b"1", b"empty", b"LEFT"]).await, b"*-1\r\n");
    assert_eq!(c.call(&[b"HELLO", b"3"]).await[0], b'%');
    assert_eq!(c.call(&[b"BRPOP", b"empty", b"0.05"]).await, b"_\r\n");
    assert_eq!(c.call(&[b"BRPOPLPUSH", b"empty", b"d", b"0.05"]).await, b"_\r\n");
    assert_eq!(server.shared.keyspace.lock().blocking.blocked_clients(), 0);
}

#[tokio::test]
async fn brpop_wakes_when_another_client_pushes() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    let mut pusher = server.raw().await;
    waiter.send_command(&[b"BRPOP", b"jobs", b"0"]).await;
    wait_blocked(&server, 1).await;
    assert_eq!(pusher.call(&[b"RPUSH", b"jobs", b"a", b"b"]).await, b":2\r\n");
    assert_eq!(reply(&mut waiter).await, bulk_pair("jobs", "b"));
    assert_eq!(pusher.call(&[b"LRANGE", b"jobs", b"0", b"-1"]).await, b"*1\r\n$1\r\na\r\n");
    wait_blocked(&server, 0).await;
}

#[tokio::test]
async fn waiters_on_a_key_are_served_first_come_first_served() {
    let server = common::start().await;
    let mut waiters = Vec::new();
    for i in 0..3 {
        let mut c = server.raw().await;
        c.send_command(&[b"BLPOP", b"q", b"0"]).await;
        wait_blocked(&server, i + 1).await;
        waiters.push(c);
    }
    let mut pusher = server.raw().await;
    pusher.call(&[b"RPUSH", b"q", b"first", b"second", b"third", b"fourth"]).await;
    assert_eq!(reply(&mut waiters[0]).await, bulk_pair("q", "first"));
    assert_eq!(reply(&mut waiters[1]).await, bulk_pair("q", "second"));
    assert_eq!(reply(&mut waiters[2]).await, bulk_pair("q", "third"));
    assert_eq!(pusher.call(&[b"LRANGE", b"q", b"0", b"-1"]).await, b"*1\r\n$6\r\nfourth\r\n");
}

#[tokio::test]
async fn a_pushed_value_goes_to_the_longest_waiting_client_only() {
    let server = common::start().await;
    let mut first = server.raw().await;
    let mut second = server.raw().await;
    first.send_command(&[b"BLPOP", b"q", b"0"]).await;
    wait_blocked(&server, 1).await;
    second.send_command(&[b"BLPOP", b"q", b"0"]).await;
    wait_blocked(&server, 2).await;
    let mut pusher = server.raw().await;
    pusher.call(&[b"LPUSH", b"q", b"only"]).await;
    assert_eq!(reply(&mut first).await, bulk_pair("q", "only"));
    // The value is gone and the second client is still waiting for the next one.
    assert_eq!(pusher.call(&[b"EXISTS", b"q"]).await, b":0\r\n");
    wait_blocked(&server, 1).await;
    pusher.call(&[b"LPUSH", b"q", b"next"]).await;
    assert_eq!(reply(&mut second).await, bulk_pair("q", "next"));
}

#[tokio::test]
async fn several_keys_are_served_in_the_order_given() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"RPUSH", b"k2", b"two"]).await;
    c.call(&[b"RPUSH", b"k3", b"three"]).await;
    assert_eq!(c.call(&[b"BLPOP", b"k1", b"k3", b"k2", b"0"]).await, bulk_pair("k3", "three"));
    assert_eq!(c.call(&[b"BLPOP", b"k1", b"k3", b"k2", b"0"]).await, bulk_pair("k2", "two"));
    // Blocked on three keys, a push to the last one serves it.
    let mut waiter = server.raw().await;
    waiter.send_command(&[b"BLPOP", b"k1", b"k2", b"k3", b"0"]).await;
    wait_blocked(&server, 1).await;
    c.call(&[b"RPUSH", b"k3", b"late"]).await;
    assert_eq!(reply(&mut waiter).await, bulk_pair("k3", "late"));
}

#[tokio::test]
async fn a_write_of_another_type_wakes_nobody() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    let mut writer = server.raw().await;
    waiter.send_command(&[b"BLPOP", b"k", b"0"]).await;
    wait_blocked(&server, 1).await;
    assert_eq!(writer.call(&[b"SET", b"k", b"string"]).await, b"+OK\r\n");
    // Serving runs before the SET's reply is sent, so the waiter would be gone by now.
    assert_eq!(server.shared.keyspace.lock().blocking.blocked_clients(), 1);
    writer.call(&[b"DEL", b"k"]).await;
    writer.call(&[b"RPUSH", b"k", b"list"]).await;
    assert_eq!(reply(&mut waiter).await, bulk_pair("k", "list"));
}

#[tokio::test]
async fn a_push_to_the_same_key_in_another_db_wakes_nobody() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    let mut writer = server.raw().await;
    waiter.send_command(&[b"BLPOP", b"k", b"0"]).await;
    wait_blocked(&server, 1).await;
    writer.call(&[b"SELECT", b"1"]).await;
    writer.call(&[b"RPUSH", b"k", b"db1"]).await;
    assert_eq!(server.shared.keyspace.lock().blocking.blocked_clients(), 1);
    assert_eq!(writer.call(&[b"LLEN", b"k"]).await, b":1\r\n");
    writer.call(&[b"SELECT", b"0"]).await;
    writer.call(&[b"RPUSH", b"k", b"db0"]).await;
    assert_eq!(reply(&mut waiter).await, bulk_pair("k", "db0"));
}

#[tokio::test]
async fn a_client_blocked_in_another_db_is_served_from_its_own_db() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    let mut writer = server.raw().await;
    waiter.call(&[b"SELECT", b"3"]).await;
    waiter.send_command(&[b"BLPOP", b"k", b"0"]).await;
    wait_blocked(&server, 1).await;
    writer.call(&[b"SELECT", b"3"]).await;
    writer.call(&[b"RPUSH", b"k", b"v"]).await;
    assert_eq!(reply(&mut waiter).await, bulk_pair("k", "v"));
}

#[tokio::test]
async fn blocking_commands_inside_multi_reply_as_their_non_blocking_forms() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"MULTI"]).await;
    c.call(&[b"BLPOP", b"none", b"0"]).await;
    c.call(&[b"BLMOVE", b"none", b"d", b"LEFT", b"LEFT", b"0"]).await;
    c.call(&[b"BLMPOP", b"0", b"1", b"none", b"LEFT"]).await;
    assert_eq!(c.call(&[b"EXEC"]).await, b"*3\r\n*-1\r\n$-1\r\n*-1\r\n");
    assert_eq!(server.shared.keyspace.lock().blocking.blocked_clients(), 0);
    // The connection is not blocked: the next command answers at once.
    assert_eq!(c.call(&[b"LLEN", b"none"]).await, b":0\r\n");
}

#[tokio::test]
async fn a_push_inside_multi_serves_waiters_after_exec() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    let mut writer = server.raw().await;
    waiter.send_command(&[b"BLPOP", b"k", b"0"]).await;
    wait_blocked(&server, 1).await;
    writer.call(&[b"MULTI"]).await;
    writer.call(&[b"RPUSH", b"k", b"a"]).await;
    writer.call(&[b"LLEN", b"k"]).await;
    writer.call(&[b"RPUSH", b"k", b"b"]).await;
    // Inside the transaction the pushed elements stay: nobody is served mid-EXEC.
    assert_eq!(writer.call(&[b"EXEC"]).await, b"*3\r\n:1\r\n:1\r\n:2\r\n");
    assert_eq!(reply(&mut waiter).await, bulk_pair("k", "a"));
    assert_eq!(writer.call(&[b"LRANGE", b"k", b"0", b"-1"]).await, b"*1\r\n$1\r\nb\r\n");
}

#[tokio::test]
async fn blmove_into_a_list_others_wait_on_chains() {
    let server = common::start().await;
    let mut mover = server.raw().await;
    let mut popper = server.raw().await;
    let mut writer = server.raw().await;
    mover.send_command(&[b"BLMOVE", b"src", b"dst", b"RIGHT", b"LEFT", b"0"]).await;
    wait_blocked(&server, 1).await;
    popper.send_command(&[b"BRPOP", b"dst", b"0"]).await;
    wait_blocked(&server, 2).await;
    writer.call(&[b"LPUSH", b"src", b"job"]).await;
    assert_eq!(reply(&mut mover).await, b"$3\r\njob\r\n");
    assert_eq!(reply(&mut popper).await, bulk_pair("dst", "job"));
    assert_eq!(writer.call(&[b"EXISTS", b"src", b"dst"]).await, b":0\r\n");
}

#[tokio::test]
async fn brpoplpush_and_blmpop_are_served_on_push() {
    let server = common::start().await;
    let mut a = server.raw().await;
    let mut b = server.raw().await;
    let mut writer = server.raw().await;
    a.send_command(&[b"BRPOPLPUSH", b"s", b"d", b"0"]).await;
    wait_blocked(&server, 1).await;
    b.send_command(&[b"BLMPOP", b"0", b"2", b"x", b"s", b"RIGHT", b"COUNT", b"5"]).await;
    wait_blocked(&server, 2).await;
    writer.call(&[b"RPUSH", b"s", b"1", b"2", b"3"]).await;
    assert_eq!(reply(&mut a).await, b"$1\r\n3\r\n");
    assert_eq!(reply(&mut b).await, b"*2\r\n$1\r\ns\r\n*2\r\n$1\r\n2\r\n$1\r\n1\r\n");
    assert_eq!(writer.call(&[b"LRANGE", b"d", b"0", b"-1"]).await, b"*1\r\n$1\r\n3\r\n");
}

#[tokio::test]
async fn blocking_on_a_key_of_another_type_is_an_error_not_a_wait() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.call(&[b"SET", b"s", b"v"]).await;
    let wrong = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n".to_vec();
    assert_eq!(c.call(&[b"BLPOP", b"empty", b"s", b"0"]).await, wrong);
    assert_eq!(c.call(&[b"BLMOVE", b"s", b"d", b"LEFT", b"LEFT", b"0"]).await, wrong);
    assert_eq!(server.shared.keyspace.lock().blocking.blocked_clients(), 0);
}

#[tokio::test]
async fn a_waiter_whose_destination_turned_to_another_type_gets_wrongtype() {
    let server = common::start().await;
    let mut mover = server.raw().await;
    let mut writer = server.raw().await;
    mover.send_command(&[b"BLMOVE", b"src", b"dst", b"LEFT", b"LEFT", b"0"]).await;
    wait_blocked(&server, 1).await;
    writer.call(&[b"SET", b"dst", b"string"]).await;
    writer.call(&[b"RPUSH", b"src", b"v"]).await;
    assert_eq!(reply(&mut mover).await, b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    // Nothing moved.
    assert_eq!(writer.call(&[b"LLEN", b"src"]).await, b":1\r\n");
}

#[tokio::test]
async fn a_client_that_disconnects_while_blocked_leaves_no_trace() {
    let server = common::start().await;
    let mut leaver = server.raw().await;
    leaver.send_command(&[b"BLPOP", b"k", b"0"]).await;
    wait_blocked(&server, 1).await;
    drop(leaver);
    wait_blocked(&server, 0).await;
    assert_eq!(server.shared.keyspace.lock().blocking.waiting_on(0, b"k"), 0);
    let mut writer = server.raw().await;
    writer.call(&[b"RPUSH", b"k", b"kept"]).await;
    // Nobody took the element.
    assert_eq!(writer.call(&[b"LRANGE", b"k", b"0", b"-1"]).await, b"*1\r\n$4\r\nkept\r\n");
}

#[tokio::test]
async fn a_killed_client_that_was_blocked_leaves_no_trace() {
    let server = common::start().await;
    let mut victim = server.raw().await;
    victim.send_command(&[b"BLPOP", b"k", b"0"]).await;
    wait_blocked(&server, 1).await;
    let id = blocked_ids(&server)[0];
    server.shared.clients.get(id).unwrap().kill.notify_one();
    wait_blocked(&server, 0).await;
    assert!(victim.is_closed().await);
}

#[tokio::test]
async fn client_unblock_replies_the_timeout_null_or_the_unblocked_error() {
    let server = common::start().await;
    let mut c = server.raw().await;
    c.send_command(&[b"BLPOP", b"k", b"0"]).await;
    wait_blocked(&server, 1).await;
    let id = blocked_ids(&server)[0];
    assert!(blocking::unblock_client(&mut server.shared.keyspace.lock(), id, UnblockMode::Timeout));
    assert_eq!(reply(&mut c).await, b"*-1\r\n");
    c.send_command(&[b"BLMOVE", b"k", b"d", b"LEFT", b"LEFT", b"0"]).await;
    wait_blocked(&server, 1).await;
    assert!(blocking::unblock_client(&mut server.shared.keyspace.lock(), id, UnblockMode::Error));
    assert_eq!(reply(&mut c).await, b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    // A client that is not blocked is not unblocked.
    assert!(!blocking::unblock_client(&mut server.shared.keyspace.lock(), id, UnblockMode::Error));
    assert_eq!(c.call(&[b"PING"]).await, b"+PONG\r\n");
}

#[tokio::test]
async fn commands_pipelined_after_a_blocked_one_run_after_it_is_served() {
    let server = common::start().await;
    let mut c = server.raw().await;
    let mut pipeline = common::encode_command(&[b"PING"]);
    pipeline.extend(common::encode_command(&[b"BLPOP", b"k", b"0"]));
    pipeline.extend(common::encode_command(&[b"LLEN", b"k"]));
    pipeline.extend(common::encode_command(&[b"ECHO", b"after"]));
    c.send(&pipeline).await;
    assert_eq!(reply(&mut c).await, b"+PONG\r\n");
    wait_blocked(&server, 1).await;
    let mut writer = server.raw().await;
    writer.call(&[b"RPUSH", b"k", b"a", b"b"]).await;
    assert_eq!(reply(&mut c).await, bulk_pair("k", "a"));
    assert_eq!(reply(&mut c).await, b":1\r\n");
    assert_eq!(reply(&mut c).await, b"$5\r\nafter\r\n");
}

#[tokio::test]
async fn a_push_pipelined_before_a_pop_goes_to_the_waiter_first() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    waiter.send_command(&[b"BLPOP", b"k", b"0"]).await;
    wait_blocked(&server, 1).await;
    let mut c = server.raw().await;
    let mut pipeline = common::encode_command(&[b"RPUSH", b"k", b"x"]);
    pipeline.extend(common::encode_command(&[b"LPOP", b"k"]));
    c.send(&pipeline).await;
    assert_eq!(reply(&mut c).await, b":1\r\n");
    // Waiters are served after each command, before the next one in the batch runs.
    assert_eq!(reply(&mut c).await, b"$-1\r\n");
    assert_eq!(reply(&mut waiter).await, bulk_pair("k", "x"));
}

#[tokio::test]
async fn a_timed_out_waiter_is_not_served_later() {
    let server = common::start().await;
    let mut c = server.raw().await;
    assert_eq!(c.call(&[b"BLPOP", b"k", b"0.05"]).await, b"*-1\r\n");
    assert_eq!(server.shared.keyspace.lock().blocking.waiting_on(0, b"k"), 0);
    c.call(&[b"RPUSH", b"k", b"v"]).await;
    assert_eq!(c.call(&[b"LLEN", b"k"]).await, b":1\r\n");
}

#[tokio::test]
async fn timeout_errors_use_redis_texts() {
    let server = common::start().await;
    let mut c = server.raw().await;
    assert_eq!(c.call(&[b"BLPOP", b"k", b"-1"]).await, b"-ERR timeout is negative\r\n");
    assert_eq!(c.call(&[b"BLPOP", b"k", b"soon"]).await, b"-ERR timeout is not a float or out of range\r\n");
    assert_eq!(c.call(&[b"BLMPOP", b"x", b"1", b"k", b"LEFT"]).await, b"-ERR timeout is not a float or out of range\r\n");
}

#[tokio::test]
async fn client_unblock_command_ends_a_wait_and_names_its_reasons() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    let mut admin = server.raw().await;
    let id_reply = waiter.call(&[b"CLIENT", b"ID"]).await;
    let id = String::from_utf8(id_reply[1..id_reply.len() - 2].to_vec()).unwrap();
    waiter.send_command(&[b"BLPOP", b"k", b"0"]).await;
    wait_blocked(&server, 1).await;
    assert_eq!(admin.call(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]).await, b":1\r\n");
    assert_eq!(reply(&mut waiter).await, b"*-1\r\n");
    waiter.send_command(&[b"BRPOP", b"k", b"0"]).await;
    wait_blocked(&server, 1).await;
    assert_eq!(admin.call(&[b"CLIENT", b"UNBLOCK", id.as_bytes(), b"ERROR"]).await, b":1\r\n");
    assert_eq!(reply(&mut waiter).await, b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
    assert_eq!(admin.call(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]).await, b":0\r\n");
    assert_eq!(admin.call(&[b"CLIENT", b"UNBLOCK", id.as_bytes(), b"LATER"]).await, b"-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n");
    assert_eq!(admin.call(&[b"CLIENT", b"UNBLOCK", b"abc"]).await, b"-ERR value is not an integer or out of range\r\n");
}

#[tokio::test]
async fn blocked_clients_show_in_info_and_with_the_b_flag_in_client_list() {
    let server = common::start().await;
    let mut waiter = server.raw().await;
    let mut admin = server.raw().await;
    waiter.send_command(&[b"BLMOVE", b"src", b"dst", b"LEFT", b"RIGHT", b"0"]).await;
    wait_blocked(&server, 1).await;
    let info = String::from_utf8(admin.call(&[b"INFO", b"clients"]).await).unwrap();
    assert!(info.contains("blocked_clients:1\r\n"), "{info}");
    let list = String::from_utf8(admin.call(&[b"CLIENT", b"LIST"]).await).unwrap();
    let blocked_lines: Vec<&str> = list.lines().filter(|l| l.contains(" flags=b ")).collect();
    assert_eq!(blocked_lines.len(), 1, "{list}");
    assert!(blocked_lines[0].contains("cmd=blmove"), "{list}");
    admin.call(&[b"RPUSH", b"src", b"x"]).await;
    assert_eq!(reply(&mut waiter).await, b"$1\r\nx\r\n");
    let info = String::from_utf8(admin.call(&[b"INFO", b"clients"]).await).unwrap();
    assert!(info.contains("blocked_clients:0\r\n"), "{info}");
}
