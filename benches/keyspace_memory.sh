#!/usr/bin/env bash
# Memory per key: Herald against redis-server, 1,000,000 small string keys.
#
# Starts Herald (release) and Debian's redis-server side by side (benches/servers.sh,
# persistence off), loads `SET key:%012d value` for KEYS keys (default 1,000,000) into each
# through `redis-cli --pipe`, and prints per server: RSS growth per key (from /proc/<pid>/status
# VmRSS before and after) and, for Redis, `used_memory` growth per key (its allocator's own
# count; Herald's INFO used_memory is its RSS, so only RSS is compared like for like).
#
# Usage: benches/keyspace_memory.sh            Environment: KEYS, HERALD_BIN, PIN.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
KEYS=${KEYS:-1000000}
script=keyspace_memory.sh
# shellcheck source=benches/servers.sh
source "$root/benches/servers.sh"

start_herald
REDIS8=0 start_redis_servers

python3 - "$KEYS" >"$workdir/load.resp" <<'PY'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
chunk = []
for i in range(n):
    key = b"key:%012d" % i
    chunk.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$5\r\nvalue\r\n" % (len(key), key))
    if len(chunk) == 10000:
        out.write(b"".join(chunk)); chunk = []
out.write(b"".join(chunk))
PY

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
used_memory() { redis-cli -p "$1" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'; }

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# herald ${versions[herald]} ($HERALD_BIN); redis ${versions[redis]}; $KEYS keys SET key:%012d value"
printf '%-8s %14s %14s %18s %18s %8s\n' server "RSS before KB" "RSS after KB" "RSS B/key" "used_memory B/key" dbsize
for label in herald redis; do
  port=${ports[$label]} pid=${server_pid[$label]}
  rss0=$(rss_kb "$pid") used0=$(used_memory "$port")
  redis-cli -p "$port" --pipe <"$workdir/load.resp" >/dev/null
  rss1=$(rss_kb "$pid") used1=$(used_memory "$port")
  dbsize=$(redis-cli -p "$port" dbsize)
  per_rss=$(awk -v a="$rss0" -v b="$rss1" -v n="$KEYS" 'BEGIN { printf "%.1f", (b - a) * 1024 / n }')
  per_used=$(awk -v a="$used0" -v b="$used1" -v n="$KEYS" 'BEGIN { printf "%.1f", (b - a) / n }')
  [ "$label" = herald ] && per_used="(= RSS)"
  printf '%-8s %14s %14s %18s %18s %8s\n' "$label" "$rss0" "$rss1" "$per_rss" "$per_used" "$dbsize"
done
