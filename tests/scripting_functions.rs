//! Redis Functions: FUNCTION LOAD / LIST / DELETE / FLUSH / DUMP / RESTORE / STATS / KILL /
//! HELP, FCALL and FCALL_RO, `redis.register_function` in both forms, flags, and the exact error
//! texts (checked against redis-server 7.0 and 8.2). Byte-level checks use the raw client.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::RawClient;

/// A library named `name` whose body (after the shebang line) is `body`.
fn library(name: &str, body: &str) -> Vec<u8> {
    format!("#!lua name={name}\n{body}").into_bytes()
}

async fn load(raw: &mut RawClient, code: &[u8]) -> Vec<u8> {
    raw.call(&[b"FUNCTION", b"LOAD", code]).await
}

fn error(text: &str) -> Vec<u8> {
    format!("-{text}\r\n").into_bytes()
}

fn bulk(text: &str) -> Vec<u8> {
    format!("${}\r\n{text}\r\n", text.len()).into_bytes()
}

/// The error FUNCTION LOAD gives when the library's code raised `text`.
fn registering(text: &str) -> Vec<u8> {
    error(&format!("ERR Error registering functions: {text}"))
}

#[tokio::test]
async fn function_load_replies_the_library_name_and_fcall_runs_its_function() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let code = library("mylib", "redis.register_function('hello', function(keys, args) return 'hi ' .. args[1] end)");
    assert_eq!(load(&mut raw, &code).await, bulk("mylib"));
    assert_eq!(raw.call(&[b"FCALL", b"hello", b"0", b"you"]).await, bulk("hi you"));
}

#[tokio::test]
async fn functions_get_keys_and_args_as_parameters_not_as_globals() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let code = library(
        "lib",
        "redis.register_function('echo', function(keys, args) return {keys, args} end)\n\
         redis.register_function('globals', function(keys, args) return KEYS end)",
    );
    load(&mut raw, &code).await;
    assert_eq!(
        raw.call(&[b"FCALL", b"echo", b"2", b"k1", b"k2", b"a1"]).await,
        b"*2\r\n*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n*1\r\n$2\r\na1\r\n".to_vec()
    );
}

#[tokio::test]
async fn functions_call_commands_and_top_level_helpers_of_their_library() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let code = library(
        "counter",
        "local function bump(key, by) return redis.call('INCRBY', key, by) end\n\
         redis.register_function('bump', function(keys, args) return bump(keys[1], args[1]) end)",
    );
    load(&mut raw, &code).await;
    assert_eq!(raw.call(&[b"FCALL", b"bump", b"1", b"c", b"5"]).await, b":5\r\n".to_vec());
    assert_eq!(raw.call(&[b"FCALL", b"bump", b"1", b"c", b"2"]).await, b":7\r\n".to_vec());
    assert_eq!(raw.call(&[b"GET", b"c"]).await, bulk("7"));
}

#[tokio::test]
async fn function_names_are_case_insensitive_but_library_names_are_not() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    load(&mut raw, &library("lib", "redis.register_function('Fn', function() return 1 end)")).await;
    assert_eq!(raw.call(&[b"FCALL", b"fN", b"0"]).await, b":1\r\n".to_vec());
    assert_eq!(
        load(&mut raw, &library("LIB", "redis.register_function('other', function() return 2 end)")).await,
        bulk("LIB")
    );
    assert_eq!(
        load(&mut raw, &library("third", "redis.register_function('FN', function() return 3 end)")).await,
        error("ERR Function FN already exists")
    );
}

#[tokio::test]
async fn loading_an_existing_library_needs_replace_and_replace_swaps_its_functions() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    load(&mut raw, &library("lib", "redis.register_function('old', function() return 1 end)")).await;
    let new = library("lib", "redis.register_function('new', function() return 2 end)");
    assert_eq!(load(&mut raw, &new).await, error("ERR Library 'lib' already exists"));
    assert_eq!(raw.call(&[b"FUNCTION", b"LOAD", b"replace", &new]).await, bulk("lib"));
    assert_eq!(raw.call(&[b"FCALL", b"new", b"0"]).await, b":2\r\n".to_vec());
    assert_eq!(raw.call(&[b"FCALL", b"old", b"0"]).await, error("ERR Function not found"));
    assert_eq!(raw.call(&[b"FUNCTION", b"LOAD", b"bogus", &new]).await, error("ERR Unknown option given: bogus"));
}

#[tokio::test]
async fn a_failed_replace_keeps_the_old_library() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    load(&mut raw, &library("lib", "redis.register_function('keep', function() return 1 end)")).await;
    let broken = library("lib", "redis.register_function('keep', function() return 1 end");
    let reply = raw.call(&[b"FUNCTION", b"LOAD", b"REPLACE", &broken]).await;
    assert!(reply.starts_with(b"-ERR Error compiling function: user_function:2:"), "{}", String::from_utf8_lossy(&reply));
    assert_eq!(raw.call(&[b"FCALL", b"keep", b"0"]).await, b":1\r\n".to_vec());
}

#[tokio::test]
async fn library_metadata_errors_are_worded_as_redis_words_them() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let body = "\nredis.register_function('f', function() return 1 end)";
    let cases: &[(&str, &str)] = &[
        ("return 1", "ERR Missing library metadata"),
        ("#!lua name=x", "ERR Invalid library metadata"),
        ("#!lua", "ERR Library name was not given"),
        ("#!lua foo=x", "ERR Invalid metadata value given: foo=x"),
        ("#!lua name=a name=b", "ERR Invalid metadata value, name argument was given multiple times"),
        ("#!js name=x", "ERR Engine 'js' not found"),
        (
            "#!lua name=a-b",
            "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        ),
    ];
    for (shebang, expected) in cases {
        let code = if *shebang == "#!lua name=x" || *shebang == "return 1" {
            shebang.to_string()
        } else {
            format!("{shebang}{body}")
        };
        assert_eq!(load(&mut raw, code.as_bytes()).await, error(expected), "for {shebang}");
    }
}

#[tokio::test]
async fn register_function_errors_are_worded_as_redis_words_them() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let cases: &[(&str, &str)] = &[
        ("redis.register_function('g')", "ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."),
        ("redis.register_function('g', 1)", "ERR second argument to redis.register_function must be a function"),
        ("redis.register_function({}, function() end)", "ERR first argument to redis.register_function must be a string"),
        ("redis.register_function()", "ERR wrong number of arguments to redis.register_function"),
        ("redis.register_function('g', function() end, 2)", "ERR wrong number of arguments to redis.register_function"),
        ("redis.register_function{function_name='g', callback=function() end, flags={'bad'}}", "ERR unknown flag given"),
        ("redis.register_function{function_name='g', callback=function() end, foo=1}", "ERR unknown argument given to redis.register_function"),
        ("redis.register_function{function_name='g'}", "ERR redis.register_function must get a callback argument"),
        ("redis.register_function{callback=function() end}", "ERR redis.register_function must get a function name argument"),
        ("redis.register_function{function_name='g', callback=function() end, flags='no-writes'}", "ERR flags argument to redis.register_function must be a table representing function flags"),
        ("redis.register_function{function_name='g', callback=1}", "ERR callback argument given to redis.register_function must be a function"),
        ("redis.register_function{function_name={}, callback=function() end}", "ERR function_name argument given to redis.register_function must be a string"),
        ("redis.register_function{function_name='g', callback=function() end, description={}}", "ERR description argument given to redis.register_function must be a string"),
        ("redis.register_function('g-h', function() end)", "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("redis.register_function('g', function() end) redis.register_function('G', function() end)", "ERR Function already exists in the library"),
    ];
    // The last case differs from Redis on purpose: Redis 7.0 and 8.2 load a library with 'g' and
    // 'G', then crash on FUNCTION DELETE of it (its function index ignores case, the library's
    // does not); Herald refuses the load.
    for (body, expected) in cases {
        assert_eq!(load(&mut raw, &library("lib", body)).await, registering(expected), "for {body}");
    }
    assert_eq!(load(&mut raw, &library("lib", "local x = 1")).await, error("ERR No functions registered"));
}

#[tokio::test]
async fn a_library_sees_only_register_function_and_log_while_it_loads() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let missing = |name: &str| registering(&format!("ERR user_function:2: Script attempted to access nonexistent global variable '{name}'"));
    assert_eq!(load(&mut raw, &library("lib", "redis.call('set', 'a', 'b')")).await, missing("call"));
    assert_eq!(load(&mut raw, &library("lib", "local s = string.len('x')")).await, missing("string"));
    assert_eq!(load(&mut raw, &library("lib", "local k = KEYS")).await, missing("KEYS"));
    assert_eq!(
        load(&mut raw, &library("lib", "x = 1")).await,
        registering("ERR user_function:2: Attempt to modify a readonly table")
    );
    let fine = library(
        "lib",
        "redis.log(redis.LOG_NOTICE, 'loading ' .. redis.REDIS_VERSION)\n\
         redis.register_function('f', function() return 1 end)",
    );
    assert_eq!(load(&mut raw, &fine).await, bulk("lib"));
}

#[tokio::test]
async fn register_function_is_gone_once_the_library_is_loaded() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let code = library(
        "lib",
        "redis.register_function('again', function() redis.register_function('z', function() end) end)\n\
         redis.register_function('setglobal', function() y = 1 end)",
    );
    load(&mut raw, &code).await;
    assert_eq!(
        raw.call(&[b"FCALL", b"again", b"0"]).await,
        error("ERR user_function:2: attempt to call field 'register_function' (a nil value) script: again, on @user_function:2.")
    );
    assert_eq!(
        raw.call(&[b"FCALL", b"setglobal", b"0"]).await,
        error("ERR user_function:3: Attempt to modify a readonly table script: setglobal, on @user_function:3.")
    );
}

#[tokio::test]
async fn a_library_that_loops_forever_while_loading_is_stopped() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(
        load(&mut raw, &library("lib", "while true do end")).await,
        registering("ERR FUNCTION LOAD timeout")
    );
    assert_eq!(raw.call(&[b"PING"]).await, b"+PONG\r\n".to_vec());
}

#[tokio::test]
async fn fcall_checks_the_function_then_the_number_of_keys() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    load(&mut raw, &library("lib", "redis.register_function('f', function() return 1 end)")).await;
    assert_eq!(raw.call(&[b"FCALL", b"nosuch", b"x"]).await, error("ERR Function not found"));
    assert_eq!(raw.call(&[b"FCALL", b"f", b"x"]).await, error("ERR Bad number of keys provided"));
    assert_eq!(raw.call(&[b"FCALL", b"f", b"-1"]).await, error("ERR Number of keys can't be negative"));
    assert_eq!(
        raw.call(&[b"FCALL", b"f", b"2", b"a"]).await,
        error("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(raw.call(&[b"FCALL", b"f"]).await, error("ERR wrong number of arguments for 'fcall' command"));
}

#[tokio::test]
async fn fcall_ro_refuses_functions_without_the_no_writes_flag() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let code = library(
        "lib",
        "redis.register_function('rw', function(keys) return redis.call('GET', keys[1]) end)\n\
         redis.register_function{function_name='ro', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}\n\
         redis.register_function{function_name='sneaky', callback=function(keys) return redis.call('SET', keys[1], 'x') end, flags={'no-writes'}}",
    );
    load(&mut raw, &code).await;
    raw.call(&[b"SET", b"k", b"v"]).await;
    assert_eq!(
        raw.call(&[b"FCALL_RO", b"rw", b"1", b"k"]).await,
        error("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(raw.call(&[b"FCALL_RO", b"ro", b"1", b"k"]).await, bulk("v"));
    assert_eq!(raw.call(&[b"FCALL", b"rw", b"1", b"k"]).await, bulk("v"));
    let refused = error("ERR Write commands are not allowed from read-only scripts. script: sneaky, on @user_function:4.");
    assert_eq!(raw.call(&[b"FCALL", b"sneaky", b"1", b"k"]).await, refused);
    assert_eq!(raw.call(&[b"FCALL_RO", b"sneaky", b"1", b"k"]).await, refused);
    assert_eq!(raw.call(&[b"GET", b"k"]).await, bulk("v"));
}

#[tokio::test]
async fn errors_inside_a_function_name_the_function_and_line() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let code = library(
        "lib",
        "redis.register_function('unknown', function() return redis.call('nosuch') end)\n\
         redis.register_function('boom', function() error('boom') end)\n\
         redis.register_function('reply', function() return redis.error_reply('MY err') end)",
    );
    load(&mut raw, &code).await;
    assert_eq!(
        raw.call(&[b"FCALL", b"unknown", b"0"]).await,
        error("ERR Unknown Redis command called from script script: unknown, on @user_function:2.")
    );
    assert_eq!(
        raw.call(&[b"FCALL", b"boom", b"0"]).await,
        error("ERR user_function:3: boom script: boom, on @user_function:3.")
    );
    assert_eq!(raw.call(&[b"FCALL", b"reply", b"0"]).await, error("MY err"));
}

#[tokio::test]
async fn function_list_describes_each_library_in_resp2_and_resp3() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let code = library(
        "lib",
        "redis.register_function{function_name='f', callback=function() return 1 end, flags={'allow-oom', 'no-writes'}, description='the f'}",
    );
    load(&mut raw, &code).await;
    let functions = "$9\r\nfunctions\r\n*1\r\n";
    let function = "$4\r\nname\r\n$1\r\nf\r\n$11\r\ndescription\r\n$5\r\nthe f\r\n$5\r\nflags\r\n";
    let resp2 = format!(
        "*1\r\n*6\r\n$12\r\nlibrary_name\r\n$3\r\nlib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n{functions}*6\r\n{function}*2\r\n+no-writes\r\n+allow-oom\r\n"
    );
    assert_eq!(String::from_utf8_lossy(&raw.call(&[b"FUNCTION", b"LIST"]).await), resp2);
    raw.call(&[b"HELLO", b"3"]).await;
    let resp3 = format!(
        "*1\r\n%3\r\n$12\r\nlibrary_name\r\n$3\r\nlib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n{functions}%3\r\n{function}~2\r\n+no-writes\r\n+allow-oom\r\n"
    );
    assert_eq!(String::from_utf8_lossy(&raw.call(&[b"FUNCTION", b"LIST"]).await), resp3);
    let with_code = String::from_utf8_lossy(&raw.call(&[b"FUNCTION", b"LIST", b"WITHCODE"]).await).into_owned();
    let code_field = format!("$12\r\nlibrary_code\r\n${}\r\n{}\r\n", code.len(), String::from_utf8_lossy(&code));
    assert!(with_code.starts_with("*1\r\n%4\r\n") && with_code.ends_with(&code_field), "{with_code}");
}

#[tokio::test]
async fn function_list_filters_by_library_name_pattern() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    for name in ["alpha", "beta", "alps"] {
        load(&mut raw, &library(name, &format!("redis.register_function('{name}_f', function() return 1 end)"))).await;
    }
    let list = raw.call(&[b"FUNCTION", b"LIST", b"LIBRARYNAME", b"al*"]).await;
    let text = String::from_utf8_lossy(&list);
    assert!(text.starts_with("*2\r\n") && text.contains("alpha") && text.contains("alps") && !text.contains("beta"), "{text}");
    assert_eq!(raw.call(&[b"FUNCTION", b"LIST", b"LIBRARYNAME", b"nomatch"]).await, b"*0\r\n".to_vec());
    assert_eq!(raw.call(&[b"FUNCTION", b"LIST", b"foo"]).await, error("ERR Unknown argument foo"));
    assert_eq!(raw.call(&[b"FUNCTION", b"LIST", b"LIBRARYNAME"]).await, error("ERR library name argument was not given"));
    assert_eq!(raw.call(&[b"FUNCTION", b"LIST", b"WITHCODE", b"WITHCODE"]).await, error("ERR Unknown argument WITHCODE"));
}

#[tokio::test]
async fn function_delete_and_flush_remove_libraries() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    load(&mut raw, &library("one", "redis.register_function('f1', function() return 1 end)")).await;
    load(&mut raw, &library("two", "redis.register_function('f2', function() return 2 end)")).await;
    assert_eq!(raw.call(&[b"FUNCTION", b"DELETE", b"ONE"]).await, error("ERR Library not found"));
    assert_eq!(raw.call(&[b"FUNCTION", b"DELETE", b"one"]).await, b"+OK\r\n".to_vec());
    assert_eq!(raw.call(&[b"FCALL", b"f1", b"0"]).await, error("ERR Function not found"));
    assert_eq!(raw.call(&[b"FCALL", b"f2", b"0"]).await, b":2\r\n".to_vec());
    assert_eq!(raw.call(&[b"FUNCTION", b"FLUSH", b"bogus"]).await, error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"));
    assert_eq!(
        raw.call(&[b"FUNCTION", b"FLUSH", b"ASYNC", b"SYNC"]).await,
        error("ERR unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP.")
    );
    assert_eq!(raw.call(&[b"FUNCTION", b"FLUSH", b"async"]).await, b"+OK\r\n".to_vec());
    assert_eq!(raw.call(&[b"FCALL", b"f2", b"0"]).await, error("ERR Function not found"));
    assert_eq!(raw.call(&[b"FUNCTION", b"LIST"]).await, b"*0\r\n".to_vec());
}

#[tokio::test]
async fn script_flush_and_function_flush_leave_each_other_alone() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    load(&mut raw, &library("lib", "redis.register_function('f', function() return 1 end)")).await;
    let sha = raw.call(&[b"SCRIPT", b"LOAD", b"return 2"]).await;
    assert_eq!(raw.call(&[b"SCRIPT", b"FLUSH"]).await, b"+OK\r\n".to_vec());
    assert_eq!(raw.call(&[b"FCALL", b"f", b"0"]).await, b":1\r\n".to_vec());
    let sha = &sha[sha.len() - 42..sha.len() - 2];
    raw.call(&[b"SCRIPT", b"LOAD", b"return 2"]).await;
    raw.call(&[b"FUNCTION", b"FLUSH"]).await;
    assert_eq!(raw.call(&[b"EVALSHA", sha, b"0"]).await, b":2\r\n".to_vec());
}

#[tokio::test]
async fn function_dump_and_restore_round_trip_with_every_policy() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let one = library("one", "redis.register_function('f1', function() return 1 end)");
    load(&mut raw, &one).await;
    load(&mut raw, &library("two", "redis.register_function('f2', function() return 2 end)")).await;
    let dump = raw.call(&[b"FUNCTION", b"DUMP"]).await;
    let start = dump.iter().position(|&b| b == b'\n').unwrap() + 1;
    let payload = dump[start..dump.len() - 2].to_vec();

    // APPEND (the default) refuses a library that exists, and changes nothing.
    assert_eq!(raw.call(&[b"FUNCTION", b"RESTORE", &payload]).await, error("ERR Library one already exists"));
    raw.call(&[b"FUNCTION", b"DELETE", b"two"]).await;
    assert_eq!(raw.call(&[b"FUNCTION", b"RESTORE", &payload, b"APPEND"]).await, error("ERR Library one already exists"));
    assert_eq!(raw.call(&[b"FCALL", b"f2", b"0"]).await, error("ERR Function not found"));

    // REPLACE swaps the colliding library and adds the rest.
    assert_eq!(raw.call(&[b"FUNCTION", b"RESTORE", &payload, b"replace"]).await, b"+OK\r\n".to_vec());
    assert_eq!(raw.call(&[b"FCALL", b"f2", b"0"]).await, b":2\r\n".to_vec());

    // FLUSH drops what is there first.
    raw.call(&[b"FUNCTION", b"DELETE", b"one"]).await;
    load(&mut raw, &library("three", "redis.register_function('f3', function() return 3 end)")).await;
    assert_eq!(raw.call(&[b"FUNCTION", b"RESTORE", &payload, b"FLUSH"]).await, b"+OK\r\n".to_vec());
    assert_eq!(raw.call(&[b"FCALL", b"f1", b"0"]).await, b":1\r\n".to_vec());
    assert_eq!(raw.call(&[b"FCALL", b"f3", b"0"]).await, error("ERR Function not found"));
    assert_eq!(raw.call(&[b"FUNCTION", b"DUMP"]).await, dump);

    // A fresh server takes the same payload.
    let other = common::start().await;
    let mut raw2 = other.raw().await;
    assert_eq!(raw2.call(&[b"FUNCTION", b"RESTORE", &payload]).await, b"+OK\r\n".to_vec());
    assert_eq!(raw2.call(&[b"FCALL", b"f2", b"0"]).await, b":2\r\n".to_vec());
}

#[tokio::test]
async fn function_restore_refuses_bad_payloads_and_policies_with_redis_errors() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let bad = error("ERR DUMP payload version or checksum are wrong");
    assert_eq!(raw.call(&[b"FUNCTION", b"RESTORE", b"foo"]).await, bad);
    assert_eq!(raw.call(&[b"FUNCTION", b"RESTORE", b""]).await, bad);
    assert_eq!(raw.call(&[b"FUNCTION", b"RESTORE", b"0123456789abcdef"]).await, bad);
    assert_eq!(
        raw.call(&[b"FUNCTION", b"RESTORE", b"foo", b"bar"]).await,
        error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
    );
    assert_eq!(
        raw.call(&[b"FUNCTION", b"RESTORE", b"foo", b"flush", b"extra"]).await,
        error("ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP.")
    );
    // An empty but well-formed payload (RDB version 10, as Redis 7.0 writes) restores nothing.
    let empty = b"\x0a\x00\x5d\x9b\x5c\x40\x0f\x7f\xa2\xda";
    let crc = herald::scripting::functions::crc64(&empty[..2]).to_le_bytes();
    assert_eq!(&empty[2..], &crc, "the test payload's checksum");
    assert_eq!(raw.call(&[b"FUNCTION", b"RESTORE", empty]).await, b"+OK\r\n".to_vec());
}

#[tokio::test]
async fn function_restore_reads_a_payload_redis_7_0_dumped() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let payload: &[u8] = b"\xf5@L#!lua name=q\nredis.register_function('q', function(keys, args) return 1 end)\n\x00\xb5M\x8c\xc5\xf8<n\x10";
    assert_eq!(raw.call(&[b"FUNCTION", b"RESTORE", payload]).await, b"+OK\r\n".to_vec());
    assert_eq!(raw.call(&[b"FCALL", b"q", b"0"]).await, b":1\r\n".to_vec());
}

#[tokio::test]
async fn function_stats_counts_libraries_and_functions() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    load(&mut raw, &library("a", "redis.register_function('a1', function() end) redis.register_function('a2', function() end)")).await;
    load(&mut raw, &library("b", "redis.register_function('b1', function() end)")).await;
    let counts = "$15\r\nlibraries_count\r\n:2\r\n$15\r\nfunctions_count\r\n:3\r\n";
    assert_eq!(
        String::from_utf8_lossy(&raw.call(&[b"FUNCTION", b"STATS"]).await),
        format!("*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n{counts}")
    );
    raw.call(&[b"HELLO", b"3"]).await;
    assert_eq!(
        String::from_utf8_lossy(&raw.call(&[b"FUNCTION", b"STATS"]).await),
        format!("%2\r\n$14\r\nrunning_script\r\n_\r\n$7\r\nengines\r\n%1\r\n$3\r\nLUA\r\n%2\r\n{counts}")
    );
}

#[tokio::test]
async fn function_kill_without_a_running_function_is_notbusy_and_help_lists_the_subcommands() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(raw.call(&[b"FUNCTION", b"KILL"]).await, error("NOTBUSY No scripts in execution right now."));
    let help = String::from_utf8_lossy(&raw.call(&[b"FUNCTION", b"HELP"]).await).into_owned();
    assert!(help.starts_with("*"), "{help}");
    for sub in ["LOAD [REPLACE]", "LIST [LIBRARYNAME PATTERN] [WITHCODE]", "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]", "STATS", "KILL"] {
        assert!(help.contains(sub), "{sub} missing from {help}");
    }
    assert_eq!(
        raw.call(&[b"FUNCTION", b"nosuch"]).await,
        error("ERR unknown subcommand 'nosuch'. Try FUNCTION HELP.")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn function_kill_stops_a_function_that_runs_too_long() {
    let server = common::start_with(|config| config.busy_reply_threshold = 50).await;
    let mut runner = server.raw().await;
    let mut other = server.raw().await;
    load(&mut runner, &library("lib", "redis.register_function('spin', function() while true do end end)")).await;
    runner.send_command(&[b"FCALL", b"spin", b"0"]).await;
    // Each GET waits for the keyspace until the function passes the threshold, then is -BUSY.
    common::scripting::wait_for_busy(&mut other, &common::scripting::busy_reply("FUNCTION")).await;
    assert_eq!(other.call(&[b"FUNCTION", b"KILL"]).await, b"+OK\r\n".to_vec());
    let reply = String::from_utf8_lossy(&runner.read_reply().await.unwrap()).into_owned();
    assert!(reply.starts_with("-ERR Script killed by user with FUNCTION KILL"), "{reply}");
    assert_eq!(other.call(&[b"PING"]).await, b"+PONG\r\n".to_vec());
    assert_eq!(runner.call(&[b"FCALL", b"spin_not_there", b"0"]).await, error("ERR Function not found"));
}

#[tokio::test]
async fn scripts_cannot_call_fcall_or_function() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    load(&mut raw, &library("lib", "redis.register_function('f', function() return 1 end)")).await;
    let reply = raw.call(&[b"EVAL", b"return redis.call('FCALL', 'f', 0)", b"0"]).await;
    assert!(reply.starts_with(b"-ERR This Redis command is not allowed from script"), "{}", String::from_utf8_lossy(&reply));
}

#[tokio::test]
async fn a_function_runs_atomically_with_respect_to_other_clients() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let code = library(
        "lib",
        "redis.register_function('transfer', function(keys, args)\n\
           local amount = tonumber(args[1])\n\
           local from = tonumber(redis.call('GET', keys[1]) or '0')\n\
           if from < amount then return 0 end\n\
           redis.call('DECRBY', keys[1], amount)\n\
           redis.call('INCRBY', keys[2], amount)\n\
           return 1\n\
         end)",
    );
    load(&mut raw, &code).await;
    raw.call(&[b"SET", b"a", b"100"]).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut client = server.client().await;
        tasks.push(tokio::spawn(async move {
            let mut moved = 0i64;
            for _ in 0..25 {
                let ok: i64 = redis::cmd("FCALL").arg("transfer").arg(2).arg("a").arg("b").arg(1).query_async(&mut client).await.unwrap();
                moved += ok;
            }
            moved
        }));
    }
    let mut moved = 0;
    for task in tasks {
        moved += task.await.unwrap();
    }
    assert_eq!(moved, 100, "exactly the 100 units in a can move");
    assert_eq!(raw.call(&[b"GET", b"a"]).await, bulk("0"));
    assert_eq!(raw.call(&[b"GET", b"b"]).await, bulk("100"));
}

/// The value of `field` in an INFO reply.
fn info_field(info: &str, field: &str) -> u64 {
    let prefix = format!("{field}:");
    let line = info.lines().find(|line| line.starts_with(&prefix)).unwrap_or_else(|| panic!("no {field} in INFO"));
    line[prefix.len()..].trim().parse().unwrap()
}

#[tokio::test]
async fn info_memory_counts_the_libraries_their_functions_and_the_cached_scripts() {
    let server = common::start().await;
    let mut client = server.client().await;
    let info: String = redis::cmd("INFO").arg("memory").query_async(&mut client).await.unwrap();
    assert_eq!(info_field(&info, "number_of_functions"), 0);
    assert_eq!(info_field(&info, "number_of_libraries"), 0);
    assert_eq!(info_field(&info, "used_memory_functions"), 0);
    let code = library("two", "redis.register_function('a', function() return 1 end)\nredis.register_function('b', function() return 2 end)");
    let _: String = redis::cmd("FUNCTION").arg("LOAD").arg(&code).query_async(&mut client).await.unwrap();
    let _: String = redis::cmd("SCRIPT").arg("LOAD").arg("return 1").query_async(&mut client).await.unwrap();
    let info: String = redis::cmd("INFO").arg("memory").query_async(&mut client).await.unwrap();
    assert_eq!(info_field(&info, "number_of_functions"), 2);
    assert_eq!(info_field(&info, "number_of_libraries"), 1);
    assert_eq!(info_field(&info, "number_of_cached_scripts"), 1);
    assert!(info_field(&info, "used_memory_functions") >= code.len() as u64);
    assert!(info_field(&info, "used_memory_vm_functions") > 0);
    assert_eq!(
        info_field(&info, "used_memory_vm_total"),
        info_field(&info, "used_memory_vm_eval") + info_field(&info, "used_memory_vm_functions")
    );
    let _: String = redis::cmd("FUNCTION").arg("FLUSH").query_async(&mut client).await.unwrap();
    let info: String = redis::cmd("INFO").arg("memory").query_async(&mut client).await.unwrap();
    assert_eq!(info_field(&info, "number_of_functions"), 0);
    assert_eq!(info_field(&info, "number_of_libraries"), 0);
}
