// A chat room on a stream with history, through Herald's WebSocket gateway.
// Run: node examples/chat/run.mjs   then open http://127.0.0.1:8001/ in two windows.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startHerald, serve } from "../stock_ticker/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const herald = await startHerald({ port: Number(process.env.RESP_PORT ?? 6391), wsPort: Number(process.env.WS_PORT ?? 8081) });
serve(here, Number(process.env.HTTP_PORT ?? 8001), { "__WS_URL__": herald.wsUrl });
console.log("chat room running (Ctrl-C to stop)");
