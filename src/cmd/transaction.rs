//! MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Queued commands run in EXEC under the keyspace lock the connection already holds, so a
//! transaction is atomic with respect to every other client. WATCH registers a flag on each key
//! that writers raise ([`crate::keyspace::Db::touch`]); EXEC of a transaction with a raised flag
//! replies with a null array and runs nothing.

use super::{dispatch, CommandSpec, Ctx};
use crate::client::Multi;
use crate::resp::Reply;
use bytes::Bytes;

/// Whether `spec` runs at once even inside MULTI (everything else is queued).
pub fn runs_immediately_in_multi(spec: &CommandSpec) -> bool {
    matches!(spec.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// Queues a request inside MULTI.
pub fn queue(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if let Some(multi) = ctx.client.multi.as_mut() {
        multi.queued.push(args.to_vec());
    }
    Reply::simple("QUEUED")
}

/// `MULTI`: starts a transaction.
/// Errors: `ERR MULTI calls can not be nested`.
fn multi(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    if ctx.client.multi.is_some() {
        return Reply::error("ERR MULTI calls can not be nested");
    }
    ctx.client.multi = Some(Multi::default());
    Reply::ok()
}

/// `EXEC`: runs the queued commands atomically.
/// Replies an array of their replies; a null array if a WATCHed key changed.
/// Errors: `ERR EXEC without MULTI`, `EXECABORT Transaction discarded because of previous errors.`
fn exec(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let Some(multi) = ctx.client.multi.take() else {
        return Reply::error("ERR EXEC without MULTI");
    };
    let dirty = ctx.client.watch.is_dirty();
    ctx.client.watch.clear(ctx.keyspace);
    if multi.aborted {
        return Reply::error("EXECABORT Transaction discarded because of previous errors.");
    }
    if dirty {
        return Reply::NullArray;
    }
    let mut replies = Vec::with_capacity(multi.queued.len());
    for args in &multi.queued {
        replies.push(dispatch(ctx, args));
    }
    Reply::Array(replies)
}

/// `DISCARD`: drops the queued commands.
/// Errors: `ERR DISCARD without MULTI`.
fn discard(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    if ctx.client.multi.take().is_none() {
        return Reply::error("ERR DISCARD without MULTI");
    }
    ctx.client.watch.clear(ctx.keyspace);
    Reply::ok()
}

/// `WATCH key [key ...]`: EXEC will fail if any of the keys changes first.
/// Errors: `ERR WATCH inside MULTI is not allowed`.
fn watch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if ctx.client.multi.is_some() {
        return Reply::error("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.client.db;
    for key in args.iter().skip(1) {
        if ctx.client.watch.keys.iter().any(|(d, k)| *d == db && k == key) {
            continue;
        }
        let flag = ctx.client.watch.dirty.clone();
        ctx.keyspace.db(db).watch(key, &flag);
        ctx.client.watch.keys.push((db, key.clone()));
    }
    Reply::ok()
}

/// `UNWATCH`: forgets every WATCHed key.
fn unwatch(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    ctx.client.watch.clear(ctx.keyspace);
    Reply::ok()
}

/// The transaction commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), "transactions", "Starts a transaction.", multi),
    CommandSpec::new("exec", 1, &["noscript", "loading", "stale", "skip_slowlog"], (0, 0, 0), "transactions", "Executes all commands in a transaction.", exec),
    CommandSpec::new("discard", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), "transactions", "Discards a transaction.", discard),
    CommandSpec::new("watch", -2, &["noscript", "loading", "stale", "fast", "allow_busy"], (1, -1, 1), "transactions", "Monitors changes to keys to determine the execution of a transaction.", watch).since("2.2.0"),
    CommandSpec::new("unwatch", 1, &["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0), "transactions", "Forgets about watched keys of a transaction.", unwatch).since("2.2.0"),
];
