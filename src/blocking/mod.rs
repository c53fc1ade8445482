//! Blocking commands: clients waiting on keys, woken in FIFO order when a write makes a key
//! ready. One mechanism for every blocking family (lists now, streams later).
//!
//! # How it works
//! 1. A blocking command (`BLPOP`, `BLMOVE`, ...) first runs as its non-blocking form. If it
//!    found nothing it leaves a [`BlockRequest`] in the client state and replies what its
//!    non-blocking form replies. Inside `EXEC` that reply stands (a blocking command never
//!    blocks in a transaction); at the top level the connection discards it and calls
//!    [`block`], which queues a [`Waiter`] on each key, under the same keyspace lock the
//!    command ran under, so no write can slip in between "found nothing" and "waiting".
//! 2. Writers signal keys ready ([`crate::keyspace::Keyspace::signal_ready`], and every
//!    [`crate::keyspace::Db::insert_entry`]). A signal costs nothing for keys nobody waits on.
//! 3. After each command (so after a whole `EXEC`, and always before the batch's replies go
//!    out), [`serve_ready`] visits the ready keys. For each, it re-runs the command of each
//!    waiter on that key in the order they blocked, while the key still holds a value of the
//!    type the waiter wants. A waiter whose command now produces a reply is unblocked and the
//!    reply goes to its connection through a oneshot channel; one that still finds nothing
//!    stays queued in its place. A re-run that writes (`BLMOVE` into a list others wait on)
//!    signals more keys, which are served in the same pass.
//! 4. A waiter leaves by being served, by its timeout, by `CLIENT UNBLOCK`, or when its
//!    connection ends ([`unblock`]); each removes it from every queue, leaving no trace.
//!
//! Writes of another type (a `SET` over a key a `BLPOP` waits on) signal the key too, but a
//! waiter is only re-run while the key holds the type it waits for, so they wake nobody.

use crate::keyspace::Keyspace;
use crate::resp::Reply;
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::oneshot;

/// Re-runs a blocked command for its waiter: `Some(reply)` to unblock it with that reply,
/// `None` if it would still block. Arguments: the keyspace, the waiter's db, its command.
pub type ServeFn = fn(&mut Keyspace, usize, &[Bytes]) -> Option<Reply>;

/// [`BlockRequest::wants`] for a waiter re-run whenever its key is signalled, even when the
/// key is gone or holds another type: XREADGROUP, which Redis wakes with `NOGROUP` or
/// `WRONGTYPE` when its stream is deleted or replaced (and with `NOGROUP` when its group is
/// destroyed).
pub const ANY_TYPE: &str = "*";

/// What a blocking command asks for when it found nothing to do.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    /// The keys to wait on, in the order the command names them.
    pub keys: Vec<Bytes>,
    /// How long to wait; `None` waits for ever.
    pub timeout: Option<Duration>,
    /// The `TYPE` name of the value that can serve the waiter (`"list"`).
    pub wants: &'static str,
    /// Re-runs the command when a key is ready.
    pub serve: ServeFn,
    /// The reply on timeout (the null the protocol expects: `*-1` in RESP2, `_` in RESP3).
    pub timeout_reply: Reply,
}

/// A blocked client, queued on each of its keys.
#[derive(Debug)]
pub struct Waiter {
    /// The client's id.
    pub client: u64,
    /// The database the client had selected.
    pub db: usize,
    /// The blocked command, re-run by [`BlockRequest::serve`].
    pub args: Vec<Bytes>,
    /// What the command asked for.
    pub request: BlockRequest,
    reply: oneshot::Sender<Reply>,
}

impl Waiter {
    /// Unblocks the client with `reply`. Returns false if its connection is already gone.
    fn finish(self, reply: Reply) -> bool {
        self.reply.send(reply).is_ok()
    }
}

/// Every blocked client, and who waits on which key in what order. Lives in the
/// [`Keyspace`], behind its lock.
#[derive(Debug, Default)]
pub struct Blocking {
    /// Blocked clients by id.
    waiters: HashMap<u64, Waiter>,
    /// Client ids waiting on `(db, key)`, longest waiting first.
    queues: HashMap<(usize, Bytes), VecDeque<u64>>,
}

impl Blocking {
    /// Whether no client is blocked.
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// How many clients are blocked (`blocked_clients` in INFO clients).
    pub fn blocked_clients(&self) -> usize {
        self.waiters.len()
    }

    /// Whether client `id` is blocked (the `b` flag in CLIENT LIST).
    pub fn is_blocked(&self, id: u64) -> bool {
        self.waiters.contains_key(&id)
    }

    /// The ids of the blocked clients, in no particular order.
    pub fn blocked_client_ids(&self) -> Vec<u64> {
        self.waiters.keys().copied().collect()
    }

    /// How many clients wait on `key` in `db`.
    pub fn waiting_on(&self, db: usize, key: &[u8]) -> usize {
        self.queues.get(&(db, Bytes::copy_from_slice(key))).map_or(0, VecDeque::len)
    }
}

/// Blocks client `client` (in database `db`) on the keys of `request`. The receiver yields
/// the reply once the client is served or unblocked; if the client was already blocked (a
/// bug), the older wait is dropped first.
pub fn block(keyspace: &mut Keyspace, client: u64, db: usize, args: Vec<Bytes>, request: BlockRequest) -> oneshot::Receiver<Reply> {
    unblock(keyspace, client);
    let (sender, receiver) = oneshot::channel();
    let mut keys: Vec<Bytes> = Vec::with_capacity(request.keys.len());
    for key in &request.keys {
        // BLPOP k k waits on k once.
        if keys.contains(key) {
            continue;
        }
        keys.push(key.clone());
        keyspace.db(db).add_blocking_interest(key);
        keyspace.blocking.queues.entry((db, key.clone())).or_default().push_back(client);
    }
    let request = BlockRequest { keys, ..request };
    keyspace.blocking.waiters.insert(client, Waiter { client, db, args, request, reply: sender });
    receiver
}

/// Removes client `client` from every queue without replying (timeout handled by the caller,
/// or a closed connection). Returns its waiter, or `None` if it was not blocked (for example
/// because it was just served: its reply is then waiting in its channel).
pub fn unblock(keyspace: &mut Keyspace, client: u64) -> Option<Waiter> {
    let waiter = keyspace.blocking.waiters.remove(&client)?;
    for key in &waiter.request.keys {
        let slot = (waiter.db, key.clone());
        if let Some(queue) = keyspace.blocking.queues.get_mut(&slot) {
            queue.retain(|id| *id != client);
            if queue.is_empty() {
                keyspace.blocking.queues.remove(&slot);
            }
        }
        keyspace.db(waiter.db).remove_blocking_interest(key);
    }
    Some(waiter)
}

/// How `CLIENT UNBLOCK` ends a wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnblockMode {
    /// Reply as if the timeout had passed.
    Timeout,
    /// Reply `-UNBLOCKED client unblocked via CLIENT UNBLOCK`.
    Error,
}

/// The error a client unblocked by `CLIENT UNBLOCK id ERROR` receives.
pub const UNBLOCKED_ERROR: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// Unblocks client `client` as `CLIENT UNBLOCK` does. Returns whether it was blocked.
pub fn unblock_client(keyspace: &mut Keyspace, client: u64, mode: UnblockMode) -> bool {
    let Some(waiter) = unblock(keyspace, client) else { return false };
    let reply = match mode {
        UnblockMode::Timeout => waiter.request.timeout_reply.clone(),
        UnblockMode::Error => Reply::error(UNBLOCKED_ERROR),
    };
    waiter.finish(reply);
    true
}

/// Serves the waiters on every key signalled ready, repeating while serving makes more keys
/// ready. Called after each command with the keyspace locked.
pub fn serve_ready(keyspace: &mut Keyspace) {
    if keyspace.blocking.is_empty() {
        return;
    }
    // Each round serves at least one waiter or finds nothing to do, and waiters are finite,
    // so this ends; the bound only guards against a serve function that keeps signalling.
    for _ in 0..1_000_000 {
        let ready = keyspace.take_ready();
        if ready.is_empty() {
            return;
        }
        for (db, key) in ready {
            serve_key(keyspace, db, &key);
        }
    }
}

/// Serves the waiters on one key in FIFO order while the key can serve them.
fn serve_key(keyspace: &mut Keyspace, db: usize, key: &Bytes) {
    let slot = (db, key.clone());
    let Some(queue) = keyspace.blocking.queues.get(&slot) else { return };
    let order: Vec<u64> = queue.iter().copied().collect();
    for client in order {
        let Some(wants) = keyspace.blocking.waiters.get(&client).map(|w| w.request.wants) else { continue };
        let now = keyspace.now_ms();
        let holds = keyspace.db(db).get_value(key, now).map(|v| v.type_name());
        if wants != ANY_TYPE && holds != Some(wants) {
            // The key is gone or holds another type: this waiter keeps waiting.
            continue;
        }
        let Some(waiter) = keyspace.blocking.waiters.remove(&client) else { continue };
        match (waiter.request.serve)(keyspace, waiter.db, &waiter.args) {
            None => {
                keyspace.blocking.waiters.insert(client, waiter);
            }
            Some(reply) => {
                // Put it back only to take it out of every queue the usual way.
                keyspace.blocking.waiters.insert(client, waiter);
                if let Some(waiter) = unblock(keyspace, client) {
                    waiter.finish(reply);
                }
            }
        }
    }
}

/// The keys of a `CMD key [key ...] timeout` command (BLPOP, BRPOP, BZPOPMIN, BZPOPMAX):
/// every argument between the command name and the trailing timeout; empty if there are none.
pub fn keys_before_timeout(args: &[Bytes]) -> &[Bytes] {
    args.get(1..args.len().saturating_sub(1)).unwrap_or_default()
}

/// Parses a blocking command's timeout in seconds as Redis does. `Ok(None)` waits for ever.
///
/// Errors: `ERR timeout is not a float or out of range`, `ERR timeout is negative`,
/// `ERR timeout is out of range`.
pub fn parse_timeout(arg: &[u8], now_ms: u64) -> Result<Option<Duration>, Reply> {
    let seconds = crate::cmd::args::float(arg).map_err(|_| Reply::error("ERR timeout is not a float or out of range"))?;
    let ms = (seconds * 1000.0).ceil();
    // Redis converts to a 64-bit integer; out-of-range values come out negative on x86.
    if !(0.0..9.2e18).contains(&ms) {
        return Err(Reply::error("ERR timeout is negative"));
    }
    let ms = ms as u64;
    if ms == 0 {
        return Ok(None);
    }
    if ms > (i64::MAX as u64).saturating_sub(now_ms) {
        return Err(Reply::error("ERR timeout is out of range"));
    }
    Ok(Some(Duration::from_millis(ms)))
}

/// `CLIENT UNBLOCK client-id [TIMEOUT | ERROR]`: unblocks a client blocked in a blocking
/// command, as if its timeout passed (default) or with an `UNBLOCKED` error. Replies 1 if the
/// client was blocked, else 0. For the CLIENT command family's table.
///
/// Errors: `ERR value is not an integer or out of range`,
/// `ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR`.
pub fn client_unblock_command(ctx: &mut crate::cmd::Ctx<'_>, args: &[Bytes]) -> Reply {
    let Some(id) = args.get(2).and_then(|a| crate::resp::parse_i64(a)) else {
        return Reply::error("ERR value is not an integer or out of range");
    };
    let mode = match args.get(3) {
        None => UnblockMode::Timeout,
        Some(word) if word.eq_ignore_ascii_case(b"timeout") => UnblockMode::Timeout,
        Some(word) if word.eq_ignore_ascii_case(b"error") => UnblockMode::Error,
        Some(_) => return Reply::error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    if args.len() > 4 {
        return Reply::error("ERR syntax error");
    }
    let Ok(id) = u64::try_from(id) else { return Reply::Integer(0) };
    Reply::from(unblock_client(ctx.keyspace, id, mode))
}
