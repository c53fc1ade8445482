import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHmac } from "node:crypto";
import { HeraldClient, HeraldError, msgpackEncode, msgpackDecode, MsgpackError } from "../dist/index.js";
import { startHerald, Resp } from "./herald.mjs";

let herald;
let resp;
before(async () => {
  herald = await startHerald(["--ws-token-secret", ""]);
  resp = await Resp.connect(herald.port);
});
after(() => {
  resp?.close();
  herald?.stop();
});

/** Resolves with the next `count` events of `name`. */
function collect(client, name, count) {
  return new Promise((resolve) => {
    const got = [];
    const off = client.on(name, (event) => {
      got.push(event);
      if (got.length === count) {
        off();
        resolve(got);
      }
    });
  });
}

/** Replays protocol/vectors/conversation.json over a raw socket in `encoding`. */
async function replayVectors(encoding) {
  const vectors = JSON.parse(readFileSync(new URL("../../../protocol/vectors/conversation.json", import.meta.url)));
  const msgpack = encoding === "msgpack";
  const socket = new WebSocket(herald.wsUrl, [msgpack ? "herald.msgpack" : "herald.json"]);
  socket.binaryType = "arraybuffer";
  const inbox = [];
  let wake = null;
  socket.onmessage = (e) => {
    assert.equal(typeof e.data !== "string", msgpack, "frames come in the negotiated encoding");
    inbox.push(msgpack ? msgpackDecode(e.data) : JSON.parse(e.data));
    wake?.();
  };
  await new Promise((r) => (socket.onopen = r));
  assert.equal(socket.protocol, msgpack ? "herald.msgpack" : "herald.json");
  const next = async () => {
    while (inbox.length === 0) await new Promise((r) => (wake = r));
    return inbox.shift();
  };
  for (const step of vectors.steps) {
    if (step.send) socket.send(msgpack ? msgpackEncode(step.send) : JSON.stringify(step.send));
    const got = await next();
    if (step.expect) assert.deepEqual(got, step.expect, JSON.stringify(step));
    else {
      assert.equal(got.id, step.expect_id);
      assert.equal(got.error.code, step.expect_error_code);
    }
  }
  socket.close();
}

test("the shared protocol vectors replay over a raw socket in JSON", () => replayVectors("json"));

test("the shared protocol vectors replay over a raw socket in MessagePack", () => replayVectors("msgpack"));

test("the MessagePack codec encodes the protocol document's example byte for byte", () => {
  const hex = "83 a4 74 79 70 65 a5 72 65 70 6c 79 a2 69 64 01 a6 72 65 73 75 6c 74 a4 70 6f 6e 67";
  const bytes = Uint8Array.from(hex.split(" ").map((h) => parseInt(h, 16)));
  assert.deepEqual(msgpackEncode({ type: "reply", id: 1, result: "pong" }), bytes);
  assert.deepEqual(msgpackDecode(bytes), { type: "reply", id: 1, result: "pong" });
});

test("the MessagePack codec round-trips every type the protocol uses", () => {
  const long = "x".repeat(70000);
  const values = [
    null, true, false, 0, 127, 128, 255, 256, 65535, 65536, 2 ** 32, Number.MAX_SAFE_INTEGER,
    -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, Number.MIN_SAFE_INTEGER,
    2n ** 63n, -(2n ** 63n), 1.5, -0.25, Infinity, "", "héllo", "y".repeat(31), "z".repeat(32), "w".repeat(300), long,
    new Uint8Array([255, 0, 1]), new Uint8Array(300), [], [1, [2, [3]]], Array.from({ length: 20 }, (_, i) => i),
    {}, { a: 1, b: { c: [null, "d"] } }, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
  ];
  for (const value of values) assert.deepEqual(msgpackDecode(msgpackEncode(value)), value, String(value).slice(0, 40));
  assert.throws(() => msgpackDecode(new Uint8Array([0xa5, 0x61])), MsgpackError);
  assert.throws(() => msgpackDecode(new Uint8Array([0xc1])), MsgpackError);
  assert.throws(() => msgpackDecode(new Uint8Array([0x01, 0x02])), MsgpackError);
  assert.throws(() => msgpackEncode({ f: () => 1 }), MsgpackError);
  // A map key named __proto__ is plain data.
  const tricky = msgpackDecode(msgpackEncode(JSON.parse('{"__proto__": {"polluted": 1}}')));
  assert.equal(Object.getPrototypeOf(tricky), Object.prototype);
  assert.deepEqual(Object.keys(tricky), ["__proto__"]);
});

test("a MessagePack client runs requests and receives binary payloads as bytes", async () => {
  const client = new HeraldClient(herald.wsUrl, { encoding: "msgpack" });
  await client.connect();
  assert.equal(client.encoding, "msgpack");
  assert.equal(await client.ping(), "pong");
  assert.equal(await client.command("SET", "js:mp", new Uint8Array([0xff, 0x00])), "OK");
  assert.deepEqual(await client.command("GET", "js:mp"), new Uint8Array([0xff, 0x00]));
  assert.equal(await client.command("INCRBY", "js:mp-n", 41), 41);
  await assert.rejects(client.command("LPUSH", "js:mp", "x"), (e) => e instanceof HeraldError && e.code === "WRONGTYPE");
  await client.subscribe("js:mp-chan");
  const events = collect(client, "message", 2);
  assert.equal(await client.publish("js:mp-chan", new Uint8Array([0xc1, 0x80])), 1);
  assert.equal(await resp.call("PUBLISH", "js:mp-chan", "text"), 1);
  assert.deepEqual(await events, [
    { type: "message", channel: "js:mp-chan", data: new Uint8Array([0xc1, 0x80]) },
    { type: "message", channel: "js:mp-chan", data: "text" },
  ]);
  const seen = collect(client, "entries", 1);
  const id = await resp.call("XADD", "js:mp-stream", "*", "price", "10");
  await client.follow("js:mp-stream", "0");
  assert.deepEqual(await seen, [{ type: "entries", stream: "js:mp-stream", entries: [{ id, fields: { price: "10" } }] }]);
  client.close();
});

test("each request gets its own promise; errors reject with their code", async () => {
  const client = new HeraldClient(herald.wsUrl);
  await client.connect();
  const [set, pong] = await Promise.all([client.command("SET", "js:k", "1"), client.ping()]);
  assert.equal(set, "OK");
  assert.equal(pong, "pong");
  assert.equal(await client.command("INCRBY", "js:k", 41), 42);
  await assert.rejects(client.command("LPUSH", "js:k", "x"), (e) => e instanceof HeraldError && e.code === "WRONGTYPE");
  await assert.rejects(client.command("BLPOP", "q", 0), (e) => e.code === "FORBIDDEN");
  client.close();
});

test("subscribers receive typed message events", async () => {
  const client = new HeraldClient(herald.wsUrl);
  await client.connect();
  await client.subscribe({ channels: ["js:quotes"], patterns: ["js:news.*"] });
  const events = collect(client, "message", 1);
  const pevents = collect(client, "pmessage", 1);
  assert.equal(await resp.call("PUBLISH", "js:quotes", "ACME 10"), 1);
  assert.equal(await resp.call("PUBLISH", "js:news.tech", "hello"), 1);
  assert.deepEqual(await events, [{ type: "message", channel: "js:quotes", data: "ACME 10" }]);
  assert.deepEqual(await pevents, [{ type: "pmessage", pattern: "js:news.*", channel: "js:news.tech", data: "hello" }]);
  client.close();
});

test("after a dropped connection it resubscribes and resumes the stream with no gap or duplicate", async () => {
  const client = new HeraldClient(herald.wsUrl, { backoff: { initialMs: 20, maxMs: 100 } });
  await client.connect();
  await client.subscribe("js:chan");
  const added = [];
  for (let i = 0; i < 3; i++) added.push(await resp.call("XADD", "js:stream", "*", "n", i));
  const seen = [];
  client.on("entries", (e) => {
    if (e.stream === "js:stream") for (const entry of e.entries) seen.push(entry.id);
  });
  await client.follow("js:stream", "0");
  while (seen.length < 3) await new Promise((r) => setTimeout(r, 5));

  // Drop the gateway connection from the server side, then add entries while it is away.
  const reopened = new Promise((resolve) => client.on("open", (e) => e.reconnect && resolve()));
  const list = await resp.call("CLIENT", "LIST");
  const line = list.split("\n").find((l) => l.includes("lib-name=herald-ws") && !l.includes("name=raw"));
  assert.ok(line, "the gateway client is listed");
  const ids = list.split("\n").filter((l) => l.includes("lib-name=herald-ws")).map((l) => /id=(\d+)/.exec(l)[1]);
  for (const id of ids) await resp.call("CLIENT", "KILL", "ID", id);
  for (let i = 3; i < 6; i++) added.push(await resp.call("XADD", "js:stream", "*", "n", i));
  await reopened;
  for (let i = 6; i < 8; i++) added.push(await resp.call("XADD", "js:stream", "*", "n", i));
  while (seen.length < 8) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(seen, added);
  assert.equal(client.lastIds.get("js:stream"), added[7]);

  // The channel subscription came back too.
  const message = collect(client, "message", 1);
  assert.equal(await resp.call("PUBLISH", "js:chan", "back"), 1);
  assert.equal((await message)[0].data, "back");
  client.close();
});

test("a token minted as the protocol document says is accepted", async () => {
  const secured = await startHerald(["--ws-token-secret", "js-secret"]);
  try {
    const b64url = (b) => Buffer.from(b).toString("base64url");
    const payload = b64url(JSON.stringify({ sub: ["js:*"] }));
    const token = `${payload}.${b64url(createHmac("sha256", "js-secret").update(payload).digest())}`;
    const client = new HeraldClient(secured.wsUrl, { token });
    await client.connect();
    assert.deepEqual(await client.subscribe("js:ok"), { channels: 1, patterns: 0, shard_channels: 0 });
    await assert.rejects(client.subscribe("other"), (e) => e.code === "FORBIDDEN");
    client.close();
  } finally {
    secured.stop();
  }
});

test("a blocking group read resolves when an entry arrives", async () => {
  const client = new HeraldClient(herald.wsUrl, { encoding: "msgpack" });
  await client.connect();
  assert.equal(await resp.call("XGROUP", "CREATE", "js:jobs", "g", "$", "MKSTREAM"), "OK");
  const read = client.groupRead("js:jobs", "g", "worker", { block: 0 });
  const pong = client.ping();
  // Wait (bounded) until the read is blocked on the server, then add the entry.
  for (let i = 0; i < 1000; i++) {
    const info = await resp.call("INFO", "clients");
    if (/blocked_clients:1\r\n/.test(info)) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const id = await resp.call("XADD", "js:jobs", "*", "task", "resize");
  assert.deepEqual(await read, [{ id, fields: { task: "resize" } }]);
  assert.equal(await pong, "pong");
  assert.deepEqual(await client.groupRead("js:jobs", "g", "worker", { block: 10 }), []);
  client.close();
});
