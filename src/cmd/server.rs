//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, SHUTDOWN, ...
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{CommandSpec, Ctx};
use crate::resp::Reply;
use bytes::Bytes;

/// `DBSIZE`: the number of keys in the selected database.
fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::from(ctx.db().len())
}

/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`: stops the server; no reply on success.
fn shutdown(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    ctx.client.shutdown_requested = true;
    ctx.client.reply_off = true;
    Reply::ok()
}

/// The server commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dbsize", 1, &["readonly", "fast"], (0, 0, 0), "server", "Returns the number of keys in the database.", dbsize),
    CommandSpec::new("shutdown", -1, &["admin", "noscript", "loading", "stale", "no_multi", "sentinel", "allow_busy"], (0, 0, 0), "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.", shutdown),
];
