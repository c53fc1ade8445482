//! The script time limit.
//!
//! A running script records when it started in [`Busy`]. Past `busy-reply-threshold`
//! milliseconds, other connections stop waiting for the keyspace lock and answer
//! `-BUSY ...` to everything but SCRIPT KILL, FUNCTION KILL and SHUTDOWN NOSAVE (see
//! [`busy_reply`]). SCRIPT KILL raises a flag that the interpreter's instruction hook checks;
//! a script that already wrote cannot be killed (`-UNKILLABLE`).

use crate::keyspace::Keyspace;
use crate::resp::Reply;
use crate::server::Shared;
use bytes::Bytes;
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `-BUSY` error a client gets while a script runs past the threshold.
pub const BUSY_ERROR: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

/// The `-BUSY` error while a function (FCALL) runs past the threshold.
pub const BUSY_FUNCTION_ERROR: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// The error SCRIPT KILL gets for a script that already wrote.
pub const UNKILLABLE_ERROR: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

/// The kill flag's value for SHUTDOWN NOSAVE (beyond the [`Kind`] values).
pub const SHUTDOWN_KILL: u8 = 3;

/// What kind of script runs: SCRIPT KILL stops EVAL scripts, FUNCTION KILL functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// EVAL, EVALSHA and their `_RO` variants.
    Eval = 1,
    /// FCALL and FCALL_RO.
    Function = 2,
}

/// The running script's state, shared without locks.
#[derive(Debug)]
pub struct Busy {
    /// Milliseconds since `epoch` when the running script started, plus one; 0 when none runs.
    started: AtomicU64,
    /// The [`Kind`] of the running script (0 when none).
    kind: AtomicU8,
    /// Set by SCRIPT KILL / FUNCTION KILL to the [`Kind`] to stop (0: none); the
    /// interpreter's instruction hook reads it and ends the script.
    kill: Arc<AtomicU8>,
    /// Raised once the running script called a write command: it can no longer be killed.
    wrote: AtomicBool,
    /// The origin of `started`.
    epoch: Instant,
    /// The running function, for FUNCTION STATS from other clients while it is busy (EVAL
    /// scripts leave it empty: Redis answers FUNCTION STATS with -BUSY during those).
    function: Mutex<Option<RunningFunction>>,
}

/// What FUNCTION STATS shows of a function that runs (its `running_script`), and the library
/// counts it shows with it (the registry itself stays locked while the function runs).
#[derive(Debug, Clone)]
pub struct RunningFunction {
    /// The function's name.
    pub name: String,
    /// The FCALL / FCALL_RO command that runs it, as the client sent it.
    pub command: Vec<Bytes>,
    /// Loaded libraries.
    pub libraries: usize,
    /// Registered functions.
    pub functions: usize,
}

impl Default for Busy {
    fn default() -> Self {
        Busy {
            started: AtomicU64::new(0),
            kind: AtomicU8::new(0),
            kill: Arc::new(AtomicU8::new(0)),
            wrote: AtomicBool::new(false),
            epoch: Instant::now(),
            function: Mutex::new(None),
        }
    }
}

impl Busy {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Marks a script of `kind` as running from now on.
    pub fn start(&self, kind: Kind) {
        self.kill.store(0, Ordering::SeqCst);
        self.wrote.store(false, Ordering::SeqCst);
        self.kind.store(kind as u8, Ordering::SeqCst);
        self.started.store(self.now() + 1, Ordering::SeqCst);
    }

    /// Marks the script as finished.
    pub fn end(&self) {
        self.started.store(0, Ordering::SeqCst);
        self.kind.store(0, Ordering::SeqCst);
        self.kill.store(0, Ordering::SeqCst);
    }

    /// Records the function about to run (`Some`) or that it ended (`None`).
    pub fn set_function(&self, function: Option<RunningFunction>) {
        *self.function.lock() = function;
    }

    /// Records that the running script called a write command.
    pub fn mark_written(&self) {
        self.wrote.store(true, Ordering::SeqCst);
    }

    /// Whether the running script has been asked to stop.
    pub fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::SeqCst) != 0
    }

    /// The flag the interpreter's hook watches (see [`Busy::request_kill`]).
    pub fn kill_flag(&self) -> Arc<AtomicU8> {
        self.kill.clone()
    }

    /// How long the running script has run, if one runs.
    pub fn running_for(&self) -> Option<Duration> {
        let started = self.started.load(Ordering::SeqCst);
        if started == 0 {
            return None;
        }
        Some(Duration::from_millis(self.now().saturating_sub(started - 1)))
    }

    /// The kind of the running script past `threshold_ms`, if one is running that long.
    pub fn busy_kind(&self, threshold_ms: u64) -> Option<Kind> {
        let running = self.running_for()?;
        if running < Duration::from_millis(threshold_ms) {
            return None;
        }
        match self.kind.load(Ordering::SeqCst) {
            1 => Some(Kind::Eval),
            2 => Some(Kind::Function),
            _ => None,
        }
    }

    /// Stops the running script whatever it did (SHUTDOWN NOSAVE).
    pub fn force_kill(&self) {
        if self.running_for().is_some() {
            self.kill.store(SHUTDOWN_KILL, Ordering::SeqCst);
        }
    }

    /// SCRIPT KILL (`kind` Eval) or FUNCTION KILL (`kind` Function) against the running script.
    /// Errors: `NOTBUSY No scripts in execution right now.`, `UNKILLABLE ...`, and
    /// `BUSY`/`NOTBUSY` when the other kind runs (as Redis words them).
    pub fn request_kill(&self, kind: Kind) -> Reply {
        let running = self.started.load(Ordering::SeqCst) != 0;
        let current = self.kind.load(Ordering::SeqCst);
        if !running || current == 0 {
            return Reply::error("NOTBUSY No scripts in execution right now.");
        }
        if current != kind as u8 {
            return match kind {
                Kind::Eval => Reply::error("BUSY Redis is busy running a function. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."),
                Kind::Function => Reply::error("NOTBUSY No scripts in execution right now."),
            };
        }
        if self.wrote.load(Ordering::SeqCst) {
            return Reply::error(UNKILLABLE_ERROR);
        }
        self.kill.store(kind as u8, Ordering::SeqCst);
        Reply::ok()
    }
}

/// How long one attempt to take the keyspace lock waits before looking at the busy state.
const LOCK_SLICE: Duration = Duration::from_millis(5);

/// Takes the keyspace lock, or returns `None` when a script holds it past
/// `busy-reply-threshold`: the caller then answers with [`busy_reply`] instead of waiting.
/// Uncontended, this is one `try_lock`.
pub fn lock_keyspace_unless_busy(shared: &Shared) -> Option<MutexGuard<'_, Keyspace>> {
    if let Some(guard) = shared.keyspace.try_lock() {
        return Some(guard);
    }
    loop {
        if let Some(guard) = shared.keyspace.try_lock_for(LOCK_SLICE) {
            return Some(guard);
        }
        if shared.scripting.busy.running_for().is_some() {
            let threshold = shared.config.read().busy_reply_threshold;
            if shared.scripting.busy.busy_kind(threshold).is_some() {
                return None;
            }
        }
    }
}

/// Takes the keyspace lock without blocking the runtime's thread for long: while a script
/// holds it, waits asynchronously. For work that must happen whatever the busy state
/// (a connection's cleanup).
pub async fn lock_keyspace_async(shared: &Shared) -> MutexGuard<'_, Keyspace> {
    loop {
        if let Some(guard) = shared.keyspace.try_lock_for(LOCK_SLICE) {
            return guard;
        }
        if shared.scripting.busy.running_for().is_some() {
            tokio::time::sleep(LOCK_SLICE).await;
        }
    }
}

/// The reply to `args` while a script is busy: SCRIPT KILL and FUNCTION KILL act, SHUTDOWN
/// NOSAVE stops the server (the caller sees `client.shutdown_requested`), FUNCTION STATS
/// shows the running function (and gets `-BUSY` during an EVAL script, as in Redis),
/// unknown commands and wrong arities get their usual errors, everything else gets `-BUSY`.
pub fn busy_reply(shared: &Shared, client: &mut crate::client::ClientState, args: &[Bytes]) -> Reply {
    // As in Redis, an unknown command or a wrong number of arguments is answered as such
    // before the busy check.
    if let crate::cmd::Resolved::Rejected(reply) = crate::cmd::resolve(args) {
        return reply;
    }
    let word = |i: usize, w: &str| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(w.as_bytes()));
    if args.len() == 2 && word(0, "script") && word(1, "kill") {
        return shared.scripting.busy.request_kill(Kind::Eval);
    }
    if args.len() == 2 && word(0, "function") && word(1, "kill") {
        return shared.scripting.busy.request_kill(Kind::Function);
    }
    if word(0, "shutdown") && (2..=3).contains(&args.len()) && args.iter().skip(1).any(|a| a.eq_ignore_ascii_case(b"nosave")) {
        // Redis exits on the spot; here the script is stopped (written or not) and the
        // server shuts down once its connection sees the request.
        shared.scripting.busy.force_kill();
        client.shutdown_requested = true;
        return Reply::ok();
    }
    let threshold = shared.config.read().busy_reply_threshold;
    let busy = &shared.scripting.busy;
    match busy.busy_kind(threshold) {
        Some(Kind::Function) if args.len() == 2 && word(0, "function") && word(1, "stats") => {
            // FUNCTION STATS is allowed while busy (`allow_busy`): it shows the running function.
            let running = busy.function.lock().clone();
            match running {
                Some(f) => {
                    let duration = busy.running_for().map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                    super::functions::stats_reply(Some((&f.name, &f.command, duration)), f.libraries, f.functions)
                }
                None => Reply::error(BUSY_FUNCTION_ERROR),
            }
        }
        Some(Kind::Function) => Reply::error(BUSY_FUNCTION_ERROR),
        _ => Reply::error(BUSY_ERROR),
    }
}
