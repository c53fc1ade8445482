//! The hot path of scripting, written against Lua's C API: the script entry, `redis.call`,
//! `redis.pcall` and `redis.setresp` as C functions registered once per interpreter, and the
//! conversions between replies and Lua values done directly on the Lua stack.
//!
//! Redis keeps one Lua state and calls a pre-compiled function per script; so does Herald.
//! What this module saves over mlua's safe API, per script call: creating (and collecting) a
//! scoped `redis.call` closure and its userdata, mlua's per-callback bookkeeping on every
//! `redis.call`, and the references and guards of building KEYS, ARGV and replies value by
//! value.
//!
//! # The calling context: [`Slot`]
//!
//! `redis.call` needs the `&mut Ctx` of the command that runs the script. Each interpreter
//! owns one boxed [`Slot`], whose address every C function here carries as a light userdata
//! upvalue. [`Slot::activate`] stores a pointer to the running script's [`Run`] (which holds
//! the `&mut Ctx`) in it, and the guard it returns clears it again when dropped: on return,
//! on error and on unwinding alike. The invariant the C functions rely on:
//!
//! - the pointer is either null (no script runs: the functions refuse with an error) or points
//!   to the [`Run`] of the one run in progress, which outlives the guard (it is borrowed
//!   mutably for the guard's lifetime, so the Rust side does not touch it meanwhile);
//! - at most one `&mut Run` exists at a time: each C function makes one from the pointer for
//!   its own duration only, and [`run_entry`] drops its reference before calling into the
//!   script (`redis.call` makes its own) and makes a new one after. A command run by
//!   `redis.call` never runs Lua (EVAL, FCALL, SCRIPT, FUNCTION are refused inside scripts),
//!   and `Run::in_call` refuses a nested `redis.call` should one ever happen;
//! - the interpreter is only used under its engine's mutex, so one thread at a time.
//!
//! # Errors and unwinding
//!
//! Lua reports errors with `longjmp`, which must not cross Rust frames that own values. Every
//! Lua error a C function here raises on purpose (`lua_error`) is raised from its outermost
//! frame once everything it owned was dropped, and the script's own errors stop at the
//! `lua_pcall` in [`run_entry`]. Rust panics are caught in each C function (never unwound
//! through Lua's C frames), parked in the [`Run`] and resumed by the caller once Lua is out of
//! the way. The one remaining case is Lua running out of memory inside an API call (pushing a
//! string, creating a table): as mlua does without a memory limit, that is accepted to skip
//! the Rust frames in between (leaking what they own).
#![allow(unsafe_code)] // the Lua C API; the invariants are above and at each `unsafe` block.

use super::busy::Kind;
use super::engine::{RunOptions, NOSCRIPT, READ_ONLY_SCRIPT_ERROR};
use crate::cmd::{self, CommandSpec, Ctx};
use crate::resp::{Protocol, Reply};
use bytes::Bytes;
use mlua::ffi::{self, lua_State};
use mlua::{Function, Lua, Table};
use parking_lot::Mutex;
use std::any::Any;
use std::ffi::{c_char, c_int, c_void};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, Ordering};

/// How deep nested replies or tables may go before conversion stops (Redis checks the Lua
/// stack; this keeps a self-referencing table from recursing without end).
const MAX_DEPTH: usize = 1000;

/// How many command names an interpreter remembers (see [`Slot::commands`]).
const COMMAND_CACHE: usize = 64;

/// Field names the conversions look up; kept referenced from the registry so that pushing
/// them finds the interned string instead of allocating one.
const NAMES: &[&str] = &[
    "err", "ok", "double", "big_number", "map", "set", "verbatim_string", "format", "string", "source", "line", "KEYS",
    "ARGV",
];

/// A command name as a script spelled it, resolved once.
struct CachedCommand {
    name: Box<[u8]>,
    spec: &'static CommandSpec,
    /// Neither flagged `noscript` nor refused by Redis inside scripts.
    allowed: bool,
    /// Flagged `write`.
    write: bool,
}

/// Where an interpreter's C functions find the running script (see the module docs).
#[derive(Default)]
pub struct Slot {
    /// The [`Run`] in progress, or null.
    run: AtomicPtr<c_void>,
    /// Command names `redis.call` resolved before, exactly as spelled (`'INCR'`, `'incr'`), for
    /// commands without subcommands: saves the lower-casing, hashing and flag scans per call.
    commands: Mutex<Vec<CachedCommand>>,
}

impl Slot {
    /// Makes `run` the running script until the returned guard is dropped.
    pub fn activate<'r>(&'r self, run: &'r mut Run<'_, '_>) -> Active<'r> {
        self.run.store((run as *mut Run<'_, '_>).cast(), Ordering::Release);
        Active { slot: self, _run: PhantomData }
    }

    fn command(&self, name: &[u8]) -> Option<(&'static CommandSpec, bool, bool)> {
        let commands = self.commands.lock();
        commands.iter().find(|c| *c.name == *name).map(|c| (c.spec, c.allowed, c.write))
    }

    fn remember(&self, name: &[u8], spec: &'static CommandSpec, allowed: bool, write: bool) {
        let mut commands = self.commands.lock();
        if commands.len() < COMMAND_CACHE && !commands.iter().any(|c| *c.name == *name) {
            commands.push(CachedCommand { name: name.into(), spec, allowed, write });
        }
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("active", &!self.run.load(Ordering::Relaxed).is_null()).finish_non_exhaustive()
    }
}

/// Keeps a [`Run`] active in its [`Slot`]; clears the slot when dropped.
pub struct Active<'r> {
    slot: &'r Slot,
    _run: PhantomData<&'r mut ()>,
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.slot.run.store(std::ptr::null_mut(), Ordering::Release);
    }
}

/// One script run: what the C functions read and what they leave for the caller.
pub struct Run<'a, 'c> {
    ctx: &'a mut Ctx<'c>,
    options: RunOptions,
    keys: &'a [Bytes],
    argv: &'a [Bytes],
    /// The name in error replies (`script: <name>, on ...`).
    name: &'a str,
    /// The protocol of the client that runs the script (for big numbers).
    caller_protocol: Protocol,
    /// `redis.setresp(3)` was called.
    resp3: bool,
    /// A `redis.call` is running its command.
    in_call: bool,
    /// The script's reply once it finished.
    result: Option<Reply>,
    /// A panic caught in a C function, to resume once Lua is out of the way.
    panic: Option<Box<dyn Any + Send>>,
}

impl<'a, 'c> Run<'a, 'c> {
    /// A run of a script for the client in `ctx`; `name` goes into error replies. EVAL scripts
    /// (`options.kind` Eval) get `keys` and `argv` as the globals KEYS and ARGV, functions as
    /// their two parameters.
    pub fn new(ctx: &'a mut Ctx<'c>, options: RunOptions, keys: &'a [Bytes], argv: &'a [Bytes], name: &'a str) -> Self {
        let caller_protocol = ctx.client.protocol;
        Run { ctx, options, keys, argv, name, caller_protocol, resp3: false, in_call: false, result: None, panic: None }
    }

    /// The script's reply (`None` if it never finished) and any panic to resume.
    pub fn finish(self) -> (Option<Reply>, Option<Box<dyn Any + Send>>) {
        (self.result, self.panic)
    }
}

/// The C functions of one interpreter.
pub struct Functions {
    /// `entry(f)`: runs the compiled script `f` for the active [`Run`].
    pub entry: Function,
    /// `redis.call`.
    pub call: Function,
    /// `redis.pcall`.
    pub pcall: Function,
    /// `redis.setresp`.
    pub setresp: Function,
}

/// Creates the C functions for an interpreter whose [`Slot`] is `slot` (which must outlive
/// `lua`'s use of them: the interpreter owns both). `handler` is the message handler scripts
/// run under; `globals` the real global table (where KEYS and ARGV go).
pub fn create(lua: &Lua, slot: &Slot, handler: &Function, globals: &Table) -> mlua::Result<Functions> {
    let names = lua.create_sequence_from(NAMES.iter().copied())?;
    lua.set_named_registry_value("herald.script.names", names)?;
    let slot = (slot as *const Slot).cast_mut().cast::<c_void>();
    // SAFETY: pushes three closures and leaves them as the only values on the stack; the
    // stack has room (exec_raw's C function starts with LUA_MINSTACK free slots).
    let (entry, call, pcall, setresp) = unsafe {
        lua.exec_raw::<(Function, Function, Function, Function)>((handler.clone(), globals.clone()), |state| {
            // 1 = handler, 2 = globals.
            ffi::lua_pushlightuserdata(state, slot);
            ffi::lua_pushvalue(state, 1);
            ffi::lua_pushvalue(state, 2);
            ffi::lua_pushcclosure(state, run_entry, 3);
            ffi::lua_pushlightuserdata(state, slot);
            ffi::lua_pushcclosure(state, redis_call, 1);
            ffi::lua_pushlightuserdata(state, slot);
            ffi::lua_pushcclosure(state, redis_pcall, 1);
            ffi::lua_pushlightuserdata(state, slot);
            ffi::lua_pushcclosure(state, redis_setresp, 1);
            ffi::lua_remove(state, 1);
            ffi::lua_remove(state, 1);
        })?
    };
    Ok(Functions { entry, call, pcall, setresp })
}

/// The light userdata address a library function's Rust side returns first to ask its C
/// function ([`library_function`]) to raise the error that follows (see `lib/mod.rs`).
pub const LIBRARY_FAIL: usize = 1;

/// How a [`library_function`]'s C function returns the results of its Rust (or Lua) side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Results {
    /// The first value.
    One,
    /// The first value is a table of the results, the second their number (nil: the table's
    /// length).
    Table,
    /// All values as they are.
    All,
}

/// A library function (cjson, cmsgpack, bit, struct, and the sandbox's own `math.random`,
/// `pairs`, ...) as Redis has it: a C function, so that a script's tail call keeps the
/// script's frame for error positions. It calls `raw`, the Rust (or Lua) side, with its
/// arguments; `raw` returns either its results (as `results` says) or [`LIBRARY_FAIL`], a
/// kind and a message, and the C function raises: kind 3 the message as it is (an error of
/// the VM itself), kind 4 `luaL_argerror(L, <fourth value>, message)`, any other kind
/// `luaL_error`'s position prefix and the message.
pub fn library_function(lua: &Lua, raw: Function, results: Results) -> mlua::Result<Function> {
    let function: ffi::lua_CFunction = match results {
        Results::One => library_one,
        Results::Table => library_table,
        Results::All => library_all,
    };
    // SAFETY: `raw` is the only value on the stack; the closure takes it as its upvalue and
    // is left as the only value.
    unsafe { lua.exec_raw::<Function>(raw, |state| ffi::lua_pushcclosure(state, function, 1)) }
}

unsafe extern "C-unwind" fn library_one(state: *mut lua_State) -> c_int {
    library_call(state, Results::One)
}

unsafe extern "C-unwind" fn library_table(state: *mut lua_State) -> c_int {
    library_call(state, Results::Table)
}

unsafe extern "C-unwind" fn library_all(state: *mut lua_State) -> c_int {
    library_call(state, Results::All)
}

/// The body of [`library_function`]'s C functions. Owns no Rust values: errors (the Rust
/// side's own and the ones raised here) unwind through it as through any C function.
unsafe fn library_call(state: *mut lua_State, results: Results) -> c_int {
    let nargs = ffi::lua_gettop(state);
    if ffi::lua_checkstack(state, 3) == 0 {
        return raise_with_position(state, b"stack overflow");
    }
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
    if ffi::lua_type(state, 1) == ffi::LUA_TLIGHTUSERDATA && ffi::lua_touserdata(state, 1) as usize == LIBRARY_FAIL {
        let kind = ffi::lua_tonumber(state, 2);
        if kind == 4.0 {
            let narg = ffi::lua_tonumber(state, 4) as c_int;
            ffi::lua_settop(state, 3);
            // The message stays on the stack (so its pointer stays valid) while formatted.
            ffi::luaL_argerror(state, narg, ffi::lua_tostring(state, 3));
        }
        ffi::lua_settop(state, 3);
        if kind != 3.0 {
            ffi::luaL_where(state, 1);
            ffi::lua_insert(state, 3);
            ffi::lua_concat(state, 2);
        }
        ffi::lua_error(state)
    }
    match results {
        Results::One => {
            ffi::lua_settop(state, 1);
            return 1;
        }
        Results::All => return ffi::lua_gettop(state),
        Results::Table => {}
    }
    // 1 = the results, 2 = how many (nil: the table's length).
    let count = if ffi::lua_type(state, 2) == ffi::LUA_TNUMBER {
        ffi::lua_tonumber(state, 2) as c_int
    } else {
        c_int::try_from(ffi::lua_objlen(state, 1)).unwrap_or(c_int::MAX)
    };
    ffi::lua_settop(state, 1);
    if count <= 0 {
        return 0;
    }
    if ffi::lua_checkstack(state, count) == 0 {
        return raise_with_position(state, b"too many results to unpack");
    }
    for i in 1..=count {
        ffi::lua_rawgeti_(state, 1, i);
    }
    count
}

/// `luaL_error(state, message)`.
unsafe fn raise_with_position(state: *mut lua_State, message: &'static [u8]) -> c_int {
    ffi::luaL_where(state, 1);
    push_bytes(state, message);
    ffi::lua_concat(state, 2);
    ffi::lua_error(state)
}

/// The active [`Run`] of the C function running in `state` (whose upvalue 1 is the slot), or
/// null.
///
/// # Safety
/// Only from the C functions created by [`create`].
unsafe fn current(state: *mut lua_State) -> *mut c_void {
    let slot = ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)).cast::<Slot>();
    if slot.is_null() {
        return std::ptr::null_mut();
    }
    (*slot).run.load(Ordering::Acquire)
}

/// The slot of the C function running in `state`.
///
/// # Safety
/// Only from the C functions created by [`create`] (the slot outlives them).
unsafe fn slot<'s>(state: *mut lua_State) -> Option<&'s Slot> {
    ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)).cast::<Slot>().as_ref()
}

unsafe fn push_bytes(state: *mut lua_State, bytes: &[u8]) {
    ffi::lua_pushlstring_(state, bytes.as_ptr().cast::<c_char>(), bytes.len());
}

/// The bytes of the string at `index` (which must be a string: numbers would be converted in
/// place), valid while it stays on the stack.
unsafe fn string_at<'s>(state: *mut lua_State, index: c_int) -> &'s [u8] {
    let mut len = 0usize;
    let ptr = ffi::lua_tolstring(state, index, &mut len);
    if ptr.is_null() {
        return &[];
    }
    std::slice::from_raw_parts(ptr.cast::<u8>(), len)
}

/// Pushes `{err=text}`.
unsafe fn push_error_table(state: *mut lua_State, text: &[u8]) {
    ffi::lua_createtable(state, 0, 1);
    push_bytes(state, b"err");
    push_bytes(state, text);
    ffi::lua_rawset(state, -3);
}

/// `entry(f)`: sets KEYS and ARGV (or passes them as parameters), calls `f` under the message
/// handler, and leaves the converted reply in the [`Run`].
unsafe extern "C-unwind" fn run_entry(state: *mut lua_State) -> c_int {
    let run = current(state);
    if run.is_null() {
        return 0;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY (whole block): `run` is the active Run (module invariant); the references
        // made from it end before the script runs and are made anew after.
        let (keys, argv, params) = {
            let r: &Run<'_, '_> = &*run.cast::<Run<'_, '_>>();
            (r.keys, r.argv, r.options.kind == Kind::Function)
        };
        if ffi::lua_checkstack(state, 8) == 0 {
            (*run.cast::<Run<'_, '_>>()).result = Some(Reply::error("ERR Lua stack overflow"));
            return;
        }
        let nargs = if params {
            ffi::lua_pushvalue(state, ffi::lua_upvalueindex(2));
            ffi::lua_pushvalue(state, 1);
            push_array(state, keys);
            push_array(state, argv);
            2
        } else {
            ffi::lua_pushvalue(state, ffi::lua_upvalueindex(3));
            push_bytes(state, b"KEYS");
            push_array(state, keys);
            ffi::lua_rawset(state, -3);
            push_bytes(state, b"ARGV");
            push_array(state, argv);
            ffi::lua_rawset(state, -3);
            ffi::lua_pop(state, 1);
            ffi::lua_pushvalue(state, ffi::lua_upvalueindex(2));
            ffi::lua_pushvalue(state, 1);
            0
        };
        // Stack: 1 = f, 2 = handler, 3 = f, [4, 5 = keys, args].
        let status = ffi::lua_pcall(state, nargs, 1, 2);
        let r: &mut Run<'_, '_> = &mut *run.cast::<Run<'_, '_>>();
        let top = ffi::lua_gettop(state);
        r.result = Some(if status == 0 {
            to_reply(state, top, r.resp3, r.caller_protocol, 0)
        } else {
            script_error(state, top, r.name)
        });
    }));
    if let Err(payload) = outcome {
        (*run.cast::<Run<'_, '_>>()).panic = Some(payload);
    }
    0
}

/// `redis.call(command, ...)`: raises the command's error.
unsafe extern "C-unwind" fn redis_call(state: *mut lua_State) -> c_int {
    if command(state) {
        1
    } else {
        // Everything `command` owned is dropped; the error table is on the stack.
        ffi::lua_error(state)
    }
}

/// `redis.pcall(command, ...)`: returns the command's error as `{err=...}`.
unsafe extern "C-unwind" fn redis_pcall(state: *mut lua_State) -> c_int {
    command(state);
    1
}

/// Runs the command `redis.call` / `redis.pcall` got; pushes its reply converted for Lua
/// (true) or its error as `{err=text}` (false).
unsafe fn command(state: *mut lua_State) -> bool {
    let run = current(state);
    if run.is_null() {
        push_error_table(state, b"ERR redis.call is only available while a script runs");
        return false;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the active Run (module invariant); no other reference to it exists while a
        // C function runs.
        let r: &mut Run<'_, '_> = &mut *run.cast::<Run<'_, '_>>();
        match run_command(state, r) {
            Ok(reply) => {
                let resp3 = r.resp3;
                match reply {
                    Reply::Error(text) => {
                        push_error_table(state, &text);
                        false
                    }
                    reply => {
                        push_reply(state, &expand_raw(reply), resp3, 0);
                        true
                    }
                }
            }
            Err(text) => {
                push_error_table(state, &text);
                false
            }
        }
    }));
    match outcome {
        Ok(pushed) => pushed,
        Err(payload) => {
            (*run.cast::<Run<'_, '_>>()).panic = Some(payload);
            push_error_table(state, b"ERR internal error running the command");
            false
        }
    }
}

/// Reads the command's arguments off the stack, checks it may run, and runs it.
unsafe fn run_command(state: *mut lua_State, run: &mut Run<'_, '_>) -> Result<Reply, Bytes> {
    if run.in_call {
        return Err(fail("ERR recursive redis.call"));
    }
    let argc = ffi::lua_gettop(state);
    if argc == 0 {
        return Err(fail("ERR Please specify at least one argument for this redis lib call"));
    }
    let mut args: Vec<Bytes> = Vec::with_capacity(usize::try_from(argc).unwrap_or(0));
    for index in 1..=argc {
        match ffi::lua_type(state, index) {
            ffi::LUA_TSTRING => args.push(Bytes::copy_from_slice(string_at(state, index))),
            ffi::LUA_TNUMBER => args.push(Bytes::from(number_argument(ffi::lua_tonumber(state, index)))),
            _ => return Err(fail("ERR Lua redis lib command arguments must be strings or integers")),
        }
    }
    let slot = slot(state);
    let name = args.first().map(|name| &name[..]).unwrap_or_default();
    let (spec, allowed, write) = match slot.and_then(|slot| slot.command(name)) {
        Some(found) => found,
        None => {
            let spec = resolve(&args)?;
            let top = spec.name.split('|').next().unwrap_or(spec.name);
            let allowed = !spec.has_flag("noscript") && !NOSCRIPT.contains(&top);
            let write = spec.has_flag("write");
            if spec.subcommands.is_empty() && !spec.name.contains('|') {
                if let Some(slot) = slot {
                    slot.remember(name, spec, allowed, write);
                }
            }
            (spec, allowed, write)
        }
    };
    if !spec.arity_ok(args.len()) {
        return Err(fail("ERR Wrong number of args calling Redis command from script"));
    }
    if !allowed {
        return Err(fail("ERR This Redis command is not allowed from script"));
    }
    if write {
        if run.options.read_only || run.options.flags.no_writes {
            return Err(fail(READ_ONLY_SCRIPT_ERROR));
        }
        run.ctx.shared.scripting.busy.mark_written();
    }
    let caller_protocol = run.ctx.client.protocol;
    run.ctx.client.protocol = if run.resp3 { Protocol::Resp3 } else { Protocol::Resp2 };
    run.in_call = true;
    let reply = cmd::execute(spec, run.ctx, &args);
    run.in_call = false;
    run.ctx.client.protocol = caller_protocol;
    // Blocking commands answer at once inside a script: drop any wait they asked for.
    run.ctx.client.block_request = None;
    run.ctx.client.block_args = None;
    Ok(reply)
}

/// The command `args` name, with the errors Redis gives scripts.
fn resolve(args: &[Bytes]) -> Result<&'static CommandSpec, Bytes> {
    match cmd::resolve(args) {
        cmd::Resolved::Command(spec) => Ok(spec),
        cmd::Resolved::Rejected(reply) => {
            let known = args.first().and_then(|name| cmd::lookup(name));
            match known {
                None => Err(fail("ERR Unknown Redis command called from script")),
                Some(spec) if !spec.arity_ok(args.len()) => Err(fail("ERR Wrong number of args calling Redis command from script")),
                Some(_) => match reply {
                    Reply::Error(text) => Err(text),
                    _ => Err(fail("ERR Unknown Redis command called from script")),
                },
            }
        }
    }
}

fn fail(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

/// A number argument as Redis scripts send it: integral values (within 64 bits) as integers,
/// others (and -0) as Lua prints them (`%.14g`).
fn number_argument(n: f64) -> Vec<u8> {
    if n == 0.0 && n.is_sign_negative() {
        return b"-0".to_vec();
    }
    if n == n.trunc() && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&n) {
        let mut buffer = itoa::Buffer::new();
        return buffer.format(n as i64).as_bytes().to_vec();
    }
    super::api::lua_number_text(n).into_bytes()
}

/// `redis.setresp(2|3)`: the protocol replies reach the script in.
unsafe extern "C-unwind" fn redis_setresp(state: *mut lua_State) -> c_int {
    let error: &'static [u8] = if ffi::lua_gettop(state) != 1 {
        b"ERR redis.setresp() requires one argument."
    } else {
        let version = if ffi::lua_type(state, 1) == ffi::LUA_TNUMBER { ffi::lua_tonumber(state, 1) } else { 0.0 };
        if version != 2.0 && version != 3.0 {
            b"ERR RESP version must be 2 or 3."
        } else {
            let run = current(state);
            if !run.is_null() {
                // SAFETY: the active Run; no other reference to it while a C function runs.
                (*run.cast::<Run<'_, '_>>()).resp3 = version == 3.0;
            }
            return 0;
        }
    };
    push_error_table(state, error);
    ffi::lua_error(state)
}

/// Pushes a table of strings `{items[1], ...}`.
unsafe fn push_array(state: *mut lua_State, items: &[Bytes]) {
    ffi::lua_createtable(state, c_int::try_from(items.len()).unwrap_or(0), 0);
    for (i, item) in items.iter().enumerate() {
        push_bytes(state, item);
        ffi::lua_rawseti_(state, -2, c_int::try_from(i + 1).unwrap_or(c_int::MAX));
    }
}

/// Parses pre-encoded replies ([`Reply::Raw`]) into structured ones, as far as scripts need.
fn expand_raw(reply: Reply) -> Reply {
    match reply {
        Reply::Raw(bytes) => match super::convert::parse_raw(&bytes) {
            Some(parsed) => expand_raw(parsed),
            None => Reply::Bulk(bytes),
        },
        other => other,
    }
}

/// Pushes `{field=<value pushed by push>}`.
unsafe fn push_single_field(state: *mut lua_State, field: &[u8], push: impl FnOnce()) {
    ffi::lua_createtable(state, 0, 1);
    push_bytes(state, field);
    push();
    ffi::lua_rawset(state, -3);
}

/// Pushes a command's reply as the Lua value `redis.call` returns, under the script's
/// protocol `resp3` (the rules are in [`super::convert`]).
unsafe fn push_reply(state: *mut lua_State, reply: &Reply, resp3: bool, depth: usize) {
    if depth > MAX_DEPTH || ffi::lua_checkstack(state, 4) == 0 {
        ffi::lua_pushboolean(state, 0);
        return;
    }
    match reply {
        Reply::Simple(text) => push_single_field(state, b"ok", || push_bytes(state, text)),
        Reply::Error(text) => push_single_field(state, b"err", || push_bytes(state, text)),
        Reply::Integer(n) => ffi::lua_pushnumber(state, *n as f64),
        Reply::Bulk(bytes) => push_bytes(state, bytes),
        Reply::Null | Reply::NullArray => {
            if resp3 {
                ffi::lua_pushnil(state);
            } else {
                ffi::lua_pushboolean(state, 0);
            }
        }
        Reply::Array(items) | Reply::Push(items) => push_reply_array(state, items, resp3, depth),
        Reply::Set(items) if resp3 => push_single_field(state, b"set", || {
            ffi::lua_createtable(state, 0, c_int::try_from(items.len()).unwrap_or(0));
            for item in items {
                push_reply(state, item, resp3, depth + 1);
                if ffi::lua_type(state, -1) == ffi::LUA_TNIL {
                    ffi::lua_pop(state, 1);
                } else {
                    ffi::lua_pushboolean(state, 1);
                    ffi::lua_rawset(state, -3);
                }
            }
        }),
        Reply::Set(items) => push_reply_array(state, items, resp3, depth),
        Reply::Map(pairs) if resp3 => push_single_field(state, b"map", || {
            ffi::lua_createtable(state, 0, c_int::try_from(pairs.len()).unwrap_or(0));
            for (key, value) in pairs {
                push_reply(state, key, resp3, depth + 1);
                push_reply(state, value, resp3, depth + 1);
                if ffi::lua_type(state, -2) == ffi::LUA_TNIL {
                    ffi::lua_pop(state, 2);
                } else {
                    ffi::lua_rawset(state, -3);
                }
            }
        }),
        Reply::Map(pairs) => {
            ffi::lua_createtable(state, c_int::try_from(pairs.len() * 2).unwrap_or(0), 0);
            let mut index: c_int = 1;
            for (key, value) in pairs {
                push_reply(state, key, resp3, depth + 1);
                ffi::lua_rawseti_(state, -2, index);
                push_reply(state, value, resp3, depth + 1);
                ffi::lua_rawseti_(state, -2, index.saturating_add(1));
                index = index.saturating_add(2);
            }
        }
        Reply::Double(value) if resp3 => push_single_field(state, b"double", || ffi::lua_pushnumber(state, *value)),
        Reply::Double(value) => push_bytes(state, crate::resp::format_double(*value).as_bytes()),
        Reply::Boolean(value) if resp3 => ffi::lua_pushboolean(state, c_int::from(*value)),
        Reply::Boolean(value) => ffi::lua_pushnumber(state, if *value { 1.0 } else { 0.0 }),
        Reply::Verbatim(format, text) if resp3 => push_single_field(state, b"verbatim_string", || {
            ffi::lua_createtable(state, 0, 2);
            push_bytes(state, b"format");
            push_bytes(state, format.as_bytes());
            ffi::lua_rawset(state, -3);
            push_bytes(state, b"string");
            push_bytes(state, text);
            ffi::lua_rawset(state, -3);
        }),
        Reply::Verbatim(_, text) => push_bytes(state, text),
        Reply::Raw(bytes) => match super::convert::parse_raw(bytes) {
            Some(parsed) => push_reply(state, &parsed, resp3, depth + 1),
            None => push_bytes(state, bytes),
        },
    }
}

unsafe fn push_reply_array(state: *mut lua_State, items: &[Reply], resp3: bool, depth: usize) {
    ffi::lua_createtable(state, c_int::try_from(items.len()).unwrap_or(0), 0);
    for (i, item) in items.iter().enumerate() {
        push_reply(state, item, resp3, depth + 1);
        ffi::lua_rawseti_(state, -2, c_int::try_from(i + 1).unwrap_or(c_int::MAX));
    }
}

/// The type of `table[field]` (pushed on the stack; the caller pops it).
unsafe fn get_field(state: *mut lua_State, table: c_int, field: &[u8]) -> c_int {
    push_bytes(state, field);
    ffi::lua_rawget_(state, table);
    ffi::lua_type(state, -1)
}

/// `table[field]` if it is a string.
unsafe fn string_field(state: *mut lua_State, table: c_int, field: &[u8]) -> Option<Vec<u8>> {
    let found = (get_field(state, table, field) == ffi::LUA_TSTRING).then(|| string_at(state, -1).to_vec());
    ffi::lua_pop(state, 1);
    found
}

/// Converts the Lua value at (absolute) `index` into the reply for a caller speaking
/// `protocol`; `script_resp3` is the protocol the script chose (the rules are in
/// [`super::convert`]).
unsafe fn to_reply(state: *mut lua_State, index: c_int, script_resp3: bool, protocol: Protocol, depth: usize) -> Reply {
    if depth > MAX_DEPTH || ffi::lua_checkstack(state, 4) == 0 {
        return Reply::error("ERR reached lua stack limit");
    }
    match ffi::lua_type(state, index) {
        ffi::LUA_TSTRING => Reply::Bulk(Bytes::copy_from_slice(string_at(state, index))),
        ffi::LUA_TBOOLEAN => match (ffi::lua_toboolean(state, index) != 0, script_resp3) {
            (value, true) => Reply::Boolean(value),
            (true, false) => Reply::Integer(1),
            (false, false) => Reply::Null,
        },
        ffi::LUA_TNUMBER => Reply::Integer(super::convert::truncate(ffi::lua_tonumber(state, index))),
        ffi::LUA_TTABLE => table_to_reply(state, index, script_resp3, protocol, depth),
        _ => Reply::Null,
    }
}

unsafe fn table_to_reply(state: *mut lua_State, table: c_int, script_resp3: bool, protocol: Protocol, depth: usize) -> Reply {
    use super::convert::one_line;
    if let Some(err) = string_field(state, table, b"err") {
        return super::convert::error_reply_from(&err);
    }
    if let Some(ok) = string_field(state, table, b"ok") {
        return Reply::Simple(one_line(&ok));
    }
    if get_field(state, table, b"double") == ffi::LUA_TNUMBER {
        let value = ffi::lua_tonumber(state, -1);
        ffi::lua_pop(state, 1);
        return Reply::Double(value);
    }
    ffi::lua_pop(state, 1);
    if let Some(big) = string_field(state, table, b"big_number") {
        let digits = one_line(&big);
        return match protocol {
            Protocol::Resp3 => {
                let mut raw = Vec::with_capacity(digits.len() + 3);
                raw.push(b'(');
                raw.extend_from_slice(&digits);
                raw.extend_from_slice(b"\r\n");
                Reply::Raw(raw.into())
            }
            Protocol::Resp2 => Reply::Bulk(digits),
        };
    }
    for (field, is_map) in [(&b"map"[..], true), (&b"set"[..], false)] {
        if get_field(state, table, field) == ffi::LUA_TTABLE {
            let inner = ffi::lua_gettop(state);
            let mut pairs = Vec::new();
            let mut members = Vec::new();
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, inner) != 0 {
                let top = ffi::lua_gettop(state);
                let key = to_reply(state, top - 1, script_resp3, protocol, depth + 1);
                if is_map {
                    pairs.push((key, to_reply(state, top, script_resp3, protocol, depth + 1)));
                } else {
                    members.push(key);
                }
                ffi::lua_pop(state, 1);
            }
            ffi::lua_pop(state, 1);
            return if is_map { Reply::Map(pairs) } else { Reply::Set(members) };
        }
        ffi::lua_pop(state, 1);
    }
    let mut items = Vec::new();
    let mut at: c_int = 1;
    loop {
        ffi::lua_rawgeti_(state, table, at);
        let top = ffi::lua_gettop(state);
        if ffi::lua_type(state, top) == ffi::LUA_TNIL {
            ffi::lua_pop(state, 1);
            break;
        }
        items.push(to_reply(state, top, script_resp3, protocol, depth + 1));
        ffi::lua_pop(state, 1);
        at = match at.checked_add(1) {
            Some(next) => next,
            None => break,
        };
    }
    Reply::Array(items)
}

/// The error reply for a script that raised the value at (absolute) `index`, in Redis 7's
/// form: `<err> script: <name>, on <source>:<line>.`
unsafe fn script_error(state: *mut lua_State, index: c_int, name: &str) -> Reply {
    if ffi::lua_type(state, index) != ffi::LUA_TTABLE {
        let text = if ffi::lua_type(state, index) == ffi::LUA_TSTRING {
            String::from_utf8_lossy(string_at(state, index)).chars().take(100).collect::<String>()
        } else {
            "execution failure".to_string()
        };
        return Reply::error(format!("ERR Error running script {name}, {text}"));
    }
    if ffi::lua_checkstack(state, 2) == 0 {
        return Reply::error(format!("ERR Error running script {name}, execution failure"));
    }
    let mut text = string_field(state, index, b"err").unwrap_or_else(|| b"ERR unknown error".to_vec());
    let source = string_field(state, index, b"source").map(|s| String::from_utf8_lossy(&s).into_owned());
    let line = match get_field(state, index, b"line") {
        ffi::LUA_TNUMBER => Some((ffi::lua_tonumber(state, -1) as i64).to_string()),
        ffi::LUA_TSTRING => Some(String::from_utf8_lossy(string_at(state, -1)).into_owned()),
        _ => None,
    };
    ffi::lua_pop(state, 1);
    if let (Some(source), Some(line)) = (source, line) {
        text.extend_from_slice(format!(" script: {name}, on {source}:{line}.").as_bytes());
    }
    super::convert::error_reply_from(&text)
}
