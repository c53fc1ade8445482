#!/usr/bin/env bash
# XADD throughput: Herald against redis-server under redis-benchmark, in one run, interleaved.
#
# compare.sh drives redis-benchmark's built-in tests (-t); XADD with an auto ID needs a custom
# command line (`redis-benchmark ... XADD s '*' f v`), which -t cannot express, hence this
# companion script. It follows compare.sh's conventions: Herald's release build and Debian's
# redis-server on free loopback ports (persistence off), servers pinned to CPU 1 and
# redis-benchmark to CPU 0 when the machine has two CPUs, targets alternating run by run
# (herald, redis, herald, ...) so background noise falls on both, and the CPU time each server
# spent per request (user + system from /proc/<pid>/stat) next to requests per second, since on
# a busy machine the rps columns move with everyone else's load and CPU per request mostly does
# not. The stream is deleted before every run, so each run starts from an empty stream.
# Stops every server it started on exit, whatever the exit.
#
# Usage: benches/stream_compare.sh [-n N] [-c clients] [-P "1 16"] [--rounds R] [--no-pin]
# Environment (flags win): CLIENTS (50), PIPELINES ("1 16"), N_SINGLE (100000, -n at -P 1),
# N_PIPELINE (200000, -n at -P > 1), N (both), ROUNDS (2), PIN (1 on >= 2 CPUs),
# HERALD_BIN (use this binary instead of building one), CSV_OUT (append
# round,command,pipeline,server,rps,cpu_us_per_req rows to this file).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PIPELINES=${PIPELINES:-1 16}
CLIENTS=${CLIENTS:-50}
N_SINGLE=${N_SINGLE:-100000}
N_PIPELINE=${N_PIPELINE:-200000}
ROUNDS=${ROUNDS:-2}
CSV_OUT=${CSV_OUT:-}

while [ $# -gt 0 ]; do
  case $1 in
    -n) N=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -P) PIPELINES=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "stream_compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

script=stream_compare.sh
# shellcheck source=benches/servers.sh
source "$root/benches/servers.sh"

start_herald
REDIS8=0 start_redis_servers

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# herald $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?') on port ${ports[herald]}; redis $(/usr/bin/redis-server --version | awk '{print $3}') on port ${ports[redis]}"
echo "# redis-benchmark -c $CLIENTS -n <$N_SINGLE at -P 1, ${N:-$N_PIPELINE} at -P > 1> -P <p> XADD s '*' f v; pinned: $(pinning)"

clk_tck=$(getconf CLK_TCK)
cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}



for round in $(seq 1 "$ROUNDS"); do
  echo
  echo "## round $round of $ROUNDS"
  printf '%-8s %8s %12s %12s %13s %14s %13s %8s\n' command pipeline herald redis herald/redis "herald us/req" "redis us/req" "XLEN ok"
  for pipeline in $PIPELINES; do
    n=${N:-$([ "$pipeline" -gt 1 ] && echo "$N_PIPELINE" || echo "$N_SINGLE")}
    declare -A rps=() cpu=()
    lens_ok=yes
    for label in "${labels[@]}"; do
      before=$(cpu_ticks "${server_pid[$label]}")
      rps[$label]=$(xadd_rps "${ports[$label]}" "$pipeline" "$n")
      rps[$label]=${rps[$label]:-0}
      cpu[$label]=$(awk -v t="$(( $(cpu_ticks "${server_pid[$label]}") - before ))" -v hz="$clk_tck" -v n="$n" \
        'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
      # Every XADD must have landed: the stream holds at least n entries. Not exactly n: with
      # -P > 1, redis-benchmark's clients send whole pipelines and stop once n replies came
      # back, so a few more than n can run (5,008 for -n 5000 -P 16 -c 50, on redis-server too).
      [ "$(redis-cli -p "${ports[$label]}" xlen s)" -ge "$n" ] || lens_ok="no ($label)"
      if [ -n "$CSV_OUT" ]; then
        echo "$round,xadd,$pipeline,$label,${rps[$label]},${cpu[$label]}" >>"$CSV_OUT"
      fi
    done
    printf '%-8s %8s %12.0f %12.0f %13s %14s %13s %8s\n' xadd "$pipeline" "${rps[herald]}" "${rps[redis]}" \
      "$(ratio "${rps[herald]}" "${rps[redis]}")" "${cpu[herald]}" "${cpu[redis]}" "$lens_ok"
    unset rps cpu
  done
done
