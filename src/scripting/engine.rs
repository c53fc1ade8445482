//! The interpreter, the EVAL script cache, and running a script for a client.

use super::api;
use super::busy::Kind;
use super::raw::{self, Run, Slot};
use super::sandbox;
use super::shebang::{self, Flags};
use crate::cmd::Ctx;
use crate::resp::Reply;
use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, VmState};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// How many Lua instructions run between two looks at the kill flag.
const HOOK_EVERY: u32 = 100_000;

/// Commands Redis refuses inside scripts beyond those whose table row says `noscript`.
pub const NOSCRIPT: &[&str] = &[
    "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro", "script", "function", "subscribe", "unsubscribe",
    "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "monitor", "sync", "psync", "replconf", "wait",
    "waitaof", "shutdown", "save", "debug", "multi", "exec", "discard", "watch", "unwatch", "client", "hello", "auth",
    "reset", "quit",
];

/// `ERR Write commands are not allowed from read-only scripts.`
pub const READ_ONLY_SCRIPT_ERROR: &str = "ERR Write commands are not allowed from read-only scripts.";

/// Where the libraries under `src/scripting/lib/` (cjson, cmsgpack, bit, struct) are loaded
/// into a new interpreter, before the sandbox freezes the globals. THE single call site for
/// `lib::register_all`.
fn load_libraries(lua: &Lua) -> mlua::Result<()> {
    super::lib::register_all(lua)
}

/// A script past [`HOOK_EVERY`] instructions may run for long: hand this runtime worker's
/// queued tasks to another thread (`block_in_place`), or a connection task parked in this
/// worker's local slot could never run to answer -BUSY or SCRIPT KILL. Once handed off, later
/// calls cost nothing. Not possible (and not needed) outside a multi-threaded runtime.
pub(super) fn hand_off_runtime_worker() {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            tokio::task::block_in_place(|| ());
        }
    }
}

/// How a script is run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// EVAL-family or FCALL-family (decides which KILL stops it and the BUSY wording).
    pub kind: Kind,
    /// Called through a `_RO` command: write commands are refused.
    pub read_only: bool,
    /// The script's declared flags.
    pub flags: Flags,
}

/// One Lua interpreter with Redis's sandbox and `redis` API. EVAL scripts share one; FUNCTION
/// libraries can have their own.
pub struct Interpreter {
    /// The Lua state.
    pub lua: Lua,
    /// The real global table (scripts see [`Interpreter::env`], a read-only view of it).
    pub globals: Table,
    /// The environment compiled scripts run in.
    pub env: Table,
    /// The `redis` table (its real, writable table, before the sandbox's read-only proxy).
    pub redis: Table,
    /// `entry(f)`, the C function that runs a script (see [`raw`]).
    entry: Function,
    /// Where `entry`, `redis.call` and friends find the running script. Boxed: its address
    /// is stored in those C functions. Declared after `lua` so that it is dropped after it.
    slot: Box<Slot>,
}

impl std::fmt::Debug for Interpreter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interpreter").field("used_memory", &self.lua.used_memory()).finish_non_exhaustive()
    }
}

impl Interpreter {
    /// A fresh interpreter. `kill` is the flag SCRIPT KILL / FUNCTION KILL raise (the
    /// [`Kind`] to stop, 0 for none); the instruction hook checks it.
    pub fn new(kill: Arc<AtomicU8>) -> mlua::Result<Interpreter> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::OS;
        let lua = Lua::new_with(libs, LuaOptions::new())?;
        load_libraries(&lua)?;
        let globals = lua.globals();
        let redis = api::redis_table(&lua)?;
        globals.raw_set("redis", redis.clone())?;
        let handler = lua.create_function(api::error_handler)?;
        let slot = Box::new(Slot::default());
        let functions = raw::create(&lua, &slot, &handler, &globals)?;
        redis.raw_set("call", functions.call)?;
        redis.raw_set("pcall", functions.pcall)?;
        redis.raw_set("setresp", functions.setresp)?;
        let env = sandbox::apply(&lua)?;
        lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), move |_, _| {
            match kill.load(Ordering::SeqCst) {
                1 => Err(api::raise("ERR Script killed by user with SCRIPT KILL...")),
                2 => Err(api::raise("ERR Script killed by user with FUNCTION KILL...")),
                super::busy::SHUTDOWN_KILL => Err(api::raise("ERR Script killed by SHUTDOWN NOSAVE")),
                _ => {
                    hand_off_runtime_worker();
                    Ok(VmState::Continue)
                }
            }
        })?;
        Ok(Interpreter { lua, globals, env, redis, entry: functions.entry, slot })
    }

    /// Compiles a script body under `chunk_name` (`@user_script` for EVAL) in the sandbox.
    /// Errors with Lua's message (`user_script:1: ...`).
    pub fn compile(&self, body: &[u8], chunk_name: &str) -> Result<Function, String> {
        self.lua
            .load(body)
            .set_name(chunk_name)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })
    }

    /// Runs `function` for the client in `ctx` with the keyspace locked: an EVAL script with
    /// KEYS and ARGV set, a function (`options.kind` Function) with `keys` and `argv` as its
    /// two parameters. `name` goes into error replies (`script: <name>, on @user_script:1.`).
    /// The client's db and protocol are restored afterwards (SELECT inside a script affects
    /// only the script).
    pub fn run(&self, ctx: &mut Ctx<'_>, function: &Function, name: &str, keys: &[Bytes], argv: &[Bytes], options: RunOptions) -> Reply {
        let shared = ctx.shared;
        let saved_db = ctx.client.db;
        let caller_protocol = ctx.client.protocol;
        shared.scripting.busy.start(options.kind);
        let mut run = Run::new(ctx, options, keys, argv, name);
        let outcome = {
            let _active = self.slot.activate(&mut run);
            self.entry.call::<()>(function)
        };
        let (result, panic) = run.finish();
        shared.scripting.busy.end();
        ctx.client.db = saved_db;
        ctx.client.protocol = caller_protocol;
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
        match (outcome, result) {
            (Ok(()), Some(reply)) => reply,
            (Ok(()), None) => Reply::error(format!("ERR Error running script {name}: no reply")),
            (Err(e), _) => Reply::error(format!("ERR Error running script {name}: {}", api::rust_error_text(&e))),
        }
    }

    /// Memory the interpreter uses, in bytes (`used_memory_lua`).
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }
}

/// A script's SHA1 in lower-case hex: the key of the EVAL cache.
pub type Sha = [u8; 40];

/// How many scripts first cached by EVAL the cache keeps (Redis 7.4's `LRU_LIST_LENGTH`):
/// past it, the least recently run of them is evicted. Scripts cached by SCRIPT LOAD stay.
pub const EVAL_SCRIPTS_KEPT: usize = 500;

/// A script in the EVAL cache.
pub struct CachedScript {
    /// The body as the client sent it.
    pub body: Bytes,
    /// The compiled function.
    pub function: Function,
    /// Its shebang flags.
    pub flags: Flags,
    sha: Sha,
    /// For a script cached by EVAL (evictable): when it last ran, as a tick of
    /// `Engine::tick`; 0 for one cached by SCRIPT LOAD, never evicted.
    last_run: std::cell::Cell<u64>,
}

impl CachedScript {
    /// Its SHA1, lower-case hex.
    pub fn sha(&self) -> &str {
        std::str::from_utf8(&self.sha).unwrap_or_default()
    }
}

/// The EVAL interpreter and its script cache; SCRIPT FLUSH replaces it whole.
pub struct Engine {
    /// The interpreter, `None` if Lua could not be started (every EVAL then errors).
    pub interpreter: Option<Interpreter>,
    scripts: foldhash::HashMap<Sha, CachedScript>,
    /// The SHA1 of each cached body, so that EVAL finds a cached script without hashing its
    /// body with SHA1 again.
    by_body: foldhash::HashMap<Bytes, Sha>,
    /// Bytes of script bodies in the cache (`used_memory_scripts_eval`).
    scripts_memory: usize,
    /// How many cached scripts are evictable (cached by EVAL, never by SCRIPT LOAD).
    evictable: usize,
    /// The clock of [`CachedScript`]'s `last_run`: one tick per script run.
    tick: std::cell::Cell<u64>,
    /// Scripts evicted so far (INFO `evicted_scripts`); kept across SCRIPT FLUSH.
    evicted: u64,
    kill: Arc<AtomicU8>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("scripts", &self.scripts.len()).finish_non_exhaustive()
    }
}

/// Lower-case hex SHA1 of a script body.
pub fn sha1_hex(body: &[u8]) -> String {
    String::from_utf8_lossy(&sha1_key(body)).into_owned()
}

fn sha1_key(body: &[u8]) -> Sha {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = sha1_smol::Sha1::from(body).digest().bytes();
    let mut key = [0u8; 40];
    for (pair, byte) in key.chunks_exact_mut(2).zip(digest) {
        let digit = |n: u8| HEX.get(usize::from(n)).copied().unwrap_or(b'0');
        pair.copy_from_slice(&[digit(byte >> 4), digit(byte & 0xf)]);
    }
    key
}

/// A SHA1 as a client sent it (any case) as a cache key; `None` if it is not 40 characters.
fn sha_key(sha: &[u8]) -> Option<Sha> {
    let mut key: Sha = sha.try_into().ok()?;
    key.make_ascii_lowercase();
    Some(key)
}

impl Engine {
    /// A fresh interpreter and an empty cache.
    pub fn new(kill: Arc<AtomicU8>) -> Engine {
        let interpreter = match Interpreter::new(kill.clone()) {
            Ok(interpreter) => Some(interpreter),
            Err(e) => {
                tracing::error!("could not start the Lua interpreter: {e}");
                None
            }
        };
        Engine {
            interpreter,
            scripts: Default::default(),
            by_body: Default::default(),
            scripts_memory: 0,
            evictable: 0,
            tick: std::cell::Cell::new(0),
            evicted: 0,
            kill,
        }
    }

    /// SCRIPT FLUSH: a new interpreter, an empty cache.
    pub fn reset(&mut self) {
        let evicted = self.evicted;
        *self = Engine::new(self.kill.clone());
        self.evicted = evicted;
    }

    /// Scripts evicted from the cache so far (INFO `evicted_scripts`).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Records that `script` runs now (it becomes the most recently run of the evictable ones).
    pub fn touch(&self, script: &CachedScript) {
        if script.last_run.get() != 0 {
            let tick = self.tick.get() + 1;
            self.tick.set(tick);
            script.last_run.set(tick);
        }
    }

    /// Number of cached scripts.
    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// Bytes of cached script bodies.
    pub fn scripts_memory(&self) -> usize {
        self.scripts_memory
    }

    /// Memory the interpreter uses.
    pub fn used_memory(&self) -> usize {
        self.interpreter.as_ref().map_or(0, Interpreter::used_memory)
    }

    /// Whether a script with this SHA1 (any case) is cached.
    pub fn contains(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    /// Compiles and caches `body` (a no-op if cached); returns its SHA1. Errors are replies:
    /// shebang errors and `ERR Error compiling script (new function): ...`.
    /// SCRIPT LOAD's: a script it caches is never evicted (one EVAL cached first stays
    /// evictable, as in Redis).
    pub fn load(&mut self, body: &Bytes) -> Result<String, Reply> {
        let key = self.load_key(body, false)?;
        Ok(String::from_utf8_lossy(&key).into_owned())
    }

    /// [`Engine::load`], returning the cache key. `by_eval`: EVAL caches it, so it may be
    /// evicted (past [`EVAL_SCRIPTS_KEPT`] such scripts, the least recently run goes).
    pub fn load_key(&mut self, body: &Bytes, by_eval: bool) -> Result<Sha, Reply> {
        if let Some(key) = self.by_body.get(body) {
            return Ok(*key);
        }
        let key = sha1_key(body);
        if self.scripts.contains_key(&key) {
            return Ok(key);
        }
        let flags = shebang::parse(body).map_err(Reply::error)?;
        let Some(interpreter) = self.interpreter.as_ref() else {
            return Err(Reply::error("ERR Lua interpreter unavailable"));
        };
        let function = interpreter
            .compile(&shebang::compiled_body(body), "@user_script")
            .map_err(|message| Reply::error(format!("ERR Error compiling script (new function): {message}")))?;
        if by_eval {
            while self.evictable >= EVAL_SCRIPTS_KEPT && self.evict_least_recently_run() {}
        }
        let last_run = std::cell::Cell::new(0);
        if by_eval {
            let tick = self.tick.get() + 1;
            self.tick.set(tick);
            last_run.set(tick);
            self.evictable += 1;
        }
        self.scripts_memory += body.len();
        self.scripts.insert(key, CachedScript { body: body.clone(), function, flags, sha: key, last_run });
        self.by_body.insert(body.clone(), key);
        Ok(key)
    }

    /// Removes the evictable script that ran least recently; false if there is none.
    fn evict_least_recently_run(&mut self) -> bool {
        let oldest = self
            .scripts
            .iter()
            .filter(|(_, script)| script.last_run.get() != 0)
            .min_by_key(|(_, script)| script.last_run.get())
            .map(|(key, _)| *key);
        let Some(script) = oldest.and_then(|key| self.scripts.remove(&key)) else {
            return false;
        };
        self.by_body.remove(&script.body);
        self.scripts_memory -= script.body.len();
        self.evictable -= 1;
        self.evicted += 1;
        true
    }

    /// The cached script for a SHA1 (any case).
    pub fn get(&self, sha: &[u8]) -> Option<&CachedScript> {
        self.scripts.get(&sha_key(sha)?)
    }
}
