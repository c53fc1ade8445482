//! The sandbox Redis puts scripts in.
//!
//! - Libraries: base, table, string, math, coroutine, `os` with only `os.clock`, and the
//!   libraries under `lib/`; no `io`, `debug`, `package`, `require`, `loadfile`, `dofile`,
//!   `print`, `setfenv`/`getfenv`, `module`, `newproxy`.
//! - Globals are read-only and reading an undeclared global is an error, with Redis's words:
//!   `Script attempted to access nonexistent global variable 'x'` and
//!   `Attempt to modify a readonly table` (also for every library table, `redis` included).
//!   Scripts run with a proxy environment whose reads fall through to the real globals.
//! - `math.random` / `math.randomseed` use Redis's `lrand48` generator: one sequence for the
//!   whole server, starting from `lrand48`'s default state and continuing from script to script,
//!   as in Redis 7 (a fresh server's first `math.random(1000)` is 397); `math.randomseed`
//!   reseeds it.
//! - `pcall` hands scripts an error table's `err` text, as Redis 7's `pcall` does (errors
//!   raised from Rust become such tables first).
//! - `pairs` and `next` over a library table (`cjson`, `redis`, ...) see its functions.

use super::lib::LibError;
use mlua::{Function, Lua, Table, Value};
use std::sync::atomic::{AtomicU64, Ordering};

/// Lua run once per interpreter, with the full globals as its environment. Takes the globals
/// and Redis's random functions; returns the script environment.
const PRELUDE: &str = r#"
local G, random, randomseed, to_table, FAIL, cfunction = ...
local rawget, rawset, setmetatable, error, type, tostring, tonumber, select, pairs =
      rawget, rawset, setmetatable, error, type, tostring, tonumber, select, pairs

for _, name in pairs({'loadfile', 'dofile', 'require', 'module', 'package', 'setfenv', 'getfenv',
                      'newproxy', 'print', 'debug', 'io'}) do
  G[name] = nil
end
G.os = {clock = G.os and G.os.clock}

G.math.random = random
G.math.randomseed = randomseed

-- Redis's pcall (luaRedisPcall): an error table with a string (or number) `err` is handed to
-- the script as that `err` alone; errors raised from Rust become such tables first.
-- Without arguments it tries to call its own result placeholder, as Redis's does.
local rawpcall = pcall
local function fix(ok, ...)
  if ok then return ok, ... end
  local e = to_table((...))
  if type(e) == 'table' then
    local text = e.err
    if type(text) == 'string' or type(text) == 'number' then e = text end
  end
  return false, e
end
G.pcall = function(...)
  if select('#', ...) == 0 then return false, 'attempt to call a boolean value' end
  return fix(rawpcall(...))
end

-- Read-only proxies: an empty table whose reads fall through to the real one.
local real = setmetatable({}, {__mode = 'k'})
local function readonly() error('Attempt to modify a readonly table', 2) end
local function protect(t)
  local proxy = setmetatable({}, {__index = t, __newindex = readonly, __metatable = false})
  real[proxy] = t
  return proxy
end
local names = {}
for k, v in pairs(G) do
  if type(v) == 'table' and k ~= '_G' then names[#names + 1] = k end
end
for _, k in pairs(names) do G[k] = protect(G[k]) end

-- pairs, next, rawget and rawset see through the proxies, as Redis's read-only tables let
-- them. They are C functions (cfunction: the Lua bodies return FAIL, kind, message[, arg] to
-- raise), so that their errors name the script's line even from a tail call, and name the
-- function as the caller called it, as Redis's C functions do.
local next = next
local function typename(n, i, v)
  if n < i then return 'no value' end
  return type(v)
end
local function checked(n, t, nargs)
  if type(t) ~= 'table' then return nil, 'table expected, got ' .. typename(n, 1, t), 1 end
  if n < nargs then return nil, 'value expected', n + 1 end
  return real[t] or t
end
G.pairs = cfunction(function(...)
  local t, msg, arg = checked(select('#', ...), (...), 1)
  if not t then return FAIL, 4, msg, arg end
  return next, t, nil
end)
G.next = cfunction(function(...)
  local t, k = ...
  local r, msg, arg = checked(select('#', ...), t, 1)
  if not r then return FAIL, 4, msg, arg end
  return next(r, k)
end)
G.rawget = cfunction(function(...)
  local t, k = ...
  local r, msg, arg = checked(select('#', ...), t, 2)
  if not r then return FAIL, 4, msg, arg end
  return rawget(r, k)
end)
G.rawset = cfunction(function(...)
  local t, k, v = ...
  local r, msg, arg = checked(select('#', ...), t, 3)
  if not r then return FAIL, 4, msg, arg end
  if r ~= t then return FAIL, 3, 'Attempt to modify a readonly table' end
  rawset(t, k, v)
  return t
end)

local env = protect(G)
G._G = env
setmetatable(G, {__index = function(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end, __metatable = false})
return env
"#;

/// Redis's `redisSrand48` state for a seed.
pub fn seed_state(seed: i32) -> u64 {
    (u64::from(seed as u32) << 16) | 0x330E
}

/// `lrand48`'s state before any seeding: x = 0x1234_ABCD_330E.
pub const DEFAULT_STATE: u64 = 0x1234_ABCD_330E;

/// The server's one `math.random` sequence, as Redis's is a C static shared by all scripts.
static RANDOM: AtomicU64 = AtomicU64::new(DEFAULT_STATE);

/// Redis's `redisLrand48`: the next 31-bit value of the 48-bit linear congruential generator.
pub fn next_lrand48(state: &AtomicU64) -> u32 {
    let current = state.load(Ordering::Relaxed);
    let next = current.wrapping_mul(0x5DEE_CE66D).wrapping_add(0xB) & ((1u64 << 48) - 1);
    state.store(next, Ordering::Relaxed);
    (next >> 17) as u32
}

/// Applies the sandbox to a fresh interpreter whose standard libraries (and `lib/`) are
/// loaded; returns the environment scripts run in.
pub fn apply(lua: &Lua) -> mlua::Result<Table> {
    let wrap = super::lib::Wrap::new(lua)?;
    // Redis's `math_random` and `math_randomseed` (C functions, so their errors name the
    // script's line even from a tail call): the number is drawn before the arguments are
    // checked, as there.
    let random = wrap.one(lua, "random", |_, args| {
        let max = i32::MAX as u32;
        let r = f64::from(next_lrand48(&RANDOM) % max) / f64::from(max);
        let value = match args.len() {
            0 => r,
            1 => {
                let u = args.check_integer(1)? as i32;
                if u < 1 {
                    return Err(LibError::arg(1, "interval is empty"));
                }
                (r * f64::from(u)).floor() + 1.0
            }
            2 => {
                let l = args.check_integer(1)? as i32;
                let u = args.check_integer(2)? as i32;
                if l > u {
                    return Err(LibError::arg(2, "interval is empty"));
                }
                (r * (f64::from(u) - f64::from(l) + 1.0)).floor() + f64::from(l)
            }
            _ => return Err(LibError::msg("wrong number of arguments")),
        };
        Ok(Value::Number(value))
    })?;
    let randomseed = wrap.many(lua, "randomseed", |_, args| {
        let seed = args.check_integer(1)? as i32;
        RANDOM.store(seed_state(seed), Ordering::Relaxed);
        Ok(Vec::new())
    })?;
    let to_table = lua.create_function(super::api::error_value_to_table)?;
    let cfunction = lua.create_function(|lua, raw: Function| super::raw::library_function(lua, raw, super::raw::Results::All))?;
    let prelude: Function = lua.load(PRELUDE).set_name("=herald sandbox").into_function()?;
    prelude.call((lua.globals(), random, randomseed, to_table, super::lib::fail_marker(), cfunction))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lrand48_matches_redis_from_its_default_state() {
        // Redis 7, fresh server: EVAL "return math.random(1000)" 0 -> 397.
        let state = AtomicU64::new(DEFAULT_STATE);
        let r = f64::from(next_lrand48(&state) % (i32::MAX as u32)) / f64::from(i32::MAX as u32);
        assert_eq!((r * 1000.0).floor() as i64 + 1, 397);
    }
}
