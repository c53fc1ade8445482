#!/usr/bin/env bash
# Pub/sub fan-out: Herald against redis-server (and Redis 8.2 when ../shared/tools/redis8 is
# there), same load generator (benches/fanout.rs), same parameters, in one run.
#
# Builds Herald and the generator in release, starts each server on a free loopback port with
# persistence off, and runs every scenario against every server in turn (herald, redis,
# redis8, herald, ...) so background noise falls on all of them alike. With PIN=1 (default on
# >= 2 CPUs) each server runs on CPU 1 (Herald with TOKIO_WORKER_THREADS=1, so both get one
# core) and the generator on CPU 0. Prints one row per scenario and server, then
# herald/redis ratios (published/s and delivered/s: > 1 is better; latencies: < 1 is better).
#
# Scenarios (override with SCENARIOS="name ..."):
#   channels   1000 subscribers over 100 channels, 4 publishers pipelining 32, flat out
#   latency    the same at a fixed 5000 PUBLISH/s, where latency is not queueing
#   pattern    1000 subscribers PSUBSCRIBE news.*, 2 publishers pipelining 4, flat out
#   idle       100 subscribers over 10 channels plus 10000 patterns that never match:
#              what pattern subscriptions cost every PUBLISH
# Env: SECONDS_PER_RUN (5), ROUNDS (1), PIN, REDIS8 (1), HERALD_BIN, GENERATOR (a built fanout
# binary), EXTRA (more generator flags)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
ROUNDS=${ROUNDS:-1}
REDIS8=${REDIS8:-1}
SCENARIOS=${SCENARIOS:-channels latency pattern idle}
EXTRA=${EXTRA:-}
if [ -z "${PIN:-}" ]; then
  if [ "$(nproc)" -ge 2 ]; then PIN=1; else PIN=0; fi
fi

cd "$root"
if [ -z "${HERALD_BIN:-}" ]; then
  cargo build --release --quiet --bin herald
  HERALD_BIN=$root/target/release/herald
fi
generator=${GENERATOR:-}
if [ -z "$generator" ]; then
  generator=$(cargo bench --bench fanout --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
fi
[ -x "$generator" ] || { echo "could not build the fanout generator" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
server_cpu() { if [ "$PIN" = 1 ]; then echo "taskset -c 1"; fi; }
client_cpu() { if [ "$PIN" = 1 ]; then echo "taskset -c 0"; fi; }

pids=()
scratch=$(mktemp -d)
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

declare -A ports
ports[herald]=$(free_port)
TOKIO_WORKER_THREADS=$([ "$PIN" = 1 ] && echo 1 || nproc) $(server_cpu) "$HERALD_BIN" --port "${ports[herald]}" >"$scratch/herald.log" 2>&1 &
pids+=($!)
ports[redis]=$(free_port)
(cd "$scratch" && exec $(server_cpu) redis-server --port "${ports[redis]}" --save '' --appendonly no --bind 127.0.0.1 >"$scratch/redis.log" 2>&1) &
pids+=($!)
targets=(herald redis)
if [ "$REDIS8" = 1 ] && [ -x "$root/../shared/tools/redis8" ]; then
  redis8=$("$root/../shared/tools/redis8" 2>/dev/null || true)
  if [ -n "$redis8" ]; then
    ports[redis8]=$(free_port)
    (cd "$scratch" && exec $(server_cpu) "$redis8" --port "${ports[redis8]}" --save '' --appendonly no --bind 127.0.0.1 >"$scratch/redis8.log" 2>&1) &
    pids+=($!)
    targets+=(redis8)
  fi
fi
for t in "${targets[@]}"; do
  for _ in $(seq 100); do
    redis-cli -p "${ports[$t]}" PING >/dev/null 2>&1 && break
    sleep 0.05
  done
done

flags_for() {
  case "$1" in
    channels) echo "-n 1000 -c 100 -p 4 -d 32" ;;
    latency) echo "-n 1000 -c 100 -p 4 -d 32 --rate 5000" ;;
    pattern) echo "-n 1000 --pattern -p 2 -d 4" ;;
    idle) echo "-n 100 -c 10 -p 4 -d 32 --idle-patterns 10000" ;;
    *) echo "unknown scenario $1" >&2; exit 1 ;;
  esac
}

results=$scratch/results
: >"$results"
for round in $(seq "$ROUNDS"); do
  for scenario in $SCENARIOS; do
    for t in "${targets[@]}"; do
      line=$($(client_cpu) "$generator" --addr "127.0.0.1:${ports[$t]}" -t "$SECONDS_PER_RUN" $(flags_for "$scenario") $EXTRA --label "$scenario/$t" | tee /dev/stderr | grep '^RESULT')
      echo "$round $scenario $t $line" >>"$results"
    done
  done
done

echo
echo "Pub/sub fan-out (rounds: $ROUNDS, ${SECONDS_PER_RUN}s each, pinned: $PIN)"
python3 - "$results" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    parts = line.split()
    _, scenario, target = parts[:3]
    fields = dict(p.split("=", 1) for p in parts[4:])
    rows[(scenario, target)].append(fields)
keys = ["published_per_s", "delivered_per_s", "p50_us", "p99_us", "p999_us", "lost", "dropped"]
def med(scenario, target, key):
    values = [float(r[key]) for r in rows.get((scenario, target), [])]
    return statistics.median(values) if values else None
scenarios = list(dict.fromkeys(s for s, _ in rows))
targets = list(dict.fromkeys(t for _, t in rows))
print(f"{'scenario':<10} {'server':<8} " + " ".join(f"{k:>16}" for k in keys))
for s in scenarios:
    for t in targets:
        vals = [med(s, t, k) for k in keys]
        print(f"{s:<10} {t:<8} " + " ".join(f"{v:>16.0f}" if v is not None else f"{'-':>16}" for v in vals))
print()
print("herald / other (throughput: higher is better; latency: lower is better)")
for s in scenarios:
    for other in [t for t in targets if t != "herald"]:
        parts = []
        for k in ["published_per_s", "delivered_per_s", "p50_us", "p99_us", "p999_us"]:
            h, o = med(s, "herald", k), med(s, other, k)
            parts.append(f"{k} {h / o:.2f}" if h is not None and o else f"{k} -")
        print(f"{s:<10} vs {other:<7} " + "  ".join(parts))
PY
