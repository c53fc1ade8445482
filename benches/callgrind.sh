# Shared helpers for the callgrind benchmark scripts (scripting_callgrind.sh,
# collections_callgrind.sh, request_callgrind.sh); sourced, not run. Expects what servers.sh
# expects ($root, $script); sources servers.sh itself, unpinned (valgrind runs the server
# alone), and makes $OUT_DIR (where dumps and logs go; a temporary directory unless set).
# Provides: start_under_callgrind LABEL PORT (herald or redis, persistence off), stop LABEL,
# and callgrind_measure LABEL PORT N SAVE_AS REDIS-BENCHMARK-ARGS..., which prints the server's
# instructions per request for one redis-benchmark run, and callgrind_table WIDTH TEST... .
# CACHE_SIM=1 runs callgrind with its cache simulation (--cache-sim=yes: the host's L1 and last
# level caches) and makes callgrind_measure print, per request, instructions / L1 data misses /
# last-level data misses (`Ir/D1mr+D1mw/DLmr+DLmw`); callgrind_table's ratio is then per field.
# The simulation is slow, so the server then runs uninstrumented (--instr-atstart=no) except
# during callgrind_measure's redis-benchmark run: loading a large data set stays fast.

PIN=0
# shellcheck source=benches/servers.sh
. "$root/benches/servers.sh"
OUT_DIR=${OUT_DIR:-$(mktemp -d)}
mkdir -p "$OUT_DIR"

for tool in valgrind callgrind_control; do
  command -v "$tool" >/dev/null || { echo "$script: $tool not found" >&2; exit 1; }
done

# Starts one server under callgrind (collecting from the start; callgrind_measure zeroes the
# counters before each run). Valgrind starts slowly, so the PING wait is longer than start's.
start_under_callgrind() {
  local label=$1 port=$2
  local cmd
  case $label in
    herald) cmd=("$HERALD_BIN" --bind 127.0.0.1 --port "$port") ;;
    redis) cmd=(/usr/bin/redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$OUT_DIR") ;;
    *) echo "$script: unknown server $label" >&2; exit 2 ;;
  esac
  local sim=()
  [ "${CACHE_SIM:-0}" = 1 ] && sim=(--cache-sim=yes --instr-atstart=no)
  START_TRIES=600 start "$label" "$port" valgrind --tool=callgrind "${sim[@]}" --compress-strings=no \
    --compress-pos=no --callgrind-out-file="$OUT_DIR/$label.%p.out" "${cmd[@]}"
}

# Stops the server started as LABEL and waits for it to exit (callgrind writes its last dump).
stop() {
  local pid=${server_pid[$1]}
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Zeroes LABEL's counters, runs redis-benchmark with the given arguments against PORT, dumps,
# copies the dump to $OUT_DIR/SAVE_AS.callgrind and prints the instruction total divided by N
# (every thread of the server counts; redis-benchmark runs outside valgrind).
callgrind_measure() {
  local label=$1 port=$2 n=$3 save_as=$4
  shift 4
  local pid=${server_pid[$label]}
  [ "${CACHE_SIM:-0}" = 1 ] && callgrind_control -i on "$pid" >/dev/null 2>&1
  callgrind_control -z "$pid" >/dev/null 2>&1
  redis-benchmark -h 127.0.0.1 -p "$port" -n "$n" -q "$@" >"$OUT_DIR/bench.log" 2>&1 \
    || { echo "$script: redis-benchmark failed:" >&2; cat "$OUT_DIR/bench.log" >&2; exit 1; }
  local before
  before=$(ls "$OUT_DIR"/"$label".*.out* 2>/dev/null | wc -l)
  callgrind_control -d "$pid" >/dev/null 2>&1
  [ "${CACHE_SIM:-0}" = 1 ] && callgrind_control -i off "$pid" >/dev/null 2>&1
  if [ "$(ls "$OUT_DIR"/"$label".*.out* | wc -l)" -le "$before" ]; then
    echo "$script: no new dump from $label" >&2
    exit 1
  fi
  local dump
  dump=$(ls -t "$OUT_DIR"/"$label".*.out* | head -1)
  cp "$dump" "$OUT_DIR/$save_as.callgrind"
  # Column k of the summary line is the k-th name of the `events:` line.
  awk -v n="$n" -v sim="${CACHE_SIM:-0}" '
    /^events:/ { for (i = 2; i <= NF; i++) col[$i] = i }
    /^(summary|totals):/ {
      if (sim != 1) { printf "%.0f\n", $2 / n; exit }
      printf "%.0f/%.2f/%.2f\n", $(col["Ir"]) / n, ($(col["D1mr"]) + $(col["D1mw"])) / n, ($(col["DLmr"]) + $(col["DLmw"])) / n
      exit
    }' "$dump"
}

# Prints the results table: one row per pipeline and test (tests as arguments), one column per
# server in $SERVERS, from the global associative array result[server,test,pipeline], plus
# herald/redis when exactly those two ran.
callgrind_table() {
  local width=$1
  shift
  printf "%-${width}s %8s" test pipeline
  for label in ${SERVERS//,/ }; do printf ' %14s' "$label Ir/req"; done
  [ "$SERVERS" = herald,redis ] && printf '  %12s' herald/redis
  echo
  local pipeline test
  for pipeline in $PIPELINES; do
    for test in "$@"; do
      printf "%-${width}s %8s" "$test" "$pipeline"
      for label in ${SERVERS//,/ }; do printf ' %14s' "${result[$label,$test,$pipeline]}"; done
      if [ "$SERVERS" = herald,redis ]; then
        # Field by field when the cells are `Ir/D1/DL` (CACHE_SIM=1).
        printf '  %12s' "$(awk -v a="${result[herald,$test,$pipeline]}" -v b="${result[redis,$test,$pipeline]}" 'BEGIN {
          n = split(a, x, "/"); split(b, y, "/")
          for (i = 1; i <= n; i++) printf "%s%.2f", (i > 1 ? "/" : ""), (y[i] > 0 ? x[i] / y[i] : 0)
        }')"
      fi
      echo
    done
  done
  echo "# dumps: $OUT_DIR/<server>-<test>-P<p>.callgrind (callgrind_annotate --inclusive=yes FILE)"
}
