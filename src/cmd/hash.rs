//! Hash commands: HSET, HGET, HGETALL, HINCRBY, HRANDFIELD, HSCAN, ... with Redis 7.4's
//! replies and errors.
//!
//! Every write raises Redis's keyspace notification (`hset`, `hdel`, `hincrby`,
//! `hincrbyfloat`); a hash emptied by HDEL is deleted with a `del` event, as Redis does. The
//! compact/hashed switch follows `hash-max-listpack-entries` and `hash-max-listpack-value`,
//! read from the configuration at each write.
//!
//! Per-field expiry (Redis 7.4/8: HEXPIRE and friends, HTTL, HPERSIST, HGETEX, HSETEX,
//! HGETDEL) keeps deadlines beside the fields (see [`crate::keyspace::hash`]). Fields whose
//! deadline passed are reclaimed when their hash is next looked up, raising `hexpired` (and
//! `del` when none remain); there is no background cycle for fields yet, so an untouched hash
//! holds its expired fields' memory until then, and HLEN never counts them.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{args, errors, CommandSpec, Ctx};
use crate::keyspace::hash::{Hash, HashLimits};
use crate::keyspace::string::{incr_by_float, IncrFloatError, LongDouble, Parsed};
use crate::keyspace::{Keyspace, Value};
use crate::resp::{parse_i64, Protocol, Reply};
use bytes::Bytes;

// ---------------------------------------------------------------------------------------
// Lookups and shared helpers
// ---------------------------------------------------------------------------------------

/// The thresholds of the compact form, as currently configured.
fn limits(ctx: &Ctx<'_>) -> HashLimits {
    let config = ctx.shared.config.read();
    HashLimits { max_entries: config.hash_max_listpack_entries, max_value: config.hash_max_listpack_value }
}

/// The hash under `key`: `Ok(None)` if missing, `WRONGTYPE` if it holds another type.
/// Fields whose deadline passed are removed first (`hexpired`, and `del` if none remain).
fn hash_mut<'a>(keyspace: &'a mut Keyspace, db: usize, key: &[u8]) -> Result<Option<&'a mut Hash>, Reply> {
    let now = keyspace.now_ms();
    let (expired, empty) = match keyspace.db(db).get_value(key, now) {
        Some(Value::Hash(hash)) => (hash.expire_fields(now), hash.is_empty()),
        _ => (0, false),
    };
    if expired > 0 {
        keyspace.notify(db, 'h', "hexpired", key);
        if empty {
            keyspace.db(db).remove(key);
            keyspace.notify(db, 'g', "del", key);
        } else {
            keyspace.db(db).touch(key);
        }
    }
    match keyspace.db(db).get_value(key, now) {
        None => Ok(None),
        Some(Value::Hash(hash)) => Ok(Some(hash)),
        Some(_) => Err(errors::wrong_type()),
    }
}

/// The hash under `key`, created empty if missing (the write commands).
fn hash_or_create<'a>(ctx: &'a mut Ctx<'_>, key: &[u8]) -> Result<&'a mut Hash, Reply> {
    let db = ctx.client.db;
    if hash_mut(ctx.keyspace, db, key)?.is_none() {
        let now = ctx.now_ms();
        ctx.db().insert(key, Value::Hash(Hash::new()), None, now);
    }
    hash_mut(ctx.keyspace, db, key)?.ok_or_else(errors::wrong_type)
}

/// Runs `read` on the hash under `key` (None if missing), counting a keyspace hit or miss.
fn read_hash<R>(ctx: &mut Ctx<'_>, key: &[u8], read: impl FnOnce(Option<&Hash>) -> R) -> Result<R, Reply> {
    let db = ctx.client.db;
    let found = hash_mut(ctx.keyspace, db, key);
    ctx.shared.stats.record_lookup(matches!(found, Ok(Some(_)) | Err(_)));
    Ok(read(found?.map(|h| &*h)))
}

/// After fields left the hash under `key`: deletes it if empty (with a `del` event), else
/// signals the change to WATCH.
fn after_removal(ctx: &mut Ctx<'_>, key: &[u8], empty: bool) {
    if empty {
        ctx.db().remove(key);
        ctx.notify('g', "del", key);
    } else {
        ctx.db().touch(key);
    }
}

fn pairs_reply(pairs: Vec<(Bytes, Bytes)>, protocol: Protocol, as_map: bool) -> Reply {
    if as_map {
        return Reply::Map(pairs.into_iter().map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v))).collect());
    }
    match protocol {
        Protocol::Resp2 => Reply::Array(pairs.into_iter().flat_map(|(f, v)| [Reply::Bulk(f), Reply::Bulk(v)]).collect()),
        _ => Reply::Array(pairs.into_iter().map(|(f, v)| Reply::Array(vec![Reply::Bulk(f), Reply::Bulk(v)])).collect()),
    }
}

// ---------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------

/// HSET/HMSET's work: sets every pair of `args[2..]`; returns how many fields were new.
fn set_pairs(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Result<usize, Reply> {
    let limits = limits(ctx);
    let key = &args[1];
    let pairs = &args[2..];
    let hash = hash_or_create(ctx, key)?;
    hash.prepare_for(pairs.len() / 2, pairs.iter().map(|a| a.as_ref()), limits);
    let mut added = 0;
    for pair in pairs.chunks_exact(2) {
        if let [field, value] = pair {
            added += usize::from(hash.set(field, value, limits));
        }
    }
    ctx.db().touch(key);
    ctx.notify('h', "hset", key);
    Ok(added)
}

/// `HSET key field value [field value ...]`: sets fields; replies how many were new.
/// Errors: `ERR wrong number of arguments for 'hset' command` (odd pairs), `WRONGTYPE`.
fn hset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() % 2 == 1 {
        return Reply::error("ERR wrong number of arguments for 'hset' command");
    }
    set_pairs(ctx, args).map_or_else(|e| e, Reply::from)
}

/// `HMSET key field value [field value ...]`: as HSET, replying OK.
/// Errors: `ERR wrong number of arguments for 'hmset' command` (odd pairs), `WRONGTYPE`.
fn hmset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() % 2 == 1 {
        return Reply::error("ERR wrong number of arguments for 'hmset' command");
    }
    set_pairs(ctx, args).map_or_else(|e| e, |_| Reply::ok())
}

/// `HSETNX key field value`: sets the field only if it does not exist; replies 1 if set.
/// Errors: `WRONGTYPE`.
fn hsetnx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let limits = limits(ctx);
    let db = ctx.client.db;
    match hash_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(Some(hash)) if hash.contains(&args[2]) => return Reply::Integer(0),
        Ok(_) => {}
    }
    let hash = match hash_or_create(ctx, &args[1]) {
        Ok(hash) => hash,
        Err(e) => return e,
    };
    hash.prepare_for(1, [args[2].as_ref(), args[3].as_ref()], limits);
    hash.set(&args[2], &args[3], limits);
    ctx.db().touch(&args[1]);
    ctx.notify('h', "hset", &args[1]);
    Reply::Integer(1)
}

/// `HDEL key field [field ...]`: removes fields; replies how many existed. Deletes an emptied
/// hash. Errors: `WRONGTYPE`.
fn hdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let hash = match hash_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        Ok(Some(hash)) => hash,
    };
    let mut removed = 0;
    for field in &args[2..] {
        removed += usize::from(hash.remove(field));
        if hash.is_empty() {
            break;
        }
    }
    let empty = hash.is_empty();
    if removed > 0 {
        ctx.notify('h', "hdel", &args[1]);
        after_removal(ctx, &args[1], empty);
    }
    Reply::from(removed)
}

/// `HINCRBY key field increment`: adds an integer to the field (0 if missing); replies the
/// new value. Errors: `ERR value is not an integer or out of range`, `WRONGTYPE`,
/// `ERR hash value is not an integer`, `ERR increment or decrement would overflow`.
fn hincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(increment) = parse_i64(&args[3]) else { return errors::not_integer() };
    let limits = limits(ctx);
    let hash = match hash_or_create(ctx, &args[1]) {
        Ok(hash) => hash,
        Err(e) => return e,
    };
    let current = match hash.get(&args[2]) {
        None => 0,
        Some(value) => match parse_i64(&value) {
            Some(n) => n,
            None => return Reply::error("ERR hash value is not an integer"),
        },
    };
    let Some(sum) = current.checked_add(increment) else { return Reply::error("ERR increment or decrement would overflow") };
    hash.update(&args[2], itoa::Buffer::new().format(sum).as_bytes(), limits);
    ctx.db().touch(&args[1]);
    ctx.notify('h', "hincrby", &args[1]);
    Reply::Integer(sum)
}

/// `HINCRBYFLOAT key field increment`: adds a float to the field (0 if missing), computed
/// and formatted as INCRBYFLOAT does; replies the new value.
/// Errors: `ERR value is not a valid float`, `ERR value is NaN or Infinity`, `WRONGTYPE`,
/// `ERR hash value is not a float`, `ERR increment would produce NaN or Infinity`.
fn hincrbyfloat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match LongDouble::parse(&args[3]) {
        None => return errors::not_float(),
        Some(Parsed::Infinite) => return Reply::error("ERR value is NaN or Infinity"),
        Some(Parsed::Finite(_)) => {}
    }
    let limits = limits(ctx);
    let hash = match hash_or_create(ctx, &args[1]) {
        Ok(hash) => hash,
        Err(e) => return e,
    };
    let current = hash.get(&args[2]).unwrap_or_else(|| Bytes::from_static(b"0"));
    if LongDouble::parse(&current).is_none() {
        return Reply::error("ERR hash value is not a float");
    }
    let result = match incr_by_float(&current, &args[3]) {
        Ok(result) => Bytes::from(result),
        Err(IncrFloatError::NotFloat) => return errors::not_float(),
        Err(IncrFloatError::NanOrInfinity) => return Reply::error("ERR increment would produce NaN or Infinity"),
    };
    hash.update(&args[2], &result, limits);
    ctx.db().touch(&args[1]);
    ctx.notify('h', "hincrbyfloat", &args[1]);
    Reply::Bulk(result)
}

/// `HGETDEL key FIELDS numfields field [field ...]` (Redis 8.0): replies each field's value
/// (null if missing) and deletes the fields; raises `hdel` if any went, and deletes an emptied
/// hash with `del`. The type is checked before the arguments, as Redis does.
/// Errors: `WRONGTYPE`, `ERR Mandatory argument FIELDS is missing or not at the right
/// position`, `ERR Number of fields must be a positive integer`, `ERR The `numfields`
/// parameter must match the number of arguments`.
fn hgetdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let found = match hash_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(found) => found,
    };
    let fields = match fields_at(args, 2, "ERR Number of fields must be a positive integer") {
        Ok(fields) => fields,
        Err(e) => return e,
    };
    let Some(hash) = found else { return Reply::Array(fields.iter().map(|_| Reply::Null).collect()) };
    let mut values = Vec::with_capacity(fields.len());
    let mut removed = 0;
    for field in fields {
        let value = hash.get(field);
        if value.is_some() && hash.remove(field) {
            removed += 1;
        }
        values.push(Reply::bulk_or_null(value));
    }
    let empty = hash.is_empty();
    if removed > 0 {
        ctx.notify('h', "hdel", &args[1]);
        after_removal(ctx, &args[1], empty);
    }
    Reply::Array(values)
}

// ---------------------------------------------------------------------------------------
// Per-field expiry (Redis 7.4)
// ---------------------------------------------------------------------------------------

/// Redis's largest field deadline, in ms (`HFE_MAX_ABS_TIME_MSEC`: 2^48 - 1 shifted right
/// by 2), inclusive.
const FIELD_EXPIRE_MAX_MS: u64 = ((1 << 48) - 1) >> 2;

/// Reads `FIELDS numfields field ...` starting at `args[at]`, with the numfields error text
/// the command uses.
fn fields_at<'a>(args: &'a [Bytes], at: usize, numfields_error: &'static str) -> Result<&'a [Bytes], Reply> {
    if !args.get(at).is_some_and(|word| args::is(word, "fields")) {
        return Err(Reply::error("ERR Mandatory argument FIELDS is missing or not at the right position"));
    }
    let numfields = match args.get(at + 1).and_then(|n| parse_i64(n)) {
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
        _ => return Err(Reply::error(numfields_error)),
    };
    let fields = args.get(at + 2..).unwrap_or_default();
    if fields.len() != numfields {
        return Err(Reply::error("ERR The `numfields` parameter must match the number of arguments"));
    }
    Ok(fields)
}

/// Reads a field expiry time argument into a deadline in Unix ms, with Redis's errors.
fn field_deadline(arg: &[u8], unit_ms: u64, absolute: bool, now: u64, name: &str) -> Result<u64, Reply> {
    let time = parse_i64(arg).ok_or_else(errors::not_integer)?;
    if time < 0 {
        return Err(Reply::error("ERR invalid expire time, must be >= 0"));
    }
    let invalid = || Reply::error(format!("ERR invalid expire time in '{name}' command"));
    let mut deadline = u64::try_from(time).ok().and_then(|t| t.checked_mul(unit_ms)).ok_or_else(invalid)?;
    if !absolute {
        deadline = deadline.checked_add(now).ok_or_else(invalid)?;
    }
    if deadline > FIELD_EXPIRE_MAX_MS {
        return Err(invalid());
    }
    Ok(deadline)
}

/// `HGETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | PERSIST] FIELDS numfields field [field ...]` (Redis 8.0):
/// each field's value (null if missing), setting or clearing the fields' time to live; a time
/// already past deletes them. Raises `hexpire`, `hpersist` or `hdel` (and `del`).
/// Errors: `WRONGTYPE` (checked first), the time errors of HEXPIRE, `ERR Mandatory argument
/// FIELDS is missing or not at the right position`, `ERR Number of fields must be a positive
/// integer`, ``ERR The `numfields` parameter must match the number of arguments``.
fn hgetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    if let Err(e) = hash_mut(ctx.keyspace, db, &args[1]) {
        return e;
    }
    let now = ctx.now_ms();
    // None: leave TTLs alone; Some(None): PERSIST; Some(Some(deadline)): set.
    let mut change: Option<Option<u64>> = None;
    let mut at = 2;
    let units = [("ex", 1000, false), ("px", 1, false), ("exat", 1000, true), ("pxat", 1, true)];
    if let Some(word) = args.get(2) {
        if let Some(&(_, unit_ms, absolute)) = units.iter().find(|(name, _, _)| args::is(word, name)) {
            let Some(time) = args.get(3) else { return Reply::error("ERR Mandatory argument FIELDS is missing or not at the right position") };
            match field_deadline(time, unit_ms, absolute, now, "hgetex") {
                Ok(deadline) => change = Some(Some(deadline)),
                Err(e) => return e,
            }
            at = 4;
        } else if args::is(word, "persist") {
            change = Some(None);
            at = 3;
        }
    }
    if args.get(at).is_some_and(|word| args::is(word, "fields")) && args.len() <= at + 1 {
        return Reply::error("ERR wrong number of arguments for 'hgetex' command");
    }
    let fields = match fields_at(args, at, "ERR Number of fields must be a positive integer") {
        Ok(fields) => fields,
        Err(e) => return e,
    };
    let Ok(Some(hash)) = hash_mut(ctx.keyspace, db, &args[1]) else {
        return Reply::Array(fields.iter().map(|_| Reply::Null).collect());
    };
    let (mut expiring, mut persisted, mut deleted) = (0, 0, 0);
    let mut values = Vec::with_capacity(fields.len());
    for field in fields {
        let value = hash.get(field);
        if value.is_some() {
            match change {
                None => {}
                Some(None) if hash.field_expiry(field).is_some() => {
                    hash.set_field_expiry(field, None);
                    persisted += 1;
                }
                Some(None) => {}
                Some(Some(deadline)) if deadline <= now => {
                    hash.remove(field);
                    deleted += 1;
                }
                Some(Some(deadline)) => {
                    hash.set_field_expiry(field, Some(deadline));
                    expiring += 1;
                }
            }
        }
        values.push(Reply::bulk_or_null(value));
    }
    let empty = hash.is_empty();
    if expiring > 0 {
        ctx.notify('h', "hexpire", &args[1]);
    }
    if persisted > 0 {
        ctx.notify('h', "hpersist", &args[1]);
    }
    if deleted > 0 {
        ctx.notify('h', "hdel", &args[1]);
    }
    if expiring + persisted + deleted > 0 {
        after_removal(ctx, &args[1], empty);
    }
    Reply::Array(values)
}

/// `HSETEX key [FNX|FXX] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | KEEPTTL] FIELDS numfields field value [field value ...]`
/// (Redis 8.0): sets fields, only if none exist (FNX) or all exist (FXX), giving them a time to
/// live, keeping theirs (KEEPTTL) or clearing it (no option). Replies 1 if set, 0 if not.
/// Raises `hset`, then `hexpire` (or `hdel`/`del` for a time already past).
/// Errors: `ERR Only one of FXX or FNX arguments can be specified`, `ERR Only one of EX, PX,
/// EXAT, PXAT or KEEPTTL arguments can be specified`, `ERR unknown argument: ...`,
/// `ERR invalid number of fields`, `ERR wrong number of arguments for 'hsetex' command`, the
/// time errors of HEXPIRE, `WRONGTYPE`.
fn hsetex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    #[derive(PartialEq)]
    enum Ttl {
        Clear,
        Keep,
        At(u64),
    }
    let now = ctx.now_ms();
    let (mut only_new, mut only_existing) = (false, false);
    let mut ttl: Option<Ttl> = None;
    let mut i = 2;
    let pairs = loop {
        let Some(word) = args.get(i) else { return Reply::error("ERR wrong number of arguments for 'hsetex' command") };
        let units = [("ex", 1000, false), ("px", 1, false), ("exat", 1000, true), ("pxat", 1, true)];
        if args::is(word, "fnx") || args::is(word, "fxx") {
            if only_new || only_existing {
                return Reply::error("ERR Only one of FXX or FNX arguments can be specified");
            }
            only_new = args::is(word, "fnx");
            only_existing = !only_new;
            i += 1;
        } else if let Some(&(_, unit_ms, absolute)) = units.iter().find(|(name, _, _)| args::is(word, name)) {
            if ttl.is_some() {
                return Reply::error("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified");
            }
            let Some(time) = args.get(i + 1) else { return Reply::error("ERR wrong number of arguments for 'hsetex' command") };
            match field_deadline(time, unit_ms, absolute, now, "hsetex") {
                Ok(deadline) => ttl = Some(Ttl::At(deadline)),
                Err(e) => return e,
            }
            i += 2;
        } else if args::is(word, "keepttl") {
            if ttl.is_some() {
                return Reply::error("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified");
            }
            ttl = Some(Ttl::Keep);
            i += 1;
        } else if args::is(word, "fields") {
            let numfields = match args.get(i + 1).and_then(|n| parse_i64(n)) {
                Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Reply::error("ERR invalid number of fields"),
            };
            let rest = args.get(i + 2..).unwrap_or_default();
            if numfields.checked_mul(2) != Some(rest.len()) {
                return Reply::error("ERR wrong number of arguments for 'hsetex' command");
            }
            break rest;
        } else {
            return Reply::error(format!("ERR unknown argument: {}", String::from_utf8_lossy(word)));
        }
    };
    let ttl = ttl.unwrap_or(Ttl::Clear);
    let db = ctx.client.db;
    let existing = match hash_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(found) => found.map(|hash| pairs.chunks_exact(2).filter(|pair| pair.first().is_some_and(|f| hash.contains(f))).count()),
    };
    let count = pairs.len() / 2;
    let existing_count = existing.unwrap_or(0);
    if (only_new && existing_count > 0) || (only_existing && existing_count < count) {
        return Reply::Integer(0);
    }
    let limits = limits(ctx);
    let hash = match hash_or_create(ctx, &args[1]) {
        Ok(hash) => hash,
        Err(e) => return e,
    };
    hash.prepare_for(count, pairs.iter().map(|a| a.as_ref()), limits);
    let mut deleted = 0;
    for pair in pairs.chunks_exact(2) {
        if let [field, value] = pair {
            match ttl {
                Ttl::Keep => {
                    hash.update(field, value, limits);
                }
                Ttl::Clear => {
                    hash.set(field, value, limits);
                }
                Ttl::At(deadline) => {
                    hash.set(field, value, limits);
                    if deadline <= now {
                        hash.remove(field);
                        deleted += 1;
                    } else {
                        hash.set_field_expiry(field, Some(deadline));
                    }
                }
            }
        }
    }
    let empty = hash.is_empty();
    ctx.notify('h', "hset", &args[1]);
    if deleted > 0 {
        ctx.notify('h', "hdel", &args[1]);
    } else if matches!(ttl, Ttl::At(_)) {
        ctx.notify('h', "hexpire", &args[1]);
    }
    after_removal(ctx, &args[1], empty);
    Reply::Integer(1)
}

/// HEXPIRE's NX / XX / GT / LT.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FieldCondition {
    Always,
    Nx,
    Xx,
    Gt,
    Lt,
}

impl FieldCondition {
    /// Whether a field with deadline `current` (None: persistent) may get `new`.
    fn allows(self, current: Option<u64>, new: u64) -> bool {
        match self {
            FieldCondition::Always => true,
            FieldCondition::Nx => current.is_none(),
            FieldCondition::Xx => current.is_some(),
            FieldCondition::Gt => current.is_some_and(|c| new > c),
            FieldCondition::Lt => current.is_none_or(|c| new < c),
        }
    }
}

/// HEXPIRE, HPEXPIRE, HEXPIREAT and HPEXPIREAT: `unit_ms` is 1000 for seconds, `absolute`
/// for the `AT` forms.
fn field_expire_generic(ctx: &mut Ctx<'_>, args: &[Bytes], unit_ms: u64, absolute: bool, name: &str) -> Reply {
    let db = ctx.client.db;
    if let Err(e) = hash_mut(ctx.keyspace, db, &args[1]) {
        return e;
    }
    let now = ctx.now_ms();
    let deadline = match field_deadline(&args[2], unit_ms, absolute, now, name) {
        Ok(deadline) => deadline,
        Err(e) => return e,
    };
    let (condition, fields_index) = match args.get(3) {
        Some(word) if args::is(word, "nx") => (FieldCondition::Nx, 4),
        Some(word) if args::is(word, "xx") => (FieldCondition::Xx, 4),
        Some(word) if args::is(word, "gt") => (FieldCondition::Gt, 4),
        Some(word) if args::is(word, "lt") => (FieldCondition::Lt, 4),
        _ => (FieldCondition::Always, 3),
    };
    let fields = match fields_at(args, fields_index, "ERR Parameter `numFields` should be greater than 0") {
        Ok(fields) => fields,
        Err(e) => return e,
    };
    let Ok(Some(hash)) = hash_mut(ctx.keyspace, db, &args[1]) else {
        return Reply::Array(fields.iter().map(|_| Reply::Integer(-2)).collect());
    };
    let (mut set, mut deleted) = (0, 0);
    let mut replies = Vec::with_capacity(fields.len());
    for field in fields {
        if !hash.contains(field) {
            replies.push(Reply::Integer(-2));
        } else if !condition.allows(hash.field_expiry(field), deadline) {
            replies.push(Reply::Integer(0));
        } else if deadline <= now {
            hash.remove(field);
            deleted += 1;
            replies.push(Reply::Integer(2));
        } else {
            hash.set_field_expiry(field, Some(deadline));
            set += 1;
            replies.push(Reply::Integer(1));
        }
    }
    let empty = hash.is_empty();
    if set > 0 {
        ctx.notify('h', "hexpire", &args[1]);
    }
    if deleted > 0 {
        ctx.notify('h', "hdel", &args[1]);
    }
    if set > 0 || deleted > 0 {
        after_removal(ctx, &args[1], empty);
    }
    Reply::Array(replies)
}

/// `HEXPIRE key seconds [NX|XX|GT|LT] FIELDS numfields field [field ...]`: gives fields a
/// time to live. Per field: -2 no such field, 0 condition not met, 1 set, 2 deleted (a time
/// already past). Raises `hexpire` (and `hdel`/`del` for deletions).
/// Errors: `WRONGTYPE` (checked first), `ERR value is not an integer or out of range`,
/// `ERR invalid expire time, must be >= 0`, `ERR invalid expire time in 'hexpire' command`,
/// `ERR Mandatory argument FIELDS is missing or not at the right position`,
/// ``ERR Parameter `numFields` should be greater than 0``,
/// ``ERR The `numfields` parameter must match the number of arguments``.
fn hexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    field_expire_generic(ctx, args, 1000, false, "hexpire")
}

/// `HPEXPIRE key milliseconds [NX|XX|GT|LT] FIELDS numfields field [field ...]`: HEXPIRE in
/// milliseconds. Errors: as HEXPIRE.
fn hpexpire(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    field_expire_generic(ctx, args, 1, false, "hpexpire")
}

/// `HEXPIREAT key unix-time-seconds [NX|XX|GT|LT] FIELDS numfields field [field ...]`:
/// HEXPIRE with an absolute time. Errors: as HEXPIRE.
fn hexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    field_expire_generic(ctx, args, 1000, true, "hexpireat")
}

/// `HPEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT] FIELDS numfields field [field ...]`:
/// HEXPIREAT in milliseconds. Errors: as HEXPIRE.
fn hpexpireat(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    field_expire_generic(ctx, args, 1, true, "hpexpireat")
}

/// What HTTL and friends report for a field with a deadline.
#[derive(Clone, Copy)]
enum FieldTtlQuery {
    Ttl,
    Pttl,
    ExpireTime,
    PexpireTime,
}

fn field_ttl_generic(ctx: &mut Ctx<'_>, args: &[Bytes], query: FieldTtlQuery) -> Reply {
    let db = ctx.client.db;
    let now = ctx.now_ms();
    if let Err(e) = hash_mut(ctx.keyspace, db, &args[1]) {
        return e;
    }
    let fields = match fields_at(args, 2, "ERR Number of fields must be a positive integer") {
        Ok(fields) => fields,
        Err(e) => return e,
    };
    let Ok(Some(hash)) = hash_mut(ctx.keyspace, db, &args[1]) else {
        return Reply::Array(fields.iter().map(|_| Reply::Integer(-2)).collect());
    };
    let replies = fields
        .iter()
        .map(|field| {
            if !hash.contains(field) {
                return Reply::Integer(-2);
            }
            let Some(deadline) = hash.field_expiry(field) else { return Reply::Integer(-1) };
            let left = deadline.saturating_sub(now);
            let value = match query {
                FieldTtlQuery::Ttl => left.div_ceil(1000),
                FieldTtlQuery::Pttl => left,
                FieldTtlQuery::ExpireTime => deadline.div_ceil(1000),
                FieldTtlQuery::PexpireTime => deadline,
            };
            Reply::Integer(i64::try_from(value).unwrap_or(i64::MAX))
        })
        .collect();
    Reply::Array(replies)
}

/// `HTTL key FIELDS numfields field [field ...]`: each field's remaining time to live in
/// seconds; -1 without one, -2 for a missing field or key.
/// Errors: `WRONGTYPE` (checked first), `ERR Mandatory argument FIELDS is missing or not at
/// the right position`, `ERR Number of fields must be a positive integer`,
/// ``ERR The `numfields` parameter must match the number of arguments``.
fn httl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    field_ttl_generic(ctx, args, FieldTtlQuery::Ttl)
}

/// `HPTTL key FIELDS numfields field [field ...]`: HTTL in milliseconds. Errors: as HTTL.
fn hpttl(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    field_ttl_generic(ctx, args, FieldTtlQuery::Pttl)
}

/// `HEXPIRETIME key FIELDS numfields field [field ...]`: each field's deadline as a Unix
/// time in seconds. Errors: as HTTL.
fn hexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    field_ttl_generic(ctx, args, FieldTtlQuery::ExpireTime)
}

/// `HPEXPIRETIME key FIELDS numfields field [field ...]`: HEXPIRETIME in milliseconds.
/// Errors: as HTTL.
fn hpexpiretime(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    field_ttl_generic(ctx, args, FieldTtlQuery::PexpireTime)
}

/// `HPERSIST key FIELDS numfields field [field ...]`: removes fields' deadlines. Per field:
/// 1 removed, -1 had none, -2 no such field. Raises `hpersist`. Errors: as HTTL.
fn hpersist(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let found = match hash_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(found) => found.is_some(),
    };
    let fields = match fields_at(args, 2, "ERR Number of fields must be a positive integer") {
        Ok(fields) => fields,
        Err(e) => return e,
    };
    let hash = match hash_mut(ctx.keyspace, db, &args[1]) {
        Ok(Some(hash)) if found => hash,
        _ => return Reply::Array(fields.iter().map(|_| Reply::Integer(-2)).collect()),
    };
    let mut persisted = 0;
    let replies = fields
        .iter()
        .map(|field| {
            if !hash.contains(field) {
                Reply::Integer(-2)
            } else if hash.field_expiry(field).is_none() {
                Reply::Integer(-1)
            } else {
                hash.set_field_expiry(field, None);
                persisted += 1;
                Reply::Integer(1)
            }
        })
        .collect();
    if persisted > 0 {
        ctx.db().touch(&args[1]);
        ctx.notify('h', "hpersist", &args[1]);
    }
    Reply::Array(replies)
}

// ---------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------

/// `HGET key field`: the field's value, or null. Errors: `WRONGTYPE`.
fn hget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_hash(ctx, &args[1], |hash| Reply::bulk_or_null(hash.and_then(|h| h.get(&args[2])))).unwrap_or_else(|e| e)
}

/// `HMGET key field [field ...]`: each field's value or null. Errors: `WRONGTYPE`.
fn hmget(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_hash(ctx, &args[1], |hash| Reply::Array(args[2..].iter().map(|f| Reply::bulk_or_null(hash.and_then(|h| h.get(f)))).collect()))
        .unwrap_or_else(|e| e)
}

/// `HGETALL key`: every field and value (a map in RESP3). Errors: `WRONGTYPE`.
fn hgetall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let protocol = ctx.client.protocol;
    read_hash(ctx, &args[1], |hash| {
        let pairs = hash.map(Hash::pairs).unwrap_or_default();
        if protocol == Protocol::Resp2 {
            pairs_reply(pairs, protocol, false)
        } else {
            pairs_reply(pairs, protocol, true)
        }
    })
    .unwrap_or_else(|e| e)
}

/// `HKEYS key`: every field. Errors: `WRONGTYPE`.
fn hkeys(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_hash(ctx, &args[1], |hash| Reply::bulks(hash.map(Hash::pairs).unwrap_or_default().into_iter().map(|(f, _)| f))).unwrap_or_else(|e| e)
}

/// `HVALS key`: every value. Errors: `WRONGTYPE`.
fn hvals(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_hash(ctx, &args[1], |hash| Reply::bulks(hash.map(Hash::pairs).unwrap_or_default().into_iter().map(|(_, v)| v))).unwrap_or_else(|e| e)
}

/// `HLEN key`: how many fields. Errors: `WRONGTYPE`.
fn hlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_hash(ctx, &args[1], |hash| Reply::from(hash.map_or(0, Hash::len))).unwrap_or_else(|e| e)
}

/// `HSTRLEN key field`: the length of the field's value, 0 if missing. Errors: `WRONGTYPE`.
fn hstrlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_hash(ctx, &args[1], |hash| Reply::from(hash.and_then(|h| h.get(&args[2])).map_or(0, |v| v.len()))).unwrap_or_else(|e| e)
}

/// `HEXISTS key field`: 1 if the field exists, else 0. Errors: `WRONGTYPE`.
fn hexists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_hash(ctx, &args[1], |hash| Reply::from(hash.is_some_and(|h| h.contains(&args[2])))).unwrap_or_else(|e| e)
}

/// Reads a random-pick count as Redis's `getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX)`.
pub(crate) fn random_count(arg: &[u8]) -> Result<i64, Reply> {
    match parse_i64(arg) {
        None => Err(errors::not_integer()),
        Some(i64::MIN) => Err(Reply::error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")),
        Some(n) => Ok(n),
    }
}

/// `HRANDFIELD key [count [WITHVALUES]]`: a random field (null if the key is missing); with
/// a count, up to `count` distinct fields, or with a negative count exactly `-count` fields
/// that may repeat; WITHVALUES adds values (flat in RESP2, `[field, value]` pairs in RESP3).
/// Errors: `ERR value is not an integer or out of range`, `ERR value is out of range, value
/// must between ...`, `ERR value is out of range` (WITHVALUES with a huge count),
/// `ERR syntax error`, `WRONGTYPE`.
fn hrandfield(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(count_arg) = args.get(2) else {
        return read_hash(ctx, &args[1], |hash| Reply::bulk_or_null(hash.and_then(Hash::random_pair).map(|(f, _)| f))).unwrap_or_else(|e| e);
    };
    let count = match random_count(count_arg) {
        Ok(count) => count,
        Err(e) => return e,
    };
    let with_values = match args.get(3) {
        None => false,
        Some(word) if args.len() == 4 && args::is(word, "withvalues") => true,
        Some(_) => return errors::syntax(),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Reply::error("ERR value is out of range");
    }
    let protocol = ctx.client.protocol;
    read_hash(ctx, &args[1], |hash| {
        let Some(hash) = hash else { return Reply::Array(Vec::new()) };
        let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        let pairs = if count < 0 { hash.random_pairs_with_repeats(wanted) } else { hash.random_distinct_pairs(wanted) };
        if with_values {
            pairs_reply(pairs, protocol, false)
        } else {
            Reply::bulks(pairs.into_iter().map(|(f, _)| f))
        }
    })
    .unwrap_or_else(|e| e)
}

// ---------------------------------------------------------------------------------------
// HSCAN (its option parser is shared with SSCAN)
// ---------------------------------------------------------------------------------------

/// HSCAN/SSCAN options.
pub(crate) struct ScanOptions {
    /// COUNT (default 10).
    pub count: usize,
    /// MATCH, unless it was `*`.
    pub pattern: Option<Bytes>,
    /// NOVALUES (HSCAN only).
    pub no_values: bool,
}

/// Reads `[MATCH pattern] [COUNT count] [NOVALUES]` from `options`, as Redis's
/// `scanGenericCommand` does; NOVALUES only when `is_hash`.
pub(crate) fn parse_scan_options(options: &[Bytes], is_hash: bool) -> Result<ScanOptions, Reply> {
    let mut parsed = ScanOptions { count: 10, pattern: None, no_values: false };
    let mut i = 0;
    while let Some(option) = options.get(i) {
        match options.get(i + 1) {
            Some(value) if args::is(option, "count") => {
                let count = args::int(value).map_err(Reply::from)?;
                if count < 1 {
                    return Err(errors::syntax());
                }
                parsed.count = usize::try_from(count).unwrap_or(usize::MAX);
                i += 2;
            }
            Some(value) if args::is(option, "match") => {
                parsed.pattern = (value.as_ref() != b"*").then(|| value.clone());
                i += 2;
            }
            _ if args::is(option, "novalues") => {
                if !is_hash {
                    return Err(Reply::error("ERR NOVALUES option can only be used in HSCAN"));
                }
                parsed.no_values = true;
                i += 1;
            }
            _ => return Err(errors::syntax()),
        }
    }
    Ok(parsed)
}

/// The reply of an HSCAN/SSCAN page: `[cursor, [items]]`.
pub(crate) fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(itoa::Buffer::new().format(cursor)), Reply::Array(items)])
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]`: one page of fields and
/// values. A compact hash comes back whole with cursor 0; a large one pages with SCAN's
/// guarantee (every field present throughout is returned).
/// Errors: `ERR invalid cursor`, `WRONGTYPE`, `ERR value is not an integer or out of range`,
/// `ERR syntax error`.
fn hscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(cursor) = super::keys::parse_cursor(&args[2]) else { return Reply::error("ERR invalid cursor") };
    let db = ctx.client.db;
    let page = match hash_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return scan_reply(0, Vec::new()),
        Ok(Some(hash)) => {
            let options = match parse_scan_options(&args[3..], true) {
                Ok(options) => options,
                Err(e) => return e,
            };
            let (next, pairs) = hash.scan(cursor, options.count);
            let mut items = Vec::new();
            for (field, value) in pairs {
                if options.pattern.as_ref().is_some_and(|p| !crate::glob::matches(p, &field)) {
                    continue;
                }
                items.push(Reply::Bulk(field));
                if !options.no_values {
                    items.push(Reply::Bulk(value));
                }
            }
            scan_reply(next, items)
        }
    };
    page
}

/// The hash commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "Creates or modifies the value of a field in a hash.", hset).since("2.0.0"),
    CommandSpec::new("hsetnx", 4, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "Sets the value of a field in a hash only when the field doesn't exist.", hsetnx).since("2.0.0"),
    CommandSpec::new("hmset", -4, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "Sets the values of multiple fields.", hmset).since("2.0.0"),
    CommandSpec::new("hget", 3, &["readonly", "fast"], (1, 1, 1), "hash", "Returns the value of a field in a hash.", hget).since("2.0.0"),
    CommandSpec::new("hmget", -3, &["readonly", "fast"], (1, 1, 1), "hash", "Returns the values of all fields in a hash.", hmget).since("2.0.0"),
    CommandSpec::new("hgetall", 2, &["readonly"], (1, 1, 1), "hash", "Returns all fields and values in a hash.", hgetall).since("2.0.0"),
    CommandSpec::new("hdel", -3, &["write", "fast"], (1, 1, 1), "hash", "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", hdel).since("2.0.0"),
    CommandSpec::new("hgetdel", -5, &["write", "fast"], (1, 1, 1), "hash", "Returns the value of a field and deletes it from the hash.", hgetdel).since("8.0.0"),
    CommandSpec::new("hexpire", -6, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "Set expiry for hash field using relative time to expire (seconds)", hexpire).since("7.4.0"),
    CommandSpec::new("hpexpire", -6, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "Set expiry for hash field using relative time to expire (milliseconds)", hpexpire).since("7.4.0"),
    CommandSpec::new("hexpireat", -6, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "Set expiry for hash field using an absolute Unix timestamp (seconds)", hexpireat).since("7.4.0"),
    CommandSpec::new("hpexpireat", -6, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "Set expiry for hash field using an absolute Unix timestamp (milliseconds)", hpexpireat).since("7.4.0"),
    CommandSpec::new("httl", -5, &["readonly", "fast"], (1, 1, 1), "hash", "Returns the TTL in seconds of a hash field.", httl).since("7.4.0"),
    CommandSpec::new("hpttl", -5, &["readonly", "fast"], (1, 1, 1), "hash", "Returns the TTL in milliseconds of a hash field.", hpttl).since("7.4.0"),
    CommandSpec::new("hexpiretime", -5, &["readonly", "fast"], (1, 1, 1), "hash", "Returns the expiration time of a hash field as a Unix timestamp, in seconds.", hexpiretime).since("7.4.0"),
    CommandSpec::new("hpexpiretime", -5, &["readonly", "fast"], (1, 1, 1), "hash", "Returns the expiration time of a hash field as a Unix timestamp, in msec.", hpexpiretime).since("7.4.0"),
    CommandSpec::new("hpersist", -5, &["write", "fast"], (1, 1, 1), "hash", "Removes the expiration time for each specified field", hpersist).since("7.4.0"),
    CommandSpec::new("hgetex", -5, &["write", "fast"], (1, 1, 1), "hash", "Get the value of one or more fields of a given hash key, and optionally set their expiration.", hgetex).since("8.0.0"),
    CommandSpec::new("hsetex", -6, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "Set the value of one or more fields of a given hash key, and optionally set their expiration.", hsetex).since("8.0.0"),
    CommandSpec::new("hlen", 2, &["readonly", "fast"], (1, 1, 1), "hash", "Returns the number of fields in a hash.", hlen).since("2.0.0"),
    CommandSpec::new("hstrlen", 3, &["readonly", "fast"], (1, 1, 1), "hash", "Returns the length of the value of a field.", hstrlen).since("3.2.0"),
    CommandSpec::new("hexists", 3, &["readonly", "fast"], (1, 1, 1), "hash", "Determines whether a field exists in a hash.", hexists).since("2.0.0"),
    CommandSpec::new("hkeys", 2, &["readonly"], (1, 1, 1), "hash", "Returns all fields in a hash.", hkeys).since("2.0.0"),
    CommandSpec::new("hvals", 2, &["readonly"], (1, 1, 1), "hash", "Returns all values in a hash.", hvals).since("2.0.0"),
    CommandSpec::new("hincrby", 4, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", hincrby).since("2.0.0"),
    CommandSpec::new("hincrbyfloat", 4, &["write", "denyoom", "fast"], (1, 1, 1), "hash", "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", hincrbyfloat).since("2.6.0"),
    CommandSpec::new("hrandfield", -2, &["readonly"], (1, 1, 1), "hash", "Returns one or more random fields from a hash.", hrandfield).since("6.2.0"),
    CommandSpec::new("hscan", -3, &["readonly"], (1, 1, 1), "hash", "Iterates over fields and values of a hash.", hscan).since("2.8.0"),
];
