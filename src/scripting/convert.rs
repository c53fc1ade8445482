//! Conversions between Lua values and replies, with Redis's rules.
//!
//! Reply -> Lua (what `redis.call` returns), for the protocol the script chose with
//! `redis.setresp` (2 by default):
//! - integer -> number; bulk -> string; status -> `{ok=...}`; error -> `{err=...}`;
//!   array -> table (nested);
//! - RESP2: null bulk and null array -> `false`; a map arrives as a flat array, a set as an
//!   array, a double as a bulk string, a boolean as 1 / 0;
//! - RESP3: null -> `nil`; map -> `{map={k=v}}`; set -> `{set={m=true}}`; double ->
//!   `{double=n}`; boolean -> `true`/`false`; verbatim -> `{verbatim_string={format=, string=}}`.
//!
//! Lua -> reply (what the script returns):
//! - number -> integer, truncated toward zero; string -> bulk; `true` -> 1 (`#t` after
//!   `setresp(3)`); `false` and `nil` -> null;
//! - a table with a string `err` -> error; with a string `ok` -> status; `double` -> double;
//!   `big_number` -> big number; `map` -> map; `set` -> set; otherwise an array of the elements
//!   `1..n` up to the first `nil`.

use crate::resp::{Protocol, Reply};
use bytes::Bytes;
use mlua::{Lua, Table, Value};

/// How deep nested replies or tables may go before conversion stops (Redis checks the Lua
/// stack; this keeps a self-referencing table from recursing without end).
const MAX_DEPTH: usize = 1000;

/// Converts a command's reply into the Lua value `redis.call` returns, under the script's
/// protocol `resp3`.
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp3: bool) -> mlua::Result<Value> {
    reply_to_lua_at(lua, reply, resp3, 0)
}

fn single_field(lua: &Lua, field: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(0, 1)?;
    table.raw_set(field, value)?;
    Ok(Value::Table(table))
}

fn reply_to_lua_at(lua: &Lua, reply: &Reply, resp3: bool, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Ok(Value::Boolean(false));
    }
    Ok(match reply {
        Reply::Simple(text) => single_field(lua, "ok", lua.create_string(text)?)?,
        Reply::Error(text) => single_field(lua, "err", lua.create_string(text)?)?,
        Reply::Integer(n) => Value::Number(*n as f64),
        Reply::Bulk(bytes) => Value::String(lua.create_string(bytes)?),
        Reply::Null | Reply::NullArray => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) | Reply::Push(items) => array_to_lua(lua, items, resp3, depth)?,
        Reply::Set(items) if resp3 => {
            let set = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                let key = reply_to_lua_at(lua, item, resp3, depth + 1)?;
                if !key.is_nil() {
                    set.raw_set(key, true)?;
                }
            }
            single_field(lua, "set", set)?
        }
        Reply::Set(items) => array_to_lua(lua, items, resp3, depth)?,
        Reply::Map(pairs) if resp3 => {
            let map = lua.create_table_with_capacity(0, pairs.len())?;
            for (key, value) in pairs {
                let key = reply_to_lua_at(lua, key, resp3, depth + 1)?;
                let value = reply_to_lua_at(lua, value, resp3, depth + 1)?;
                if !key.is_nil() {
                    map.raw_set(key, value)?;
                }
            }
            single_field(lua, "map", map)?
        }
        Reply::Map(pairs) => {
            let table = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
            let mut index = 1;
            for (key, value) in pairs {
                table.raw_set(index, reply_to_lua_at(lua, key, resp3, depth + 1)?)?;
                table.raw_set(index + 1, reply_to_lua_at(lua, value, resp3, depth + 1)?)?;
                index += 2;
            }
            Value::Table(table)
        }
        Reply::Double(value) if resp3 => single_field(lua, "double", *value)?,
        Reply::Double(value) => Value::String(lua.create_string(crate::resp::format_double(*value))?),
        Reply::Boolean(value) if resp3 => Value::Boolean(*value),
        Reply::Boolean(value) => Value::Number(if *value { 1.0 } else { 0.0 }),
        Reply::Verbatim(format, text) if resp3 => {
            let inner = lua.create_table_with_capacity(0, 2)?;
            inner.raw_set("format", *format)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            single_field(lua, "verbatim_string", inner)?
        }
        Reply::Verbatim(_, text) => Value::String(lua.create_string(text)?),
        Reply::Raw(bytes) => match parse_raw(bytes) {
            Some(parsed) => reply_to_lua_at(lua, &parsed, resp3, depth + 1)?,
            None => Value::String(lua.create_string(bytes)?),
        },
    })
}

fn array_to_lua(lua: &Lua, items: &[Reply], resp3: bool, depth: usize) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        table.raw_set(i + 1, reply_to_lua_at(lua, item, resp3, depth + 1)?)?;
    }
    Ok(Value::Table(table))
}

/// Parses one pre-encoded reply ([`Reply::Raw`]), as far as scripts need it.
fn parse_raw(bytes: &[u8]) -> Option<Reply> {
    let (reply, _) = parse_one(bytes)?;
    Some(reply)
}

fn parse_one(bytes: &[u8]) -> Option<(Reply, usize)> {
    let end = bytes.windows(2).position(|w| w == b"\r\n")?;
    let kind = *bytes.first()?;
    let line = bytes.get(1..end)?;
    let rest = end + 2;
    let number = || std::str::from_utf8(line).ok()?.parse::<i64>().ok();
    match kind {
        b'+' => Some((Reply::Simple(Bytes::copy_from_slice(line)), rest)),
        b'-' => Some((Reply::Error(Bytes::copy_from_slice(line)), rest)),
        b':' => Some((Reply::Integer(number()?), rest)),
        b'_' => Some((Reply::Null, rest)),
        b'#' => Some((Reply::Boolean(line == b"t"), rest)),
        b',' => Some((Reply::Double(std::str::from_utf8(line).ok()?.parse().ok()?), rest)),
        b'(' => Some((Reply::Bulk(Bytes::copy_from_slice(line)), rest)),
        b'$' | b'=' => {
            let n = number()?;
            if n < 0 {
                return Some((Reply::Null, rest));
            }
            let n = usize::try_from(n).ok()?;
            let body = bytes.get(rest..rest + n)?;
            let body = if kind == b'=' { body.get(4..).unwrap_or_default() } else { body };
            Some((Reply::Bulk(Bytes::copy_from_slice(body)), rest + n + 2))
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = number()?;
            if n < 0 {
                return Some((Reply::NullArray, rest));
            }
            let count = usize::try_from(n).ok()? * if kind == b'%' { 2 } else { 1 };
            let mut items = Vec::with_capacity(count.min(1024));
            let mut at = rest;
            for _ in 0..count {
                let (item, used) = parse_one(bytes.get(at..)?)?;
                items.push(item);
                at += used;
            }
            Some((Reply::Array(items), at))
        }
        _ => None,
    }
}

/// Converts a script's return value into the reply for a caller speaking `protocol`.
/// `script_resp3` is the protocol the script chose (`redis.setresp(3)`), which decides how
/// booleans go out, as in Redis.
pub fn lua_to_reply(value: &Value, script_resp3: bool, protocol: Protocol) -> Reply {
    lua_to_reply_at(value, script_resp3, protocol, 0)
}

fn string_field(table: &Table, field: &str) -> Option<mlua::LuaString> {
    match table.raw_get::<Value>(field) {
        Ok(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// Redis replaces `\r` and `\n` in status and error lines with spaces.
pub fn one_line(bytes: &[u8]) -> Bytes {
    bytes.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect::<Vec<u8>>().into()
}

/// The error reply for an error text as a script produced it: Redis writes `-` and the text as
/// it is (no `ERR` added, a leading `-` kept: `--CODE`), newlines turned into spaces.
pub fn error_reply_from(text: &[u8]) -> Reply {
    Reply::Error(one_line(text))
}

fn lua_to_reply_at(value: &Value, script_resp3: bool, protocol: Protocol, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::error("ERR reached lua stack limit");
    }
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(true) if script_resp3 => Reply::Boolean(true),
        Value::Boolean(true) => Reply::Integer(1),
        Value::Boolean(false) if script_resp3 => Reply::Boolean(false),
        Value::Integer(n) => Reply::Integer(*n),
        Value::Number(n) => Reply::Integer(truncate(*n)),
        Value::Table(table) => table_to_reply(table, script_resp3, protocol, depth),
        _ => Reply::Null,
    }
}

/// C's `(long long)` cast of a double, saturating instead of undefined out of range.
fn truncate(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}

fn table_to_reply(table: &Table, script_resp3: bool, protocol: Protocol, depth: usize) -> Reply {
    if let Some(err) = string_field(table, "err") {
        return error_reply_from(&err.as_bytes());
    }
    if let Some(ok) = string_field(table, "ok") {
        return Reply::Simple(one_line(&ok.as_bytes()));
    }
    if let Ok(Value::Number(n)) = table.raw_get::<Value>("double") {
        return Reply::Double(n);
    }
    if let Ok(Value::Integer(n)) = table.raw_get::<Value>("double") {
        return Reply::Double(n as f64);
    }
    if let Some(big) = string_field(table, "big_number") {
        let digits = one_line(&big.as_bytes());
        return match protocol {
            Protocol::Resp3 => {
                let mut raw = Vec::with_capacity(digits.len() + 3);
                raw.push(b'(');
                raw.extend_from_slice(&digits);
                raw.extend_from_slice(b"\r\n");
                Reply::Raw(raw.into())
            }
            Protocol::Resp2 => Reply::Bulk(digits),
        };
    }
    if let Ok(Value::Table(map)) = table.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for (key, value) in map.pairs::<Value, Value>().flatten() {
            pairs.push((
                lua_to_reply_at(&key, script_resp3, protocol, depth + 1),
                lua_to_reply_at(&value, script_resp3, protocol, depth + 1),
            ));
        }
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(set)) = table.raw_get::<Value>("set") {
        let mut members = Vec::new();
        for (key, _) in set.pairs::<Value, Value>().flatten() {
            members.push(lua_to_reply_at(&key, script_resp3, protocol, depth + 1));
        }
        return Reply::Set(members);
    }
    let mut items = Vec::new();
    let mut index: usize = 1;
    loop {
        match table.raw_get::<Value>(index) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(value) => items.push(lua_to_reply_at(&value, script_resp3, protocol, depth + 1)),
        }
        index += 1;
    }
    Reply::Array(items)
}
