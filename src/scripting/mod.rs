//! Lua scripting: the interpreter behind EVAL, EVALSHA, SCRIPT and (built on it) FUNCTION.
//!
//! Layout:
//! - [`engine`]: the one Lua 5.1 interpreter per server, the script cache keyed by SHA1, and
//!   [`engine::Engine::run`], which runs a compiled script for a client with the keyspace
//!   locked (so a script is atomic, like MULTI/EXEC).
//! - [`raw`]: the hot path in Lua's C API: the script entry, `redis.call`, `redis.pcall`,
//!   `redis.setresp`, registered once per interpreter, and the conversions on the Lua stack
//!   (the one module allowed `unsafe`; its invariants are documented there).
//! - [`convert`]: Lua values <-> replies, Redis's RESP2 and RESP3 rules.
//! - [`api`]: the `redis` table (`redis.call`, `redis.pcall`, `redis.error_reply`, ...) and the
//!   error handler that gives script errors Redis's `script: <sha>, on @user_script:<line>.`
//! - [`sandbox`]: removed libraries, read-only globals, Redis's `math.random`.
//! - [`shebang`]: `#!lua flags=...` parsing.
//! - [`busy`]: the time limit: `busy-reply-threshold`, `-BUSY`, SCRIPT KILL.
//! - `lib/`: cjson, cmsgpack, bit, struct (registered through `lib::register_all` when present).
//!
//! Lock order: the keyspace, then [`Scripting::engine`]. Other connections look at
//! [`Scripting::busy`] (atomics only) before taking the keyspace lock, so they can answer
//! `-BUSY` while a long script holds it.

pub mod api;
pub mod busy;
pub mod convert;
pub mod engine;
pub mod functions;
pub mod sandbox;
pub mod shebang;
pub mod lib;
pub mod raw;

use parking_lot::Mutex;

/// The scripting state a server shares between connections.
pub struct Scripting {
    /// The interpreter and the script cache. Locked (after the keyspace) while a script runs or
    /// the cache is read or changed.
    pub engine: Mutex<engine::Engine>,
    /// Whether a script is running, since when, and SCRIPT KILL's request; read without locks.
    pub busy: busy::Busy,
    /// The FUNCTION libraries and their own interpreter (src/scripting/functions.rs). Locked
    /// (after the keyspace) while a function runs or the libraries are read or changed.
    pub functions: Mutex<functions::Functions>,
}

impl Scripting {
    /// A fresh interpreter with an empty cache.
    pub fn new() -> Scripting {
        let busy = busy::Busy::default();
        Scripting {
            engine: Mutex::new(engine::Engine::new(busy.kill_flag())),
            functions: Mutex::new(functions::Functions::new(busy.kill_flag())),
            busy,
        }
    }
}

/// The scripting fields of `INFO memory`, in Redis 7.4's order: the EVAL interpreter and
/// cache, then the FUNCTION libraries and their interpreter.
pub fn memory_info(shared: &crate::server::Shared) -> Vec<(&'static str, String)> {
    let (vm_eval, scripts_eval, cached) = {
        let engine = shared.scripting.engine.lock();
        (engine.used_memory(), engine.scripts_memory(), engine.len())
    };
    let (functions, libraries, vm_functions, functions_memory) = {
        let registry = shared.scripting.functions.lock();
        (registry.function_count(), registry.library_count(), registry.used_memory(), registry.libraries_memory())
    };
    let vm_total = vm_eval + vm_functions;
    let scripts = scripts_eval + functions_memory;
    vec![
        ("used_memory_lua", vm_eval.to_string()),
        ("used_memory_vm_eval", vm_eval.to_string()),
        ("used_memory_lua_human", human(vm_eval)),
        ("used_memory_scripts_eval", scripts_eval.to_string()),
        ("number_of_cached_scripts", cached.to_string()),
        ("number_of_functions", functions.to_string()),
        ("number_of_libraries", libraries.to_string()),
        ("used_memory_vm_functions", vm_functions.to_string()),
        ("used_memory_vm_total", vm_total.to_string()),
        ("used_memory_vm_total_human", human(vm_total)),
        ("used_memory_functions", functions_memory.to_string()),
        ("used_memory_scripts", scripts.to_string()),
        ("used_memory_scripts_human", human(scripts)),
    ]
}

/// Redis's `bytesToHuman`: `123B`, `54.00K`, `1.50M`, ...
fn human(bytes: usize) -> String {
    let n = bytes as f64;
    if n < 1024.0 {
        format!("{bytes}B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.2}K", n / 1024.0)
    } else if n < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", n / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", n / 1024.0 / 1024.0 / 1024.0)
    }
}

impl Default for Scripting {
    fn default() -> Self {
        Scripting::new()
    }
}

impl std::fmt::Debug for Scripting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripting").field("busy", &self.busy).finish_non_exhaustive()
    }
}
