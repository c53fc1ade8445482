# The Lua scripts the scripting benchmarks run (scripting_compare.sh, scripting_callgrind.sh),
# and the command line of each test; sourced, not run. One copy, so both measure the same
# bodies (and the same SHA1s) with the same commands.

# One INCR: what a script call costs beyond the command it runs.
INCR_SCRIPT="return redis.call('INCR', KEYS[1])"
# Ten commands reading and writing one hash: what each redis.call costs.
RMW_SCRIPT="local n = tonumber(redis.call('HGET', KEYS[1], 'count') or '0')
redis.call('HSET', KEYS[1], 'count', n + 1)
local hits = redis.call('HINCRBY', KEYS[1], 'hits', 1)
redis.call('HGET', KEYS[1], 'hits')
redis.call('HEXISTS', KEYS[1], 'count')
redis.call('HLEN', KEYS[1])
redis.call('HSET', KEYS[1], 'last', hits)
redis.call('HMGET', KEYS[1], 'count', 'hits', 'last')
redis.call('EXPIRE', KEYS[1], 3600)
redis.call('TTL', KEYS[1])
return hits"

# Sets the array `workload` to test $1's command line (incr, rmw or eval); the EVALSHA tests
# read their SHA1s from the associative array `sha` (incr, rmw), filled by SCRIPT LOAD.
workload_command() {
  case $1 in
    incr) workload=(EVALSHA "${sha[incr]}" 1 key) ;;
    rmw) workload=(EVALSHA "${sha[rmw]}" 1 key) ;;
    eval) workload=(EVAL "return 1" 0) ;;
    *) echo "$script: unknown test $1 (incr, rmw, eval)" >&2; exit 2 ;;
  esac
}
