//! The command table and dispatch.
//!
//! Every command is one [`CommandSpec`] row in its family's table (`keys.rs`, `string.rs`, ...):
//! name, arity, flags, key positions and handler. Lookup, arity and the unknown-command and
//! unknown-subcommand errors are checked once, here, with Redis's exact texts; handlers can
//! rely on having at least `|arity|` arguments.

pub mod args;
pub mod client;
pub mod command;
pub mod config;
pub mod connection;
pub mod function;
pub mod geo;
pub mod hash;
pub mod info;
pub mod keys;
pub mod list;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod transaction;
pub mod zset;

use crate::client::ClientState;
use crate::keyspace::{Db, Keyspace};
use crate::resp::Reply;
use crate::server::Shared;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::OnceLock;

pub use args::ArgError;

/// What a command is, as `COMMAND INFO` reports it and as dispatch enforces it.
pub struct CommandSpec {
    /// Lower-case name (`"get"`), or `"container|sub"` for a subcommand.
    pub name: &'static str,
    /// Redis's arity: `N` means exactly N arguments including the name, `-N` at least N.
    pub arity: i32,
    /// Flags as Redis names them (`"write"`, `"readonly"`, `"fast"`, ...).
    pub flags: &'static [&'static str],
    /// Position of the first key argument (0 for none), of the last (-1: the last argument),
    /// and the step between keys.
    pub keys: (i32, i32, i32),
    /// One line for `COMMAND DOCS`.
    pub summary: &'static str,
    /// The Redis version that introduced the command.
    pub since: &'static str,
    /// The documentation group (`"string"`, `"generic"`, `"connection"`, ...).
    pub group: &'static str,
    /// The handler; `None` for a container whose work is done by its subcommands.
    pub handler: Option<Handler>,
    /// Subcommands of a container command (`CONFIG GET`, `CLIENT LIST`, ...).
    pub subcommands: &'static [CommandSpec],
}

/// A command handler: runs with the keyspace locked and returns the reply.
pub type Handler = fn(&mut Ctx<'_>, &[Bytes]) -> Reply;

impl CommandSpec {
    /// A table row for a plain command. `keys` is (first, last, step) as in [`CommandSpec::keys`].
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: &'static [&'static str],
        keys: (i32, i32, i32),
        group: &'static str,
        summary: &'static str,
        handler: Handler,
    ) -> CommandSpec {
        CommandSpec { name, arity, flags, keys, summary, since: "1.0.0", group, handler: Some(handler), subcommands: &[] }
    }

    /// A table row for a container command whose subcommands do the work (CONFIG, CLIENT, ...).
    pub const fn container(
        name: &'static str,
        arity: i32,
        group: &'static str,
        summary: &'static str,
        subcommands: &'static [CommandSpec],
    ) -> CommandSpec {
        CommandSpec { name, arity, flags: &[], keys: (0, 0, 0), summary, since: "1.0.0", group, handler: None, subcommands }
    }

    /// The same row with the Redis version that introduced the command.
    pub const fn since(mut self, version: &'static str) -> CommandSpec {
        self.since = version;
        self
    }

    /// ACL categories as Redis lists them in COMMAND INFO, derived from flags and group.
    pub fn acl_categories(&self) -> Vec<&'static str> {
        let mut categories = Vec::new();
        let group = match self.group {
            "generic" => Some("@keyspace"),
            "string" => Some("@string"),
            "list" => Some("@list"),
            "hash" => Some("@hash"),
            "set" => Some("@set"),
            "sorted-set" => Some("@sortedset"),
            "stream" => Some("@stream"),
            "pubsub" => Some("@pubsub"),
            "transactions" => Some("@transaction"),
            "connection" => Some("@connection"),
            "scripting" => Some("@scripting"),
            _ => None,
        };
        if self.has_flag("write") {
            categories.push("@write");
        }
        if self.has_flag("readonly") {
            categories.push("@read");
        }
        categories.extend(group);
        categories.push(if self.has_flag("fast") { "@fast" } else { "@slow" });
        if self.has_flag("admin") {
            categories.extend(["@admin", "@dangerous"]);
        }
        if self.has_flag("blocking") {
            categories.push("@blocking");
        }
        categories
    }

    /// Whether `flag` is among the command's flags.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// The name without the container (`"get"` for `"config|get"`).
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('|').next().unwrap_or(self.name)
    }
}

/// Everything a handler may touch: the locked keyspace, the calling client, the server.
pub struct Ctx<'a> {
    /// The keyspace, locked for the duration of the command (or the whole EXEC).
    pub keyspace: &'a mut Keyspace,
    /// The calling client's connection state.
    pub client: &'a mut ClientState,
    /// Server-wide state that does not need the keyspace lock.
    pub shared: &'a Shared,
}

impl Ctx<'_> {
    /// The client's selected database.
    pub fn db(&mut self) -> &mut Db {
        self.keyspace.db(self.client.db)
    }

    /// The clock the command runs at, in Unix ms.
    pub fn now_ms(&self) -> u64 {
        self.keyspace.now_ms()
    }

    /// Records a keyspace event in the client's database.
    pub fn notify(&mut self, class: char, event: &'static str, key: &[u8]) {
        let db = self.client.db;
        self.keyspace.notify(db, class, event, key);
    }
}

/// The error reply Redis gives for a command it does not have.
pub fn unknown_command_error(args: &[Bytes]) -> Reply {
    // Redis formats with printf's `%.*s`: C strings, so bytes stop at a NUL, and the quoted
    // arguments stop once 128 bytes have been rendered.
    fn c_string(bytes: &[u8], max: usize) -> &[u8] {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len()).min(max);
        bytes.get(..end).unwrap_or_default()
    }
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(c_string(args.first().map_or(&[][..], |n| n), 128));
    text.extend_from_slice(b"', with args beginning with: ");
    let mut rendered: Vec<u8> = Vec::new();
    for arg in args.iter().skip(1) {
        if rendered.len() >= 128 {
            break;
        }
        rendered.push(b'\'');
        rendered.extend_from_slice(c_string(arg, 128 - rendered.len() + 1));
        rendered.extend_from_slice(b"' ");
    }
    text.extend_from_slice(&rendered);
    Reply::Error(Bytes::from(text))
}

/// The error for a wrong argument count.
pub fn arity_error(spec: &CommandSpec) -> Reply {
    Reply::error(format!("ERR wrong number of arguments for '{}' command", spec.name))
}

fn all_tables() -> impl Iterator<Item = &'static CommandSpec> {
    [
        client::COMMANDS,
        command::COMMANDS,
        config::COMMANDS,
        connection::COMMANDS,
        function::COMMANDS,
        geo::COMMANDS,
        hash::COMMANDS,
        info::COMMANDS,
        keys::COMMANDS,
        list::COMMANDS,
        pubsub::COMMANDS,
        scripting::COMMANDS,
        server::COMMANDS,
        set::COMMANDS,
        sort::COMMANDS,
        stream::COMMANDS,
        string::COMMANDS,
        transaction::COMMANDS,
        zset::COMMANDS,
    ]
        .into_iter()
        .flatten()
}

/// Every top-level command by its lower-case name. Hashed with foldhash rather than SipHash:
/// every request looks its name up here, and the table never grows, so a client cannot
/// degrade it by choosing names.
type Registry = HashMap<&'static [u8], &'static CommandSpec, foldhash::fast::FixedState>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| all_tables().map(|spec| (spec.name.as_bytes(), spec)).collect())
}

/// Every top-level command, for `COMMAND`, `COMMAND COUNT` and `COMMAND LIST`.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    registry().values().copied()
}

/// Looks up a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut lower = [0u8; 32];
    let slot = lower.get_mut(..name.len())?;
    slot.copy_from_slice(name);
    slot.make_ascii_lowercase();
    registry().get(&*slot).copied()
}

/// The result of resolving a request against the table.
pub enum Resolved {
    /// A runnable command (or subcommand) whose arity is satisfied.
    Command(&'static CommandSpec),
    /// The request is rejected before running; the reply says why.
    Rejected(Reply),
}

/// Finds the command a request names and checks its arity, with Redis's error texts.
pub fn resolve(args: &[Bytes]) -> Resolved {
    let Some(spec) = args.first().and_then(|name| lookup(name)) else {
        return Resolved::Rejected(unknown_command_error(args));
    };
    if !spec.arity_ok(args.len()) {
        return Resolved::Rejected(arity_error(spec));
    }
    if spec.subcommands.is_empty() {
        return Resolved::Command(spec);
    }
    let Some(sub_name) = args.get(1) else {
        // A container with a handler of its own runs bare (`COMMAND` lists every command).
        return match spec.handler {
            Some(_) => Resolved::Command(spec),
            None => Resolved::Rejected(arity_error(spec)),
        };
    };
    let sub = spec.subcommands.iter().find(|s| s.short_name().as_bytes().eq_ignore_ascii_case(sub_name));
    match sub {
        None => Resolved::Rejected(Reply::error(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(sub_name).chars().take(128).collect::<String>(),
            spec.name.to_ascii_uppercase()
        ))),
        Some(sub) if !sub.arity_ok(args.len()) => Resolved::Rejected(arity_error(sub)),
        Some(sub) => Resolved::Command(sub),
    }
}

/// Resolves and runs one request for the client in `ctx`, queueing it instead while the
/// client is inside MULTI.
pub fn dispatch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let spec = match resolve(args) {
        Resolved::Command(spec) => spec,
        Resolved::Rejected(reply) => {
            // A command that cannot even be queued dooms the transaction (EXECABORT).
            if let Some(multi) = ctx.client.multi.as_mut() {
                multi.aborted = true;
            }
            let known = args.first().and_then(|name| lookup(name)).map(|spec| spec.name);
            ctx.shared.stats.record_rejected(known);
            return reply;
        }
    };
    if ctx.shared.is_loading() && !spec.has_flag("loading") {
        // Durable streams are still being recovered (Redis: `-LOADING` unless the command is
        // flagged `loading`; inside MULTI the transaction is doomed as for any rejection).
        if let Some(multi) = ctx.client.multi.as_mut() {
            multi.aborted = true;
        }
        ctx.shared.stats.record_rejected(Some(spec.name));
        return Reply::error("LOADING Redis is loading the dataset in memory");
    }
    if ctx.client.protocol == crate::resp::Protocol::Resp2 && ctx.client.subscriptions.is_active() {
        // RESP2 subscribed mode: the connection only carries subscription traffic.
        if spec.name == "ping" && args.len() <= 2 {
            ctx.shared.stats.record_call(spec.name, std::time::Duration::ZERO, false);
            return pubsub::subscribed_ping(args);
        }
        if !pubsub::allowed_when_subscribed(spec) {
            ctx.shared.stats.record_rejected(Some(spec.name));
            return Reply::error(format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            ));
        }
    }
    if ctx.client.multi.is_some() && !transaction::runs_immediately_in_multi(spec) {
        if spec.has_flag("no_multi") {
            if let Some(multi) = ctx.client.multi.as_mut() {
                multi.aborted = true;
            }
            return Reply::error("ERR Command not allowed inside a transaction");
        }
        return transaction::queue(ctx, args);
    }
    execute(spec, ctx, args)
}

/// Runs a resolved command: the one place that calls handlers, so statistics are kept here.
pub fn execute(spec: &'static CommandSpec, ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(handler) = spec.handler else { return arity_error(spec) };
    let started = std::time::Instant::now();
    let reply = handler(ctx, args);
    // Key-level changes to durable streams (DEL, RENAME, FLUSH*, a new stream...) are logged
    // right after the command that made them, before the next one runs.
    if crate::persist::active(ctx.keyspace) {
        crate::persist::collect(ctx.keyspace);
    }
    ctx.shared.stats.record_call(spec.name, started.elapsed(), reply.is_error());
    reply
}

/// Shorthand for the most common errors, with Redis's texts.
pub mod errors {
    use crate::resp::Reply;

    /// `WRONGTYPE Operation against a key holding the wrong kind of value`.
    pub fn wrong_type() -> Reply {
        Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value")
    }

    /// `ERR syntax error`.
    pub fn syntax() -> Reply {
        Reply::error("ERR syntax error")
    }

    /// `ERR value is not an integer or out of range`.
    pub fn not_integer() -> Reply {
        Reply::error("ERR value is not an integer or out of range")
    }

    /// `ERR value is not a valid float`.
    pub fn not_float() -> Reply {
        Reply::error("ERR value is not a valid float")
    }

    /// `ERR no such key`.
    pub fn no_such_key() -> Reply {
        Reply::error("ERR no such key")
    }
}
