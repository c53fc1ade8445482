#!/usr/bin/env bash
# Durable streams (issue 7): XADD throughput under each sync policy, memory of a big durable
# stream with a small memory budget, and recovery time; Herald against redis-server with
# `appendonly yes` and the same appendfsync, in one run.
#
# Throughput: for each policy in POLICIES (always, everysec, no) one Herald with
# `durable-streams yes` and `stream-fsync <policy>` and one redis-server with
# `--appendonly yes --appendfsync <policy>` (RDB off), each with its own data directory, plus an
# in-memory Herald as the baseline. Runs alternate target by target (mem, herald-<p>, redis-<p>,
# ...) round by round as stream_compare.sh does, with `redis-benchmark -c CLIENTS -P <p>
# XADD s '*' f v`, and every run checks that XLEN is exactly n afterwards. Printed: requests
# per second, the ratio to in-memory Herald and the ratio to Redis with the same policy.
#
# Memory (--memory N): loads N entries (XADD pipelined, -P 64) in CHUNKS chunks into a durable
# Herald with `stream-memory-budget BUDGET` and (when N <= MEM_BASELINE_MAX) into an in-memory
# Herald, and prints each one's RSS (VmRSS) and bytes per entry after every chunk, so a flat
# RSS shows bounded memory. Recovery (--recovery, after --memory): restarts the durable Herald
# on the same directory and prints when it first replies (-LOADING while it recovers), the time
# until it answers PING with PONG, XLEN, RSS and peak RSS (VmHWM), and INFO persistence's
# recovery fields. The data directory is deleted afterwards unless KEEP_DATA is set.
#
# Usage: benches/durable_compare.sh [--throughput] [--memory N] [--recovery] [-c clients]
#        [-P "1 16"] [-n N] [--rounds R] [--policies "always everysec no"] [--budget 4mb]
#        [--no-pin]
# With no phase flag, runs --throughput only. Environment: CLIENTS (50), PIPELINES ("1 16"),
# N (100000), ROUNDS (2), POLICIES, BUDGET (4mb), CHUNKS (4), MEM_BASELINE_MAX (10000000),
# KEEP_DATA, PIN, HERALD_BIN, DATA_ROOT (where the data
# directories go; a temporary directory by default: it must be on a real disk for fsync to
# mean anything, not tmpfs).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
PIPELINES=${PIPELINES:-1 16}
CLIENTS=${CLIENTS:-50}
N=${N:-100000}
ROUNDS=${ROUNDS:-2}
POLICIES=${POLICIES:-always everysec no}
BUDGET=${BUDGET:-4mb}
CHUNKS=${CHUNKS:-4}
MEM_BASELINE_MAX=${MEM_BASELINE_MAX:-10000000}
throughput=0
memory_n=0
recovery=0

while [ $# -gt 0 ]; do
  case $1 in
    --throughput) throughput=1; shift ;;
    --memory) memory_n=$2; shift 2 ;;
    --recovery) recovery=1; shift ;;
    -n) N=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -P) PIPELINES=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --policies) POLICIES=$2; shift 2 ;;
    --budget) BUDGET=$2; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "durable_compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$throughput" = 0 ] && [ "$memory_n" = 0 ]; then
  throughput=1
fi

script=durable_compare.sh
# shellcheck source=benches/servers.sh
source "$root/benches/servers.sh"
data=${DATA_ROOT:-$workdir}
mkdir -p "$data"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), data on $(df --output=source,fstype "$data" | tail -1)"
echo "# herald $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'); redis $(/usr/bin/redis-server --version | awk '{print $3}'); pinned: $(pinning)"

declare -A ports

start_herald_mem() {
  ports[$1]=$(free_port)
  start "$1" "${ports[$1]}" "$HERALD_BIN" --bind 127.0.0.1 --port "${ports[$1]}"
}

# $1 label, $2 policy, $3 directory (kept, so recovery can reuse it).
start_herald_durable() {
  ports[$1]=$(free_port)
  mkdir -p "$3"
  start "$1" "${ports[$1]}" "$HERALD_BIN" --bind 127.0.0.1 --port "${ports[$1]}" \
    --dir "$3" --durable-streams yes --stream-fsync "$2" --stream-memory-budget "$BUDGET"
}

stop() {
  kill "${server_pid[$1]}" 2>/dev/null || true
  wait "${server_pid[$1]}" 2>/dev/null || true
}



rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

if [ "$throughput" = 1 ]; then
  labels=(mem)
  start_herald_mem mem
  for p in $POLICIES; do
    start_herald_durable "herald-$p" "$p" "$data/herald-$p"
    ports[redis-$p]=$(free_port)
    mkdir -p "$data/redis-$p"
    start "redis-$p" "${ports[redis-$p]}" /usr/bin/redis-server --bind 127.0.0.1 --port "${ports[redis-$p]}" \
      --save '' --appendonly yes --appendfsync "$p" --dir "$data/redis-$p"
    labels+=("herald-$p" "redis-$p")
  done
  echo "# redis-benchmark -c $CLIENTS -n $N -P <p> XADD s '*' f v"
  for round in $(seq 1 "$ROUNDS"); do
    echo
    echo "## throughput, round $round of $ROUNDS"
    printf '%-8s %9s %12s %12s %10s %12s %8s\n' policy pipeline herald redis "/in-mem" "/redis" "XLEN ok"
    for pipeline in $PIPELINES; do
      declare -A rps=()
      lens_ok=yes
      for label in "${labels[@]}"; do
        rps[$label]=$(xadd_rps "${ports[$label]}" "$pipeline" "$N")
        rps[$label]=${rps[$label]:-0}
        [ "$(redis-cli -p "${ports[$label]}" xlen s)" = "$N" ] || lens_ok="no ($label)"
      done
      printf '%-8s %9s %12.0f %12s %10s %12s %8s\n' in-memory "$pipeline" "${rps[mem]}" - - - "$lens_ok"
      for p in $POLICIES; do
        printf '%-8s %9s %12.0f %12.0f %10s %12s %8s\n' "$p" "$pipeline" "${rps[herald-$p]}" "${rps[redis-$p]}" \
          "$(ratio "${rps[herald-$p]}" "${rps[mem]}")" "$(ratio "${rps[herald-$p]}" "${rps[redis-$p]}")" "$lens_ok"
      done
      unset rps
    done
  done
  for label in "${labels[@]}"; do stop "$label"; done
fi

if [ "$memory_n" != 0 ]; then
  chunk=$(( (memory_n + CHUNKS - 1) / CHUNKS ))
  echo
  echo "## memory: $memory_n entries (XADD s '*' f v, redis-benchmark -c 50 -P 64, in $CHUNKS chunks), budget $BUDGET"
  mem_labels=(bigdur)
  if [ "$memory_n" -le "$MEM_BASELINE_MAX" ]; then
    start_herald_mem bigmem
    mem_labels=(bigmem bigdur)
  else
    echo "# in-memory baseline skipped: $memory_n > MEM_BASELINE_MAX ($MEM_BASELINE_MAX)"
  fi
  start_herald_durable bigdur everysec "$data/big"
  printf '%-22s %10s %12s %14s %10s\n' server XLEN "RSS MiB" "bytes/entry" "load s"
  for label in "${mem_labels[@]}"; do
    base=$(rss_kb "${server_pid[$label]}")
    name=$([ "$label" = bigmem ] && echo "herald in-memory" || echo "herald durable $BUDGET")
    t0=$(date +%s.%N)
    loaded=0
    # RSS after each chunk: flat for the durable stream once the budget is full.
    while [ "$loaded" -lt "$memory_n" ]; do
      n=$(( memory_n - loaded < chunk ? memory_n - loaded : chunk ))
      "${bench_pin[@]}" redis-benchmark -h 127.0.0.1 -p "${ports[$label]}" -c 50 -n "$n" -P 64 \
        XADD s '*' f v >/dev/null 2>&1
      loaded=$(( loaded + n ))
      t1=$(date +%s.%N)
      len=$(redis-cli -p "${ports[$label]}" xlen s)
      rss=$(rss_kb "${server_pid[$label]}")
      printf '%-22s %10s %12.1f %14.1f %10.1f\n' "$name" "$len" "$(awk -v r="$rss" 'BEGIN { print r / 1024 }')" \
        "$(awk -v r="$rss" -v b="$base" -v n="$len" 'BEGIN { print (r - b) * 1024 / n }')" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
    done
  done
  du -sh "$data/big" | awk '{ print "# segments on disk: " $1 }'
  for label in "${mem_labels[@]}"; do [ "$label" = bigmem ] && stop bigmem; done
  if [ "$recovery" = 1 ]; then
    stop bigdur
    sync
    echo
    echo "## recovery of $memory_n entries (same directory, stream-fsync everysec, budget $BUDGET)"
    # Not `start`: recovery may take longer than its 10 s wait. Clients are answered at once
    # (-LOADING until the streams are rebuilt); the time to the first PONG is the recovery.
    ports[recovered]=$(free_port)
    t0=$(date +%s.%N)
    "${server_pin[@]}" "$HERALD_BIN" --bind 127.0.0.1 --port "${ports[recovered]}" --dir "$data/big" \
      --durable-streams yes --stream-fsync everysec --stream-memory-budget "$BUDGET" \
      >"$workdir/recovered.log" 2>&1 &
    pids+=($!)
    server_pid[recovered]=$!
    first_reply=""
    until reply=$(redis-cli -p "${ports[recovered]}" ping 2>/dev/null) && [ "$reply" = PONG ]; do
      if [ -z "$first_reply" ] && [ -n "$reply" ]; then
        first_reply="$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s ($reply)"
      fi
      kill -0 "${server_pid[recovered]}" 2>/dev/null || { echo "recovering herald exited; log:" >&2; cat "$workdir/recovered.log" >&2; exit 1; }
      sleep 0.05
    done
    t1=$(date +%s.%N)
    len=$(redis-cli -p "${ports[recovered]}" xlen s)
    pid=${server_pid[recovered]}
    echo "first reply after start: ${first_reply:-PONG at once}"
    echo "start to first PONG: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s; XLEN $len"
    echo "RSS after recovery $(awk -v r="$(rss_kb "$pid")" 'BEGIN { printf "%.1f", r / 1024 }') MiB; peak RSS (VmHWM) $(awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status") MiB"
    redis-cli -p "${ports[recovered]}" info persistence | tr -d '\r' | grep -Ei 'recover|segments|bytes' || true
    first=$(redis-cli -p "${ports[recovered]}" xrange s - + count 1 | head -1)
    echo "oldest entry read back from disk: $first"
    stop recovered
  else
    stop bigdur
  fi
  [ -n "${KEEP_DATA:-}" ] || rm -rf "$data/big"
fi
