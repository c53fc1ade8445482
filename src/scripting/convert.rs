//! Conversions between Lua values and replies, with Redis's rules (done on the Lua stack by
//! [`super::raw`]; the helpers here are the parts that need no Lua).
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

use crate::resp::Reply;
use bytes::Bytes;

/// Parses one pre-encoded reply ([`Reply::Raw`]), as far as scripts need it.
pub fn parse_raw(bytes: &[u8]) -> Option<Reply> {
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

/// Redis replaces `\r` and `\n` in status and error lines with spaces.
pub fn one_line(bytes: &[u8]) -> Bytes {
    bytes.iter().map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect::<Vec<u8>>().into()
}

/// The error reply for an error text as a script produced it: Redis writes `-` and the text as
/// it is (no `ERR` added, a leading `-` kept: `--CODE`), newlines turned into spaces.
pub fn error_reply_from(text: &[u8]) -> Reply {
    Reply::Error(one_line(text))
}

/// C's `(long long)` cast of a double, saturating instead of undefined out of range.
pub fn truncate(n: f64) -> i64 {
    if n.is_nan() {
        i64::MIN
    } else {
        n as i64
    }
}
