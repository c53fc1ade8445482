#!/usr/bin/env python3
"""Smoke test: the redis-py client, unmodified, against a running Herald.

Usage: python3 tests/compat/redis_py_smoke.py PORT

Exits 0 and prints "redis-py smoke: all checks passed" when every check holds; on the first
failure prints what was expected and what came back, and exits 1. Driven by tests/compat.rs.
"""

import sys

try:
    import redis
except ImportError:
    print(
        "redis-py is not installed: run `pip install redis` (.ci/run does)",
        file=sys.stderr,
    )
    sys.exit(2)


def check(what, got, expected):
    if got != expected:
        print(f"FAIL {what}: expected {expected!r}, got {got!r}", file=sys.stderr)
        sys.exit(1)
    print(f"ok {what}")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    port = int(sys.argv[1])
    print(f"redis-py {redis.__version__} against 127.0.0.1:{port}")

    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    check("ping", r.ping(), True)
    # Start from a clean slate without FLUSHALL, so the script is safe against any server.
    stale = list(r.scan_iter(match="pysmoke:*"))
    if stale:
        r.delete(*stale)
    check("set", r.set("pysmoke:greeting", "hello"), True)
    check("get", r.get("pysmoke:greeting"), b"hello")
    check("get of a missing key", r.get("pysmoke:missing"), None)
    check("binary value", (r.set("pysmoke:bin", b"\x00\r\n\xff"), r.get("pysmoke:bin")), (True, b"\x00\r\n\xff"))
    check("incr", (r.incr("pysmoke:counter"), r.incr("pysmoke:counter"), r.incrby("pysmoke:counter", 40)), (1, 2, 42))
    check("set nx on an existing key", r.set("pysmoke:greeting", "other", nx=True), None)
    check("delete", r.delete("pysmoke:greeting", "pysmoke:missing"), 1)

    pipe = r.pipeline(transaction=False)
    pipe.set("pysmoke:p1", "a").set("pysmoke:p2", "b").get("pysmoke:p1").get("pysmoke:p2").incr("pysmoke:pcount")
    check("pipeline", pipe.execute(), [True, True, b"a", b"b", 1])

    with r.pipeline(transaction=True) as tx:
        tx.incr("pysmoke:txcount").incr("pysmoke:txcount").get("pysmoke:txcount")
        check("transaction", tx.execute(), [1, 2, b"2"])

    for i in range(25):
        r.set(f"pysmoke:user:{i}", i)
    found = sorted(k.decode() for k in r.scan_iter(match="pysmoke:user:*", count=7))
    check("scan_iter", found, sorted(f"pysmoke:user:{i}" for i in range(25)))

    # RESP3 through HELLO 3, where this redis-py supports it (5.0 and later).
    try:
        r3 = redis.Redis(host="127.0.0.1", port=port, protocol=3, socket_timeout=10)
    except TypeError:
        print("skip resp3: this redis-py has no protocol=3")
    else:
        check("resp3 ping", r3.ping(), True)
        check("resp3 get", r3.get("pysmoke:p1"), b"a")
        check("resp3 get of a missing key", r3.get("pysmoke:missing"), None)
        check("resp3 incr", r3.incr("pysmoke:counter"), 43)
        r3.close()

    r.close()
    print("redis-py smoke: all checks passed")


if __name__ == "__main__":
    main()
