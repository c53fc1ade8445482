//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, RESET, QUIT.
//!
//! Herald has no ACL users: the only user is `default`, with no password (`nopass`), so every
//! connection is authenticated from the start. AUTH and HELLO's AUTH option answer exactly as
//! Redis 7.4 does in that configuration.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::{args, CommandSpec, Ctx};
use crate::resp::{Protocol, Reply};
use bytes::Bytes;

/// The Redis version Herald reports (HELLO, INFO `redis_version`).
pub const REDIS_VERSION: &str = "7.4.0";

/// The one user Herald knows.
const DEFAULT_USER: &[u8] = b"default";

/// `ERR Client names cannot contain spaces, newlines or special characters.`
const BAD_CLIENT_NAME: &str = "ERR Client names cannot contain spaces, newlines or special characters.";

/// `WRONGPASS ...`: a user other than `default`.
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Whether `name` is a valid client name (or library name/version): printable ASCII without
/// spaces, as Redis's `validateClientName` requires. The empty name is valid (it clears).
pub fn is_valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// Sets (or, for the empty name, clears) the client's name. The name must be valid.
pub fn set_client_name(ctx: &mut Ctx<'_>, name: &Bytes) {
    ctx.client.handle.info.lock().name = if name.is_empty() { None } else { Some(name.clone()) };
}

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

/// Checks a username/password pair against the only user, `default` (no password): any
/// password is accepted for `default`, every other user is refused.
fn check_credentials(user: &[u8]) -> Result<(), Reply> {
    if user == DEFAULT_USER {
        Ok(())
    } else {
        Err(Reply::error(WRONGPASS))
    }
}

/// `AUTH [username] password`.
///
/// Errors: with only a password, `ERR AUTH <password> called without any password configured
/// for the default user. Are you sure your configuration is correct?`; a user other than
/// `default`: `WRONGPASS invalid username-password pair or user is disabled.`; more than two
/// arguments: `ERR syntax error`.
fn auth(_ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match args.len() {
        2 => Reply::error(
            "ERR AUTH <password> called without any password configured for the default user. \
             Are you sure your configuration is correct?",
        ),
        3 => match check_credentials(&args[1]) {
            Ok(()) => Reply::ok(),
            Err(reply) => reply,
        },
        _ => Reply::error("ERR syntax error"),
    }
}

/// HELLO's parsed arguments.
struct Hello {
    protocol: Option<Protocol>,
    auth_user: Option<Bytes>,
    name: Option<Bytes>,
}

fn parse_hello(args: &[Bytes]) -> Result<Hello, Reply> {
    let protocol = match args.get(1) {
        None => None,
        Some(arg) => match args::int(arg) {
            Err(_) => return Err(Reply::error("ERR Protocol version is not an integer or out of range")),
            Ok(2) => Some(Protocol::Resp2),
            Ok(3) => Some(Protocol::Resp3),
            Ok(_) => return Err(Reply::error("NOPROTO unsupported protocol version")),
        },
    };
    let mut hello = Hello { protocol, auth_user: None, name: None };
    let mut i = 2;
    while let Some(option) = args.get(i) {
        let more = args.len() - 1 - i;
        if args::is(option, "AUTH") && more >= 2 {
            hello.auth_user = args.get(i + 1).cloned();
            i += 3;
        } else if args::is(option, "SETNAME") && more >= 1 {
            let name = args.get(i + 1).cloned().unwrap_or_default();
            if !is_valid_client_name(&name) {
                return Err(Reply::error(BAD_CLIENT_NAME));
            }
            hello.name = Some(name);
            i += 2;
        } else {
            return Err(Reply::error(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(option)
            )));
        }
    }
    Ok(hello)
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`: switches the protocol
/// (the reply itself is already in the new one) and describes the server as a map: `server`,
/// `version`, `proto`, `id`, `mode`, `role`, `modules`.
///
/// Errors: `ERR Protocol version is not an integer or out of range`,
/// `NOPROTO unsupported protocol version` (anything but 2 and 3),
/// `ERR Syntax error in HELLO option '<option>'`,
/// `ERR Client names cannot contain spaces, newlines or special characters.`,
/// `WRONGPASS invalid username-password pair or user is disabled.`
fn hello(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let hello = match parse_hello(args) {
        Ok(hello) => hello,
        Err(reply) => return reply,
    };
    if let Some(user) = &hello.auth_user {
        if let Err(reply) = check_credentials(user) {
            return reply;
        }
    }
    if let Some(name) = &hello.name {
        set_client_name(ctx, name);
    }
    if let Some(protocol) = hello.protocol {
        ctx.client.protocol = protocol;
    }
    let field = |name: &'static str| Reply::Bulk(Bytes::from_static(name.as_bytes()));
    Reply::Map(vec![
        (field("server"), field("redis")),
        (field("version"), field(REDIS_VERSION)),
        (field("proto"), Reply::Integer(ctx.client.protocol.version())),
        (field("id"), Reply::Integer(i64::try_from(ctx.client.id).unwrap_or(i64::MAX))),
        (field("mode"), field("standalone")),
        (field("role"), field("master")),
        (field("modules"), Reply::Array(Vec::new())),
    ])
}

/// `RESET`: returns the connection to its initial state and replies `+RESET`: discards
/// MULTI, unwatches every key, leaves every channel and pattern, selects db 0, speaks RESP2,
/// clears the client name (not the library name and version), turns CLIENT REPLY back on and
/// clears NO-EVICT and NO-TOUCH.
fn reset(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    ctx.client.multi = None;
    ctx.client.watch.clear(ctx.keyspace);
    crate::pubsub::unsubscribe_all(ctx.shared, &mut ctx.client.subscriptions, ctx.client.id);
    ctx.client.db = 0;
    ctx.client.protocol = Protocol::Resp2;
    ctx.client.reply_off = false;
    ctx.client.reply_skip = 0;
    let mut info = ctx.client.handle.info.lock();
    info.name = None;
    info.no_evict = false;
    info.no_touch = false;
    Reply::simple("RESET")
}

/// The connection commands.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, &["fast", "sentinel"], (0, 0, 0), "connection", "Returns the server's liveliness response.", ping),
    CommandSpec::new("echo", 2, &["fast"], (0, 0, 0), "connection", "Returns the given string.", echo),
    CommandSpec::new("quit", -1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), "connection", "Closes the connection.", quit),
    CommandSpec::new("select", 2, &["loading", "stale", "fast"], (0, 0, 0), "connection", "Changes the selected database.", select).since("2.0.0"),
    CommandSpec::new("auth", -2, &["noscript", "loading", "stale", "fast", "no_auth", "sentinel", "allow_busy"], (0, 0, 0), "connection", "Authenticates the connection.", auth),
    CommandSpec::new("hello", -1, &["noscript", "loading", "stale", "fast", "no_auth", "sentinel", "allow_busy"], (0, 0, 0), "connection", "Handshakes with the Redis server.", hello).since("6.0.0"),
    CommandSpec::new("reset", 1, &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), "connection", "Resets the connection.", reset).since("6.2.0"),
];
