#!/usr/bin/env bash
# The request path's cost in CPU instructions per request: Herald against redis-server, each
# run under `valgrind --tool=callgrind`, for compare.sh's SET, GET and INCR.
#
# Instruction counts do not depend on the machine's load, so this compares the two servers'
# work per request even on a busy machine. At -P 1 (one request per read and per write) it is
# the per-request overhead of the connection loop and the runtime that shows; at -P 16 the
# commands themselves. For each server: start it under callgrind, warm up with one short run,
# then per test zero the counters (callgrind_control -z), run
# `redis-benchmark -c CLIENTS -n N -P p -r 100000 -t <test>`, dump (callgrind_control -d) and
# divide the dump's instruction total by N. Every thread of the server counts (Herald's
# runtime workers included); redis-benchmark runs outside valgrind.
#
# Usage: benches/request_callgrind.sh
# Environment: N (20000), CLIENTS (50), PIPELINES ("1 16"), TESTS (set,get,incr), SERVERS
# (herald,redis), HERALD_BIN (built if unset), OUT_DIR (a temporary directory; the dumps stay
# there for `callgrind_annotate --inclusive=yes`).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-20000}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-1 16}
TESTS=${TESTS:-set,get,incr}
SERVERS=${SERVERS:-herald,redis}
script=request_callgrind.sh
# shellcheck source=benches/callgrind.sh
. "$root/benches/callgrind.sh"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), valgrind $(valgrind --version | sed 's/valgrind-//'), herald $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), redis $(/usr/bin/redis-server --version | awk '{print $3}')"
echo "# redis-benchmark -c $CLIENTS -n $N -P <p> -r 100000 -t <test> after a warm-up; instructions of the whole server process / N"
declare -A result
for label in ${SERVERS//,/ }; do
  port=$(free_port)
  start_under_callgrind "$label" "$port"
  redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n 2000 -r 100000 -q -t set,get,incr >/dev/null 2>&1
  for pipeline in $PIPELINES; do
    for test in ${TESTS//,/ }; do
      result[$label,$test,$pipeline]=$(callgrind_measure "$label" "$port" "$N" "$label-$test-P$pipeline" \
        -c "$CLIENTS" -P "$pipeline" -r 100000 -t "$test")
    done
  done
  stop "$label"
done

# shellcheck disable=SC2086 # TESTS is a comma-separated list of words
callgrind_table 6 ${TESTS//,/ }
