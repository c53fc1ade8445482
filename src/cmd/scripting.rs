//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD / EXISTS / FLUSH / KILL / HELP.
//!
//! Scripts run inside the handler, with the keyspace lock the connection holds, so they are
//! atomic like MULTI/EXEC; keyspace events and blocked clients are served after the script,
//! as after EXEC. The interpreter and the cache live in [`crate::scripting`].
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{CommandSpec, Ctx};
use crate::resp::Reply;
use crate::scripting::busy::Kind;
use crate::scripting::engine::RunOptions;
use bytes::Bytes;

/// What an EVAL-family command names its script by.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Body,
    Sha,
}

/// Splits `numkeys key... arg...` (from `args[2]` on). Errors as Redis words them.
fn split_keys(args: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), Reply> {
    let rest = &args[3..];
    let numkeys = crate::resp::parse_i64(&args[2]).ok_or_else(super::errors::not_integer)?;
    if numkeys < 0 {
        return Err(Reply::error("ERR Number of keys can't be negative"));
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > rest.len() {
        return Err(Reply::error("ERR Number of keys can't be greater than number of args"));
    }
    Ok(rest.split_at(numkeys))
}

fn eval_generic(ctx: &mut Ctx<'_>, args: &[Bytes], source: Source, read_only: bool) -> Reply {
    let (keys, argv) = match split_keys(args) {
        Ok(split) => split,
        Err(reply) => return reply,
    };
    let shared = ctx.shared;
    let mut engine = shared.scripting.engine.lock();
    let script = match source {
        Source::Body => match engine.load_key(&args[1], true) {
            Ok(key) => engine.get(&key),
            Err(reply) => return reply,
        },
        Source::Sha => engine.get(&args[1]),
    };
    let engine = &*engine;
    let Some(script) = script else {
        return Reply::error("NOSCRIPT No matching script. Please use EVAL.");
    };
    engine.touch(script);
    if read_only && script.flags.shebang && !script.flags.no_writes {
        return Reply::error("ERR Can not execute a script with write flag using *_ro command.");
    }
    let Some(interpreter) = engine.interpreter.as_ref() else {
        return Reply::error("ERR Lua interpreter unavailable");
    };
    let options = RunOptions { kind: Kind::Eval, read_only, flags: script.flags };
    interpreter.run(ctx, &script.function, script.sha(), keys, argv, options)
}

/// `EVAL script numkeys [key ...] [arg ...]`: runs a Lua script (cached by its SHA1).
/// Errors: `ERR value is not an integer or out of range`, `ERR Number of keys can't be
/// negative`, `ERR Number of keys can't be greater than number of args`, shebang errors,
/// `ERR Error compiling script (new function): ...`, and the script's own errors
/// (`... script: <sha>, on @user_script:<line>.`).
fn eval(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    eval_generic(ctx, args, Source::Body, false)
}

/// `EVALSHA sha1 numkeys [key ...] [arg ...]`: runs a cached script.
/// Errors: as EVAL, and `NOSCRIPT No matching script. Please use EVAL.`
fn evalsha(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    eval_generic(ctx, args, Source::Sha, false)
}

/// `EVAL_RO script numkeys [key ...] [arg ...]`: EVAL that refuses write commands
/// (`ERR Write commands are not allowed from read-only scripts.`, or before running
/// `ERR Can not execute a script with write flag using *_ro command.`).
fn eval_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    eval_generic(ctx, args, Source::Body, true)
}

/// `EVALSHA_RO sha1 numkeys [key ...] [arg ...]`: EVALSHA that refuses write commands.
fn evalsha_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    eval_generic(ctx, args, Source::Sha, true)
}

/// `SCRIPT LOAD script`: compiles and caches a script; replies its SHA1.
/// Errors: shebang and compile errors, as EVAL.
fn script_load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match ctx.shared.scripting.engine.lock().load(&args[2]) {
        Ok(sha) => Reply::Bulk(Bytes::from(sha)),
        Err(reply) => reply,
    }
}

/// `SCRIPT EXISTS sha1 [sha1 ...]`: 1 or 0 for each SHA1.
fn script_exists(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let engine = ctx.shared.scripting.engine.lock();
    Reply::Array(args[2..].iter().map(|sha| Reply::Integer(i64::from(engine.contains(sha)))).collect())
}

/// `SCRIPT FLUSH [ASYNC|SYNC]`: empties the cache and restarts the interpreter.
/// Errors: `ERR SCRIPT FLUSH only support SYNC|ASYNC option`.
fn script_flush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args.get(2) {
        None => {}
        Some(mode) if args.len() == 3 && (super::args::is(mode, "sync") || super::args::is(mode, "async")) => {}
        Some(_) => return Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
    }
    ctx.shared.scripting.engine.lock().reset();
    Reply::ok()
}

/// `SCRIPT KILL`: stops the running script if it has not written. Run with the keyspace lock,
/// no script is running, so this answers `NOTBUSY`; while a script runs the connection answers
/// it without the lock (see [`crate::scripting::busy::busy_reply`]).
/// Errors: `NOTBUSY No scripts in execution right now.`, `UNKILLABLE ...`.
fn script_kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    ctx.shared.scripting.busy.request_kill(Kind::Eval)
}

/// `SCRIPT HELP`.
fn script_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    super::config::help_reply(
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    )
}

const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("script|load", 3, &["noscript", "stale"], (0, 0, 0), "scripting", "Loads a server-side Lua script to the script cache.", script_load).since("2.6.0"),
    CommandSpec::new("script|exists", -3, &["noscript"], (0, 0, 0), "scripting", "Determines whether server-side Lua scripts exist in the script cache.", script_exists).since("2.6.0"),
    CommandSpec::new("script|flush", -2, &["noscript"], (0, 0, 0), "scripting", "Removes all server-side Lua scripts from the script cache.", script_flush).since("2.6.0"),
    CommandSpec::new("script|kill", 2, &["noscript", "allow_busy"], (0, 0, 0), "scripting", "Terminates a server-side Lua script during execution.", script_kill).since("2.6.0"),
    CommandSpec::new("script|help", 2, &["loading", "stale"], (0, 0, 0), "scripting", "Returns helpful text about the different subcommands.", script_help).since("5.0.0"),
];

/// The scripting commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, &["noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "Executes a server-side Lua script.", eval).since("2.6.0"),
    CommandSpec::new("evalsha", -3, &["noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "Executes a server-side Lua script by SHA1 digest.", evalsha).since("2.6.0"),
    CommandSpec::new("eval_ro", -3, &["readonly", "noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "Executes a read-only server-side Lua script.", eval_ro).since("7.0.0"),
    CommandSpec::new("evalsha_ro", -3, &["readonly", "noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "Executes a read-only server-side Lua script by SHA1 digest.", evalsha_ro).since("7.0.0"),
    CommandSpec::container("script", -2, "scripting", "A container for Lua scripts management commands.", SCRIPT_SUBCOMMANDS).since("2.6.0"),
];
