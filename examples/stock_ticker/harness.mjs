// Shared by the WebSocket examples: build Herald and the JS client, start Herald with the
// gateway, serve a directory plus the client module over HTTP, and speak a little RESP.
import { spawn, execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Builds Herald and the JS client (quietly, once), starts Herald; stops it on exit. */
export async function startHerald({ port = 6390, wsPort = 8080 } = {}) {
  console.log("building herald and the JS client...");
  execFileSync("cargo", ["build", "--quiet", "--bin", "herald"], { cwd: root, stdio: "inherit" });
  const js = path.join(root, "clients/js");
  execFileSync("npm", ["install", "--silent", "--no-audit", "--no-fund"], { cwd: js, stdio: "inherit" });
  execFileSync("npm", ["run", "--silent", "build"], { cwd: js, stdio: "inherit" });
  const child = spawn(path.join(root, "target/debug/herald"), ["--port", String(port), "--ws-port", String(wsPort), "--bind", "127.0.0.1"], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const stop = () => child.kill("SIGTERM");
  process.on("exit", stop);
  process.on("SIGINT", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
  for (let i = 0; i < 200 && !(await reachable(port)); i++) await new Promise((r) => setTimeout(r, 25));
  return { port, wsUrl: `ws://127.0.0.1:${wsPort}/ws`, stop };
}

function reachable(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
    s.on("error", () => resolve(false));
  });
}

/** Serves `dir` and `/herald-client.js` (the built client, with its own modules) on `port` (0: any free port);
 * resolves with the HTTP server once it listens. */
export function serve(dir, port, substitutions = {}) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const name = path.basename(url.pathname);
    // The client's entry module, and the modules it imports relatively (./msgpack.js).
    const dist = path.join(root, "clients/js/dist");
    const file =
      url.pathname === "/herald-client.js"
        ? path.join(dist, "index.js")
        : url.pathname === "/"
          ? path.join(dir, "index.html")
          : name.endsWith(".js") && existsSync(path.join(dist, name)) && !existsSync(path.join(dir, name))
            ? path.join(dist, name)
            : path.join(dir, name);
    try {
      let body = await readFile(file, "utf8");
      for (const [key, value] of Object.entries(substitutions)) body = body.replaceAll(key, value);
      res.writeHead(200, { "content-type": types[path.extname(file)] ?? "text/plain" });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  return new Promise((resolve) => {
    server.listen(port, "127.0.0.1", () => {
      if (port !== 0) console.log(`open http://127.0.0.1:${server.address().port}/`);
      resolve(server);
    });
  });
}

/** A RESP connection that fires commands and ignores replies (a publisher). */
export async function resp(port) {
  const socket = await new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => resolve(s));
    s.on("error", reject);
  });
  socket.on("data", () => {});
  return (...args) => {
    let out = `*${args.length}\r\n`;
    for (const a of args.map(String)) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    socket.write(out);
  };
}
