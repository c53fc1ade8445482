//! Connection commands: PING, ECHO, QUIT, SELECT, ...
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{args, CommandSpec, Ctx};
use crate::resp::Reply;
use bytes::Bytes;

/// `PING [message]`: `+PONG`, or the message as a bulk string.
fn ping(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args.len() {
        1 => Reply::simple("PONG"),
        2 => Reply::Bulk(args[1].clone()),
        _ => Reply::error("ERR wrong number of arguments for 'ping' command"),
    }
}

/// `ECHO message`: the message.
fn echo(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    Reply::Bulk(args[1].clone())
}

/// `QUIT`: `+OK`, then the connection closes.
fn quit(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    ctx.client.close_after_reply = true;
    Reply::ok()
}

/// `SELECT index`: switches database.
/// Errors: `ERR value is not an integer or out of range`, `ERR DB index is out of range`.
fn select(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let index = match args::int(&args[1]) {
        Ok(index) => index,
        Err(e) => return e.into(),
    };
    match usize::try_from(index) {
        Ok(index) if index < ctx.keyspace.db_count() => {
            ctx.client.db = index;
            Reply::ok()
        }
        _ => Reply::error("ERR DB index is out of range"),
    }
}

/// The connection commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, &["fast", "sentinel"], (0, 0, 0), "connection", "Returns the server's liveliness response.", ping),
    CommandSpec::new("echo", 2, &["fast"], (0, 0, 0), "connection", "Returns the given string.", echo),
    CommandSpec::new("quit", -1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), "connection", "Closes the connection.", quit),
    CommandSpec::new("select", 2, &["loading", "stale", "fast"], (0, 0, 0), "connection", "Changes the selected database.", select).since("1.0.0"),
];
