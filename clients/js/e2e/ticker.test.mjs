// End to end in a real browser: headless Chromium (Debian's `chromium`, driven by
// playwright-core) opens the stock-ticker example page against a real Herald, sees quotes
// arrive, has its WebSocket connection killed server side (CLIENT KILL), and sees the feed
// resume with every quote exactly once. Run: npm run e2e (needs /usr/bin/chromium, or
// CHROMIUM=/path/to/chromium).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startHerald, Resp } from "../test/herald.mjs";
import { serve } from "../../../examples/stock_ticker/harness.mjs";

const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const tickerDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../examples/stock_ticker");
// This machine's network is closed: without these Chromium waits on connections it will never get.
const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** Bound on every wait for the page (a hang fails the test instead of the whole run). */
const WAIT = { timeout: 30_000 };

let herald;
let resp;
let http;
let context;
let profile;

before(async () => {
  assert.ok(existsSync(executablePath), `no Chromium at ${executablePath} (.ci/run installs Debian's chromium)`);
  herald = await startHerald();
  resp = await Resp.connect(herald.port);
  http = await serve(tickerDir, 0, { __WS_URL__: herald.wsUrl });
  profile = mkdtempSync(path.join(tmpdir(), "herald-e2e-chromium-"));
  // A fresh profile directory each run: Playwright passes it as --user-data-dir.
  context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args, timeout: 60_000 });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  http?.close();
  resp?.close();
  herald?.stop();
});

/** Pushes one quote the way the example's publisher does; resolves with its entry ID. */
async function quote(symbol, price) {
  const id = await resp.call("XADD", "ticker", "*", "symbol", symbol, "price", price.toFixed(2));
  assert.equal(typeof id, "string", `XADD failed: ${id}`);
  return id;
}

/** The gateway's client IDs, from CLIENT LIST (`lib-name=herald-ws`). */
async function gatewayClients() {
  const list = await resp.call("CLIENT", "LIST");
  return list
    .split("\n")
    .filter((line) => line.includes("lib-name=herald-ws"))
    .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1])
    .filter(Boolean);
}

test("the ticker page shows quotes, survives a killed connection and resumes without gap or duplicate", async () => {
  const added = [];
  for (let i = 0; i < 3; i++) added.push(await quote("ACME", 120 + i));

  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`http://127.0.0.1:${http.address().port}/`, WAIT);
  await page.waitForFunction((n) => window.quoteIds?.length >= n, added.length, WAIT);
  assert.equal(await page.textContent("#status"), "live");

  // Live quotes arrive while connected.
  for (let i = 0; i < 2; i++) added.push(await quote("GLOBEX", 48 + i));
  await page.waitForFunction((n) => window.quoteIds.length >= n, added.length, WAIT);
  assert.match(await page.textContent("#quotes"), /GLOBEX/);

  // Drop the connection from the server side, and keep publishing meanwhile.
  const before = await gatewayClients();
  assert.equal(before.length, 1, "the page holds one gateway connection");
  assert.equal(await resp.call("CLIENT", "KILL", "ID", before[0]), 1);
  for (let i = 0; i < 3; i++) added.push(await quote("INITECH", 15 + i));

  // The client reconnects by itself and resumes after the last quote it showed.
  await page.waitForFunction(() => document.getElementById("status")?.textContent?.startsWith("reconnected"), undefined, WAIT);
  for (let i = 0; i < 2; i++) added.push(await quote("HOOLI", 87 + i));
  await page.waitForFunction((n) => window.quoteIds.length >= n, added.length, WAIT);

  const after = await gatewayClients();
  assert.equal(after.length, 1, "one gateway connection again");
  assert.notEqual(after[0], before[0], "it is a new connection");
  assert.deepEqual(await page.evaluate(() => window.quoteIds), added, "every quote exactly once, in order");
  assert.match(await page.textContent("#quotes"), /HOOLI/);
  assert.deepEqual(problems, []);
  await page.close();
});
