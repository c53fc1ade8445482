#!/usr/bin/env python3
"""Writes the segment test vectors from this independent implementation of protocol/segments.md.
Run from this folder: python3 gen.py. tests/persist_format.rs decodes them and checks every field."""
import struct, zlib

def u32(n): return struct.pack('<I', n)
def u64(n): return struct.pack('<Q', n)
def sid(ms, seq): return u64(ms) + u64(seq)
def bts(b): return u32(len(b)) + b
def opt(v): return b'\x00' if v is None else b'\x01' + u64(v)
def pend(items): return u32(len(items)) + b''.join(sid(*i) + u64(t) + u64(c) for (i, t, c) in items)
def ids(items): return u32(len(items)) + b''.join(sid(*i) for i in items)

def header(db, index, key):
    h = b'HRLDSEG\x00' + struct.pack('<HH', 1, 0) + u32(db) + u64(index) + bts(key)
    return h + u32(zlib.crc32(h))

def record(kind, payload):
    body = bytes([kind]) + payload
    return u32(len(body)) + u32(zlib.crc32(body)) + body

P = [((5, 1), 1700000000000, 2)]
RECORDS = [
    ("stream created db=3 key=orders", record(1, u32(3) + bts(b'orders'))),
    ("stream deleted", record(2, b'')),
    ("entry added 1-2 f=v g=''", record(3, sid(1, 2) + u32(2) + bts(b'f') + bts(b'v') + bts(b'g') + bts(b''))),
    ("entries deleted 1-2 7-0", record(4, ids([(1, 2), (7, 0)]))),
    ("trimmed min_kept=9-9", record(5, sid(9, 9))),
    ("stream meta last=10-0 added=42 maxdel=7-0", record(6, sid(10, 0) + u64(42) + sid(7, 0))),
    ("group created g1 at 0-0 entries_read absent", record(7, bts(b'g1') + sid(0, 0) + opt(None))),
    ("group set-id g1 4-0 entries_read=4", record(8, bts(b'g1') + sid(4, 0) + opt(4))),
    ("delivery g1 alice 5-1 at 1700000000000 count 2", record(9, bts(b'g1') + bts(b'alice') + pend(P))),
    ("ack g1 5-1", record(10, bts(b'g1') + ids([(5, 1)]))),
    ("claim g1 bob justid 5-1 dropped 6-0", record(11, bts(b'g1') + bts(b'bob') + b'\x01' + pend(P) + ids([(6, 0)]))),
    ("consumer seen g1 bob seen=11 active=12", record(12, bts(b'g1') + bts(b'bob') + u64(11) + opt(12))),
    ("consumer deleted g1 bob", record(13, bts(b'g1') + bts(b'bob'))),
    ("group destroyed g1", record(14, bts(b'g1'))),
    ("expiry at 1700000060000", record(15, opt(1700000060000))),
    ("expiry removed (PERSIST)", record(15, opt(None))),
]

with open('every_record.hex', 'w') as f:
    f.write("# header: db 3, segment index 0, key 'orders'\n")
    f.write(header(3, 0, b'orders').hex() + "\n")
    for comment, rec in RECORDS:
        f.write(f"# {comment}\n{rec.hex()}\n")

# A torn tail: two good entries, then the first 11 bytes of a third.
good = [record(3, sid(n, 0) + u32(1) + bts(b'f') + bts(str(n).encode())) for n in (1, 2, 3)]
with open('torn_tail.hex', 'w') as f:
    f.write("# header: db 0, segment index 0, key 's'\n" + header(0, 0, b's').hex() + "\n")
    f.write("# entry added 1-0 f=1\n" + good[0].hex() + "\n# entry added 2-0 f=2\n" + good[1].hex() + "\n")
    f.write("# torn: the first 11 bytes of entry added 3-0\n" + good[2][:11].hex() + "\n")

# A corrupt tail: one good entry, then one whose last byte was flipped.
bad = bytearray(good[1]); bad[-1] ^= 0xff
with open('corrupt_tail.hex', 'w') as f:
    f.write("# header: db 0, segment index 0, key 's'\n" + header(0, 0, b's').hex() + "\n")
    f.write("# entry added 1-0 f=1\n" + good[0].hex() + "\n# entry added 2-0 f=2 with its last byte flipped (CRC mismatch)\n" + bytes(bad).hex() + "\n")
