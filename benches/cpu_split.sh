#!/usr/bin/env bash
# Where an unpipelined request's server CPU goes: user and system time per request, and context
# switches per request, Herald against redis-server, pinned as compare.sh pins them.
#
# compare.sh prints one CPU figure per request (user + system). At -P 1 that figure, and the
# requests per second with it, moves 20-30% between back-to-back runs of the same test; this
# script splits it so a run shows whether the swing is in the servers' own code (user) or in
# the kernel's loopback TCP path (system), for both servers in the same rounds.
#
# Usage: benches/cpu_split.sh
# Environment: N (200000 requests per run), CLIENTS (50), TESTS ("get incr"), ROUNDS (2),
# PIN, HERALD_BIN (see servers.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
TESTS=${TESTS:-get incr}
ROUNDS=${ROUNDS:-2}
script=cpu_split.sh
# shellcheck source=benches/servers.sh
. "$root/benches/servers.sh"

clk_tck=$(getconf CLK_TCK)

# Prints "user_ticks system_ticks voluntary+involuntary_switches" of every thread of process $1.
cpu_and_switches() {
  local stat switches
  stat=$(awk '{ print $14, $15 }' "/proc/$1/stat")
  switches=$(cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ { s += $2 } END { print s }')
  echo "$stat $switches"
}

start_herald
start_redis_servers
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# ${versions[herald]}; redis ${versions[redis]}; pinned: $(pinning)"
echo "# redis-benchmark -c $CLIENTS -n $N -P 1 -r 100000 -t <test>, after a 20000-request warm-up"
for round in $(seq 1 "$ROUNDS"); do
  echo
  echo "## round $round of $ROUNDS"
  printf '%-6s %-7s %10s %14s %14s %12s\n' test server rps "user us/req" "sys us/req" "ctxsw/req"
  for test in $TESTS; do
    for label in "${labels[@]}"; do
      port=${ports[$label]}
      redis-benchmark -p "$port" -c "$CLIENTS" -n 20000 -r 100000 -q -t "$test" >/dev/null 2>&1
      read -r user0 sys0 switches0 < <(cpu_and_switches "${server_pid[$label]}")
      rps=$("${bench_pin[@]}" redis-benchmark -p "$port" -c "$CLIENTS" -n "$N" -r 100000 -q -t "$test" 2>/dev/null |
        tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1)
      read -r user1 sys1 switches1 < <(cpu_and_switches "${server_pid[$label]}")
      awk -v t="$test" -v l="$label" -v r="${rps:-0}" -v u=$((user1 - user0)) -v s=$((sys1 - sys0)) \
        -v c=$((switches1 - switches0)) -v hz="$clk_tck" -v n="$N" \
        'BEGIN { printf "%-6s %-7s %10.0f %14.2f %14.2f %12.3f\n", t, l, r, u / hz * 1e6 / n, s / hz * 1e6 / n, c / n }'
    done
  done
done
