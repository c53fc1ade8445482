import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHmac } from "node:crypto";
import { HeraldClient, HeraldError } from "../dist/index.js";
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

test("the shared protocol vectors replay over a raw socket", async () => {
  const vectors = JSON.parse(readFileSync(new URL("../../../protocol/vectors/conversation.json", import.meta.url)));
  const socket = new WebSocket(herald.wsUrl, ["herald.json"]);
  const inbox = [];
  let wake = null;
  socket.onmessage = (e) => {
    inbox.push(JSON.parse(e.data));
    wake?.();
  };
  await new Promise((r) => (socket.onopen = r));
  const next = async () => {
    while (inbox.length === 0) await new Promise((r) => (wake = r));
    return inbox.shift();
  };
  for (const step of vectors.steps) {
    if (step.send) socket.send(JSON.stringify(step.send));
    const got = await next();
    if (step.expect) assert.deepEqual(got, step.expect, JSON.stringify(step));
    else {
      assert.equal(got.id, step.expect_id);
      assert.equal(got.error.code, step.expect_error_code);
    }
  }
  socket.close();
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
