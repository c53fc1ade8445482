#!/usr/bin/env bash
# Hashes, sets and sorted sets: Herald against redis-server, side by side, in one run.
#
# Starts both (benches/servers.sh: release Herald, Debian's redis-server, persistence off) and
# prints three tables:
# 1. redis-benchmark -t hset,sadd,zadd,zpopmin at -P 1 and -P 16 (-c 50, -r 100000);
# 2. ZRANK / ZRANGE 0 9 / ZRANGE BYSCORE LIMIT 0 10 on a 1,000,000-member sorted set, loaded
#    through redis-cli --pipe (members `member:%012d`, the form redis-benchmark's __rand_int__
#    takes, so ZRANK hits real members), as redis-benchmark custom commands with -r 1000000;
# 3. bytes per element (measured first, on fresh servers, keys kept until all four are
#    loaded, so freed memory is never reused and RSS deltas are real growth): 10,000 small hashes / sorted sets of 10 members (listpack on both
#    servers) and one large one of 100,000 (hashtable / skiplist), each element a ~12-byte
#    member (and a 5-byte value for hashes). Herald: RSS delta around the load (its INFO
#    used_memory is its RSS); Redis: both its used_memory delta (what its allocator counts:
#    Redis's own figure) and its RSS delta (the like-for-like one). RSS deltas carry page
#    granularity and allocator slack, hence the large element counts.
# Every ratio is herald/redis: above 1 is faster (rps) or, for memory, Herald uses more.
#
# Usage: benches/collections_compare.sh [--quick]      (--quick: -n 20000, 100k-member zset)
# Environment: ONLY=memory (just the memory table), PIN (1: servers on CPU 1, benchmark on CPU 0), HERALD_BIN, N (requests per
# throughput run, default 100000 at -P 1 and 2x at -P 16), BIG (members, default 1000000).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-100000}
BIG=${BIG:-1000000}
if [ "${1:-}" = --quick ]; then N=20000; BIG=100000; fi
script=collections_compare.sh
# shellcheck source=benches/servers.sh
source "$root/benches/servers.sh"

start_herald
REDIS8=0 start_redis_servers
# A second Herald for the memory table only, with one glibc malloc arena: with the default
# (one per thread, 64 MB reserved each) a connection served by a new worker thread shows up
# as megabytes of RSS growth that are arena setup, not data.
ports[heraldmem]=$(free_port)
start heraldmem "${ports[heraldmem]}" env MALLOC_ARENA_MAX=1 "$HERALD_BIN" --bind 127.0.0.1 --port "${ports[heraldmem]}"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# herald $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'); redis $(/usr/bin/redis-server --version | awk '{print $3}')"

echo
echo "## bytes per element"
# Writes the RESP for `keys` keys of `members` elements each: hash (HSET k member:%012d value)
# or zset (ZADD k i member:%012d), key names prefixed with $4.
load_file() {
  python3 - "$@" <<'PY'
import sys
kind, keys, members, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
w = sys.stdout.write
for k in range(keys):
    key = "%s:%d" % (prefix, k)
    for lo in range(0, members, 1000):
        args = ["HSET" if kind == "hash" else "ZADD", key]
        for i in range(lo, min(members, lo + 1000)):
            m = "member:%012d" % i
            args += [m, "value"] if kind == "hash" else [str(i), m]
        w("*%d\r\n" % len(args))
        for a in args:
            w("$%d\r\n%s\r\n" % (len(a), a))
PY
}
rss_of() { awk '/^VmRSS/ { print $2 * 1024 }' "/proc/${server_pid[$1]}/status"; }
used_of() { redis-cli -p "${ports[$1]}" INFO memory | awk -F: '/^used_memory:/ { print $2 + 0 }'; }
printf '%-26s %14s %14s %14s %13s %13s %14s\n' case herald_rss/el redis_used/el redis_rss/el encoding_h encoding_r herald/redis_used
# A first small load on each server, so connection and index setup is not counted.
for label in heraldmem redis; do
  for i in $(seq 1 200); do echo "SET warm:$i x"; done | redis-cli -p "${ports[$label]}" >/dev/null
done
for spec in "hash 10000 10" "hash 1 100000" "zset 10000 10" "zset 1 100000"; do
  read -r kind keys members <<<"$spec"
  elements=$((keys * members))
  prefix="$kind$members"
  load_file "$kind" "$keys" "$members" "$prefix" >"$workdir/load.resp"
  declare -A rss_d=() used_d=() enc=()
  for label in heraldmem redis; do
    rss0=$(rss_of "$label"); used0=$(used_of "$label")
    redis-cli -p "${ports[$label]}" --pipe <"$workdir/load.resp" >/dev/null
    rss_d[$label]=$(( $(rss_of "$label") - rss0 )); used_d[$label]=$(( $(used_of "$label") - used0 ))
    enc[$label]=$(redis-cli -p "${ports[$label]}" OBJECT ENCODING "$prefix:0")
  done
  per() { awk -v a="$1" -v n="$elements" 'BEGIN { printf "%.1f", a / n }'; }
  printf '%-26s %14s %14s %14s %13s %13s %14s\n' "$kind ${keys}x$members" "$(per "${rss_d[heraldmem]}")" \
    "$(per "${used_d[redis]}")" "$(per "${rss_d[redis]}")" "${enc[heraldmem]}" "${enc[redis]}" \
    "$(ratio "${rss_d[heraldmem]}" "${used_d[redis]}")"
  unset rss_d used_d enc
done
for label in heraldmem redis; do redis-cli -p "${ports[$label]}" FLUSHALL >/dev/null; done
if [ "${ONLY:-}" = memory ]; then exit 0; fi

# redis-benchmark's requests per second for one run; extra arguments are passed through.
rps() {
  local port=$1
  shift
  "${bench_pin[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -c 50 --csv "$@" 2>/dev/null \
    | awk -F'","' 'NR > 1 && NF > 1 { print $2; exit }'
}

echo
echo "## redis-benchmark -c 50 -r 100000 -t hset,sadd,zadd,zpopmin (-n $N at -P 1, $((2 * N)) at -P 16)"
printf '%-10s %8s %12s %12s %13s\n' test pipeline herald redis herald/redis
for pipeline in 1 16; do
  n=$([ "$pipeline" -gt 1 ] && echo $((2 * N)) || echo "$N")
  for test in hset sadd zadd zpopmin; do
    declare -A r=()
    for label in "${labels[@]}"; do
      # zpopmin pops what zadd left: refill for each server first.
      if [ "$test" = zpopmin ]; then rps "${ports[$label]}" -n "$n" -r 100000 -P 16 -t zadd >/dev/null; fi
      r[$label]=$(rps "${ports[$label]}" -n "$n" -r 100000 -P "$pipeline" -t "$test")
    done
    printf '%-10s %8s %12.0f %12.0f %13s\n' "$test" "$pipeline" "${r[herald]:-0}" "${r[redis]:-0}" "$(ratio "${r[herald]:-0}" "${r[redis]:-0}")"
    unset r
  done
done

echo
echo "## a $BIG-member sorted set 'big' (member:%012d, score = index), redis-benchmark -c 50 -r $BIG"
python3 - "$BIG" >"$workdir/big.resp" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout
for lo in range(0, n, 1000):
    parts = []
    args = [b"ZADD", b"big"]
    for i in range(lo, min(n, lo + 1000)):
        args += [str(i).encode(), b"member:%012d" % i]
    out.write("*%d\r\n" % len(args))
    for a in args:
        out.write("$%d\r\n%s\r\n" % (len(a), a.decode()))
PY
for label in "${labels[@]}"; do
  redis-cli -p "${ports[$label]}" --pipe <"$workdir/big.resp" >/dev/null
  echo "# $label: ZCARD big = $(redis-cli -p "${ports[$label]}" ZCARD big)"
done
printf '%-40s %8s %12s %12s %13s\n' command pipeline herald redis herald/redis
for pipeline in 1 16; do
  n=$([ "$pipeline" -gt 1 ] && echo $((2 * N)) || echo "$N")
  for cmd in "ZRANK big member:__rand_int__" "ZRANGE big 0 9" "ZRANGE big __rand_int__ +inf BYSCORE LIMIT 0 10"; do
    declare -A r=()
    for label in "${labels[@]}"; do
      # shellcheck disable=SC2086 # the command is split into words on purpose
      r[$label]=$(rps "${ports[$label]}" -n "$n" -r "$BIG" -P "$pipeline" $cmd)
    done
    printf '%-40s %8s %12.0f %12.0f %13s\n' "$cmd" "$pipeline" "${r[herald]:-0}" "${r[redis]:-0}" "$(ratio "${r[herald]:-0}" "${r[redis]:-0}")"
    unset r
  done
done
for label in "${labels[@]}"; do redis-cli -p "${ports[$label]}" DEL big >/dev/null; done

