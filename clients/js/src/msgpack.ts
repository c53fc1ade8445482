/**
 * A small MessagePack encoder and decoder, covering what protocol/websocket.md uses (the
 * `herald.msgpack` subprotocol): nil, booleans, integers (up to 64 bits), float 32/64, str,
 * bin, arrays and maps. Extension types are refused. No dependencies.
 *
 * Mapping: `null`/`undefined` <-> nil; `number` -> int when it is a safe integer, else float 64;
 * `bigint` -> int 64; `string` <-> str (UTF-8); `Uint8Array` (or `ArrayBuffer`) <-> bin; arrays
 * <-> arrays; plain objects <-> maps with string keys (non-string keys are decoded to their
 * string form). Integers outside the safe range decode as `bigint`.
 */

/** A value MessagePack can carry here. */
export type MsgpackValue = null | boolean | number | bigint | string | Uint8Array | MsgpackValue[] | { [key: string]: MsgpackValue };

/** A malformed or unsupported MessagePack input. */
export class MsgpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MsgpackError";
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8");

/** A growable byte buffer. */
class Writer {
  private bytes = new Uint8Array(64);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.bytes.subarray(0, this.length));
    this.bytes = bigger;
    this.view = new DataView(bigger.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.length, v);
    this.length += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
  }
  u64(v: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.length, v);
    this.length += 8;
  }
  i64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.length, v);
    this.length += 8;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, v);
    this.length += 8;
  }
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.bytes.set(b, this.length);
    this.length += b.length;
  }
  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** Encodes `value` (see the module's mapping). Throws {@link MsgpackError} for what has none. */
export function encode(value: unknown): Uint8Array {
  const out = new Writer();
  write(out, value, 0);
  return out.finish();
}

function writeInt(out: Writer, v: bigint): void {
  if (v >= 0n) {
    if (v < 128n) out.u8(Number(v));
    else if (v < 256n) (out.u8(0xcc), out.u8(Number(v)));
    else if (v < 65536n) (out.u8(0xcd), out.u16(Number(v)));
    else if (v < 4294967296n) (out.u8(0xce), out.u32(Number(v)));
    else if (v < 18446744073709551616n) (out.u8(0xcf), out.u64(v));
    else throw new MsgpackError("integer too large for MessagePack");
  } else {
    if (v >= -32n) out.u8(Number(v) & 0xff);
    else if (v >= -128n) (out.u8(0xd0), out.u8(Number(v) & 0xff));
    else if (v >= -32768n) (out.u8(0xd1), out.u16(Number(v) & 0xffff));
    else if (v >= -2147483648n) (out.u8(0xd2), out.u32(Number(v) >>> 0));
    else if (v >= -9223372036854775808n) (out.u8(0xd3), out.i64(v));
    else throw new MsgpackError("integer too small for MessagePack");
  }
}

function writeLength(out: Writer, n: number, fix: number | null, fixMax: number, c8: number | null, c16: number, c32: number): void {
  if (fix !== null && n <= fixMax) out.u8(fix | n);
  else if (c8 !== null && n < 256) (out.u8(c8), out.u8(n));
  else if (n < 65536) (out.u8(c16), out.u16(n));
  else (out.u8(c32), out.u32(n));
}

function write(out: Writer, value: unknown, depth: number): void {
  if (depth > 100) throw new MsgpackError("value nested too deeply");
  if (value === null || value === undefined) return out.u8(0xc0);
  switch (typeof value) {
    case "boolean":
      return out.u8(value ? 0xc3 : 0xc2);
    case "number":
      if (Number.isSafeInteger(value)) return writeInt(out, BigInt(value));
      out.u8(0xcb);
      return out.f64(value);
    case "bigint":
      return writeInt(out, value);
    case "string": {
      const bytes = utf8Encoder.encode(value);
      writeLength(out, bytes.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
      return out.raw(bytes);
    }
  }
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) {
    const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : value;
    writeLength(out, bytes.length, null, 0, 0xc4, 0xc5, 0xc6);
    return out.raw(bytes);
  }
  if (Array.isArray(value)) {
    writeLength(out, value.length, 0x90, 15, null, 0xdc, 0xdd);
    for (const item of value) write(out, item, depth + 1);
    return;
  }
  if (typeof value === "object") {
    // Like JSON.stringify: properties whose value is undefined are left out.
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    writeLength(out, entries.length, 0x80, 15, null, 0xde, 0xdf);
    for (const [k, v] of entries) {
      write(out, k, depth + 1);
      write(out, v, depth + 1);
    }
    return;
  }
  throw new MsgpackError(`cannot encode a ${typeof value}`);
}

/** Decodes one MessagePack value that must fill `input` exactly. */
export function decode(input: Uint8Array | ArrayBuffer): MsgpackValue {
  const bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : input;
  const reader = new Reader(bytes);
  const value = reader.value(0);
  if (reader.at !== bytes.length) throw new MsgpackError("trailing bytes after the value");
  return value;
}

class Reader {
  at = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(n: number): number {
    const at = this.at;
    if (at + n > this.bytes.length) throw new MsgpackError("truncated MessagePack value");
    this.at += n;
    return at;
  }
  private u8(): number {
    return this.view.getUint8(this.need(1));
  }
  private u16(): number {
    return this.view.getUint16(this.need(2));
  }
  private u32(): number {
    return this.view.getUint32(this.need(4));
  }
  private int(v: bigint): number | bigint {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  private str(n: number): string {
    const at = this.need(n);
    return utf8Decoder.decode(this.bytes.subarray(at, at + n));
  }
  private bin(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.slice(at, at + n);
  }
  private array(n: number, depth: number): MsgpackValue[] {
    const items: MsgpackValue[] = [];
    for (let i = 0; i < n; i++) items.push(this.value(depth + 1));
    return items;
  }
  private map(n: number, depth: number): { [key: string]: MsgpackValue } {
    const map: { [key: string]: MsgpackValue } = {};
    for (let i = 0; i < n; i++) {
      const key = this.value(depth + 1);
      const text = typeof key === "string" ? key : key instanceof Uint8Array ? utf8Decoder.decode(key) : JSON.stringify(key, (_, v) => (typeof v === "bigint" ? v.toString() : v));
      // Defined as own data properties, so a key named __proto__ cannot reach the prototype.
      Object.defineProperty(map, text, { value: this.value(depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return map;
  }

  value(depth: number): MsgpackValue {
    if (depth > 100) throw new MsgpackError("value nested too deeply");
    const b = this.u8();
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if ((b & 0xe0) === 0xa0) return this.str(b & 0x1f);
    if ((b & 0xf0) === 0x90) return this.array(b & 0x0f, depth);
    if ((b & 0xf0) === 0x80) return this.map(b & 0x0f, depth);
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.bin(this.u8());
      case 0xc5:
        return this.bin(this.u16());
      case 0xc6:
        return this.bin(this.u32());
      case 0xca:
        return this.view.getFloat32(this.need(4));
      case 0xcb:
        return this.view.getFloat64(this.need(8));
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf:
        return this.int(this.view.getBigUint64(this.need(8)));
      case 0xd0:
        return this.view.getInt8(this.need(1));
      case 0xd1:
        return this.view.getInt16(this.need(2));
      case 0xd2:
        return this.view.getInt32(this.need(4));
      case 0xd3:
        return this.int(this.view.getBigInt64(this.need(8)));
      case 0xd9:
        return this.str(this.u8());
      case 0xda:
        return this.str(this.u16());
      case 0xdb:
        return this.str(this.u32());
      case 0xdc:
        return this.array(this.u16(), depth);
      case 0xdd:
        return this.array(this.u32(), depth);
      case 0xde:
        return this.map(this.u16(), depth);
      case 0xdf:
        return this.map(this.u32(), depth);
    }
    throw new MsgpackError(`unsupported MessagePack type 0x${b.toString(16)}`);
  }
}
