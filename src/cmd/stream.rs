//! Stream commands: XADD, XRANGE, XREAD, consumer groups (XGROUP, XREADGROUP, XACK, XPENDING,
//! XCLAIM, XAUTOCLAIM) and XINFO.
//!
//! Handlers parse their arguments into typed values first (parsing never mutates), then run
//! data operations from [`crate::keyspace::stream`] and build the reply. XREAD and XREADGROUP
//! with BLOCK leave a [`BlockRequest`] when they find nothing; the blocking layer re-runs them
//! through [`serve_read`] when a key they wait on is written.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{args as arg, errors, CommandSpec, Ctx};
use crate::blocking::{self, BlockRequest};
use crate::keyspace::stream::{parse_bound, AddId, ColdError, Group, IdError, Stream, StreamEntry, StreamId, Trim, TrimStrategy};
use crate::keyspace::{Keyspace, Value};
use crate::persist::{hooks, Record};
use crate::resp::{Protocol, Reply};
use bytes::Bytes;

// ---------------------------------------------------------------------------------------
// Lookups and reply helpers.
// ---------------------------------------------------------------------------------------

/// The stream at `key`: `Ok(None)` if there is no key, `WRONGTYPE` if it holds another type.
fn lookup<'a>(keyspace: &'a mut Keyspace, db: usize, key: &[u8]) -> Result<Option<&'a mut Stream>, Reply> {
    let now = keyspace.now_ms();
    match keyspace.db(db).get_value(key, now) {
        None => Ok(None),
        Some(Value::Stream(s)) => Ok(Some(s)),
        Some(_) => Err(errors::wrong_type()),
    }
}

/// Old history of a durable stream could not be read back from disk.
fn cold_error(e: ColdError) -> Reply {
    Reply::error(e.message())
}

fn id_error(e: IdError) -> Reply {
    Reply::error(e.message())
}

fn strict_id(arg: &[u8]) -> Result<StreamId, Reply> {
    StreamId::parse_strict(arg).map_err(id_error)
}

/// Reads every argument as a strict ID (XDEL, XACK): all or nothing, failing on the first
/// invalid one so that nothing is changed.
fn strict_ids(args: &[Bytes]) -> Result<Vec<StreamId>, Reply> {
    args.iter().map(|a| strict_id(a)).collect()
}

fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

fn entry_reply(entry: StreamEntry) -> Reply {
    let mut fields = Vec::with_capacity(entry.fields.len() * 2);
    for (f, v) in entry.fields {
        fields.push(Reply::Bulk(f));
        fields.push(Reply::Bulk(v));
    }
    Reply::Array(vec![id_reply(entry.id), Reply::Array(fields)])
}

fn entries_reply(entries: Vec<StreamEntry>) -> Reply {
    Reply::Array(entries.into_iter().map(entry_reply).collect())
}

fn nogroup(key: &[u8], group: &[u8]) -> Reply {
    Reply::error(format!("NOGROUP No such key '{}' or consumer group '{}'", String::from_utf8_lossy(key), String::from_utf8_lossy(group)))
}

/// XCLAIM's and XAUTOCLAIM's first check: `key` must hold a stream that has `group`.
/// Errors: `WRONGTYPE`, `NOGROUP No such key 'k' or consumer group 'g'`.
fn require_group(keyspace: &mut Keyspace, db: usize, key: &[u8], group: &[u8]) -> Result<(), Reply> {
    match lookup(keyspace, db, key)? {
        Some(s) if s.groups.contains_key(group) => Ok(()),
        _ => Err(nogroup(key, group)),
    }
}

fn nogroup_for_key(key: &[u8], group: &[u8]) -> Reply {
    Reply::error(format!("NOGROUP No such consumer group '{}' for key name '{}'", String::from_utf8_lossy(group), String::from_utf8_lossy(key)))
}

fn bulk_str(text: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(text.as_bytes()))
}

fn int(n: u64) -> Reply {
    Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

fn subcommand_syntax(args: &[Bytes], container: &str) -> Reply {
    Reply::error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {container} HELP.",
        String::from_utf8_lossy(&args[1]).chars().take(128).collect::<String>()
    ))
}

// ---------------------------------------------------------------------------------------
// XADD, XTRIM, XLEN, XRANGE, XREVRANGE, XDEL, XSETID.
// ---------------------------------------------------------------------------------------

/// XADD's and XTRIM's parsed options.
#[derive(Debug, Default)]
struct AddTrimArgs {
    nomkstream: bool,
    trim: Option<Trim>,
    /// Where parsing stopped: XADD's ID argument.
    next: usize,
}

/// Parses `[NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]]` from `args[2..]`.
/// For XADD it stops at the ID (`*` or anything not an option); for XTRIM every argument
/// must be an option.
fn parse_add_trim(args: &[Bytes], xadd: bool) -> Result<AddTrimArgs, Reply> {
    let mut parsed = AddTrimArgs::default();
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: Option<u64> = None;
    let mut i = 2;
    while let Some(opt) = args.get(i) {
        let more = args.len() - i - 1;
        if xadd && opt.as_ref() == b"*" {
            break;
        } else if (arg::is(opt, "maxlen") || arg::is(opt, "minid")) && more > 0 {
            if strategy.is_some() {
                return Err(Reply::error("ERR syntax error, MAXLEN and MINID options at the same time are not compatible"));
            }
            approx = false;
            let next = &args[i + 1];
            if more >= 2 && (next.as_ref() == b"~" || next.as_ref() == b"=") {
                approx = next.as_ref() == b"~";
                i += 1;
            }
            let value = &args[i + 1];
            strategy = Some(if arg::is(opt, "maxlen") {
                let n = arg::int(value).map_err(Reply::from)?;
                let n = u64::try_from(n).map_err(|_| Reply::error("ERR The MAXLEN argument must be >= 0."))?;
                TrimStrategy::MaxLen(n)
            } else {
                TrimStrategy::MinId(strict_id(value)?)
            });
            i += 2;
        } else if arg::is(opt, "limit") && more > 0 {
            let n = arg::int(&args[i + 1]).map_err(Reply::from)?;
            limit = Some(u64::try_from(n).map_err(|_| Reply::error("ERR The LIMIT argument must be >= 0."))?);
            i += 2;
        } else if xadd && arg::is(opt, "nomkstream") {
            parsed.nomkstream = true;
            i += 1;
        } else if xadd {
            break;
        } else {
            return Err(errors::syntax());
        }
    }
    parsed.next = i;
    if limit.is_some_and(|l| l > 0) && strategy.is_none() {
        return Err(Reply::error("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy"));
    }
    if !xadd && strategy.is_none() {
        return Err(Reply::error("ERR syntax error, XTRIM must be called with a trimming strategy"));
    }
    let limit = match limit {
        Some(_) if !approx => return Err(Reply::error("ERR syntax error, LIMIT cannot be used without the special ~ option")),
        Some(l) => l,
        None if approx => 100 * u64::from(crate::keyspace::stream::block::BLOCK_MAX_ENTRIES),
        None => 0,
    };
    parsed.trim = strategy.map(|strategy| Trim { strategy, approx, limit });
    Ok(parsed)
}

/// `XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value
/// [field value ...]`: appends an entry and replies its ID (null with NOMKSTREAM and no key).
///
/// Errors: `ERR Invalid stream ID specified as stream command argument`,
/// `ERR The ID specified in XADD must be greater than 0-0`,
/// `ERR The ID specified in XADD is equal or smaller than the target stream top item`,
/// `ERR The stream has exhausted the last possible ID, unable to add more items`,
/// `ERR The MAXLEN argument must be >= 0.`, `ERR The LIMIT argument must be >= 0.`, the
/// `ERR syntax error, ...` variants for incompatible options, arity, `WRONGTYPE`.
fn xadd(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let parsed = match parse_add_trim(args, true) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let i = parsed.next;
    let rest = args.len() - i;
    if rest < 3 || rest.is_multiple_of(2) {
        return super::arity_error(&COMMANDS[0]);
    }
    let spec = match AddId::parse(&args[i]) {
        Ok(spec) => spec,
        Err(e) => return id_error(e),
    };
    if spec == AddId::Explicit(StreamId::MIN) {
        return Reply::error("ERR The ID specified in XADD must be greater than 0-0");
    }
    let fields: Vec<(Bytes, Bytes)> = args[i + 1..].chunks_exact(2).map(|p| (p[0].clone(), p[1].clone())).collect();
    let key = &args[1];
    let db = ctx.client.db;
    let now = ctx.now_ms();
    let (id, trimmed, created) = match lookup(ctx.keyspace, db, key) {
        Err(e) => return e,
        Ok(None) if parsed.nomkstream => return Reply::Null,
        Ok(None) => {
            let mut stream = Stream::new();
            let id = match stream.add(spec, &fields, now) {
                Ok(id) => id,
                Err(e) => return Reply::error(e.message()),
            };
            let trimmed = parsed.trim.map_or(0, |t| stream.trim(t));
            ctx.keyspace.db(db).insert(key, Value::Stream(Box::new(stream)), None, now);
            (id, trimmed, true)
        }
        Ok(Some(stream)) => {
            let id = match stream.add(spec, &fields, now) {
                Ok(id) => id,
                Err(e) => return Reply::error(e.message()),
            };
            let trimmed = parsed.trim.map_or(0, |t| stream.trim(t));
            ctx.keyspace.db(db).touch(key);
            ctx.keyspace.signal_ready(db, key);
            (id, trimmed, false)
        }
    };
    // A new stream is logged whole when it becomes durable (persist::collect).
    if !created {
        crate::persist::record_entry(ctx.keyspace, db, key, id, &fields, trimmed > 0);
    }
    ctx.notify('t', "xadd", key);
    if trimmed > 0 {
        ctx.notify('t', "xtrim", key);
    }
    id_reply(id)
}

/// `XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]`: trims and replies how many entries
/// were removed.
///
/// Errors: as XADD's trimming options, plus
/// `ERR syntax error, XTRIM must be called with a trimming strategy`, `WRONGTYPE`.
fn xtrim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let trim = match parse_add_trim(args, false) {
        Ok(AddTrimArgs { trim: Some(trim), .. }) => trim,
        Ok(_) => return errors::syntax(),
        Err(e) => return e,
    };
    let db = ctx.client.db;
    let removed = match lookup(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        Ok(Some(stream)) => match stream.try_trim(trim) {
            Ok(n) => n,
            Err(e) => return cold_error(e),
        },
    };
    if removed > 0 {
        ctx.keyspace.db(db).touch(&args[1]);
        ctx.notify('t', "xtrim", &args[1]);
        crate::persist::record(ctx.keyspace, db, &args[1], |s| vec![hooks::trimmed(s)]);
    }
    int(removed)
}

/// `XLEN key`: the number of entries (0 for no key). Errors: `WRONGTYPE`.
fn xlen(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    match lookup(ctx.keyspace, db, &args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Integer(0),
        Ok(Some(s)) => int(s.len()),
    }
}

fn range_generic(ctx: &mut Ctx<'_>, args: &[Bytes], rev: bool) -> Reply {
    let (start_arg, end_arg) = if rev { (&args[3], &args[2]) } else { (&args[2], &args[3]) };
    let start = match parse_bound(start_arg, true) {
        Ok(Some(id)) => id,
        Ok(None) => return Reply::error("ERR invalid start ID for the interval"),
        Err(e) => return id_error(e),
    };
    let end = match parse_bound(end_arg, false) {
        Ok(Some(id)) => id,
        Ok(None) => return Reply::error("ERR invalid end ID for the interval"),
        Err(e) => return id_error(e),
    };
    let mut count = None;
    let mut i = 4;
    while let Some(opt) = args.get(i) {
        match args.get(i + 1) {
            Some(n) if arg::is(opt, "count") => match arg::int(n) {
                Ok(n) => count = Some(usize::try_from(n).unwrap_or(0)),
                Err(e) => return e.into(),
            },
            _ => return errors::syntax(),
        }
        i += 2;
    }
    let db = ctx.client.db;
    match lookup(ctx.keyspace, db, &args[1]) {
        Err(e) => e,
        Ok(None) => Reply::Array(Vec::new()),
        Ok(Some(_)) if count == Some(0) => Reply::NullArray,
        Ok(Some(s)) => match s.try_range(start, end, count, rev) {
            Ok(entries) => entries_reply(entries),
            Err(e) => cold_error(e),
        },
    }
}

/// `XRANGE key start end [COUNT count]`: entries with IDs in the range, oldest first. `-`
/// and `+` are the extremes, `(` makes a bound exclusive, an incomplete ID `<ms>` covers the
/// whole millisecond.
///
/// Errors: `ERR Invalid stream ID specified as stream command argument`,
/// `ERR invalid start ID for the interval`, `ERR invalid end ID for the interval`,
/// `ERR syntax error`, `WRONGTYPE`.
fn xrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, false)
}

/// `XREVRANGE key end start [COUNT count]`: XRANGE, newest first. Errors: as XRANGE.
fn xrevrange(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    range_generic(ctx, args, true)
}

/// `XDEL key id [id ...]`: deletes entries and replies how many existed.
///
/// Errors: `ERR Invalid stream ID specified as stream command argument` (nothing is deleted
/// then), `WRONGTYPE`.
fn xdel(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let ids = match strict_ids(&args[2..]) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    let deleted = match lookup(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return Reply::Integer(0),
        Ok(Some(s)) => {
            let mut deleted: Vec<StreamId> = Vec::new();
            for id in ids {
                match s.try_delete(id) {
                    Ok(true) => deleted.push(id),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!("{e}");
                        break;
                    }
                }
            }
            deleted
        }
    };
    if !deleted.is_empty() {
        ctx.keyspace.db(db).touch(&args[1]);
        ctx.notify('t', "xdel", &args[1]);
    }
    let count = deleted.len();
    if count > 0 {
        crate::persist::record(ctx.keyspace, db, &args[1], |_| vec![Record::EntriesDeleted { ids: deleted }]);
    }
    Reply::from(count)
}

/// `XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]`: sets the
/// stream's last ID and counters.
///
/// Errors: `ERR no such key`, `ERR syntax error`, `ERR entries_added must be positive`,
/// `ERR The ID specified in XSETID is smaller than current max_deleted_entry_id`,
/// `ERR The ID specified in XSETID is smaller than the target stream top item`,
/// `ERR The entries_added specified in XSETID is smaller than the target stream length`,
/// `ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id`,
/// `ERR Invalid stream ID specified as stream command argument`, `WRONGTYPE`.
fn xsetid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let id = match strict_id(&args[2]) {
        Ok(id) => id,
        Err(e) => return e,
    };
    let mut entries_added = None;
    let mut max_deleted = None;
    let mut i = 3;
    while let Some(opt) = args.get(i) {
        let Some(value) = args.get(i + 1) else { return errors::syntax() };
        if arg::is(opt, "entriesadded") {
            match arg::int(value) {
                Ok(n) if n >= 0 => entries_added = Some(n.unsigned_abs()),
                Ok(_) => return Reply::error("ERR entries_added must be positive"),
                Err(e) => return e.into(),
            }
        } else if arg::is(opt, "maxdeletedid") {
            match strict_id(value) {
                Ok(m) if id < m => return Reply::error("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"),
                Ok(m) => max_deleted = Some(m),
                Err(e) => return e,
            }
        } else {
            return errors::syntax();
        }
        i += 2;
    }
    let db = ctx.client.db;
    match lookup(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => return errors::no_such_key(),
        Ok(Some(s)) => {
            if id < s.max_deleted_id() {
                return Reply::error("ERR The ID specified in XSETID is smaller than current max_deleted_entry_id");
            }
            if let Some(top) = s.last_entry() {
                if id < top.id {
                    return Reply::error("ERR The ID specified in XSETID is smaller than the target stream top item");
                }
            }
            if entries_added.is_some_and(|n| n < s.len()) {
                return Reply::error("ERR The entries_added specified in XSETID is smaller than the target stream length");
            }
            s.set_id(id, entries_added, max_deleted);
        }
    }
    ctx.keyspace.db(db).touch(&args[1]);
    ctx.notify('t', "xsetid", &args[1]);
    crate::persist::record(ctx.keyspace, db, &args[1], |s| vec![hooks::meta(s)]);
    Reply::ok()
}

// ---------------------------------------------------------------------------------------
// XREAD and XREADGROUP.
// ---------------------------------------------------------------------------------------

/// The ID one stream is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadFrom {
    /// Entries after this ID (explicit, or `$` resolved).
    After(StreamId),
    /// `$`: entries after the stream's last ID at the time of the call.
    Last,
    /// `+`: the last entry (XREAD only).
    LastEntry,
    /// `>`: entries never delivered to the group (XREADGROUP only).
    New,
}

/// XREAD's and XREADGROUP's parsed arguments.
#[derive(Debug)]
struct ReadArgs {
    group: Option<(Bytes, Bytes)>,
    count: Option<usize>,
    block: Option<Bytes>,
    noack: bool,
    keys: Vec<Bytes>,
    from: Vec<ReadFrom>,
}

fn parse_read(args: &[Bytes], group_cmd: bool) -> Result<ReadArgs, Reply> {
    let mut parsed = ReadArgs { group: None, count: None, block: None, noack: false, keys: Vec::new(), from: Vec::new() };
    let mut streams_at = None;
    let mut i = 1;
    while let Some(opt) = args.get(i) {
        let more = args.len() - i - 1;
        if arg::is(opt, "block") && more > 0 {
            parsed.block = Some(args[i + 1].clone());
            i += 2;
        } else if arg::is(opt, "count") && more > 0 {
            let n = arg::int(&args[i + 1]).map_err(Reply::from)?;
            parsed.count = if n > 0 { usize::try_from(n).ok() } else { None };
            i += 2;
        } else if arg::is(opt, "streams") && more > 0 {
            let n = args.len() - i - 1;
            if !n.is_multiple_of(2) {
                return Err(Reply::error(if group_cmd {
                    "ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified."
                } else {
                    "ERR Unbalanced 'xread' list of streams: for each stream key an ID, '+', or '$' must be specified."
                }));
            }
            streams_at = Some(i + 1);
            break;
        } else if arg::is(opt, "group") && more >= 2 {
            if !group_cmd {
                return Err(Reply::error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."));
            }
            parsed.group = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 3;
        } else if arg::is(opt, "noack") {
            if !group_cmd {
                return Err(Reply::error("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead."));
            }
            parsed.noack = true;
            i += 1;
        } else {
            return Err(errors::syntax());
        }
    }
    let Some(at) = streams_at else { return Err(errors::syntax()) };
    if group_cmd && parsed.group.is_none() {
        return Err(Reply::error("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (args.len() - at) / 2;
    parsed.keys = args[at..at + n].to_vec();
    for id in &args[at + n..] {
        let from = match id.as_ref() {
            b"$" if group_cmd => return Err(Reply::error("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")),
            b"$" => ReadFrom::Last,
            b"+" if group_cmd => return Err(Reply::error("ERR The + ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The + ID would just return an empty result set.")),
            b"+" => ReadFrom::LastEntry,
            b">" if !group_cmd => return Err(Reply::error("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")),
            b">" => ReadFrom::New,
            other => ReadFrom::After(strict_id(other)?),
        };
        parsed.from.push(from);
    }
    Ok(parsed)
}

/// Validates keys and groups (WRONGTYPE, NOGROUP) before anything is read, as Redis does,
/// and resolves `$`.
fn resolve_read(keyspace: &mut Keyspace, db: usize, read: &mut ReadArgs) -> Result<(), Reply> {
    for (key, from) in read.keys.iter().zip(read.from.iter_mut()) {
        let stream = lookup(keyspace, db, key)?;
        if let Some((group, _)) = &read.group {
            if !stream.as_ref().is_some_and(|s| s.groups.contains_key(group)) {
                return Err(Reply::error(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(group)
                )));
            }
        }
        if *from == ReadFrom::Last {
            *from = ReadFrom::After(stream.map_or(StreamId::MIN, |s| s.last_id()));
        }
    }
    Ok(())
}

/// Reads what can be read now: `(key, reply)` for each stream that served something, plus
/// the keyspace events to raise. Never blocks.
/// What [`read_now`] found: `(key, entries reply)` per stream served, and the keys whose group
/// got a new consumer (for `xgroup-createconsumer` events).
type ReadOutcome = (Vec<(Bytes, Reply)>, Vec<Bytes>);

fn read_now(keyspace: &mut Keyspace, db: usize, read: &ReadArgs) -> Result<ReadOutcome, Reply> {
    let now = keyspace.now_ms();
    let mut served = Vec::new();
    let mut created = Vec::new();
    // Per stream a group read touched: the IDs it delivered, for the persist layer.
    let mut logged: Vec<(Bytes, Vec<StreamId>)> = Vec::new();
    for (key, from) in read.keys.iter().zip(&read.from) {
        let Some(stream) = lookup(keyspace, db, key)? else { continue };
        let reply = match (&read.group, *from) {
            (None, ReadFrom::After(after)) => {
                let Some(start) = after.next() else { continue };
                let entries = stream.try_range(start, StreamId::MAX, read.count, false).map_err(cold_error)?;
                if entries.is_empty() {
                    continue;
                }
                entries_reply(entries)
            }
            (None, ReadFrom::LastEntry) => match stream.last_entry() {
                Some(entry) => Reply::Array(vec![entry_reply(entry)]),
                None => continue,
            },
            (None, _) => continue,
            (Some((group, consumer)), from) => {
                let Some(g) = stream.groups.get_mut(group) else { continue };
                let (c, was_created) = g.consumer(consumer, now);
                c.seen_ms = now;
                if was_created {
                    created.push(key.clone());
                }
                logged.push((key.clone(), Vec::new()));
                match from {
                    ReadFrom::New => {
                        let has_new = stream.last_entry().is_some_and(|e| stream.groups.get(group).is_some_and(|g| e.id > g.last_id));
                        if !has_new {
                            continue;
                        }
                        let entries = stream.read_group_new(group, consumer, read.count, read.noack, now).map_err(cold_error)?.unwrap_or_default();
                        if let (false, Some((_, ids))) = (read.noack, logged.last_mut()) {
                            ids.extend(entries.iter().map(|e| e.id));
                        }
                        keyspace.db(db).touch(key);
                        entries_reply(entries)
                    }
                    ReadFrom::After(after) => {
                        let entries = stream.read_group_history(group, consumer, after, read.count, now).map_err(cold_error)?.unwrap_or_default();
                        if let Some((_, ids)) = logged.last_mut() {
                            ids.extend(entries.iter().filter(|(_, e)| e.is_some()).map(|(id, _)| *id));
                        }
                        Reply::Array(
                            entries
                                .into_iter()
                                .map(|(id, entry)| match entry {
                                    Some(entry) => entry_reply(entry),
                                    None => Reply::Array(vec![id_reply(id), Reply::NullArray]),
                                })
                                .collect(),
                        )
                    }
                    ReadFrom::Last | ReadFrom::LastEntry => continue,
                }
            }
        };
        served.push((key.clone(), reply));
    }
    if let Some((group, consumer)) = &read.group {
        for (key, ids) in logged {
            crate::persist::record(keyspace, db, &key, |s| hooks::delivered(s, group, consumer, &ids));
        }
    }
    Ok((served, created))
}

fn read_reply(served: Vec<(Bytes, Reply)>, protocol: Protocol) -> Reply {
    if protocol == Protocol::Resp2 {
        Reply::Array(served.into_iter().map(|(k, r)| Reply::Array(vec![Reply::Bulk(k), r])).collect())
    } else {
        Reply::Map(served.into_iter().map(|(k, r)| (Reply::Bulk(k), r)).collect())
    }
}

fn read_generic(ctx: &mut Ctx<'_>, args: &[Bytes], group_cmd: bool) -> Reply {
    let mut read = match parse_read(args, group_cmd) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let timeout = match &read.block {
        None => None,
        Some(ms) => match parse_block_ms(ms, ctx.now_ms()) {
            Ok(t) => Some(t),
            Err(e) => return e,
        },
    };
    let db = ctx.client.db;
    if let Err(e) = resolve_read(ctx.keyspace, db, &mut read) {
        return e;
    }
    let (served, created) = match read_now(ctx.keyspace, db, &read) {
        Ok(r) => r,
        Err(e) => return e,
    };
    for key in created {
        ctx.notify('t', "xgroup-createconsumer", &key);
    }
    if !served.is_empty() {
        return read_reply(served, ctx.client.protocol);
    }
    if let Some(timeout) = timeout {
        let resp3 = ctx.client.protocol != Protocol::Resp2;
        ctx.client.block_request = Some(BlockRequest {
            keys: read.keys.clone(),
            timeout,
            wants: if group_cmd { blocking::ANY_TYPE } else { "stream" },
            serve: match (group_cmd, resp3) {
                (false, false) => serve_xread2,
                (false, true) => serve_xread3,
                (true, false) => serve_xreadgroup2,
                (true, true) => serve_xreadgroup3,
            },
            timeout_reply: Reply::NullArray,
        });
        ctx.client.block_args = Some(blocked_args(args, &read));
    }
    Reply::NullArray
}

/// The command a blocked XREAD re-runs: `$` becomes the ID it stood for when the client
/// blocked, so entries added while it waits are what it gets.
fn blocked_args(args: &[Bytes], read: &ReadArgs) -> Vec<Bytes> {
    let n = read.keys.len();
    let mut out = args.to_vec();
    let ids_at = args.len() - n;
    for (slot, from) in out.iter_mut().skip(ids_at).zip(&read.from) {
        if let ReadFrom::After(id) = from {
            *slot = id.to_bytes();
        }
    }
    out
}

/// Parses BLOCK's milliseconds as Redis does (0 waits for ever).
fn parse_block_ms(arg: &[u8], now_ms: u64) -> Result<Option<std::time::Duration>, Reply> {
    let ms = arg::int(arg).map_err(|_| Reply::error("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(Reply::error("ERR timeout is negative"));
    }
    let ms = ms.unsigned_abs();
    if ms == 0 {
        return Ok(None);
    }
    if ms > (i64::MAX as u64).saturating_sub(now_ms) {
        return Err(Reply::error("ERR timeout is out of range"));
    }
    Ok(Some(std::time::Duration::from_millis(ms)))
}

/// Re-runs a blocked XREAD/XREADGROUP for its waiter (see [`crate::blocking`]).
fn serve_read(keyspace: &mut Keyspace, db: usize, args: &[Bytes], group_cmd: bool, protocol: Protocol) -> Option<Reply> {
    let mut read = match parse_read(args, group_cmd) {
        Ok(r) => r,
        Err(e) => return Some(e),
    };
    if let Err(e) = resolve_read(keyspace, db, &mut read) {
        return Some(e);
    }
    match read_now(keyspace, db, &read) {
        Err(e) => Some(e),
        Ok((served, created)) => {
            for key in created {
                keyspace.notify(db, 't', "xgroup-createconsumer", &key);
            }
            (!served.is_empty()).then(|| read_reply(served, protocol))
        }
    }
}

fn serve_xread2(keyspace: &mut Keyspace, db: usize, args: &[Bytes]) -> Option<Reply> {
    serve_read(keyspace, db, args, false, Protocol::Resp2)
}

fn serve_xread3(keyspace: &mut Keyspace, db: usize, args: &[Bytes]) -> Option<Reply> {
    serve_read(keyspace, db, args, false, Protocol::Resp3)
}

fn serve_xreadgroup2(keyspace: &mut Keyspace, db: usize, args: &[Bytes]) -> Option<Reply> {
    serve_read(keyspace, db, args, true, Protocol::Resp2)
}

fn serve_xreadgroup3(keyspace: &mut Keyspace, db: usize, args: &[Bytes]) -> Option<Reply> {
    serve_read(keyspace, db, args, true, Protocol::Resp3)
}

/// `XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]`: entries
/// after each ID (`$`: after the current last entry; `+`: the last entry), per stream; a null
/// array if none. With BLOCK, waits for entries (0: for ever).
///
/// Errors: `ERR Unbalanced 'xread' list of streams: ...`, `ERR The > ID can be specified only
/// when calling XREADGROUP ...`, the GROUP/NOACK-only-for-XREADGROUP errors, `ERR timeout is
/// negative`, invalid IDs, `ERR syntax error`, `WRONGTYPE`.
fn xread(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_generic(ctx, args, false)
}

/// `XREADGROUP GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key
/// [key ...] id [id ...]`: with `>`, delivers entries the group never delivered and records
/// them as pending for the consumer (not with NOACK); with an ID, re-reads the consumer's
/// pending entries after it (deleted ones come with a null body). Creates the consumer.
///
/// Errors: `NOGROUP No such key 'k' or consumer group 'g' in XREADGROUP with GROUP option`,
/// `ERR Missing GROUP option for XREADGROUP`, `ERR The $ ID is meaningless ...`, as XREAD.
fn xreadgroup(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    read_generic(ctx, args, true)
}

// ---------------------------------------------------------------------------------------
// XGROUP.
// ---------------------------------------------------------------------------------------

/// Parses `[ENTRIESREAD n]` and, for CREATE, `[MKSTREAM]` from `args[5..]`.
fn parse_group_options(args: &[Bytes], allow_mkstream: bool) -> Result<(bool, Option<Option<u64>>), Reply> {
    let mut mkstream = false;
    let mut entries_read = None;
    let mut i = 5;
    while let Some(opt) = args.get(i) {
        if allow_mkstream && arg::is(opt, "mkstream") {
            mkstream = true;
            i += 1;
        } else if arg::is(opt, "entriesread") && i + 1 < args.len() {
            let n = arg::int(&args[i + 1]).map_err(Reply::from)?;
            if n < -1 {
                return Err(Reply::error("ERR value for ENTRIESREAD must be positive or -1"));
            }
            entries_read = Some(u64::try_from(n).ok());
            i += 2;
        } else {
            return Err(subcommand_syntax(args, "XGROUP"));
        }
    }
    Ok((mkstream, entries_read))
}

const NEED_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

/// `XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD entries-read]`: creates a group
/// positioned at the ID.
///
/// Errors: `ERR The XGROUP subcommand requires the key to exist...`,
/// `BUSYGROUP Consumer Group name already exists`,
/// `ERR value for ENTRIESREAD must be positive or -1`, invalid IDs, `WRONGTYPE`.
fn xgroup_create(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (mkstream, entries_read) = match parse_group_options(args, true) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let explicit = if args[4].as_ref() == b"$" {
        None
    } else {
        match strict_id(&args[4]) {
            Ok(id) => Some(id),
            Err(e) => return e,
        }
    };
    let db = ctx.client.db;
    let now = ctx.now_ms();
    let key = &args[2];
    match lookup(ctx.keyspace, db, key) {
        Err(e) => return e,
        Ok(None) if !mkstream => return Reply::error(NEED_KEY),
        Ok(None) => {
            let mut stream = Stream::new();
            // A new stream has added nothing: a group cannot have read more (7.4 clamps).
            stream.groups.insert(Bytes::copy_from_slice(&args[3]), Group::new(explicit.unwrap_or_default(), entries_read.flatten().map(|_| 0)));
            ctx.keyspace.db(db).insert(key, Value::Stream(Box::new(stream)), None, now);
        }
        Ok(Some(s)) => {
            if s.groups.contains_key(&args[3]) {
                return Reply::error("BUSYGROUP Consumer Group name already exists");
            }
            let id = explicit.unwrap_or_else(|| s.last_id());
            let read = entries_read.flatten().map(|n| n.min(s.entries_added()));
            s.groups.insert(Bytes::copy_from_slice(&args[3]), Group::new(id, read));
            ctx.keyspace.db(db).touch(key);
            crate::persist::record(ctx.keyspace, db, key, |s| hooks::group_created(s, &args[3]));
        }
    }
    ctx.notify('t', "xgroup-create", key);
    Reply::ok()
}

/// Runs `op` on group `args[3]` of stream `args[2]`, with XGROUP's errors for a missing key
/// or group.
fn with_group<T>(ctx: &mut Ctx<'_>, args: &[Bytes], op: impl FnOnce(&mut Stream) -> T) -> Result<T, Reply> {
    let db = ctx.client.db;
    let stream = lookup(ctx.keyspace, db, &args[2])?.ok_or_else(|| Reply::error(NEED_KEY))?;
    if !stream.groups.contains_key(&args[3]) {
        return Err(nogroup_for_key(&args[2], &args[3]));
    }
    let result = op(stream);
    ctx.keyspace.db(db).touch(&args[2]);
    Ok(result)
}

/// `XGROUP SETID key group id|$ [ENTRIESREAD entries-read]`: moves the group's last
/// delivered ID. Errors: as CREATE, plus `NOGROUP No such consumer group 'g' for key name 'k'`.
fn xgroup_setid(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let entries_read = match parse_group_options(args, false) {
        Ok((_, e)) => e,
        Err(e) => return e,
    };
    let explicit = if args[4].as_ref() == b"$" {
        None
    } else {
        match strict_id(&args[4]) {
            Ok(id) => Some(id),
            Err(e) => return e,
        }
    };
    let result = with_group(ctx, args, |s| {
        let id = explicit.unwrap_or_else(|| s.last_id());
        let added = s.entries_added();
        if let Some(g) = s.groups.get_mut(&args[3]) {
            g.last_id = id;
            g.entries_read = entries_read.flatten().map(|n| n.min(added));
        }
    });
    match result {
        Ok(()) => {
            ctx.notify('t', "xgroup-setid", &args[2]);
            let db = ctx.client.db;
            crate::persist::record(ctx.keyspace, db, &args[2], |s| hooks::group_position(s, &args[3]).into_iter().collect());
            Reply::ok()
        }
        Err(e) => e,
    }
}

/// `XGROUP DESTROY key group`: deletes the group; replies 1, or 0 if there was none. Clients
/// blocked reading from it are woken with an error.
/// Errors: `ERR The XGROUP subcommand requires the key to exist...`, `WRONGTYPE`.
fn xgroup_destroy(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let removed = match lookup(ctx.keyspace, db, &args[2]) {
        Err(e) => return e,
        Ok(None) => return Reply::error(NEED_KEY),
        Ok(Some(s)) => s.groups.remove(&args[3]).is_some(),
    };
    if removed {
        ctx.keyspace.db(db).touch(&args[2]);
        ctx.keyspace.signal_ready(db, &args[2]);
        ctx.notify('t', "xgroup-destroy", &args[2]);
        crate::persist::record(ctx.keyspace, db, &args[2], |_| vec![Record::GroupDestroyed { group: args[3].clone() }]);
    }
    Reply::from(removed)
}

/// `XGROUP CREATECONSUMER key group consumer`: replies 1 if created, 0 if it existed.
/// Errors: `NOGROUP ...`, `ERR The XGROUP subcommand requires the key to exist...`.
fn xgroup_createconsumer(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms();
    let created = with_group(ctx, args, |s| s.groups.get_mut(&args[3]).is_some_and(|g| g.consumer(&args[4], now).1));
    match created {
        Ok(created) => {
            if created {
                ctx.notify('t', "xgroup-createconsumer", &args[2]);
                let db = ctx.client.db;
                crate::persist::record(ctx.keyspace, db, &args[2], |s| hooks::consumer_seen(s, &args[3], &args[4]).into_iter().collect());
            }
            Reply::from(created)
        }
        Err(e) => e,
    }
}

/// `XGROUP DELCONSUMER key group consumer`: deletes the consumer and its pending entries;
/// replies how many it had pending. Errors: as CREATECONSUMER.
fn xgroup_delconsumer(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let removed = with_group(ctx, args, |s| s.groups.get_mut(&args[3]).and_then(|g| g.remove_consumer(&args[4])));
    match removed {
        Ok(Some(pending)) => {
            ctx.notify('t', "xgroup-delconsumer", &args[2]);
            let db = ctx.client.db;
            crate::persist::record(ctx.keyspace, db, &args[2], |_| vec![Record::ConsumerDeleted { group: args[3].clone(), consumer: args[4].clone() }]);
            Reply::from(pending)
        }
        Ok(None) => Reply::Integer(0),
        Err(e) => e,
    }
}

/// `XGROUP HELP`.
fn xgroup_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let lines = [
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(lines.iter().map(|l| Reply::Simple(Bytes::from_static(l.as_bytes()))).collect())
}

// ---------------------------------------------------------------------------------------
// XACK, XPENDING, XCLAIM, XAUTOCLAIM.
// ---------------------------------------------------------------------------------------

/// `XACK key group id [id ...]`: acknowledges pending entries; replies how many were pending.
/// Errors: invalid IDs (nothing is acknowledged then), `WRONGTYPE`.
fn xack(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let ids = match strict_ids(&args[3..]) {
        Ok(ids) => ids,
        Err(e) => return e,
    };
    let db = ctx.client.db;
    let acked: Vec<StreamId> = match lookup(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => Vec::new(),
        Ok(Some(s)) => match s.groups.get_mut(&args[2]) {
            None => Vec::new(),
            Some(g) => ids.into_iter().filter(|id| g.ack(*id)).collect(),
        },
    };
    let count = acked.len();
    if count > 0 {
        ctx.keyspace.db(db).touch(&args[1]);
        crate::persist::record(ctx.keyspace, db, &args[1], |_| vec![Record::Acked { group: args[2].clone(), ids: acked }]);
    }
    Reply::from(count)
}

/// `XPENDING key group [[IDLE min-idle-time] start end count [consumer]]`: the summary
/// `[count, smallest, largest, [[consumer, count], ...]]`, or the pending entries in the
/// range as `[id, consumer, idle ms, deliveries]`.
/// Errors: `NOGROUP No such key 'k' or consumer group 'g'`, `ERR syntax error`, invalid IDs,
/// `ERR value is not an integer or out of range`, `WRONGTYPE`.
fn xpending(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let extended = args.len() > 3;
    let mut min_idle = None;
    let mut i = 3;
    if extended && args.len() < 6 {
        return errors::syntax();
    }
    if extended && arg::is(&args[3], "idle") {
        if args.len() < 8 {
            return errors::syntax();
        }
        match arg::int(&args[4]) {
            Ok(n) => min_idle = Some(n),
            Err(e) => return e.into(),
        }
        i = 5;
    }
    let mut bounds = None;
    let mut consumer = None;
    if extended {
        let start = match parse_bound(&args[i], true) {
            Ok(id) => id,
            Err(e) => return id_error(e),
        };
        let end = match parse_bound(&args[i + 1], false) {
            Ok(id) => id,
            Err(e) => return id_error(e),
        };
        let count = match arg::int(&args[i + 2]) {
            Ok(n) => usize::try_from(n).unwrap_or(0),
            Err(e) => return e.into(),
        };
        consumer = args.get(i + 3).cloned();
        bounds = Some((start, end, count));
    }
    let db = ctx.client.db;
    let now = ctx.now_ms();
    let stream = match lookup(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(s) => s,
    };
    let Some(group) = stream.and_then(|s| s.groups.get(&args[2])) else { return nogroup(&args[1], &args[2]) };
    let Some((start, end, count)) = bounds else {
        if group.pel.is_empty() {
            return Reply::Array(vec![Reply::Integer(0), Reply::Null, Reply::Null, Reply::NullArray]);
        }
        let first = group.pel.keys().next().copied().unwrap_or_default();
        let last = group.pel.keys().next_back().copied().unwrap_or_default();
        let owners: Vec<Reply> = group
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(name, c)| Reply::Array(vec![Reply::Bulk(name.clone()), Reply::Bulk(Bytes::from(c.pel.len().to_string()))]))
            .collect();
        return Reply::Array(vec![Reply::from(group.pel.len()), id_reply(first), id_reply(last), Reply::Array(owners)]);
    };
    let (Some(start), Some(end)) = (start, end) else { return Reply::Array(Vec::new()) };
    if start > end {
        return Reply::Array(Vec::new());
    }
    let rows = group
        .pel
        .range(start..=end)
        .filter(|(_, p)| consumer.as_ref().is_none_or(|c| *c == p.consumer))
        .filter(|(_, p)| min_idle.is_none_or(|m| i64::try_from(now.saturating_sub(p.delivery_ms)).unwrap_or(i64::MAX) >= m))
        .take(count)
        .map(|(id, p)| {
            Reply::Array(vec![id_reply(*id), Reply::Bulk(p.consumer.clone()), int(now.saturating_sub(p.delivery_ms)), int(p.delivery_count)])
        })
        .collect();
    Reply::Array(rows)
}

/// XCLAIM's options.
struct ClaimArgs {
    ids: Vec<StreamId>,
    delivery_ms: Option<i64>,
    idle: Option<i64>,
    retry_count: Option<u64>,
    force: bool,
    justid: bool,
    last_id: Option<StreamId>,
}

fn parse_claim(args: &[Bytes]) -> Result<ClaimArgs, Reply> {
    let mut parsed = ClaimArgs { ids: Vec::new(), delivery_ms: None, idle: None, retry_count: None, force: false, justid: false, last_id: None };
    let mut i = 5;
    while let Some(a) = args.get(i) {
        match StreamId::parse_strict(a) {
            Ok(id) => parsed.ids.push(id),
            Err(_) => break,
        }
        i += 1;
    }
    while let Some(opt) = args.get(i) {
        let value = args.get(i + 1);
        if arg::is(opt, "force") {
            parsed.force = true;
        } else if arg::is(opt, "justid") {
            parsed.justid = true;
        } else if let (true, Some(v)) = (arg::is(opt, "idle"), value) {
            parsed.idle = Some(arg::int(v).map_err(|_| Reply::error("ERR Invalid IDLE option argument for XCLAIM"))?);
            i += 1;
        } else if let (true, Some(v)) = (arg::is(opt, "time"), value) {
            parsed.delivery_ms = Some(arg::int(v).map_err(|_| Reply::error("ERR Invalid TIME option argument for XCLAIM"))?);
            i += 1;
        } else if let (true, Some(v)) = (arg::is(opt, "retrycount"), value) {
            let n = arg::int(v).map_err(|_| Reply::error("ERR Invalid RETRYCOUNT option argument for XCLAIM"))?;
            parsed.retry_count = Some(n.max(0).unsigned_abs());
            i += 1;
        } else if let (true, Some(v)) = (arg::is(opt, "lastid"), value) {
            parsed.last_id = Some(strict_id(v)?);
            i += 1;
        } else {
            return Err(Reply::error(format!("ERR Unrecognized XCLAIM option '{}'", String::from_utf8_lossy(opt))));
        }
        i += 1;
    }
    Ok(parsed)
}

/// `XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-ms]
/// [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]`: moves pending entries idle at least
/// `min-idle-time` to the consumer and replies them (or their IDs with JUSTID). Pending
/// entries whose stream entry was deleted are dropped from the PEL. FORCE claims IDs not yet
/// pending, if they exist in the stream.
///
/// Errors: `NOGROUP No such key 'k' or consumer group 'g'`,
/// `ERR Invalid min-idle-time argument for XCLAIM`, `ERR Invalid IDLE|TIME|RETRYCOUNT option
/// argument for XCLAIM`, `ERR Unrecognized XCLAIM option '...'`, invalid IDs, `WRONGTYPE`.
fn xclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let now = ctx.now_ms();
    if let Err(e) = require_group(ctx.keyspace, db, &args[1], &args[2]) {
        return e;
    }
    let Ok(min_idle) = arg::int(&args[4]) else { return Reply::error("ERR Invalid min-idle-time argument for XCLAIM") };
    let min_idle = min_idle.max(0).unsigned_abs();
    let claim = match parse_claim(args) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let now_i = i64::try_from(now).unwrap_or(i64::MAX);
    let delivery = match (claim.idle, claim.delivery_ms) {
        (Some(idle), _) => now_i.saturating_sub(idle),
        (None, Some(t)) => t,
        (None, None) => now_i,
    };
    let delivery = if delivery < 0 || delivery > now_i { now } else { delivery.unsigned_abs() };
    let consumer = args[3].clone();
    let Ok(Some(stream)) = lookup(ctx.keyspace, db, &args[1]) else { return nogroup(&args[1], &args[2]) };
    // A failed load must not count as a deleted entry: that would drop it from the PEL.
    let exists: Result<Vec<Option<StreamEntry>>, ColdError> = claim.ids.iter().map(|id| claimed_entry(stream, *id, claim.justid)).collect();
    let exists = match exists {
        Ok(exists) => exists,
        Err(e) => return cold_error(e),
    };
    let Some(group) = stream.groups.get_mut(&args[2]) else { return nogroup(&args[1], &args[2]) };
    if let Some(last) = claim.last_id {
        if last > group.last_id {
            group.last_id = last;
        }
    }
    let created = group.consumer(&consumer, now).1;
    if let Some(c) = group.consumers.get_mut(&consumer) {
        c.seen_ms = now;
    }
    let mut out = Vec::new();
    let mut claimed_ids = Vec::new();
    let mut dropped_ids = Vec::new();
    for (id, entry) in claim.ids.iter().zip(exists) {
        let Some(entry) = entry else {
            if group.ack(*id) {
                dropped_ids.push(*id);
            }
            continue;
        };
        let forced = if claim.force && !group.pel.contains_key(id) {
            group.pel.insert(*id, crate::keyspace::stream::Pending { consumer: Bytes::new(), delivery_ms: now, delivery_count: 1 });
            true
        } else {
            false
        };
        let Some(pending) = group.pel.get(id) else { continue };
        if !forced && min_idle > 0 && now.saturating_sub(pending.delivery_ms) < min_idle {
            continue;
        }
        group.reassign(*id, &consumer);
        if let Some(p) = group.pel.get_mut(id) {
            p.delivery_ms = delivery;
            match claim.retry_count {
                Some(n) => p.delivery_count = n,
                None if !claim.justid => p.delivery_count += 1,
                None => {}
            }
        }
        if let Some(c) = group.consumers.get_mut(&consumer) {
            c.active_ms = Some(now);
        }
        claimed_ids.push(*id);
        out.push(if claim.justid { id_reply(*id) } else { entry_reply(entry) });
    }
    ctx.keyspace.db(db).touch(&args[1]);
    crate::persist::record(ctx.keyspace, db, &args[1], |s| hooks::claimed(s, &args[2], &consumer, claim.justid, &claimed_ids, dropped_ids));
    if created {
        ctx.notify('t', "xgroup-createconsumer", &args[1]);
    }
    Reply::Array(out)
}

/// `XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]`: claims up to
/// `count` (default 100) pending entries idle at least `min-idle-time`, scanning the PEL from
/// `start`; replies `[next cursor, claimed entries, IDs deleted from the stream]` (the deleted
/// ones are dropped from the PEL).
///
/// Errors: `NOGROUP No such key 'k' or consumer group 'g'`,
/// `ERR Invalid min-idle-time argument for XAUTOCLAIM`, `ERR COUNT must be > 0`,
/// `ERR invalid start ID for the interval`, `ERR syntax error`, `WRONGTYPE`.
fn xautoclaim(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let now = ctx.now_ms();
    if let Err(e) = require_group(ctx.keyspace, db, &args[1], &args[2]) {
        return e;
    }
    let Ok(min_idle) = arg::int(&args[4]) else { return Reply::error("ERR Invalid min-idle-time argument for XAUTOCLAIM") };
    let min_idle = min_idle.max(0).unsigned_abs();
    let start = match parse_bound(&args[5], true) {
        Ok(Some(id)) => id,
        Ok(None) => return Reply::error("ERR invalid start ID for the interval"),
        Err(e) => return id_error(e),
    };
    let mut count: u64 = 100;
    let mut justid = false;
    let mut i = 6;
    while let Some(opt) = args.get(i) {
        if arg::is(opt, "count") && i + 1 < args.len() {
            match arg::int(&args[i + 1]) {
                Ok(n) if (1..=i64::MAX / 10).contains(&n) => count = n.unsigned_abs(),
                _ => return Reply::error("ERR COUNT must be > 0"),
            }
            i += 2;
        } else if arg::is(opt, "justid") {
            justid = true;
            i += 1;
        } else {
            return errors::syntax();
        }
    }
    let consumer = args[3].clone();
    let Ok(Some(stream)) = lookup(ctx.keyspace, db, &args[1]) else { return nogroup(&args[1], &args[2]) };
    let mut attempts = count.saturating_mul(10);
    let candidates: Vec<StreamId> = match stream.groups.get(&args[2]) {
        Some(g) => g.pel.range(start..).map(|(id, _)| *id).take(usize::try_from(attempts).unwrap_or(usize::MAX).saturating_add(1)).collect(),
        None => return nogroup(&args[1], &args[2]),
    };
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut claimed_ids = Vec::new();
    let mut dropped_ids = Vec::new();
    let mut next = StreamId::MIN;
    let mut created = false;
    let mut visited: usize = 0;
    for id in &candidates {
        if attempts == 0 || count == 0 {
            break;
        }
        attempts -= 1;
        visited += 1;
        let entry = match claimed_entry(stream, *id, justid) {
            Ok(entry) => entry,
            Err(e) => return cold_error(e),
        };
        let Some(group) = stream.groups.get_mut(&args[2]) else { break };
        let Some(entry) = entry else {
            if group.ack(*id) {
                dropped_ids.push(*id);
            }
            deleted.push(id_reply(*id));
            // Deleted entries count against COUNT too: it bounds the reply's size.
            count -= 1;
            continue;
        };
        let idle = group.pel.get(id).map_or(0, |p| now.saturating_sub(p.delivery_ms));
        if min_idle > 0 && idle < min_idle {
            continue;
        }
        created |= group.consumer(&consumer, now).1;
        group.reassign(*id, &consumer);
        if let Some(p) = group.pel.get_mut(id) {
            p.delivery_ms = now;
            if !justid {
                p.delivery_count += 1;
            }
        }
        if let Some(c) = group.consumers.get_mut(&consumer) {
            c.active_ms = Some(now);
        }
        claimed_ids.push(*id);
        claimed.push(if justid { id_reply(*id) } else { entry_reply(entry) });
        count -= 1;
    }
    if let Some(group) = stream.groups.get_mut(&args[2]) {
        created |= group.consumer(&consumer, now).1;
        if let Some(c) = group.consumers.get_mut(&consumer) {
            c.seen_ms = now;
        }
        let after = candidates.get(visited.saturating_sub(1)).copied();
        if visited > 0 {
            next = after.and_then(|a| a.next()).and_then(|from| group.pel.range(from..).next().map(|(id, _)| *id)).unwrap_or(StreamId::MIN);
        } else if let Some(first) = candidates.first() {
            next = *first;
        }
    }
    ctx.keyspace.db(db).touch(&args[1]);
    crate::persist::record(ctx.keyspace, db, &args[1], |s| hooks::claimed(s, &args[2], &consumer, justid, &claimed_ids, dropped_ids));
    if created {
        ctx.notify('t', "xgroup-createconsumer", &args[1]);
    }
    Reply::Array(vec![id_reply(next), Reply::Array(claimed), Reply::Array(deleted)])
}

// ---------------------------------------------------------------------------------------
// XINFO.
// ---------------------------------------------------------------------------------------

/// The entry a claim returns: with its fields, or only its ID with JUSTID; `None` if deleted.
fn claimed_entry(stream: &Stream, id: StreamId, justid: bool) -> Result<Option<StreamEntry>, ColdError> {
    if justid {
        Ok(stream.try_contains(id)?.then(|| StreamEntry { id, fields: Vec::new() }))
    } else {
        stream.try_get(id)
    }
}

fn entry_or_null(entry: Option<StreamEntry>) -> Reply {
    entry.map_or(Reply::Null, entry_reply)
}

fn opt_int(n: Option<u64>) -> Reply {
    n.map_or(Reply::Null, int)
}

/// `XINFO STREAM key [FULL [COUNT count]]`: the stream's metadata; with FULL, its entries
/// (first `count`, default 10, 0 for all) and every group with its PEL and consumers.
/// Errors: `ERR no such key`, `ERR unknown subcommand or wrong number of arguments for
/// 'stream'. Try XINFO HELP.`, `ERR value is not an integer or out of range`, `WRONGTYPE`.
fn xinfo_stream(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut full = false;
    let mut count: usize = 10;
    match args.len() {
        3 => {}
        4 if arg::is(&args[3], "full") => full = true,
        6 if arg::is(&args[3], "full") && arg::is(&args[4], "count") => {
            full = true;
            match arg::int(&args[5]) {
                Ok(n) => count = if n <= 0 { usize::MAX } else { usize::try_from(n).unwrap_or(usize::MAX) },
                Err(e) => return e.into(),
            }
        }
        _ => return subcommand_syntax(args, "XINFO"),
    }
    let db = ctx.client.db;
    let s = match lookup(ctx.keyspace, db, &args[2]) {
        Err(e) => return e,
        Ok(None) => return errors::no_such_key(),
        Ok(Some(s)) => s,
    };
    let mut map = vec![
        (bulk_str("length"), int(s.len())),
        (bulk_str("radix-tree-keys"), Reply::from(s.block_count())),
        (bulk_str("radix-tree-nodes"), Reply::from(s.block_count() + 1)),
        (bulk_str("last-generated-id"), id_reply(s.last_id())),
        (bulk_str("max-deleted-entry-id"), id_reply(s.max_deleted_id())),
        (bulk_str("entries-added"), int(s.entries_added())),
        (bulk_str("recorded-first-entry-id"), id_reply(s.first_id())),
    ];
    if !full {
        map.push((bulk_str("groups"), Reply::from(s.groups.len())));
        map.push((bulk_str("first-entry"), entry_or_null(s.first_entry())));
        map.push((bulk_str("last-entry"), entry_or_null(s.last_entry())));
        return Reply::Map(map);
    }
    let limit = (count != usize::MAX).then_some(count);
    match s.try_range(StreamId::MIN, StreamId::MAX, limit, false) {
        Ok(entries) => map.push((bulk_str("entries"), entries_reply(entries))),
        Err(e) => return cold_error(e),
    }
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| {
            let pel: Vec<Reply> = g
                .pel
                .iter()
                .take(count)
                .map(|(id, p)| Reply::Array(vec![id_reply(*id), Reply::Bulk(p.consumer.clone()), int(p.delivery_ms), int(p.delivery_count)]))
                .collect();
            let consumers: Vec<Reply> = g
                .consumers
                .iter()
                .map(|(cname, c)| {
                    let pending: Vec<Reply> = c
                        .pel
                        .iter()
                        .take(count)
                        .filter_map(|id| g.pel.get(id).map(|p| Reply::Array(vec![id_reply(*id), int(p.delivery_ms), int(p.delivery_count)])))
                        .collect();
                    Reply::Map(vec![
                        (bulk_str("name"), Reply::Bulk(cname.clone())),
                        (bulk_str("seen-time"), int(c.seen_ms)),
                        (bulk_str("active-time"), c.active_ms.map_or(Reply::Integer(-1), int)),
                        (bulk_str("pel-count"), Reply::from(c.pel.len())),
                        (bulk_str("pending"), Reply::Array(pending)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                (bulk_str("name"), Reply::Bulk(name.clone())),
                (bulk_str("last-delivered-id"), id_reply(g.last_id)),
                (bulk_str("entries-read"), opt_int(g.entries_read)),
                (bulk_str("lag"), s.group_lag(g).map_or(Reply::Null, Reply::Integer)),
                (bulk_str("pel-count"), Reply::from(g.pel.len())),
                (bulk_str("pending"), Reply::Array(pel)),
                (bulk_str("consumers"), Reply::Array(consumers)),
            ])
        })
        .collect();
    map.push((bulk_str("groups"), Reply::Array(groups)));
    Reply::Map(map)
}

/// `XINFO GROUPS key`: each group's name, consumers, pending count, last delivered ID,
/// entries-read and lag. Errors: `ERR no such key`, `WRONGTYPE`.
fn xinfo_groups(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let s = match lookup(ctx.keyspace, db, &args[2]) {
        Err(e) => return e,
        Ok(None) => return errors::no_such_key(),
        Ok(Some(s)) => s,
    };
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| {
            Reply::Map(vec![
                (bulk_str("name"), Reply::Bulk(name.clone())),
                (bulk_str("consumers"), Reply::from(g.consumers.len())),
                (bulk_str("pending"), Reply::from(g.pel.len())),
                (bulk_str("last-delivered-id"), id_reply(g.last_id)),
                (bulk_str("entries-read"), opt_int(g.entries_read)),
                (bulk_str("lag"), s.group_lag(g).map_or(Reply::Null, Reply::Integer)),
            ])
        })
        .collect();
    Reply::Array(groups)
}

/// `XINFO CONSUMERS key group`: each consumer's name, pending count, idle (ms since last
/// seen) and inactive (ms since last read or claim, -1 if never).
/// Errors: `ERR no such key`, `NOGROUP No such consumer group 'g' for key name 'k'`,
/// `WRONGTYPE`.
fn xinfo_consumers(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let db = ctx.client.db;
    let now = ctx.now_ms();
    let s = match lookup(ctx.keyspace, db, &args[2]) {
        Err(e) => return e,
        Ok(None) => return errors::no_such_key(),
        Ok(Some(s)) => s,
    };
    let Some(g) = s.groups.get(&args[3]) else { return nogroup_for_key(&args[2], &args[3]) };
    let consumers = g
        .consumers
        .iter()
        .map(|(name, c)| {
            Reply::Map(vec![
                (bulk_str("name"), Reply::Bulk(name.clone())),
                (bulk_str("pending"), Reply::from(c.pel.len())),
                (bulk_str("idle"), int(now.saturating_sub(c.seen_ms))),
                (bulk_str("inactive"), c.active_ms.map_or(Reply::Integer(-1), |a| int(now.saturating_sub(a)))),
            ])
        })
        .collect();
    Reply::Array(consumers)
}

/// `XINFO HELP`.
fn xinfo_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let lines = [
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(lines.iter().map(|l| Reply::Simple(Bytes::from_static(l.as_bytes()))).collect())
}

static XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xgroup|create", -5, &["write", "denyoom"], (2, 2, 1), "stream", "Creates a consumer group.", xgroup_create).since("5.0.0"),
    CommandSpec::new("xgroup|setid", -5, &["write"], (2, 2, 1), "stream", "Sets the last-delivered ID of a consumer group.", xgroup_setid).since("5.0.0"),
    CommandSpec::new("xgroup|destroy", 4, &["write"], (2, 2, 1), "stream", "Destroys a consumer group.", xgroup_destroy).since("5.0.0"),
    CommandSpec::new("xgroup|createconsumer", 5, &["write", "denyoom"], (2, 2, 1), "stream", "Creates a consumer in a consumer group.", xgroup_createconsumer).since("6.2.0"),
    CommandSpec::new("xgroup|delconsumer", 5, &["write"], (2, 2, 1), "stream", "Deletes a consumer from a consumer group.", xgroup_delconsumer).since("5.0.0"),
    CommandSpec::new("xgroup|help", 2, &["loading", "stale"], (0, 0, 0), "stream", "Returns helpful text about the different subcommands.", xgroup_help).since("5.0.0"),
];

static XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xinfo|stream", -3, &["readonly"], (2, 2, 1), "stream", "Returns information about a stream.", xinfo_stream).since("5.0.0"),
    CommandSpec::new("xinfo|groups", 3, &["readonly"], (2, 2, 1), "stream", "Returns a list of the consumer groups of a stream.", xinfo_groups).since("5.0.0"),
    CommandSpec::new("xinfo|consumers", 4, &["readonly"], (2, 2, 1), "stream", "Returns a list of the consumers in a consumer group.", xinfo_consumers).since("5.0.0"),
    CommandSpec::new("xinfo|help", 2, &["loading", "stale"], (0, 0, 0), "stream", "Returns helpful text about the different subcommands.", xinfo_help).since("5.0.0"),
];

/// The stream commands. XADD must stay first (its arity error is built from this row).
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, &["write", "denyoom", "fast"], (1, 1, 1), "stream", "Appends a new message to a stream. Creates the key if it doesn't exist.", xadd).since("5.0.0"),
    CommandSpec::new("xtrim", -4, &["write"], (1, 1, 1), "stream", "Deletes messages from the beginning of a stream.", xtrim).since("5.0.0"),
    CommandSpec::new("xlen", 2, &["readonly", "fast"], (1, 1, 1), "stream", "Return the number of messages in a stream.", xlen).since("5.0.0"),
    CommandSpec::new("xrange", -4, &["readonly"], (1, 1, 1), "stream", "Returns the messages from a stream within a range of IDs.", xrange).since("5.0.0"),
    CommandSpec::new("xrevrange", -4, &["readonly"], (1, 1, 1), "stream", "Returns the messages from a stream within a range of IDs in reverse order.", xrevrange).since("5.0.0"),
    CommandSpec::new("xdel", -3, &["write", "fast"], (1, 1, 1), "stream", "Returns the number of messages after removing them from a stream.", xdel).since("5.0.0"),
    CommandSpec::new("xsetid", -3, &["write", "denyoom", "fast"], (1, 1, 1), "stream", "An internal command for replicating stream values.", xsetid).since("5.0.0"),
    CommandSpec::new("xread", -4, &["readonly", "blocking", "movablekeys"], (0, 0, 0), "stream", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", xread).since("5.0.0"),
    CommandSpec::new("xreadgroup", -7, &["write", "blocking", "movablekeys"], (0, 0, 0), "stream", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", xreadgroup).since("5.0.0"),
    CommandSpec::new("xack", -4, &["write", "fast"], (1, 1, 1), "stream", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", xack).since("5.0.0"),
    CommandSpec::new("xpending", -3, &["readonly"], (1, 1, 1), "stream", "Returns the information and entries from a stream consumer group's pending entries list.", xpending).since("5.0.0"),
    CommandSpec::new("xclaim", -6, &["write", "fast"], (1, 1, 1), "stream", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", xclaim).since("5.0.0"),
    CommandSpec::new("xautoclaim", -6, &["write", "fast"], (1, 1, 1), "stream", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", xautoclaim).since("6.2.0"),
    CommandSpec::container("xgroup", -2, "stream", "A container for consumer groups commands.", XGROUP_SUBCOMMANDS).since("5.0.0"),
    CommandSpec::container("xinfo", -2, "stream", "A container for stream introspection commands.", XINFO_SUBCOMMANDS).since("5.0.0"),
];
