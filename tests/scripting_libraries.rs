//! The Lua libraries scripts use (`cjson`, `cmsgpack`, `bit`, `struct`), through EVAL on a
//! running Herald: results, errors as Redis words them, and values a script keeps between
//! calls. Exhaustive byte-for-byte comparisons with redis-server live in
//! `tests/differential/scripting_libs.redis`; the unit tests under `src/scripting/lib/` cover
//! each library's corners.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

async fn eval(raw: &mut common::RawClient, script: &str, args: &[&[u8]]) -> Vec<u8> {
    let mut cmd: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), b"0"];
    cmd.extend_from_slice(args);
    raw.call(&cmd).await
}

fn text(reply: Vec<u8>) -> String {
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test]
async fn cjson_round_trips_a_document_through_a_script() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let doc = br#"{"user":"ada","tags":["a","b"],"n":null,"score":1.5}"#;
    let reply = eval(
        &mut raw,
        "local t = cjson.decode(ARGV[1]) return {t.user, #t.tags, tostring(t.n == cjson.null), tostring(t.score)}",
        &[doc],
    )
    .await;
    assert_eq!(text(reply), "*4\r\n$3\r\nada\r\n:2\r\n$4\r\ntrue\r\n$3\r\n1.5\r\n");
    let reply = eval(&mut raw, "return cjson.encode({a = {1, 2, 'x/y'}})", &[]).await;
    assert_eq!(text(reply), "$18\r\n{\"a\":[1,2,\"x\\/y\"]}\r\n");
}

#[tokio::test]
async fn a_cjson_error_carries_the_script_position_and_name() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let reply = text(eval(&mut raw, "local t = cjson.decode('{') return t", &[]).await);
    assert!(
        reply.starts_with(
            "-ERR user_script:1: Expected object key string but found T_END at character 2 script: "
        ),
        "{reply}"
    );
    assert!(reply.ends_with(", on @user_script:1.\r\n"), "{reply}");
}

#[tokio::test]
async fn pcall_hands_library_errors_to_the_script_as_strings() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let reply = eval(
        &mut raw,
        "local ok, e = pcall(cjson.decode, 'x') return {tostring(ok), type(e), e}",
        &[],
    )
    .await;
    assert_eq!(
        text(reply),
        "*3\r\n$5\r\nfalse\r\n$6\r\nstring\r\n$53\r\nExpected value but found invalid token at character 1\r\n"
    );
}

#[tokio::test]
async fn cmsgpack_packs_the_way_lua_cmsgpack_does() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let reply = eval(&mut raw, "return cmsgpack.pack({1, 2}, {a = 1}, 1.5, -1)", &[]).await;
    assert_eq!(reply, b"$13\r\n\x92\x01\x02\x81\xa1a\x01\xca\x3f\xc0\x00\x00\xff\r\n".to_vec());
    let reply = eval(&mut raw, "return {cmsgpack.unpack(ARGV[1])}", &[b"\x93\x01\xa1a\xc3"]).await;
    assert_eq!(text(reply), "*1\r\n*3\r\n:1\r\n$1\r\na\r\n:1\r\n");
}

#[tokio::test]
async fn bit_operations_work_on_32_bit_integers() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let reply = eval(
        &mut raw,
        "return {bit.band(0xff, 0x0f), bit.lshift(1, 31), bit.tohex(255), bit.bxor(5, 1)}",
        &[],
    )
    .await;
    assert_eq!(text(reply), "*4\r\n:15\r\n:-2147483648\r\n$8\r\n000000ff\r\n:4\r\n");
}

#[tokio::test]
async fn struct_packs_and_unpacks_binary_records() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let reply = eval(&mut raw, "return {struct.unpack('>I2 s', ARGV[1])}", &[b"\x01\x02ab\x00"]).await;
    assert_eq!(text(reply), "*3\r\n:258\r\n$2\r\nab\r\n:6\r\n");
    let reply = text(eval(&mut raw, "local r = struct.pack('q', 1) return r", &[]).await);
    assert!(
        reply.starts_with("-ERR user_script:1: bad argument #1 to 'pack' (invalid format option 'q') script: "),
        "{reply}"
    );
}

#[tokio::test]
async fn library_settings_persist_between_scripts_like_redis() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    assert_eq!(text(eval(&mut raw, "return cjson.encode_number_precision(3)", &[]).await), ":3\r\n");
    assert_eq!(text(eval(&mut raw, "return cjson.encode(1/3)", &[]).await), "$5\r\n0.333\r\n");
    assert_eq!(text(raw.call(&[b"SCRIPT", b"FLUSH"]).await), "+OK\r\n");
}

#[tokio::test]
async fn pairs_over_a_library_table_iterates_its_functions() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    let script = "local found = {}
for k, v in pairs(cjson) do if k == 'encode' or k == 'decode' then found[#found + 1] = k .. '=' .. type(v) end end
table.sort(found)
local n = 0
for k in pairs(redis) do if k == 'call' then n = n + 1 end end
return {found[1], found[2], n, next(bit) ~= nil and 1 or 0}";
    assert_eq!(
        eval(&mut raw, script, &[]).await,
        b"*4\r\n$15\r\ndecode=function\r\n$15\r\nencode=function\r\n:1\r\n:1\r\n"
    );
}

#[tokio::test]
async fn pairs_and_next_still_refuse_what_is_not_a_table() {
    let server = common::start().await;
    let mut raw = server.raw().await;
    for (script, name) in [("local f = pairs(nil) return f", "pairs"), ("local k = next(nil) return k", "next")] {
        let reply = text(eval(&mut raw, script, &[]).await);
        let expected = format!("-ERR user_script:1: bad argument #1 to '{name}' (table expected, got nil) script: ");
        assert!(reply.starts_with(&expected), "{reply}");
    }
}
