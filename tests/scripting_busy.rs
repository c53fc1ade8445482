//! The script time limit: -BUSY for other clients past busy-reply-threshold, SCRIPT KILL,
//! UNKILLABLE after a write; and that a script is atomic and wakes blocked clients after it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::scripting::{busy_reply, sha, wait_for_busy};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn script_kill_stops_a_busy_script_that_has_not_written() {
    let server = common::start().await;
    let mut admin = server.raw().await;
    assert_eq!(admin.call(&[b"CONFIG", b"SET", b"lua-time-limit", b"50"]).await, b"+OK\r\n");
    assert_eq!(admin.call(&[b"CONFIG", b"GET", b"busy-reply-threshold"]).await, b"*2\r\n$20\r\nbusy-reply-threshold\r\n$2\r\n50\r\n");
    let body = "local i = 0 while true do i = i + 1 end";
    let mut runner = server.raw().await;
    runner.send_command(&[b"EVAL", body.as_bytes(), b"0"]).await;
    let mut other = server.raw().await;
    wait_for_busy(&mut other, &busy_reply("SCRIPT")).await;
    assert_eq!(other.call(&[b"SCRIPT", b"KILL"]).await, b"+OK\r\n");
    let killed = format!("-ERR Script killed by user with SCRIPT KILL... script: {}, on @user_script:1.\r\n", sha(body));
    assert_eq!(String::from_utf8_lossy(&runner.read_reply().await.unwrap()), killed);
    assert_eq!(other.call(&[b"PING"]).await, b"+PONG\r\n");
    assert_eq!(other.call(&[b"SCRIPT", b"KILL"]).await, b"-NOTBUSY No scripts in execution right now.\r\n");
    assert_eq!(runner.call(&[b"EVAL", b"return 1", b"0"]).await, b":1\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scripts_writes_are_atomic_to_a_concurrent_client() {
    let server = common::start().await;
    let mut reader = server.raw().await;
    let mut writer = server.raw().await;
    let body = "for i = 1, 2000 do redis.call('incr', 'c') end return redis.call('get', 'c')";
    let script = tokio::spawn(async move {
        let mut replies = Vec::new();
        for _ in 0..5 {
            replies.push(writer.call(&[b"EVAL", body.as_bytes(), b"0"]).await);
        }
        replies
    });
    let mut seen = Vec::new();
    while !script.is_finished() {
        seen.push(reader.call(&[b"GET", b"c"]).await);
    }
    let replies = script.await.unwrap();
    assert_eq!(replies.last().unwrap(), b"$5\r\n10000\r\n");
    let allowed: Vec<Vec<u8>> = std::iter::once(b"$-1\r\n".to_vec())
        .chain((0..=5).map(|n| format!("${}\r\n{}\r\n", (n * 2000).to_string().len(), n * 2000).into_bytes()))
        .collect();
    for reply in &seen {
        assert!(allowed.contains(reply), "saw a script half done: {}", String::from_utf8_lossy(reply));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn brpop_is_woken_after_a_script_pushes() {
    let server = common::start().await;
    let mut blocked = server.raw().await;
    blocked.send_command(&[b"BRPOP", b"jobs", b"0"]).await;
    let mut admin = server.raw().await;
    for _ in 0..1000 {
        if admin.call(&[b"CLIENT", b"LIST"]).await.windows(10).any(|w| w == b"cmd=brpop ") {
            break;
        }
    }
    let mut pusher = server.raw().await;
    let body = "redis.call('lpush', KEYS[1], 'a') redis.call('lpush', KEYS[1], 'b') return redis.call('llen', KEYS[1])";
    assert_eq!(pusher.call(&[b"EVAL", body.as_bytes(), b"1", b"jobs"]).await, b":2\r\n");
    assert_eq!(blocked.read_reply().await.unwrap(), b"*2\r\n$4\r\njobs\r\n$1\r\na\r\n");
    assert_eq!(pusher.call(&[b"LRANGE", b"jobs", b"0", b"-1"]).await, b"*1\r\n$1\r\nb\r\n");
}

#[tokio::test]
async fn blocking_commands_answer_at_once_inside_a_script() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"EVAL", b"return redis.call('blpop', 'empty', 0)", b"0"]).await, b"$-1\r\n");
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn function_stats_shows_the_running_function_to_another_client() {
    let server = common::start().await;
    let mut admin = server.raw().await;
    assert_eq!(admin.call(&[b"CONFIG", b"SET", b"busy-reply-threshold", b"50"]).await, b"+OK\r\n");
    let library = "#!lua name=spin\nredis.register_function('spin', function(keys, args) while true do end end)";
    assert_eq!(admin.call(&[b"FUNCTION", b"LOAD", library.as_bytes()]).await, b"$4\r\nspin\r\n");
    let mut runner = server.raw().await;
    runner.send_command(&[b"fcall", b"SPIN", b"1", b"k", b"arg"]).await;
    let mut other = server.raw().await;
    wait_for_busy(&mut other, &busy_reply("FUNCTION")).await;
    let stats = String::from_utf8(other.call(&[b"FUNCTION", b"STATS"]).await).unwrap();
    let running = "*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n*5\r\n$5\r\nfcall\r\n$4\r\nSPIN\r\n$1\r\n1\r\n$1\r\nk\r\n$3\r\narg\r\n$11\r\nduration_ms\r\n:";
    let engines = "\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n";
    let duration = stats.strip_prefix(running).and_then(|rest| rest.strip_suffix(engines)).expect(&stats);
    assert!(duration.parse::<u64>().unwrap() >= 50, "{stats}");
    // Arity is checked before the busy state, as in Redis.
    assert_eq!(
        other.call(&[b"FUNCTION", b"STATS", b"x"]).await,
        b"-ERR wrong number of arguments for 'function|stats' command\r\n"
    );
    assert_eq!(other.call(&[b"FUNCTION", b"KILL"]).await, b"+OK\r\n");
    assert!(runner.read_reply().await.unwrap().starts_with(b"-ERR Script killed by user with FUNCTION KILL..."));
    let idle = "*4\r\n$14\r\nrunning_script\r\n$-1\r\n";
    assert!(String::from_utf8(other.call(&[b"FUNCTION", b"STATS"]).await).unwrap().starts_with(idle));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn function_stats_is_busy_while_an_eval_script_runs() {
    let server = common::start().await;
    let mut admin = server.raw().await;
    assert_eq!(admin.call(&[b"CONFIG", b"SET", b"busy-reply-threshold", b"50"]).await, b"+OK\r\n");
    let mut runner = server.raw().await;
    runner.send_command(&[b"EVAL", b"while true do end", b"0"]).await;
    let mut other = server.raw().await;
    wait_for_busy(&mut other, &busy_reply("SCRIPT")).await;
    assert_eq!(other.call(&[b"FUNCTION", b"STATS"]).await, busy_reply("SCRIPT"));
    assert_eq!(other.call(&[b"NOSUCH"]).await, b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n");
    assert_eq!(other.call(&[b"SCRIPT", b"KILL"]).await, b"+OK\r\n");
    assert!(runner.read_reply().await.unwrap().starts_with(b"-ERR Script killed by user with SCRIPT KILL..."));
}
