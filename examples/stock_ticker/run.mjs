// The live stock ticker: Herald with the WebSocket gateway, a publisher pushing quotes over
// RESP into the `ticker` stream, and a page that follows it. Run: node examples/stock_ticker/run.mjs
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startHerald, serve, resp } from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const herald = await startHerald({ port: Number(process.env.RESP_PORT ?? 6390), wsPort: Number(process.env.WS_PORT ?? 8080) });
serve(here, Number(process.env.HTTP_PORT ?? 8000), { "__WS_URL__": herald.wsUrl });

const send = await resp(herald.port);
const prices = { ACME: 120, GLOBEX: 48.5, INITECH: 15.2, UMBRELLA: 230, HOOLI: 87.3 };
setInterval(() => {
  for (const [symbol, price] of Object.entries(prices)) {
    if (Math.random() < 0.5) continue;
    const next = Math.max(1, price * (1 + (Math.random() - 0.5) / 50));
    prices[symbol] = next;
    // Keep about the last 2000 quotes: enough for the chart's history and for resumes.
    send("XADD", "ticker", "MAXLEN", "~", "2000", "*", "symbol", symbol, "price", next.toFixed(2));
  }
}, 250);
console.log("publishing quotes into stream 'ticker' (Ctrl-C to stop)");
