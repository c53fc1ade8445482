//! Sorted set commands: ZADD, ZRANGE (every form), ZRANK, ZPOPMIN, BZPOPMIN, ZUNIONSTORE,
//! ZSCAN, ... with Redis 7.4's replies and errors.
//!
//! The data work is done by functions that take the keyspace and a database index, not a
//! client, so the blocking layer can re-run a blocked pop for its waiter, as the list pops do
//! ([`crate::blocking::serve_ready`]). Every write raises Redis's keyspace notification
//! (`zadd`, `zincr`, `zrem`, `zremrangebyscore`, `zpopmin`, `zunionstore`, ...); a sorted set
//! emptied by a removal is deleted with a `del` event, as Redis does.
//!
//! Scores go out as [`Reply::Double`]: a bulk string in RESP2 and `,` in RESP3. `WITHSCORES`
//! replies are flat `member, score, ...` arrays in RESP2 and arrays of `[member, score]`
//! pairs in RESP3, as in Redis 7.4.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{args, errors, CommandSpec, Ctx};
use crate::blocking::{self, BlockRequest};
use crate::keyspace::zset::{AddOutcome, LexBound, Range, ScoreBound, ZSet, ZSetLimits};
use crate::keyspace::{Keyspace, Value};
use crate::resp::{parse_i64, Protocol, Reply};
use bytes::Bytes;

// ---------------------------------------------------------------------------------------
// Lookups and shared helpers
// ---------------------------------------------------------------------------------------

/// The thresholds of the compact form, as currently configured.
pub fn limits(ctx: &Ctx<'_>) -> ZSetLimits {
    let config = ctx.shared.config.read();
    ZSetLimits { max_entries: config.zset_max_listpack_entries, max_value: config.zset_max_listpack_value }
}

/// The sorted set under `key`: `Ok(None)` if missing, `WRONGTYPE` if it holds another type.
pub fn zset_mut<'a>(keyspace: &'a mut Keyspace, db: usize, key: &[u8]) -> Result<Option<&'a mut ZSet>, Reply> {
    let now = keyspace.now_ms();
    match keyspace.db(db).get_value(key, now) {
        None => Ok(None),
        Some(Value::ZSet(zset)) => Ok(Some(zset)),
        Some(_) => Err(errors::wrong_type()),
    }
}

/// Runs `read` on the sorted set under `key` (None if missing), counting a hit or miss.
fn read_zset<R>(ctx: &mut Ctx<'_>, key: &[u8], read: impl FnOnce(Option<&ZSet>) -> R) -> Reply
where
    R: Into<Reply>,
{
    let db = ctx.client.db;
    let found = zset_mut(ctx.keyspace, db, key);
    ctx.shared.stats.record_lookup(matches!(found, Ok(Some(_)) | Err(_)));
    match found {
        Ok(zset) => read(zset.map(|z| &*z)).into(),
        Err(e) => e,
    }
}

/// After members left the set under `key`: deletes it if empty (with a `del` event), else
/// signals the change to WATCH.
fn after_removal(keyspace: &mut Keyspace, db: usize, key: &[u8], empty: bool) {
    if empty {
        keyspace.db(db).remove(key);
        keyspace.notify(db, 'g', "del", key);
    } else {
        keyspace.db(db).touch(key);
    }
}

/// Replaces `key` with `zset` (a `*STORE` result), or deletes it when `zset` is empty.
/// Raises `event` on a store and `del` when an existing key is deleted. Returns the length.
pub fn store_result(keyspace: &mut Keyspace, db: usize, key: &[u8], zset: ZSet, event: &'static str) -> usize {
    let len = zset.len();
    let now = keyspace.now_ms();
    if len == 0 {
        if keyspace.db(db).get_value(key, now).is_some() {
            keyspace.db(db).remove(key);
            keyspace.notify(db, 'g', "del", key);
        }
        return 0;
    }
    keyspace.db(db).insert(key, Value::ZSet(zset), None, now);
    keyspace.signal_ready(db, key);
    keyspace.notify(db, 'z', event, key);
    len
}

/// `member, score` pairs as Redis replies them: flat in RESP2, `[member, score]` pairs in
/// RESP3 (or always nested when `nested`, as ZMPOP does).
pub fn pairs_reply(pairs: Vec<(Bytes, f64)>, protocol: Protocol, nested: bool) -> Reply {
    if nested || protocol != Protocol::Resp2 {
        Reply::Array(pairs.into_iter().map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)])).collect())
    } else {
        Reply::Array(pairs.into_iter().flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)]).collect())
    }
}

fn members_reply(pairs: Vec<(Bytes, f64)>, protocol: Protocol, withscores: bool) -> Reply {
    if withscores {
        pairs_reply(pairs, protocol, false)
    } else {
        Reply::Array(pairs.into_iter().map(|(m, _)| Reply::Bulk(m)).collect())
    }
}

fn score_arg(arg: &[u8]) -> Result<f64, Reply> {
    args::float(arg).map_err(|_| errors::not_float())
}

fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(errors::not_integer)
}

fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or(if n < 0 { 0 } else { usize::MAX })
}

/// Parses one end of a score range (`1.5`, `(1.5`, `-inf`, `+inf`).
fn parse_score_bound(arg: &[u8]) -> Option<ScoreBound> {
    let (exclusive, text) = match arg.strip_prefix(b"(") {
        Some(rest) => (true, rest),
        None => (false, arg),
    };
    // Redis reads the bound with strtod, which takes an empty string as 0.
    let value = if text.is_empty() { 0.0 } else { args::float(text).ok()? };
    Some(ScoreBound { value, exclusive })
}

/// Parses a score range. Errors: `ERR min or max is not a float`.
pub fn parse_score_range(min: &[u8], max: &[u8]) -> Result<Range, Reply> {
    match (parse_score_bound(min), parse_score_bound(max)) {
        (Some(min), Some(max)) => Ok(Range::Score(min, max)),
        _ => Err(Reply::error("ERR min or max is not a float")),
    }
}

fn parse_lex_bound(arg: &[u8]) -> Option<LexBound> {
    match arg {
        b"-" => Some(LexBound::Min),
        b"+" => Some(LexBound::Max),
        [b'[', rest @ ..] => Some(LexBound::Member(Bytes::copy_from_slice(rest), false)),
        [b'(', rest @ ..] => Some(LexBound::Member(Bytes::copy_from_slice(rest), true)),
        _ => None,
    }
}

/// Parses a lex range. Errors: `ERR min or max not valid string range item`.
pub fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<Range, Reply> {
    match (parse_lex_bound(min), parse_lex_bound(max)) {
        (Some(min), Some(max)) => Ok(Range::Lex(min, max)),
        _ => Err(Reply::error("ERR min or max not valid string range item")),
    }
}

/// Clamps a Redis `start stop` rank range against `len`; `None` when it selects nothing.
fn clamp_ranks(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
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
// ZADD, ZINCRBY, ZREM
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// What [`add_op`] did.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddResult {
    /// Members added.
    pub added: usize,
    /// Members whose score changed.
    pub updated: usize,
    /// With INCR: the new score, or `None` if the condition blocked it.
    pub score: Option<f64>,
}

fn add_op(ctx: &mut Ctx<'_>, key: &[u8], flags: AddFlags, pairs: &[(f64, &Bytes)]) -> Result<AddResult, Reply> {
    let limits = limits(ctx);
    let db = ctx.client.db;
    let longest = pairs.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
    if let Some(zset) = zset_mut(ctx.keyspace, db, key)? {
        // Redis 7.2+ (`zsetTypeMaybeConvert`): a write that is sure to outgrow the compact
        // form converts first.
        zset.maybe_convert(pairs.len(), longest, limits);
    } else {
        if flags.xx {
            return Ok(AddResult::default());
        }
        let now = ctx.now_ms();
        ctx.db().insert(key, Value::ZSet(ZSet::new(limits, pairs.len(), longest)), None, now);
    }
    let Some(zset) = zset_mut(ctx.keyspace, db, key)? else { return Ok(AddResult::default()) };
    let mut result = AddResult::default();
    let mut error = None;
    for &(score, member) in pairs {
        match zset.score(member) {
            Some(current) => {
                if flags.nx {
                    continue;
                }
                let mut new = score;
                if flags.incr {
                    new = current + score;
                    if new.is_nan() {
                        error = Some(Reply::error("ERR resulting score is not a number (NaN)"));
                        break;
                    }
                }
                if (flags.lt && new >= current) || (flags.gt && new <= current) {
                    continue;
                }
                result.score = Some(new);
                if zset.add(member, new, limits) == AddOutcome::Updated {
                    result.updated += 1;
                }
            }
            None => {
                if flags.xx {
                    continue;
                }
                zset.add(member, score, limits);
                result.score = zset.score(member);
                result.added += 1;
            }
        }
    }
    let empty = zset.is_empty();
    if result.added + result.updated > 0 {
        ctx.keyspace.signal_ready(db, key);
        ctx.notify('z', if flags.incr { "zincr" } else { "zadd" }, key);
    }
    if empty {
        ctx.db().remove(key);
    } else if result.added + result.updated > 0 {
        ctx.db().touch(key);
    }
    match error {
        Some(e) => Err(e),
        None => Ok(result),
    }
}

/// `ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]`: adds members
/// or updates their scores. Replies how many were added (with CH: added or changed); with
/// INCR, the member's new score, or null if NX/XX/GT/LT blocked it.
/// Errors: `ERR syntax error`, `ERR XX and NX options at the same time are not compatible`,
/// `ERR GT, LT, and/or NX options at the same time are not compatible`,
/// `ERR INCR option supports a single increment-element pair`,
/// `ERR value is not a valid float`, `ERR resulting score is not a number (NaN)`, `WRONGTYPE`.
fn zadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut flags = AddFlags::default();
    let mut i = 2;
    while let Some(arg) = args.get(i) {
        match arg.to_ascii_lowercase().as_slice() {
            b"nx" => flags.nx = true,
            b"xx" => flags.xx = true,
            b"gt" => flags.gt = true,
            b"lt" => flags.lt = true,
            b"ch" => flags.ch = true,
            b"incr" => flags.incr = true,
            _ => break,
        }
        i += 1;
    }
    let rest = args.get(i..).unwrap_or_default();
    if rest.is_empty() || rest.len() % 2 != 0 {
        return errors::syntax();
    }
    if flags.nx && flags.xx {
        return Reply::error("ERR XX and NX options at the same time are not compatible");
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Reply::error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if flags.incr && rest.len() > 2 {
        return Reply::error("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for pair in rest.chunks_exact(2) {
        match score_arg(&pair[0]) {
            Ok(score) => pairs.push((score, &pair[1])),
            Err(e) => return e,
        }
    }
    match add_op(ctx, &args[1], flags, &pairs) {
        Err(e) => e,
        Ok(result) if flags.incr => result.score.map_or(Reply::Null, Reply::Double),
        Ok(result) if flags.ch => Reply::from(result.added + result.updated),
        Ok(result) => Reply::from(result.added),
    }
}

/// `ZINCRBY key increment member`: adds `increment` to the member's score (0 if new) and
/// replies the new score.
/// Errors: `ERR value is not a valid float`, `ERR resulting score is not a number (NaN)`,
/// `WRONGTYPE`.
fn zincrby(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let increment = match score_arg(&args[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    let flags = AddFlags { incr: true, ..AddFlags::default() };
    match add_op(ctx, &args[1], flags, &[(increment, &args[3])]) {
        Err(e) => e,
        Ok(result) => result.score.map_or(Reply::Null, Reply::Double),
    }
}

/// `ZREM key member [member ...]`: removes members; replies how many were there.
/// Errors: `WRONGTYPE`.
fn zrem(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let zset = match zset_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        Ok(Some(zset)) => zset,
    };
    let removed = args[2..].iter().filter(|m| zset.remove(m)).count();
    let empty = zset.is_empty();
    if removed > 0 {
        ctx.notify('z', "zrem", &args[1]);
        after_removal(ctx.keyspace, db, &args[1], empty);
    }
    Reply::from(removed)
}

// ---------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------

/// `ZCARD key`: the number of members, 0 if missing.
/// Errors: `WRONGTYPE`.
fn zcard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_zset(ctx, &args[1], |z| Reply::from(z.map_or(0, ZSet::len)))
}

/// `ZSCORE key member`: the member's score, or null.
/// Errors: `WRONGTYPE`.
fn zscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let member = args[2].clone();
    read_zset(ctx, &args[1], |z| z.and_then(|z| z.score(&member)).map_or(Reply::Null, Reply::Double))
}

/// `ZMSCORE key member [member ...]`: each member's score, or null.
/// Errors: `WRONGTYPE`.
fn zmscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let members = &args[2..];
    read_zset(ctx, &args[1], |z| {
        Reply::Array(members.iter().map(|m| z.and_then(|z| z.score(m)).map_or(Reply::Null, Reply::Double)).collect())
    })
}

fn rank_generic(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> Reply {
    if args.len() > 4 {
        let name = if rev { "zrevrank" } else { "zrank" };
        return Reply::error(format!("ERR wrong number of arguments for '{name}' command"));
    }
    let withscore = match args.get(3) {
        None => false,
        Some(arg) if args::is(arg, "withscore") => true,
        Some(_) => return errors::syntax(),
    };
    let member = args[2].clone();
    read_zset(ctx, &args[1], |z| {
        let Some((rank, score)) = z.and_then(|z| z.rank(&member, rev)) else {
            return if withscore { Reply::NullArray } else { Reply::Null };
        };
        if withscore {
            Reply::Array(vec![Reply::from(rank), Reply::Double(score)])
        } else {
            Reply::from(rank)
        }
    })
}

/// `ZRANK key member [WITHSCORE]`: the member's 0-based rank by ascending score (with its
/// score), or null.
/// Errors: `ERR syntax error`, `WRONGTYPE`.
fn zrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rank_generic(ctx, args, false)
}

/// `ZREVRANK key member [WITHSCORE]`: as ZRANK, counting from the highest score.
/// Errors: `ERR syntax error`, `WRONGTYPE`.
fn zrevrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    rank_generic(ctx, args, true)
}

fn count_generic(ctx: &mut Ctx<'_>, args: &[Bytes], range: Result<Range, Reply>) -> Reply {
    let range = match range {
        Ok(range) => range,
        Err(e) => return e,
    };
    read_zset(ctx, &args[1], |z| {
        let Some(z) = z else { return Reply::Integer(0) };
        let (from, to) = z.rank_interval(&range);
        Reply::from(to - from)
    })
}

/// `ZCOUNT key min max`: how many members have a score in the range.
/// Errors: `ERR min or max is not a float`, `WRONGTYPE`.
fn zcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let range = parse_score_range(&args[2], &args[3]);
    count_generic(ctx, args, range)
}

/// `ZLEXCOUNT key min max`: how many members are in the lex range.
/// Errors: `ERR min or max not valid string range item`, `WRONGTYPE`.
fn zlexcount(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let range = parse_lex_range(&args[2], &args[3]);
    count_generic(ctx, args, range)
}

// ---------------------------------------------------------------------------------------
// ZRANGE and its older forms
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    Rank,
    Score,
    Lex,
}

/// What a range command selects.
#[derive(Debug, Clone)]
enum Selection {
    Ranks(i64, i64),
    Range(Range),
}

/// A parsed `ZRANGE`-family request.
#[derive(Debug, Clone)]
struct RangeRequest {
    selection: Selection,
    rev: bool,
    offset: i64,
    limit: i64,
    withscores: bool,
}

/// Parses `min max [options]` starting at `args[first]` (the `min`), with the kind and
/// direction fixed by the legacy command names, as Redis's `zrangeGenericCommand` does.
fn parse_range_request(args: &[Bytes], first: usize, kind: Option<RangeKind>, rev: Option<bool>, store: bool) -> Result<RangeRequest, Reply> {
    let mut kind = kind;
    let mut rev = rev;
    let mut withscores = false;
    let mut offset = 0;
    let mut limit = -1;
    let mut j = first + 2;
    while let Some(arg) = args.get(j) {
        let left = args.len() - j - 1;
        if !store && args::is(arg, "withscores") {
            withscores = true;
        } else if args::is(arg, "limit") && left >= 2 {
            offset = int_arg(&args[j + 1])?;
            limit = int_arg(&args[j + 2])?;
            j += 2;
        } else if rev.is_none() && args::is(arg, "rev") {
            rev = Some(true);
        } else if kind.is_none() && args::is(arg, "bylex") {
            kind = Some(RangeKind::Lex);
        } else if kind.is_none() && args::is(arg, "byscore") {
            kind = Some(RangeKind::Score);
        } else {
            return Err(errors::syntax());
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    let kind = kind.unwrap_or(RangeKind::Rank);
    if limit != -1 && kind == RangeKind::Rank {
        return Err(Reply::error("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"));
    }
    if withscores && kind == RangeKind::Lex {
        return Err(Reply::error("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let (min, max) = if rev && kind != RangeKind::Rank { (&args[first + 1], &args[first]) } else { (&args[first], &args[first + 1]) };
    let selection = match kind {
        RangeKind::Rank => Selection::Ranks(int_arg(min)?, int_arg(max)?),
        RangeKind::Score => Selection::Range(parse_score_range(min, max)?),
        RangeKind::Lex => Selection::Range(parse_lex_range(min, max)?),
    };
    Ok(RangeRequest { selection, rev, offset, limit, withscores })
}

/// The members a range request selects, in reply order.
fn select(zset: &ZSet, request: &RangeRequest) -> Vec<(Bytes, f64)> {
    match &request.selection {
        Selection::Ranks(start, stop) => match clamp_ranks(*start, *stop, zset.len()) {
            None => Vec::new(),
            Some((start, stop)) => zset.range_by_rank(start, stop, request.rev),
        },
        Selection::Range(range) => {
            if request.offset < 0 || range.is_empty() {
                return Vec::new();
            }
            let limit = if request.limit < 0 { None } else { Some(to_usize(request.limit)) };
            zset.select_range(range, request.rev, to_usize(request.offset), limit)
        }
    }
}

fn range_generic(ctx: &mut Ctx<'_>, args: &[Bytes], kind: Option<RangeKind>, rev: Option<bool>) -> Reply {
    let request = match parse_range_request(args, 2, kind, rev, false) {
        Ok(request) => request,
        Err(e) => return e,
    };
    let protocol = ctx.client.protocol;
    read_zset(ctx, &args[1], |z| match z {
        None => Reply::Array(Vec::new()),
        Some(z) => members_reply(select(z, &request), protocol, request.withscores),
    })
}

/// `ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`: the
/// members in a rank, score or lex range.
/// Errors: `ERR syntax error`, `ERR syntax error, LIMIT is only supported in combination with
/// either BYSCORE or BYLEX`, `ERR syntax error, WITHSCORES not supported in combination with
/// BYLEX`, `ERR value is not an integer or out of range`, `ERR min or max is not a float`,
/// `ERR min or max not valid string range item`, `WRONGTYPE`.
fn zrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, None, None)
}

/// `ZREVRANGE key start stop [WITHSCORES]`: ZRANGE ... REV.
/// Errors: as ZRANGE.
fn zrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, Some(RangeKind::Rank), Some(true))
}

/// `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`: ZRANGE ... BYSCORE.
/// Errors: as ZRANGE.
fn zrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, Some(RangeKind::Score), Some(false))
}

/// `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`: ZRANGE ... BYSCORE REV.
/// Errors: as ZRANGE.
fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, Some(RangeKind::Score), Some(true))
}

/// `ZRANGEBYLEX key min max [LIMIT offset count]`: ZRANGE ... BYLEX.
/// Errors: as ZRANGE.
fn zrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, Some(RangeKind::Lex), Some(false))
}

/// `ZREVRANGEBYLEX key max min [LIMIT offset count]`: ZRANGE ... BYLEX REV.
/// Errors: as ZRANGE.
fn zrevrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, Some(RangeKind::Lex), Some(true))
}

/// `ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]`: stores what
/// ZRANGE would reply in `dst` (deleting it if nothing is selected); replies the count.
/// Errors: as ZRANGE, `WRONGTYPE` for `src`.
fn zrangestore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let request = match parse_range_request(args, 3, None, None, true) {
        Ok(request) => request,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    let selected = match zset_mut(ctx.keyspace, db, &args[2]) {
        Err(e) => return e,
        Ok(None) => Vec::new(),
        Ok(Some(z)) => select(z, &request),
    };
    let limits = limits(ctx);
    let longest = selected.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut zset = ZSet::new(limits, selected.len(), longest);
    for (member, score) in selected {
        zset.add(&member, score, limits);
    }
    Reply::from(store_result(ctx.keyspace, db, &args[1], zset, "zrangestore"))
}

// ---------------------------------------------------------------------------------------
// ZREMRANGEBY*
// ---------------------------------------------------------------------------------------

fn remrange_generic(ctx: &mut Ctx<'_>, args: &[Bytes], selection: Result<Selection, Reply>, event: &'static str) -> Reply {
    let selection = match selection {
        Ok(selection) => selection,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    let zset = match zset_mut(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        Ok(Some(z)) => z,
    };
    let request = RangeRequest { selection, rev: false, offset: 0, limit: -1, withscores: false };
    let doomed = select(zset, &request);
    for (member, _) in &doomed {
        zset.remove(member);
    }
    let empty = zset.is_empty();
    if !doomed.is_empty() {
        ctx.notify('z', event, &args[1]);
        after_removal(ctx.keyspace, db, &args[1], empty);
    }
    Reply::from(doomed.len())
}

/// `ZREMRANGEBYRANK key start stop`: removes the members in a rank range; replies how many.
/// Errors: `ERR value is not an integer or out of range`, `WRONGTYPE`.
fn zremrangebyrank(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let selection = int_arg(&args[2]).and_then(|start| Ok(Selection::Ranks(start, int_arg(&args[3])?)));
    remrange_generic(ctx, args, selection, "zremrangebyrank")
}

/// `ZREMRANGEBYSCORE key min max`: removes the members in a score range; replies how many.
/// Errors: `ERR min or max is not a float`, `WRONGTYPE`.
fn zremrangebyscore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let selection = parse_score_range(&args[2], &args[3]).map(Selection::Range);
    remrange_generic(ctx, args, selection, "zremrangebyscore")
}

/// `ZREMRANGEBYLEX key min max`: removes the members in a lex range; replies how many.
/// Errors: `ERR min or max not valid string range item`, `WRONGTYPE`.
fn zremrangebylex(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let selection = parse_lex_range(&args[2], &args[3]).map(Selection::Range);
    remrange_generic(ctx, args, selection, "zremrangebylex")
}

// ---------------------------------------------------------------------------------------
// Pops, blocking pops
// ---------------------------------------------------------------------------------------

/// Pops up to `count` members from the low (or, when `max`, high) end of the set under
/// `key`, raising `zpopmin`/`zpopmax` and deleting an emptied set. `Ok(None)` if missing.
pub fn pop_op(keyspace: &mut Keyspace, db: usize, key: &[u8], count: usize, max: bool) -> Result<Option<Vec<(Bytes, f64)>>, Reply> {
    let Some(zset) = zset_mut(keyspace, db, key)? else { return Ok(None) };
    let popped = zset.pop(count, max);
    let empty = zset.is_empty();
    if !popped.is_empty() {
        keyspace.notify(db, 'z', if max { "zpopmax" } else { "zpopmin" }, key);
        after_removal(keyspace, db, key, empty);
    }
    Ok(Some(popped))
}

fn pop_generic(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> Reply {
    if args.len() > 3 {
        return errors::syntax();
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => match parse_i64(arg) {
            Some(n) if n >= 0 => Some(to_usize(n)),
            _ => return Reply::error("ERR value is out of range, must be positive"),
        },
    };
    let db = ctx.client.db;
    let protocol = ctx.client.protocol;
    match pop_op(ctx.keyspace, db, &args[1], count.unwrap_or(1), max) {
        Err(e) => e,
        Ok(None) => Reply::Array(Vec::new()),
        Ok(Some(popped)) => match count {
            Some(_) => pairs_reply(popped, protocol, false),
            None => pairs_reply(popped, Protocol::Resp2, false),
        },
    }
}

/// `ZPOPMIN key [count]`: removes and returns the lowest-scored members. Without a count,
/// a flat `[member, score]`; with one, pairs as WITHSCORES does.
/// Errors: `ERR value is out of range, must be positive`, `WRONGTYPE`.
fn zpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop_generic(ctx, args, false)
}

/// `ZPOPMAX key [count]`: as ZPOPMIN, from the highest scores.
/// Errors: as ZPOPMIN.
fn zpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    pop_generic(ctx, args, true)
}

/// A parsed `[B]ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]` (after the timeout).
struct Mpop {
    keys: Vec<Bytes>,
    max: bool,
    count: usize,
}

fn parse_mpop(args: &[Bytes]) -> Result<Mpop, Reply> {
    let direction = |a: &[u8]| {
        if args::is(a, "min") {
            Some(false)
        } else if args::is(a, "max") {
            Some(true)
        } else {
            None
        }
    };
    let (keys, max, count) = args::multi_pop(args, direction)?;
    Ok(Mpop { keys, max, count })
}

/// Pops from the first non-empty set among `mpop.keys`: `None` if all are missing.
fn mpop_try(keyspace: &mut Keyspace, db: usize, mpop: &Mpop) -> Option<Reply> {
    for key in &mpop.keys {
        match pop_op(keyspace, db, key, mpop.count, mpop.max) {
            Err(e) => return Some(e),
            Ok(None) => {}
            Ok(Some(popped)) => return Some(Reply::Array(vec![Reply::Bulk(key.clone()), pairs_reply(popped, Protocol::Resp3, true)])),
        }
    }
    None
}

/// `ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]`: pops from the first non-empty set;
/// replies `[key, [[member, score], ...]]` or a null array.
/// Errors: `ERR numkeys should be greater than 0`, `ERR count should be greater than 0`,
/// `ERR syntax error`, `WRONGTYPE`.
fn zmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mpop = match parse_mpop(&args[1..]) {
        Ok(mpop) => mpop,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    mpop_try(ctx.keyspace, db, &mpop).unwrap_or(Reply::NullArray)
}

/// BZPOPMIN/BZPOPMAX's work: pops one member from the first non-empty key.
fn bpop_try(keyspace: &mut Keyspace, db: usize, keys: &[Bytes], max: bool) -> Option<Reply> {
    for key in keys {
        match pop_op(keyspace, db, key, 1, max) {
            Err(e) => return Some(e),
            Ok(None) => {}
            Ok(Some(popped)) => {
                let (member, score) = popped.into_iter().next()?;
                return Some(Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Bulk(member), Reply::Double(score)]));
            }
        }
    }
    None
}

fn serve_bzpopmin(keyspace: &mut Keyspace, db: usize, args: &[Bytes]) -> Option<Reply> {
    bpop_try(keyspace, db, blocking::keys_before_timeout(args), false)
}

fn serve_bzpopmax(keyspace: &mut Keyspace, db: usize, args: &[Bytes]) -> Option<Reply> {
    bpop_try(keyspace, db, blocking::keys_before_timeout(args), true)
}

fn serve_bzmpop(keyspace: &mut Keyspace, db: usize, args: &[Bytes]) -> Option<Reply> {
    let mpop = parse_mpop(args.get(2..)?).ok()?;
    mpop_try(keyspace, db, &mpop)
}

fn bpop_generic(ctx: &mut Ctx<'_>, args: &[Bytes], max: bool) -> Reply {
    let timeout = match blocking::parse_timeout(&args[args.len() - 1], ctx.now_ms()) {
        Ok(timeout) => timeout,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    let keys = blocking::keys_before_timeout(args);
    if let Some(reply) = bpop_try(ctx.keyspace, db, keys, max) {
        return reply;
    }
    ctx.client.block_request = Some(BlockRequest {
        keys: keys.to_vec(),
        timeout,
        wants: "zset",
        serve: if max { serve_bzpopmax } else { serve_bzpopmin },
        timeout_reply: Reply::NullArray,
    });
    Reply::NullArray
}

/// `BZPOPMIN key [key ...] timeout`: pops the lowest-scored member of the first non-empty
/// set, replying `[key, member, score]`; if all are empty, blocks until one gets a member or
/// `timeout` seconds pass (0: for ever), then replies a null array. Never blocks in MULTI.
/// Errors: `ERR timeout is not a float or out of range`, `ERR timeout is negative`,
/// `WRONGTYPE`.
fn bzpopmin(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    bpop_generic(ctx, args, false)
}

/// `BZPOPMAX key [key ...] timeout`: as BZPOPMIN, from the highest scores.
/// Errors: as BZPOPMIN.
fn bzpopmax(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    bpop_generic(ctx, args, true)
}

/// `BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]`: ZMPOP, blocking while
/// every set is empty; a null array on timeout.
/// Errors: those of ZMPOP, then the timeout errors of BZPOPMIN, `WRONGTYPE`.
fn bzmpop(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mpop = match parse_mpop(&args[2..]) {
        Ok(mpop) => mpop,
        Err(e) => return e,
    };
    let timeout = match blocking::parse_timeout(&args[1], ctx.now_ms()) {
        Ok(timeout) => timeout,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    if let Some(reply) = mpop_try(ctx.keyspace, db, &mpop) {
        return reply;
    }
    ctx.client.block_request = Some(BlockRequest { keys: mpop.keys, timeout, wants: "zset", serve: serve_bzmpop, timeout_reply: Reply::NullArray });
    Reply::NullArray
}

// ---------------------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN
// ---------------------------------------------------------------------------------------

/// `ZRANDMEMBER key [count [WITHSCORES]]`: a random member (null if missing); with a
/// positive count, up to `count` distinct members; with a negative one, `|count|` members
/// that may repeat.
/// Errors: `ERR value is not an integer or out of range`, `ERR value is out of range`,
/// `ERR syntax error`, `WRONGTYPE`.
fn zrandmember(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    use rand::Rng;
    let count = match args.get(2) {
        None => None,
        Some(arg) => match parse_i64(arg) {
            None => return errors::not_integer(),
            Some(i64::MIN) => return Reply::error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
            Some(n) => Some(n),
        },
    };
    let withscores = match args.get(3) {
        None => false,
        Some(arg) if args.len() == 4 && args::is(arg, "withscores") => true,
        Some(_) => return errors::syntax(),
    };
    if withscores && count.is_some_and(|n| n < -(i64::MAX / 2)) {
        return Reply::error("ERR value is out of range");
    }
    let protocol = ctx.client.protocol;
    read_zset(ctx, &args[1], |z| {
        let mut rng = rand::thread_rng();
        let Some(count) = count else {
            let Some(z) = z else { return Reply::Null };
            let pick = rng.gen_range(0..z.len().max(1));
            return Reply::bulk_or_null(z.get(pick).map(|(m, _)| m));
        };
        let Some(z) = z else { return Reply::Array(Vec::new()) };
        let len = z.len();
        let picked: Vec<(Bytes, f64)> = if count >= 0 {
            let count = to_usize(count);
            if count >= len {
                z.iter().map(|(m, s)| (Bytes::copy_from_slice(m), s)).collect()
            } else {
                let mut ranks = rand::seq::index::sample(&mut rng, len, count).into_vec();
                ranks.sort_unstable();
                ranks.into_iter().filter_map(|r| z.get(r)).collect()
            }
        } else {
            let n = count.unsigned_abs();
            (0..n).filter_map(|_| z.get(rng.gen_range(0..len))).collect()
        };
        members_reply(picked, protocol, withscores)
    })
}

/// `ZSCAN key cursor [MATCH pattern] [COUNT count]`: iterates the members and scores. Every
/// member comes back in one reply with cursor 0 (as Redis does for its compact encoding),
/// which keeps SCAN's guarantees for any size.
/// Errors: `ERR invalid cursor`, `ERR value is not an integer or out of range`,
/// `ERR syntax error`, `WRONGTYPE`.
fn zscan(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if super::keys::parse_cursor(&args[2]).is_none() {
        return Reply::error("ERR invalid cursor");
    }
    let mut pattern: Option<Bytes> = None;
    let mut i = 3;
    while let Some(option) = args.get(i) {
        let Some(value) = args.get(i + 1) else { return errors::syntax() };
        if args::is(option, "match") {
            pattern = Some(value.clone());
        } else if args::is(option, "count") {
            match parse_i64(value) {
                None => return errors::not_integer(),
                Some(n) if n < 1 => return errors::syntax(),
                Some(_) => {}
            }
        } else {
            return errors::syntax();
        }
        i += 2;
    }
    read_zset(ctx, &args[1], |z| {
        let mut items = Vec::new();
        for (member, score) in z.into_iter().flat_map(ZSet::iter) {
            if pattern.as_ref().is_some_and(|p| !crate::glob::matches(p, member)) {
                continue;
            }
            items.push(Reply::Bulk(Bytes::copy_from_slice(member)));
            items.push(Reply::bulk(crate::resp::format_double(score)));
        }
        Reply::Array(vec![Reply::bulk("0"), Reply::Array(items)])
    })
}

// ---------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

struct SetOpRequest {
    keys: Vec<Bytes>,
    weights: Vec<f64>,
    aggregate: Aggregate,
    withscores: bool,
}

/// Parses `numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...] [WITHSCORES]` from `args`
/// (starting at numkeys). `name` is the command's name for the numkeys error.
fn parse_setop(args: &[Bytes], op: SetOp, store: bool, name: &str) -> Result<SetOpRequest, Reply> {
    let numkeys = args.first().map(|a| int_arg(a)).ok_or_else(errors::syntax)??;
    if numkeys < 1 {
        return Err(Reply::error(format!("ERR at least 1 input key is needed for '{name}' command")));
    }
    let numkeys = to_usize(numkeys);
    if numkeys > args.len() - 1 {
        return Err(errors::syntax());
    }
    let keys = args[1..=numkeys].to_vec();
    let mut request = SetOpRequest { keys, weights: vec![1.0; numkeys], aggregate: Aggregate::Sum, withscores: false };
    let mut j = numkeys + 1;
    while let Some(arg) = args.get(j) {
        let remaining = args.len() - j;
        if op != SetOp::Diff && remaining > numkeys && args::is(arg, "weights") {
            for (k, weight) in request.weights.iter_mut().enumerate() {
                *weight = args::float(&args[j + 1 + k]).map_err(|_| Reply::error("ERR weight value is not a float"))?;
            }
            j += numkeys;
        } else if op != SetOp::Diff && remaining >= 2 && args::is(arg, "aggregate") {
            let value = &args[j + 1];
            request.aggregate = if args::is(value, "sum") {
                Aggregate::Sum
            } else if args::is(value, "min") {
                Aggregate::Min
            } else if args::is(value, "max") {
                Aggregate::Max
            } else {
                return Err(errors::syntax());
            };
            j += 1;
        } else if !store && args::is(arg, "withscores") {
            request.withscores = true;
        } else {
            return Err(errors::syntax());
        }
        j += 1;
    }
    Ok(request)
}

/// An input of a set operation: a sorted set, or a plain set whose members score 1.
fn load_inputs(keyspace: &mut Keyspace, db: usize, keys: &[Bytes]) -> Result<Vec<Vec<(Bytes, f64)>>, Reply> {
    let now = keyspace.now_ms();
    let mut inputs = Vec::with_capacity(keys.len());
    for key in keys {
        let members = match keyspace.db(db).get_value(key, now) {
            None => Vec::new(),
            Some(Value::ZSet(z)) => z.iter().map(|(m, s)| (Bytes::copy_from_slice(m), s)).collect(),
            Some(Value::Set(s)) => s.members().into_iter().map(|m| (m, 1.0)).collect(),
            Some(_) => return Err(errors::wrong_type()),
        };
        inputs.push(members);
    }
    Ok(inputs)
}

fn aggregate(op: Aggregate, a: f64, b: f64) -> f64 {
    match op {
        Aggregate::Sum => {
            let sum = a + b;
            if sum.is_nan() {
                0.0
            } else {
                sum
            }
        }
        Aggregate::Min => a.min(b),
        Aggregate::Max => a.max(b),
    }
}

fn weighted(score: f64, weight: f64) -> f64 {
    let value = score * weight;
    if value.is_nan() {
        0.0
    } else {
        value
    }
}

/// Computes a union, intersection or difference as Redis's `zunionInterDiffGenericCommand`
/// does; the result's members are in no particular order.
fn compute(op: SetOp, request: &SetOpRequest, inputs: Vec<Vec<(Bytes, f64)>>) -> Vec<(Bytes, f64)> {
    use std::collections::HashMap;
    let mut indexed: Vec<(usize, Vec<(Bytes, f64)>)> = inputs.into_iter().enumerate().collect();
    match op {
        SetOp::Diff => {
            let mut iter = indexed.into_iter();
            let Some((_, first)) = iter.next() else { return Vec::new() };
            let others: Vec<HashMap<Bytes, f64>> = iter.map(|(_, v)| v.into_iter().collect()).collect();
            first.into_iter().filter(|(m, _)| !others.iter().any(|o| o.contains_key(m))).collect()
        }
        SetOp::Inter => {
            indexed.sort_by_key(|(_, v)| v.len());
            let mut iter = indexed.into_iter();
            let Some((first_index, first)) = iter.next() else { return Vec::new() };
            let others: Vec<(usize, HashMap<Bytes, f64>)> = iter.map(|(i, v)| (i, v.into_iter().collect())).collect();
            let first_weight = request.weights.get(first_index).copied().unwrap_or(1.0);
            let mut result = Vec::new();
            'members: for (member, score) in first {
                let mut total = weighted(score, first_weight);
                for (index, other) in &others {
                    let Some(&s) = other.get(&member) else { continue 'members };
                    total = aggregate(request.aggregate, total, weighted(s, request.weights.get(*index).copied().unwrap_or(1.0)));
                }
                result.push((member, total));
            }
            result
        }
        SetOp::Union => {
            indexed.sort_by_key(|(_, v)| v.len());
            let mut totals: HashMap<Bytes, f64> = HashMap::new();
            let mut order = Vec::new();
            for (index, members) in indexed {
                let weight = request.weights.get(index).copied().unwrap_or(1.0);
                for (member, score) in members {
                    let value = weighted(score, weight);
                    match totals.get_mut(&member) {
                        Some(total) => *total = aggregate(request.aggregate, *total, value),
                        None => {
                            order.push(member.clone());
                            totals.insert(member, value);
                        }
                    }
                }
            }
            order.into_iter().filter_map(|m| totals.get(&m).map(|s| (m.clone(), *s))).collect()
        }
    }
}

fn setop_generic(ctx: &mut Ctx<'_>, args: &[Bytes], op: SetOp, store: bool) -> Reply {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let first = if store { 2 } else { 1 };
    let request = match parse_setop(&args[first..], op, store, &name) {
        Ok(request) => request,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    let inputs = match load_inputs(ctx.keyspace, db, &request.keys) {
        Ok(inputs) => inputs,
        Err(e) => return e,
    };
    let result = compute(op, &request, inputs);
    let limits = limits(ctx);
    let longest = result.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    let mut zset = ZSet::new(limits, result.len(), longest);
    for (member, score) in &result {
        zset.add(member, *score, limits);
    }
    if store {
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        return Reply::from(store_result(ctx.keyspace, db, &args[1], zset, event));
    }
    let sorted: Vec<(Bytes, f64)> = zset.iter().map(|(m, s)| (Bytes::copy_from_slice(m), s)).collect();
    members_reply(sorted, ctx.client.protocol, request.withscores)
}

/// `ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`:
/// the union of sorted sets (plain sets count with score 1), ordered by the result scores.
/// Errors: `ERR at least 1 input key is needed for 'zunion' command`, `ERR syntax error`,
/// `ERR weight value is not a float`, `ERR value is not an integer or out of range`,
/// `WRONGTYPE`.
fn zunion(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, SetOp::Union, false)
}

/// `ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]`:
/// the intersection of sorted sets. Errors: as ZUNION.
fn zinter(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, SetOp::Inter, false)
}

/// `ZDIFF numkeys key [key ...] [WITHSCORES]`: the members of the first set in none of the
/// others, with their scores. Errors: as ZUNION.
fn zdiff(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, SetOp::Diff, false)
}

/// `ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`: stores
/// the union; replies its size (an empty result deletes `destination`). Errors: as ZUNION.
fn zunionstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, SetOp::Union, true)
}

/// `ZINTERSTORE destination numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]`: stores
/// the intersection; replies its size. Errors: as ZUNION.
fn zinterstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, SetOp::Inter, true)
}

/// `ZDIFFSTORE destination numkeys key [key ...]`: stores the difference; replies its
/// size. Errors: as ZUNION.
fn zdiffstore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    setop_generic(ctx, args, SetOp::Diff, true)
}

/// `ZINTERCARD numkeys key [key ...] [LIMIT limit]`: the size of the intersection, stopping
/// at `limit` if it is not 0.
/// Errors: `ERR at least 1 input key is needed for 'zintercard' command`,
/// `ERR LIMIT can't be negative`,
/// `ERR syntax error`, `WRONGTYPE`.
fn zintercard(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let numkeys = match int_arg(&args[1]) {
        Ok(n) if n >= 1 => to_usize(n),
        Ok(_) => return Reply::error("ERR at least 1 input key is needed for 'zintercard' command"),
        Err(e) => return e,
    };
    if numkeys > args.len() - 2 {
        return errors::syntax();
    }
    let keys = args[2..2 + numkeys].to_vec();
    let mut limit = 0usize;
    let mut j = 2 + numkeys;
    while let Some(arg) = args.get(j) {
        match args.get(j + 1) {
            Some(value) if args::is(arg, "limit") => match parse_i64(value) {
                Some(n) if n >= 0 => limit = to_usize(n),
                Some(_) => return Reply::error("ERR LIMIT can't be negative"),
                None => return errors::not_integer(),
            },
            _ => return errors::syntax(),
        }
        j += 2;
    }
    let db = ctx.client.db;
    let inputs = match load_inputs(ctx.keyspace, db, &keys) {
        Ok(inputs) => inputs,
        Err(e) => return e,
    };
    let request = SetOpRequest { weights: vec![1.0; keys.len()], keys, aggregate: Aggregate::Sum, withscores: false };
    let size = compute(SetOp::Inter, &request, inputs).len();
    Reply::from(if limit == 0 { size } else { size.min(limit) })
}

/// The sorted set commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, &["write", "denyoom", "fast"], (1, 1, 1), "sorted-set", "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", zadd).since("1.2.0"),
    CommandSpec::new("zincrby", 4, &["write", "denyoom", "fast"], (1, 1, 1), "sorted-set", "Increments the score of a member in a sorted set.", zincrby).since("1.2.0"),
    CommandSpec::new("zrem", -3, &["write", "fast"], (1, 1, 1), "sorted-set", "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", zrem).since("1.2.0"),
    CommandSpec::new("zcard", 2, &["readonly", "fast"], (1, 1, 1), "sorted-set", "Returns the number of members in a sorted set.", zcard).since("1.2.0"),
    CommandSpec::new("zscore", 3, &["readonly", "fast"], (1, 1, 1), "sorted-set", "Returns the score of a member in a sorted set.", zscore).since("1.2.0"),
    CommandSpec::new("zmscore", -3, &["readonly", "fast"], (1, 1, 1), "sorted-set", "Returns the score of one or more members in a sorted set.", zmscore).since("6.2.0"),
    CommandSpec::new("zrank", -3, &["readonly", "fast"], (1, 1, 1), "sorted-set", "Returns the index of a member in a sorted set ordered by ascending scores.", zrank).since("2.0.0"),
    CommandSpec::new("zrevrank", -3, &["readonly", "fast"], (1, 1, 1), "sorted-set", "Returns the index of a member in a sorted set ordered by descending scores.", zrevrank).since("2.0.0"),
    CommandSpec::new("zcount", 4, &["readonly", "fast"], (1, 1, 1), "sorted-set", "Returns the count of members in a sorted set that have scores within a range.", zcount).since("2.0.0"),
    CommandSpec::new("zlexcount", 4, &["readonly", "fast"], (1, 1, 1), "sorted-set", "Returns the number of members in a sorted set within a lexicographical range.", zlexcount).since("2.8.9"),
    CommandSpec::new("zrange", -4, &["readonly"], (1, 1, 1), "sorted-set", "Returns members in a sorted set within a range of indexes.", zrange).since("1.2.0"),
    CommandSpec::new("zrangestore", -5, &["write", "denyoom"], (1, 2, 1), "sorted-set", "Stores a range of members from sorted set in a key.", zrangestore).since("6.2.0"),
    CommandSpec::new("zrevrange", -4, &["readonly"], (1, 1, 1), "sorted-set", "Returns members in a sorted set within a range of indexes in reverse order.", zrevrange).since("1.2.0"),
    CommandSpec::new("zrangebyscore", -4, &["readonly"], (1, 1, 1), "sorted-set", "Returns members in a sorted set within a range of scores.", zrangebyscore).since("1.0.5"),
    CommandSpec::new("zrevrangebyscore", -4, &["readonly"], (1, 1, 1), "sorted-set", "Returns members in a sorted set within a range of scores in reverse order.", zrevrangebyscore).since("2.2.0"),
    CommandSpec::new("zrangebylex", -4, &["readonly"], (1, 1, 1), "sorted-set", "Returns members in a sorted set within a lexicographical range.", zrangebylex).since("2.8.9"),
    CommandSpec::new("zrevrangebylex", -4, &["readonly"], (1, 1, 1), "sorted-set", "Returns members in a sorted set within a lexicographical range in reverse order.", zrevrangebylex).since("2.8.9"),
    CommandSpec::new("zremrangebyrank", 4, &["write"], (1, 1, 1), "sorted-set", "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", zremrangebyrank).since("2.0.0"),
    CommandSpec::new("zremrangebyscore", 4, &["write"], (1, 1, 1), "sorted-set", "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", zremrangebyscore).since("1.2.0"),
    CommandSpec::new("zremrangebylex", 4, &["write"], (1, 1, 1), "sorted-set", "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", zremrangebylex).since("2.8.9"),
    CommandSpec::new("zpopmin", -2, &["write", "fast"], (1, 1, 1), "sorted-set", "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zpopmin).since("5.0.0"),
    CommandSpec::new("zpopmax", -2, &["write", "fast"], (1, 1, 1), "sorted-set", "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", zpopmax).since("5.0.0"),
    CommandSpec::new("zmpop", -4, &["write", "movablekeys"], (0, 0, 0), "sorted-set", "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", zmpop).since("7.0.0"),
    CommandSpec::new("bzpopmin", -3, &["write", "blocking", "fast"], (1, -2, 1), "sorted-set", "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", bzpopmin).since("5.0.0"),
    CommandSpec::new("bzpopmax", -3, &["write", "blocking", "fast"], (1, -2, 1), "sorted-set", "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", bzpopmax).since("5.0.0"),
    CommandSpec::new("bzmpop", -5, &["write", "blocking", "movablekeys"], (0, 0, 0), "sorted-set", "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", bzmpop).since("7.0.0"),
    CommandSpec::new("zrandmember", -2, &["readonly"], (1, 1, 1), "sorted-set", "Returns one or more random members from a sorted set.", zrandmember).since("6.2.0"),
    CommandSpec::new("zscan", -3, &["readonly"], (1, 1, 1), "sorted-set", "Iterates over members and scores of a sorted set.", zscan).since("2.8.0"),
    CommandSpec::new("zunion", -3, &["readonly", "movablekeys"], (0, 0, 0), "sorted-set", "Returns the union of multiple sorted sets.", zunion).since("6.2.0"),
    CommandSpec::new("zinter", -3, &["readonly", "movablekeys"], (0, 0, 0), "sorted-set", "Returns the intersect of multiple sorted sets.", zinter).since("6.2.0"),
    CommandSpec::new("zdiff", -3, &["readonly", "movablekeys"], (0, 0, 0), "sorted-set", "Returns the difference between multiple sorted sets.", zdiff).since("6.2.0"),
    CommandSpec::new("zunionstore", -4, &["write", "denyoom", "movablekeys"], (1, 1, 1), "sorted-set", "Stores the union of multiple sorted sets in a key.", zunionstore).since("2.0.0"),
    CommandSpec::new("zinterstore", -4, &["write", "denyoom", "movablekeys"], (1, 1, 1), "sorted-set", "Stores the intersect of multiple sorted sets in a key.", zinterstore).since("2.0.0"),
    CommandSpec::new("zdiffstore", -4, &["write", "denyoom", "movablekeys"], (1, 1, 1), "sorted-set", "Stores the difference of multiple sorted sets in a key.", zdiffstore).since("6.2.0"),
    CommandSpec::new("zintercard", -3, &["readonly", "movablekeys"], (0, 0, 0), "sorted-set", "Returns the number of members of the intersect of multiple sorted sets.", zintercard).since("7.0.0"),
];
