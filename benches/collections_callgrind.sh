#!/usr/bin/env bash
# Hashes, sets and sorted sets in CPU instructions per request: Herald against redis-server,
# each run under `valgrind --tool=callgrind`, for the workloads of collections_compare.sh.
#
# Instruction counts do not depend on the machine's load, so this compares the two servers'
# work per request even on a busy machine. For each server: start it under callgrind, then per
# test zero the counters (callgrind_control -z), run `redis-benchmark -c 50 -n N -P p <test>`,
# dump (callgrind_control -d) and divide the dump's instruction total by N. Every thread of
# the server counts; redis-benchmark runs outside valgrind. Tests, in this order on one server:
#   hset, sadd, zadd   redis-benchmark -t <test> -r 100000 (the key grows as in the benchmark)
#   zpopmin            -t zpopmin, after the zadd run filled myzset
#   zrank, zrange09, byscore
#                      on `big`, BIG members `member:%012d` with score = index (loaded with
#                      redis-cli --pipe, not measured): ZRANK big member:__rand_int__,
#                      ZRANGE big 0 9, ZRANGE big __rand_int__ +inf BYSCORE LIMIT 0 10 (-r BIG)
#
# Usage: benches/collections_callgrind.sh
# Environment: N (20000), BIG (1000000), PIPELINES ("1 16"), SERVERS (herald,redis),
# TESTS (a subset of the tests above, in that order), CACHE_SIM=1 (cells become
# instructions / L1 data misses / last-level data misses per request: benches/callgrind.sh),
# HERALD_BIN (built if unset), OUT_DIR (a temporary directory; dumps stay there).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-20000}
BIG=${BIG:-1000000}
PIPELINES=${PIPELINES:-1 16}
SERVERS=${SERVERS:-herald,redis}
TESTS=${TESTS:-hset sadd zadd zpopmin zrank zrange09 byscore}
script=collections_callgrind.sh
# shellcheck source=benches/callgrind.sh
. "$root/benches/callgrind.sh"

python3 - "$BIG" >"$OUT_DIR/big.resp" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
for lo in range(0, n, 1000):
    args = ["ZADD", "big"]
    for i in range(lo, min(n, lo + 1000)):
        args += [str(i), "member:%012d" % i]
    out.write("*%d\r\n" % len(args))
    for a in args:
        out.write("$%d\r\n%s\r\n" % (len(a), a))
PY

# Prints LABEL's instructions per request for one run: measure LABEL PORT PIPELINE TEST ARGS...
measure() {
  local label=$1 port=$2 pipeline=$3 test=$4
  shift 4
  callgrind_measure "$label" "$port" "$N" "$label-$test-P$pipeline" -c 50 -P "$pipeline" "$@"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), valgrind $(valgrind --version | sed 's/valgrind-//'), herald $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), redis $(/usr/bin/redis-server --version | awk '{print $3}')"
echo "# redis-benchmark -c 50 -n $N -P <p>; instructions of the whole server process / N; big = $BIG members"
declare -A result
for label in ${SERVERS//,/ }; do
  for pipeline in $PIPELINES; do
    port=$(free_port)
    start_under_callgrind "$label" "$port"
    redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -n 2000 -q PING >/dev/null 2>&1
    for test in $TESTS; do
      case $test in
        hset | sadd | zadd) args=(-r 100000 -t "$test") ;;
        zpopmin) args=(-t zpopmin) ;;
        zrank) args=(-r "$BIG" ZRANK big member:__rand_int__) ;;
        zrange09) args=(ZRANGE big 0 9) ;;
        byscore) args=(-r "$BIG" ZRANGE big __rand_int__ +inf BYSCORE LIMIT 0 10) ;;
        *) echo "$script: unknown test $test" >&2; exit 2 ;;
      esac
      # The big set is loaded (not measured) before the first test that reads it.
      case $test in zrank | zrange09 | byscore)
        [ "$(redis-cli -p "$port" EXISTS big)" = 1 ] || redis-cli -p "$port" --pipe <"$OUT_DIR/big.resp" >/dev/null ;;
      esac
      result[$label,$test,$pipeline]=$(measure "$label" "$port" "$pipeline" "$test" "${args[@]}")
    done
    stop "$label"
  done
done

# shellcheck disable=SC2086 # TESTS is a list of words
callgrind_table 9 $TESTS
