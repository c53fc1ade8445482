//! Consumer groups over the socket: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM,
//! XINFO GROUPS / CONSUMERS, and non-blocking XREAD, with Redis 7.4's replies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

#[path = "stream_support.rs"]
mod support;

use support::{call, RawClient};

async fn stream_with(c: &mut RawClient, key: &str, ids: &[&str]) {
    for id in ids {
        assert!(!call(c, &format!("XADD {key} {id} n {id}")).await.starts_with("(error)"));
    }
}

/// One XINFO GROUPS field of group `group`, rendered.
async fn group_field(c: &mut RawClient, key: &str, group: &str, field: &str) -> String {
    let info = call(c, &format!("XINFO GROUPS {key}")).await;
    let start = info.find(&format!("\"name\", \"{group}\"")).unwrap_or_else(|| panic!("no group {group} in {info}"));
    let rest = &info[start..];
    let at = rest.find(&format!("\"{field}\", ")).unwrap() + field.len() + 4;
    rest[at..].split([',', ']']).next().unwrap().to_string()
}

#[tokio::test]
async fn a_group_delivers_each_entry_once_and_tracks_it_until_acknowledged() {
    let server = support::start().await;
    let mut c = server.raw().await;
    stream_with(&mut c, "s", &["1-1", "2-1", "3-1"]).await;
    assert_eq!(call(&mut c, "XGROUP CREATE s g 0").await, "OK");
    assert_eq!(call(&mut c, "XREADGROUP GROUP g alice COUNT 2 STREAMS s >").await, r#"[["s", [["1-1", ["n", "1-1"]], ["2-1", ["n", "2-1"]]]]]"#);
    assert_eq!(call(&mut c, "XREADGROUP GROUP g bob STREAMS s >").await, r#"[["s", [["3-1", ["n", "3-1"]]]]]"#);
    assert_eq!(call(&mut c, "XREADGROUP GROUP g bob STREAMS s >").await, "nil");
    assert_eq!(call(&mut c, "XPENDING s g").await, r#"[3, "1-1", "3-1", [["alice", "2"], ["bob", "1"]]]"#);
    // History: only the consumer's own pending entries, after the given ID.
    assert_eq!(call(&mut c, "XREADGROUP GROUP g alice STREAMS s 1-1").await, r#"[["s", [["2-1", ["n", "2-1"]]]]]"#);
    assert_eq!(call(&mut c, "XACK s g 1-1 2-1 9-9").await, "2");
    assert_eq!(call(&mut c, "XACK s g 1-1").await, "0");
    assert_eq!(call(&mut c, "XREADGROUP GROUP g alice STREAMS s 0").await, r#"[["s", []]]"#);
    assert_eq!(call(&mut c, "XACK s g 3-1").await, "1");
    assert_eq!(call(&mut c, "XPENDING s g").await, "[0, nil, nil, nil]");
    assert_eq!(group_field(&mut c, "s", "g", "entries-read").await, "3");
    assert_eq!(group_field(&mut c, "s", "g", "lag").await, "0");
}

#[tokio::test]
async fn history_reads_count_deliveries_and_show_deleted_entries_as_null() {
    let server = support::start().await;
    let mut c = server.raw().await;
    stream_with(&mut c, "s", &["1-1", "2-1"]).await;
    call(&mut c, "XGROUP CREATE s g 0").await;
    call(&mut c, "XREADGROUP GROUP g c STREAMS s >").await;
    call(&mut c, "XDEL s 1-1").await;
    assert_eq!(call(&mut c, "XREADGROUP GROUP g c STREAMS s 0").await, r#"[["s", [["1-1", nil], ["2-1", ["n", "2-1"]]]]]"#);
    let rows = call(&mut c, "XPENDING s g - + 10").await;
    // [id, consumer, idle, deliveries]: the deleted entry keeps 1, the live one was re-delivered.
    assert!(rows.starts_with(r#"[["1-1", "c", "#) && rows.contains(r#", 1], ["2-1", "c", "#) && rows.ends_with(", 2]]"), "{rows}");
}

#[tokio::test]
async fn noack_reads_advance_the_group_without_pending_entries() {
    let server = support::start().await;
    let mut c = server.raw().await;
    stream_with(&mut c, "s", &["1-1"]).await;
    call(&mut c, "XGROUP CREATE s g 0").await;
    assert_eq!(call(&mut c, "XREADGROUP GROUP g c NOACK STREAMS s >").await, r#"[["s", [["1-1", ["n", "1-1"]]]]]"#);
    assert_eq!(call(&mut c, "XPENDING s g").await, "[0, nil, nil, nil]");
    assert_eq!(group_field(&mut c, "s", "g", "last-delivered-id").await, r#""1-1""#);
    // A NOACK read does not make the consumer active.
    assert!(call(&mut c, "XINFO CONSUMERS s g").await.ends_with(r#""inactive", -1]]"#));
}

#[tokio::test]
async fn group_commands_report_missing_keys_and_groups_with_redis_errors() {
    let server = support::start().await;
    let mut c = server.raw().await;
    assert_eq!(
        call(&mut c, "XGROUP CREATE s g $").await,
        "(error) ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
    );
    assert_eq!(call(&mut c, "XGROUP CREATE s g $ MKSTREAM").await, "OK");
    assert_eq!(call(&mut c, "XLEN s").await, "0");
    assert_eq!(call(&mut c, "XGROUP CREATE s g $").await, "(error) BUSYGROUP Consumer Group name already exists");
    assert_eq!(call(&mut c, "XGROUP CREATE s h $ ENTRIESREAD -2").await, "(error) ERR value for ENTRIESREAD must be positive or -1");
    assert_eq!(call(&mut c, "XGROUP SETID s nope 0").await, "(error) NOGROUP No such consumer group 'nope' for key name 's'");
    assert_eq!(call(&mut c, "XGROUP CREATECONSUMER s nope c").await, "(error) NOGROUP No such consumer group 'nope' for key name 's'");
    assert_eq!(call(&mut c, "XREADGROUP GROUP nope c STREAMS s >").await, "(error) NOGROUP No such key 's' or consumer group 'nope' in XREADGROUP with GROUP option");
    assert_eq!(call(&mut c, "XPENDING s nope").await, "(error) NOGROUP No such key 's' or consumer group 'nope'");
    assert_eq!(call(&mut c, "XCLAIM s nope c 0 1-1").await, "(error) NOGROUP No such key 's' or consumer group 'nope'");
    assert_eq!(call(&mut c, "XAUTOCLAIM missing g c 0 0").await, "(error) NOGROUP No such key 'missing' or consumer group 'g'");
    assert_eq!(call(&mut c, "XINFO CONSUMERS s nope").await, "(error) NOGROUP No such consumer group 'nope' for key name 's'");
    assert_eq!(call(&mut c, "XINFO GROUPS missing").await, "(error) ERR no such key");
    assert!(call(&mut c, "XREADGROUP GROUP g c STREAMS s $").await.starts_with("(error) ERR The $ ID is meaningless in the context of XREADGROUP"));
    assert!(call(&mut c, "XREADGROUP GROUP g c STREAMS s +").await.starts_with("(error) ERR The + ID is meaningless in the context of XREADGROUP"));
    assert_eq!(call(&mut c, "XREADGROUP COUNT 1 NOACK STREAMS s >").await, "(error) ERR Missing GROUP option for XREADGROUP");
    assert_eq!(call(&mut c, "XGROUP DESTROY s g").await, "1");
    assert_eq!(call(&mut c, "XGROUP DESTROY s g").await, "0");
    assert!(call(&mut c, "XGROUP HELP").await.contains("CREATECONSUMER <key> <groupname> <consumer>"));
}

#[tokio::test]
async fn consumers_are_created_counted_and_deleted_with_their_pending_entries() {
    let server = support::start().await;
    let mut c = server.raw().await;
    stream_with(&mut c, "s", &["1-1", "2-1"]).await;
    call(&mut c, "XGROUP CREATE s g 0").await;
    assert_eq!(call(&mut c, "XGROUP CREATECONSUMER s g idle").await, "1");
    assert_eq!(call(&mut c, "XGROUP CREATECONSUMER s g idle").await, "0");
    call(&mut c, "XREADGROUP GROUP g worker STREAMS s >").await;
    let consumers = call(&mut c, "XINFO CONSUMERS s g").await;
    assert!(consumers.starts_with(r#"[["name", "idle", "pending", 0, "idle", "#), "{consumers}");
    assert!(consumers.contains(r#""inactive", -1], ["name", "worker", "pending", 2, "idle", "#), "{consumers}");
    assert_eq!(group_field(&mut c, "s", "g", "consumers").await, "2");
    assert_eq!(call(&mut c, "XGROUP DELCONSUMER s g worker").await, "2");
    assert_eq!(call(&mut c, "XGROUP DELCONSUMER s g worker").await, "0");
    assert_eq!(call(&mut c, "XPENDING s g").await, "[0, nil, nil, nil]");
    call(&mut c, "HELLO 3").await;
    let consumers = call(&mut c, "XINFO CONSUMERS s g").await;
    assert!(consumers.starts_with(r#"[{"name": "idle", "pending": 0, "idle": "#), "{consumers}");
}

#[tokio::test]
async fn xpending_extended_filters_by_range_idle_time_and_consumer() {
    let server = support::start().await;
    let mut c = server.raw().await;
    stream_with(&mut c, "s", &["1-1", "2-1", "3-1"]).await;
    call(&mut c, "XGROUP CREATE s g 0").await;
    call(&mut c, "XREADGROUP GROUP g a COUNT 2 STREAMS s >").await;
    call(&mut c, "XREADGROUP GROUP g b STREAMS s >").await;
    let ids = |rows: &str| rows.matches("-1\", \"").count();
    assert_eq!(ids(&call(&mut c, "XPENDING s g - + 10").await), 3);
    assert_eq!(ids(&call(&mut c, "XPENDING s g (1-1 + 10").await), 2);
    assert_eq!(ids(&call(&mut c, "XPENDING s g - + 1").await), 1);
    assert_eq!(ids(&call(&mut c, "XPENDING s g - + 10 b").await), 1);
    assert_eq!(call(&mut c, "XPENDING s g - + -1").await, "[]");
    assert_eq!(call(&mut c, "XPENDING s g IDLE 3600000 - + 10").await, "[]");
    // Claiming with a backdated IDLE makes the entry old enough for the filter.
    call(&mut c, "XCLAIM s g b 0 1-1 IDLE 7200000 JUSTID").await;
    let old = call(&mut c, "XPENDING s g IDLE 3600000 - + 10").await;
    assert!(old.starts_with(r#"[["1-1", "b", "#), "{old}");
    assert_eq!(call(&mut c, "XPENDING s g - +").await, "(error) ERR syntax error");
    assert_eq!(call(&mut c, "XPENDING s g IDLE 5 - + ").await, "(error) ERR syntax error");
}

#[tokio::test]
async fn xclaim_moves_idle_entries_and_honours_its_options() {
    let server = support::start().await;
    let mut c = server.raw().await;
    stream_with(&mut c, "s", &["1-1", "2-1", "3-1"]).await;
    call(&mut c, "XGROUP CREATE s g 0").await;
    call(&mut c, "XREADGROUP GROUP g a COUNT 2 STREAMS s >").await;
    // Not idle long enough: nothing moves.
    assert_eq!(call(&mut c, "XCLAIM s g b 3600000 1-1").await, "[]");
    assert_eq!(call(&mut c, "XCLAIM s g b 0 1-1").await, r#"[["1-1", ["n", "1-1"]]]"#);
    assert_eq!(call(&mut c, "XCLAIM s g b 0 2-1 JUSTID RETRYCOUNT 7").await, r#"["2-1"]"#);
    let rows = call(&mut c, "XPENDING s g - + 10").await;
    assert!(rows.starts_with(r#"[["1-1", "b", "#) && rows.contains(", 2], [\"2-1\", \"b\", ") && rows.ends_with(", 7]]"), "{rows}");
    // JUSTID does not count a delivery.
    call(&mut c, "XCLAIM s g a 0 2-1 JUSTID").await;
    assert!(call(&mut c, "XPENDING s g - + 10 a").await.ends_with(", 7]]"));
    // TIME sets the delivery time; a time in the future means now.
    call(&mut c, "XCLAIM s g a 0 2-1 TIME 1000 JUSTID").await;
    assert!(call(&mut c, "XINFO STREAM s FULL").await.contains(r#"["2-1", "a", 1000, "#));
    // Not pending: only FORCE claims it, and only if it exists.
    assert_eq!(call(&mut c, "XCLAIM s g a 0 3-1").await, "[]");
    assert_eq!(call(&mut c, "XCLAIM s g a 0 3-1 9-9 FORCE JUSTID").await, r#"["3-1"]"#);
    assert_eq!(call(&mut c, "XPENDING s g").await, r#"[3, "1-1", "3-1", [["a", "2"], ["b", "1"]]]"#);
    // LASTID moves the group forward, never back.
    call(&mut c, "XCLAIM s g a 0 1-1 LASTID 9-0 JUSTID").await;
    call(&mut c, "XCLAIM s g a 0 1-1 LASTID 5-0 JUSTID").await;
    assert_eq!(group_field(&mut c, "s", "g", "last-delivered-id").await, r#""9-0""#);
    // A deleted entry is dropped from the PEL instead of being claimed.
    call(&mut c, "XDEL s 1-1").await;
    assert_eq!(call(&mut c, "XCLAIM s g b 0 1-1").await, "[]");
    assert_eq!(call(&mut c, "XPENDING s g").await, r#"[2, "2-1", "3-1", [["a", "2"]]]"#);
    assert_eq!(call(&mut c, "XCLAIM s g b x 1-1").await, "(error) ERR Invalid min-idle-time argument for XCLAIM");
    assert_eq!(call(&mut c, "XCLAIM s g b 0 1-1 FOO").await, "(error) ERR Unrecognized XCLAIM option 'FOO'");
    assert_eq!(call(&mut c, "XCLAIM s g b 0 1-1 IDLE x").await, "(error) ERR Invalid IDLE option argument for XCLAIM");
    assert_eq!(call(&mut c, "XCLAIM s g b 0 1-1 RETRYCOUNT x").await, "(error) ERR Invalid RETRYCOUNT option argument for XCLAIM");
}

#[tokio::test]
async fn xautoclaim_pages_through_the_pel_and_reports_deleted_entries() {
    let server = support::start().await;
    let mut c = server.raw().await;
    stream_with(&mut c, "s", &["1-1", "2-1", "3-1", "4-1"]).await;
    call(&mut c, "XGROUP CREATE s g 0").await;
    call(&mut c, "XREADGROUP GROUP g dead STREAMS s >").await;
    call(&mut c, "XDEL s 2-1").await;
    assert_eq!(call(&mut c, "XAUTOCLAIM s g live 0 0 COUNT 1").await, r#"["2-1", [["1-1", ["n", "1-1"]]], []]"#);
    // Deleted entries count against COUNT and leave the PEL.
    assert_eq!(call(&mut c, "XAUTOCLAIM s g live 0 2-1 COUNT 1").await, r#"["3-1", [], ["2-1"]]"#);
    assert_eq!(call(&mut c, "XAUTOCLAIM s g live 0 3-1 JUSTID").await, r#"["0-0", ["3-1", "4-1"], []]"#);
    assert_eq!(call(&mut c, "XPENDING s g").await, r#"[3, "1-1", "4-1", [["live", "3"]]]"#);
    assert_eq!(call(&mut c, "XAUTOCLAIM s g other 3600000 0").await, r#"["0-0", [], []]"#);
    assert_eq!(call(&mut c, "XAUTOCLAIM s g live 0 0 COUNT 0").await, "(error) ERR COUNT must be > 0");
    assert_eq!(call(&mut c, "XAUTOCLAIM s g live x 0").await, "(error) ERR Invalid min-idle-time argument for XAUTOCLAIM");
    assert_eq!(call(&mut c, "XAUTOCLAIM s g live 0 0 FOO").await, "(error) ERR syntax error");
    // XAUTOCLAIM creates its consumer even when it claims nothing (7.2+).
    assert!(call(&mut c, "XINFO CONSUMERS s g").await.contains(r#""name", "other""#));
}

#[tokio::test]
async fn lag_and_entries_read_follow_redis_through_deletes_trims_and_setid() {
    let server = support::start().await;
    let mut c = server.raw().await;
    stream_with(&mut c, "s", &["1-1", "2-1", "3-1", "4-1"]).await;
    call(&mut c, "XGROUP CREATE s g 0").await;
    call(&mut c, "XGROUP CREATE s tail $").await;
    call(&mut c, "XGROUP CREATE s given 0 ENTRIESREAD 1").await;
    assert_eq!(group_field(&mut c, "s", "g", "entries-read").await, "nil");
    assert_eq!(group_field(&mut c, "s", "g", "lag").await, "4");
    assert_eq!(group_field(&mut c, "s", "tail", "lag").await, "0");
    // A group behind the first entry lags by the whole stream, whatever it was told.
    assert_eq!(group_field(&mut c, "s", "given", "lag").await, "4");
    call(&mut c, "XREADGROUP GROUP g c COUNT 1 STREAMS s >").await;
    assert_eq!(group_field(&mut c, "s", "g", "entries-read").await, "1");
    assert_eq!(group_field(&mut c, "s", "g", "lag").await, "3");
    // A deletion ahead of the group makes its lag unknown until it reads past it.
    call(&mut c, "XDEL s 3-1").await;
    assert_eq!(group_field(&mut c, "s", "g", "lag").await, "nil");
    call(&mut c, "XREADGROUP GROUP g c STREAMS s >").await;
    assert_eq!(group_field(&mut c, "s", "g", "entries-read").await, "4");
    assert_eq!(group_field(&mut c, "s", "g", "lag").await, "0");
    // ENTRIESREAD beyond what was ever added is clamped (7.4).
    call(&mut c, "XGROUP SETID s g 0 ENTRIESREAD 100").await;
    assert_eq!(group_field(&mut c, "s", "g", "entries-read").await, "4");
    call(&mut c, "XGROUP SETID s g 0 ENTRIESREAD 0").await;
    assert_eq!(group_field(&mut c, "s", "g", "entries-read").await, "0");
    // Lowering entries-added below what a group read makes its lag negative, as in Redis.
    call(&mut c, "XGROUP SETID s g $ ENTRIESREAD 4").await;
    call(&mut c, "XSETID s 4-1 ENTRIESADDED 3").await;
    assert_eq!(group_field(&mut c, "s", "g", "lag").await, "-1");
    call(&mut c, "XTRIM s MAXLEN 0").await;
    assert_eq!(group_field(&mut c, "s", "g", "lag").await, "0");
}

#[tokio::test]
async fn xread_serves_several_streams_and_the_special_ids() {
    let server = support::start().await;
    let mut c = server.raw().await;
    stream_with(&mut c, "a", &["1-1", "2-1"]).await;
    stream_with(&mut c, "b", &["5-0"]).await;
    assert_eq!(call(&mut c, "XREAD COUNT 1 STREAMS a b missing 0 0 0").await, r#"[["a", [["1-1", ["n", "1-1"]]]], ["b", [["5-0", ["n", "5-0"]]]]]"#);
    assert_eq!(call(&mut c, "XREAD STREAMS a b 1-1 5-0").await, r#"[["a", [["2-1", ["n", "2-1"]]]]]"#);
    assert_eq!(call(&mut c, "XREAD STREAMS a $").await, "nil");
    assert_eq!(call(&mut c, "XREAD STREAMS a b + +").await, r#"[["a", [["2-1", ["n", "2-1"]]]], ["b", [["5-0", ["n", "5-0"]]]]]"#);
    assert_eq!(call(&mut c, "XREAD STREAMS a").await, "(error) ERR wrong number of arguments for 'xread' command");
    assert_eq!(call(&mut c, "XREAD STREAMS a b 0").await, "(error) ERR Unbalanced 'xread' list of streams: for each stream key an ID, '+', or '$' must be specified.");
    assert_eq!(call(&mut c, "XREAD STREAMS a >").await, "(error) ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
    assert_eq!(call(&mut c, "XREAD GROUP g c STREAMS a 0").await, "(error) ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
    call(&mut c, "SET str x").await;
    assert_eq!(call(&mut c, "XREAD STREAMS a str 0 0").await, "(error) WRONGTYPE Operation against a key holding the wrong kind of value");
    call(&mut c, "HELLO 3").await;
    assert_eq!(call(&mut c, "XREAD STREAMS a b 1-1 0").await, r#"{"a": [["2-1", ["n", "2-1"]]], "b": [["5-0", ["n", "5-0"]]]}"#);
    assert_eq!(call(&mut c, "XREAD STREAMS a $").await, "nil");
}

#[tokio::test]
async fn every_command_that_creates_a_consumer_raises_xgroup_createconsumer() {
    let server = support::start().await;
    let mut c = server.raw().await;
    let mut sub = server.raw().await;
    call(&mut c, "CONFIG SET notify-keyspace-events Et").await;
    call(&mut sub, "SUBSCRIBE __keyevent@0__:xgroup-createconsumer").await;
    stream_with(&mut c, "s", &["1-1"]).await;
    call(&mut c, "XGROUP CREATE s g 0").await;
    for command in [
        "XREADGROUP GROUP g reader STREAMS s >",
        "XREADGROUP GROUP g reader STREAMS s >",
        "XCLAIM s g claimer 0 1-1",
        "XAUTOCLAIM s g autoclaimer 0 0",
        "XREADGROUP GROUP g historian STREAMS s 0",
        "XGROUP CREATECONSUMER s g explicit",
    ] {
        assert!(!call(&mut c, command).await.starts_with("(error)"), "{command}");
    }
    // One event per consumer created (the second read by `reader` creates nothing).
    for _ in 0..5 {
        assert_eq!(support::next_reply(&mut sub).await, r#"["message", "__keyevent@0__:xgroup-createconsumer", "s"]"#);
    }
    call(&mut c, "PUBLISH __keyevent@0__:xgroup-createconsumer end").await;
    assert_eq!(support::next_reply(&mut sub).await, r#"["message", "__keyevent@0__:xgroup-createconsumer", "end"]"#);
}
