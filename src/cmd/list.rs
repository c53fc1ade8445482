//! List commands: LPUSH, RPOP, LRANGE, LMOVE, BLPOP, ... with Redis 7.4's replies and errors.
//!
//! The data work is done by `*_op` functions that take the keyspace and a database index, not
//! a client, so the blocking layer can re-run a blocked command for its waiter
//! ([`crate::blocking::serve_ready`]). Handlers parse, call an op, and build the reply.
//! Every write raises Redis's keyspace notification (`lpush`, `rpop`, `lmove` is `rpop` +
//! `lpush`, ...); a list emptied by a pop, `LREM` or `LTRIM` is deleted with a `del` event, as
//! Redis does.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{args, errors, CommandSpec, Ctx};
use crate::blocking::{self, BlockRequest};
use crate::keyspace::list::{End, List};
use crate::keyspace::{Keyspace, Value};
use crate::resp::{parse_i64, Reply};
use bytes::Bytes;

// ---------------------------------------------------------------------------------------
// Data operations, shared by the handlers and by blocked commands re-run on wake-up.
// ---------------------------------------------------------------------------------------

/// The list under `key`: `Ok(None)` if missing, `WRONGTYPE` if it holds another type.
fn list_mut<'a>(keyspace: &'a mut Keyspace, db: usize, key: &[u8]) -> Result<Option<&'a mut List>, Reply> {
    let now = keyspace.now_ms();
    match keyspace.db(db).get_value(key, now) {
        None => Ok(None),
        Some(Value::List(list)) => Ok(Some(list)),
        #[allow(unreachable_patterns)]
        Some(_) => Err(errors::wrong_type()),
    }
}

fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// Pushes `values` at `end` of the list under `key`, creating it unless `only_existing`
/// (LPUSHX/RPUSHX). Returns the new length (0 when `only_existing` found no list).
pub fn push_op(keyspace: &mut Keyspace, db: usize, key: &[u8], end: End, values: &[Bytes], only_existing: bool) -> Result<usize, Reply> {
    let len = match list_mut(keyspace, db, key)? {
        Some(list) => {
            for value in values {
                list.push(end, value);
            }
            let len = list.len();
            keyspace.db(db).touch(key);
            len
        }
        None if only_existing => return Ok(0),
        None => {
            let mut list = List::new();
            for value in values {
                list.push(end, value);
            }
            let len = list.len();
            let now = keyspace.now_ms();
            keyspace.db(db).insert(key, Value::List(Box::new(list)), None, now);
            len
        }
    };
    keyspace.signal_ready(db, key);
    keyspace.notify(db, 'l', push_event(end), key);
    Ok(len)
}

/// After elements left the list under `key`: deletes it if empty (with a `del` event), else
/// signals the change to WATCH.
fn after_removal(keyspace: &mut Keyspace, db: usize, key: &[u8], empty: bool) {
    if empty {
        keyspace.db(db).remove(key);
        keyspace.notify(db, 'g', "del", key);
    } else {
        keyspace.db(db).touch(key);
    }
}

/// Pops up to `count` elements from `end` of the list under `key`. `Ok(None)` if there is
/// no list.
pub fn pop_op(keyspace: &mut Keyspace, db: usize, key: &[u8], end: End, count: usize) -> Result<Option<Vec<Bytes>>, Reply> {
    let Some(list) = list_mut(keyspace, db, key)? else { return Ok(None) };
    let values = list.pop_many(end, count);
    let empty = list.is_empty();
    keyspace.notify(db, 'l', pop_event(end), key);
    after_removal(keyspace, db, key, empty);
    Ok(Some(values))
}

/// Moves one element from `from` of `source` to `to` of `destination` (LMOVE). `Ok(None)`
/// if there is no source list. Both types are checked before anything moves.
pub fn move_op(keyspace: &mut Keyspace, db: usize, source: &[u8], destination: &[u8], from: End, to: End) -> Result<Option<Bytes>, Reply> {
    if list_mut(keyspace, db, source)?.is_none() {
        return Ok(None);
    }
    list_mut(keyspace, db, destination)?;
    let Some(list) = list_mut(keyspace, db, source)? else { return Ok(None) };
    let Some(value) = list.pop(from) else { return Ok(None) };
    // Redis raises the destination's push event first, then the source's pop event.
    push_op(keyspace, db, destination, to, std::slice::from_ref(&value), false)?;
    let empty = list_mut(keyspace, db, source)?.is_some_and(|l| l.is_empty());
    keyspace.notify(db, 'l', pop_event(from), source);
    after_removal(keyspace, db, source, empty);
    Ok(Some(value))
}

// ---------------------------------------------------------------------------------------
// Argument readers.
// ---------------------------------------------------------------------------------------

fn parse_end(arg: &[u8]) -> Option<End> {
    if arg.eq_ignore_ascii_case(b"left") {
        Some(End::Left)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Some(End::Right)
    } else {
        None
    }
}

fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(errors::not_integer)
}

fn count_to_usize(count: i64) -> usize {
    usize::try_from(count).unwrap_or(usize::MAX)
}

/// Clamps a Redis `start stop` range against `len`; `None` when it selects nothing.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let mut start = if start < 0 { len.saturating_add(start) } else { start };
    let mut stop = if stop < 0 { len.saturating_add(stop) } else { stop };
    if start < 0 {
        start = 0;
    }
    if start > stop || start >= len {
        return None;
    }
    if stop >= len {
        stop = len - 1;
    }
    Some((usize::try_from(start).ok()?, usize::try_from(stop).ok()?))
}

// ---------------------------------------------------------------------------------------
// Handlers.
// ---------------------------------------------------------------------------------------

fn push_generic(ctx: &mut Ctx<'_>, args: &[Bytes], end: End, only_existing: bool) -> Reply {
    let db = ctx.client.db;
    match push_op(ctx.keyspace, db, &args[1], end, &args[2..], only_existing) {
        Ok(len) => Reply::from(len),
        Err(e) => e,
    }
}

/// `LPUSH key element [element ...]`: prepends elements; replies the new length.
/// Errors: `WRONGTYPE`.
fn lpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Left, false)
}

/// `RPUSH key element [element ...]`: appends elements; replies the new length.
/// Errors: `WRONGTYPE`.
fn rpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Right, false)
}

/// `LPUSHX key element [element ...]`: LPUSH only if the list exists; 0 otherwise.
/// Errors: `WRONGTYPE`.
fn lpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Left, true)
}

/// `RPUSHX key element [element ...]`: RPUSH only if the list exists; 0 otherwise.
/// Errors: `WRONGTYPE`.
fn rpushx(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Right, true)
}

fn pop_generic(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> Reply {
    if args.len() > 3 {
        let name = if end == End::Left { "lpop" } else { "rpop" };
        return Reply::error(format!("ERR wrong number of arguments for '{name}' command"));
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => match parse_i64(arg) {
            Some(n) if n >= 0 => Some(count_to_usize(n)),
            _ => return Reply::error("ERR value is out of range, must be positive"),
        },
    };
    let db = ctx.client.db;
    match list_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return if count.is_some() { Reply::NullArray } else { Reply::Null },
        Ok(Some(_)) if count == Some(0) => return Reply::Array(Vec::new()),
        Ok(Some(_)) => {}
    }
    match pop_op(ctx.keyspace, db, &args[1], end, count.unwrap_or(1)) {
        Err(e) => e,
        Ok(None) => Reply::Null,
        Ok(Some(values)) => match count {
            None => Reply::bulk_or_null(values.into_iter().next()),
            Some(_) => Reply::bulks(values),
        },
    }
}

/// `LPOP key [count]`: removes and returns the first element (or up to `count` elements as
/// an array). Null (or a null array with a count) if the key is missing.
/// Errors: `ERR value is out of range, must be positive`, `WRONGTYPE`.
fn lpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop_generic(ctx, args, End::Left)
}

/// `RPOP key [count]`: as LPOP, from the tail.
/// Errors: `ERR value is out of range, must be positive`, `WRONGTYPE`.
fn rpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop_generic(ctx, args, End::Right)
}

fn read_list<R>(ctx: &mut Ctx<'_>, key: &[u8], read: impl FnOnce(Option<&mut List>) -> R) -> Result<R, Reply> {
    let db = ctx.client.db;
    let found = list_mut(ctx.keyspace, db, key);
    let hit = matches!(found, Ok(Some(_)) | Err(_));
    ctx.shared.stats.record_lookup(hit);
    Ok(read(found?))
}

/// An array of bulk strings, encoded straight from the list's chunks: one buffer instead of one
/// allocation per element. The bytes are the same in RESP2 and RESP3.
fn encode_bulk_array<'a>(items: impl Iterator<Item = &'a [u8]>, count: usize) -> Reply {
    let mut out = bytes::BytesMut::with_capacity(16 + count * 16);
    let mut header = itoa::Buffer::new();
    out.extend_from_slice(b"*");
    out.extend_from_slice(header.format(count).as_bytes());
    out.extend_from_slice(b"\r\n");
    for item in items {
        out.extend_from_slice(b"$");
        out.extend_from_slice(header.format(item.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(item);
        out.extend_from_slice(b"\r\n");
    }
    Reply::Raw(out.freeze())
}

/// `LLEN key`: the list's length, 0 if missing.
/// Errors: `WRONGTYPE`.
fn llen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_list(ctx, &args[1], |list| Reply::from(list.map_or(0, |l| l.len()))).unwrap_or_else(|e| e)
}

/// `LRANGE key start stop`: the elements from `start` to `stop` inclusive (negative counts
/// from the tail).
/// Errors: `ERR value is not an integer or out of range`, `WRONGTYPE`.
fn lrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (start, stop) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(start), Ok(stop)) => (start, stop),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    read_list(ctx, &args[1], |list| {
        let Some(list) = list else { return Reply::Array(Vec::new()) };
        match clamp_range(start, stop, list.len()) {
            None => Reply::Array(Vec::new()),
            Some((start, stop)) => encode_bulk_array(list.range_iter(start, stop), stop - start + 1),
        }
    })
    .unwrap_or_else(|e| e)
}

/// `LINDEX key index`: the element at `index`, or null.
/// Errors: `WRONGTYPE`, `ERR value is not an integer or out of range`.
fn lindex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let index = parse_i64(&args[2]);
    read_list(ctx, &args[1], |list| {
        let Some(list) = list else { return Reply::Null };
        let Some(index) = index else { return errors::not_integer() };
        Reply::bulk_or_null(list.resolve_index(index).and_then(|pos| list.get(pos)))
    })
    .unwrap_or_else(|e| e)
}

/// `LSET key index element`: replaces the element at `index`.
/// Errors: `ERR no such key`, `WRONGTYPE`, `ERR value is not an integer or out of range`,
/// `ERR index out of range`.
fn lset(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let list = match list_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return errors::no_such_key(),
        Ok(Some(list)) => list,
    };
    let Some(index) = parse_i64(&args[2]) else { return errors::not_integer() };
    let Some(pos) = list.resolve_index(index) else { return Reply::error("ERR index out of range") };
    list.set(pos, &args[3]);
    ctx.db().touch(&args[1]);
    ctx.notify('l', "lset", &args[1]);
    Reply::ok()
}

/// `LINSERT key BEFORE|AFTER pivot element`: inserts next to the first `pivot`. Replies the
/// new length, -1 if there is no pivot, 0 if the key is missing.
/// Errors: `ERR syntax error`, `WRONGTYPE`.
fn linsert(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let after = if args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return errors::syntax();
    };
    let db = ctx.client.db;
    let list = match list_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        Ok(Some(list)) => list,
    };
    if !list.insert(&args[3], &args[4], after) {
        return Reply::Integer(-1);
    }
    let len = list.len();
    ctx.db().touch(&args[1]);
    ctx.notify('l', "linsert", &args[1]);
    Reply::from(len)
}

/// `LREM key count element`: removes `count` occurrences of `element` (from the head if
/// positive, the tail if negative, all if 0). Replies how many it removed.
/// Errors: `ERR value is not an integer or out of range`, `WRONGTYPE`.
fn lrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let count = match int_arg(&args[2]) {
        Ok(count) => count,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    let list = match list_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        Ok(Some(list)) => list,
    };
    let removed = list.remove(&args[3], count);
    let empty = list.is_empty();
    if removed > 0 {
        ctx.notify('l', "lrem", &args[1]);
        after_removal(ctx.keyspace, db, &args[1], empty);
    }
    Reply::from(removed)
}

/// `LTRIM key start stop`: keeps only the elements from `start` to `stop`.
/// Errors: `ERR value is not an integer or out of range`, `WRONGTYPE`.
fn ltrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (start, stop) = match (int_arg(&args[2]), int_arg(&args[3])) {
        (Ok(start), Ok(stop)) => (start, stop),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let db = ctx.client.db;
    let list = match list_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::ok(),
        Ok(Some(list)) => list,
    };
    list.trim(clamp_range(start, stop, list.len()));
    let empty = list.is_empty();
    ctx.notify('l', "ltrim", &args[1]);
    after_removal(ctx.keyspace, db, &args[1], empty);
    Reply::ok()
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`: the index of matching
/// elements. Without COUNT, the first match's index or null; with COUNT, an array.
/// Errors: `ERR RANK can't be zero: ...`, `ERR COUNT can't be negative`,
/// `ERR MAXLEN can't be negative`, `ERR value is not an integer or out of range`,
/// `ERR syntax error`, `WRONGTYPE`.
fn lpos(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut i = 3;
    while i < args.len() {
        let option = &args[i];
        let Some(value) = args.get(i + 1) else { return errors::syntax() };
        if option.eq_ignore_ascii_case(b"rank") {
            match parse_i64(value) {
                None => return errors::not_integer(),
                Some(i64::MIN) => {
                    return Reply::error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
                }
                Some(0) => {
                    return Reply::error(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                    )
                }
                Some(r) => rank = r,
            }
        } else if option.eq_ignore_ascii_case(b"count") {
            match parse_i64(value) {
                Some(n) if n >= 0 => count = Some(count_to_usize(n)),
                _ => return Reply::error("ERR COUNT can't be negative"),
            }
        } else if option.eq_ignore_ascii_case(b"maxlen") {
            match parse_i64(value) {
                Some(n) if n >= 0 => maxlen = count_to_usize(n),
                _ => return Reply::error("ERR MAXLEN can't be negative"),
            }
        } else {
            return errors::syntax();
        }
        i += 2;
    }
    let element = &args[2];
    read_list(ctx, &args[1], |list| {
        let Some(list) = list else {
            return if count.is_some() { Reply::Array(Vec::new()) } else { Reply::Null };
        };
        let wanted = match count {
            Some(0) => usize::MAX,
            Some(n) => n,
            None => 1,
        };
        let scan = if maxlen == 0 { usize::MAX } else { maxlen };
        let mut skip = rank.unsigned_abs().saturating_sub(1);
        let len = list.len();
        let mut found = Vec::new();
        let mut visit = |pos: usize, value: &[u8]| {
            if value == element.as_ref() {
                if skip > 0 {
                    skip -= 1;
                } else {
                    found.push(Reply::from(pos));
                }
            }
            found.len() < wanted
        };
        if rank > 0 {
            for (pos, value) in list.iter().enumerate().take(scan) {
                if !visit(pos, value) {
                    break;
                }
            }
        } else {
            for (back, value) in list.iter().rev().enumerate().take(scan) {
                if !visit(len - 1 - back, value) {
                    break;
                }
            }
        }
        match count {
            Some(_) => Reply::Array(found),
            None => found.into_iter().next().unwrap_or(Reply::Null),
        }
    })
    .unwrap_or_else(|e| e)
}

fn move_reply(result: Result<Option<Bytes>, Reply>) -> Reply {
    match result {
        Ok(value) => Reply::bulk_or_null(value),
        Err(e) => e,
    }
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`: pops from one end of `source`, pushes
/// to one end of `destination`, and replies the element (null if `source` is missing).
/// Errors: `ERR syntax error`, `WRONGTYPE`.
fn lmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (Some(from), Some(to)) = (parse_end(&args[3]), parse_end(&args[4])) else { return errors::syntax() };
    let db = ctx.client.db;
    move_reply(move_op(ctx.keyspace, db, &args[1], &args[2], from, to))
}

/// `RPOPLPUSH source destination`: LMOVE source destination RIGHT LEFT.
/// Errors: `WRONGTYPE`.
fn rpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    move_reply(move_op(ctx.keyspace, db, &args[1], &args[2], End::Right, End::Left))
}

/// A parsed `[B]LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]` (after the timeout).
struct Mpop {
    keys: Vec<Bytes>,
    end: End,
    count: usize,
}

fn parse_mpop(args: &[Bytes]) -> Result<Mpop, Reply> {
    let (keys, end, count) = args::multi_pop(args, parse_end)?;
    Ok(Mpop { keys, end, count })
}

/// Pops from the first non-empty list among `mpop.keys`: `None` if all are missing.
fn mpop_try(keyspace: &mut Keyspace, db: usize, mpop: &Mpop) -> Option<Reply> {
    for key in &mpop.keys {
        match pop_op(keyspace, db, key, mpop.end, mpop.count) {
            Err(e) => return Some(e),
            Ok(None) => {}
            Ok(Some(values)) => return Some(Reply::Array(vec![Reply::Bulk(key.clone()), Reply::bulks(values)])),
        }
    }
    None
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`: pops up to `count` elements from
/// the first non-empty list; replies `[key, [elements]]` or a null array.
/// Errors: `ERR numkeys should be greater than 0`, `ERR count should be greater than 0`,
/// `ERR syntax error`, `WRONGTYPE`.
fn lmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mpop = match parse_mpop(&args[1..]) {
        Ok(mpop) => mpop,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    mpop_try(ctx.keyspace, db, &mpop).unwrap_or(Reply::NullArray)
}

// ---------------------------------------------------------------------------------------
// Blocking commands: try the non-blocking form; if it found nothing, leave a BlockRequest.
// ---------------------------------------------------------------------------------------

/// BLPOP/BRPOP's work: pops one element from the first non-empty key, in the order given.
fn bpop_try(keyspace: &mut Keyspace, db: usize, keys: &[Bytes], end: End) -> Option<Reply> {
    for key in keys {
        match pop_op(keyspace, db, key, end, 1) {
            Err(e) => return Some(e),
            Ok(None) => {}
            Ok(Some(values)) => {
                let value = values.into_iter().next()?;
                return Some(Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Bulk(value)]));
            }
        }
    }
    None
}

fn serve_blpop(keyspace: &mut Keyspace, db: usize, args: &[Bytes]) -> Option<Reply> {
    bpop_try(keyspace, db, blocking::keys_before_timeout(args), End::Left)
}

fn serve_brpop(keyspace: &mut Keyspace, db: usize, args: &[Bytes]) -> Option<Reply> {
    bpop_try(keyspace, db, blocking::keys_before_timeout(args), End::Right)
}

fn bmove_ends(args: &[Bytes]) -> Option<(End, End)> {
    if args.first().is_some_and(|name| name.eq_ignore_ascii_case(b"brpoplpush")) {
        Some((End::Right, End::Left))
    } else {
        Some((parse_end(args.get(3)?)?, parse_end(args.get(4)?)?))
    }
}

fn serve_bmove(keyspace: &mut Keyspace, db: usize, args: &[Bytes]) -> Option<Reply> {
    let (from, to) = bmove_ends(args)?;
    match move_op(keyspace, db, args.get(1)?, args.get(2)?, from, to) {
        Ok(None) => None,
        result => Some(move_reply(result)),
    }
}

fn serve_blmpop(keyspace: &mut Keyspace, db: usize, args: &[Bytes]) -> Option<Reply> {
    let mpop = parse_mpop(args.get(2..)?).ok()?;
    mpop_try(keyspace, db, &mpop)
}

/// Reads a timeout argument as Redis does.
fn timeout_arg(ctx: &Ctx<'_>, arg: &[u8]) -> Result<Option<std::time::Duration>, Reply> {
    blocking::parse_timeout(arg, ctx.now_ms())
}

fn bpop_generic(ctx: &mut Ctx<'_>, args: &[Bytes], end: End) -> Reply {
    let timeout = match timeout_arg(ctx, &args[args.len() - 1]) {
        Ok(timeout) => timeout,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    let keys = blocking::keys_before_timeout(args);
    if let Some(reply) = bpop_try(ctx.keyspace, db, keys, end) {
        return reply;
    }
    ctx.client.block_request = Some(BlockRequest {
        keys: keys.to_vec(),
        timeout,
        wants: "list",
        serve: if end == End::Left { serve_blpop } else { serve_brpop },
        timeout_reply: Reply::NullArray,
    });
    Reply::NullArray
}

/// `BLPOP key [key ...] timeout`: pops the head of the first non-empty list, replying
/// `[key, element]`; if all are empty, blocks until one gets an element or `timeout` seconds
/// pass (0: for ever), then replies a null array. Inside MULTI it never blocks.
/// Errors: `ERR timeout is not a float or out of range`, `ERR timeout is negative`,
/// `WRONGTYPE`.
fn blpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    bpop_generic(ctx, args, End::Left)
}

/// `BRPOP key [key ...] timeout`: as BLPOP, from the tail.
/// Errors: as BLPOP.
fn brpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    bpop_generic(ctx, args, End::Right)
}

fn bmove_generic(ctx: &mut Ctx<'_>, args: &[Bytes], from: End, to: End, timeout_arg_index: usize) -> Reply {
    let timeout = match timeout_arg(ctx, &args[timeout_arg_index]) {
        Ok(timeout) => timeout,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    match move_op(ctx.keyspace, db, &args[1], &args[2], from, to) {
        Ok(None) => {}
        result => return move_reply(result),
    }
    ctx.client.block_request = Some(BlockRequest {
        keys: vec![args[1].clone()],
        timeout,
        wants: "list",
        serve: serve_bmove,
        timeout_reply: Reply::NullArray,
    });
    // LMOVE's reply for a missing source: what stands inside MULTI.
    Reply::Null
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`: LMOVE, blocking while `source`
/// is empty; a null array on timeout.
/// Errors: `ERR syntax error`, the timeout errors of BLPOP, `WRONGTYPE`.
fn blmove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (Some(from), Some(to)) = (parse_end(&args[3]), parse_end(&args[4])) else { return errors::syntax() };
    bmove_generic(ctx, args, from, to, 5)
}

/// `BRPOPLPUSH source destination timeout`: BLMOVE source destination RIGHT LEFT timeout.
/// Errors: the timeout errors of BLPOP, `WRONGTYPE`.
fn brpoplpush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    bmove_generic(ctx, args, End::Right, End::Left, 3)
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`: LMPOP, blocking while
/// every list is empty; a null array on timeout.
/// Errors: those of LMPOP, then the timeout errors of BLPOP, `WRONGTYPE`.
fn blmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mpop = match parse_mpop(&args[2..]) {
        Ok(mpop) => mpop,
        Err(e) => return e,
    };
    let timeout = match timeout_arg(ctx, &args[1]) {
        Ok(timeout) => timeout,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    if let Some(reply) = mpop_try(ctx.keyspace, db, &mpop) {
        return reply;
    }
    ctx.client.block_request = Some(BlockRequest {
        keys: mpop.keys,
        timeout,
        wants: "list",
        serve: serve_blmpop,
        timeout_reply: Reply::NullArray,
    });
    Reply::NullArray
}

/// The list commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, &["write", "denyoom", "fast"], (1, 1, 1), "list", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", lpush),
    CommandSpec::new("rpush", -3, &["write", "denyoom", "fast"], (1, 1, 1), "list", "Appends one or more elements to a list. Creates the key if it doesn't exist.", rpush),
    CommandSpec::new("lpushx", -3, &["write", "denyoom", "fast"], (1, 1, 1), "list", "Prepends one or more elements to a list only when the list exists.", lpushx).since("2.2.0"),
    CommandSpec::new("rpushx", -3, &["write", "denyoom", "fast"], (1, 1, 1), "list", "Appends an element to a list only when the list exists.", rpushx).since("2.2.0"),
    CommandSpec::new("lpop", -2, &["write", "fast"], (1, 1, 1), "list", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", lpop),
    CommandSpec::new("rpop", -2, &["write", "fast"], (1, 1, 1), "list", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", rpop),
    CommandSpec::new("llen", 2, &["readonly", "fast"], (1, 1, 1), "list", "Returns the length of a list.", llen),
    CommandSpec::new("lrange", 4, &["readonly"], (1, 1, 1), "list", "Returns a range of elements from a list.", lrange),
    CommandSpec::new("lindex", 3, &["readonly"], (1, 1, 1), "list", "Returns an element from a list by its index.", lindex),
    CommandSpec::new("lset", 4, &["write", "denyoom"], (1, 1, 1), "list", "Sets the value of an element in a list by its index.", lset),
    CommandSpec::new("linsert", 5, &["write", "denyoom"], (1, 1, 1), "list", "Inserts an element before or after another element in a list.", linsert).since("2.2.0"),
    CommandSpec::new("lrem", 4, &["write"], (1, 1, 1), "list", "Removes elements from a list. Deletes the list if the last element was removed.", lrem),
    CommandSpec::new("ltrim", 4, &["write"], (1, 1, 1), "list", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", ltrim),
    CommandSpec::new("lpos", -3, &["readonly"], (1, 1, 1), "list", "Returns the index of matching elements in a list.", lpos).since("6.0.6"),
    CommandSpec::new("lmove", 5, &["write", "denyoom"], (1, 2, 1), "list", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", lmove).since("6.2.0"),
    CommandSpec::new("rpoplpush", 3, &["write", "denyoom"], (1, 2, 1), "list", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", rpoplpush).since("1.2.0"),
    CommandSpec::new("lmpop", -4, &["write", "movablekeys"], (0, 0, 0), "list", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", lmpop).since("7.0.0"),
    CommandSpec::new("blpop", -3, &["write", "blocking"], (1, -2, 1), "list", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blpop).since("2.0.0"),
    CommandSpec::new("brpop", -3, &["write", "blocking"], (1, -2, 1), "list", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", brpop).since("2.0.0"),
    CommandSpec::new("blmove", 6, &["write", "denyoom", "blocking"], (1, 2, 1), "list", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", blmove).since("6.2.0"),
    CommandSpec::new("brpoplpush", 4, &["write", "denyoom", "blocking"], (1, 2, 1), "list", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", brpoplpush).since("2.2.0"),
    CommandSpec::new("blmpop", -5, &["write", "blocking", "movablekeys"], (0, 0, 0), "list", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", blmpop).since("7.0.0"),
];
