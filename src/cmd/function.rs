//! FCALL, FCALL_RO and FUNCTION LOAD / LIST / DELETE / FLUSH / DUMP / RESTORE / STATS / KILL /
//! HELP: Redis Functions.
//!
//! Functions run inside the handler with the keyspace lock the connection holds, so a call is
//! atomic like MULTI/EXEC, exactly as EVAL. The libraries and their interpreter live in
//! [`crate::scripting::functions`]; lock order: the keyspace, then the functions registry.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{args, CommandSpec, Ctx};
use crate::glob;
use crate::resp::Reply;
use crate::scripting::busy::Kind;
use crate::scripting::functions::{self, RestorePolicy};
use bytes::Bytes;

/// Splits `numkeys key... arg...` (from `args[2]` on), with FCALL's error texts.
fn split_keys(args: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), Reply> {
    let rest = &args[3..];
    let numkeys = crate::resp::parse_i64(&args[2]).ok_or_else(|| Reply::error("ERR Bad number of keys provided"))?;
    if numkeys < 0 {
        return Err(Reply::error("ERR Number of keys can't be negative"));
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > rest.len() {
        return Err(Reply::error("ERR Number of keys can't be greater than number of args"));
    }
    Ok(rest.split_at(numkeys))
}

fn fcall_generic(ctx: &mut Ctx<'_>, args: &[Bytes], read_only: bool) -> Reply {
    let shared = ctx.shared;
    let registry = shared.scripting.functions.lock();
    let Some(function) = registry.find(&args[1]) else {
        return Reply::error("ERR Function not found");
    };
    let (keys, argv) = match split_keys(args) {
        Ok(split) => split,
        Err(reply) => return reply,
    };
    if read_only && !function.flags.no_writes {
        return Reply::error("ERR Can not execute a script with write flag using *_ro command.");
    }
    registry.call(ctx, function, args, keys, argv, read_only)
}

/// `FCALL function numkeys [key ...] [arg ...]`: calls a function with its keys and arguments.
/// Errors: `ERR Function not found`, `ERR Bad number of keys provided`, `ERR Number of keys
/// can't be negative`, `ERR Number of keys can't be greater than number of args`, and the
/// function's own errors (`... script: <function>, on @user_function:<line>.`).
fn fcall(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    fcall_generic(ctx, args, false)
}

/// `FCALL_RO function numkeys [key ...] [arg ...]`: FCALL for functions flagged `no-writes`.
/// Errors: as FCALL, and `ERR Can not execute a script with write flag using *_ro command.`
fn fcall_ro(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    fcall_generic(ctx, args, true)
}

/// `FUNCTION LOAD [REPLACE] function-code`: loads a library; replies its name.
/// Errors: `ERR Unknown option given: <arg>`, `ERR Missing library metadata`, `ERR Invalid
/// library metadata`, `ERR Library name was not given`, `ERR Engine '<e>' not found`, `ERR
/// Library '<name>' already exists`, `ERR Function <f> already exists`, `ERR Error compiling
/// function: ...`, `ERR Error registering functions: ...`, `ERR No functions registered`.
fn function_load(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut replace = false;
    let options = &args[2..args.len() - 1];
    for option in options {
        if args::is(option, "replace") {
            replace = true;
        } else {
            return Reply::error(format!("ERR Unknown option given: {}", String::from_utf8_lossy(option)));
        }
    }
    let code = args[args.len() - 1].clone();
    match ctx.shared.scripting.functions.lock().load(code, replace) {
        Ok(name) => Reply::Bulk(Bytes::from(name)),
        Err(text) => Reply::error(text),
    }
}

/// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`: each library (name, engine, functions
/// with their description and flags, and its code with WITHCODE), in name order.
/// Errors: `ERR Unknown argument <arg>`, `ERR library name argument was not given`.
fn function_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut with_code = false;
    let mut pattern: Option<&Bytes> = None;
    let mut i = 2;
    while let Some(arg) = args.get(i) {
        if args::is(arg, "withcode") && !with_code {
            with_code = true;
        } else if args::is(arg, "libraryname") && pattern.is_none() {
            let Some(value) = args.get(i + 1) else {
                return Reply::error("ERR library name argument was not given");
            };
            pattern = Some(value);
            i += 1;
        } else {
            return Reply::error(format!("ERR Unknown argument {}", String::from_utf8_lossy(arg)));
        }
        i += 1;
    }
    let registry = ctx.shared.scripting.functions.lock();
    let key = |name: &'static str| Reply::bulk(name);
    let libraries = registry
        .libraries()
        .filter(|library| pattern.is_none_or(|p| glob::matches(p, library.name.as_bytes())))
        .map(|library| {
            let functions = library
                .functions
                .iter()
                .map(|f| {
                    Reply::Map(vec![
                        (key("name"), Reply::bulk(&f.name)),
                        (key("description"), Reply::bulk_or_null(f.description.clone())),
                        (
                            key("flags"),
                            Reply::Set(functions::flag_names(&f.flags).into_iter().map(Reply::simple).collect()),
                        ),
                    ])
                })
                .collect();
            let mut fields = vec![
                (key("library_name"), Reply::bulk(&library.name)),
                (key("engine"), key("LUA")),
                (key("functions"), Reply::Array(functions)),
            ];
            if with_code {
                fields.push((key("library_code"), Reply::Bulk(library.code.clone())));
            }
            Reply::Map(fields)
        })
        .collect();
    Reply::Array(libraries)
}

/// `FUNCTION DELETE library-name`: removes a library and its functions.
/// Errors: `ERR Library not found`.
fn function_delete(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let name = String::from_utf8_lossy(&args[2]);
    if ctx.shared.scripting.functions.lock().delete(&name) {
        Reply::ok()
    } else {
        Reply::error("ERR Library not found")
    }
}

/// `FUNCTION FLUSH [ASYNC|SYNC]`: removes every library (both modes flush at once).
/// Errors: `ERR FUNCTION FLUSH only supports SYNC|ASYNC option`, and with more than one
/// argument `ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.`
fn function_flush(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args.len() {
        2 => {}
        3 if args::is(&args[2], "sync") || args::is(&args[2], "async") => {}
        3 => return Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
        _ => return subcommand_syntax_error(&args[1]),
    }
    ctx.shared.scripting.functions.lock().flush();
    Reply::ok()
}

/// `FUNCTION DUMP`: every library as one payload for FUNCTION RESTORE, in Redis's format.
fn function_dump(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Bulk(Bytes::from(ctx.shared.scripting.functions.lock().dump()))
}

/// `FUNCTION RESTORE serialized-value [FLUSH|APPEND|REPLACE]`: loads the libraries of a
/// FUNCTION DUMP payload (default APPEND). Errors: `ERR DUMP payload version or checksum are
/// wrong`, `ERR given type is not a function`, `ERR Wrong restore policy given, value should be
/// either FLUSH, APPEND or REPLACE.`, `ERR Library <name> already exists`, `ERR Function <f>
/// already exists`, and the load errors of FUNCTION LOAD.
fn function_restore(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let policy = match args.len() {
        3 => RestorePolicy::Append,
        4 if args::is(&args[3], "flush") => RestorePolicy::Flush,
        4 if args::is(&args[3], "append") => RestorePolicy::Append,
        4 if args::is(&args[3], "replace") => RestorePolicy::Replace,
        4 => return Reply::error("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."),
        _ => return subcommand_syntax_error(&args[1]),
    };
    match ctx.shared.scripting.functions.lock().restore(&args[2], policy) {
        Ok(()) => Reply::ok(),
        Err(text) => Reply::error(text),
    }
}

/// `FUNCTION STATS`: the running function and, per engine, the library and function counts.
/// Run with the keyspace lock, no function is running (`running_script` is null); while one
/// runs past `busy-reply-threshold` the connection answers it without the lock, showing the
/// function (see [`crate::scripting::busy::busy_reply`]).
fn function_stats(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let registry = ctx.shared.scripting.functions.lock();
    crate::scripting::functions::stats_reply(None, registry.library_count(), registry.function_count())
}

/// `FUNCTION KILL`: stops the running function if it has not written. With the keyspace lock
/// no function runs, so this answers `NOTBUSY`; while one runs the connection answers it
/// without the lock (see [`crate::scripting::busy::busy_reply`]).
/// Errors: `NOTBUSY No scripts in execution right now.`, `UNKILLABLE ...`.
fn function_kill(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    ctx.shared.scripting.busy.request_kill(Kind::Function)
}

/// `FUNCTION HELP`.
fn function_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    super::config::help_reply(
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    )
}

/// Redis's `addReplySubcommandSyntaxError` for FUNCTION (the subcommand as the client typed it).
fn subcommand_syntax_error(sub: &[u8]) -> Reply {
    let sub = String::from_utf8_lossy(sub);
    Reply::error(format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."))
}

const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("function|load", -3, &["write", "denyoom", "noscript"], (0, 0, 0), "scripting", "Creates a library.", function_load).since("7.0.0"),
    CommandSpec::new("function|list", -2, &["noscript"], (0, 0, 0), "scripting", "Returns information about all libraries.", function_list).since("7.0.0"),
    CommandSpec::new("function|delete", 3, &["write", "noscript"], (0, 0, 0), "scripting", "Deletes a library and its functions.", function_delete).since("7.0.0"),
    CommandSpec::new("function|flush", -2, &["write", "noscript"], (0, 0, 0), "scripting", "Deletes all libraries and functions.", function_flush).since("7.0.0"),
    CommandSpec::new("function|dump", 2, &["noscript"], (0, 0, 0), "scripting", "Dumps all libraries into a serialized binary payload.", function_dump).since("7.0.0"),
    CommandSpec::new("function|restore", -3, &["write", "denyoom", "noscript"], (0, 0, 0), "scripting", "Restores all libraries from a payload.", function_restore).since("7.0.0"),
    CommandSpec::new("function|stats", 2, &["noscript", "allow_busy"], (0, 0, 0), "scripting", "Returns information about a function during execution.", function_stats).since("7.0.0"),
    CommandSpec::new("function|kill", 2, &["noscript", "allow_busy"], (0, 0, 0), "scripting", "Terminates a function during execution.", function_kill).since("7.0.0"),
    CommandSpec::new("function|help", 2, &["loading", "stale"], (0, 0, 0), "scripting", "Returns helpful text about the different subcommands.", function_help).since("7.0.0"),
];

/// The function commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("fcall", -3, &["noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "Invokes a function.", fcall).since("7.0.0"),
    CommandSpec::new("fcall_ro", -3, &["readonly", "noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "Invokes a read-only function.", fcall_ro).since("7.0.0"),
    CommandSpec::container("function", -2, "scripting", "A container for function commands.", FUNCTION_SUBCOMMANDS).since("7.0.0"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numkeys_errors_are_fcalls_own() {
        let args = |a: &[&'static str]| a.iter().map(|s| Bytes::from_static(s.as_bytes())).collect::<Vec<_>>();
        assert!(matches!(split_keys(&args(&["fcall", "f", "x"])), Err(Reply::Error(e)) if e == "ERR Bad number of keys provided"));
        assert!(matches!(split_keys(&args(&["fcall", "f", "-1"])), Err(Reply::Error(e)) if e == "ERR Number of keys can't be negative"));
        assert!(matches!(split_keys(&args(&["fcall", "f", "2", "k"])), Err(Reply::Error(e)) if e.starts_with(b"ERR Number of keys can't be greater")));
        assert!(matches!(split_keys(&args(&["fcall", "f", "1", "k", "a"])), Ok((k, a)) if k.len() == 1 && a.len() == 1));
    }
}
