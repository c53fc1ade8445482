// Idle WebSocket memory of any herald binary: RSS growth of the server over N subscribed,
// idle gateway connections, divided by N. Run: node --experimental-websocket benches/ws_idle_memory.mjs <herald binary> [N=3000]
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
const [bin, n = "3000"] = process.argv.slice(2);
const N = Number(n);
const port = 17000 + Math.floor(Math.random() * 1000), wsPort = port + 1000;
const child = spawn(bin, ["--port", String(port), "--ws-port", String(wsPort), "--bind", "127.0.0.1", "--maxclients", "100000", "--ws-max-connections", "100000", "--ws-idle-timeout", "0", "--loglevel", "warning"], { stdio: "ignore" });
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))[1]);
for (let i = 0; i < 400; i++) { if (await new Promise((r) => { const s = net.connect(wsPort, "127.0.0.1", () => (s.destroy(), r(true))); s.on("error", () => r(false)); })) break; await new Promise((r) => setTimeout(r, 25)); }
await new Promise((r) => setTimeout(r, 300));
const before = rss();
const sockets = [];
for (let i = 0; i < N; i += 200) {
  await Promise.all(Array.from({ length: Math.min(200, N - i) }, () => new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${wsPort}/ws`, ["herald.json"]);
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, type: "subscribe", channels: ["bench"] }));
    ws.onmessage = () => resolve();
    sockets.push(ws);
  })));
}
await new Promise((r) => setTimeout(r, 500));
const after = rss();
console.log(`${bin}: ${N} idle subscribers: ${before} KB -> ${after} KB, ${((after - before) / N).toFixed(2)} KB per connection`);
child.kill("SIGKILL");
process.exit(0);
