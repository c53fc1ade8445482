//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, MEMORY, TIME, SHUTDOWN.
//!
//! Herald keeps no RDB snapshot, so SAVE, BGSAVE and LASTSAVE are not commands here: they
//! answer "unknown command", as Redis does for any command it does not have.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{args, errors, CommandSpec, Ctx};
use crate::resp::Reply;
use bytes::Bytes;

/// `DBSIZE`: the number of keys in the selected database.
fn dbsize(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::from(ctx.db().len())
}

/// Checks FLUSHDB/FLUSHALL's optional `ASYNC | SYNC` (both flush at once here).
fn flush_mode_ok(args: &[Bytes]) -> bool {
    match args.len() {
        1 => true,
        2 => args::is(&args[1], "ASYNC") || args::is(&args[1], "SYNC"),
        _ => false,
    }
}

/// `FLUSHDB [ASYNC | SYNC]`: removes every key of the selected database.
/// Errors: `ERR syntax error`.
fn flushdb(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return errors::syntax();
    }
    ctx.db().flush();
    Reply::ok()
}

/// `FLUSHALL [ASYNC | SYNC]`: removes every key of every database.
/// Errors: `ERR syntax error`.
fn flushall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !flush_mode_ok(args) {
        return errors::syntax();
    }
    for (_, db) in ctx.keyspace.dbs_mut() {
        db.flush();
    }
    Reply::ok()
}

/// `TIME`: the server's clock as two bulk strings, Unix seconds and microseconds.
fn time(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(now.as_secs().to_string())),
        Reply::Bulk(Bytes::from(now.subsec_micros().to_string())),
    ])
}

/// `SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]`: stops the server. On success nothing is
/// replied: the connection closes and the server stops accepting and closes every client.
/// Herald has nothing to save, so the options only matter for their validation.
///
/// Errors: `ERR syntax error` (an unknown option, SAVE with NOSAVE, ABORT with any other
/// option), `ERR No shutdown in progress.` (ABORT: a shutdown here is never in progress by
/// the time another command could run).
fn shutdown(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (mut save, mut nosave, mut other, mut abort) = (false, false, false, false);
    for arg in &args[1..] {
        if args::is(arg, "NOSAVE") {
            nosave = true;
        } else if args::is(arg, "SAVE") {
            save = true;
        } else if args::is(arg, "NOW") || args::is(arg, "FORCE") {
            other = true;
        } else if args::is(arg, "ABORT") {
            abort = true;
        } else {
            return errors::syntax();
        }
    }
    if (save && nosave) || (abort && (save || nosave || other)) {
        return errors::syntax();
    }
    if abort {
        return Reply::error("ERR No shutdown in progress.");
    }
    ctx.client.shutdown_requested = true;
    ctx.client.reply_off = true;
    Reply::ok()
}

// ---------------------------------------------------------------------------------------------
// MEMORY

/// `MEMORY USAGE key [SAMPLES count]`: the bytes the key and its value take, estimated as
/// `keyspace::memory` documents (every member is counted; SAMPLES is accepted and ignored),
/// or null if no such key.
/// Errors: `ERR syntax error`, `ERR value is not an integer or out of range`.
fn memory_usage(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut j = 3;
    while let Some(option) = args.get(j) {
        match args.get(j + 1) {
            Some(count) if args::is(option, "SAMPLES") => match args::int(count) {
                Ok(n) if n < 0 => return errors::syntax(),
                Ok(_) => j += 2,
                Err(e) => return Reply::from(e),
            },
            _ => return errors::syntax(),
        }
    }
    let now = ctx.now_ms();
    let key = &args[2];
    match ctx.db().peek(key, now) {
        Some(entry) => Reply::from(crate::keyspace::memory::usage(key, &entry.value)),
        None => Reply::Null,
    }
}

/// `MEMORY DOCTOR`: Redis's all-clear report (Herald keeps no allocator statistics).
fn memory_doctor(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::bulk("Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.")
}

/// `MEMORY MALLOC-STATS`: what Redis answers for an allocator without statistics.
fn memory_malloc_stats(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::bulk("Stats not supported for the current allocator")
}

/// `MEMORY PURGE`: nothing to purge with the system allocator; `OK`.
fn memory_purge(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::ok()
}

/// `MEMORY HELP`: the subcommands, one simple string per line.
fn memory_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    const LINES: &[&str] = &[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ];
    Reply::Array(LINES.iter().map(|&line| Reply::simple(line)).collect())
}

static MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("memory|doctor", 2, &[], (0, 0, 0), "server", "Outputs a memory problems report.", memory_doctor).since("4.0.0"),
    CommandSpec::new("memory|help", 2, &["loading", "stale"], (0, 0, 0), "server", "Returns helpful text about the different subcommands.", memory_help).since("4.0.0"),
    CommandSpec::new("memory|malloc-stats", 2, &[], (0, 0, 0), "server", "Returns the allocator statistics.", memory_malloc_stats).since("4.0.0"),
    CommandSpec::new("memory|purge", 2, &[], (0, 0, 0), "server", "Asks the allocator to release memory.", memory_purge).since("4.0.0"),
    CommandSpec::new("memory|usage", -3, &["readonly"], (2, 2, 1), "server", "Estimates the memory usage of a key.", memory_usage).since("4.0.0"),
];

/// The server commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dbsize", 1, &["readonly", "fast"], (0, 0, 0), "server", "Returns the number of keys in the database.", dbsize),
    CommandSpec::new("flushdb", -1, &["write"], (0, 0, 0), "server", "Removes all keys from the current database.", flushdb),
    CommandSpec::new("flushall", -1, &["write"], (0, 0, 0), "server", "Removes all keys from all databases.", flushall),
    CommandSpec::container("memory", -2, "server", "A container for memory diagnostics commands.", MEMORY_SUBCOMMANDS).since("4.0.0"),
    CommandSpec::new("time", 1, &["loading", "stale", "fast"], (0, 0, 0), "server", "Returns the server time.", time).since("2.6.0"),
    CommandSpec::new(
        "shutdown",
        -1,
        &["admin", "noscript", "loading", "stale", "no_multi", "sentinel", "allow_busy"],
        (0, 0, 0),
        "server",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        shutdown,
    ),
];
