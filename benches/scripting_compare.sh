#!/usr/bin/env bash
# Lua scripting throughput: Herald against redis-server under redis-benchmark, in one run.
#
# Three workloads, each a custom redis-benchmark command line (which -t cannot express):
#   incr   EVALSHA <sha> 1 key   a script doing one INCR (the per-call cost of scripting)
#   rmw    EVALSHA <sha> 1 key   a 10-command read-modify-write on one hash (redis.call cost)
#   eval   EVAL "return 1" 0     the script cache lookup by body, no redis.call at all
# Both scripts are loaded with SCRIPT LOAD on every server first (the SHA1 is the same
# everywhere, and checked to be). It follows compare.sh's conventions: Herald's release build,
# Debian's redis-server (and Redis 8.2 from ../shared/tools/redis8 when present) on free
# loopback ports with persistence off; servers pinned to CPU 1 and redis-benchmark to CPU 0 on
# machines with two CPUs; targets alternating run by run so background noise falls on all of
# them alike; the CPU time each server spent per request (user + system, /proc/<pid>/stat) next
# to requests per second. The key is deleted before each run, and after it the script's effect
# is checked (the counter equals the number of calls), so a server that answers without
# running the script cannot look fast. After the rounds, a summary prints the median of each
# column over the rounds.
# Stops every server it started on exit, whatever the exit.
#
# Usage: benches/scripting_compare.sh [-n N] [-c clients] [-P "1 16"] [--rounds R] [--no-pin]
#          [--no-redis8] [--tests incr,rmw,eval]
# Environment (flags win): N (200000), CLIENTS (50), PIPELINES ("1 16"), ROUNDS (3),
# TESTS (incr,rmw,eval), PIN (1 on >= 2 CPUs), REDIS8 (1), HERALD_BIN (use this binary instead
# of building one), CSV_OUT (append round,test,pipeline,server,rps,cpu_us_per_req rows to it).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-200000}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-1 16}
ROUNDS=${ROUNDS:-3}
TESTS=${TESTS:-incr,rmw,eval}
REDIS8=${REDIS8:-1}
CSV_OUT=${CSV_OUT:-}

while [ $# -gt 0 ]; do
  case $1 in
    -n) N=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -P) PIPELINES=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --tests|-t) TESTS=$2; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --no-redis8) REDIS8=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "scripting_compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

script=scripting_compare.sh
# shellcheck source=benches/servers.sh
source "$root/benches/servers.sh"

# shellcheck source=benches/scripting_workloads.sh
source "$root/benches/scripting_workloads.sh"

start_herald
start_redis_servers

# SCRIPT LOAD on every server; all must answer the same SHA1 (it is the SHA1 of the body).
declare -A sha
for test in incr rmw; do
  body=$INCR_SCRIPT
  [ "$test" = rmw ] && body=$RMW_SCRIPT
  for label in "${labels[@]}"; do
    got=$(redis-cli -p "${ports[$label]}" script load "$body")
    if [ -z "${sha[$test]:-}" ]; then
      sha[$test]=$got
    elif [ "$got" != "${sha[$test]}" ]; then
      echo "$script: $label answered SCRIPT LOAD with '$got', expected ${sha[$test]}" >&2
      exit 1
    fi
  done
done

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load $(cut -d' ' -f1-3 /proc/loadavg)"
for label in "${labels[@]}"; do
  echo "# $label: ${versions[$label]} on port ${ports[$label]}"
done
echo "# redis-benchmark -c $CLIENTS -n $N -P <p>: incr = EVALSHA ${sha[incr]} 1 key,"
echo "#   rmw = EVALSHA ${sha[rmw]} 1 key, eval = EVAL 'return 1' 0"
echo "# pinned: $(pinning)"

clk_tck=$(getconf CLK_TCK)
cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}


# Runs one test at one pipeline depth against one server; prints its requests per second.
bench() {
  local port=$1 test=$2 pipeline=$3
  workload_command "$test"
  redis-cli -p "$port" del key >/dev/null
  "${bench_pin[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$N" -P "$pipeline" \
    --csv "${workload[@]}" 2>/dev/null \
    | awk -F'","' 'NR > 1 && NF > 1 { print $2; exit }'
}

# Whether the run's script calls all took effect: the counter the script keeps equals N.
effect_ok() {
  local port=$1 test=$2 got
  case $test in
    incr) got=$(redis-cli -p "$port" get key) ;;
    rmw) got=$(redis-cli -p "$port" hget key hits) ;;
    eval) return 0 ;;
  esac
  [ "$got" = "$N" ]
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

header() {
  local h
  h=$(printf '%-6s %8s' test pipeline)
  for label in "${labels[@]}"; do h+=$(printf ' %12s' "$label"); done
  h+=$(printf '  %12s' herald/redis)
  [ -n "${ports[redis8]:-}" ] && h+=$(printf '  %13s' herald/redis8)
  for label in "${labels[@]}"; do h+=$(printf ' %14s' "$label us/req"); done
  echo "$h"
}

declare -A all_rps all_cpu
failed=0
for round in $(seq 1 "$ROUNDS"); do
  echo
  echo "## round $round of $ROUNDS"
  header
  for pipeline in $PIPELINES; do
    for test in ${TESTS//,/ }; do
      declare -A rps=() cpu=()
      row=$(printf '%-6s %8s' "$test" "$pipeline")
      for label in "${labels[@]}"; do
        before=$(cpu_ticks "${server_pid[$label]}")
        rps[$label]=$(bench "${ports[$label]}" "$test" "$pipeline")
        rps[$label]=${rps[$label]:-0}
        cpu[$label]=$(awk -v t="$(( $(cpu_ticks "${server_pid[$label]}") - before ))" -v hz="$clk_tck" -v n="$N" \
          'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
        if ! effect_ok "${ports[$label]}" "$test"; then
          echo "$script: $label: $test at -P $pipeline did not run the script $N times" >&2
          failed=1
        fi
        all_rps[$test,$pipeline,$label]+=" ${rps[$label]}"
        all_cpu[$test,$pipeline,$label]+=" ${cpu[$label]}"
        row+=$(printf ' %12.0f' "${rps[$label]}")
        if [ -n "$CSV_OUT" ]; then
          echo "$round,$test,$pipeline,$label,${rps[$label]},${cpu[$label]}" >>"$CSV_OUT"
        fi
      done
      row+=$(ratio_cells rps)
      for label in "${labels[@]}"; do row+=$(printf ' %14s' "${cpu[$label]}"); done
      echo "$row"
      unset rps cpu
    done
  done
done

echo
echo "## median of $ROUNDS rounds"
header
for pipeline in $PIPELINES; do
  for test in ${TESTS//,/ }; do
    declare -A med=()
    row=$(printf '%-6s %8s' "$test" "$pipeline")
    for label in "${labels[@]}"; do
      med[$label]=$(echo "${all_rps[$test,$pipeline,$label]}" | median)
      row+=$(printf ' %12.0f' "${med[$label]}")
    done
    row+=$(ratio_cells med)
    for label in "${labels[@]}"; do
      row+=$(printf ' %14s' "$(echo "${all_cpu[$test,$pipeline,$label]}" | median)")
    done
    echo "$row"
    unset med
  done
done
exit "$failed"
