//! `cmsgpack`: lua-cmsgpack 0.4.0 as Redis embeds it (MessagePack).
//!
//! `pack(v1, ...)` encodes each argument and concatenates them; `unpack(s)` returns every
//! value in `s`; `unpack_one(s [, offset])` and `unpack_limit(s, limit [, offset])` return
//! the next offset (-1 at the end) followed by at most one / `limit` values.
//!
//! Encoding choices are the library's: a number that is a 64-bit integer uses the smallest
//! integer format (fixint, uint8..64, int8..64), other numbers a float32 when exact and a
//! float64 otherwise; strings use fixstr/str8/str16/str32; a table whose keys are exactly
//! 1..n is an array, any other a map (in `next` order); tables nested 16 deep, and nil,
//! functions, userdata, threads encode as nil. Decoding maps integers to Lua numbers
//! (uint64 through a signed cast, as the library does), str and bin to strings, and fails with
//! "Missing bytes in input." or "Bad data format in input.".

use mlua::{Lua, Table, Value};

use super::{Args, LibError, LibResult, Wrap, as_number};

/// Tables nested deeper than this encode as nil.
const MAX_NESTING: usize = 16;
/// Lua 5.1's `LUAI_MAXCSTACK`: a C function may hold this many stack slots; decoding models
/// the library's use of them to fail where it does.
const MAX_SLOTS: usize = 8000;

// ===== Encoding =====

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    // IS_INT64_EQUIVALENT: finite and unchanged by a cast to int64_t (x86 gives INT64_MIN
    // for out-of-range values, so 2^63 does not qualify).
    let cast = super::number_to_integer(n);
    if n.is_finite() && cast as f64 == n {
        encode_int(out, cast);
        return;
    }
    let f = n as f32;
    if f64::from(f) == n {
        out.push(0xca);
        out.extend_from_slice(&f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

fn encode_header(out: &mut Vec<u8>, n: u64, fix: u8, b16: u8, b32: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 65535 {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// `table_is_an_array`: keys are numbers that are positive C ints, and the largest equals
/// the count.
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max): (i64, i64) = (0, 0);
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let Some(n) = as_number(&k) else { return Ok(false) };
        if n <= 0.0 || n >= 2_147_483_648.0 || n.trunc() != n {
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    Ok(max == count)
}

fn encode_value(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(_) | Value::Number(_) => encode_number(out, as_number(v).unwrap_or(0.0)),
        Value::Table(t) if level < MAX_NESTING => {
            if is_array(t)? {
                let len = t.raw_len();
                encode_header(out, len as u64, 0x90, 0xdc, 0xdd);
                for i in 1..=len {
                    encode_value(out, &t.raw_get::<Value>(i)?, level + 1)?;
                }
            } else {
                let len = t.pairs::<Value, Value>().count();
                encode_header(out, len as u64, 0x80, 0xde, 0xdf);
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    encode_value(out, &k, level + 1)?;
                    encode_value(out, &v, level + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

/// `cmsgpack.pack(v1, ...)`.
fn pack(lua: &Lua, a: &Args) -> LibResult<Value> {
    if a.len() == 0 {
        return Err(LibError::arg(0, "MessagePack pack needs input."));
    }
    let mut out = Vec::new();
    for i in 1..=a.len() {
        encode_value(&mut out, a.get(i).unwrap_or(&Value::Nil), 0)?;
    }
    Ok(Value::String(lua.create_string(out)?))
}

// ===== Decoding =====

/// Why decoding stopped.
enum Stop {
    /// "Missing bytes in input."
    Eof,
    /// "Bad data format in input."
    BadFormat,
    /// Any other error, raised as is.
    Error(LibError),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Self {
        Stop::Error(LibError::Lua(e))
    }
}

struct Cursor<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
}

fn stack_overflow(what: &str) -> Stop {
    Stop::Error(LibError::msg(format!("stack overflow ({what})")))
}

impl Cursor<'_> {
    fn need(&self, n: usize) -> Result<&[u8], Stop> {
        self.data.get(self.pos..self.pos.saturating_add(n)).ok_or(Stop::Eof)
    }

    /// `n` bytes after the type byte, as a big-endian unsigned number.
    fn uint(&self, n: usize) -> Result<u64, Stop> {
        let b = self.need(1 + n)?;
        Ok(b.iter().skip(1).fold(0u64, |acc, &x| acc << 8 | u64::from(x)))
    }

    fn string(&mut self, header: usize, len: usize) -> Result<Value, Stop> {
        let b = self.need(header.saturating_add(len))?;
        let s = self.lua.create_string(b.get(header..).unwrap_or(&[]))?;
        self.pos += header + len;
        Ok(Value::String(s))
    }

    /// One scalar, or the header of a container (returned as an [`Item::Open`]).
    fn item(&mut self, slots: usize) -> Result<Item, Stop> {
        let first = *self.need(1)?.first().ok_or(Stop::Eof)?;
        if slots + 1 > MAX_SLOTS {
            return Err(stack_overflow(
                "too many return values at once; use unpack_one or unpack_limit instead.",
            ));
        }
        let num = |n: f64| Value::Number(n);
        let (v, used) = match first {
            0xcc => (num(self.uint(1)? as f64), 2),
            0xd0 => (num(f64::from(self.uint(1)? as u8 as i8)), 2),
            0xcd => (num(self.uint(2)? as f64), 3),
            0xd1 => (num(f64::from(self.uint(2)? as u16 as i16)), 3),
            0xce => (num(self.uint(4)? as f64), 5),
            0xd2 => (num(f64::from(self.uint(4)? as u32 as i32)), 5),
            // lua_pushunsigned is lua_pushinteger on 64-bit: a signed cast.
            0xcf | 0xd3 => (num(self.uint(8)? as i64 as f64), 9),
            0xc0 => (Value::Nil, 1),
            0xc3 => (Value::Boolean(true), 1),
            0xc2 => (Value::Boolean(false), 1),
            0xca => (num(f64::from(f32::from_bits(self.uint(4)? as u32))), 5),
            0xcb => (num(f64::from_bits(self.uint(8)?)), 9),
            0xd9 => {
                let len = self.uint(1)? as usize;
                return self.string(2, len).map(Item::Value);
            }
            0xda => {
                let len = self.uint(2)? as usize;
                return self.string(3, len).map(Item::Value);
            }
            0xdb => {
                let len = self.uint(4)? as usize;
                self.need(5)?;
                self.pos += 5;
                return self.string(0, len).map(Item::Value);
            }
            0xdc..=0xdf => {
                let n = if first & 1 == 0 { 2 } else { 4 };
                let len = self.uint(n)?;
                self.pos += 1 + n;
                return Ok(Item::Open(first < 0xde, len));
            }
            b if b & 0x80 == 0 => (num(f64::from(b)), 1),
            b if b & 0xe0 == 0xe0 => (num(f64::from(b as i8)), 1),
            b if b & 0xe0 == 0xa0 => return self.string(1, usize::from(b & 0x1f)).map(Item::Value),
            b if b & 0xf0 == 0x90 || b & 0xf0 == 0x80 => {
                self.pos += 1;
                return Ok(Item::Open(b & 0xf0 == 0x90, u64::from(b & 0xf)));
            }
            _ => return Err(Stop::BadFormat),
        };
        self.pos += used;
        Ok(Item::Value(v))
    }

    /// `mp_decode_to_lua_type` for one top-level value, with an explicit stack of open
    /// containers; `base` is how many Lua stack slots the C code holds already, and every
    /// open array holds two more (table, index), every map one (table) or two (with a key).
    fn value(&mut self, base: usize) -> Result<Value, Stop> {
        let mut stack: Vec<Open> = Vec::new();
        let mut extra = 0usize;
        loop {
            let mut done = match self.item(base + extra)? {
                Item::Value(v) => v,
                Item::Open(is_array, len) => {
                    let t = self.lua.create_table()?;
                    if is_array && base + extra + 2 > MAX_SLOTS {
                        return Err(stack_overflow("in function mp_decode_to_lua_array"));
                    }
                    if len == 0 {
                        Value::Table(t)
                    } else {
                        extra += if is_array { 2 } else { 1 };
                        stack.push(Open { t, is_array, len, done: 0, key: None });
                        continue;
                    }
                }
            };
            loop {
                let Some(open) = stack.last_mut() else { return Ok(done) };
                if open.is_array {
                    open.done += 1;
                    open.t.raw_set(open.done as f64, done)?;
                } else if let Some(k) = open.key.take() {
                    extra -= 1;
                    match &k {
                        Value::Nil => return Err(Stop::Error(LibError::Raw(b"table index is nil".to_vec()))),
                        Value::Number(n) if n.is_nan() => {
                            return Err(Stop::Error(LibError::Raw(b"table index is NaN".to_vec())))
                        }
                        _ => open.t.raw_set(k, done)?,
                    }
                    open.done += 1;
                } else {
                    open.key = Some(done);
                    extra += 1;
                    break;
                }
                if open.done < open.len {
                    break;
                }
                extra -= if open.is_array { 2 } else { 1 };
                done = match stack.pop() {
                    Some(o) => Value::Table(o.t),
                    None => Value::Nil,
                };
            }
        }
    }
}

/// What one step of decoding found.
enum Item {
    Value(Value),
    /// A container header: array (true) or map, and its length.
    Open(bool, u64),
}

/// A container being decoded.
struct Open {
    t: Table,
    is_array: bool,
    len: u64,
    done: u64,
    key: Option<Value>,
}

/// `mp_unpack_full`: decodes up to `limit` values from `offset` (both 0: everything, and no
/// offset in the results).
fn unpack_full(lua: &Lua, a: &Args, limit: i64, offset: i64, base_slots: usize) -> LibResult<Vec<Value>> {
    let data = a.check_bytes(1)?;
    let len = data.len() as i64;
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(LibError::msg(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    } else if offset > len {
        return Err(LibError::msg(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let limit = if decode_all { i64::from(i32::MAX) } else { limit };
    let mut c = Cursor { lua, data: &data, pos: offset as usize };
    let mut out = Vec::new();
    while c.pos < data.len() && (out.len() as i64) < limit {
        match c.value(base_slots + out.len()) {
            Ok(v) => out.push(v),
            Err(Stop::Eof) => return Err(LibError::msg("Missing bytes in input.")),
            Err(Stop::BadFormat) => return Err(LibError::msg("Bad data format in input.")),
            Err(Stop::Error(e)) => return Err(e),
        }
    }
    if !decode_all {
        let next = if c.pos >= data.len() { -1.0 } else { c.pos as f64 };
        out.insert(0, Value::Number(next));
    }
    Ok(out)
}

/// The `cmsgpack` module table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let w = Wrap::new(lua)?;
    let t = lua.create_table()?;
    t.raw_set("pack", w.one(lua, "pack", |lua, a| pack(lua, &a))?)?;
    t.raw_set("unpack", w.many(lua, "unpack", |lua, a| {
        let slots = a.len().max(1);
        unpack_full(lua, &a, 0, 0, slots)
    })?)?;
    t.raw_set("unpack_one", w.many(lua, "unpack_one", |lua, a| {
        let offset = a.opt_integer(2, 0)?;
        unpack_full(lua, &a, 1, offset, 1)
    })?)?;
    t.raw_set("unpack_limit", w.many(lua, "unpack_limit", |lua, a| {
        let limit = a.check_integer(2)?;
        let offset = a.opt_integer(3, 0)?;
        unpack_full(lua, &a, limit, offset, 1)
    })?)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{run, run_hex as hex};

    #[test]
    fn pack_picks_the_smallest_formats() {
        assert_eq!(
            hex("return cmsgpack.pack(1, -1, 127, 128, -33, 256, 65536, 2^32, -2^31-1, 1.5, 0.1, 'abc', true, false, nil)"),
            "01ff7fcc80d0dfcd0100ce00010000cf0000000100000000d3ffffffff7fffffffca3fc00000cb3fb999999999999aa3616263c3c2c0"
        );
        assert_eq!(hex("return cmsgpack.pack({1,2,3}, {a=1}, {}, {[2]=1})"), "9301020381a16101908102 01".replace(' ', ""));
        assert_eq!(hex("return cmsgpack.pack(string.rep('x', 40))").get(..4).unwrap(), "d928");
        assert_eq!(
            hex("return cmsgpack.pack(1/0, 0/0, -0.0, 2^63, 2^64, -2^63)").get(..2).unwrap(),
            "ca"
        );
        assert_eq!(
            hex("return cmsgpack.pack(-0.0, 2^63, 2^64, -2^63)"),
            "00ca5f000000ca5f800000d38000000000000000"
        );
    }

    #[test]
    fn tables_nested_past_sixteen_levels_become_nil() {
        assert_eq!(
            hex("local t = {} local c = t for i=1,20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)"),
            format!("{}c0", "91".repeat(16))
        );
    }

    #[test]
    fn unpack_variants_return_offsets_and_values() {
        assert_eq!(run("local a, b, c, d = cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2}, {x=3})) return a .. b .. #c .. d.x").unwrap(), "1a23");
        assert_eq!(run("local a, b = cmsgpack.unpack_one(cmsgpack.pack(1,2,3)) return a .. ',' .. b").unwrap(), "1,1");
        assert_eq!(run("local a, b = cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 2) return a .. ',' .. b").unwrap(), "-1,3");
        assert_eq!(run("local a, b, c = cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2) return a .. b .. c").unwrap(), "212");
        assert_eq!(run("return select('#', cmsgpack.unpack(''))").unwrap(), "0");
        assert_eq!(run("return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')").unwrap(), "-1");
        assert_eq!(run("return #cmsgpack.unpack('\\147\\1\\192\\3')").unwrap(), "1");
        assert_eq!(run("return cmsgpack.unpack(5)").unwrap(), "53");
    }

    #[test]
    fn unpack_errors_use_the_library_texts() {
        let cases = [
            ("cmsgpack.unpack('\\193')", "user_script:1: Bad data format in input."),
            ("cmsgpack.unpack('\\146\\1')", "user_script:1: Missing bytes in input."),
            ("cmsgpack.unpack('\\129\\192\\1')", "table index is nil"),
            ("cmsgpack.unpack_limit('abc', -1)", "user_script:1: Invalid request to unpack with offset of 0 and limit of 3."),
            ("cmsgpack.unpack_one('abc', 10)", "user_script:1: Start offset 10 greater than input length 3."),
            ("cmsgpack.pack()", "user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"),
            ("cmsgpack.unpack()", "user_script:1: bad argument #1 to 'unpack' (string expected, got no value)"),
            ("cmsgpack.unpack(string.rep('\\145', 4000) .. '\\1')", "user_script:1: stack overflow (in function mp_decode_to_lua_array)"),
        ];
        for (code, msg) in cases {
            assert_eq!(run(&format!("local r = {code} return r")).unwrap_err(), msg, "{code}");
        }
        assert_eq!(run("local t = cmsgpack.unpack(string.rep('\\145', 3999) .. '\\1') return type(t)").unwrap(), "table");
    }
}
