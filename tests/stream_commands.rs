//! Stream basics over the socket: XADD IDs and their edge cases, ranges, XDEL, XTRIM and
//! trimming on XADD, XSETID, XLEN, XINFO STREAM, and keyspace notifications.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

#[path = "stream_support.rs"]
mod support;

use support::{call, next_reply};

const MAX: &str = "18446744073709551615";

#[tokio::test]
async fn xadd_accepts_explicit_partial_and_automatic_ids_in_increasing_order() {
    let server = support::start().await;
    let mut c = server.raw().await;
    assert_eq!(call(&mut c, "XADD s 1-1 f v").await, r#""1-1""#);
    assert_eq!(call(&mut c, "XADD s 1-* f v").await, r#""1-2""#);
    assert_eq!(call(&mut c, "XADD s 5 f v").await, r#""5-0""#);
    assert_eq!(call(&mut c, "XADD s 7-* f v").await, r#""7-0""#);
    let auto = call(&mut c, "XADD s * f v").await;
    let ms: u64 = auto.trim_matches('"').split('-').next().unwrap().parse().unwrap();
    assert!(ms > 1_600_000_000_000, "automatic IDs use the clock: {auto}");
    assert_eq!(call(&mut c, "XLEN s").await, "5");
    assert_eq!(call(&mut c, "TYPE s").await, "stream");
    assert_eq!(call(&mut c, "OBJECT ENCODING s").await, r#""stream""#);
}

#[tokio::test]
async fn xadd_rejects_ids_that_do_not_move_forward() {
    let server = support::start().await;
    let mut c = server.raw().await;
    call(&mut c, "XADD s 5-5 f v").await;
    let smaller = "(error) ERR The ID specified in XADD is equal or smaller than the target stream top item";
    assert_eq!(call(&mut c, "XADD s 5-5 f v").await, smaller);
    assert_eq!(call(&mut c, "XADD s 5-4 f v").await, smaller);
    assert_eq!(call(&mut c, "XADD s 4-* f v").await, smaller);
    assert_eq!(call(&mut c, "XADD s 0-0 f v").await, "(error) ERR The ID specified in XADD must be greater than 0-0");
    assert_eq!(call(&mut c, "XADD fresh 0 f v").await, "(error) ERR The ID specified in XADD must be greater than 0-0");
    assert_eq!(call(&mut c, "EXISTS fresh").await, "0");
    assert_eq!(call(&mut c, "XADD fresh 0-* f v").await, r#""0-1""#);
    let invalid = "(error) ERR Invalid stream ID specified as stream command argument";
    for bad in ["abc", "1-x", "-1", "1-", "18446744073709551616", "*-1", "1--1"] {
        assert_eq!(call(&mut c, &format!("XADD s {bad} f v")).await, invalid, "{bad}");
    }
    assert_eq!(call(&mut c, "XLEN s").await, "1");
}

#[tokio::test]
async fn the_largest_id_exhausts_the_stream_and_sequence_overflow_is_refused() {
    let server = support::start().await;
    let mut c = server.raw().await;
    assert_eq!(call(&mut c, &format!("XADD m {MAX}-{MAX} f v")).await, format!("\"{MAX}-{MAX}\""));
    let exhausted = "(error) ERR The stream has exhausted the last possible ID, unable to add more items";
    assert_eq!(call(&mut c, "XADD m * f v").await, exhausted);
    assert_eq!(call(&mut c, &format!("XADD m {MAX}-* f v")).await, exhausted);
    assert_eq!(call(&mut c, &format!("XADD m {MAX}-{MAX} f v")).await, exhausted);
    // The sequence of one millisecond overflowing: `<ms>-*` refuses, `*` moves to the next ms.
    assert_eq!(call(&mut c, &format!("XADD q 5-{MAX} f v")).await, format!("\"5-{MAX}\""));
    assert_eq!(call(&mut c, "XADD q 5-* f v").await, "(error) ERR The ID specified in XADD is equal or smaller than the target stream top item");
    call(&mut c, &format!("XSETID q 5-{MAX}")).await;
    // `*` with the clock far behind the last ID (the clock going backwards) increments it.
    assert_eq!(call(&mut c, &format!("XADD b {MAX}-5 f v")).await, format!("\"{MAX}-5\""));
    assert_eq!(call(&mut c, "XADD b * f v").await, format!("\"{MAX}-6\""));
}

#[tokio::test]
async fn xadd_with_nomkstream_does_not_create_the_key() {
    let server = support::start().await;
    let mut c = server.raw().await;
    assert_eq!(call(&mut c, "XADD s NOMKSTREAM * f v").await, "nil");
    assert_eq!(call(&mut c, "EXISTS s").await, "0");
    call(&mut c, "XADD s 1 f v").await;
    assert_eq!(call(&mut c, "XADD s NOMKSTREAM 2 f v").await, r#""2-0""#);
    assert_eq!(call(&mut c, "XADD s * f").await, "(error) ERR wrong number of arguments for 'xadd' command");
    call(&mut c, "SET str x").await;
    assert_eq!(call(&mut c, "XADD str * f v").await, "(error) WRONGTYPE Operation against a key holding the wrong kind of value");
}

#[tokio::test]
async fn ranges_honour_exclusive_and_incomplete_bounds_and_count() {
    let server = support::start().await;
    let mut c = server.raw().await;
    for id in ["1-1", "1-2", "2-0", "3-5"] {
        call(&mut c, &format!("XADD s {id} k {id}")).await;
    }
    assert_eq!(call(&mut c, "XRANGE s - + COUNT 2").await, r#"[["1-1", ["k", "1-1"]], ["1-2", ["k", "1-2"]]]"#);
    assert_eq!(call(&mut c, "XRANGE s 1 1").await, r#"[["1-1", ["k", "1-1"]], ["1-2", ["k", "1-2"]]]"#);
    assert_eq!(call(&mut c, "XRANGE s (1-1 (3-5").await, r#"[["1-2", ["k", "1-2"]], ["2-0", ["k", "2-0"]]]"#);
    assert_eq!(call(&mut c, "XREVRANGE s + - COUNT 1").await, r#"[["3-5", ["k", "3-5"]]]"#);
    assert_eq!(call(&mut c, "XREVRANGE s (3-5 (1-1").await, r#"[["2-0", ["k", "2-0"]], ["1-2", ["k", "1-2"]]]"#);
    assert_eq!(call(&mut c, "XRANGE s 3 2").await, "[]");
    assert_eq!(call(&mut c, "XRANGE s - + COUNT 0").await, "nil");
    assert_eq!(call(&mut c, "XRANGE missing - + COUNT 0").await, "[]");
    assert_eq!(call(&mut c, &format!("XRANGE s ({MAX}-{MAX} +")).await, "(error) ERR invalid start ID for the interval");
    assert_eq!(call(&mut c, "XRANGE s - (0-0").await, "(error) ERR invalid end ID for the interval");
    assert_eq!(call(&mut c, "XRANGE s (- +").await, "(error) ERR Invalid stream ID specified as stream command argument");
    assert_eq!(call(&mut c, "XRANGE s - + COUNT").await, "(error) ERR syntax error");
}

#[tokio::test]
async fn ranges_over_many_blocks_return_exactly_the_requested_window() {
    let server = support::start().await;
    let mut c = server.raw().await;
    for i in 1..=1000 {
        c.send_command(&[b"XADD", b"s", format!("{i}-0").as_bytes(), b"field", b"value"]).await;
    }
    for _ in 1..=1000 {
        next_reply(&mut c).await;
    }
    let window = call(&mut c, "XRANGE s 250 (260-0").await;
    assert_eq!(window.matches("\"field\"").count(), 10);
    assert!(window.starts_with(r#"[["250-0""#) && window.ends_with(r#"["259-0", ["field", "value"]]]"#), "{window}");
    let tail = call(&mut c, "XREVRANGE s + 998 COUNT 5").await;
    assert_eq!(tail, r#"[["1000-0", ["field", "value"]], ["999-0", ["field", "value"]], ["998-0", ["field", "value"]]]"#);
    // Entries with different fields in one block keep their own fields.
    call(&mut c, "XADD s 1001 other 1 more 2").await;
    assert_eq!(call(&mut c, "XRANGE s 1001 +").await, r#"[["1001-0", ["other", "1", "more", "2"]]]"#);
}

#[tokio::test]
async fn xdel_removes_entries_and_remembers_the_largest_deleted_id() {
    let server = support::start().await;
    let mut c = server.raw().await;
    for id in ["1", "2", "3"] {
        call(&mut c, &format!("XADD s {id} f v")).await;
    }
    assert_eq!(call(&mut c, "XDEL s 2-0 9-9 2-0").await, "1");
    assert_eq!(call(&mut c, "XDEL s bad").await, "(error) ERR Invalid stream ID specified as stream command argument");
    assert_eq!(call(&mut c, "XDEL missing 1-0").await, "0");
    assert_eq!(call(&mut c, "XRANGE s - +").await, r#"[["1-0", ["f", "v"]], ["3-0", ["f", "v"]]]"#);
    assert_eq!(call(&mut c, "XDEL s 3-0").await, "1");
    // Deleting the top entry does not let an ID go backwards.
    assert_eq!(call(&mut c, "XADD s 3 f v").await, "(error) ERR The ID specified in XADD is equal or smaller than the target stream top item");
    let info = call(&mut c, "XINFO STREAM s").await;
    assert!(info.contains(r#""max-deleted-entry-id", "3-0""#), "{info}");
    assert!(info.contains(r#""entries-added", "3""#) || info.contains(r#""entries-added", 3"#), "{info}");
}

#[tokio::test]
async fn exact_trims_keep_precisely_the_threshold_and_approximate_ones_whole_blocks() {
    let server = support::start().await;
    let mut c = server.raw().await;
    for i in 1..=250 {
        c.send_command(&[b"XADD", b"s", format!("{i}").as_bytes(), b"f", b"v"]).await;
    }
    for _ in 1..=250 {
        next_reply(&mut c).await;
    }
    // Blocks hold 100 entries, as Redis's nodes do: ~ 120 can only drop the first block.
    assert_eq!(call(&mut c, "XTRIM s MAXLEN ~ 120").await, "100");
    assert_eq!(call(&mut c, "XTRIM s MAXLEN ~ 120 LIMIT 50").await, "0");
    assert_eq!(call(&mut c, "XTRIM s MAXLEN = 120").await, "30");
    assert_eq!(call(&mut c, "XRANGE s - + COUNT 1").await, r#"[["131-0", ["f", "v"]]]"#);
    assert_eq!(call(&mut c, "XTRIM s MINID 200").await, "69");
    assert_eq!(call(&mut c, "XLEN s").await, "51");
    assert!(call(&mut c, "XADD s MAXLEN 2 * f v").await.len() > 2);
    assert_eq!(call(&mut c, "XLEN s").await, "2");
    assert_eq!(call(&mut c, "XADD s MINID 0 LIMIT 10 * f v").await, "(error) ERR syntax error, LIMIT cannot be used without the special ~ option");
    assert_eq!(call(&mut c, "XADD s LIMIT 10 * f v").await, "(error) ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
    assert_eq!(call(&mut c, "XTRIM s MAXLEN 1 MINID 1").await, "(error) ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
    assert_eq!(call(&mut c, "XTRIM s MAXLEN -1").await, "(error) ERR The MAXLEN argument must be >= 0.");
    assert_eq!(call(&mut c, "XTRIM s MAXLEN ~ 1 LIMIT -1").await, "(error) ERR The LIMIT argument must be >= 0.");
    assert_eq!(call(&mut c, "XTRIM s FOO 1").await, "(error) ERR syntax error");
    assert_eq!(call(&mut c, "XTRIM missing MAXLEN 0").await, "0");
    assert!(call(&mut c, "XADD s MAXLEN 0 * f v").await.len() > 2);
    assert_eq!(call(&mut c, "XLEN s").await, "0");
    assert_eq!(call(&mut c, "EXISTS s").await, "1");
}

#[tokio::test]
async fn xsetid_moves_the_last_id_and_counters_with_redis_checks() {
    let server = support::start().await;
    let mut c = server.raw().await;
    call(&mut c, "XADD s 5 f v").await;
    assert_eq!(call(&mut c, "XSETID s 4-0").await, "(error) ERR The ID specified in XSETID is smaller than the target stream top item");
    assert_eq!(call(&mut c, "XSETID s 4-0 ENTRIESADDED 0").await, "(error) ERR The ID specified in XSETID is smaller than the target stream top item");
    assert_eq!(call(&mut c, "XSETID s 9-0 ENTRIESADDED 0").await, "(error) ERR The entries_added specified in XSETID is smaller than the target stream length");
    assert_eq!(call(&mut c, "XSETID s 9-0 ENTRIESADDED -1").await, "(error) ERR entries_added must be positive");
    assert_eq!(call(&mut c, "XSETID s 9-0 MAXDELETEDID 10-0").await, "(error) ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
    assert_eq!(call(&mut c, "XSETID missing 1-0").await, "(error) ERR no such key");
    assert_eq!(call(&mut c, "XSETID s 9-0 ENTRIESADDED 7 MAXDELETEDID 8-0").await, "OK");
    let info = call(&mut c, "XINFO STREAM s").await;
    assert!(info.contains(r#""last-generated-id", "9-0""#), "{info}");
    assert!(info.contains(r#""max-deleted-entry-id", "8-0""#), "{info}");
    assert!(info.contains(r#""entries-added", 7"#), "{info}");
    assert_eq!(call(&mut c, "XADD s 9-* f v").await, r#""9-1""#);
    // An empty stream has no top entry, but the ID may still not go below the largest
    // deleted one (7.4).
    call(&mut c, "XTRIM s MAXLEN 0").await;
    assert_eq!(call(&mut c, "XSETID s 1-0").await, "(error) ERR The ID specified in XSETID is smaller than current max_deleted_entry_id");
    assert_eq!(call(&mut c, "XSETID s 8-0").await, "OK");
    assert_eq!(call(&mut c, "XADD s 8-* f v").await, r#""8-1""#);
}

#[tokio::test]
async fn xinfo_stream_reports_metadata_and_full_details() {
    let server = support::start().await;
    let mut c = server.raw().await;
    call(&mut c, "XADD s 1-1 a 1").await;
    call(&mut c, "XADD s 2-1 b 2").await;
    assert_eq!(
        call(&mut c, "XINFO STREAM s").await,
        r#"["length", 2, "radix-tree-keys", 1, "radix-tree-nodes", 2, "last-generated-id", "2-1", "max-deleted-entry-id", "0-0", "entries-added", 2, "recorded-first-entry-id", "1-1", "groups", 0, "first-entry", ["1-1", ["a", "1"]], "last-entry", ["2-1", ["b", "2"]]]"#
    );
    call(&mut c, "HELLO 3").await;
    let full = call(&mut c, "XINFO STREAM s FULL COUNT 1").await;
    assert!(full.starts_with(r#"{"length": 2, "#), "{full}");
    assert!(full.contains(r#""entries": [["1-1", ["a", "1"]]], "groups": []"#), "{full}");
    assert_eq!(call(&mut c, "XINFO STREAM missing").await, "(error) ERR no such key");
    assert_eq!(call(&mut c, "XINFO stream s FOO").await, "(error) ERR unknown subcommand or wrong number of arguments for 'stream'. Try XINFO HELP.");
    call(&mut c, "XTRIM s MAXLEN 0").await;
    let empty = call(&mut c, "XINFO STREAM s").await;
    assert!(empty.contains(r#""first-entry": nil, "last-entry": nil"#), "{empty}");
}

#[tokio::test]
async fn stream_writes_raise_keyspace_events_of_class_t() {
    let server = support::start().await;
    let mut c = server.raw().await;
    let mut sub = server.raw().await;
    call(&mut c, "CONFIG SET notify-keyspace-events Et").await;
    call(&mut sub, "SUBSCRIBE __keyevent@0__:xadd __keyevent@0__:xtrim __keyevent@0__:xdel __keyevent@0__:xsetid __keyevent@0__:xgroup-create __keyevent@0__:xgroup-createconsumer __keyevent@0__:xgroup-delconsumer __keyevent@0__:xgroup-setid __keyevent@0__:xgroup-destroy").await;
    for _ in 1..9 {
        next_reply(&mut sub).await;
    }
    for command in [
        "XADD s MAXLEN 0 1 f v",
        "XADD s 2 f v",
        "XDEL s 2",
        "XSETID s 5-0",
        "XGROUP CREATE s g $",
        "XGROUP CREATECONSUMER s g c",
        "XGROUP DELCONSUMER s g c",
        "XGROUP SETID s g 0",
        "XGROUP DESTROY s g",
    ] {
        assert!(!call(&mut c, command).await.starts_with("(error)"), "{command}");
    }
    let mut events = Vec::new();
    for _ in 0..10 {
        let message = next_reply(&mut sub).await;
        events.push(message.split('"').nth(3).unwrap().trim_start_matches("__keyevent@0__:").to_string());
    }
    assert_eq!(events, ["xadd", "xtrim", "xadd", "xdel", "xsetid", "xgroup-create", "xgroup-createconsumer", "xgroup-delconsumer", "xgroup-setid", "xgroup-destroy"]);
}
