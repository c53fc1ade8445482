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
# SERVERS (herald,redis), HERALD_BIN (built if unset), OUT_DIR (a temporary directory).
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
for tool in valgrind callgrind_control redis-benchmark redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "scripting_callgrind.sh: $tool not found" >&2; exit 1; }
done
if [ -z "${HERALD_BIN:-}" ]; then
  (cd "$root" && cargo build --release --bin herald --quiet)
  HERALD_BIN=$root/target/release/herald
fi
OUT_DIR=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$OUT_DIR"

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

server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts one server under callgrind (collecting from the start; counters are zeroed later).
start_server() {
  local label=$1 port=$2
  local cmd
  case $label in
    herald) cmd=("$HERALD_BIN" --bind 127.0.0.1 --port "$port") ;;
    redis) cmd=(/usr/bin/redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$OUT_DIR") ;;
    *) echo "scripting_callgrind.sh: unknown server $label" >&2; exit 2 ;;
  esac
  valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file="$OUT_DIR/$label.%p.out" "${cmd[@]}" >"$OUT_DIR/$label.log" 2>&1 &
  server=$!
  for _ in $(seq 1 300); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.2
  done
  echo "scripting_callgrind.sh: $label did not start under valgrind; its log:" >&2
  cat "$OUT_DIR/$label.log" >&2
  exit 1
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), valgrind $(valgrind --version | sed 's/valgrind-//'), herald $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), redis $(/usr/bin/redis-server --version | awk '{print $3}')"
echo "# redis-benchmark -c $CLIENTS -n $N -P <p> after a warm-up; instructions of the whole server process / N"
printf '%-6s %8s' test pipeline
for label in ${SERVERS//,/ }; do printf ' %14s' "$label Ir/req"; done
[ "$SERVERS" = herald,redis ] && printf '  %12s' herald/redis
echo

declare -A result
for label in ${SERVERS//,/ }; do
  port=$(free_port)
  start_server "$label" "$port"
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
      callgrind_control -z "$server" >/dev/null 2>&1
      redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$N" -P "$pipeline" -q "${cmd[@]}" >"$OUT_DIR/bench.log" 2>&1 || { echo "scripting_callgrind.sh: redis-benchmark failed:" >&2; cat "$OUT_DIR/bench.log" >&2; exit 1; }
      before=$(ls "$OUT_DIR"/"$label".*.out* 2>/dev/null | wc -l)
      callgrind_control -d "$server" >/dev/null 2>&1
      dump=$(ls -t "$OUT_DIR"/"$label".*.out* | head -1)
      if [ "$(ls "$OUT_DIR"/"$label".*.out* | wc -l)" -le "$before" ]; then
        echo "scripting_callgrind.sh: no new dump from $label" >&2
        exit 1
      fi
      cp "$dump" "$OUT_DIR/$label-$test-P$pipeline.callgrind"
      total=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
      result[$label,$test,$pipeline]=$(awk -v t="$total" -v n="$N" 'BEGIN { printf "%.0f", t / n }')
    done
  done
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=
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
