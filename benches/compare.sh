#!/usr/bin/env bash
# Herald against redis-server, side by side, with the same redis-benchmark parameters.
#
# Builds Herald in release, starts it and Debian's redis-server (and Redis 8.2 from
# ../shared/tools/redis8 when that script is there) on free ports of 127.0.0.1 with persistence
# off, then runs redis-benchmark against each, test by test and target by target in turn
# (herald, redis, redis8, herald, ...), so background noise falls on all of them alike. Prints
# one table per round: test, pipeline, requests per second of each server, herald/redis ratio,
# and the CPU time each server spent per request (from /proc/<pid>/stat, user + system, all
# threads): on a shared, busy machine the rps columns move with everyone else's load, while
# CPU per request mostly does not, so it is the column to trust for before/after comparisons.
# Stops every server it started on exit, whatever the exit.
#
# Usage: benches/compare.sh [--tests set,get] [-n N] [-c clients] [-P "1 16"] [--rounds R]
# Every flag has an environment variable of the same meaning (flags win):
#   TESTS      redis-benchmark -t list                       (set,get,incr,mset)
#   PIPELINES  pipeline depths, space separated              ("1 16")
#   CLIENTS    -c                                            (50)
#   N_SINGLE   -n at pipeline 1                              (100000)
#   N_PIPELINE -n at pipeline > 1                            (200000)
#   N          if set, -n for every pipeline (overrides the two above)
#   RANDOM_KEYS -r: keys drawn from this many (0: one key)   (100000)
#   ROUNDS     full rounds, each printing its own table      (2)
#   PIN        1: server on CPU 1, redis-benchmark on CPU 0  (1 when the machine has >= 2 CPUs)
#   REDIS8     0: skip Redis 8.2 even when the tool exists   (1)
#   HERALD_BIN use this binary instead of building one
#   BEFORE_BIN also run this Herald binary (column "before"), for before/after in one run
#   CSV_OUT    also append raw rows to this file: round,test,pipeline,server,rps,cpu_us_per_req
# A new test (lpush, xadd, ...) is one more word in TESTS, as long as redis-benchmark knows it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
TESTS=${TESTS:-set,get,incr,mset}
PIPELINES=${PIPELINES:-1 16}
CLIENTS=${CLIENTS:-50}
N_SINGLE=${N_SINGLE:-100000}
N_PIPELINE=${N_PIPELINE:-200000}
RANDOM_KEYS=${RANDOM_KEYS:-100000}
ROUNDS=${ROUNDS:-2}
REDIS8=${REDIS8:-1}
CSV_OUT=${CSV_OUT:-}

while [ $# -gt 0 ]; do
  case $1 in
    --tests|-t) TESTS=$2; shift 2 ;;
    -n) N=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -P) PIPELINES=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    -r) RANDOM_KEYS=$2; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --no-redis8) REDIS8=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

script=compare.sh
# shellcheck source=benches/servers.sh
source "$root/benches/servers.sh"

start_herald
if [ -n "${BEFORE_BIN:-}" ]; then
  labels+=(before)
  ports[before]=$(free_port)
  start before "${ports[before]}" "$BEFORE_BIN" --bind 127.0.0.1 --port "${ports[before]}"
  versions[before]="herald (before) $BEFORE_BIN"
fi
start_redis_servers

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg)"
for label in "${labels[@]}"; do
  echo "# $label: ${versions[$label]} on port ${ports[$label]}"
done
echo "# redis-benchmark -c $CLIENTS -r $RANDOM_KEYS, -n $N_SINGLE at -P 1, -n ${N:-$N_PIPELINE} at -P > 1; pinned: $(pinning)"

clk_tck=$(getconf CLK_TCK)
# User + system CPU ticks a process has used so far (fields 14 and 15 of /proc/<pid>/stat).
cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Runs one test at one pipeline depth against one server; prints its requests per second.
bench() {
  local port=$1 test=$2 pipeline=$3 n=$4
  local random=()
  if [ "$RANDOM_KEYS" -gt 0 ]; then random=(-r "$RANDOM_KEYS"); fi
  # --csv prints a header, then "TEST","rps",...; MSET's row is named "MSET (10 keys)".
  "${bench_pin[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" -P "$pipeline" \
    "${random[@]}" -t "$test" --csv 2>/dev/null \
    | awk -F'","' 'NR > 1 && NF > 1 { print $2; exit }'
}

for round in $(seq 1 "$ROUNDS"); do
  header="test       pipeline"
  for label in "${labels[@]}"; do header+=$(printf ' %12s' "$label"); done
  header+="  herald/redis"
  [ -n "${ports[redis8]:-}" ] && header+="  herald/redis8"
  for label in "${labels[@]}"; do header+=$(printf ' %13s' "$label us/req"); done
  echo
  echo "## round $round of $ROUNDS"
  echo "$header"
  for pipeline in $PIPELINES; do
    n=${N:-$([ "$pipeline" -gt 1 ] && echo "$N_PIPELINE" || echo "$N_SINGLE")}
    for test in ${TESTS//,/ }; do
      declare -A rps=() cpu=()
      row=$(printf '%-10s %8s' "$test" "$pipeline")
      for label in "${labels[@]}"; do
        before=$(cpu_ticks "${server_pid[$label]}")
        rps[$label]=$(bench "${ports[$label]}" "$test" "$pipeline" "$n")
        rps[$label]=${rps[$label]:-0}
        cpu[$label]=$(awk -v t="$(( $(cpu_ticks "${server_pid[$label]}") - before ))" -v hz="$clk_tck" -v n="$n" \
          'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
        row+=$(printf ' %12.0f' "${rps[$label]}")
        if [ -n "$CSV_OUT" ]; then
          echo "$round,$test,$pipeline,$label,${rps[$label]},${cpu[$label]}" >>"$CSV_OUT"
        fi
      done
      row+=$(ratio_cells rps)
      for label in "${labels[@]}"; do row+=$(printf ' %13s' "${cpu[$label]}"); done
      echo "$row"
      unset rps cpu
    done
  done
done
