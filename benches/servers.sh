# Shared setup for the side-by-side benchmark scripts (compare.sh, stream_compare.sh, ...);
# sourced, not run. Expects $root (the repository) and $script (name for messages); $PIN (1 to
# pin, 0 not to) defaults to pinning on machines with two or more CPUs.
# Provides: server_pin / bench_pin (taskset prefixes), pinning (says which), HERALD_BIN (built
# if unset), free_port, ratio A B, ratio_cells ARRAY, workdir (removed on exit, with every
# started server stopped), start LABEL PORT CMD..., start_herald / start_redis_servers, which
# fill labels, ports and versions, and xadd_rps PORT PIPELINE N.

for tool in redis-benchmark redis-cli redis-server python3; do
  command -v "$tool" >/dev/null || { echo "$script: $tool not found" >&2; exit 1; }
done

if [ -z "${PIN:-}" ]; then
  if [ "$(nproc)" -ge 2 ]; then PIN=1; else PIN=0; fi
fi

server_pin=()
bench_pin=()
if [ "$PIN" = 1 ]; then
  server_pin=(taskset -c 1)
  bench_pin=(taskset -c 0)
fi

# Says how the servers and the load generator are pinned, for a run's header.
pinning() {
  if [ "$PIN" = 1 ]; then echo 'servers on CPU 1, redis-benchmark on CPU 0'; else echo no; fi
}

# Prints a / b with two decimals, or - when b is 0 (a server that failed to answer).
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# Prints a table row's ratio cells from the associative array named by $1 (label -> value):
# herald/redis, and herald/redis8 when Redis 8.2 runs.
ratio_cells() {
  local -n values=$1
  printf '  %12s' "$(ratio "${values[herald]}" "${values[redis]}")"
  if [ -n "${ports[redis8]:-}" ]; then printf '  %13s' "$(ratio "${values[herald]}" "${values[redis8]}")"; fi
}

if [ -z "${HERALD_BIN:-}" ]; then
  echo "building herald (release)..." >&2
  (cd "$root" && cargo build --release --bin herald --quiet)
  HERALD_BIN=$root/target/release/herald
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pids=()
workdir=$(mktemp -d)
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

declare -A server_pid

# Starts a server in the background and waits until it answers PING (START_TRIES tenths of a
# second, 100 unless set). $1 = label, $2 = port.
start() {
  local label=$1 port=$2
  shift 2
  "${server_pin[@]}" "$@" >"$workdir/$label.log" 2>&1 &
  pids+=($!)
  server_pid[$label]=$!
  for _ in $(seq 1 "${START_TRIES:-100}"); do
    if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
      return 0
    fi
    sleep 0.1
  done
  echo "$script: $label did not start; its log:" >&2
  cat "$workdir/$label.log" >&2
  exit 1
}

labels=()
declare -A ports versions

# Starts $HERALD_BIN as "herald" (persistence off: in-memory defaults) and records its version.
start_herald() {
  labels+=(herald)
  ports[herald]=$(free_port)
  start herald "${ports[herald]}" "$HERALD_BIN" --bind 127.0.0.1 --port "${ports[herald]}"
  versions[herald]="herald $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
}

# Starts Debian's redis-server as "redis" and, when $REDIS8 is 1 and ../shared/tools/redis8
# works, Redis 8.2 as "redis8"; both with persistence off.
start_redis_servers() {
  labels+=(redis)
  ports[redis]=$(free_port)
  start redis "${ports[redis]}" /usr/bin/redis-server --bind 127.0.0.1 --port "${ports[redis]}" \
    --save '' --appendonly no --dir "$workdir"
  versions[redis]=$(/usr/bin/redis-server --version | awk '{print $3}')

  local redis8_tool=$root/../shared/tools/redis8 redis8_bin
  if [ "${REDIS8:-0}" = 1 ] && [ -x "$redis8_tool" ]; then
    if redis8_bin=$("$redis8_tool" 2>/dev/null); then
      labels+=(redis8)
      ports[redis8]=$(free_port)
      start redis8 "${ports[redis8]}" "$redis8_bin" --bind 127.0.0.1 --port "${ports[redis8]}" \
        --save '' --appendonly no --dir "$workdir"
      versions[redis8]=$("$redis8_bin" --version | awk '{print $3}')
    else
      echo "$script: redis8 tool failed; comparing with Debian's redis only" >&2
    fi
  fi
}

# Runs `XADD s * f v` N times at one pipeline depth (-c $CLIENTS) against PORT, from an empty
# stream; prints the requests per second.
xadd_rps() {
  local port=$1 pipeline=$2 n=$3
  redis-cli -p "$port" del s >/dev/null
  "${bench_pin[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$n" -P "$pipeline" \
    --csv XADD s '*' f v 2>/dev/null \
    | awk -F'","' 'NR > 1 && NF > 1 { print $2; exit }'
}
