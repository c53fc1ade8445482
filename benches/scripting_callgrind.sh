#!/usr/bin/env bash
# Lua scripting cost in CPU instructions per request: Herald against redis-server, each run
# under `valgrind --tool=callgrind`, for the workloads of scripting_compare.sh.
#
# Instruction counts do not depend on the machine's load, so this compares the two servers'
# work per request even on a busy machine (where requests per second do not). For each
# server and workload: start the server under callgrind, SCRIPT LOAD the scripts, warm up with
# a short redis-benchmark run, zero the counters (callgrind_control -z), run
# `redis-benchmark -c CLIENTS -n N -P p <command>`, dump (callgrind_control -d) and divide the
# dump's instruction total by N. Every thread of the server counts (Herald's runtime workers
# included); redis-benchmark runs outside valgrind and does not. The dumps stay in OUT_DIR for
# callgrind_annotate.
#
# Usage: benches/scripting_callgrind.sh [-n N] [-c clients] [-P "1 16"] [--tests incr,rmw,eval]
#          [--servers herald,redis]
# Environment (flags win): N (20000), CLIENTS (50), PIPELINES ("1 16"), TESTS (incr,rmw,eval),
# SERVERS (herald,redis), HERALD_BIN (built if unset), OUT_DIR (a temporary directory;
# the dumps stay there).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-20000}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-1 16}
TESTS=${TESTS:-incr,rmw,eval}
SERVERS=${SERVERS:-herald,redis}
while [ $# -gt 0 ]; do
  case $1 in
    -n) N=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -P) PIPELINES=$2; shift 2 ;;
    --tests|-t) TESTS=$2; shift 2 ;;
    --servers) SERVERS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "scripting_callgrind.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
script=scripting_callgrind.sh
PIN=0
# shellcheck source=benches/servers.sh
. "$root/benches/servers.sh"
OUT_DIR=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$OUT_DIR"
# shellcheck source=benches/callgrind.sh
. "$root/benches/callgrind.sh"

# The scripts of scripting_compare.sh, word for word (the SHA1s must match).
INCR_SCRIPT="return redis.call('INCR', KEYS[1])"
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

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), valgrind $(valgrind --version | sed 's/valgrind-//'), herald $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), redis $(/usr/bin/redis-server --version | awk '{print $3}')"
echo "# redis-benchmark -c $CLIENTS -n $N -P <p> after a warm-up; instructions of the whole server process / N"
printf '%-6s %8s' test pipeline
for label in ${SERVERS//,/ }; do printf ' %14s' "$label Ir/req"; done
[ "$SERVERS" = herald,redis ] && printf '  %12s' herald/redis
echo

declare -A result
for label in ${SERVERS//,/ }; do
  port=$(free_port)
  start_under_callgrind "$label" "$port"
  declare -A sha=()
  sha[incr]=$(redis-cli -p "$port" script load "$INCR_SCRIPT")
  sha[rmw]=$(redis-cli -p "$port" script load "$RMW_SCRIPT")
  for pipeline in $PIPELINES; do
    for test in ${TESTS//,/ }; do
      case $test in
        incr) cmd=(EVALSHA "${sha[incr]}" 1 key) ;;
        rmw) cmd=(EVALSHA "${sha[rmw]}" 1 key) ;;
        eval) cmd=(EVAL "return 1" 0) ;;
        *) echo "scripting_callgrind.sh: unknown test $test" >&2; exit 2 ;;
      esac
      redis-cli -p "$port" del key >/dev/null
      redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n 2000 -P "$pipeline" -q "${cmd[@]}" >"$OUT_DIR/bench.log" 2>&1 || { echo "scripting_callgrind.sh: redis-benchmark failed:" >&2; cat "$OUT_DIR/bench.log" >&2; exit 1; }
      result[$label,$test,$pipeline]=$(callgrind_measure "$label" "$port" "$N" "$label-$test-P$pipeline" \
        -c "$CLIENTS" -P "$pipeline" "${cmd[@]}")
    done
  done
  stop "$label"
done

for pipeline in $PIPELINES; do
  for test in ${TESTS//,/ }; do
    printf '%-6s %8s' "$test" "$pipeline"
    for label in ${SERVERS//,/ }; do printf ' %14s' "${result[$label,$test,$pipeline]}"; done
    if [ "$SERVERS" = herald,redis ]; then
      printf '  %12s' "$(awk -v a="${result[herald,$test,$pipeline]}" -v b="${result[redis,$test,$pipeline]}" 'BEGIN { printf "%.2f", a / b }')"
    fi
    echo
  done
done
echo "# dumps: $OUT_DIR/<server>-<test>-P<p>.callgrind (callgrind_annotate --inclusive=yes FILE)"
