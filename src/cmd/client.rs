//! CLIENT subcommands: ID, INFO, LIST, KILL, GETNAME, SETNAME, SETINFO, REPLY, NO-EVICT,
//! NO-TOUCH, UNBLOCK, GETREDIR, HELP.
//!
//! Other clients are seen through their [`ClientHandle`]: the connection refreshes
//! `handle.info` after each batch, and CLIENT KILL asks a connection to close through
//! `handle.kill`. The calling client's own line is built from its live state instead, so
//! CLIENT INFO shows the command that is running.
#![allow(clippy::indexing_slicing)] // dispatch checks arity first, so args[..|arity|] exist

use super::config::help_reply;
use super::connection::{is_valid_client_name, set_client_name};
use super::{args, errors, CommandSpec, Ctx};
use crate::client::ClientHandle;
use crate::resp::Reply;
use bytes::Bytes;
use std::fmt::Write as _;
use std::sync::Arc;

/// The kinds of client `TYPE` filters name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

fn parse_type(arg: &[u8]) -> Result<ClientType, Reply> {
    let text = String::from_utf8_lossy(arg);
    match text.to_ascii_lowercase().as_str() {
        "normal" => Ok(ClientType::Normal),
        "replica" | "slave" => Ok(ClientType::Replica),
        "pubsub" => Ok(ClientType::PubSub),
        "master" => Ok(ClientType::Master),
        _ => Err(Reply::error(format!("ERR Unknown client type '{text}'"))),
    }
}

/// One client as CLIENT LIST shows it.
struct Line {
    id: u64,
    addr: String,
    laddr: String,
    name: Bytes,
    age: u64,
    idle: u64,
    flags: String,
    db: usize,
    sub: usize,
    psub: usize,
    ssub: usize,
    multi: i64,
    watch: usize,
    qbuf: usize,
    omem: usize,
    cmd: &'static str,
    resp: i64,
    lib_name: Bytes,
    lib_ver: Bytes,
}

impl Line {
    fn client_type(&self) -> ClientType {
        if self.sub + self.psub + self.ssub > 0 {
            ClientType::PubSub
        } else {
            ClientType::Normal
        }
    }

    /// The line in Redis 7.4's field order (no trailing newline).
    fn render(&self) -> String {
        let mut out = String::with_capacity(320);
        let _ = write!(
            out,
            "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} \
             multi={} watch={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 \
             omem={} tot-mem={} events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            String::from_utf8_lossy(&self.name),
            self.age,
            self.idle,
            self.flags,
            self.db,
            self.sub,
            self.psub,
            self.ssub,
            self.multi,
            self.watch,
            self.qbuf,
            self.omem,
            self.qbuf + self.omem,
            self.cmd,
            self.resp,
            String::from_utf8_lossy(&self.lib_name),
            String::from_utf8_lossy(&self.lib_ver),
        );
        out
    }
}

/// Builds client `handle`'s line; for the calling client, from its live state, with `cmd`
/// as the running command.
fn line_for(ctx: &Ctx<'_>, handle: &ClientHandle, cmd: &'static str) -> Line {
    let info = handle.info.lock().clone();
    let own = handle.id == ctx.client.id;
    let blocked = ctx.keyspace.blocking.is_blocked(handle.id);
    let mut line = Line {
        id: handle.id,
        addr: handle.addr.to_string(),
        laddr: handle.local_addr.to_string(),
        name: info.name.clone().unwrap_or_default(),
        age: handle.created.elapsed().as_secs(),
        idle: info.last_interaction.elapsed().as_secs(),
        flags: String::new(),
        db: info.db,
        sub: info.sub,
        psub: info.psub,
        ssub: info.ssub,
        multi: info.multi,
        watch: info.watch,
        qbuf: info.query_buffer,
        omem: info.output_memory + handle.outbox.pending_bytes(),
        cmd: info.last_command,
        resp: info.resp,
        lib_name: info.lib_name.clone().unwrap_or_default(),
        lib_ver: info.lib_ver.clone().unwrap_or_default(),
    };
    let mut dirty = false;
    let mut closing = false;
    if own {
        let client = &*ctx.client;
        line.idle = 0;
        line.db = client.db;
        line.sub = client.subscriptions.channels.len();
        line.psub = client.subscriptions.patterns.len();
        line.ssub = client.subscriptions.shard_channels.len();
        line.multi = client.multi.as_ref().map_or(-1, |m| i64::try_from(m.queued.len()).unwrap_or(i64::MAX));
        line.watch = client.watch.keys.len();
        line.cmd = cmd;
        line.resp = client.protocol.version();
        dirty = client.watch.is_dirty();
        closing = client.close_after_reply;
    }
    let mut flags = String::new();
    if line.client_type() == ClientType::PubSub {
        flags.push('P');
    }
    if line.multi >= 0 {
        flags.push('x');
    }
    if blocked {
        flags.push('b');
    }
    if dirty {
        flags.push('d');
    }
    if closing {
        flags.push('c');
    }
    if info.no_evict {
        flags.push('e');
    }
    if info.no_touch {
        flags.push('T');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    line.flags = flags;
    line
}

fn verbatim(text: String) -> Reply {
    Reply::Verbatim("txt", Bytes::from(text))
}

/// `CLIENT ID`: the connection's id.
fn client_id(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Integer(i64::try_from(ctx.client.id).unwrap_or(i64::MAX))
}

/// `CLIENT INFO`: the calling connection's CLIENT LIST line.
fn client_info(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    let handle = ctx.client.handle.clone();
    let mut text = line_for(ctx, &handle, "client|info").render();
    text.push('\n');
    verbatim(text)
}

/// `CLIENT LIST [TYPE NORMAL | MASTER | REPLICA | PUBSUB] [ID client-id [client-id ...]]`:
/// one line per connection, in id order.
///
/// Errors: `ERR Unknown client type '<type>'`, `ERR Invalid client ID`, `ERR syntax error`
/// (TYPE with anything after it, ID without ids, any other option).
fn client_list(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mut only_type = None;
    let mut only_ids: Option<Vec<u64>> = None;
    if args.len() == 4 && args::is(&args[2], "TYPE") {
        match parse_type(&args[3]) {
            Ok(kind) => only_type = Some(kind),
            Err(reply) => return reply,
        }
    } else if args.len() >= 4 && args::is(&args[2], "ID") {
        let mut ids = Vec::new();
        for arg in &args[3..] {
            match args::int(arg) {
                Ok(id) => ids.extend(u64::try_from(id).ok()),
                Err(_) => return Reply::error("ERR Invalid client ID"),
            }
        }
        only_ids = Some(ids);
    } else if args.len() != 2 {
        return errors::syntax();
    }
    let mut text = String::new();
    for handle in ctx.shared.clients.all() {
        if only_ids.as_ref().is_some_and(|ids| !ids.contains(&handle.id)) {
            continue;
        }
        let line = line_for(ctx, &handle, "client|list");
        if only_type.is_some_and(|kind| kind != line.client_type()) {
            continue;
        }
        text.push_str(&line.render());
        text.push('\n');
    }
    verbatim(text)
}

/// The filters of `CLIENT KILL <filter> <value> ...`.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    kind: Option<ClientType>,
    max_age: Option<u64>,
    keep_self: bool,
}

fn parse_kill_filter(args: &[Bytes]) -> Result<KillFilter, Reply> {
    let mut filter = KillFilter { keep_self: true, ..KillFilter::default() };
    let mut i = 2;
    while let Some(option) = args.get(i) {
        let Some(value) = args.get(i + 1) else { return Err(errors::syntax()) };
        if args::is(option, "ID") {
            match args::int(value) {
                Ok(id) if id > 0 => filter.id = u64::try_from(id).ok(),
                _ => return Err(Reply::error("ERR client-id should be greater than 0")),
            }
        } else if args::is(option, "MAXAGE") {
            match args::int(value) {
                Ok(age) if age > 0 => filter.max_age = u64::try_from(age).ok(),
                Ok(_) => return Err(Reply::error("ERR maxage should be greater than 0")),
                Err(_) => return Err(Reply::error("ERR maxage is not an integer or out of range")),
            }
        } else if args::is(option, "TYPE") {
            filter.kind = Some(parse_type(value)?);
        } else if args::is(option, "ADDR") {
            filter.addr = Some(value.clone());
        } else if args::is(option, "LADDR") {
            filter.laddr = Some(value.clone());
        } else if args::is(option, "USER") {
            // Every connection is the default user; any other user does not exist.
            if value.as_ref() != b"default" {
                return Err(Reply::error(format!("ERR No such user '{}'", String::from_utf8_lossy(value))));
            }
        } else if args::is(option, "SKIPME") {
            if args::is(value, "YES") {
                filter.keep_self = true;
            } else if args::is(value, "NO") {
                filter.keep_self = false;
            } else {
                return Err(errors::syntax());
            }
        } else {
            return Err(errors::syntax());
        }
        i += 2;
    }
    Ok(filter)
}

/// Closes client `handle`: the caller after this reply, anyone else right away.
fn kill(ctx: &mut Ctx<'_>, handle: &Arc<ClientHandle>) {
    if handle.id == ctx.client.id {
        ctx.client.close_after_reply = true;
    } else {
        handle.kill.notify_one();
    }
}

/// `CLIENT KILL ip:port` (replies `+OK`) or
/// `CLIENT KILL <ID id | ADDR ip:port | LADDR ip:port | TYPE type | USER name | SKIPME yes/no |
/// MAXAGE seconds> ...` (replies the number of clients closed; SKIPME defaults to yes).
///
/// Errors: `ERR No such client` (old form), `ERR client-id should be greater than 0`,
/// `ERR maxage should be greater than 0`, `ERR maxage is not an integer or out of range`,
/// `ERR Unknown client type '<type>'`, `ERR No such user '<user>'`, `ERR syntax error`.
fn client_kill(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if args.len() == 3 {
        let target = &args[2];
        let found = ctx.shared.clients.all().into_iter().find(|h| h.addr.to_string().as_bytes() == target.as_ref());
        return match found {
            Some(handle) => {
                kill(ctx, &handle);
                Reply::ok()
            }
            None => Reply::error("ERR No such client"),
        };
    }
    let filter = match parse_kill_filter(args) {
        Ok(filter) => filter,
        Err(reply) => return reply,
    };
    let mut killed = 0usize;
    for handle in ctx.shared.clients.all() {
        if filter.keep_self && handle.id == ctx.client.id {
            continue;
        }
        if filter.id.is_some_and(|id| id != handle.id)
            || filter.addr.as_ref().is_some_and(|a| a.as_ref() != handle.addr.to_string().as_bytes())
            || filter.laddr.as_ref().is_some_and(|a| a.as_ref() != handle.local_addr.to_string().as_bytes())
            || filter.max_age.is_some_and(|age| handle.created.elapsed().as_secs() < age)
        {
            continue;
        }
        if let Some(kind) = filter.kind {
            if kind != line_for(ctx, &handle, "client|kill").client_type() {
                continue;
            }
        }
        kill(ctx, &handle);
        killed += 1;
    }
    Reply::from(killed)
}

/// `CLIENT GETNAME`: the connection's name, or null.
fn client_getname(ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::bulk_or_null(ctx.client.handle.info.lock().name.clone())
}

/// `CLIENT SETNAME name`: names the connection; the empty name clears it.
/// Errors: `ERR Client names cannot contain spaces, newlines or special characters.`
fn client_setname(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    if !is_valid_client_name(&args[2]) {
        return Reply::error("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    set_client_name(ctx, &args[2]);
    Reply::ok()
}

/// `CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>`: records the client library.
/// Errors: `ERR Unrecognized option '<option>'`,
/// `ERR <option> cannot contain spaces, newlines or special characters.`
fn client_setinfo(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let (option, value) = (&args[2], &args[3]);
    let is_name = args::is(option, "LIB-NAME");
    if !is_name && !args::is(option, "LIB-VER") {
        return Reply::error(format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(option)));
    }
    if !is_valid_client_name(value) {
        return Reply::error(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(option)
        ));
    }
    let value = if value.is_empty() { None } else { Some(value.clone()) };
    let mut info = ctx.client.handle.info.lock();
    if is_name {
        info.lib_name = value;
    } else {
        info.lib_ver = value;
    }
    Reply::ok()
}

/// `CLIENT REPLY ON | OFF | SKIP`: ON replies `+OK`; OFF stops replies until ON; SKIP drops
/// the next command's reply. OFF and SKIP themselves get no reply.
/// Errors: `ERR syntax error`.
fn client_reply(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    let mode = &args[2];
    if args::is(mode, "ON") {
        ctx.client.reply_off = false;
        ctx.client.reply_skip = 0;
    } else if args::is(mode, "OFF") {
        ctx.client.reply_off = true;
    } else if args::is(mode, "SKIP") {
        if !ctx.client.reply_off {
            ctx.client.reply_skip = 2;
        }
    } else {
        return errors::syntax();
    }
    Reply::ok()
}

fn on_off(arg: &[u8]) -> Option<bool> {
    if args::is(arg, "ON") {
        Some(true)
    } else if args::is(arg, "OFF") {
        Some(false)
    } else {
        None
    }
}

/// `CLIENT NO-EVICT ON | OFF`: accepted and shown as flag `e`; Herald never evicts clients.
/// Errors: `ERR syntax error`.
fn client_no_evict(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match on_off(&args[2]) {
        Some(on) => {
            ctx.client.handle.info.lock().no_evict = on;
            Reply::ok()
        }
        None => errors::syntax(),
    }
}

/// `CLIENT NO-TOUCH ON | OFF`: accepted and shown as flag `T`.
/// Errors: `ERR syntax error`.
fn client_no_touch(ctx: &mut Ctx<'_>, args: &[Bytes]) -> Reply {
    match on_off(&args[2]) {
        Some(on) => {
            ctx.client.handle.info.lock().no_touch = on;
            Reply::ok()
        }
        None => errors::syntax(),
    }
}

/// `CLIENT GETREDIR`: -1, since client-side caching is never on here.
fn client_getredir(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    Reply::Integer(-1)
}

/// `CLIENT HELP`.
fn client_help(_ctx: &mut Ctx<'_>, _args: &[Bytes]) -> Reply {
    help_reply(
        "CLIENT",
        &[
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "    * MAXAGE <maxage>",
            "      Kill connections older than the specified age.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr. Options are:",
            "    * LIB-NAME: the client lib name.",
            "    * LIB-VER: the client lib version.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Will not touch LRU/LFU stats when this mode is on.",
        ],
    )
}

const CONN: &[&str] = &["noscript", "loading", "stale"];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("client|id", 2, CONN, (0, 0, 0), "connection", "Returns the unique client ID of the connection.", client_id).since("5.0.0"),
    CommandSpec::new("client|info", 2, CONN, (0, 0, 0), "connection", "Returns information about the connection.", client_info).since("6.2.0"),
    CommandSpec::new("client|list", -2, &["admin", "noscript", "loading", "stale"], (0, 0, 0), "connection", "Lists open connections.", client_list).since("2.4.0"),
    CommandSpec::new("client|kill", -3, &["admin", "noscript", "loading", "stale"], (0, 0, 0), "connection", "Terminates open connections.", client_kill).since("2.4.0"),
    CommandSpec::new("client|getname", 2, CONN, (0, 0, 0), "connection", "Returns the name of the connection.", client_getname).since("2.6.9"),
    CommandSpec::new("client|setname", 3, CONN, (0, 0, 0), "connection", "Sets the connection name.", client_setname).since("2.6.9"),
    CommandSpec::new("client|setinfo", 4, CONN, (0, 0, 0), "connection", "Sets information specific to the client or connection.", client_setinfo).since("7.2.0"),
    CommandSpec::new("client|reply", 3, CONN, (0, 0, 0), "connection", "Instructs the server whether to reply to commands.", client_reply).since("3.2.0"),
    CommandSpec::new("client|no-evict", 3, &["admin", "noscript", "loading", "stale"], (0, 0, 0), "connection", "Sets the client eviction mode of the connection.", client_no_evict).since("7.0.0"),
    CommandSpec::new("client|no-touch", 3, CONN, (0, 0, 0), "connection", "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.", client_no_touch).since("7.2.0"),
    CommandSpec::new("client|unblock", -3, &["admin", "noscript", "loading", "stale"], (0, 0, 0), "connection", "Unblocks a client blocked by a blocking command from a different connection.", crate::blocking::client_unblock_command).since("5.0.0"),
    CommandSpec::new("client|getredir", 2, CONN, (0, 0, 0), "connection", "Returns the client ID to which the connection's tracking notifications are redirected.", client_getredir).since("6.0.0"),
    CommandSpec::new("client|help", 2, &["loading", "stale"], (0, 0, 0), "connection", "Returns helpful text about the different subcommands.", client_help).since("5.0.0"),
];

/// The CLIENT command.
pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container("client", -2, "connection", "A container for client connection commands.", SUBCOMMANDS).since("2.4.0")];
