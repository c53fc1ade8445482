// Test support: start a real Herald binary with the gateway on free ports, and talk RESP to it.
import { spawn, execFileSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

let built = false;

/** Builds (once) and starts Herald; resolves when both listeners accept. */
export async function startHerald(extraArgs = []) {
  const binary = process.env.HERALD_BIN ?? path.join(root, "target/debug/herald");
  if (!process.env.HERALD_BIN && !built) execFileSync("cargo", ["build", "--quiet", "--bin", "herald"], { cwd: root, stdio: "inherit" });
  built = true;
  const port = await freePort();
  const wsPort = await freePort();
  const child = spawn(binary, ["--port", String(port), "--ws-port", String(wsPort), "--bind", "127.0.0.1", ...extraArgs], { stdio: ["ignore", "ignore", "inherit"] });
  for (let i = 0; i < 200; i++) {
    if (await canConnect(wsPort)) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    port,
    wsUrl: `ws://127.0.0.1:${wsPort}/ws`,
    stop: () => child.kill("SIGTERM"),
  };
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/** A minimal RESP client: one command at a time, replies parsed into JS values. */
export class Resp {
  static connect(port) {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1", () => resolve(new Resp(socket)));
      socket.on("error", reject);
    });
  }
  constructor(socket) {
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.waiting = [];
    socket.on("data", (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const parsed = parse(this.buffer, 0);
        if (!parsed) break;
        this.buffer = this.buffer.subarray(parsed.end);
        this.waiting.shift()?.(parsed.value);
      }
    });
  }
  call(...args) {
    const parts = [`*${args.length}\r\n`];
    for (const a of args) {
      const s = String(a);
      parts.push(`$${Buffer.byteLength(s)}\r\n${s}\r\n`);
    }
    this.socket.write(parts.join(""));
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  close() {
    this.socket.destroy();
  }
}

function parse(buf, at) {
  const eol = buf.indexOf("\r\n", at);
  if (eol < 0) return null;
  const line = buf.toString("utf8", at + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[at])) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new Error(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (buf.length < next + n + 2) return null;
      return { value: buf.toString("utf8", next, next + n), end: next + n + 2 };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const items = [];
      let end = next;
      for (let i = 0; i < n; i++) {
        const item = parse(buf, end);
        if (!item) return null;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
  }
  return null;
}
