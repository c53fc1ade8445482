//! COMMAND and its subcommands: the command table as Redis 7 describes it, built from the
//! [`CommandSpec`] rows every family registers.
//!
//! The shapes follow Redis 7 (so redis-cli and client libraries can read them); the contents
//! are Herald's own: no argument docs, key specs derived from (first, last, step).
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::config::help_reply;
use super::{all_commands, args, errors, lookup, CommandSpec, Ctx};
use crate::glob;
use crate::resp::Reply;
use bytes::Bytes;

fn bulk(text: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

fn status(text: &str) -> Reply {
    Reply::Simple(Bytes::copy_from_slice(text.as_bytes()))
}

/// Every top-level command, sorted by name so replies are stable.
fn sorted_commands() -> Vec<&'static CommandSpec> {
    let mut commands: Vec<_> = all_commands().collect();
    commands.sort_by_key(|spec| spec.name);
    commands
}

/// The key specification Redis 7 derives for a (first, last, step) range.
fn key_specs(spec: &CommandSpec) -> Reply {
    let (first, last, step) = spec.keys;
    if first <= 0 {
        return Reply::Array(Vec::new());
    }
    let flags: Vec<Reply> = if spec.has_flag("write") {
        vec![status("RW"), status("UPDATE")]
    } else {
        vec![status("RO"), status("ACCESS")]
    };
    let last_key = if last < 0 { last } else { last - first };
    Reply::Array(vec![Reply::Map(vec![
        (bulk("flags"), Reply::Set(flags)),
        (
            bulk("begin_search"),
            Reply::Map(vec![
                (bulk("type"), bulk("index")),
                (bulk("spec"), Reply::Map(vec![(bulk("index"), Reply::Integer(i64::from(first)))])),
            ]),
        ),
        (
            bulk("find_keys"),
            Reply::Map(vec![
                (bulk("type"), bulk("range")),
                (
                    bulk("spec"),
                    Reply::Map(vec![
                        (bulk("lastkey"), Reply::Integer(i64::from(last_key))),
                        (bulk("keystep"), Reply::Integer(i64::from(step))),
                        (bulk("limit"), Reply::Integer(0)),
                    ]),
                ),
            ]),
        ),
    ])])
}

/// One COMMAND INFO entry: name, arity, flags, first key, last key, step, ACL categories,
/// tips, key specs, subcommands.
fn info_entry(spec: &CommandSpec) -> Reply {
    let (first, last, step) = spec.keys;
    Reply::Array(vec![
        bulk(spec.name),
        Reply::Integer(i64::from(spec.arity)),
        Reply::Set(spec.flags.iter().map(|flag| status(flag)).collect()),
        Reply::Integer(i64::from(first)),
        Reply::Integer(i64::from(last)),
        Reply::Integer(i64::from(step)),
        Reply::Set(spec.acl_categories().into_iter().map(status).collect()),
        Reply::Set(Vec::new()),
        key_specs(spec),
        Reply::Array(spec.subcommands.iter().map(info_entry).collect()),
    ])
}

/// One COMMAND DOCS entry: summary, since, group, and the subcommands' docs.
fn docs_entry(spec: &CommandSpec) -> Reply {
    let mut fields = vec![
        (bulk("summary"), bulk(spec.summary)),
        (bulk("since"), bulk(spec.since)),
        (bulk("group"), bulk(spec.group)),
    ];
    if !spec.subcommands.is_empty() {
        let subcommands = spec.subcommands.iter().map(|sub| (bulk(sub.name), docs_entry(sub))).collect();
        fields.push((bulk("subcommands"), Reply::Map(subcommands)));
    }
    Reply::Map(fields)
}

/// `COMMAND`: the COMMAND INFO entry of every command.
fn command(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Array(sorted_commands().into_iter().map(info_entry).collect())
}

/// `COMMAND COUNT`: how many top-level commands there are.
fn command_count(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::from(all_commands().count())
}

/// Finds a command or a `container|sub` subcommand by its full name.
fn lookup_full(name: &[u8]) -> Option<&'static CommandSpec> {
    let Some(split) = name.iter().position(|&b| b == b'|') else { return lookup(name) };
    let (container, sub) = (&name[..split], &name[split + 1..]);
    lookup(container)?.subcommands.iter().find(|s| s.short_name().as_bytes().eq_ignore_ascii_case(sub))
}

/// `COMMAND INFO [command-name ...]`: an entry per name (null for unknown names); every
/// command when no name is given.
fn command_info(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() == 2 {
        return command(ctx, args);
    }
    Reply::Array(args[2..].iter().map(|name| lookup_full(name).map_or(Reply::Null, info_entry)).collect())
}

/// `COMMAND DOCS [command-name ...]`: a map from name to docs; unknown names are left out,
/// and no name means every command.
fn command_docs(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let specs: Vec<&'static CommandSpec> = if args.len() == 2 {
        sorted_commands()
    } else {
        args[2..].iter().filter_map(|name| lookup_full(name)).collect()
    };
    Reply::Map(specs.into_iter().map(|spec| (bulk(spec.name), docs_entry(spec))).collect())
}

/// `COMMAND LIST [FILTERBY MODULE module-name | ACLCAT category | PATTERN pattern]`: every
/// command name, subcommands included (`config|get`), optionally filtered.
/// Errors: `ERR syntax error`.
fn command_list(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    enum Filter<'a> {
        All,
        Module,
        Category(&'a [u8]),
        Pattern(&'a [u8]),
    }
    let filter = match args.len() {
        2 => Filter::All,
        5 if args::is(&args[2], "FILTERBY") => {
            if args::is(&args[3], "MODULE") {
                Filter::Module
            } else if args::is(&args[3], "ACLCAT") {
                Filter::Category(&args[4])
            } else if args::is(&args[3], "PATTERN") {
                Filter::Pattern(&args[4])
            } else {
                return errors::syntax();
            }
        }
        _ => return errors::syntax(),
    };
    let mut names = Vec::new();
    for spec in sorted_commands() {
        for spec in std::iter::once(spec).chain(spec.subcommands) {
            let keep = match filter {
                Filter::All => true,
                Filter::Module => false,
                Filter::Category(category) => spec
                    .acl_categories()
                    .iter()
                    .any(|c| c.trim_start_matches('@').as_bytes().eq_ignore_ascii_case(category)),
                Filter::Pattern(pattern) => glob::matches_with_case(pattern, spec.name.as_bytes(), true),
            };
            if keep {
                names.push(bulk(spec.name));
            }
        }
    }
    Reply::Array(names)
}

/// `COMMAND GETKEYS command [arg ...]`: the keys a full command line names, found from the
/// command's (first, last, step) key positions.
///
/// Errors: `ERR Invalid command specified`, `ERR Invalid number of arguments specified for
/// command`, `ERR The command has no key arguments`.
fn command_getkeys(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let line = &args[2..];
    let Some(mut spec) = lookup(&line[0]) else {
        return Reply::error("ERR Invalid command specified");
    };
    if !spec.subcommands.is_empty() {
        let sub = line.get(1).and_then(|name| spec.subcommands.iter().find(|s| s.short_name().as_bytes().eq_ignore_ascii_case(name)));
        match sub {
            Some(sub) => spec = sub,
            None => return Reply::error("ERR Invalid command specified"),
        }
    }
    if !spec.arity_ok(line.len()) {
        return Reply::error("ERR Invalid number of arguments specified for command");
    }
    let (first, last, step) = spec.keys;
    let count = i64::try_from(line.len()).unwrap_or(i64::MAX);
    let last = if last < 0 { count + i64::from(last) } else { i64::from(last) };
    let (first, step) = (i64::from(first), i64::from(step.max(1)));
    if first <= 0 || last < first {
        return Reply::error("ERR The command has no key arguments");
    }
    let mut keys = Vec::new();
    let mut position = first;
    while position <= last.min(count - 1) {
        if let Some(key) = usize::try_from(position).ok().and_then(|p| line.get(p)) {
            keys.push(Reply::Bulk(key.clone()));
        }
        position += step;
    }
    Reply::Array(keys)
}

/// `COMMAND HELP`.
fn command_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    )
}

const FLAGS: &[&str] = &["loading", "stale"];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("command|count", 2, FLAGS, (0, 0, 0), "server", "Returns a count of commands.", command_count).since("2.8.13"),
    CommandSpec::new("command|info", -2, FLAGS, (0, 0, 0), "server", "Returns information about one, multiple or all commands.", command_info).since("2.8.13"),
    CommandSpec::new("command|docs", -2, FLAGS, (0, 0, 0), "server", "Returns documentary information about one, multiple or all commands.", command_docs).since("7.0.0"),
    CommandSpec::new("command|list", -2, FLAGS, (0, 0, 0), "server", "Returns a list of command names.", command_list).since("7.0.0"),
    CommandSpec::new("command|getkeys", -3, FLAGS, (0, 0, 0), "server", "Extracts the key names from an arbitrary command.", command_getkeys).since("2.8.13"),
    CommandSpec::new("command|help", 2, FLAGS, (0, 0, 0), "server", "Returns helpful text about the different subcommands.", command_help).since("5.0.0"),
];

/// The COMMAND command: a container whose bare form lists every command.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec {
    name: "command",
    arity: -1,
    flags: &["loading", "stale"],
    keys: (0, 0, 0),
    summary: "Returns detailed information about all commands.",
    since: "2.8.13",
    group: "server",
    handler: Some(command),
    subcommands: SUBCOMMANDS,
}];
