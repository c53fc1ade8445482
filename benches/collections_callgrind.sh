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
# HERALD_BIN (built if unset), OUT_DIR (a temporary directory; dumps stay there).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-20000}
BIG=${BIG:-1000000}
PIPELINES=${PIPELINES:-1 16}
SERVERS=${SERVERS:-herald,redis}
TESTS="hset sadd zadd zpopmin zrank zrange09 byscore"
for tool in valgrind callgrind_control redis-benchmark redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "collections_callgrind.sh: $tool not found" >&2; exit 1; }
done
if [ -z "${HERALD_BIN:-}" ]; then
  (cd "$root" && cargo build --release --bin herald --quiet)
  HERALD_BIN=$root/target/release/herald
fi
OUT_DIR=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$OUT_DIR"

server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_server() {
  local label=$1 port=$2
  local cmd
  case $label in
    herald) cmd=("$HERALD_BIN" --bind 127.0.0.1 --port "$port") ;;
    redis) cmd=(/usr/bin/redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$OUT_DIR") ;;
    *) echo "collections_callgrind.sh: unknown server $label" >&2; exit 2 ;;
  esac
  valgrind --tool=callgrind --compress-strings=no --compress-pos=no --callgrind-out-file="$OUT_DIR/$label.%p.out" "${cmd[@]}" >"$OUT_DIR/$label.log" 2>&1 &
  server=$!
  for _ in $(seq 1 300); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.2
  done
  echo "collections_callgrind.sh: $label did not start under valgrind; its log:" >&2
  cat "$OUT_DIR/$label.log" >&2
  exit 1
}

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

# Runs one measured redis-benchmark and prints instructions per request.
measure() {
  local label=$1 port=$2 pipeline=$3
  shift 3
  callgrind_control -z "$server" >/dev/null 2>&1
  redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -n "$N" -P "$pipeline" -q "$@" >"$OUT_DIR/bench.log" 2>&1 \
    || { echo "collections_callgrind.sh: redis-benchmark failed:" >&2; cat "$OUT_DIR/bench.log" >&2; exit 1; }
  local before
  before=$(ls "$OUT_DIR"/"$label".*.out* 2>/dev/null | wc -l)
  callgrind_control -d "$server" >/dev/null 2>&1
  if [ "$(ls "$OUT_DIR"/"$label".*.out* | wc -l)" -le "$before" ]; then
    echo "collections_callgrind.sh: no new dump from $label" >&2
    exit 1
  fi
  local dump
  dump=$(ls -t "$OUT_DIR"/"$label".*.out* | head -1)
  awk -v n="$N" '/^(summary|totals):/ { printf "%.0f\n", $2 / n; exit }' "$dump"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), valgrind $(valgrind --version | sed 's/valgrind-//'), herald $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), redis $(/usr/bin/redis-server --version | awk '{print $3}')"
echo "# redis-benchmark -c 50 -n $N -P <p>; instructions of the whole server process / N; big = $BIG members"
declare -A result
for label in ${SERVERS//,/ }; do
  for pipeline in $PIPELINES; do
    port=$(free_port)
    start_server "$label" "$port"
    redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -n 2000 -q PING >/dev/null 2>&1
    result[$label,hset,$pipeline]=$(measure "$label" "$port" "$pipeline" -r 100000 -t hset)
    result[$label,sadd,$pipeline]=$(measure "$label" "$port" "$pipeline" -r 100000 -t sadd)
    result[$label,zadd,$pipeline]=$(measure "$label" "$port" "$pipeline" -r 100000 -t zadd)
    result[$label,zpopmin,$pipeline]=$(measure "$label" "$port" "$pipeline" -t zpopmin)
    redis-cli -p "$port" --pipe <"$OUT_DIR/big.resp" >/dev/null
    result[$label,zrank,$pipeline]=$(measure "$label" "$port" "$pipeline" -r "$BIG" ZRANK big member:__rand_int__)
    result[$label,zrange09,$pipeline]=$(measure "$label" "$port" "$pipeline" ZRANGE big 0 9)
    result[$label,byscore,$pipeline]=$(measure "$label" "$port" "$pipeline" -r "$BIG" ZRANGE big __rand_int__ +inf BYSCORE LIMIT 0 10)
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
  done
done

printf '%-9s %8s' test pipeline
for label in ${SERVERS//,/ }; do printf ' %14s' "$label Ir/req"; done
[ "$SERVERS" = herald,redis ] && printf '  %12s' herald/redis
echo
for pipeline in $PIPELINES; do
  for test in $TESTS; do
    printf '%-9s %8s' "$test" "$pipeline"
    for label in ${SERVERS//,/ }; do printf ' %14s' "${result[$label,$test,$pipeline]}"; done
    if [ "$SERVERS" = herald,redis ]; then
      printf '  %12s' "$(awk -v a="${result[herald,$test,$pipeline]}" -v b="${result[redis,$test,$pipeline]}" 'BEGIN { printf "%.2f", a / b }')"
    fi
    echo
  done
done
echo "# dumps: $OUT_DIR/<server>.<pid>.out.<n> (callgrind_annotate --inclusive=yes FILE)"
