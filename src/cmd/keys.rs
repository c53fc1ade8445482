//! Generic key commands: DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX, COPY, MOVE, KEYS, SCAN,
//! RANDOMKEY, TOUCH, OBJECT, the EXPIRE family, the TTL family and PERSIST.
//!
//! Each handler parses its arguments into typed values first (no state changes while parsing,
//! so a bad option never half-runs a command), then runs the data operations of
//! [`crate::keyspace::Db`] and turns their typed results into Redis's replies.
//!
//! Redis's bookkeeping is mirrored where clients can observe it:
//! - read lookups (EXISTS, TYPE, TOUCH, OBJECT, the TTL family, COPY's source) count in INFO's
//!   `keyspace_hits` / `keyspace_misses`, and all but OBJECT's raise a `keymiss` event (class
//!   `m`) on a miss;
//! - writes raise the generic (`g`) keyspace events Redis names: `del`, `rename_from` /
//!   `rename_to`, `copy_to`, `move_from` / `move_to`, `expire`, `persist`.
//! - TTL, TYPE and OBJECT do not count as an access (OBJECT IDLETIME keeps growing); TOUCH,
//!   COPY and the EXPIRE family do.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::args::{self, is, ArgError};
use super::{errors, CommandSpec, Ctx};
use crate::keyspace::{Entry, NoSuchKey, RenameOutcome, StringValue, Value};
use crate::resp::{parse_i64, Reply};
use bytes::Bytes;

/// `ERR source and destination objects are the same` (COPY and MOVE).
const SAME_OBJECT: &str = "ERR source and destination objects are the same";
/// `ERR DB index is out of range` (COPY ... DB and MOVE).
const DB_OUT_OF_RANGE: &str = "ERR DB index is out of range";
/// The `refcount` Redis reports for its shared small integers.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;
/// Redis shares the integer objects 0..10000 (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: std::ops::Range<i64> = 0..10_000;
/// The COUNT SCAN uses when none is given.
const DEFAULT_SCAN_COUNT: usize = 10;

// ---------------------------------------------------------------------------------------------
// Lookups shared by the read commands

/// Counts a read lookup in INFO's keyspace hits/misses and, if it missed and `notify_miss`,
/// raises Redis's `keymiss` event.
fn record_read(ctx: &mut Ctx<'_>, key: &[u8], hit: bool, notify_miss: bool) {
    ctx.shared.stats.record_lookup(hit);
    if !hit && notify_miss {
        ctx.notify('m', "keymiss", key);
    }
}

/// Reads what `read` extracts from a live key without counting as an access (Redis's
/// `LOOKUP_NOTOUCH`), recording the lookup. `None` if the key does not exist.
fn peek_with<T>(ctx: &mut Ctx<'_>, key: &[u8], notify_miss: bool, read: impl FnOnce(&Entry) -> T) -> Option<T> {
    let now = ctx.now_ms();
    let found = ctx.db().peek(key, now).map(read);
    record_read(ctx, key, found.is_some(), notify_miss);
    found
}

/// Reads a database index as Redis's `getIntFromObjectOrReply` + `selectDb` do.
fn db_index(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize, Reply> {
    let index = args::int(arg).map_err(Reply::from)?;
    let index = i32::try_from(index).map_err(|_| {
        Reply::error(format!("ERR value is out of range, value must between {} and {}", i32::MIN, i32::MAX))
    })?;
    usize::try_from(index)
        .ok()
        .filter(|&index| index < ctx.keyspace.db_count())
        .ok_or_else(|| Reply::error(DB_OUT_OF_RANGE))
}

// ---------------------------------------------------------------------------------------------
// DEL, UNLINK, EXISTS, TYPE, TOUCH

/// `DEL key [key ...]`: removes the keys; replies how many existed. Raises `del` per key.
fn del(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    delete_keys(ctx, &args[1..])
}

/// `UNLINK key [key ...]`: DEL; Redis frees big values in the background, Herald frees them at
/// once. Replies how many existed. Raises `del` per key.
fn unlink(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    delete_keys(ctx, &args[1..])
}

/// DEL and UNLINK: a key named twice counts once.
fn delete_keys(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Reply {
    let now = ctx.now_ms();
    let mut removed = 0i64;
    for key in keys {
        if ctx.db().contains(key, now) && ctx.db().remove(key).is_some() {
            ctx.notify('g', "del", key);
            removed += 1;
        }
    }
    Reply::Integer(removed)
}

/// `EXISTS key [key ...]`: how many of the keys exist; a key named twice counts twice.
fn exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut count = 0i64;
    for key in &args[1..] {
        if peek_with(ctx, key, true, |_| ()).is_some() {
            count += 1;
        }
    }
    Reply::Integer(count)
}

/// `TYPE key`: the type name as a simple string (`string`, `list`, ...), or `none`.
fn type_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let name = peek_with(ctx, &args[1], true, |entry| entry.value.type_name());
    Reply::simple(name.unwrap_or("none"))
}

/// `TOUCH key [key ...]`: marks the keys as accessed; replies how many exist.
fn touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms();
    let mut count = 0i64;
    for key in &args[1..] {
        let hit = ctx.db().get_mut(key, now).is_some();
        record_read(ctx, key, hit, true);
        count += i64::from(hit);
    }
    Reply::Integer(count)
}

// ---------------------------------------------------------------------------------------------
// RENAME, RENAMENX, COPY, MOVE

/// `RENAME key newkey`: renames, replacing any `newkey`, keeping the TTL. Replies `OK` (also
/// when both names are the same). Raises `rename_from` and `rename_to`.
/// Errors: `ERR no such key`.
fn rename(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, false)
}

/// `RENAMENX key newkey`: renames only if `newkey` does not exist. Replies 1 if renamed, 0 if
/// `newkey` exists or both names are the same. Raises `rename_from` and `rename_to`.
/// Errors: `ERR no such key`.
fn renamenx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, true)
}

/// RENAME and RENAMENX.
fn rename_generic(ctx: &mut Ctx<'_>, args: &[Bytes], only_if_absent: bool) -> Reply {
    let (from, to) = (&args[1], &args[2]);
    let now = ctx.now_ms();
    match ctx.db().rename(from, to, only_if_absent, now) {
        Err(NoSuchKey) => errors::no_such_key(),
        Ok(RenameOutcome::SameKey) if only_if_absent => Reply::Integer(0),
        Ok(RenameOutcome::SameKey) => Reply::ok(),
        Ok(RenameOutcome::TargetExists) => Reply::Integer(0),
        Ok(RenameOutcome::Renamed) => {
            ctx.notify('g', "rename_from", from);
            ctx.notify('g', "rename_to", to);
            if only_if_absent {
                Reply::Integer(1)
            } else {
                Reply::ok()
            }
        }
    }
}

/// COPY's options.
struct CopyArgs {
    /// The destination database index (the client's own by default).
    target_db: usize,
    /// REPLACE: overwrite an existing destination.
    replace: bool,
}

impl CopyArgs {
    fn parse(ctx: &Ctx<'_>, args: &[Bytes]) -> Result<CopyArgs, Reply> {
        let mut parsed = CopyArgs { target_db: ctx.client.db, replace: false };
        let mut i = 3;
        while let Some(arg) = args.get(i) {
            if is(arg, "replace") {
                parsed.replace = true;
                i += 1;
            } else if let (true, Some(index)) = (is(arg, "db"), args.get(i + 1)) {
                parsed.target_db = db_index(ctx, index)?;
                i += 2;
            } else {
                return Err(errors::syntax());
            }
        }
        Ok(parsed)
    }
}

/// `COPY source destination [DB destination-db] [REPLACE]`: copies the value and TTL. Replies
/// 1 if copied, 0 if the source does not exist or the destination exists without REPLACE.
/// Raises `copy_to` in the destination database.
/// Errors: `ERR source and destination objects are the same`, `ERR DB index is out of range`,
/// `ERR value is not an integer or out of range` and `ERR value is out of range, value must
/// between -2147483648 and 2147483647` (DB), `ERR syntax error`.
fn copy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let options = match CopyArgs::parse(ctx, args) {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    let (source, destination) = (&args[1], &args[2]);
    if options.target_db == ctx.client.db && source == destination {
        return Reply::error(SAME_OBJECT);
    }
    let now = ctx.now_ms();
    let entry = ctx.db().get_mut(source, now).cloned();
    record_read(ctx, source, entry.is_some(), true);
    let Some(entry) = entry else { return Reply::Integer(0) };
    let target = ctx.keyspace.db(options.target_db);
    if !options.replace && target.contains(destination, now) {
        return Reply::Integer(0);
    }
    target.insert_entry(destination.clone(), Entry { last_access_ms: now, ..entry });
    ctx.keyspace.notify(options.target_db, 'g', "copy_to", destination);
    Reply::Integer(1)
}

/// `MOVE key db`: moves the key (with its TTL) to another database. Replies 1 if moved, 0 if
/// the key does not exist or already exists there. Raises `move_from` and `move_to`.
/// Errors: `ERR source and destination objects are the same`, `ERR DB index is out of range`,
/// `ERR value is not an integer or out of range`, `ERR value is out of range, value must
/// between -2147483648 and 2147483647`.
fn move_(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let target = match db_index(ctx, &args[2]) {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    let source = ctx.client.db;
    if target == source {
        return Reply::error(SAME_OBJECT);
    }
    let now = ctx.now_ms();
    let Some((from, to)) = ctx.keyspace.two_dbs(source, target) else {
        // db_index checked the range and the indexes differ, so this cannot happen.
        return Reply::error(DB_OUT_OF_RANGE);
    };
    if from.get_mut(key, now).is_none() || to.contains(key, now) {
        return Reply::Integer(0);
    }
    let Some(entry) = from.remove(key) else { return Reply::Integer(0) };
    to.insert_entry(key.clone(), entry);
    ctx.keyspace.notify(source, 'g', "move_from", key);
    ctx.keyspace.notify(target, 'g', "move_to", key);
    Reply::Integer(1)
}

// ---------------------------------------------------------------------------------------------
// KEYS, SCAN, RANDOMKEY

/// `KEYS pattern`: every key matching the glob pattern, in no particular order.
fn keys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms();
    Reply::bulks(ctx.db().keys_matching(&args[1], now))
}

/// SCAN's arguments.
struct ScanArgs {
    cursor: u64,
    count: usize,
    /// MATCH, unless it was `*` (which matches everything).
    pattern: Option<Bytes>,
    /// TYPE: only keys whose type name equals this, ignoring case.
    type_name: Option<Bytes>,
}

impl ScanArgs {
    fn parse(args: &[Bytes]) -> Result<ScanArgs, Reply> {
        let cursor = parse_cursor(&args[1]).ok_or_else(|| Reply::error("ERR invalid cursor"))?;
        let mut parsed = ScanArgs { cursor, count: DEFAULT_SCAN_COUNT, pattern: None, type_name: None };
        let mut i = 2;
        while let Some(option) = args.get(i) {
            let value = args.get(i + 1);
            match value {
                Some(value) if is(option, "count") => {
                    let count = args::int(value).map_err(Reply::from)?;
                    if count < 1 {
                        return Err(errors::syntax());
                    }
                    parsed.count = usize::try_from(count).unwrap_or(usize::MAX);
                }
                Some(value) if is(option, "match") => {
                    parsed.pattern = (value.as_ref() != b"*").then(|| value.clone());
                }
                Some(value) if is(option, "type") => parsed.type_name = Some(value.clone()),
                _ if is(option, "novalues") => {
                    return Err(Reply::error("ERR NOVALUES option can only be used in HSCAN"));
                }
                _ => return Err(errors::syntax()),
            }
            i += 2;
        }
        Ok(parsed)
    }
}

/// Reads a SCAN cursor as Redis 7.4's `string2ull` does: a non-negative `string2ll` integer,
/// or else whatever C's `strtoull` reads in full (leading spaces and a sign allowed, the whole
/// unsigned 64-bit range, `-N` wrapping around). The argument ends at a NUL byte, as a C
/// string would.
pub(crate) fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let text = arg.split(|&b| b == 0).next().unwrap_or_default();
    if let Some(n) = parse_i64(text) {
        return u64::try_from(n).ok();
    }
    let start = text.iter().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let rest = text.get(start..)?;
    let (negative, digits) = match rest.split_first() {
        Some((b'-', digits)) => (true, digits),
        Some((b'+', digits)) => (false, digits),
        _ => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().try_fold(0u64, |acc, d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))?;
    Some(if negative { value.wrapping_neg() } else { value })
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`: one page of the keyspace: the next
/// cursor (0 when done) and some keys. Every key present from the first call to the last is
/// returned at least once, however keys come and go in between.
/// Errors: `ERR invalid cursor`, `ERR value is not an integer or out of range` (COUNT),
/// `ERR syntax error` (COUNT below 1, unknown option), `ERR NOVALUES option can only be used
/// in HSCAN`.
fn scan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let parsed = match ScanArgs::parse(args) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    let now = ctx.now_ms();
    let db = ctx.db();
    let page = db.scan(parsed.cursor, parsed.count, now);
    let mut keys = Vec::with_capacity(page.keys.len());
    for key in page.keys {
        if let Some(pattern) = &parsed.pattern {
            if !crate::glob::matches(pattern, &key) {
                continue;
            }
        }
        if let Some(wanted) = &parsed.type_name {
            let type_name = db.peek(&key, now).map(|entry| entry.value.type_name());
            if !type_name.is_some_and(|name| name.as_bytes().eq_ignore_ascii_case(wanted)) {
                continue;
            }
        }
        keys.push(Reply::Bulk(key));
    }
    let cursor = Reply::bulk(itoa::Buffer::new().format(page.cursor));
    Reply::Array(vec![cursor, Reply::Array(keys)])
}

/// `RANDOMKEY`: a random key, or null if the database is empty.
fn randomkey(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let now = ctx.now_ms();
    Reply::bulk_or_null(ctx.db().random_key(now))
}

// ---------------------------------------------------------------------------------------------
// OBJECT

/// Whether the eviction policy is an LFU one. Herald does not evict, so never: OBJECT FREQ
/// answers Redis's error for non-LFU policies and OBJECT IDLETIME always works.
fn lfu_policy(_ctx: &Ctx<'_>) -> bool {
    false
}

/// `OBJECT ENCODING key`: the value's internal encoding name, or null if no such key.
fn object_encoding(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let encoding = peek_with(ctx, &args[2], false, |entry| entry.value.encoding());
    encoding.map_or(Reply::Null, Reply::bulk)
}

/// `OBJECT REFCOUNT key`: the value's reference count (Redis's shared small integers report
/// `2147483647`), or null if no such key.
fn object_refcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let refcount = peek_with(ctx, &args[2], false, |entry| match &entry.value {
        Value::String(StringValue::Int(n)) if SHARED_INTEGERS.contains(n) => SHARED_REFCOUNT,
        _ => 1,
    });
    refcount.map_or(Reply::Null, Reply::Integer)
}

/// `OBJECT IDLETIME key`: seconds since the key was last accessed, or null if no such key.
/// Errors: `ERR An LFU maxmemory policy is selected, idle time not tracked. ...` under LFU.
fn object_idletime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms();
    let Some(last_access) = peek_with(ctx, &args[2], false, |entry| entry.last_access_ms) else { return Reply::Null };
    if lfu_policy(ctx) {
        return Reply::error(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching \
             between policies at runtime LRU and LFU data will take some time to adjust.",
        );
    }
    Reply::from(usize::try_from(now.saturating_sub(last_access) / 1000).unwrap_or(usize::MAX))
}

/// `OBJECT FREQ key`: the LFU access counter, or null if no such key.
/// Errors: `ERR An LFU maxmemory policy is not selected, access frequency not tracked. ...`
/// (always, for an existing key: Herald has no LFU policy).
fn object_freq(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if peek_with(ctx, &args[2], false, |_| ()).is_none() {
        return Reply::Null;
    }
    if !lfu_policy(ctx) {
        return Reply::error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when \
             switching between policies at runtime LRU and LFU data will take some time to adjust.",
        );
    }
    Reply::Integer(0)
}

/// `OBJECT HELP`: the subcommands, one simple string per line.
fn object_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(LINES.iter().map(|&line| Reply::simple(line)).collect())
}

// ---------------------------------------------------------------------------------------------
// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST

/// The NX / XX / GT / LT conditions of the EXPIRE family.
#[derive(Debug, Default, Clone, Copy)]
struct ExpireCondition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireCondition {
    /// Parses the options after the time, with Redis's errors and precedence.
    fn parse(options: &[Bytes]) -> Result<ExpireCondition, ArgError> {
        let mut condition = ExpireCondition::default();
        for option in options {
            let flag = match option.to_ascii_lowercase().as_slice() {
                b"nx" => &mut condition.nx,
                b"xx" => &mut condition.xx,
                b"gt" => &mut condition.gt,
                b"lt" => &mut condition.lt,
                _ => return Err(ArgError::Other(format!("ERR Unsupported option {}", String::from_utf8_lossy(option)))),
            };
            *flag = true;
        }
        if condition.nx && (condition.xx || condition.gt || condition.lt) {
            return Err(ArgError::Other("ERR NX and XX, GT or LT options at the same time are not compatible".into()));
        }
        if condition.gt && condition.lt {
            return Err(ArgError::Other("ERR GT and LT options at the same time are not compatible".into()));
        }
        Ok(condition)
    }

    /// Whether a key whose deadline is `current` (`None`: persistent) may get `new`. A
    /// persistent key counts as an infinite TTL for GT and LT.
    fn allows(self, current: Option<u64>, new: i64) -> bool {
        let current = current.map(|t| i64::try_from(t).unwrap_or(i64::MAX));
        if self.nx && current.is_some() || self.xx && current.is_none() {
            return false;
        }
        if self.gt && current.is_none_or(|current| new <= current) {
            return false;
        }
        if self.lt && current.is_some_and(|current| new >= current) {
            return false;
        }
        true
    }
}

/// How an EXPIRE-family command reads its time argument.
#[derive(Debug, Clone, Copy)]
struct TimeArg {
    /// Milliseconds per unit: 1000 for seconds, 1 for milliseconds.
    unit_ms: i64,
    /// Whether the time is a Unix timestamp (the `AT` commands) rather than relative to now.
    absolute: bool,
}

/// `EXPIRE key seconds [NX | XX | GT | LT]`: see [`expire_generic`].
fn expire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, TimeArg { unit_ms: 1000, absolute: false }, "expire")
}

/// `PEXPIRE key milliseconds [NX | XX | GT | LT]`: see [`expire_generic`].
fn pexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, TimeArg { unit_ms: 1, absolute: false }, "pexpire")
}

/// `EXPIREAT key unix-time-seconds [NX | XX | GT | LT]`: see [`expire_generic`].
fn expireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, TimeArg { unit_ms: 1000, absolute: true }, "expireat")
}

/// `PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]`: see [`expire_generic`].
fn pexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    expire_generic(ctx, args, TimeArg { unit_ms: 1, absolute: true }, "pexpireat")
}

/// The EXPIRE family: sets the key's deadline if the condition allows. Replies 1 if set, 0 if
/// the key does not exist or the condition refused. A deadline not in the future deletes the
/// key (raising `del`, as Redis does) and replies 1; otherwise raises `expire`.
/// Errors (options are checked before the time, as in Redis): `ERR Unsupported option <opt>`,
/// `ERR NX and XX, GT or LT options at the same time are not compatible`, `ERR GT and LT
/// options at the same time are not compatible`, `ERR value is not an integer or out of
/// range`, `ERR invalid expire time in '<command>' command` when the deadline overflows.
fn expire_generic(ctx: &mut Ctx<'_>, args: &[Bytes], time: TimeArg, command: &str) -> Reply {
    let condition = match ExpireCondition::parse(&args[3..]) {
        Ok(condition) => condition,
        Err(error) => return error.into(),
    };
    let amount = match args::int(&args[2]) {
        Ok(amount) => amount,
        Err(error) => return error.into(),
    };
    let now = ctx.now_ms();
    let base = if time.absolute { 0 } else { i64::try_from(now).unwrap_or(i64::MAX) };
    let Some(deadline) = amount.checked_mul(time.unit_ms).and_then(|ms| ms.checked_add(base)) else {
        return Reply::error(format!("ERR invalid expire time in '{command}' command"));
    };
    let key = &args[1];
    let db = ctx.db();
    let Some(entry) = db.get_mut(key, now) else { return Reply::Integer(0) };
    if !condition.allows(entry.expires_at, deadline) {
        return Reply::Integer(0);
    }
    match u64::try_from(deadline) {
        Ok(deadline) if deadline > now => {
            db.set_expiry(key, Some(deadline), now);
            ctx.notify('g', "expire", key);
        }
        _ => {
            db.remove(key);
            ctx.notify('g', "del", key);
        }
    }
    Reply::Integer(1)
}

/// `PERSIST key`: removes the key's TTL. Replies 1 if it had one, 0 if not or no such key.
/// Raises `persist`.
fn persist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let key = &args[1];
    let now = ctx.now_ms();
    let db = ctx.db();
    let had_ttl = db.get_mut(key, now).is_some_and(|entry| entry.expires_at.is_some());
    if had_ttl {
        db.set_expiry(key, None, now);
        ctx.notify('g', "persist", key);
    }
    Reply::from(had_ttl)
}

// ---------------------------------------------------------------------------------------------
// TTL, PTTL, EXPIRETIME, PEXPIRETIME

/// What a TTL-family command reports.
#[derive(Debug, Clone, Copy)]
struct TtlQuery {
    /// Milliseconds rather than seconds (rounded to the nearest second).
    millis: bool,
    /// The deadline itself rather than the time left.
    absolute: bool,
}

/// `TTL key`: seconds left (rounded), -1 if the key has no TTL, -2 if it does not exist.
fn ttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], TtlQuery { millis: false, absolute: false })
}

/// `PTTL key`: milliseconds left, -1 if the key has no TTL, -2 if it does not exist.
fn pttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], TtlQuery { millis: true, absolute: false })
}

/// `EXPIRETIME key`: the deadline as a Unix time in seconds (rounded), -1 if the key has no
/// TTL, -2 if it does not exist.
fn expiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], TtlQuery { millis: false, absolute: true })
}

/// `PEXPIRETIME key`: the deadline as a Unix time in milliseconds, -1 if the key has no TTL,
/// -2 if it does not exist.
fn pexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    ttl_generic(ctx, &args[1], TtlQuery { millis: true, absolute: true })
}

/// The TTL family.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], query: TtlQuery) -> Reply {
    let now = ctx.now_ms();
    let Some(deadline) = peek_with(ctx, key, true, |entry| entry.expires_at) else { return Reply::Integer(-2) };
    let Some(deadline) = deadline else { return Reply::Integer(-1) };
    let ms = if query.absolute { deadline } else { deadline.saturating_sub(now) };
    let value = if query.millis { ms } else { ms.saturating_add(500) / 1000 };
    Reply::Integer(i64::try_from(value).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------------------------
// The table

/// OBJECT's subcommands.
static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("object|encoding", 3, &["readonly"], (2, 2, 1), "generic", "Returns the internal encoding of a Redis object.", object_encoding).since("2.2.3"),
    CommandSpec::new("object|freq", 3, &["readonly"], (2, 2, 1), "generic", "Returns the logarithmic access frequency counter of a Redis object.", object_freq).since("4.0.0"),
    CommandSpec::new("object|help", 2, &["loading", "stale"], (0, 0, 0), "generic", "Returns helpful text about the different subcommands.", object_help).since("6.2.0"),
    CommandSpec::new("object|idletime", 3, &["readonly"], (2, 2, 1), "generic", "Returns the time since the last access to a Redis object.", object_idletime).since("2.2.3"),
    CommandSpec::new("object|refcount", 3, &["readonly"], (2, 2, 1), "generic", "Returns the reference count of a value of a key.", object_refcount).since("2.2.3"),
];

/// The generic key commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("copy", -3, &["write", "denyoom"], (1, 2, 1), "generic", "Copies the value of a key to a new key.", copy).since("6.2.0"),
    CommandSpec::new("del", -2, &["write"], (1, -1, 1), "generic", "Deletes one or more keys.", del),
    CommandSpec::new("exists", -2, &["readonly", "fast"], (1, -1, 1), "generic", "Determines whether one or more keys exist.", exists),
    CommandSpec::new("expire", -3, &["write", "fast"], (1, 1, 1), "generic", "Sets the expiration time of a key in seconds.", expire),
    CommandSpec::new("expireat", -3, &["write", "fast"], (1, 1, 1), "generic", "Sets the expiration time of a key to a Unix timestamp.", expireat).since("1.2.0"),
    CommandSpec::new("expiretime", 2, &["readonly", "fast"], (1, 1, 1), "generic", "Returns the expiration time of a key as a Unix timestamp.", expiretime).since("7.0.0"),
    CommandSpec::new("keys", 2, &["readonly"], (0, 0, 0), "generic", "Returns all key names that match a pattern.", keys),
    CommandSpec::new("move", 3, &["write", "fast"], (1, 1, 1), "generic", "Moves a key to another database.", move_),
    CommandSpec::container("object", -2, "generic", "A container for object introspection commands.", OBJECT_SUBCOMMANDS).since("2.2.3"),
    CommandSpec::new("persist", 2, &["write", "fast"], (1, 1, 1), "generic", "Removes the expiration time of a key.", persist).since("2.2.0"),
    CommandSpec::new("pexpire", -3, &["write", "fast"], (1, 1, 1), "generic", "Sets the expiration time of a key in milliseconds.", pexpire).since("2.6.0"),
    CommandSpec::new("pexpireat", -3, &["write", "fast"], (1, 1, 1), "generic", "Sets the expiration time of a key to a Unix milliseconds timestamp.", pexpireat).since("2.6.0"),
    CommandSpec::new("pexpiretime", 2, &["readonly", "fast"], (1, 1, 1), "generic", "Returns the expiration time of a key as a Unix milliseconds timestamp.", pexpiretime).since("7.0.0"),
    CommandSpec::new("pttl", 2, &["readonly", "fast"], (1, 1, 1), "generic", "Returns the expiration time in milliseconds of a key.", pttl).since("2.6.0"),
    CommandSpec::new("randomkey", 1, &["readonly"], (0, 0, 0), "generic", "Returns a random key name from the database.", randomkey),
    CommandSpec::new("rename", 3, &["write"], (1, 2, 1), "generic", "Renames a key and overwrites the destination.", rename),
    CommandSpec::new("renamenx", 3, &["write", "fast"], (1, 2, 1), "generic", "Renames a key only when the target key name doesn't exist.", renamenx),
    CommandSpec::new("scan", -2, &["readonly"], (0, 0, 0), "generic", "Iterates over the key names in the database.", scan).since("2.8.0"),
    CommandSpec::new("touch", -2, &["readonly", "fast"], (1, -1, 1), "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", touch).since("3.2.1"),
    CommandSpec::new("ttl", 2, &["readonly", "fast"], (1, 1, 1), "generic", "Returns the expiration time in seconds of a key.", ttl),
    CommandSpec::new("type", 2, &["readonly", "fast"], (1, 1, 1), "generic", "Determines the type of value stored at a key.", type_),
    CommandSpec::new("unlink", -2, &["write", "fast"], (1, -1, 1), "generic", "Asynchronously deletes one or more keys.", unlink).since("4.0.0"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_like_redis_string2ull() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b"-1"), None);
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b" 5"), Some(5));
        assert_eq!(parse_cursor(b"5 "), None);
        assert_eq!(parse_cursor(b""), None);
        assert_eq!(parse_cursor(b"abc"), None);
        assert_eq!(parse_cursor(b"+"), None);
    }

    #[test]
    fn expire_conditions_follow_redis_rules_for_persistent_keys() {
        let gt = ExpireCondition { gt: true, ..ExpireCondition::default() };
        let lt = ExpireCondition { lt: true, ..ExpireCondition::default() };
        assert!(!gt.allows(None, 100), "GT never beats an infinite TTL");
        assert!(lt.allows(None, 100), "LT always beats an infinite TTL");
        assert!(gt.allows(Some(50), 100));
        assert!(!gt.allows(Some(100), 100));
        assert!(lt.allows(Some(150), 100));
        assert!(!lt.allows(Some(100), 100));
    }
}
