//! Set commands: SADD, SREM, SMEMBERS, SPOP, SMOVE, SINTER, SUNION, SDIFF and their STORE
//! forms, SINTERCARD, SSCAN, ... with Redis 7.4's replies and errors.
//!
//! Every write raises Redis's keyspace notification (`sadd`, `srem`, `spop`, SMOVE's `srem`
//! then `sadd`, `sinterstore`, `sunionstore`, `sdiffstore`); a set emptied by a removal is
//! deleted with a `del` event, and a STORE whose result is empty deletes its destination (with
//! `del` if it existed), as Redis does. Whole-set replies are sets in RESP3.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::hash::{parse_scan_options, random_count, scan_reply};
use super::{errors, CommandSpec, Ctx};
use crate::keyspace::set::{Set, SetLimits};
use crate::keyspace::{Keyspace, Value};
use crate::resp::{parse_i64, Reply};
use bytes::Bytes;

// ---------------------------------------------------------------------------------------
// Lookups and shared helpers
// ---------------------------------------------------------------------------------------

/// The thresholds of the small forms, as currently configured.
fn limits(ctx: &Ctx<'_>) -> SetLimits {
    let config = ctx.shared.config.read();
    SetLimits {
        intset_entries: config.set_max_intset_entries,
        listpack_entries: config.set_max_listpack_entries,
        listpack_value: config.set_max_listpack_value,
    }
}

/// The set under `key`: `Ok(None)` if missing, `WRONGTYPE` if it holds another type.
fn set_mut<'a>(keyspace: &'a mut Keyspace, db: usize, key: &[u8]) -> Result<Option<&'a mut Set>, Reply> {
    let now = keyspace.now_ms();
    match keyspace.db(db).get_value(key, now) {
        None => Ok(None),
        Some(Value::Set(set)) => Ok(Some(set)),
        Some(_) => Err(errors::wrong_type()),
    }
}

/// Runs `read` on the set under `key` (None if missing), counting a keyspace hit or miss.
fn read_set<R>(ctx: &mut Ctx<'_>, key: &[u8], read: impl FnOnce(Option<&Set>) -> R) -> Result<R, Reply> {
    let db = ctx.client.db;
    let found = set_mut(ctx.keyspace, db, key);
    ctx.shared.stats.record_lookup(matches!(found, Ok(Some(_)) | Err(_)));
    Ok(read(found?.map(|s| &*s)))
}

/// After members left the set under `key`: deletes it if empty (with a `del` event), else
/// signals the change to WATCH.
fn after_removal(ctx: &mut Ctx<'_>, key: &[u8], empty: bool) {
    if empty {
        ctx.db().remove(key);
        ctx.notify('g', "del", key);
    } else {
        ctx.db().touch(key);
    }
}

/// Adds `members` to the set under `key`, creating it as Redis's `setTypeCreate` would.
/// Returns how many were new.
fn add_members(ctx: &mut Ctx<'_>, key: &[u8], members: &[Bytes]) -> Result<usize, Reply> {
    let limits = limits(ctx);
    let db = ctx.client.db;
    if set_mut(ctx.keyspace, db, key)?.is_none() {
        let first = members.first().map(|m| m.as_ref()).unwrap_or_default();
        let now = ctx.now_ms();
        ctx.db().insert(key, Value::Set(Box::new(Set::for_members(first, members.len(), limits))), None, now);
    }
    let set = set_mut(ctx.keyspace, db, key)?.ok_or_else(errors::wrong_type)?;
    let added = members.iter().filter(|m| set.add(m, limits)).count();
    Ok(added)
}

// ---------------------------------------------------------------------------------------
// Single-set commands
// ---------------------------------------------------------------------------------------

/// `SADD key member [member ...]`: adds members; replies how many were new.
/// Errors: `WRONGTYPE`.
fn sadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match add_members(ctx, &args[1], &args[2..]) {
        Err(e) => e,
        Ok(added) => {
            if added > 0 {
                ctx.db().touch(&args[1]);
                ctx.notify('s', "sadd", &args[1]);
            }
            Reply::from(added)
        }
    }
}

/// `SREM key member [member ...]`: removes members; replies how many were there. Deletes an
/// emptied set. Errors: `WRONGTYPE`.
fn srem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let set = match set_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        Ok(Some(set)) => set,
    };
    let mut removed = 0;
    for member in &args[2..] {
        removed += usize::from(set.remove(member));
        if set.is_empty() {
            break;
        }
    }
    let empty = set.is_empty();
    if removed > 0 {
        ctx.notify('s', "srem", &args[1]);
        after_removal(ctx, &args[1], empty);
    }
    Reply::from(removed)
}

/// `SMEMBERS key`: every member (a set in RESP3). Errors: `WRONGTYPE`.
fn smembers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_set(ctx, &args[1], |set| Reply::Set(set.map(Set::members).unwrap_or_default().into_iter().map(Reply::Bulk).collect())).unwrap_or_else(|e| e)
}

/// `SISMEMBER key member`: 1 if `member` is in the set, else 0. Errors: `WRONGTYPE`.
fn sismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_set(ctx, &args[1], |set| Reply::from(set.is_some_and(|s| s.contains(&args[2])))).unwrap_or_else(|e| e)
}

/// `SMISMEMBER key member [member ...]`: 1 or 0 for each member. Errors: `WRONGTYPE`.
fn smismember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_set(ctx, &args[1], |set| Reply::Array(args[2..].iter().map(|m| Reply::from(set.is_some_and(|s| s.contains(m)))).collect()))
        .unwrap_or_else(|e| e)
}

/// `SCARD key`: how many members. Errors: `WRONGTYPE`.
fn scard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_set(ctx, &args[1], |set| Reply::from(set.map_or(0, Set::len))).unwrap_or_else(|e| e)
}

/// `SPOP key [count]`: removes and returns a random member (null if missing), or up to
/// `count` distinct members (a set in RESP3). Deletes an emptied set.
/// Errors: `ERR value is out of range, must be positive`, `ERR syntax error`, `WRONGTYPE`.
fn spop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return errors::syntax();
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => match parse_i64(arg) {
            Some(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => return Reply::error("ERR value is out of range, must be positive"),
        },
    };
    let db = ctx.client.db;
    let set = match set_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return if count.is_some() { Reply::Set(Vec::new()) } else { Reply::Null },
        Ok(Some(_)) if count == Some(0) => return Reply::Set(Vec::new()),
        Ok(Some(set)) => set,
    };
    let popped = set.pop_random(count.unwrap_or(1));
    let empty = set.is_empty();
    ctx.notify('s', "spop", &args[1]);
    after_removal(ctx, &args[1], empty);
    match count {
        None => Reply::bulk_or_null(popped.into_iter().next()),
        Some(_) => Reply::Set(popped.into_iter().map(Reply::Bulk).collect()),
    }
}

/// `SRANDMEMBER key [count]`: a random member (null if missing); with a count, up to `count`
/// distinct members, or with a negative count exactly `-count` members that may repeat.
/// Errors: `ERR value is not an integer or out of range`, `ERR value is out of range, value
/// must between ...`, `ERR syntax error`, `WRONGTYPE`.
fn srandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return errors::syntax();
    }
    let Some(count_arg) = args.get(2) else {
        return read_set(ctx, &args[1], |set| Reply::bulk_or_null(set.and_then(Set::random_member))).unwrap_or_else(|e| e);
    };
    let count = match random_count(count_arg) {
        Ok(count) => count,
        Err(e) => return e,
    };
    read_set(ctx, &args[1], |set| {
        let Some(set) = set else { return Reply::Array(Vec::new()) };
        let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
        Reply::bulks(if count < 0 { set.random_with_repeats(wanted) } else { set.random_distinct(wanted) })
    })
    .unwrap_or_else(|e| e)
}

/// `SMOVE source destination member`: moves `member` between sets; replies 1 if it moved,
/// 0 if it was not in `source` (or `source` is missing).
/// Errors: `WRONGTYPE` (either key).
fn smove(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (source, destination, member) = (&args[1], &args[2], &args[3]);
    let db = ctx.client.db;
    match set_mut(ctx.keyspace, db, source) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        Ok(Some(_)) => {}
    }
    if let Err(e) = set_mut(ctx.keyspace, db, destination) {
        return e;
    }
    let Ok(Some(set)) = set_mut(ctx.keyspace, db, source) else { return Reply::Integer(0) };
    if source == destination {
        return Reply::from(set.contains(member));
    }
    if !set.remove(member) {
        return Reply::Integer(0);
    }
    let empty = set.is_empty();
    ctx.notify('s', "srem", source);
    after_removal(ctx, source, empty);
    match add_members(ctx, destination, std::slice::from_ref(member)) {
        Err(e) => return e,
        Ok(0) => {}
        Ok(_) => {
            ctx.db().touch(destination);
            ctx.notify('s', "sadd", destination);
        }
    }
    Reply::Integer(1)
}

// ---------------------------------------------------------------------------------------
// Algebra: SINTER, SUNION, SDIFF and friends
// ---------------------------------------------------------------------------------------

/// Clones of the sets under `keys` (None for missing keys), or `WRONGTYPE` if any key holds
/// another type.
fn load_sets(ctx: &mut Ctx<'_>, keys: &[Bytes]) -> Result<Vec<Option<Set>>, Reply> {
    let db = ctx.client.db;
    keys.iter().map(|key| Ok(set_mut(ctx.keyspace, db, key)?.map(|s| s.clone()))).collect()
}

/// The members common to all `sets`, at most `limit` of them (0: no limit), in the order of
/// the smallest set, as Redis iterates it.
fn intersect(sets: &[Option<Set>], limit: usize) -> Vec<Bytes> {
    let mut present: Vec<&Set> = Vec::with_capacity(sets.len());
    for set in sets {
        match set {
            None => return Vec::new(),
            Some(set) => present.push(set),
        }
    }
    present.sort_by_key(|s| s.len());
    let Some((smallest, others)) = present.split_first() else { return Vec::new() };
    let mut out = Vec::new();
    for member in smallest.members() {
        if others.iter().all(|s| s.contains(&member)) {
            out.push(member);
            if limit != 0 && out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// The union (`diff` false) or difference of `sets`, built as a new set the way Redis
/// builds its destination.
fn union_or_diff(sets: Vec<Option<Set>>, diff: bool, limits: SetLimits) -> Set {
    let mut result = Set::new();
    let mut sets = sets.into_iter();
    if diff {
        let Some(Some(first)) = sets.next() else { return result };
        for member in first.members() {
            result.add(&member, limits);
        }
        for set in sets.flatten() {
            for member in set.members() {
                result.remove(&member);
            }
        }
    } else {
        for set in sets.flatten() {
            for member in set.members() {
                result.add(&member, limits);
            }
        }
    }
    result
}

fn set_reply(members: Vec<Bytes>) -> Reply {
    Reply::Set(members.into_iter().map(Reply::Bulk).collect())
}

/// Stores `result` under `destination` (replacing anything there, TTL included), or deletes
/// the destination if the result is empty; replies the size.
fn store(ctx: &mut Ctx<'_>, destination: &[u8], result: Set, event: &'static str) -> Reply {
    let size = result.len();
    if size == 0 {
        if ctx.db().remove(destination).is_some() {
            ctx.notify('g', "del", destination);
        }
        return Reply::Integer(0);
    }
    let now = ctx.now_ms();
    ctx.db().insert(destination, Value::Set(Box::new(result)), None, now);
    ctx.notify('s', event, destination);
    Reply::from(size)
}

/// `SINTER key [key ...]`: the members common to every set (a set in RESP3); empty if any
/// key is missing. Errors: `WRONGTYPE`.
fn sinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match load_sets(ctx, &args[1..]) {
        Ok(sets) => set_reply(intersect(&sets, 0)),
        Err(e) => e,
    }
}

/// `SINTERSTORE destination key [key ...]`: stores SINTER's result; replies its size.
/// Errors: `WRONGTYPE` (source keys only).
fn sinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let sets = match load_sets(ctx, &args[2..]) {
        Ok(sets) => sets,
        Err(e) => return e,
    };
    let limits = limits(ctx);
    let mut result = Set::new();
    for member in intersect(&sets, 0) {
        result.add(&member, limits);
    }
    store(ctx, &args[1], result, "sinterstore")
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the intersection, counting
/// stops at `limit` (0: no limit).
/// Errors: `ERR numkeys should be greater than 0`, `ERR Number of keys can't be greater than
/// number of args`, `ERR LIMIT can't be negative`, `ERR syntax error`, `WRONGTYPE`.
fn sintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let numkeys = match parse_i64(&args[1]) {
        Some(n) if n >= 1 => usize::try_from(n).unwrap_or(usize::MAX),
        _ => return Reply::error("ERR numkeys should be greater than 0"),
    };
    if numkeys > args.len() - 2 {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    }
    let keys = &args[2..2 + numkeys];
    let mut limit = 0;
    let mut i = 2 + numkeys;
    while let Some(option) = args.get(i) {
        match args.get(i + 1) {
            Some(value) if super::args::is(option, "limit") => match parse_i64(value) {
                Some(n) if n >= 0 => limit = usize::try_from(n).unwrap_or(usize::MAX),
                _ => return Reply::error("ERR LIMIT can't be negative"),
            },
            _ => return errors::syntax(),
        }
        i += 2;
    }
    match load_sets(ctx, keys) {
        Ok(sets) => Reply::from(intersect(&sets, limit).len()),
        Err(e) => e,
    }
}

/// `SUNION key [key ...]`: every member of any set (a set in RESP3). Errors: `WRONGTYPE`.
fn sunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let limits = limits(ctx);
    match load_sets(ctx, &args[1..]) {
        Ok(sets) => set_reply(union_or_diff(sets, false, limits).members()),
        Err(e) => e,
    }
}

/// `SUNIONSTORE destination key [key ...]`: stores SUNION's result; replies its size.
/// Errors: `WRONGTYPE` (source keys only).
fn sunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let limits = limits(ctx);
    match load_sets(ctx, &args[2..]) {
        Ok(sets) => store(ctx, &args[1], union_or_diff(sets, false, limits), "sunionstore"),
        Err(e) => e,
    }
}

/// `SDIFF key [key ...]`: the members of the first set that are in none of the others (a set
/// in RESP3). Errors: `WRONGTYPE`.
fn sdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let limits = limits(ctx);
    match load_sets(ctx, &args[1..]) {
        Ok(sets) => set_reply(union_or_diff(sets, true, limits).members()),
        Err(e) => e,
    }
}

/// `SDIFFSTORE destination key [key ...]`: stores SDIFF's result; replies its size.
/// Errors: `WRONGTYPE` (source keys only).
fn sdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let limits = limits(ctx);
    match load_sets(ctx, &args[2..]) {
        Ok(sets) => store(ctx, &args[1], union_or_diff(sets, true, limits), "sdiffstore"),
        Err(e) => e,
    }
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`: one page of members. A small set comes
/// back whole with cursor 0; a large one pages with SCAN's guarantee.
/// Errors: `ERR invalid cursor`, `WRONGTYPE`, `ERR value is not an integer or out of range`,
/// `ERR syntax error`, `ERR NOVALUES option can only be used in HSCAN`.
fn sscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(cursor) = super::keys::parse_cursor(&args[2]) else { return Reply::error("ERR invalid cursor") };
    let db = ctx.client.db;
    match set_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => e,
        Ok(None) => scan_reply(0, Vec::new()),
        Ok(Some(set)) => {
            let options = match parse_scan_options(&args[3..], false) {
                Ok(options) => options,
                Err(e) => return e,
            };
            let (next, members) = set.scan(cursor, options.count);
            let items = members
                .into_iter()
                .filter(|m| options.pattern.as_ref().is_none_or(|p| crate::glob::matches(p, m)))
                .map(Reply::Bulk)
                .collect();
            scan_reply(next, items)
        }
    }
}

/// The set commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, &["write", "denyoom", "fast"], (1, 1, 1), "set", "Adds one or more members to a set. Creates the key if it doesn't exist.", sadd),
    CommandSpec::new("srem", -3, &["write", "fast"], (1, 1, 1), "set", "Removes one or more members from a set. Deletes the set if the last member was removed.", srem),
    CommandSpec::new("smembers", 2, &["readonly"], (1, 1, 1), "set", "Returns all members of a set.", smembers),
    CommandSpec::new("sismember", 3, &["readonly", "fast"], (1, 1, 1), "set", "Determines whether a member belongs to a set.", sismember),
    CommandSpec::new("smismember", -3, &["readonly", "fast"], (1, 1, 1), "set", "Determines whether multiple members belong to a set.", smismember).since("6.2.0"),
    CommandSpec::new("scard", 2, &["readonly", "fast"], (1, 1, 1), "set", "Returns the number of members in a set.", scard),
    CommandSpec::new("spop", -2, &["write", "fast"], (1, 1, 1), "set", "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", spop),
    CommandSpec::new("srandmember", -2, &["readonly"], (1, 1, 1), "set", "Get one or multiple random members from a set", srandmember),
    CommandSpec::new("smove", 4, &["write", "fast"], (1, 2, 1), "set", "Moves a member from one set to another.", smove),
    CommandSpec::new("sinter", -2, &["readonly"], (1, -1, 1), "set", "Returns the intersect of multiple sets.", sinter),
    CommandSpec::new("sintercard", -3, &["readonly", "movablekeys"], (0, 0, 0), "set", "Returns the number of members of the intersect of multiple sets.", sintercard).since("7.0.0"),
    CommandSpec::new("sinterstore", -3, &["write", "denyoom"], (1, -1, 1), "set", "Stores the intersect of multiple sets in a key.", sinterstore),
    CommandSpec::new("sunion", -2, &["readonly"], (1, -1, 1), "set", "Returns the union of multiple sets.", sunion),
    CommandSpec::new("sunionstore", -3, &["write", "denyoom"], (1, -1, 1), "set", "Stores the union of multiple sets in a key.", sunionstore),
    CommandSpec::new("sdiff", -2, &["readonly"], (1, -1, 1), "set", "Returns the difference of multiple sets.", sdiff),
    CommandSpec::new("sdiffstore", -3, &["write", "denyoom"], (1, -1, 1), "set", "Stores the difference of multiple sets in a key.", sdiffstore),
    CommandSpec::new("sscan", -3, &["readonly"], (1, 1, 1), "set", "Iterates over members of a set.", sscan).since("2.8.0"),
];
