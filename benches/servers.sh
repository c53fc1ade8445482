# Shared setup for the side-by-side benchmark scripts (compare.sh, stream_compare.sh); sourced,
# not run. Expects $root (the repository), $PIN (1 to pin) and $script (name for messages).
# Provides: server_pin / bench_pin (taskset prefixes), HERALD_BIN (built if unset), free_port,
# workdir (removed on exit, with every started server stopped), and start LABEL PORT CMD...

for tool in redis-benchmark redis-cli redis-server python3; do
  command -v "$tool" >/dev/null || { echo "$script: $tool not found" >&2; exit 1; }
done

server_pin=()
bench_pin=()
if [ "$PIN" = 1 ]; then
  server_pin=(taskset -c 1)
  bench_pin=(taskset -c 0)
fi

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

# Starts a server in the background and waits until it answers PING. $1 = label, $2 = port.
start() {
  local label=$1 port=$2
  shift 2
  "${server_pin[@]}" "$@" >"$workdir/$label.log" 2>&1 &
  pids+=($!)
  server_pid[$label]=$!
  for _ in $(seq 1 100); do
    if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
      return 0
    fi
    sleep 0.1
  done
  echo "$script: $label did not start; its log:" >&2
  cat "$workdir/$label.log" >&2
  exit 1
}
