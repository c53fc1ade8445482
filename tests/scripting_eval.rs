//! EVAL, EVALSHA, EVAL_RO, SCRIPT: the `redis` API, conversions and errors, checked against
//! the replies Redis 7 gives (learned from redis-server 7.0.15 and 8.2).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::scripting::sha;
use redis::AsyncCommands;

/// Sends `EVAL body numkeys args...` on a raw connection and returns the reply's bytes.
async fn eval(raw: &mut common::RawClient, body: &str, keys: &[&str], args: &[&str]) -> Vec<u8> {
    let numkeys = keys.len().to_string();
    let mut command: Vec<&[u8]> = vec![b"EVAL", body.as_bytes(), numkeys.as_bytes()];
    command.extend(keys.iter().map(|k| k.as_bytes()));
    command.extend(args.iter().map(|a| a.as_bytes()));
    raw.call(&command).await
}

/// The error suffix Redis 7 adds to errors raised from a script.
fn at(body: &str, line: u32) -> String {
    format!(" script: {}, on @user_script:{line}.", sha(body))
}

#[tokio::test]
async fn eval_returns_converted_values() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(eval(&mut raw, "return 1", &[], &[]).await, b":1\r\n");
    assert_eq!(eval(&mut raw, "return 3.99", &[], &[]).await, b":3\r\n");
    assert_eq!(eval(&mut raw, "return -3.99", &[], &[]).await, b":-3\r\n");
    assert_eq!(eval(&mut raw, "return 'ciao'", &[], &[]).await, b"$4\r\nciao\r\n");
    assert_eq!(eval(&mut raw, "return true", &[], &[]).await, b":1\r\n");
    assert_eq!(eval(&mut raw, "return false", &[], &[]).await, b"$-1\r\n");
    assert_eq!(eval(&mut raw, "return nil", &[], &[]).await, b"$-1\r\n");
    assert_eq!(eval(&mut raw, "return {1,2,nil,4}", &[], &[]).await, b"*2\r\n:1\r\n:2\r\n");
    assert_eq!(
        eval(&mut raw, "return {1,2,{ok='fine'},{err='bad'}, false, true, 2.5, {3, 'x'}}", &[], &[]).await,
        b"*8\r\n:1\r\n:2\r\n+fine\r\n-bad\r\n$-1\r\n:1\r\n:2\r\n*2\r\n:3\r\n$1\r\nx\r\n"
    );
    assert_eq!(eval(&mut raw, "return {err='My Error'}", &[], &[]).await, b"-My Error\r\n");
    assert_eq!(eval(&mut raw, "return {ok='FINE'}", &[], &[]).await, b"+FINE\r\n");
    assert_eq!(eval(&mut raw, "return {err=3}", &[], &[]).await, b"*0\r\n");
}

#[tokio::test]
async fn keys_and_argv_reach_the_script() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(eval(&mut raw, "return {KEYS[1], KEYS[2], ARGV[1]}", &["a", "b"], &["c"]).await, b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    assert_eq!(eval(&mut raw, "return 1", &[], &[]).await, b":1\r\n");
    assert_eq!(raw.call(&[b"EVAL", b"return 1", b"-1"]).await, b"-ERR Number of keys can't be negative\r\n");
    assert_eq!(raw.call(&[b"EVAL", b"return 1", b"2", b"a"]).await, b"-ERR Number of keys can't be greater than number of args\r\n");
    assert_eq!(raw.call(&[b"EVAL", b"return 1", b"x"]).await, b"-ERR value is not an integer or out of range\r\n");
}

#[tokio::test]
async fn redis_call_runs_commands_and_converts_their_replies() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(eval(&mut raw, "return redis.call('set', KEYS[1], ARGV[1])", &["k"], &["v"]).await, b"+OK\r\n");
    assert_eq!(eval(&mut raw, "return redis.call('get', KEYS[1])", &["k"], &[]).await, b"$1\r\nv\r\n");
    assert_eq!(eval(&mut raw, "return redis.call('get', 'missing') == false", &[], &[]).await, b":1\r\n");
    assert_eq!(eval(&mut raw, "return redis.call('incrby', 'n', 5) + 1", &[], &[]).await, b":6\r\n");
    assert_eq!(eval(&mut raw, "return redis.call('set', 'f', 3.5)", &[], &[]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"GET", b"f"]).await, b"$3\r\n3.5\r\n");
    assert_eq!(eval(&mut raw, "return redis.call('set', 'f', 1e20)", &[], &[]).await, b"+OK\r\n");
    assert_eq!(raw.call(&[b"GET", b"f"]).await, b"$5\r\n1e+20\r\n");
    assert_eq!(eval(&mut raw, "return redis.call('get', 'k')['ok']", &[], &[]).await, b"$-1\r\n");
    assert_eq!(eval(&mut raw, "return redis.call('ping')['ok']", &[], &[]).await, b"$4\r\nPONG\r\n");
}

#[tokio::test]
async fn redis_call_raises_and_pcall_returns_command_errors() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let body = "redis.call('set','k','v'); return redis.call('lpush','k','v')";
    let expected = format!("-WRONGTYPE Operation against a key holding the wrong kind of value{}\r\n", at(body, 1));
    assert_eq!(eval(&mut raw, body, &[], &[]).await, expected.as_bytes());
    assert_eq!(
        eval(&mut raw, "return redis.pcall('lpush','k','v')", &[], &[]).await,
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        eval(&mut raw, "local t = redis.pcall('nosuch'); return t['err']", &[], &[]).await,
        b"$44\r\nERR Unknown Redis command called from script\r\n"
    );
    for (body, text) in [
        ("return redis.call('nosuch')", "ERR Unknown Redis command called from script"),
        ("return redis.call('set','a')", "ERR Wrong number of args calling Redis command from script"),
        ("return redis.call()", "ERR Please specify at least one argument for this redis lib call"),
        ("return redis.call('get', {})", "ERR Lua redis lib command arguments must be strings or integers"),
        ("return redis.call('multi')", "ERR This Redis command is not allowed from script"),
        ("return redis.call('subscribe', 'c')", "ERR This Redis command is not allowed from script"),
        ("return redis.call('eval', 'return 1', 0)", "ERR This Redis command is not allowed from script"),
    ] {
        let expected = format!("-{text}{}\r\n", at(body, 1));
        assert_eq!(String::from_utf8_lossy(&eval(&mut raw, body, &[], &[]).await), expected, "{body}");
    }
}

#[tokio::test]
async fn script_errors_name_the_script_and_line() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    for (body, expected) in [
        ("return x", format!("-ERR user_script:1: Script attempted to access nonexistent global variable 'x'{}\r\n", at("return x", 1))),
        ("x = 1", format!("-ERR user_script:1: Attempt to modify a readonly table{}\r\n", at("x = 1", 1))),
        ("redis.x = 1", format!("-ERR user_script:1: Attempt to modify a readonly table{}\r\n", at("redis.x = 1", 1))),
        ("error('boom')", format!("-ERR user_script:1: boom{}\r\n", at("error('boom')", 1))),
        ("error({err='boomtable'})", format!("-boomtable{}\r\n", at("error({err='boomtable'})", 1))),
        ("error({err='-BOOM table'})", format!("--BOOM table{}\r\n", at("error({err='-BOOM table'})", 1))),
        ("\nlocal a = 1\nreturn nope", format!("-ERR user_script:3: Script attempted to access nonexistent global variable 'nope'{}\r\n", at("\nlocal a = 1\nreturn nope", 3))),
    ] {
        assert_eq!(String::from_utf8_lossy(&eval(&mut raw, body, &[], &[]).await), expected, "{body}");
    }
    assert_eq!(
        eval(&mut raw, "return 1 +", &[], &[]).await,
        b"-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n"
    );
    assert_eq!(
        eval(&mut raw, "return {pcall(function() string.x = 1 end)}", &[], &[]).await,
        b"*2\r\n$-1\r\n$49\r\nuser_script:1: Attempt to modify a readonly table\r\n"
    );
}

#[tokio::test]
async fn evalsha_runs_cached_scripts_and_answers_noscript_otherwise() {
    let server = common::start().await;
    let mut con = server.client().await;
    let body = "return ARGV[1]";
    let loaded: String = redis::cmd("SCRIPT").arg("LOAD").arg(body).query_async(&mut con).await.unwrap();
    assert_eq!(loaded, sha(body));
    let reply: String = redis::cmd("EVALSHA").arg(&loaded).arg(0).arg("hi").query_async(&mut con).await.unwrap();
    assert_eq!(reply, "hi");
    let upper: String = redis::cmd("EVALSHA").arg(loaded.to_uppercase()).arg(0).arg("up").query_async(&mut con).await.unwrap();
    assert_eq!(upper, "up");
    let exists: Vec<i64> = redis::cmd("SCRIPT").arg("EXISTS").arg(&loaded).arg("ffff").query_async(&mut con).await.unwrap();
    assert_eq!(exists, vec![1, 0]);
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").arg("ASYNC").query_async(&mut con).await.unwrap();
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"EVALSHA", loaded.as_bytes(), b"0"]).await, b"-NOSCRIPT No matching script. Please use EVAL.\r\n");
    assert_eq!(raw.call(&[b"EVALSHA", b"fff", b"0"]).await, b"-NOSCRIPT No matching script. Please use EVAL.\r\n");
    assert_eq!(raw.call(&[b"SCRIPT", b"FLUSH", b"LATER"]).await, b"-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n");
    // EVAL caches what it runs.
    assert_eq!(eval(&mut raw, body, &[], &["x"]).await, b"$1\r\nx\r\n");
    assert_eq!(raw.call(&[b"SCRIPT", b"EXISTS", loaded.as_bytes()]).await, b"*1\r\n:1\r\n");
    assert_eq!(raw.call(&[b"SCRIPT", b"KILL"]).await, b"-NOTBUSY No scripts in execution right now.\r\n");
}

#[tokio::test]
async fn a_client_falls_back_from_evalsha_to_eval_as_client_libraries_do() {
    let server = common::start().await;
    let mut con = server.client().await;
    let body = "return redis.call('incrby', KEYS[1], ARGV[1])";
    let missing: redis::RedisResult<i64> = redis::cmd("EVALSHA").arg(sha(body)).arg(1).arg("counter").arg(2).query_async(&mut con).await;
    assert_eq!(missing.unwrap_err().code(), Some("NOSCRIPT"));
    let first: i64 = redis::cmd("EVAL").arg(body).arg(1).arg("counter").arg(2).query_async(&mut con).await.unwrap();
    let second: i64 = redis::cmd("EVALSHA").arg(sha(body)).arg(1).arg("counter").arg(3).query_async(&mut con).await.unwrap();
    assert_eq!((first, second), (2, 5));
    let value: i64 = con.get("counter").await.unwrap();
    assert_eq!(value, 5);
}

#[tokio::test]
async fn redis_call_works_from_a_coroutine_and_sends_numbers_as_redis_does() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let body = "local co = coroutine.wrap(function() return redis.call('SET', KEYS[1], ARGV[1]) end)
return {co()['ok'], redis.call('GET', KEYS[1]), redis.call('ECHO', 2.5), redis.call('ECHO', 7), redis.call('ECHO', -0.0)}";
    assert_eq!(
        eval(&mut raw, body, &["k"], &["v"]).await,
        b"*5\r\n$2\r\nOK\r\n$1\r\nv\r\n$3\r\n2.5\r\n$1\r\n7\r\n$2\r\n-0\r\n"
    );
}

#[tokio::test]
async fn the_same_body_and_any_case_of_its_sha_run_the_cached_script() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let body = "return redis.call('INCR', KEYS[1])";
    for expected in [b":1\r\n", b":2\r\n"] {
        assert_eq!(eval(&mut raw, body, &["n"], &[]).await, expected);
    }
    let upper = sha(body).to_ascii_uppercase();
    assert_eq!(raw.call(&[b"EVALSHA", upper.as_bytes(), b"1", b"n"]).await, b":3\r\n");
    assert_eq!(raw.call(&[b"SCRIPT", b"EXISTS", upper.as_bytes(), b"abc"]).await, b"*2\r\n:1\r\n:0\r\n");
    assert_eq!(raw.call(&[b"SCRIPT", b"FLUSH"]).await, b"+OK\r\n");
    assert_eq!(
        raw.call(&[b"EVALSHA", upper.as_bytes(), b"1", b"n"]).await,
        b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    );
    assert_eq!(eval(&mut raw, body, &["n"], &[]).await, b":4\r\n");
}

#[tokio::test]
async fn a_failing_command_leaves_the_next_script_working() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let failing = "return redis.call('INCR', KEYS[1])";
    assert_eq!(raw.call(&[b"SET", b"s", b"text"]).await, b"+OK\r\n");
    let reply = eval(&mut raw, failing, &["s"], &[]).await;
    assert!(reply.starts_with(b"-ERR value is not an integer or out of range script: "), "{}", String::from_utf8_lossy(&reply));
    assert_eq!(eval(&mut raw, "return redis.pcall('NOPE')['err']", &[], &[]).await, b"$44\r\nERR Unknown Redis command called from script\r\n");
    assert_eq!(eval(&mut raw, failing, &["i"], &[]).await, b":1\r\n");
}

#[tokio::test]
async fn eval_keeps_the_500_most_recently_run_scripts_it_cached_and_script_load_keeps_its_own() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let evalsha = |body: &str| sha(body);
    assert_eq!(raw.call(&[b"SCRIPT", b"LOAD", b"return 'kept'"]).await, format!("$40\r\n{}\r\n", sha("return 'kept'")).into_bytes());
    // Cached by EVAL first: SCRIPT LOAD afterwards leaves it evictable (as Redis 8.2 does).
    assert_eq!(raw.call(&[b"EVAL", b"return 'evicted first'", b"0"]).await, b"$13\r\nevicted first\r\n");
    raw.call(&[b"SCRIPT", b"LOAD", b"return 'evicted first'"]).await;
    for i in 0..500 {
        let body = format!("return {i}");
        assert_eq!(raw.call(&[b"EVAL", body.as_bytes(), b"0"]).await, format!(":{i}\r\n").into_bytes());
    }
    let noscript = b"-NOSCRIPT No matching script. Please use EVAL.\r\n".to_vec();
    assert_eq!(raw.call(&[b"EVALSHA", evalsha("return 'evicted first'").as_bytes(), b"0"]).await, noscript);
    // Running "return 0" again makes "return 1" the least recently run.
    assert_eq!(raw.call(&[b"EVALSHA", evalsha("return 0").as_bytes(), b"0"]).await, b":0\r\n");
    assert_eq!(raw.call(&[b"EVAL", b"return 500", b"0"]).await, b":500\r\n");
    assert_eq!(raw.call(&[b"EVALSHA", evalsha("return 1").as_bytes(), b"0"]).await, noscript);
    assert_eq!(raw.call(&[b"EVALSHA", evalsha("return 0").as_bytes(), b"0"]).await, b":0\r\n");
    assert_eq!(raw.call(&[b"EVALSHA", evalsha("return 'kept'").as_bytes(), b"0"]).await, b"$4\r\nkept\r\n");
    let info = String::from_utf8(raw.call(&[b"INFO"]).await).unwrap();
    assert!(info.contains("\r\nnumber_of_cached_scripts:501\r\n"), "{info}");
    assert!(info.contains("\r\nevicted_scripts:2\r\n"), "{info}");
}
