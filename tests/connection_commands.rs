//! Connection commands over a real socket: HELLO and RESP3, AUTH, SELECT, RESET, QUIT, and
//! the CLIENT family (naming, REPLY modes, LIST/INFO lines, KILL in both forms).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::text::text_of;
use common::RawClient;
use std::time::Duration;

/// A safety net for awaits that must finish (a connection closing), not a timing assertion.
const BOUND: Duration = Duration::from_secs(10);

/// The value of `field` in a CLIENT LIST / CLIENT INFO line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|pair| pair.strip_prefix(name).and_then(|rest| rest.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no field {name} in {line}"))
}

async fn client_info(raw: &mut RawClient) -> String {
    text_of(&raw.call(&[b"CLIENT", b"INFO"]).await)
}

async fn client_id(raw: &mut RawClient) -> String {
    let reply = raw.call(&[b"CLIENT", b"ID"]).await;
    String::from_utf8(reply[1..reply.len() - 2].to_vec()).unwrap()
}

async fn closes(raw: &mut RawClient) -> bool {
    tokio::time::timeout(BOUND, raw.is_closed()).await.unwrap_or(false)
}

#[tokio::test]
async fn hello_3_switches_the_connection_to_resp3_and_answers_with_a_map() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let id = client_id(&mut raw).await;
    let hello = raw.call(&[b"HELLO", b"3"]).await;
    let expected = format!(
        "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.4.0\r\n$5\r\nproto\r\n:3\r\n\
         $2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
         $7\r\nmodules\r\n*0\r\n"
    );
    assert_eq!(String::from_utf8(hello).unwrap(), expected);
    // Replies after it are RESP3: maps, the RESP3 null, verbatim text.
    assert_eq!(raw.call(&[b"CONFIG", b"GET", b"timeout"]).await, b"%1\r\n$7\r\ntimeout\r\n$1\r\n0\r\n");
    assert_eq!(raw.call(&[b"GET", b"missing"]).await, b"_\r\n");
    assert!(raw.call(&[b"CLIENT", b"INFO"]).await.starts_with(b"="));
    assert_eq!(field(&client_info(&mut raw).await, "resp"), "3");
    // HELLO 2 goes back, and its own reply is already RESP2.
    assert!(raw.call(&[b"HELLO", b"2"]).await.starts_with(b"*14\r\n$6\r\nserver\r\n"));
    assert_eq!(raw.call(&[b"GET", b"missing"]).await, b"$-1\r\n");
}

#[tokio::test]
async fn hello_without_a_version_describes_the_server_in_the_current_protocol() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let reply = raw.call(&[b"HELLO"]).await;
    assert!(reply.starts_with(b"*14\r\n"), "{}", String::from_utf8_lossy(&reply));
    assert!(reply.windows(10).any(|w| w == b"proto\r\n:2\r"));
}

#[tokio::test]
async fn hello_rejects_bad_versions_and_options_without_changing_anything() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let cases: &[(&[&[u8]], &[u8])] = &[
        (&[b"HELLO", b"4"], b"-NOPROTO unsupported protocol version\r\n"),
        (&[b"HELLO", b"1"], b"-NOPROTO unsupported protocol version\r\n"),
        (&[b"HELLO", b"three"], b"-ERR Protocol version is not an integer or out of range\r\n"),
        (&[b"HELLO", b"3", b"AUTH", b"default"], b"-ERR Syntax error in HELLO option 'AUTH'\r\n"),
        (&[b"HELLO", b"3", b"AUTH", b"bob", b"pw"], b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"),
        (&[b"HELLO", b"3", b"SETNAME", b"a b"], b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"),
        // Redis 7.4 checks every option before applying any: the name is not set.
        (&[b"HELLO", b"3", b"SETNAME", b"early", b"bogus"], b"-ERR Syntax error in HELLO option 'bogus'\r\n"),
    ];
    for (command, expected) in cases {
        let reply = raw.call(command).await;
        assert_eq!(String::from_utf8_lossy(&reply), String::from_utf8_lossy(expected), "{command:?}");
    }
    assert_eq!(raw.call(&[b"CLIENT", b"GETNAME"]).await, b"$-1\r\n");
    assert_eq!(raw.call(&[b"GET", b"missing"]).await, b"$-1\r\n", "still RESP2");
}

#[tokio::test]
async fn hello_auth_and_setname_authenticate_and_name_the_connection() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let reply = raw.call(&[b"HELLO", b"3", b"AUTH", b"default", b"anything", b"SETNAME", b"worker-1"]).await;
    assert!(reply.starts_with(b"%7\r\n"));
    assert_eq!(raw.call(&[b"CLIENT", b"GETNAME"]).await, b"$8\r\nworker-1\r\n");
}

#[tokio::test]
async fn auth_answers_as_redis_with_no_password_configured() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(
        raw.call(&[b"AUTH", b"secret"]).await,
        b"-ERR AUTH <password> called without any password configured for the default user. \
          Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(raw.call(&[b"AUTH", b"default", b"secret"]).await, b"+OK\r\n");
    assert_eq!(
        raw.call(&[b"AUTH", b"bob", b"secret"]).await,
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(raw.call(&[b"AUTH", b"a", b"b", b"c"]).await, b"-ERR syntax error\r\n");
}

#[tokio::test]
async fn select_changes_the_database_a_connection_reads() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.call(&[b"SET", b"k", b"zero"]).await;
    assert_eq!(raw.call(&[b"SELECT", b"5"]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"GET", b"k"]).await, b"$-1\r\n");
    assert_eq!(field(&client_info(&mut raw).await, "db"), "5");
    assert_eq!(raw.call(&[b"SELECT", b"16"]).await, b"-ERR DB index is out of range\r\n");
    assert_eq!(raw.call(&[b"SELECT", b"x"]).await, b"-ERR value is not an integer or out of range\r\n");
    assert_eq!(raw.call(&[b"SELECT", b"0"]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"GET", b"k"]).await, b"$4\r\nzero\r\n");
}

#[tokio::test]
async fn reset_returns_the_connection_to_its_initial_state() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.call(&[b"HELLO", b"3", b"SETNAME", b"named"]).await;
    raw.call(&[b"CLIENT", b"SETINFO", b"LIB-NAME", b"mylib"]).await;
    raw.call(&[b"CLIENT", b"NO-EVICT", b"on"]).await;
    raw.call(&[b"SELECT", b"2"]).await;
    raw.call(&[b"WATCH", b"w"]).await;
    raw.call(&[b"MULTI"]).await;
    raw.call(&[b"SET", b"queued", b"1"]).await;
    assert_eq!(raw.call(&[b"RESET"]).await, b"+RESET\r\n");
    assert_eq!(raw.call(&[b"EXEC"]).await, b"-ERR EXEC without MULTI\r\n");
    let info = client_info(&mut raw).await;
    for (name, value) in [("db", "0"), ("name", ""), ("resp", "2"), ("multi", "-1"), ("watch", "0"), ("flags", "N")] {
        assert_eq!(field(&info, name), value, "{name} in {info}");
    }
    // The library name describes the connection, not its state: RESET keeps it.
    assert_eq!(field(&info, "lib-name"), "mylib");
    assert_eq!(raw.call(&[b"GET", b"queued"]).await, b"$-1\r\n");
}

#[tokio::test]
async fn reset_leaves_every_channel() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.call(&[b"SUBSCRIBE", b"news"]).await;
    assert_eq!(raw.call(&[b"RESET"]).await, b"+RESET\r\n");
    // Out of subscribed mode: any command runs, and nobody listens on the channel any more.
    assert_eq!(raw.call(&[b"PUBLISH", b"news", b"hello"]).await, b":0\r\n");
    assert_eq!(field(&client_info(&mut raw).await, "sub"), "0");
}

#[tokio::test]
async fn quit_replies_ok_then_closes() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"QUIT"]).await, b"+OK\r\n");
    assert!(closes(&mut raw).await);
}

#[tokio::test]
async fn client_reply_off_silences_every_reply_until_on() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.send_command(&[b"CLIENT", b"REPLY", b"OFF"]).await;
    raw.send_command(&[b"PING"]).await;
    raw.send_command(&[b"SET", b"k", b"v"]).await;
    raw.send_command(&[b"NOPE"]).await;
    // The first reply to arrive is ON's.
    assert_eq!(raw.call(&[b"CLIENT", b"REPLY", b"ON"]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"GET", b"k"]).await, b"$1\r\nv\r\n", "commands ran while silenced");
}

#[tokio::test]
async fn client_reply_skip_drops_only_the_next_reply() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    raw.send_command(&[b"CLIENT", b"REPLY", b"SKIP"]).await;
    raw.send_command(&[b"ECHO", b"skipped"]).await;
    assert_eq!(raw.call(&[b"ECHO", b"kept"]).await, b"$4\r\nkept\r\n");
    assert_eq!(raw.call(&[b"CLIENT", b"REPLY", b"maybe"]).await, b"-ERR syntax error\r\n");
}

#[tokio::test]
async fn client_setname_validates_and_getname_reads_it_back() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"CLIENT", b"GETNAME"]).await, b"$-1\r\n");
    assert_eq!(
        raw.call(&[b"CLIENT", b"SETNAME", b"two words"]).await,
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(raw.call(&[b"CLIENT", b"SETNAME", b"reporter"]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"CLIENT", b"GETNAME"]).await, b"$8\r\nreporter\r\n");
    assert_eq!(field(&client_info(&mut raw).await, "name"), "reporter");
    assert_eq!(raw.call(&[b"CLIENT", b"SETNAME", b""]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"CLIENT", b"GETNAME"]).await, b"$-1\r\n");
}

#[tokio::test]
async fn client_setinfo_records_the_library_and_validates_it() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"CLIENT", b"SETINFO", b"LIB-NAME", b"redis-py(x)"]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"CLIENT", b"SETINFO", b"lib-ver", b"5.0.1"]).await, b"+OK\r\n");
    assert_eq!(
        raw.call(&[b"CLIENT", b"SETINFO", b"Lib-Ver", b"1 2"]).await,
        b"-ERR Lib-Ver cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(raw.call(&[b"CLIENT", b"SETINFO", b"color", b"red"]).await, b"-ERR Unrecognized option 'color'\r\n");
    let info = client_info(&mut raw).await;
    assert_eq!(field(&info, "lib-name"), "redis-py(x)");
    assert_eq!(field(&info, "lib-ver"), "5.0.1");
}

#[tokio::test]
async fn client_info_is_one_line_in_redis_7_4_field_order() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let id = client_id(&mut raw).await;
    let info = client_info(&mut raw).await;
    assert!(info.ends_with('\n') && info.lines().count() == 1);
    let names: Vec<&str> = info.split_whitespace().map(|pair| pair.split('=').next().unwrap()).collect();
    let expected = "id addr laddr fd name age idle flags db sub psub ssub multi watch qbuf qbuf-free \
                    argv-mem multi-mem rbs rbp obl oll omem tot-mem events cmd user redir resp \
                    lib-name lib-ver";
    assert_eq!(names, expected.split_whitespace().collect::<Vec<_>>());
    assert_eq!(field(&info, "id"), id);
    assert_eq!(field(&info, "laddr"), server.addr.to_string());
    assert_eq!(field(&info, "addr"), raw.stream.local_addr().unwrap().to_string());
    assert_eq!(field(&info, "cmd"), "client|info");
    assert_eq!(field(&info, "user"), "default");
}

#[tokio::test]
async fn client_no_evict_and_no_touch_are_accepted_and_shown_as_flags() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"CLIENT", b"NO-EVICT", b"on"]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"CLIENT", b"NO-TOUCH", b"ON"]).await, b"+OK\r\n");
    assert_eq!(field(&client_info(&mut raw).await, "flags"), "eT");
    assert_eq!(raw.call(&[b"CLIENT", b"NO-TOUCH", b"maybe"]).await, b"-ERR syntax error\r\n");
    raw.call(&[b"CLIENT", b"NO-EVICT", b"off"]).await;
    raw.call(&[b"CLIENT", b"NO-TOUCH", b"off"]).await;
    assert_eq!(field(&client_info(&mut raw).await, "flags"), "N");
}

#[tokio::test]
async fn client_list_shows_every_connection_and_filters_by_type_and_id() {
    let server = common::start().await;
    let mut me = server.raw().await;
    let mut subscriber = server.raw().await;
    let mut named = server.raw().await;
    let subscriber_id = client_id(&mut subscriber).await;
    let named_id = client_id(&mut named).await;
    named.call(&[b"CLIENT", b"SETNAME", b"other"]).await;
    named.call(&[b"SELECT", b"3"]).await;
    subscriber.call(&[b"SUBSCRIBE", b"a", b"b"]).await;
    subscriber.read_reply().await.unwrap(); // the second subscribe confirmation
    me.call(&[b"PING"]).await; // the others' info is refreshed after each of their batches

    let all = text_of(&me.call(&[b"CLIENT", b"LIST"]).await);
    assert_eq!(all.lines().count(), 3, "{all}");
    let named_line = all.lines().find(|l| field(l, "id") == named_id).unwrap();
    assert_eq!(field(named_line, "name"), "other");
    assert_eq!(field(named_line, "db"), "3");
    assert_eq!(field(named_line, "cmd"), "select");

    let pubsub = text_of(&me.call(&[b"CLIENT", b"LIST", b"TYPE", b"pubsub"]).await);
    assert_eq!(pubsub.lines().count(), 1, "{pubsub}");
    assert_eq!(field(&pubsub, "id"), subscriber_id);
    assert_eq!(field(&pubsub, "flags"), "P");
    assert_eq!(field(&pubsub, "sub"), "2");
    let normal = text_of(&me.call(&[b"CLIENT", b"LIST", b"TYPE", b"normal"]).await);
    assert_eq!(normal.lines().count(), 2);
    assert!(normal.lines().all(|l| field(l, "id") != subscriber_id));

    let by_id = text_of(&me.call(&[b"CLIENT", b"LIST", b"ID", named_id.as_bytes(), b"99999"]).await);
    assert_eq!(by_id.lines().count(), 1);
    assert_eq!(field(&by_id, "id"), named_id);
    assert_eq!(me.call(&[b"CLIENT", b"LIST", b"ID", b"x"]).await, b"-ERR Invalid client ID\r\n");
    assert_eq!(me.call(&[b"CLIENT", b"LIST", b"TYPE", b"robot"]).await, b"-ERR Unknown client type 'robot'\r\n");
}

#[tokio::test]
async fn client_kill_by_id_closes_another_connection() {
    let server = common::start().await;
    let mut killer = server.raw().await;
    let mut victim = server.raw().await;
    let victim_id = client_id(&mut victim).await;
    assert_eq!(killer.call(&[b"CLIENT", b"KILL", b"ID", victim_id.as_bytes()]).await, b":1\r\n");
    assert!(closes(&mut victim).await);
    assert_eq!(killer.call(&[b"CLIENT", b"KILL", b"ID", victim_id.as_bytes()]).await, b":0\r\n");
    assert_eq!(killer.call(&[b"PING"]).await, b"+PONG\r\n");
}

#[tokio::test]
async fn client_kill_by_address_in_the_old_form_replies_ok() {
    let server = common::start().await;
    let mut killer = server.raw().await;
    let mut victim = server.raw().await;
    let victim_addr = field(&client_info(&mut victim).await, "addr").to_string();
    assert_eq!(killer.call(&[b"CLIENT", b"KILL", victim_addr.as_bytes()]).await, b"+OK\r\n");
    assert!(closes(&mut victim).await);
    assert_eq!(killer.call(&[b"CLIENT", b"KILL", victim_addr.as_bytes()]).await, b"-ERR No such client\r\n");
}

#[tokio::test]
async fn client_kill_by_type_skips_the_caller_unless_told_otherwise() {
    let server = common::start().await;
    let mut killer = server.raw().await;
    let mut victim = server.raw().await;
    victim.call(&[b"PING"]).await;
    assert_eq!(killer.call(&[b"CLIENT", b"KILL", b"TYPE", b"normal"]).await, b":1\r\n");
    assert!(closes(&mut victim).await);
    // SKIPME no includes the caller: it gets its reply, then the connection closes.
    let id = client_id(&mut killer).await;
    assert_eq!(killer.call(&[b"CLIENT", b"KILL", b"ID", id.as_bytes(), b"SKIPME", b"no"]).await, b":1\r\n");
    assert!(closes(&mut killer).await);
}

#[tokio::test]
async fn client_kill_filters_are_validated_as_redis_does() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let cases: &[(&[&[u8]], &[u8])] = &[
        (&[b"CLIENT", b"KILL", b"ID", b"0"], b"-ERR client-id should be greater than 0\r\n"),
        (&[b"CLIENT", b"KILL", b"MAXAGE", b"0"], b"-ERR maxage should be greater than 0\r\n"),
        (&[b"CLIENT", b"KILL", b"MAXAGE", b"old"], b"-ERR maxage is not an integer or out of range\r\n"),
        (&[b"CLIENT", b"KILL", b"MAXAGE", b"100000"], b":0\r\n"),
        (&[b"CLIENT", b"KILL", b"TYPE", b"robot"], b"-ERR Unknown client type 'robot'\r\n"),
        (&[b"CLIENT", b"KILL", b"USER", b"bob"], b"-ERR No such user 'bob'\r\n"),
        (&[b"CLIENT", b"KILL", b"SKIPME", b"perhaps"], b"-ERR syntax error\r\n"),
        // Three words is the old form: SKIPME is taken for an address.
        (&[b"CLIENT", b"KILL", b"SKIPME"], b"-ERR No such client\r\n"),
        (&[b"CLIENT", b"KILL", b"ID", b"1", b"SKIPME"], b"-ERR syntax error\r\n"),
        (&[b"CLIENT", b"KILL", b"COLOR", b"red"], b"-ERR syntax error\r\n"),
    ];
    for (command, expected) in cases {
        let reply = raw.call(command).await;
        assert_eq!(String::from_utf8_lossy(&reply), String::from_utf8_lossy(expected), "{command:?}");
    }
}

#[tokio::test]
async fn client_unblock_wakes_a_blocked_client() {
    let server = common::start().await;
    let mut blocked = server.raw().await;
    let mut other = server.raw().await;
    let id = client_id(&mut blocked).await;
    blocked.send_command(&[b"BLPOP", b"empty", b"0"]).await;
    // Wait until the BLPOP is registered: CLIENT LIST shows the `b` flag.
    let registered = tokio::time::timeout(BOUND, async {
        loop {
            let list = text_of(&other.call(&[b"CLIENT", b"LIST", b"ID", id.as_bytes()]).await);
            if list.lines().next().is_some_and(|l| field(l, "flags").contains('b')) {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(registered.is_ok(), "the client never showed as blocked");
    assert_eq!(other.call(&[b"CLIENT", b"UNBLOCK", id.as_bytes()]).await, b":1\r\n");
    assert_eq!(blocked.read_reply().await.unwrap(), b"*-1\r\n");
}

#[tokio::test]
async fn the_redis_crate_handshakes_in_resp3_and_names_itself() {
    let server = common::start().await;
    let mut client = server.client_resp3().await;
    let pong: String = redis::cmd("PING").query_async(&mut client).await.unwrap();
    assert_eq!(pong, "PONG");
    let info: String = redis::cmd("CLIENT").arg("INFO").query_async(&mut client).await.unwrap();
    assert_eq!(field(&info, "resp"), "3");
}
