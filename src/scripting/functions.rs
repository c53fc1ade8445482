//! Redis Functions: libraries of Lua functions, loaded with FUNCTION LOAD and called with FCALL.
//!
//! A library is Lua source whose first line names it: `#!lua name=<library>`. Loading runs the
//! source once in a restricted environment where `redis` holds only `register_function`, `log`,
//! the `LOG_*` levels and `REDIS_VERSION[_NUM]`; every other global is an error, as in Redis.
//! Each `redis.register_function` call adds one function, in either form:
//!
//! ```lua
//! redis.register_function('name', function(keys, args) ... end)
//! redis.register_function{function_name='name', callback=function(keys, args) ... end,
//!                         flags={'no-writes'}, description='...'}
//! ```
//!
//! Once the load succeeded, the library's environment falls through to the full sandbox (the
//! one EVAL scripts see: `redis.call`, `cjson`, ...), so top-level helper functions work when a
//! registered function calls them. Functions get their keys and arguments as parameters
//! (`function(keys, args)`), not as `KEYS`/`ARGV`.
//!
//! All libraries share one interpreter, separate from EVAL's (SCRIPT FLUSH does not touch them);
//! FUNCTION FLUSH replaces it. Library names are case-sensitive, function names are not, as in
//! Redis. A load that runs longer than [`LOAD_TIMEOUT`] is stopped.
//!
//! FUNCTION DUMP / RESTORE use Redis's payload, so payloads move between Herald and Redis:
//! for each library the byte `0xF5` (RDB_OPCODE_FUNCTION2) and its code as an RDB string
//! (length-prefixed; LZF-compressed and integer-encoded strings are read too), then the RDB
//! version as two little-endian bytes and a CRC-64 (Jones, reflected, as Redis's `crc64`) of
//! everything before it, little-endian.

use super::api;
use super::busy::Kind;
use super::engine::{Interpreter, RunOptions};
use super::shebang::{self, Flags};
use crate::cmd::Ctx;
use crate::resp::Reply;
use bytes::Bytes;
use mlua::{Function, HookTriggers, Lua, MultiValue, Table, Value, Variadic, VmState};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long FUNCTION LOAD may run a library's top-level code (Redis: 500 ms).
pub const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// The RDB version written into DUMP payloads (Redis 7.4's); RESTORE accepts this or older.
pub const RDB_VERSION: u16 = 12;

/// The RDB opcode of a library in a DUMP payload (`RDB_OPCODE_FUNCTION2`).
const OPCODE_FUNCTION: u8 = 0xF5;
/// The pre-GA (7.0 release candidates) library opcode, which Redis no longer reads.
const OPCODE_FUNCTION_PRE_GA: u8 = 0xF6;

/// How many Lua instructions run between two looks at the kill flag and the load deadline.
const HOOK_EVERY: u32 = 100_000;

/// The error for a library or function name with characters other than `[A-Za-z0-9_]`.
const NAME_ERROR: &str =
    "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Lua helpers, run once per interpreter with the sandbox environment and the load-time
/// `redis` fields. `make_env(register)` gives a library's environment and the function that
/// opens it to the full sandbox after the load; `run` calls under a message handler.
const HELPERS: &str = r#"
local runtime_env, api_fields = ...
local setmetatable, error, tostring, xpcall = setmetatable, error, tostring, xpcall
local function readonly() error('Attempt to modify a readonly table', 2) end
local helpers = {}
function helpers.make_env(register)
  local redis_api = setmetatable({}, {
    __index = function(_, k)
      if k == 'register_function' then return register end
      local v = api_fields[k]
      if v == nil then
        error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
      end
      return v
    end,
    __newindex = readonly, __metatable = false})
  local mt = {__newindex = readonly, __metatable = false}
  mt.__index = function(_, k)
    if k == 'redis' then return redis_api end
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end
  return setmetatable({}, mt), function() mt.__index = runtime_env end
end
function helpers.run(f, handler)
  return xpcall(f, handler)
end
return helpers
"#;

/// The `redis` fields a library's top-level code may use besides `register_function`.
const LOAD_API_FIELDS: &[&str] =
    &["log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM"];

/// One registered function.
pub struct FunctionDef {
    /// The name as registered (FCALL finds it in any case).
    pub name: String,
    /// `description=` of the table form.
    pub description: Option<Bytes>,
    /// `flags=` of the table form (no shebang: functions never run in compatibility mode).
    pub flags: Flags,
    callback: Function,
}

/// A loaded library: its name, code and functions in registration order.
pub struct Library {
    /// The name from `#!lua name=<name>`.
    pub name: String,
    /// The code as loaded (FUNCTION LIST WITHCODE, DUMP).
    pub code: Bytes,
    /// Its functions.
    pub functions: Vec<FunctionDef>,
}

/// The interpreter libraries live in, with the helpers loaded into it.
struct Runtime {
    interpreter: Interpreter,
    make_env: Function,
    run: Function,
    handler: Function,
    /// Milliseconds since `epoch` past which the running load is stopped; 0: no load runs.
    deadline: Arc<AtomicU64>,
    epoch: Instant,
}

impl Runtime {
    fn new(kill: Arc<AtomicU8>) -> mlua::Result<Runtime> {
        let interpreter = Interpreter::new(kill.clone())?;
        let lua = &interpreter.lua;
        let fields = lua.create_table()?;
        for name in LOAD_API_FIELDS {
            let value: Value = interpreter.redis.raw_get(*name)?;
            fields.raw_set(*name, value)?;
        }
        let helpers: Table = lua.load(HELPERS).set_name("=herald functions").call((interpreter.env.clone(), fields))?;
        let deadline = Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        // Replaces the interpreter's own hook: FUNCTION KILL, and the FUNCTION LOAD timeout.
        let hook_deadline = deadline.clone();
        lua.set_hook(HookTriggers::new().every_nth_instruction(HOOK_EVERY), move |_, _| {
            if kill.load(Ordering::SeqCst) == Kind::Function as u8 {
                return Err(api::raise("ERR Script killed by user with FUNCTION KILL..."));
            }
            let deadline = hook_deadline.load(Ordering::SeqCst);
            if deadline != 0 && elapsed_ms(epoch) > deadline {
                return Err(api::raise("ERR FUNCTION LOAD timeout"));
            }
            // As for EVAL scripts: let the connection that will send FUNCTION KILL run.
            super::engine::hand_off_runtime_worker();
            Ok(VmState::Continue)
        })?;
        Ok(Runtime {
            make_env: helpers.raw_get("make_env")?,
            run: helpers.raw_get("run")?,
            handler: lua.create_function(api::error_handler)?,
            interpreter,
            deadline,
            epoch,
        })
    }

    /// Compiles and runs a library's code; returns the functions it registered. Errors are the
    /// reply texts (`ERR Error compiling function: ...`, `ERR Error registering functions: ...`,
    /// `ERR No functions registered`).
    fn create(&self, code: &[u8]) -> Result<Vec<FunctionDef>, String> {
        let lua = &self.interpreter.lua;
        let body = shebang::compiled_body(code);
        let mut registered: Vec<FunctionDef> = Vec::new();
        let outcome = lua.scope(|scope| {
            let register = scope.create_function_mut(|lua, args: Variadic<Value>| {
                let function = registration(lua, args).map_err(|text| api::raise(&format!("ERR {text}")))?;
                if !valid_name(function.name.as_bytes()) {
                    return Err(api::raise(&format!("ERR {NAME_ERROR}")));
                }
                if registered.iter().any(|f| f.name.eq_ignore_ascii_case(&function.name)) {
                    return Err(api::raise("ERR Function already exists in the library"));
                }
                registered.push(function);
                Ok(())
            })?;
            let (env, open): (Table, Function) = self.make_env.call(register)?;
            let chunk = match lua.load(&*body).set_name("@user_function").set_environment(env).into_function() {
                Ok(chunk) => chunk,
                Err(mlua::Error::SyntaxError { message, .. }) => {
                    return Ok(Err(format!("ERR Error compiling function: {message}")));
                }
                Err(other) => return Ok(Err(format!("ERR Error compiling function: {other}"))),
            };
            let limit = elapsed_ms(self.epoch) + u64::try_from(LOAD_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
            self.deadline.store(limit.max(1), Ordering::SeqCst);
            let result: mlua::Result<MultiValue> = self.run.call((chunk, self.handler.clone()));
            self.deadline.store(0, Ordering::SeqCst);
            let mut result = result?;
            if matches!(result.pop_front(), Some(Value::Boolean(true))) {
                open.call::<()>(())?;
                return Ok(Ok(()));
            }
            let text = match result.pop_front() {
                Some(Value::Table(error)) => match error.raw_get::<Value>("err")? {
                    Value::String(s) => s.to_string_lossy(),
                    _ => "ERR unknown error".to_string(),
                },
                _ => "ERR unknown error".to_string(),
            };
            Ok(Err(format!("ERR Error registering functions: {text}")))
        });
        match outcome {
            Ok(Ok(())) if registered.is_empty() => Err("ERR No functions registered".into()),
            Ok(Ok(())) => Ok(registered),
            Ok(Err(text)) => Err(text),
            Err(e) => Err(format!("ERR Error registering functions: {}", api::rust_error_text(&e))),
        }
    }
}

fn elapsed_ms(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Redis's rule for library and function names: `[A-Za-z0-9_]+`.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Parses the arguments of one `redis.register_function` call. Errors without the `ERR `.
fn registration(lua: &Lua, args: Variadic<Value>) -> Result<FunctionDef, &'static str> {
    let string = |value: Value| -> Option<Bytes> {
        match lua.coerce_string(value) {
            Ok(Some(s)) => Some(Bytes::copy_from_slice(&s.as_bytes())),
            _ => None,
        }
    };
    let mut args = args.into_iter();
    let (first, second, third) = (args.next(), args.next(), args.next());
    let (name, callback, flags, description) = match (first, second, third) {
        (Some(Value::Table(named)), None, None) => {
            let (mut name, mut callback, mut flags, mut description) = (None, None, Flags::default(), None);
            for pair in named.pairs::<Value, Value>() {
                let Ok((key, value)) = pair else { return Err("unknown argument given to redis.register_function") };
                let key = match &key {
                    Value::String(s) => s.as_bytes().to_vec(),
                    _ => return Err("unknown argument given to redis.register_function"),
                };
                match key.as_slice() {
                    b"function_name" => {
                        name = Some(
                            string(value).ok_or("function_name argument given to redis.register_function must be a string")?,
                        );
                    }
                    b"callback" => match value {
                        Value::Function(f) => callback = Some(f),
                        _ => return Err("callback argument given to redis.register_function must be a function"),
                    },
                    b"description" => {
                        description = Some(
                            string(value).ok_or("description argument given to redis.register_function must be a string")?,
                        );
                    }
                    b"flags" => {
                        let Value::Table(list) = value else {
                            return Err("flags argument to redis.register_function must be a table representing function flags");
                        };
                        flags = function_flags(&list)?;
                    }
                    _ => return Err("unknown argument given to redis.register_function"),
                }
            }
            let name = name.ok_or("redis.register_function must get a function name argument")?;
            let callback = callback.ok_or("redis.register_function must get a callback argument")?;
            (name, callback, flags, description)
        }
        (Some(_), None, None) => {
            return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
        }
        (Some(name), Some(callback), None) => {
            let name = string(name).ok_or("first argument to redis.register_function must be a string")?;
            let Value::Function(callback) = callback else {
                return Err("second argument to redis.register_function must be a function");
            };
            (name, callback, Flags::default(), None)
        }
        _ => return Err("wrong number of arguments to redis.register_function"),
    };
    Ok(FunctionDef {
        name: String::from_utf8_lossy(&name).into_owned(),
        description,
        flags: Flags { shebang: true, ..flags },
        callback,
    })
}

/// The `flags=` table of `redis.register_function`: every value a known flag name.
fn function_flags(list: &Table) -> Result<Flags, &'static str> {
    let mut flags = Flags::default();
    for pair in list.pairs::<Value, Value>() {
        let Ok((_, Value::String(flag))) = pair else { return Err("unknown flag given") };
        let flag = flag.to_str().map_err(|_| "unknown flag given")?.to_string();
        shebang::apply_flag_list(&mut flags, std::iter::once(flag.as_str())).map_err(|_| "unknown flag given")?;
    }
    Ok(flags)
}

/// The names of the flags set, in Redis's order (FUNCTION LIST).
pub fn flag_names(flags: &Flags) -> Vec<&'static str> {
    [
        (flags.no_writes, "no-writes"),
        (flags.allow_oom, "allow-oom"),
        (flags.allow_stale, "allow-stale"),
        (flags.no_cluster, "no-cluster"),
        (flags.allow_cross_slot_keys, "allow-cross-slot-keys"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect()
}

/// Splits the shebang line into words as Redis's `sdssplitargs` does (plain, "double" and
/// 'single' quoted words); `None` for unbalanced quotes.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut i = 0;
    let at = |i: usize| line.get(i).copied();
    loop {
        while at(i).is_some_and(|c| c.is_ascii_whitespace() || c == 0x0b) {
            i += 1;
        }
        let Some(first) = at(i) else { return Some(words) };
        let mut word = Vec::new();
        if first == b'"' || first == b'\'' {
            i += 1;
            loop {
                match at(i) {
                    None => return None,
                    Some(b'\\') if first == b'"' => {
                        let escaped = at(i + 1)?;
                        word.push(match escaped {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            other => other,
                        });
                        i += 2;
                    }
                    Some(b'\\') if at(i + 1) == Some(b'\'') => {
                        word.push(b'\'');
                        i += 2;
                    }
                    Some(c) if c == first => {
                        i += 1;
                        if at(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return None;
                        }
                        break;
                    }
                    Some(c) => {
                        word.push(c);
                        i += 1;
                    }
                }
            }
        } else {
            while let Some(c) = at(i).filter(|c| !c.is_ascii_whitespace()) {
                word.push(c);
                i += 1;
            }
        }
        words.push(word);
    }
}

/// The library name from the `#!lua name=<name>` line, with Redis's errors.
fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid library metadata".into());
    };
    let words = split_args(code.get(..end).unwrap_or_default()).ok_or("ERR Invalid library metadata")?;
    let mut words = words.into_iter();
    let engine = words.next().unwrap_or_default();
    let mut name: Option<Vec<u8>> = None;
    for word in words {
        let is_name = word.get(..5).is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"name="));
        if !is_name {
            return Err(format!("ERR Invalid metadata value given: {}", String::from_utf8_lossy(&word)));
        }
        if name.is_some() {
            return Err("ERR Invalid metadata value, name argument was given multiple times".into());
        }
        name = Some(word.get(5..).unwrap_or_default().to_vec());
    }
    let name = name.ok_or("ERR Library name was not given")?;
    let engine = engine.get(2..).unwrap_or_default();
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!("ERR Engine '{}' not found", String::from_utf8_lossy(engine)));
    }
    if !valid_name(&name) {
        return Err(format!("ERR {NAME_ERROR}"));
    }
    Ok(String::from_utf8_lossy(&name).into_owned())
}

/// What FUNCTION RESTORE does with libraries that already exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Drop every existing library first.
    Flush,
    /// Add the payload's libraries; any name collision aborts (the default).
    Append,
    /// Add them, replacing libraries of the same name.
    Replace,
}

/// Every library, the function index, and the interpreter they run in.
pub struct Functions {
    runtime: Option<Runtime>,
    /// Libraries by name (case-sensitive), in name order.
    libraries: BTreeMap<String, Library>,
    /// Lower-case function name -> its library's name.
    index: HashMap<String, String>,
    kill: Arc<AtomicU8>,
}

impl std::fmt::Debug for Functions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Functions").field("libraries", &self.libraries.len()).finish_non_exhaustive()
    }
}

impl Functions {
    /// No libraries, a fresh interpreter. `kill` is the flag FUNCTION KILL raises.
    pub fn new(kill: Arc<AtomicU8>) -> Functions {
        let runtime = match Runtime::new(kill.clone()) {
            Ok(runtime) => Some(runtime),
            Err(e) => {
                tracing::error!("could not start the Lua interpreter for functions: {e}");
                None
            }
        };
        Functions { runtime, libraries: BTreeMap::new(), index: HashMap::new(), kill }
    }

    /// FUNCTION FLUSH: no libraries and a new interpreter.
    pub fn flush(&mut self) {
        *self = Functions::new(self.kill.clone());
    }

    /// The libraries in name order.
    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libraries.values()
    }

    /// Number of libraries.
    pub fn library_count(&self) -> usize {
        self.libraries.len()
    }

    /// Number of functions over all libraries.
    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// Bytes the libraries take besides their interpreter: code and names
    /// (`used_memory_functions`).
    pub fn libraries_memory(&self) -> usize {
        self.libraries
            .values()
            .map(|library| library.name.len() + library.code.len() + library.functions.iter().map(|f| f.name.len()).sum::<usize>())
            .sum()
    }

    /// Memory the functions interpreter uses, in bytes.
    pub fn used_memory(&self) -> usize {
        self.runtime.as_ref().map_or(0, |rt| rt.interpreter.used_memory())
    }

    /// Compiles and runs a library's code without registering it.
    fn create(&self, code: Bytes) -> Result<Library, String> {
        let name = library_name(&code)?;
        let runtime = self.runtime.as_ref().ok_or("ERR Lua interpreter unavailable")?;
        let functions = runtime.create(&code)?;
        Ok(Library { name, code, functions })
    }

    /// FUNCTION LOAD [REPLACE]: loads a library; returns its name. Errors are reply texts.
    pub fn load(&mut self, code: Bytes, replace: bool) -> Result<String, String> {
        let name = library_name(&code)?;
        if !replace && self.libraries.contains_key(&name) {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let library = self.create(code)?;
        self.check_functions(std::slice::from_ref(&library), |lib| lib == name)?;
        self.insert(library);
        Ok(name)
    }

    /// Fails with `ERR Function <f> already exists` if a function of `new` is already
    /// registered by a library that stays (one for which `replaced` is false).
    fn check_functions(&self, new: &[Library], replaced: impl Fn(&str) -> bool) -> Result<(), String> {
        for library in new {
            for function in &library.functions {
                if let Some(owner) = self.index.get(&function.name.to_ascii_lowercase()) {
                    if !replaced(owner) {
                        return Err(format!("ERR Function {} already exists", function.name));
                    }
                }
            }
        }
        Ok(())
    }

    /// Adds a library, replacing one of the same name.
    fn insert(&mut self, library: Library) {
        self.delete(&library.name);
        for function in &library.functions {
            self.index.insert(function.name.to_ascii_lowercase(), library.name.clone());
        }
        self.libraries.insert(library.name.clone(), library);
    }

    /// FUNCTION DELETE: removes a library; false if there is none of that name.
    pub fn delete(&mut self, name: &str) -> bool {
        let Some(library) = self.libraries.remove(name) else { return false };
        for function in &library.functions {
            self.index.remove(&function.name.to_ascii_lowercase());
        }
        true
    }

    /// The function FCALL names (any case) and its library.
    pub fn find(&self, name: &[u8]) -> Option<&FunctionDef> {
        let name = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        let library = self.libraries.get(self.index.get(&name)?)?;
        library.functions.iter().find(|f| f.name.eq_ignore_ascii_case(&name))
    }

    /// Runs `function` (found with [`Functions::find`]) for the client in `ctx`, its keys and
    /// arguments passed as the two parameters. `read_only`: called through FCALL_RO.
    /// `command` is the whole FCALL as the client sent it (FUNCTION STATS shows it).
    pub fn call(&self, ctx: &mut Ctx<'_>, function: &FunctionDef, command: &[Bytes], keys: &[Bytes], argv: &[Bytes], read_only: bool) -> Reply {
        let Some(runtime) = self.runtime.as_ref() else {
            return Reply::error("ERR Lua interpreter unavailable");
        };
        let options = RunOptions { kind: Kind::Function, read_only, flags: function.flags };
        let busy = &ctx.shared.scripting.busy;
        busy.set_function(Some(super::busy::RunningFunction {
            name: function.name.clone(),
            command: command.to_vec(),
            libraries: self.library_count(),
            functions: self.function_count(),
        }));
        let reply = runtime.interpreter.run(ctx, &function.callback, &function.name, keys, argv, options);
        ctx.shared.scripting.busy.set_function(None);
        reply
    }

    /// FUNCTION DUMP: every library in Redis's payload format.
    pub fn dump(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for library in self.libraries.values() {
            out.push(OPCODE_FUNCTION);
            write_length(&mut out, library.code.len());
            out.extend_from_slice(&library.code);
        }
        out.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// FUNCTION RESTORE: loads every library of a payload, then joins them to the current ones
    /// by `policy`; on any error nothing changes. Errors are reply texts.
    pub fn restore(&mut self, payload: &[u8], policy: RestorePolicy) -> Result<(), String> {
        let codes = parse_payload(payload)?;
        let mut loaded: Vec<Library> = Vec::with_capacity(codes.len());
        for code in codes {
            let library = self.create(code)?;
            if loaded.iter().any(|l| l.name == library.name) {
                return Err(format!("ERR Library '{}' already exists", library.name));
            }
            let taken = |f: &FunctionDef| loaded.iter().flat_map(|l| &l.functions).any(|g| g.name.eq_ignore_ascii_case(&f.name));
            if let Some(f) = library.functions.iter().find(|f| taken(f)) {
                return Err(format!("ERR Function {} already exists", f.name));
            }
            loaded.push(library);
        }
        match policy {
            RestorePolicy::Flush => {
                self.libraries.clear();
                self.index.clear();
            }
            RestorePolicy::Append => {
                if let Some(library) = loaded.iter().find(|l| self.libraries.contains_key(&l.name)) {
                    return Err(format!("ERR Library {} already exists", library.name));
                }
                self.check_functions(&loaded, |_| false)?;
            }
            RestorePolicy::Replace => {
                let names: Vec<&str> = loaded.iter().map(|l| l.name.as_str()).collect();
                self.check_functions(&loaded, |owner| names.contains(&owner))?;
            }
        }
        for library in loaded {
            self.insert(library);
        }
        Ok(())
    }
}

/// Appends an RDB length: 6 bits, 14 bits, or 32/64 bits big-endian after a marker byte.
fn write_length(out: &mut Vec<u8>, len: usize) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push((len & 0xff) as u8);
    } else if let Ok(len) = u32::try_from(len) {
        out.push(0x80);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// An RDB length, or an encoded-string marker (`Err(kind)`: 0-2 integers, 3 LZF).
enum Length {
    Plain(usize),
    Encoded(u8),
}

/// A reader over the body of a payload.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn length(&mut self) -> Option<Length> {
        let first = self.byte()?;
        Some(match first >> 6 {
            0 => Length::Plain(usize::from(first & 0x3f)),
            1 => Length::Plain((usize::from(first & 0x3f) << 8) | usize::from(self.byte()?)),
            2 => match first {
                0x80 => Length::Plain(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize),
                0x81 => Length::Plain(usize::try_from(u64::from_be_bytes(self.take(8)?.try_into().ok()?)).ok()?),
                _ => return None,
            },
            _ => Length::Encoded(first & 0x3f),
        })
    }

    fn plain_length(&mut self) -> Option<usize> {
        match self.length()? {
            Length::Plain(n) => Some(n),
            Length::Encoded(_) => None,
        }
    }

    /// An RDB string: plain, an integer written as one, or LZF-compressed.
    fn string(&mut self) -> Option<Vec<u8>> {
        match self.length()? {
            Length::Plain(n) => Some(self.take(n)?.to_vec()),
            Length::Encoded(0) => Some((self.byte()? as i8).to_string().into_bytes()),
            Length::Encoded(1) => Some(i16::from_le_bytes(self.take(2)?.try_into().ok()?).to_string().into_bytes()),
            Length::Encoded(2) => Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?).to_string().into_bytes()),
            Length::Encoded(3) => {
                let compressed = self.plain_length()?;
                let len = self.plain_length()?;
                lzf_decompress(self.take(compressed)?, len)
            }
            Length::Encoded(_) => None,
        }
    }
}

/// LZF decompression (the format `lzf_compress` writes), to exactly `len` bytes.
fn lzf_decompress(input: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = usize::from(*input.get(i)?);
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            out.extend_from_slice(input.get(i..i + run)?);
            i += run;
        } else {
            let mut run = ctrl >> 5;
            if run == 7 {
                run += usize::from(*input.get(i)?);
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + usize::from(*input.get(i)?) + 1;
            i += 1;
            let start = out.len().checked_sub(back)?;
            for k in 0..run + 2 {
                let byte = *out.get(start + k)?;
                out.push(byte);
            }
        }
        if out.len() > len {
            return None;
        }
    }
    (out.len() == len).then_some(out)
}

/// The library codes of a DUMP payload, with Redis's errors.
pub fn parse_payload(payload: &[u8]) -> Result<Vec<Bytes>, String> {
    const BAD: &str = "ERR DUMP payload version or checksum are wrong";
    let Some(body_len) = payload.len().checked_sub(10) else { return Err(BAD.into()) };
    let (body, footer) = payload.split_at(body_len);
    let version = footer.get(..2).and_then(|v| v.try_into().ok()).map_or(u16::MAX, u16::from_le_bytes);
    let crc = footer.get(2..).and_then(|c| c.try_into().ok()).map_or(0, u64::from_le_bytes);
    if version > RDB_VERSION || crc64(payload.get(..body_len + 2).unwrap_or_default()) != crc {
        return Err(BAD.into());
    }
    let mut reader = Reader { bytes: body, at: 0 };
    let mut codes = Vec::new();
    while reader.at < body.len() {
        match reader.byte() {
            Some(OPCODE_FUNCTION) => {}
            Some(OPCODE_FUNCTION_PRE_GA) => return Err("ERR Pre-GA function format not supported".into()),
            _ => return Err("ERR given type is not a function".into()),
        }
        let code = reader.string().ok_or("ERR Failed loading library payload")?;
        codes.push(Bytes::from(code));
    }
    Ok(codes)
}

/// Redis's CRC-64 (Jones polynomial, reflected input and output, initial value 0).
#[allow(clippy::indexing_slicing)] // the table has 256 entries and every index is masked to 0..=255
pub fn crc64(bytes: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    const TABLE: [u64; 256] = {
        let mut table = [0u64; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u64;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ POLY } else { crc >> 1 };
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    bytes.iter().fold(0u64, |crc, &b| TABLE[((crc ^ u64::from(b)) & 0xff) as usize] ^ (crc >> 8))
}


/// FUNCTION STATS's reply: the running function (`name`, `command`, `duration_ms`) or null,
/// and the Lua engine's library and function counts.
pub fn stats_reply(running: Option<(&str, &[Bytes], u64)>, libraries: usize, functions: usize) -> Reply {
    let count = |n: usize| Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    let running = match running {
        None => Reply::Null,
        Some((name, command, duration_ms)) => Reply::Map(vec![
            (Reply::bulk("name"), Reply::bulk(name)),
            (Reply::bulk("command"), Reply::Array(command.iter().cloned().map(Reply::Bulk).collect())),
            (Reply::bulk("duration_ms"), Reply::Integer(i64::try_from(duration_ms).unwrap_or(i64::MAX))),
        ]),
    };
    Reply::Map(vec![
        (Reply::bulk("running_script"), running),
        (
            Reply::bulk("engines"),
            Reply::Map(vec![(
                Reply::bulk("LUA"),
                Reply::Map(vec![
                    (Reply::bulk("libraries_count"), count(libraries)),
                    (Reply::bulk("functions_count"), count(functions)),
                ]),
            )]),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_redis_check_value() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn a_payload_redis_7_0_dumped_parses() {
        let payload = b"\xf5@L#!lua name=q\nredis.register_function('q', function(keys, args) return 1 end)\n\x00\xb5M\x8c\xc5\xf8<n\x10";
        let codes = parse_payload(payload).unwrap_or_default();
        assert_eq!(codes, vec![Bytes::from_static(b"#!lua name=q\nredis.register_function('q', function(keys, args) return 1 end)")]);
    }

    #[test]
    fn a_payload_with_a_wrong_checksum_is_refused() {
        let payload = b"\xf5\x01x\n\x00\xb5M\x8c\xc5\xf8<n\x10";
        assert_eq!(parse_payload(payload), Err("ERR DUMP payload version or checksum are wrong".into()));
        assert_eq!(parse_payload(b"short"), Err("ERR DUMP payload version or checksum are wrong".into()));
    }

    #[test]
    fn lzf_back_references_expand() {
        // "abcabcabc": three literals, then a back reference of length 6 at distance 3.
        assert_eq!(lzf_decompress(b"\x02abc\x80\x02", 9), Some(b"abcabcabc".to_vec()));
    }

    #[test]
    fn library_metadata_errors_are_worded_as_redis_words_them() {
        assert_eq!(library_name(b"return 1"), Err("ERR Missing library metadata".into()));
        assert_eq!(library_name(b"#!lua name=x"), Err("ERR Invalid library metadata".into()));
        assert_eq!(library_name(b"#!lua\n"), Err("ERR Library name was not given".into()));
        assert_eq!(library_name(b"#!lua foo=x\n"), Err("ERR Invalid metadata value given: foo=x".into()));
        assert_eq!(
            library_name(b"#!lua name=a name=b\n"),
            Err("ERR Invalid metadata value, name argument was given multiple times".into())
        );
        assert_eq!(library_name(b"#!js name=x\n"), Err("ERR Engine 'js' not found".into()));
        assert_eq!(library_name(b"#! name=x\n"), Err("ERR Engine '' not found".into()));
        assert_eq!(library_name(b"#!lua name=a-b\n"), Err(format!("ERR {NAME_ERROR}")));
        assert_eq!(library_name(b"#!LUA NAME=lib\r\n"), Ok("lib".into()));
    }
}
