//! `cjson`: lua-cjson 2.1.0 as Redis embeds it, with Redis's defaults: numbers printed with
//! `%.14g`, `/` escaped as `\/`, invalid numbers (NaN, Inf) refused when encoding and accepted
//! when decoding (with hexadecimal), nesting limited to 1000 both ways, sparse arrays
//! (more than twice as many slots as items, past index 10) refused.
//!
//! Functions: `encode`, `decode`, `new` and the settings `encode_sparse_array`,
//! `encode_max_depth`, `decode_max_depth`, `encode_number_precision`, `encode_keep_buffer`,
//! `encode_invalid_numbers`, `decode_invalid_numbers`; values `null` (a NULL light
//! userdata, what JSON `null` decodes to), `_NAME`, `_VERSION`.
//!
//! Also present, from OpenResty's lua-cjson (Redis 7.0 and 8.2 do not have them; they change
//! nothing unless a script uses them): `encode_empty_table_as_object` (default on: `{}`),
//! `decode_array_with_array_mt` (default off), `empty_array` (a light userdata encoded `[]`),
//! `array_mt` (a table with it as metatable encodes as an array) and `empty_array_mt`
//! (an empty table with it encodes as `[]`).

use std::sync::Arc;

use mlua::{LightUserData, Lua, Table, Value};
use parking_lot::Mutex;

use super::{Args, LibError, LibResult, Wrap, as_number, format_g, lua_type_name};

/// Settings of one `cjson` instance (`cjson.new()` makes another).
#[derive(Clone, Copy)]
struct Config {
    sparse_convert: i64,
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    /// 0 refuse, 1 allow, 2 encode as `null`.
    encode_invalid_numbers: i64,
    encode_number_precision: i64,
    encode_keep_buffer: i64,
    decode_invalid_numbers: i64,
    encode_empty_table_as_object: i64,
    decode_array_with_array_mt: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: 0,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: 1,
            decode_invalid_numbers: 1,
            encode_empty_table_as_object: 1,
            decode_array_with_array_mt: 0,
        }
    }
}

/// Nesting Herald follows at most, whatever the configured depth: Redis's Lua stack gives
/// out near there, and it keeps the recursion well inside a thread's stack.
const HARD_DEPTH: i64 = 2000;

/// What all instances of one Lua state share.
struct Shared {
    wrap: Wrap,
    array_mt: Table,
    empty_array_mt: Table,
}

/// The light userdata `cjson.empty_array`.
fn empty_array() -> Value {
    Value::LightUserData(LightUserData(std::ptr::without_provenance_mut(2)))
}

/// The `cjson` module table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let shared = Arc::new(Shared {
        wrap: Wrap::new(lua)?,
        array_mt: lua.create_table()?,
        empty_array_mt: lua.create_table()?,
    });
    instance(lua, shared)
}

/// One module table with its own settings.
fn instance(lua: &Lua, shared: Arc<Shared>) -> mlua::Result<Table> {
    let cfg = Arc::new(Mutex::new(Config::default()));
    let w = &shared.wrap;
    let t = lua.create_table()?;

    let (c, s) = (cfg.clone(), shared.clone());
    t.raw_set("encode", w.one(lua, "encode", move |lua, a| {
        let cfg = *c.lock();
        encode(lua, &cfg, &s, &a)
    })?)?;
    let (c, s) = (cfg.clone(), shared.clone());
    t.raw_set("decode", w.one(lua, "decode", move |lua, a| {
        let cfg = *c.lock();
        decode(lua, &cfg, &s, &a)
    })?)?;

    let c = cfg.clone();
    t.raw_set("encode_sparse_array", w.many(lua, "encode_sparse_array", move |lua, a| {
        arg_init(&a, 3)?;
        let mut cfg = c.lock();
        Ok(vec![
            enum_option(lua, &a, 1, &mut cfg.sparse_convert, None)?,
            integer_option(&a, 2, &mut cfg.sparse_ratio, 0, i64::from(i32::MAX))?,
            integer_option(&a, 3, &mut cfg.sparse_safe, 0, i64::from(i32::MAX))?,
        ])
    })?)?;
    type Field = fn(&mut Config) -> &mut i64;
    let integers: [(&str, Field, i64, i64); 3] = [
        ("encode_max_depth", |c| &mut c.encode_max_depth, 1, i64::from(i32::MAX)),
        ("decode_max_depth", |c| &mut c.decode_max_depth, 1, i64::from(i32::MAX)),
        ("encode_number_precision", |c| &mut c.encode_number_precision, 1, 14),
    ];
    for (name, field, min, max) in integers {
        let c = cfg.clone();
        t.raw_set(name, w.one(lua, name, move |_, a| {
            arg_init(&a, 1)?;
            integer_option(&a, 1, field(&mut c.lock()), min, max)
        })?)?;
    }
    let enums: [(&str, Field, Option<&'static [&'static str]>); 5] = [
        ("encode_keep_buffer", |c| &mut c.encode_keep_buffer, None),
        ("encode_invalid_numbers", |c| &mut c.encode_invalid_numbers, Some(&["off", "on", "null"])),
        ("decode_invalid_numbers", |c| &mut c.decode_invalid_numbers, None),
        ("encode_empty_table_as_object", |c| &mut c.encode_empty_table_as_object, None),
        ("decode_array_with_array_mt", |c| &mut c.decode_array_with_array_mt, None),
    ];
    for (name, field, options) in enums {
        let c = cfg.clone();
        t.raw_set(name, w.one(lua, name, move |lua, a| {
            arg_init(&a, 1)?;
            enum_option(lua, &a, 1, field(&mut c.lock()), options)
        })?)?;
    }

    let s = shared.clone();
    t.raw_set("new", lua.create_function(move |lua, ()| instance(lua, s.clone()))?)?;
    t.raw_set("null", Value::NULL)?;
    t.raw_set("empty_array", empty_array())?;
    t.raw_set("array_mt", shared.array_mt.clone())?;
    t.raw_set("empty_array_mt", shared.empty_array_mt.clone())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}

/// `json_arg_init`: at most `n` arguments.
fn arg_init(a: &Args, n: usize) -> LibResult<()> {
    if a.len() > n {
        return Err(LibError::arg(n as i64 + 1, "found too many arguments"));
    }
    Ok(())
}

/// `json_integer_option`: sets the value when given, returns the current one.
fn integer_option(a: &Args, n: usize, setting: &mut i64, min: i64, max: i64) -> LibResult<Value> {
    if !a.is_none_or_nil(n) {
        // The library stores it in a C int.
        let value = i64::from(a.check_integer(n)? as i32);
        if !(min..=max).contains(&value) {
            return Err(LibError::arg(1, format!("expected integer between {min} and {max}")));
        }
        *setting = value;
    }
    Ok(Value::Number(*setting as f64))
}

/// `json_enum_option` (with a true boolean meaning option 1): sets when given, returns the
/// current setting as a boolean, or its name when it is neither off nor on.
fn enum_option(
    lua: &Lua,
    a: &Args,
    n: usize,
    setting: &mut i64,
    options: Option<&'static [&'static str]>,
) -> LibResult<Value> {
    let options = options.unwrap_or(&["off", "on"]);
    if !a.is_none_or_nil(n) {
        if let Some(Value::Boolean(b)) = a.get(n) {
            *setting = i64::from(*b);
        } else {
            let name = a.check_bytes(n)?;
            let Some(i) = options.iter().position(|o| o.as_bytes() == name.as_slice()) else {
                let mut text = b"invalid option '".to_vec();
                text.extend_from_slice(&name);
                text.push(b'\'');
                return Err(LibError::Arg(n as i64, text));
            };
            *setting = i as i64;
        }
    }
    if *setting == 0 || *setting == 1 {
        return Ok(Value::Boolean(*setting == 1));
    }
    let name = options.get(*setting as usize).copied().unwrap_or("off");
    Ok(Value::String(lua.create_string(name)?))
}

// ===== Encoding =====

/// `char2escape`: the escape for a byte, if it needs one.
fn escape(b: u8) -> Option<&'static str> {
    const LOW: [&str; 32] = [
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f", "\\u0010", "\\u0011",
        "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017", "\\u0018", "\\u0019",
        "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    ];
    match b {
        b'"' => Some("\\\""),
        b'/' => Some("\\/"),
        b'\\' => Some("\\\\"),
        0x7f => Some("\\u007f"),
        _ => LOW.get(b as usize).copied(),
    }
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &b in s {
        match escape(b) {
            Some(e) => out.extend_from_slice(e.as_bytes()),
            None => out.push(b),
        }
    }
    out.push(b'"');
}

fn serialise_error(type_name: &str, reason: &str) -> LibError {
    LibError::msg(format!("Cannot serialise {type_name}: {reason}"))
}

struct Encoder<'a> {
    cfg: &'a Config,
    shared: &'a Shared,
    out: Vec<u8>,
}

impl Encoder<'_> {
    fn number(&mut self, n: f64) -> LibResult<()> {
        match self.cfg.encode_invalid_numbers {
            0 if !n.is_finite() => return Err(serialise_error("number", "must not be NaN or Inf")),
            1 if n.is_nan() => {
                self.out.extend_from_slice(b"nan");
                return Ok(());
            }
            2 if !n.is_finite() => {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
        let text = format_g(n, self.cfg.encode_number_precision.clamp(1, 14) as usize);
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    /// `lua_array_length`: the array length, or `None` when the table is an object.
    fn array_length(&self, t: &Table) -> LibResult<Option<i64>> {
        let (mut max, mut items): (i32, i64) = (0, 0);
        for pair in t.pairs::<Value, Value>() {
            let (k, _) = pair?;
            match as_number(&k) {
                Some(k) if k != 0.0 && k.floor() == k && k >= 1.0 => {
                    if k > f64::from(max) {
                        // C's double to int conversion on x86: out of range gives INT_MIN.
                        max = if k < 2_147_483_648.0 { k as i32 } else { i32::MIN };
                    }
                    items += 1;
                }
                _ => return Ok(None),
            }
        }
        let cfg = self.cfg;
        let max = i64::from(max);
        if cfg.sparse_ratio > 0 && max > items * cfg.sparse_ratio && max > cfg.sparse_safe {
            if cfg.sparse_convert == 0 {
                return Err(serialise_error("table", "excessively sparse array"));
            }
            return Ok(None);
        }
        Ok(Some(max))
    }

    /// Writes a scalar, or opens a table: writes its bracket and pushes its frame.
    /// `depth` is the nesting of `v` (the top value's tables are at depth 1).
    fn start(&mut self, v: &Value, depth: i64, stack: &mut Vec<Frame>) -> LibResult<()> {
        match v {
            Value::String(s) => append_string(&mut self.out, &s.as_bytes()),
            Value::Integer(_) | Value::Number(_) => self.number(as_number(v).unwrap_or(0.0))?,
            Value::Boolean(b) => self.out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => self.out.extend_from_slice(b"null"),
            Value::LightUserData(_) if *v == empty_array() => self.out.extend_from_slice(b"[]"),
            Value::Table(t) => self.open(t, depth, stack)?,
            other => return Err(serialise_error(lua_type_name(other), "type not supported")),
        }
        Ok(())
    }

    fn open(&mut self, t: &Table, depth: i64, stack: &mut Vec<Frame>) -> LibResult<()> {
        if depth > self.cfg.encode_max_depth || depth > HARD_DEPTH {
            return Err(LibError::msg(format!("Cannot serialise, excessive nesting ({depth})")));
        }
        if let Some(mt) = t.metatable() {
            if mt == self.shared.array_mt {
                self.out.push(b'[');
                stack.push(Frame::Array { t: t.clone(), len: t.raw_len() as i64, next: 1 });
                return Ok(());
            }
            if mt == self.shared.empty_array_mt && is_empty(t)? {
                self.out.extend_from_slice(b"[]");
                return Ok(());
            }
        }
        match self.array_length(t)? {
            Some(len) if len > 0 => {
                self.out.push(b'[');
                stack.push(Frame::Array { t: t.clone(), len, next: 1 });
            }
            _ if self.cfg.encode_empty_table_as_object == 0 && is_empty(t)? => {
                self.out.extend_from_slice(b"[]");
            }
            _ => {
                self.out.push(b'{');
                let items = t.pairs::<Value, Value>().collect::<mlua::Result<Vec<_>>>()?;
                stack.push(Frame::Object { items: items.into_iter(), first: true });
            }
        }
        Ok(())
    }

    /// Encodes `root` with an explicit stack, so deep nesting costs no native stack.
    fn run(&mut self, root: &Value) -> LibResult<()> {
        let mut stack: Vec<Frame> = Vec::new();
        self.start(root, 0, &mut stack)?;
        loop {
            let depth = stack.len() as i64 + 1;
            let next = match stack.last_mut() {
                None => return Ok(()),
                Some(Frame::Array { t, len, next }) => {
                    if *next > *len {
                        None
                    } else {
                        if *next > 1 {
                            self.out.push(b',');
                        }
                        let v: Value = t.raw_get(*next)?;
                        *next += 1;
                        Some(v)
                    }
                }
                Some(Frame::Object { items, first }) => match items.next() {
                    None => None,
                    Some((k, v)) => {
                        if !*first {
                            self.out.push(b',');
                        }
                        *first = false;
                        self.key(&k)?;
                        Some(v)
                    }
                },
            };
            match next {
                Some(v) => self.start(&v, depth, &mut stack)?,
                None => {
                    let closing = match stack.pop() {
                        Some(Frame::Array { .. }) => b']',
                        _ => b'}',
                    };
                    self.out.push(closing);
                }
            }
        }
    }

    fn key(&mut self, k: &Value) -> LibResult<()> {
        match k {
            Value::Integer(_) | Value::Number(_) => {
                self.out.push(b'"');
                self.number(as_number(k).unwrap_or(0.0))?;
                self.out.extend_from_slice(b"\":");
            }
            Value::String(s) => {
                append_string(&mut self.out, &s.as_bytes());
                self.out.push(b':');
            }
            other => {
                return Err(serialise_error(
                    lua_type_name(other),
                    "table key must be a number or string",
                ))
            }
        }
        Ok(())
    }
}

/// A table being encoded.
enum Frame {
    Array { t: Table, len: i64, next: i64 },
    Object { items: std::vec::IntoIter<(Value, Value)>, first: bool },
}

fn is_empty(t: &Table) -> mlua::Result<bool> {
    Ok(t.pairs::<Value, Value>().next().transpose()?.is_none())
}

/// `cjson.encode(value)`.
fn encode(lua: &Lua, cfg: &Config, shared: &Shared, a: &Args) -> LibResult<Value> {
    if a.len() != 1 {
        return Err(LibError::arg(1, "expected 1 argument"));
    }
    let mut enc = Encoder { cfg, shared, out: Vec::new() };
    enc.run(a.get(1).unwrap_or(&Value::Nil))?;
    Ok(Value::String(lua.create_string(enc.out)?))
}

// ===== Decoding =====

/// A JSON token; errors carry lua-cjson's description.
#[derive(Debug)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Token {
    /// The name lua-cjson prints in "Expected ... but found NAME".
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::Str(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(e) => e,
        }
    }
}

struct Parser<'a> {
    lua: &'a Lua,
    cfg: &'a Config,
    shared: &'a Shared,
    data: &'a [u8],
    ptr: usize,
    depth: i64,
}

fn hexdigit(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

impl Parser<'_> {
    /// The byte at `i`; the input ends with a virtual NUL, as the C string does.
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        word.iter().enumerate().all(|(i, &c)| self.at(self.ptr + i) == c)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| Some(acc << 4 | hexdigit(self.at(at + i))?))
    }

    /// `json_append_unicode_escape`: the ptr is at the backslash of `\uXXXX`.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let mut cp = self.hex4(self.ptr + 2)?;
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return None;
            }
            if self.at(self.ptr + 6) != b'\\' || self.at(self.ptr + 7) != b'u' {
                return None;
            }
            let low = self.hex4(self.ptr + 8)?;
            if low & 0xFC00 != 0xDC00 {
                return None;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let ch = char::from_u32(cp)?;
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        self.ptr += len;
        Some(())
    }

    /// `json_next_string_token`; returns the token and, for errors, where they are.
    fn string_token(&mut self) -> (Token, usize) {
        self.ptr += 1;
        let mut s = Vec::new();
        loop {
            let ch = self.at(self.ptr);
            match ch {
                b'"' => break,
                0 => return (Token::Error("unexpected end of string"), self.ptr),
                b'\\' => {
                    let esc = match self.at(self.ptr + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 0x0c,
                        b'r' => b'\r',
                        b'u' => {
                            let at = self.ptr;
                            if self.unicode_escape(&mut s).is_none() {
                                return (Token::Error("invalid unicode escape code"), at);
                            }
                            continue;
                        }
                        _ => return (Token::Error("invalid escape code"), self.ptr),
                    };
                    s.push(esc);
                    self.ptr += 2;
                }
                _ => {
                    s.push(ch);
                    self.ptr += 1;
                }
            }
        }
        self.ptr += 1;
        (Token::Str(s), 0)
    }

    /// `json_is_invalid_number`: forms strtod takes but strict JSON does not.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.ptr;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        } else if c <= b'9' {
            return false;
        }
        let lower = |i: usize| self.at(p + i).to_ascii_lowercase();
        (lower(0), lower(1), lower(2)) == (b'i', b'n', b'f')
            || (lower(0), lower(1), lower(2)) == (b'n', b'a', b'n')
    }

    fn number_token(&mut self) -> Token {
        match strtod(self.data, self.ptr) {
            Some((n, end)) => {
                self.ptr = end;
                Token::Number(n)
            }
            None => Token::Error("invalid number"),
        }
    }

    /// `json_next_token`: the token and its 0-based index.
    fn next_token(&mut self) -> (Token, usize) {
        while matches!(self.at(self.ptr), b' ' | b'\t' | b'\n' | b'\r') {
            self.ptr += 1;
        }
        let index = self.ptr;
        let ch = self.at(self.ptr);
        let single = match ch {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b',' => Some(Token::Comma),
            b':' => Some(Token::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.ptr += 1;
            return (t, index);
        }
        if ch == 0 {
            return (Token::End, index);
        }
        if !matches!(ch, b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'"' | b'+' | b'-' | b'0'..=b'9') {
            return (Token::Error("invalid token"), index);
        }
        if ch == b'"' {
            let (t, at) = self.string_token();
            return match t {
                Token::Error(_) => (t, at),
                t => (t, index),
            };
        }
        if ch == b'-' || ch.is_ascii_digit() {
            if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                return (Token::Error("invalid number"), index);
            }
            return (self.number_token(), index);
        }
        if self.starts_with(b"true") {
            self.ptr += 4;
            return (Token::Boolean(true), index);
        }
        if self.starts_with(b"false") {
            self.ptr += 5;
            return (Token::Boolean(false), index);
        }
        if self.starts_with(b"null") {
            self.ptr += 4;
            return (Token::Null, index);
        }
        if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
            return (self.number_token(), index);
        }
        (Token::Error("invalid token"), index)
    }

    fn parse_error(expected: &str, token: &Token, index: usize) -> LibError {
        LibError::msg(format!(
            "Expected {expected} but found {} at character {}",
            token.name(),
            index + 1
        ))
    }

    fn descend(&mut self) -> LibResult<()> {
        self.depth += 1;
        if self.depth > self.cfg.decode_max_depth || self.depth > HARD_DEPTH {
            return Err(LibError::msg(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.ptr
            )));
        }
        Ok(())
    }

    /// Parses one value starting with `token`, with an explicit stack of open containers
    /// so deep nesting costs no native stack.
    fn parse(&mut self, mut token: Token, mut index: usize) -> LibResult<Value> {
        let mut stack: Vec<Open> = Vec::new();
        loop {
            // Value context: a scalar completes at once, a bracket opens a container.
            let mut done = match token {
                Token::Str(s) => Value::String(self.lua.create_string(s)?),
                Token::Number(n) => Value::Number(n),
                Token::Boolean(b) => Value::Boolean(b),
                Token::Null => Value::NULL,
                Token::ArrBegin => {
                    self.descend()?;
                    let t = self.lua.create_table()?;
                    if self.cfg.decode_array_with_array_mt != 0 {
                        t.set_metatable(Some(self.shared.array_mt.clone()))?;
                    }
                    let (next, at) = self.next_token();
                    if matches!(next, Token::ArrEnd) {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        stack.push(Open::Array(t, 1));
                        (token, index) = (next, at);
                        continue;
                    }
                }
                Token::ObjBegin => {
                    self.descend()?;
                    let t = self.lua.create_table()?;
                    let (next, at) = self.next_token();
                    if matches!(next, Token::ObjEnd) {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        let key = self.object_key(next, at)?;
                        stack.push(Open::Object(t, key));
                        (token, index) = self.next_token();
                        continue;
                    }
                }
                other => return Err(Self::parse_error("value", &other, index)),
            };
            // A value is complete: store it in its container, then see what follows.
            loop {
                let Some(open) = stack.last_mut() else { return Ok(done) };
                let (next, at) = self.next_token();
                match open {
                    Open::Array(t, i) => {
                        t.raw_set(*i, done)?;
                        *i += 1;
                        match next {
                            Token::ArrEnd => {}
                            Token::Comma => {
                                (token, index) = self.next_token();
                                break;
                            }
                            other => return Err(Self::parse_error("comma or array end", &other, at)),
                        }
                    }
                    Open::Object(t, key) => {
                        t.raw_set(self.lua.create_string(std::mem::take(key))?, done)?;
                        match next {
                            Token::ObjEnd => {}
                            Token::Comma => {
                                let (kt, ki) = self.next_token();
                                *key = self.object_key(kt, ki)?;
                                (token, index) = self.next_token();
                                break;
                            }
                            other => return Err(Self::parse_error("comma or object end", &other, at)),
                        }
                    }
                }
                self.depth -= 1;
                done = match stack.pop() {
                    Some(Open::Array(t, _) | Open::Object(t, _)) => Value::Table(t),
                    None => Value::Nil,
                };
            }
        }
    }

    /// An object key and its colon.
    fn object_key(&mut self, token: Token, index: usize) -> LibResult<Vec<u8>> {
        let Token::Str(key) = token else {
            return Err(Self::parse_error("object key string", &token, index));
        };
        let (colon, at) = self.next_token();
        if !matches!(colon, Token::Colon) {
            return Err(Self::parse_error("colon", &colon, at));
        }
        Ok(key)
    }
}

/// A container being decoded: an array and its next index, or an object and the key of the
/// value being parsed.
enum Open {
    Array(Table, i64),
    Object(Table, Vec<u8>),
}

/// `cjson.decode(text)`.
fn decode(lua: &Lua, cfg: &Config, shared: &Shared, a: &Args) -> LibResult<Value> {
    if a.len() != 1 {
        return Err(LibError::arg(1, "expected 1 argument"));
    }
    let data = a.check_bytes(1)?;
    if data.len() >= 2 && (data.first() == Some(&0) || data.get(1) == Some(&0)) {
        return Err(LibError::msg("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut p = Parser { lua, cfg, shared, data: &data, ptr: 0, depth: 0 };
    let (token, index) = p.next_token();
    let value = p.parse(token, index)?;
    let (end, at) = p.next_token();
    if !matches!(end, Token::End) {
        return Err(Parser::parse_error("the end", &end, at));
    }
    Ok(value)
}

/// glibc's `strtod` from `start`: the value and where it stopped, `None` when nothing
/// converts. Decimal, hexadecimal (`0x1.8p3`), `inf`/`infinity` and `nan[(...)]`.
pub(crate) fn strtod(s: &[u8], start: usize) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = start;
    while matches!(at(i), b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let negative = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    let word = |i: usize, w: &[u8]| w.iter().enumerate().all(|(k, &c)| at(i + k).to_ascii_lowercase() == c);
    if word(i, b"inf") {
        let end = if word(i + 3, b"inity") { i + 8 } else { i + 3 };
        return Some((sign * f64::INFINITY, end));
    }
    if word(i, b"nan") {
        let mut end = i + 3;
        if at(end) == b'(' {
            let mut k = end + 1;
            while at(k).is_ascii_alphanumeric() || at(k) == b'_' {
                k += 1;
            }
            if at(k) == b')' {
                end = k + 1;
            }
        }
        let nan = if negative { -f64::NAN } else { f64::NAN };
        return Some((nan, end));
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' {
        let h = i + 2;
        if hexdigit(at(h)).is_some() || (at(h) == b'.' && hexdigit(at(h + 1)).is_some()) {
            let (v, end) = hex_float(s, h);
            return Some((sign * v, end));
        }
    }
    let mut digits = String::new();
    let mut k = i;
    let mut int_digits = 0;
    while at(k).is_ascii_digit() {
        digits.push(at(k) as char);
        k += 1;
        int_digits += 1;
    }
    let mut frac = String::new();
    if at(k) == b'.' {
        let mut f = k + 1;
        while at(f).is_ascii_digit() {
            frac.push(at(f) as char);
            f += 1;
        }
        if int_digits > 0 || !frac.is_empty() {
            k = f;
        }
    }
    if int_digits == 0 && frac.is_empty() {
        return None;
    }
    let mut exp: i64 = 0;
    if at(k) | 0x20 == b'e' {
        let mut e = k + 1;
        let eneg = at(e) == b'-';
        if matches!(at(e), b'+' | b'-') {
            e += 1;
        }
        if at(e).is_ascii_digit() {
            while at(e).is_ascii_digit() {
                exp = (exp * 10 + i64::from(at(e) - b'0')).min(1_000_000);
                e += 1;
            }
            if eneg {
                exp = -exp;
            }
            k = e;
        }
    }
    let text = format!(
        "{}{}.{}e{}",
        if negative { "-" } else { "" },
        if digits.is_empty() { "0" } else { &digits },
        if frac.is_empty() { "0" } else { &frac },
        exp
    );
    Some((text.parse::<f64>().ok()?, k))
}

/// The hexadecimal part of `strtod` after `0x`: mantissa digits, optional fraction, `p`
/// exponent.
fn hex_float(s: &[u8], start: usize) -> (f64, usize) {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut k = start;
    let mut mantissa: u64 = 0;
    let mut scale: i64 = 0;
    let mut take = |d: u32, fractional: bool, scale: &mut i64| {
        if mantissa >> 56 == 0 {
            mantissa = mantissa << 4 | u64::from(d);
            if fractional {
                *scale -= 4;
            }
        } else if !fractional {
            *scale += 4;
        }
    };
    while let Some(d) = hexdigit(at(k)) {
        take(d, false, &mut scale);
        k += 1;
    }
    if at(k) == b'.' {
        k += 1;
        while let Some(d) = hexdigit(at(k)) {
            take(d, true, &mut scale);
            k += 1;
        }
    }
    if at(k) | 0x20 == b'p' {
        let mut e = k + 1;
        let neg = at(e) == b'-';
        if matches!(at(e), b'+' | b'-') {
            e += 1;
        }
        if at(e).is_ascii_digit() {
            let mut exp: i64 = 0;
            while at(e).is_ascii_digit() {
                exp = (exp * 10 + i64::from(at(e) - b'0')).min(100_000);
                e += 1;
            }
            scale += if neg { -exp } else { exp };
            k = e;
        }
    }
    let v = mantissa as f64 * 2f64.powi(scale.clamp(-2000, 2000) as i32);
    (v, k)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{run};

    fn ok(code: &str) -> String {
        run(code).unwrap()
    }

    fn err(code: &str) -> String {
        run(&format!("local r = {code} return r")).unwrap_err()
    }

    #[test]
    fn encode_follows_lua_cjson_formatting() {
        assert_eq!(ok("return cjson.encode({a=1})"), r#"{"a":1}"#);
        assert_eq!(ok("return cjson.encode('a/b\"\\\\\\1\\127\\128')"), "\"a\\/b\\\"\\\\\\u0001\\u007f\u{fffd}\"");
        assert_eq!(ok("return cjson.encode({})"), "{}");
        assert_eq!(ok("return cjson.encode({[0]=1})"), r#"{"0":1}"#);
        assert_eq!(ok("return cjson.encode({1,2,[4]=4})"), "[1,2,null,4]");
        assert_eq!(ok("return cjson.encode({1.5, -0.0, 1e300, 2^53})"), "[1.5,-0,1e+300,9.007199254741e+15]");
        assert_eq!(ok("return cjson.encode({[1.5]=1})"), r#"{"1.5":1}"#);
        assert_eq!(ok("return cjson.encode(cjson.null)"), "null");
        assert_eq!(ok("return cjson.encode(1/3)"), "0.33333333333333");
    }

    #[test]
    fn encode_refuses_what_json_cannot_hold() {
        assert_eq!(err("cjson.encode(math.huge)"), "user_script:1: Cannot serialise number: must not be NaN or Inf");
        assert_eq!(err("cjson.encode({[true]=1})"), "user_script:1: Cannot serialise boolean: table key must be a number or string");
        assert_eq!(err("cjson.encode(function() end)"), "user_script:1: Cannot serialise function: type not supported");
        assert_eq!(err("cjson.encode({[1]=1,[20]=2})"), "user_script:1: Cannot serialise table: excessively sparse array");
        assert_eq!(err("cjson.encode()"), "user_script:1: bad argument #1 to 'encode' (expected 1 argument)");
        assert_eq!(
            err("cjson.encode((function() local t = {} local c = t for i = 1, 1001 do c[1] = {} c = c[1] end return t end)())"),
            "user_script:1: Cannot serialise, excessive nesting (1001)"
        );
    }

    #[test]
    fn decode_builds_lua_values() {
        assert_eq!(ok("return cjson.decode('[1,2,3]')[3]"), "3");
        assert_eq!(ok("return cjson.decode('{\"a\":[1,{\"b\":null}]}').a[2].b == cjson.null"), "true");
        assert_eq!(ok("return cjson.decode('\"\\\\u00e9\"')"), "é");
        assert_eq!(ok("return cjson.decode('0x10')"), "16");
        assert_eq!(ok("return cjson.decode('01')"), "1");
        assert_eq!(ok("return cjson.decode(123)"), "123");
        assert_eq!(ok("return tostring(cjson.decode('nan'))"), "nan");
        assert_eq!(ok("return cjson.decode(' 1.5e3 ')"), "1500");
    }

    #[test]
    fn decode_errors_name_the_token_and_position() {
        let cases = [
            ("'  '", "Expected value but found T_END at character 3"),
            ("'[1,]'", "Expected value but found T_ARR_END at character 4"),
            ("'{1:2}'", "Expected object key string but found T_NUMBER at character 2"),
            ("'{\"a\" 2}'", "Expected colon but found T_NUMBER at character 6"),
            ("'\"abc'", "Expected value but found unexpected end of string at character 5"),
            ("'\"a\\\\qb\"'", "Expected value but found invalid escape code at character 3"),
            ("'\"\\\\ud83d\"'", "Expected value but found invalid unicode escape code at character 2"),
            ("'[1] x'", "Expected the end but found invalid token at character 5"),
            ("'nullx'", "Expected the end but found invalid token at character 5"),
            ("'1e'", "Expected the end but found invalid token at character 2"),
            ("'[1,2'", "Expected comma or array end but found T_END at character 5"),
            ("'x'", "Expected value but found invalid token at character 1"),
            ("string.rep('[', 1001)", "Found too many nested data structures (1001) at character 1001"),
        ];
        for (arg, msg) in cases {
            assert_eq!(err(&format!("cjson.decode({arg})")), format!("user_script:1: {msg}"), "{arg}");
        }
    }

    #[test]
    fn settings_validate_and_report_their_values() {
        assert_eq!(ok("return cjson.encode_max_depth()"), "1000");
        assert_eq!(err("cjson.encode_max_depth(0)"), "user_script:1: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)");
        assert_eq!(err("cjson.encode_number_precision(15)"), "user_script:1: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14)");
        assert_eq!(ok("local a, b, c = cjson.encode_sparse_array() return tostring(a) .. b .. c"), "false210");
        assert_eq!(err("cjson.encode_invalid_numbers('x')"), "user_script:1: bad argument #1 to 'encode_invalid_numbers' (invalid option 'x')");
        assert_eq!(ok("return cjson.encode_invalid_numbers('null')"), "null");
        assert_eq!(err("cjson.encode_max_depth(1,2)"), "user_script:1: bad argument #2 to 'encode_max_depth' (found too many arguments)");
        assert_eq!(ok("cjson.encode_number_precision(3) return cjson.encode(1/3)"), "0.333");
        assert_eq!(ok("local j = cjson.new() j.encode_number_precision(3) return cjson.encode(1/3)"), "0.33333333333333");
    }

    #[test]
    fn openresty_array_extensions_only_apply_when_used() {
        assert_eq!(ok("return cjson.encode(cjson.empty_array)"), "[]");
        assert_eq!(ok("return cjson.encode(setmetatable({}, cjson.empty_array_mt))"), "[]");
        assert_eq!(ok("return cjson.encode(setmetatable({}, cjson.array_mt))"), "[]");
        assert_eq!(ok("cjson.encode_empty_table_as_object(false) return cjson.encode({a={}})"), r#"{"a":[]}"#);
        assert_eq!(ok("cjson.decode_array_with_array_mt(true) return cjson.encode(cjson.decode('[]'))"), "[]");
        assert_eq!(ok("return cjson.encode(cjson.decode('[]'))"), "{}");
    }
}
