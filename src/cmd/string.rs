//! String commands: GET, SET and its variants, the GET* family, MGET/MSET, APPEND, counters,
//! ranges and LCS.
//!
//! Semantics follow Redis 7.4's `t_string.c`: option parsing and its conflict rules, the order
//! in which errors are checked (syntax, then numbers, then the key's type), the keyspace events
//! each command raises, and the encoding (`int`/`embstr`/`raw`) each write leaves behind.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{args, errors, CommandSpec, Ctx};
use crate::keyspace::string::{getrange_bounds, incr_by_float, IncrFloatError};
use crate::keyspace::{StringValue, Value};
use crate::resp::Reply;
use bytes::Bytes;

// ---------------------------------------------------------------------------------------------
// Lookups

/// Why a key could not be read as a string.
enum NotString {
    /// The key holds another type.
    WrongType,
}

impl From<NotString> for Reply {
    fn from(_: NotString) -> Reply {
        errors::wrong_type()
    }
}

/// The string at `key` without counting a keyspace hit or miss (Redis's `lookupKeyWrite`).
fn lookup(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<StringValue>, NotString> {
    lookup_with(ctx, key, StringValue::clone)
}

/// `f` of the string at `key` (see [`lookup`]), without copying the value.
fn lookup_with<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&StringValue) -> R) -> Result<Option<R>, NotString> {
    let now = ctx.now_ms();
    match ctx.db().get_value(key, now) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(f(s))),
        #[allow(unreachable_patterns)]
        Some(_) => Err(NotString::WrongType),
    }
}

/// The string at `key` for a read (Redis's `lookupKeyRead`): counts a hit or a miss for
/// `INFO stats` whatever the type.
fn lookup_read(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<StringValue>, NotString> {
    lookup_read_with(ctx, key, StringValue::clone)
}

/// `f` of the string at `key` for a read (see [`lookup_read`]), without copying the value.
fn lookup_read_with<R>(ctx: &mut Ctx<'_>, key: &[u8], f: impl FnOnce(&StringValue) -> R) -> Result<Option<R>, NotString> {
    let now = ctx.now_ms();
    let found = ctx.db().get_value(key, now).map(|value| match value {
        Value::String(s) => Ok(f(s)),
        #[allow(unreachable_patterns)]
        _ => Err(NotString::WrongType),
    });
    ctx.shared.stats.record_lookup(found.is_some());
    found.transpose()
}

/// Rewrites the string at `key` in place as a `raw` string (APPEND, SETRANGE), keeping its
/// TTL, and signals WATCHers. Does nothing if the key is not a live string. The edit gets the
/// value's own buffer (no copy), so repeated APPENDs stay linear.
fn edit_in_place(ctx: &mut Ctx<'_>, key: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> usize {
    let now = ctx.now_ms();
    let db = ctx.db();
    let mut len = 0;
    if let Some(entry) = db.get_mut(key, now) {
        if let Value::String(s) = &mut entry.value {
            let buf = s.make_raw();
            edit(buf);
            len = buf.len();
        }
    }
    db.touch(key);
    len
}

/// Redis's `checkStringLength`: whether a string of `size + append` bytes would exceed
/// `proto-max-bulk-len` (or overflow).
fn exceeds_max_length(ctx: &Ctx<'_>, size: u64, append: u64) -> Option<Reply> {
    let max = ctx.shared.config.read().proto_max_bulk_len;
    match size.checked_add(append) {
        Some(total) if total <= max => None,
        _ => Some(Reply::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")),
    }
}

// ---------------------------------------------------------------------------------------------
// Expire options shared by SET, SETEX, PSETEX and GETEX

/// How an expire argument is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireUnit {
    /// `EX seconds` (relative).
    Ex,
    /// `PX milliseconds` (relative).
    Px,
    /// `EXAT unix-seconds` (absolute).
    ExAt,
    /// `PXAT unix-milliseconds` (absolute).
    PxAt,
}

impl ExpireUnit {
    fn is_absolute(self) -> bool {
        matches!(self, ExpireUnit::ExAt | ExpireUnit::PxAt)
    }
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute deadline in Unix ms.
/// Errors: `ERR value is not an integer or out of range`; `ERR invalid expire time in '<cmd>'
/// command` for a time <= 0 or one whose millisecond form overflows.
fn deadline_ms(arg: &[u8], unit: ExpireUnit, now_ms: u64, command: &str) -> Result<u64, Reply> {
    let value = args::int(arg)?;
    let invalid = || Reply::error(format!("ERR invalid expire time in '{command}' command"));
    let seconds = matches!(unit, ExpireUnit::Ex | ExpireUnit::ExAt);
    if value <= 0 || (seconds && value > i64::MAX / 1000) {
        return Err(invalid());
    }
    let ms = if seconds { value * 1000 } else { value };
    let ms = if unit.is_absolute() {
        ms
    } else {
        ms.checked_add(i64::try_from(now_ms).unwrap_or(i64::MAX)).ok_or_else(invalid)?
    };
    u64::try_from(ms).map_err(|_| invalid())
}

/// The options of `SET` (from argument 3) or `GETEX` (from argument 2), after Redis's
/// `parseExtendedStringArgumentsOrReply`.
#[derive(Debug, Default)]
struct ExtendedOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<(ExpireUnit, Bytes)>,
}

/// Which command's options are being parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptionsOf {
    Set,
    GetEx,
}

/// Parses SET/GETEX options with Redis's conflict rules: NX/XX exclude each other; KEEPTTL
/// (SET only) and PERSIST (GETEX only) exclude any expire; the four expire forms exclude each
/// other but one may repeat (the last wins); an expire keyword needs a following argument.
/// Anything else is `ERR syntax error`. Numbers are not read here.
fn parse_extended(args: &[Bytes], from: usize, of: OptionsOf) -> Result<ExtendedOptions, Reply> {
    let mut o = ExtendedOptions::default();
    let set = of == OptionsOf::Set;
    let mut j = from;
    while let Some(opt) = args.get(j) {
        let next = args.get(j + 1);
        let expire_kind = o.expire.as_ref().map(|(unit, _)| *unit);
        let expire_allows = |unit: ExpireUnit| !o.keep_ttl && !o.persist && expire_kind.is_none_or(|k| k == unit);
        let expire_unit = if args::is(opt, "ex") {
            Some(ExpireUnit::Ex)
        } else if args::is(opt, "px") {
            Some(ExpireUnit::Px)
        } else if args::is(opt, "exat") {
            Some(ExpireUnit::ExAt)
        } else if args::is(opt, "pxat") {
            Some(ExpireUnit::PxAt)
        } else {
            None
        };
        if set && args::is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if set && args::is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if set && args::is(opt, "get") {
            o.get = true;
        } else if set && args::is(opt, "keepttl") && !o.persist && expire_kind.is_none() {
            o.keep_ttl = true;
        } else if !set && args::is(opt, "persist") && !o.keep_ttl && expire_kind.is_none() {
            o.persist = true;
        } else if let (Some(unit), Some(value)) = (expire_unit, next) {
            if !expire_allows(unit) {
                return Err(errors::syntax());
            }
            o.expire = Some((unit, value.clone()));
            j += 1;
        } else {
            return Err(errors::syntax());
        }
        j += 1;
    }
    Ok(o)
}

// ---------------------------------------------------------------------------------------------
// GET and SET family

/// `GET key`: the value, or null.
/// Errors: `WRONGTYPE` if the key holds another type.
fn get(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match lookup_read_with(ctx, &args[1], StringValue::to_bytes) {
        Ok(found) => Reply::bulk_or_null(found),
        Err(e) => e.into(),
    }
}

/// What the shared SET routine replies in its different outcomes.
struct SetReplies {
    /// When the value was stored.
    ok: Reply,
    /// When NX or XX prevented the store.
    aborted: Reply,
}

/// The body of SET, SETNX, SETEX and PSETEX (Redis's `setGenericCommand`): validates the
/// expire, runs the GET part, applies NX/XX, stores, and raises `set` (and `expire`).
fn set_generic(ctx: &mut Ctx<'_>, key: &Bytes, value: &Bytes, options: &ExtendedOptions, command: &str, replies: SetReplies) -> Reply {
    let now = ctx.now_ms();
    let deadline = match &options.expire {
        Some((unit, arg)) => match deadline_ms(arg, *unit, now, command) {
            Ok(deadline) => Some(deadline),
            Err(reply) => return reply,
        },
        None => None,
    };
    let old = if options.get {
        match lookup_read_with(ctx, key, StringValue::to_bytes) {
            Ok(old) => Some(Reply::bulk_or_null(old)),
            Err(e) => return e.into(),
        }
    } else {
        None
    };
    // Only NX/XX need to know beforehand; `insert` reclaims an expired old value itself.
    let found = (options.nx || options.xx) && ctx.db().contains(key, now);
    if (options.nx && found) || (options.xx && !found) {
        return old.unwrap_or(replies.aborted);
    }
    let stored = Value::String(StringValue::from_bytes(value));
    if options.keep_ttl {
        ctx.db().insert_keep_ttl(key, stored, now);
    } else {
        // A deadline in the past still stores the key, which the next access then expires,
        // as Redis does (it raises `set`, `expire`, and later `expired`).
        ctx.db().insert(key, stored, deadline, now);
    }
    ctx.notify('$', "set", key);
    if deadline.is_some() {
        ctx.notify('g', "expire", key);
    }
    old.unwrap_or(replies.ok)
}

/// `SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | KEEPTTL]`: stores a string. Replies OK, or null when NX/XX
/// prevented it; with GET, the old value (or null) instead.
/// Errors: `ERR syntax error` for unknown or conflicting options; `ERR value is not an integer
/// or out of range`; `ERR invalid expire time in 'set' command`; with GET, `WRONGTYPE` if the
/// old value is not a string (nothing is stored then).
fn set(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let options = match parse_extended(args, 3, OptionsOf::Set) {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    set_generic(ctx, &args[1], &args[2], &options, "set", SetReplies { ok: Reply::ok(), aborted: Reply::Null })
}

/// `SETNX key value`: stores the value only if the key does not exist. Replies 1 if stored,
/// else 0.
fn setnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let options = ExtendedOptions { nx: true, ..ExtendedOptions::default() };
    set_generic(ctx, &args[1], &args[2], &options, "setnx", SetReplies { ok: Reply::Integer(1), aborted: Reply::Integer(0) })
}

/// `SETEX key seconds value`: stores the value with a TTL in seconds.
/// Errors: `ERR value is not an integer or out of range`; `ERR invalid expire time in 'setex'
/// command` for seconds <= 0 or too large.
fn setex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let options = ExtendedOptions { expire: Some((ExpireUnit::Ex, args[2].clone())), ..ExtendedOptions::default() };
    set_generic(ctx, &args[1], &args[3], &options, "setex", SetReplies { ok: Reply::ok(), aborted: Reply::Null })
}

/// `PSETEX key milliseconds value`: stores the value with a TTL in milliseconds.
/// Errors: `ERR value is not an integer or out of range`; `ERR invalid expire time in 'psetex'
/// command` for milliseconds <= 0 or too large.
fn psetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let options = ExtendedOptions { expire: Some((ExpireUnit::Px, args[2].clone())), ..ExtendedOptions::default() };
    set_generic(ctx, &args[1], &args[3], &options, "psetex", SetReplies { ok: Reply::ok(), aborted: Reply::Null })
}

/// `GETSET key value`: stores the value (dropping any TTL) and replies the old one, or null.
/// Errors: `WRONGTYPE` if the key holds another type (nothing is stored then).
fn getset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let old = match lookup_read(ctx, &args[1]) {
        Ok(old) => old,
        Err(e) => return e.into(),
    };
    let now = ctx.now_ms();
    ctx.db().insert(&args[1], Value::String(StringValue::from_bytes(&args[2])), None, now);
    ctx.notify('$', "set", &args[1]);
    Reply::bulk_or_null(old.map(|s| s.to_bytes()))
}

/// `GETDEL key`: replies the value (or null) and deletes the key, raising `del`.
/// Errors: `WRONGTYPE` if the key holds another type (it is not deleted then).
fn getdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let old = match lookup_read(ctx, &args[1]) {
        Ok(old) => old,
        Err(e) => return e.into(),
    };
    if old.is_some() {
        ctx.db().remove(&args[1]);
        ctx.notify('g', "del", &args[1]);
    }
    Reply::bulk_or_null(old.map(|s| s.to_bytes()))
}

/// `GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT
/// unix-time-milliseconds | PERSIST]`: replies the value (or null) and changes its TTL. An
/// EXAT/PXAT deadline already past deletes the key (`del`); otherwise a new TTL raises
/// `expire`, and PERSIST on a key with a TTL raises `persist`.
/// Errors: `ERR syntax error`; for an existing key, `WRONGTYPE`, then `ERR value is not an
/// integer or out of range` and `ERR invalid expire time in 'getex' command` (a missing key
/// replies null before the expire is read, as in Redis).
fn getex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let options = match parse_extended(args, 2, OptionsOf::GetEx) {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    let key = &args[1];
    let value = match lookup_read(ctx, key) {
        Ok(Some(value)) => value,
        Ok(None) => return Reply::Null,
        Err(e) => return e.into(),
    };
    let now = ctx.now_ms();
    let deadline = match &options.expire {
        Some((unit, arg)) => match deadline_ms(arg, *unit, now, "getex") {
            Ok(deadline) => Some((*unit, deadline)),
            Err(reply) => return reply,
        },
        None => None,
    };
    match deadline {
        Some((unit, deadline)) if unit.is_absolute() && deadline <= now => {
            ctx.db().remove(key);
            ctx.notify('g', "del", key);
        }
        Some((_, deadline)) => {
            ctx.db().set_expiry(key, Some(deadline), now);
            ctx.notify('g', "expire", key);
        }
        None if options.persist => {
            let has_ttl = ctx.db().get_mut(key, now).is_some_and(|e| e.expires_at.is_some());
            if has_ttl {
                ctx.db().set_expiry(key, None, now);
                ctx.notify('g', "persist", key);
            }
        }
        None => {}
    }
    Reply::Bulk(value.to_bytes())
}

/// `MGET key [key ...]`: the value of each key, null for missing keys and for keys holding
/// another type. Never errors.
fn mget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let replies = args[1..]
        .iter()
        .map(|key| match lookup_read_with(ctx, key, StringValue::to_bytes) {
            Ok(Some(value)) => Reply::Bulk(value),
            Ok(None) | Err(_) => Reply::Null,
        })
        .collect();
    Reply::Array(replies)
}

/// The argument-count check MSET and MSETNX make themselves: pairs after the name.
fn pairs_arity_error(args: &[Bytes], name: &str) -> Option<Reply> {
    args.len().is_multiple_of(2).then(|| Reply::error(format!("ERR wrong number of arguments for '{name}' command")))
}

/// Stores every key/value pair of MSET or MSETNX, dropping TTLs, raising `set` for each.
fn store_pairs(ctx: &mut Ctx<'_>, args: &[Bytes]) {
    let now = ctx.now_ms();
    for pair in args[1..].chunks_exact(2) {
        if let [key, value] = pair {
            ctx.db().insert(key, Value::String(StringValue::from_bytes(value)), None, now);
            ctx.notify('$', "set", key);
        }
    }
}

/// `MSET key value [key value ...]`: stores every pair; always OK.
/// Errors: `ERR wrong number of arguments for 'mset' command` for an odd count.
fn mset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if let Some(error) = pairs_arity_error(args, "mset") {
        return error;
    }
    store_pairs(ctx, args);
    Reply::ok()
}

/// `MSETNX key value [key value ...]`: stores every pair only if none of the keys exists
/// (whatever its type). Replies 1 if stored, else 0.
/// Errors: `ERR wrong number of arguments for 'msetnx' command` for an odd count.
fn msetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if let Some(error) = pairs_arity_error(args, "msetnx") {
        return error;
    }
    let now = ctx.now_ms();
    let any_exists = args[1..].iter().step_by(2).any(|key| ctx.db().contains(key, now));
    if any_exists {
        return Reply::Integer(0);
    }
    store_pairs(ctx, args);
    Reply::Integer(1)
}

// ---------------------------------------------------------------------------------------------
// In-place edits

/// `APPEND key value`: appends to the string (creating it as SET would), replies the new
/// length, raises `append`. The result is stored `raw`, as in Redis.
/// Errors: `WRONGTYPE`; `ERR string exceeds maximum allowed size (proto-max-bulk-len)`.
fn append(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, tail) = (&args[1], &args[2]);
    // Only the length is kept: holding a copy of the value would stop the in-place edit from
    // reusing its buffer, making repeated APPENDs quadratic.
    let len = match lookup_with(ctx, key, StringValue::len) {
        Err(e) => return e.into(),
        Ok(None) => {
            let now = ctx.now_ms();
            ctx.db().insert(key, Value::String(StringValue::from_bytes(tail)), None, now);
            tail.len()
        }
        Ok(Some(current_len)) => {
            if let Some(error) = exceeds_max_length(ctx, current_len as u64, tail.len() as u64) {
                return error;
            }
            edit_in_place(ctx, key, |buf| buf.extend_from_slice(tail))
        }
    };
    ctx.notify('$', "append", key);
    Reply::from(len)
}

/// `SETRANGE key offset value`: overwrites part of the string at `offset`, padding with zero
/// bytes, and replies the new length (raising `setrange` unless `value` is empty, which only
/// reports the current length). The result is stored `raw`.
/// Errors: `ERR value is not an integer or out of range`; `ERR offset is out of range` for a
/// negative offset; `WRONGTYPE`; `ERR string exceeds maximum allowed size
/// (proto-max-bulk-len)`.
fn setrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (key, patch) = (&args[1], &args[3]);
    let offset = match args::int(&args[2]) {
        Ok(offset) => offset,
        Err(e) => return e.into(),
    };
    let Ok(offset) = u64::try_from(offset) else {
        return Reply::error("ERR offset is out of range");
    };
    // Only the length is kept, so that the in-place edit can reuse the value's buffer.
    let current_len = match lookup_with(ctx, key, StringValue::len) {
        Ok(current) => current,
        Err(e) => return e.into(),
    };
    if patch.is_empty() {
        return Reply::from(current_len.unwrap_or(0));
    }
    if let Some(error) = exceeds_max_length(ctx, offset, patch.len() as u64) {
        return error;
    }
    // The limit above is at most i64::MAX; it still has to fit this machine's memory.
    let Ok(start) = usize::try_from(offset) else {
        return Reply::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    };
    let write = |buf: &mut Vec<u8>| {
        let end = start + patch.len();
        if buf.len() < end {
            buf.resize(end, 0);
        }
        if let Some(slot) = buf.get_mut(start..end) {
            slot.copy_from_slice(patch);
        }
    };
    let len = if current_len.is_none() {
        let mut buf = Vec::new();
        write(&mut buf);
        let len = buf.len();
        let now = ctx.now_ms();
        ctx.db().insert(key, Value::String(StringValue::raw(buf)), None, now);
        len
    } else {
        edit_in_place(ctx, key, write)
    };
    ctx.notify('$', "setrange", key);
    Reply::from(len)
}

// ---------------------------------------------------------------------------------------------
// Counters

/// The body of INCR, DECR, INCRBY and DECRBY: adds `delta`, keeping the key's TTL, stores an
/// `int`, raises `incrby`, replies the new value.
fn incr_by(ctx: &mut Ctx<'_>, key: &Bytes, delta: i64) -> Reply {
    let current = match lookup(ctx, key) {
        Ok(current) => current,
        Err(e) => return e.into(),
    };
    let exists = current.is_some();
    let Some(value) = current.map_or(Some(0), |s| s.as_i64()) else {
        return errors::not_integer();
    };
    let Some(new) = value.checked_add(delta) else {
        return Reply::error("ERR increment or decrement would overflow");
    };
    let now = ctx.now_ms();
    let stored = Value::String(StringValue::Int(new));
    if exists {
        ctx.db().insert_keep_ttl(key, stored, now);
    } else {
        ctx.db().insert(key, stored, None, now);
    }
    ctx.notify('$', "incrby", key);
    Reply::Integer(new)
}

/// `INCR key`: adds 1. Errors: `WRONGTYPE`; `ERR value is not an integer or out of range`;
/// `ERR increment or decrement would overflow`.
fn incr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    incr_by(ctx, &args[1], 1)
}

/// `DECR key`: subtracts 1. Errors as INCR.
fn decr(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    incr_by(ctx, &args[1], -1)
}

/// `INCRBY key increment`: adds `increment`. Errors: `ERR value is not an integer or out of
/// range` (the increment is read first); then as INCR.
fn incrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args::int(&args[2]) {
        Ok(delta) => incr_by(ctx, &args[1], delta),
        Err(e) => e.into(),
    }
}

/// `DECRBY key decrement`: subtracts `decrement`. Errors: `ERR value is not an integer or out
/// of range`; `ERR decrement would overflow` for -9223372036854775808; then as INCR.
fn decrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args::int(&args[2]) {
        Ok(i64::MIN) => Reply::error("ERR decrement would overflow"),
        Ok(delta) => incr_by(ctx, &args[1], -delta),
        Err(e) => e.into(),
    }
}

/// `INCRBYFLOAT key increment`: adds a float in x87 extended precision and stores the result
/// as Redis prints it (`%.17Lf` without trailing zeros), keeping the TTL; raises
/// `incrbyfloat`; replies the new value as a bulk string.
/// Errors: `WRONGTYPE`; `ERR value is not a valid float` (stored value or increment);
/// `ERR increment would produce NaN or Infinity`.
fn incrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let current = match lookup(ctx, key) {
        Ok(current) => current,
        Err(e) => return e.into(),
    };
    let exists = current.is_some();
    let current = current.map_or(Bytes::from_static(b"0"), |s| s.to_bytes());
    let result = match incr_by_float(&current, &args[2]) {
        Ok(result) => Bytes::from(result),
        Err(IncrFloatError::NotFloat) => return errors::not_float(),
        Err(IncrFloatError::NanOrInfinity) => return Reply::error("ERR increment would produce NaN or Infinity"),
    };
    let now = ctx.now_ms();
    // Redis stores the formatted text (embstr/raw), never an int encoding.
    let stored = Value::String(StringValue::text(&result));
    if exists {
        ctx.db().insert_keep_ttl(key, stored, now);
    } else {
        ctx.db().insert(key, stored, None, now);
    }
    ctx.notify('$', "incrbyfloat", key);
    Reply::Bulk(result)
}

// ---------------------------------------------------------------------------------------------
// Reads of part or all of a string

/// `STRLEN key`: the string's length in bytes, 0 for a missing key.
/// Errors: `WRONGTYPE`.
fn strlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match lookup_read_with(ctx, &args[1], StringValue::len) {
        Ok(found) => Reply::from(found.unwrap_or(0)),
        Err(e) => e.into(),
    }
}

/// `GETRANGE key start end` (and its old name `SUBSTR`): the bytes from `start` to `end`
/// inclusive, negative indexes counting from the end; an empty string for a missing key.
/// Errors: `ERR value is not an integer or out of range` (checked before the key);
/// `WRONGTYPE`.
fn getrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (start, end) = match (args::int(&args[2]), args::int(&args[3])) {
        (Ok(start), Ok(end)) => (start, end),
        (Err(e), _) | (_, Err(e)) => return e.into(),
    };
    let value = match lookup_read_with(ctx, &args[1], StringValue::to_bytes) {
        Ok(Some(value)) => value,
        Ok(None) => return Reply::Bulk(Bytes::new()),
        Err(e) => return e.into(),
    };
    match getrange_bounds(value.len(), start, end) {
        Some(range) => Reply::Bulk(value.slice(range)),
        None => Reply::Bulk(Bytes::new()),
    }
}

/// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]`: the longest common
/// subsequence of two strings (missing keys read as empty), its length (LEN), or the matching
/// ranges (IDX).
/// Errors: `ERR syntax error`; `ERR value is not an integer or out of range`; `ERR If you want
/// both the length and indexes, please just use IDX.`; `ERR The specified keys must contain
/// string values` for other types; `ERR Insufficient memory, transient memory for LCS exceeds
/// proto-max-bulk-len`.
fn lcs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    // Redis checks the types before it reads the options.
    let mut strings = Vec::with_capacity(2);
    for key in &args[1..3] {
        match lookup_read_with(ctx, key, StringValue::to_bytes) {
            Ok(found) => strings.push(found.unwrap_or_default()),
            Err(_) => return Reply::error("ERR The specified keys must contain string values"),
        }
    }
    let (mut get_len, mut get_idx, mut with_match_len, mut min_match_len) = (false, false, false, 0i64);
    let mut j = 3;
    while let Some(opt) = args.get(j) {
        if args::is(opt, "idx") {
            get_idx = true;
        } else if args::is(opt, "len") {
            get_len = true;
        } else if args::is(opt, "withmatchlen") {
            with_match_len = true;
        } else if let (true, Some(value)) = (args::is(opt, "minmatchlen"), args.get(j + 1)) {
            match args::int(value) {
                Ok(n) => min_match_len = n.max(0),
                Err(e) => return e.into(),
            }
            j += 1;
        } else {
            return errors::syntax();
        }
        j += 1;
    }
    if get_idx && get_len {
        return Reply::error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let (a, b) = (&strings[0], &strings[1]);
    // Redis refuses tables larger than proto-max-bulk-len (4 bytes per cell).
    let cells = (a.len() as u64 + 1).saturating_mul(b.len() as u64 + 1).saturating_mul(4);
    if cells > ctx.shared.config.read().proto_max_bulk_len {
        return Reply::error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
    }
    let result = crate::keyspace::string::lcs(a, b);
    if get_len {
        return Reply::from(result.len);
    }
    if !get_idx {
        return Reply::Bulk(Bytes::from(result.subsequence));
    }
    let matches = result
        .matches
        .iter()
        .filter(|m| i64::try_from(m.len).unwrap_or(i64::MAX) >= min_match_len)
        .map(|m| {
            let range = |start: usize, len: usize| Reply::Array(vec![Reply::from(start), Reply::from(start + len - 1)]);
            let mut item = vec![range(m.a_start, m.len), range(m.b_start, m.len)];
            if with_match_len {
                item.push(Reply::from(m.len));
            }
            Reply::Array(item)
        })
        .collect();
    Reply::Map(vec![
        (Reply::bulk("matches"), Reply::Array(matches)),
        (Reply::bulk("len"), Reply::from(result.len)),
    ])
}

/// The string commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, &["readonly", "fast"], (1, 1, 1), "string", "Returns the string value of a key.", get),
    CommandSpec::new("set", -3, &["write", "denyoom"], (1, 1, 1), "string", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", set),
    CommandSpec::new("setnx", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "Set the string value of a key only when the key doesn't exist.", setnx),
    CommandSpec::new("setex", 4, &["write", "denyoom"], (1, 1, 1), "string", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", setex).since("2.0.0"),
    CommandSpec::new("psetex", 4, &["write", "denyoom"], (1, 1, 1), "string", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", psetex).since("2.6.0"),
    CommandSpec::new("getset", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "Returns the previous string value of a key after setting it to a new value.", getset),
    CommandSpec::new("getdel", 2, &["write", "fast"], (1, 1, 1), "string", "Returns the string value of a key after deleting the key.", getdel).since("6.2.0"),
    CommandSpec::new("getex", -2, &["write", "fast"], (1, 1, 1), "string", "Returns the string value of a key after setting its expiration time.", getex).since("6.2.0"),
    CommandSpec::new("mget", -2, &["readonly", "fast"], (1, -1, 1), "string", "Atomically returns the string values of one or more keys.", mget),
    CommandSpec::new("mset", -3, &["write", "denyoom"], (1, -1, 2), "string", "Atomically creates or modifies the string values of one or more keys.", mset).since("1.0.1"),
    CommandSpec::new("msetnx", -3, &["write", "denyoom"], (1, -1, 2), "string", "Atomically modifies the string values of one or more keys only when all keys don't exist.", msetnx).since("1.0.1"),
    CommandSpec::new("append", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "Appends a string to the value of a key. Creates the key if it doesn't exist.", append).since("2.0.0"),
    CommandSpec::new("strlen", 2, &["readonly", "fast"], (1, 1, 1), "string", "Returns the length of a string value.", strlen).since("2.2.0"),
    CommandSpec::new("incr", 2, &["write", "denyoom", "fast"], (1, 1, 1), "string", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", incr),
    CommandSpec::new("decr", 2, &["write", "denyoom", "fast"], (1, 1, 1), "string", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", decr),
    CommandSpec::new("incrby", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", incrby),
    CommandSpec::new("decrby", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", decrby),
    CommandSpec::new("incrbyfloat", 3, &["write", "denyoom", "fast"], (1, 1, 1), "string", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", incrbyfloat).since("2.6.0"),
    CommandSpec::new("getrange", 4, &["readonly"], (1, 1, 1), "string", "Returns a substring of the string stored at a key.", getrange).since("2.4.0"),
    CommandSpec::new("substr", 4, &["readonly"], (1, 1, 1), "string", "Returns a substring from a string value.", getrange),
    CommandSpec::new("setrange", 4, &["write", "denyoom"], (1, 1, 1), "string", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", setrange).since("2.2.0"),
    CommandSpec::new("lcs", -3, &["readonly"], (1, 2, 1), "string", "Finds the longest common substring.", lcs).since("7.0.0"),
];
