#!/usr/bin/env bash
# Smoke test: redis-cli, unmodified, against a running Herald.
#
# Usage: bash tests/compat/redis_cli_smoke.sh PORT
#
# Prints "redis-cli smoke: all checks passed" and exits 0 when every check holds; on the first
# failure prints what was expected and what came back, and exits 1. Driven by tests/compat.rs.
set -euo pipefail

port=${1:?usage: redis_cli_smoke.sh PORT}
if ! command -v redis-cli >/dev/null; then
    echo "redis-cli is not installed: apt-get install -y redis-tools (.ci/run does)" >&2
    exit 2
fi

cli() { redis-cli -h 127.0.0.1 -p "$port" "$@"; }

check() {
    local what=$1 expected=$2 got=$3
    if [[ "$got" != "$expected" ]]; then
        printf 'FAIL %s:\n  expected: %q\n  got:      %q\n' "$what" "$expected" "$got" >&2
        exit 1
    fi
    echo "ok $what"
}

echo "$(redis-cli --version) against 127.0.0.1:$port"
# Start from a clean slate without FLUSHALL, so the script is safe against any server.
cli --scan --pattern 'clismoke:*' | while read -r key; do cli del "$key" >/dev/null; done
check "ping" "PONG" "$(cli ping)"
check "set" "OK" "$(cli set clismoke:greeting hello)"
check "get" "hello" "$(cli get clismoke:greeting)"
check "get, formatted" '"hello"' "$(cli --no-raw get clismoke:greeting)"
check "get of a missing key, formatted" "(nil)" "$(cli --no-raw get clismoke:missing)"
check "incr, formatted" "(integer) 1" "$(cli --no-raw incr clismoke:counter)"
check "an error, formatted" "(error) ERR wrong number of arguments for 'get' command" \
    "$(cli --no-raw get)"
check "a value with a newline, raw" $'two\nlines' "$(cli set clismoke:multi $'two\nlines' >/dev/null; cli --raw get clismoke:multi)"
check "commands read from stdin" $'OK\nfrom-stdin' "$(printf 'SET clismoke:s from-stdin\nGET clismoke:s\n' | cli)"
check "pipe mode" "errors: 0, replies: 2" \
    "$(printf '*3\r\n$3\r\nSET\r\n$10\r\nclismoke:p\r\n$1\r\n1\r\n*2\r\n$4\r\nINCR\r\n$10\r\nclismoke:p\r\n' | cli --pipe 2>&1 | tail -n 1)"
check "pipe mode result" "2" "$(cli get clismoke:p)"
for i in 1 2 3; do cli set "clismoke:user:$i" "$i" >/dev/null; done
check "scan" $'clismoke:user:1\nclismoke:user:2\nclismoke:user:3' "$(cli --scan --pattern 'clismoke:user:*' | sort)"
# redis-cli -3 only warns when HELLO 3 fails, so look at the protocol the server reports.
check "resp3 (HELLO 3 first)" '3# "proto" => (integer) 3' "$(cli -3 --no-raw hello 3 2>&1 | grep proto)"
check "resp3 null" "(nil)" "$(cli -3 --no-raw get clismoke:missing 2>&1)"

# An inline command, as telnet or a health check sends it, over bash's /dev/tcp (no nc needed).
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'PING\r\nECHO "inline quoted"\r\n' >&3
read -r -t 10 pong <&3
read -r -t 10 length <&3
read -r -t 10 echoed <&3
exec 3<&-
check "inline ping" $'+PONG\r' "$pong"
check "inline echo" $'$13\r inline quoted\r' "$length $echoed"

echo "redis-cli smoke: all checks passed"
