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
//! - `pcall` hands scripts errors raised from Rust as `{err=...}` tables, as Redis's are.
//! - `pairs` and `next` over a library table (`cjson`, `redis`, ...) see its functions.

use mlua::{Function, Lua, Table};
use std::sync::atomic::{AtomicU64, Ordering};

/// Lua run once per interpreter, with the full globals as its environment. Takes the globals
/// and Redis's random functions; returns the script environment.
const PRELUDE: &str = r#"
local G, rand, seed, to_table = ...
local rawget, rawset, setmetatable, error, type, tostring, tonumber, select, pairs =
      rawget, rawset, setmetatable, error, type, tostring, tonumber, select, pairs
local floor, ceil = math.floor, math.ceil

for _, name in pairs({'loadfile', 'dofile', 'require', 'module', 'package', 'setfenv', 'getfenv',
                      'newproxy', 'print', 'debug', 'io'}) do
  G[name] = nil
end
G.os = {clock = G.os and G.os.clock}

local function checkint(v, i)
  local n = tonumber(v)
  if n == nil then
    local got = (v == nil) and 'no value' or type(v)
    error("bad argument #" .. i .. " to 'random' (number expected, got " .. got .. ")", 3)
  end
  if n >= 0 then return floor(n) else return ceil(n) end
end
G.math.random = function(...)
  local n = select('#', ...)
  local r = rand()
  if n == 0 then return r end
  if n == 1 then
    local u = checkint((...), 1)
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * u) + 1
  end
  if n == 2 then
    local l, u = ...
    l, u = checkint(l, 1), checkint(u, 2)
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - l + 1)) + l
  end
  error("wrong number of arguments", 2)
end
G.math.randomseed = function(v)
  local n = tonumber(v)
  if n == nil then
    error("bad argument #1 to 'randomseed' (number expected, got " .. ((v == nil) and 'no value' or type(v)) .. ")", 2)
  end
  seed(n)
end

local rawpcall = pcall
local function fix(ok, ...)
  if ok then return ok, ... end
  return ok, to_table((...))
end
G.pcall = function(...) return fix(rawpcall(...)) end

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

-- pairs and next see through the proxies, as Redis's read-only tables let them. Their
-- argument errors name the script's line, as the C functions' own would.
local next = next
local function checktable(name, n, t)
  if type(t) ~= 'table' then
    error("bad argument #1 to '" .. name .. "' (table expected, got " .. ((n == 0) and 'no value' or type(t)) .. ")", 3)
  end
  return real[t] or t
end
G.pairs = function(...)
  local t = checktable('pairs', select('#', ...), (...))
  return next, t, nil
end
G.next = function(...)
  local t, k = ...
  return next(checktable('next', select('#', ...), t), k)
end
G.rawget = function(t, k)
  local r = real[t]
  if r then return rawget(r, k) end
  return rawget(t, k)
end
G.rawset = function(t, k, v)
  if real[t] then error('Attempt to modify a readonly table', 2) end
  return rawset(t, k, v)
end

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
    let draw = lua.create_function(|_, ()| {
        let max = i32::MAX as u32;
        let value = next_lrand48(&RANDOM) % max;
        Ok(f64::from(value) / f64::from(max))
    })?;
    let reseed = lua.create_function(|_, n: f64| {
        RANDOM.store(seed_state(n as i32), Ordering::Relaxed);
        Ok(())
    })?;
    let to_table = lua.create_function(super::api::error_value_to_table)?;
    let prelude: Function = lua.load(PRELUDE).set_name("=herald sandbox").into_function()?;
    prelude.call((lua.globals(), draw, reseed, to_table))
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
