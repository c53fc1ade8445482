//! SORT and SORT_RO over lists, sets and sorted sets, with Redis 7.4's options and errors.
//!
//! Patterns (`BY weight_*`, `GET obj_*->field`, `GET #`) are resolved as Redis's
//! `lookupKeyByPattern` does: the first `*` is replaced by the element, a `->field` suffix
//! reads a hash field, `#` is the element itself, and anything missing or of another type is
//! null. A `BY` pattern without `*` skips sorting.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{args, errors, CommandSpec, Ctx};
use crate::keyspace::list::{End, List};
use crate::keyspace::{Keyspace, Value};
use crate::resp::{parse_i64, Reply};
use bytes::Bytes;
use std::cmp::Ordering;

/// Resolves `pattern` for `element` as Redis's `lookupKeyByPattern` does.
fn lookup_pattern(keyspace: &mut Keyspace, db: usize, pattern: &[u8], element: &[u8]) -> Option<Bytes> {
    if pattern == b"#" {
        return Some(Bytes::copy_from_slice(element));
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let after = pattern.get(star + 1..).unwrap_or_default();
    let arrow = after.windows(2).position(|w| w == b"->").filter(|&at| after.len() > at + 2);
    let (key_tail, field) = match arrow {
        Some(at) => (after.get(..at).unwrap_or_default(), after.get(at + 2..)),
        None => (after, None),
    };
    let mut key = pattern.get(..star).unwrap_or_default().to_vec();
    key.extend_from_slice(element);
    key.extend_from_slice(key_tail);
    let now = keyspace.now_ms();
    match (keyspace.db(db).get_value(&key, now), field) {
        (Some(Value::String(s)), None) => Some(s.to_bytes()),
        (Some(Value::Hash(h)), Some(field)) => h.get(field),
        _ => None,
    }
}

/// The elements of the value under `key`, in its natural order. WRONGTYPE for other types.
fn elements(keyspace: &mut Keyspace, db: usize, key: &[u8]) -> Result<Option<(Vec<Bytes>, &'static str)>, Reply> {
    let now = keyspace.now_ms();
    Ok(match keyspace.db(db).get_value(key, now) {
        None => None,
        Some(Value::List(l)) => Some((l.iter().map(Bytes::copy_from_slice).collect(), "list")),
        Some(Value::Set(s)) => Some((s.members(), "set")),
        Some(Value::ZSet(z)) => Some((z.iter().map(|(m, _)| Bytes::copy_from_slice(m)).collect(), "zset")),
        Some(_) => return Err(errors::wrong_type()),
    })
}

fn sort_generic(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> Reply {
    let mut desc = false;
    let mut alpha = false;
    let mut limit: Option<(i64, i64)> = None;
    let mut store: Option<Bytes> = None;
    let mut by: Option<Bytes> = None;
    let mut dont_sort = false;
    let mut gets: Vec<Bytes> = Vec::new();
    let mut j = 2;
    while let Some(arg) = args.get(j) {
        let left = args.len() - j - 1;
        if args::is(arg, "asc") {
            desc = false;
        } else if args::is(arg, "desc") {
            desc = true;
        } else if args::is(arg, "alpha") {
            alpha = true;
        } else if args::is(arg, "limit") && left >= 2 {
            match (parse_i64(&args[j + 1]), parse_i64(&args[j + 2])) {
                (Some(offset), Some(count)) => limit = Some((offset, count)),
                _ => return errors::not_integer(),
            }
            j += 2;
        } else if args::is(arg, "store") && left >= 1 && !read_only {
            store = Some(args[j + 1].clone());
            j += 1;
        } else if args::is(arg, "by") && left >= 1 {
            let pattern = args[j + 1].clone();
            dont_sort = !pattern.contains(&b'*');
            by = Some(pattern);
            j += 1;
        } else if args::is(arg, "get") && left >= 1 {
            gets.push(args[j + 1].clone());
            j += 1;
        } else {
            return errors::syntax();
        }
        j += 1;
    }
    let db = ctx.client.db;
    let (mut items, kind) = match elements(ctx.keyspace, db, &args[1]) {
        Err(e) => return e,
        Ok(None) => (Vec::new(), "none"),
        Ok(Some(found)) => found,
    };
    // A set has no order of its own: sort it when nothing else would, as Redis does for STORE.
    if dont_sort && kind == "set" && store.is_some() {
        dont_sort = false;
        alpha = true;
        by = None;
    }
    if !dont_sort {
        let mut keyed: Vec<(Bytes, Option<Bytes>, f64)> = Vec::with_capacity(items.len());
        for item in items {
            let weight = match &by {
                Some(pattern) => lookup_pattern(ctx.keyspace, db, pattern, &item),
                None => Some(item.clone()),
            };
            let mut score = 0.0;
            if !alpha {
                if let Some(w) = &weight {
                    match args::float(w) {
                        Ok(value) => score = value,
                        Err(_) => return Reply::error("ERR One or more scores can't be converted into double"),
                    }
                }
            }
            keyed.push((item, weight, score));
        }
        keyed.sort_by(|a, b| {
            let order = if alpha {
                match (&a.1, &b.1) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                }
            } else {
                a.2.partial_cmp(&b.2).unwrap_or(Ordering::Equal).then_with(|| a.0.cmp(&b.0))
            };
            if desc {
                order.reverse()
            } else {
                order
            }
        });
        items = keyed.into_iter().map(|(item, _, _)| item).collect();
    } else if desc && kind != "set" {
        items.reverse();
    }
    // LIMIT, as Redis clamps it.
    let len = items.len();
    if let Some((offset, count)) = limit {
        let start = usize::try_from(offset.max(0)).unwrap_or(usize::MAX);
        let taken = if count < 0 { usize::MAX } else { usize::try_from(count).unwrap_or(usize::MAX) };
        items = if start >= len { Vec::new() } else { items.into_iter().skip(start).take(taken).collect() };
    }
    let rows: Vec<Option<Bytes>> = if gets.is_empty() {
        items.into_iter().map(Some).collect()
    } else {
        let mut rows = Vec::with_capacity(items.len() * gets.len());
        for item in &items {
            for pattern in &gets {
                rows.push(lookup_pattern(ctx.keyspace, db, pattern, item));
            }
        }
        rows
    };
    let Some(destination) = store else {
        return Reply::Array(rows.into_iter().map(Reply::bulk_or_null).collect());
    };
    let count = rows.len();
    let now = ctx.now_ms();
    if count == 0 {
        if ctx.db().get_value(&destination, now).is_some() {
            ctx.db().remove(&destination);
            ctx.notify('g', "del", &destination);
        }
        return Reply::Integer(0);
    }
    let mut list = List::new();
    for row in rows {
        list.push(End::Right, row.as_deref().unwrap_or_default());
    }
    ctx.db().insert(&destination, Value::List(Box::new(list)), None, now);
    ctx.keyspace.signal_ready(db, &destination);
    ctx.notify('g', "sortstore", &destination);
    Reply::from(count)
}

/// `SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC | DESC] [ALPHA]
/// [STORE destination]`: the elements of a list, set or sorted set, sorted numerically (or
/// with ALPHA as strings), by themselves or by the keys `BY` names; with STORE, saved as a
/// list and the count replied.
/// Errors: `ERR syntax error`, `ERR value is not an integer or out of range`,
/// `ERR One or more scores can't be converted into double`, `WRONGTYPE`.
fn sort(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    sort_generic(ctx, args, false)
}

/// `SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC | DESC] [ALPHA]`:
/// SORT without STORE. Errors: as SORT (STORE is a syntax error).
fn sort_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    sort_generic(ctx, args, true)
}

/// The SORT commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, &["write", "denyoom", "movablekeys"], (1, 1, 1), "generic", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.", sort),
    CommandSpec::new("sort_ro", -2, &["readonly", "movablekeys"], (1, 1, 1), "generic", "Returns the sorted elements of a list, a set, or a sorted set.", sort_ro).since("7.0.0"),
];
