//! The interpreter, the EVAL script cache, and running a script for a client.

use super::api::{self, RunState};
use super::busy::Kind;
use super::shebang::{self, Flags};
use super::{convert, sandbox};
use crate::cmd::{self, Ctx};
use crate::resp::{Protocol, Reply};
use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, Variadic, VmState};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// How many Lua instructions run between two looks at the kill flag.
const HOOK_EVERY: u32 = 100_000;

/// Commands Redis refuses inside scripts beyond those whose table row says `noscript`.
const NOSCRIPT: &[&str] = &[
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
fn hand_off_runtime_worker() {
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
    runner: Function,
    handler: Function,
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
        let runner: Function = api::runner(&lua)?.raw_get("run")?;
        let handler = lua.create_function(api::error_handler)?;
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
        Ok(Interpreter { lua, globals, env, redis, runner, handler })
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

    /// Runs `function` for the client in `ctx` with the keyspace locked: KEYS and ARGV set,
    /// `redis.call` and `redis.pcall` bound to `ctx`. `name` goes into error replies
    /// (`script: <name>, on @user_script:1.`). The client's db and protocol are restored
    /// afterwards (SELECT inside a script affects only the script).
    pub fn run(&self, ctx: &mut Ctx<'_>, function: &Function, name: &str, keys: &[Bytes], argv: &[Bytes], options: RunOptions) -> Reply {
        if let Err(e) = self.set_keys_and_args(keys, argv) {
            return Reply::error(format!("ERR Error running script {name}: {e}"));
        }
        self.lua.set_app_data(RunState::default());
        let shared = ctx.shared;
        let saved_db = ctx.client.db;
        let caller_protocol = ctx.client.protocol;
        shared.scripting.busy.start(options.kind);
        let client_ctx = std::cell::RefCell::new(&mut *ctx);
        let result = self.lua.scope(|scope| {
            let call = scope.create_function(|lua, args: Variadic<Value>| {
                let mut ctx = client_ctx.try_borrow_mut().map_err(|_| api::raise("ERR recursive redis.call"))?;
                match script_call(lua, &mut ctx, &args, &options)? {
                    Ok(value) => Ok(value),
                    Err(text) => Err(api::raise(&String::from_utf8_lossy(&text))),
                }
            })?;
            let pcall = scope.create_function(|lua, args: Variadic<Value>| {
                let mut ctx = client_ctx.try_borrow_mut().map_err(|_| api::raise("ERR recursive redis.call"))?;
                match script_call(lua, &mut ctx, &args, &options)? {
                    Ok(value) => Ok(value),
                    Err(text) => Ok(Value::Table(api::error_table(lua, &text)?)),
                }
            })?;
            self.redis.raw_set("call", call)?;
            self.redis.raw_set("pcall", pcall)?;
            let mut results: MultiValue = self.runner.call((function.clone(), self.handler.clone()))?;
            let ok = matches!(results.pop_front(), Some(Value::Boolean(true)));
            let value = results.pop_front().unwrap_or(Value::Nil);
            let resp3 = self.lua.app_data_ref::<RunState>().is_some_and(|s| s.resp3);
            Ok(if ok { convert::lua_to_reply(&value, resp3, caller_protocol) } else { script_error(&value, name) })
        });
        shared.scripting.busy.end();
        ctx.client.db = saved_db;
        ctx.client.protocol = caller_protocol;
        result.unwrap_or_else(|e| Reply::error(format!("ERR Error running script {name}: {}", api::rust_error_text(&e))))
    }

    fn set_keys_and_args(&self, keys: &[Bytes], argv: &[Bytes]) -> mlua::Result<()> {
        for (name, items) in [("KEYS", keys), ("ARGV", argv)] {
            let table = self.lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                table.raw_set(i + 1, self.lua.create_string(item)?)?;
            }
            self.globals.raw_set(name, table)?;
        }
        Ok(())
    }

    /// Memory the interpreter uses, in bytes (`used_memory_lua`).
    pub fn used_memory(&self) -> usize {
        self.lua.used_memory()
    }
}

/// The error reply for a script that raised `error`, in Redis 7's form:
/// `<err> script: <name>, on <source>:<line>.`
fn script_error(error: &Value, name: &str) -> Reply {
    let Value::Table(table) = error else {
        let text = match error {
            Value::String(s) => s.to_string_lossy().chars().take(100).collect::<String>(),
            _ => "execution failure".to_string(),
        };
        return Reply::error(format!("ERR Error running script {name}, {text}"));
    };
    let mut text: Vec<u8> = match table.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.as_bytes().to_vec(),
        _ => b"ERR unknown error".to_vec(),
    };
    let source = match table.raw_get::<Value>("source") {
        Ok(Value::String(s)) => Some(s.to_string_lossy()),
        _ => None,
    };
    let line = match table.raw_get::<Value>("line") {
        Ok(Value::Integer(n)) => Some(n.to_string()),
        Ok(Value::Number(n)) => Some((n as i64).to_string()),
        Ok(Value::String(s)) => Some(s.to_string_lossy()),
        _ => None,
    };
    if let (Some(source), Some(line)) = (source, line) {
        text.extend_from_slice(format!(" script: {name}, on {source}:{line}.").as_bytes());
    }
    convert::error_reply_from(&text)
}

/// `redis.call` / `redis.pcall`: runs one command for the script. `Ok(Err(text))` is an error
/// reply, which `redis.call` raises and `redis.pcall` returns as `{err=text}`.
fn script_call(lua: &Lua, ctx: &mut Ctx<'_>, values: &[Value], options: &RunOptions) -> mlua::Result<Result<Value, Bytes>> {
    let fail = |text: &'static str| -> mlua::Result<Result<Value, Bytes>> { Ok(Err(Bytes::from_static(text.as_bytes()))) };
    let args = match api::command_args(lua, values) {
        Ok(args) => args,
        Err(text) => return fail(text),
    };
    let spec = match cmd::resolve(&args) {
        cmd::Resolved::Command(spec) => spec,
        cmd::Resolved::Rejected(reply) => {
            let known = args.first().and_then(|name| cmd::lookup(name));
            return match known {
                None => fail("ERR Unknown Redis command called from script"),
                Some(spec) if !spec.arity_ok(args.len()) => fail("ERR Wrong number of args calling Redis command from script"),
                Some(_) => match reply {
                    Reply::Error(text) => Ok(Err(text)),
                    _ => fail("ERR Unknown Redis command called from script"),
                },
            };
        }
    };
    let top = spec.name.split('|').next().unwrap_or(spec.name);
    if spec.has_flag("noscript") || NOSCRIPT.contains(&top) {
        return fail("ERR This Redis command is not allowed from script");
    }
    if spec.has_flag("write") {
        if options.read_only || options.flags.no_writes {
            return fail(READ_ONLY_SCRIPT_ERROR);
        }
        ctx.shared.scripting.busy.mark_written();
    }
    let resp3 = lua.app_data_ref::<RunState>().is_some_and(|s| s.resp3);
    let caller_protocol = ctx.client.protocol;
    ctx.client.protocol = if resp3 { Protocol::Resp3 } else { Protocol::Resp2 };
    let reply = cmd::execute(spec, ctx, &args);
    ctx.client.protocol = caller_protocol;
    // Blocking commands answer at once inside a script: drop any wait they asked for.
    ctx.client.block_request = None;
    ctx.client.block_args = None;
    if let Reply::Error(text) = reply {
        return Ok(Err(text));
    }
    Ok(Ok(convert::reply_to_lua(lua, &reply, resp3)?))
}

/// A script in the EVAL cache.
pub struct CachedScript {
    /// The body as the client sent it.
    pub body: Bytes,
    /// The compiled function.
    pub function: Function,
    /// Its shebang flags.
    pub flags: Flags,
}

/// The EVAL interpreter and its script cache; SCRIPT FLUSH replaces it whole.
pub struct Engine {
    /// The interpreter, `None` if Lua could not be started (every EVAL then errors).
    pub interpreter: Option<Interpreter>,
    scripts: HashMap<String, CachedScript>,
    /// Bytes of script bodies in the cache (`used_memory_scripts_eval`).
    scripts_memory: usize,
    kill: Arc<AtomicU8>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("scripts", &self.scripts.len()).finish_non_exhaustive()
    }
}

/// Lower-case hex SHA1 of a script body.
pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
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
        Engine { interpreter, scripts: HashMap::new(), scripts_memory: 0, kill }
    }

    /// SCRIPT FLUSH: a new interpreter, an empty cache.
    pub fn reset(&mut self) {
        *self = Engine::new(self.kill.clone());
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
        std::str::from_utf8(sha).is_ok_and(|s| self.scripts.contains_key(&s.to_ascii_lowercase()))
    }

    /// Compiles and caches `body` (a no-op if cached); returns its SHA1. Errors are replies:
    /// shebang errors and `ERR Error compiling script (new function): ...`.
    pub fn load(&mut self, body: &Bytes) -> Result<String, Reply> {
        let sha = sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let flags = shebang::parse(body).map_err(Reply::error)?;
        let Some(interpreter) = self.interpreter.as_ref() else {
            return Err(Reply::error("ERR Lua interpreter unavailable"));
        };
        let function = interpreter
            .compile(&shebang::compiled_body(body), "@user_script")
            .map_err(|message| Reply::error(format!("ERR Error compiling script (new function): {message}")))?;
        self.scripts_memory += body.len();
        self.scripts.insert(sha.clone(), CachedScript { body: body.clone(), function, flags });
        Ok(sha)
    }

    /// The cached script for a SHA1 (any case).
    pub fn get(&self, sha: &[u8]) -> Option<&CachedScript> {
        let sha = std::str::from_utf8(sha).ok()?;
        if sha.len() != 40 {
            return None;
        }
        self.scripts.get(&sha.to_ascii_lowercase())
    }
}
