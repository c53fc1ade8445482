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
# shellcheck source=benches/callgrind.sh
. "$root/benches/callgrind.sh"

# shellcheck source=benches/scripting_workloads.sh
. "$root/benches/scripting_workloads.sh"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), valgrind $(valgrind --version | sed 's/valgrind-//'), herald $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), redis $(/usr/bin/redis-server --version | awk '{print $3}')"
echo "# redis-benchmark -c $CLIENTS -n $N -P <p> after a warm-up; instructions of the whole server process / N"
declare -A result
for label in ${SERVERS//,/ }; do
  port=$(free_port)
  start_under_callgrind "$label" "$port"
  declare -A sha=()
  sha[incr]=$(redis-cli -p "$port" script load "$INCR_SCRIPT")
  sha[rmw]=$(redis-cli -p "$port" script load "$RMW_SCRIPT")
  for pipeline in $PIPELINES; do
    for test in ${TESTS//,/ }; do
      workload_command "$test"
      redis-cli -p "$port" del key >/dev/null
      redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n 2000 -P "$pipeline" -q "${workload[@]}" >"$OUT_DIR/bench.log" 2>&1 || { echo "scripting_callgrind.sh: redis-benchmark failed:" >&2; cat "$OUT_DIR/bench.log" >&2; exit 1; }
      result[$label,$test,$pipeline]=$(callgrind_measure "$label" "$port" "$N" "$label-$test-P$pipeline" \
        -c "$CLIENTS" -P "$pipeline" "${workload[@]}")
    done
  done
  stop "$label"
done

# shellcheck disable=SC2086 # TESTS is a comma-separated list of words
callgrind_table 6 ${TESTS//,/ }
