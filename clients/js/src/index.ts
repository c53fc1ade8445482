/**
 * Herald WebSocket client (protocol: protocol/websocket.md), for browsers and Node 20+.
 * No runtime dependencies. JSON (`herald.json`, the default) or MessagePack (`herald.msgpack`,
 * with the small codec in `./msgpack.ts`) by the `encoding` option.
 *
 * - one promise per request, resolved with its `result` or rejected with a {@link HeraldError};
 * - automatic reconnect with exponential backoff and full jitter;
 * - after a reconnect: subscriptions restored, followed streams resumed from the last ID seen
 *   (the server then sends exactly the missed entries, then the live tail);
 * - typed events.
 */

import { encode as msgpackEncode, decode as msgpackDecode } from "./msgpack.js";
export { encode as msgpackEncode, decode as msgpackDecode, MsgpackError, type MsgpackValue } from "./msgpack.js";

/** A byte string from the server: a `string`, or with the MessagePack encoding a `Uint8Array`
 * when the bytes are not valid UTF-8 (JSON replaces those with U+FFFD instead). */
export type Payload = string | Uint8Array;

/** A stream entry. `fields` is null for a pending entry deleted since (group reads). */
export interface Entry {
  id: string;
  fields: Record<string, Payload> | null;
}

/** A message on a subscribed channel. */
export interface MessageEvent {
  type: "message";
  channel: string;
  data: Payload;
}

/** A message on a channel matching a subscribed pattern. */
export interface PMessageEvent {
  type: "pmessage";
  pattern: string;
  channel: string;
  data: Payload;
}

/** A message on a subscribed shard channel. */
export interface SMessageEvent {
  type: "smessage";
  channel: string;
  data: Payload;
}

/** New entries of a followed stream. */
export interface EntriesEvent {
  type: "entries";
  stream: string;
  entries: Entry[];
}

/** Every event the client emits, by name. */
export interface HeraldEvents {
  /** Connected (first time or after a reconnect), subscriptions and follows restored. */
  open: { reconnect: boolean };
  /** The connection closed (`willReconnect` unless {@link HeraldClient.close} was called). */
  close: { code: number; reason: string; willReconnect: boolean };
  /** A reconnect attempt is scheduled. */
  reconnecting: { attempt: number; delayMs: number };
  message: MessageEvent;
  pmessage: PMessageEvent;
  smessage: SMessageEvent;
  entries: EntriesEvent;
  /** A server error not tied to a request (id null), or a failed restore. */
  error: HeraldError;
}

/** An error reply: `code` is Redis's (`ERR`, `WRONGTYPE`, ...) or the gateway's (`BADREQUEST`,
 * `FORBIDDEN`), or `DISCONNECTED` when the connection dropped before the reply. */
export class HeraldError extends Error {
  constructor(
    public readonly code: string,
    message: string,
  ) {
    super(`${code} ${message}`);
    this.name = "HeraldError";
  }
}

/** Reconnect timing: the n-th retry waits a random time in [0, min(maxMs, initialMs * factor^n)]. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  factor: number;
}

/** Options of {@link HeraldClient}. */
export interface HeraldOptions {
  /** A bearer token (sent as `?token=`). */
  token?: string;
  /** Reconnect timing; defaults 250 ms, 10 s, 2. */
  backoff?: Partial<Backoff>;
  /** Reconnect automatically (default true). */
  reconnect?: boolean;
  /** `"json"` (default: text frames, subprotocol `herald.json`) or `"msgpack"` (binary frames,
   * `herald.msgpack`). With MessagePack, payloads that are not UTF-8 arrive as `Uint8Array`,
   * and `Uint8Array` arguments are sent as binary. */
  encoding?: "json" | "msgpack";
  /** The WebSocket constructor, where there is no global one. */
  WebSocket?: typeof WebSocket;
}

type Listener<T> = (event: T) => void;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: HeraldError) => void;
  /** Runs synchronously when the result arrives, before any later message is handled. */
  onResult?: (value: unknown) => void;
}

/** Subscriptions to restore after a reconnect. */
interface Names {
  channels: string[];
  patterns: string[];
  shard_channels: string[];
}

/** A Herald connection that survives reconnects. */
export class HeraldClient {
  readonly url: string;
  private readonly options: HeraldOptions;
  private readonly backoff: Backoff;
  private socket: WebSocket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Requests made while disconnected, sent once connected. */
  private readonly outbox: Array<string | Uint8Array> = [];
  private readonly listeners = new Map<keyof HeraldEvents, Set<Listener<never>>>();
  private readonly channels = new Set<string>();
  private readonly patterns = new Set<string>();
  private readonly shardChannels = new Set<string>();
  /** Followed streams and the last ID seen on each. */
  private readonly follows = new Map<string, string>();
  private attempt = 0;
  private closed = false;
  private everOpened = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private openWaiters: Array<() => void> = [];

  /** `url` is the gateway's address, e.g. `ws://localhost:8080/ws`. Call {@link connect}. */
  constructor(url: string, options: HeraldOptions = {}) {
    this.url = options.token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(options.token)}` : url;
    this.options = options;
    this.backoff = { initialMs: 250, maxMs: 10_000, factor: 2, ...options.backoff };
  }

  /** Opens the connection; resolves once connected (and restored). */
  connect(): Promise<void> {
    this.closed = false;
    const opened = new Promise<void>((resolve) => this.openWaiters.push(resolve));
    if (!this.socket) this.open();
    return opened;
  }

  /** Closes for good: no reconnect; pending requests are rejected. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.socket?.close(1000, "client closed");
    this.socket = null;
    this.failPending();
  }

  /** Whether the socket is open now. */
  get connected(): boolean {
    return this.socket !== null && this.socket.readyState === 1;
  }

  /** The last entry ID seen on each followed stream (what a resume starts after). */
  get lastIds(): ReadonlyMap<string, string> {
    return this.follows;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof HeraldEvents>(event: K, listener: Listener<HeraldEvents[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  private emit<K extends keyof HeraldEvents>(event: K, value: HeraldEvents[K]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as Listener<HeraldEvents[K]>)(value);
      } catch (e) {
        // A listener's exception must not break the connection.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  /** Sends one request; resolves with its result. */
  request<T = unknown>(body: Record<string, unknown>, onResult?: (value: T) => void): Promise<T> {
    const id = this.nextId++;
    const text = this.encode({ ...body, id });
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onResult: onResult as ((v: unknown) => void) | undefined });
      if (this.connected && this.socket) this.socket.send(text);
      else this.outbox.push(text);
    });
  }

  /** Whether requests go as MessagePack. */
  get encoding(): "json" | "msgpack" {
    return this.options.encoding ?? "json";
  }

  private encode(body: Record<string, unknown>): string | Uint8Array {
    return this.encoding === "msgpack" ? msgpackEncode(body) : JSON.stringify(body);
  }

  /** `ping`: resolves with `"pong"`. */
  ping(): Promise<string> {
    return this.request({ type: "ping" });
  }

  /** Runs any allowed command. */
  command<T = unknown>(...args: Array<string | number | Uint8Array>): Promise<T> {
    return this.request({ type: "command", args });
  }

  /** Publishes; resolves with the number of receivers. */
  publish(channel: string, message: Payload, shard = false): Promise<number> {
    return this.request({ type: "publish", channel, message, shard });
  }

  /** Subscribes (and resubscribes after every reconnect). */
  async subscribe(names: Partial<Names> | string | string[]): Promise<Names> {
    const n = normalize(names);
    n.channels.forEach((c) => this.channels.add(c));
    n.patterns.forEach((p) => this.patterns.add(p));
    n.shard_channels.forEach((s) => this.shardChannels.add(s));
    return this.request({ type: "subscribe", ...n });
  }

  /** Unsubscribes; no names: from everything. */
  async unsubscribe(names: Partial<Names> | string | string[] = {}): Promise<Names> {
    const n = normalize(names);
    const all = n.channels.length + n.patterns.length + n.shard_channels.length === 0;
    if (all) {
      this.channels.clear();
      this.patterns.clear();
      this.shardChannels.clear();
    }
    n.channels.forEach((c) => this.channels.delete(c));
    n.patterns.forEach((p) => this.patterns.delete(p));
    n.shard_channels.forEach((s) => this.shardChannels.delete(s));
    return this.request({ type: "unsubscribe", ...n });
  }

  /** Follows a stream from `from` (default `$`: new entries only); entries arrive as
   * `entries` events. After a reconnect it resumes after the last ID seen. */
  async follow(stream: string, from = "$"): Promise<{ stream: string; from: string }> {
    // The resume point is recorded as the reply is read, before the entries that follow it.
    return this.request<{ stream: string; from: string }>({ type: "follow", stream, from }, (result) => this.follows.set(stream, result.from));
  }

  /** Stops following a stream. */
  unfollow(stream: string): Promise<boolean> {
    this.follows.delete(stream);
    return this.request({ type: "unfollow", stream });
  }

  /** XREADGROUP: new entries (`from` `>`) or this consumer's pending ones. With `block`
   * (milliseconds, 0 = no limit) it waits for new entries like `XREADGROUP BLOCK`, resolving
   * with `[]` on timeout; later requests are answered after it. */
  groupRead(stream: string, group: string, consumer: string, options: { count?: number; from?: string; noack?: boolean; block?: number } = {}): Promise<Entry[]> {
    return this.request({ type: "group_read", stream, group, consumer, ...options });
  }

  /** XACK. */
  ack(stream: string, group: string, ids: string[]): Promise<number> {
    return this.request({ type: "ack", stream, group, ids });
  }

  /** XCLAIM of `ids`. */
  claim(stream: string, group: string, consumer: string, minIdleMs: number, ids: string[]): Promise<Entry[]> {
    return this.request({ type: "claim", stream, group, consumer, min_idle_ms: minIdleMs, ids });
  }

  /** XAUTOCLAIM from `start`. */
  autoClaim(stream: string, group: string, consumer: string, minIdleMs: number, start = "0-0", count?: number): Promise<{ next: string; entries: Entry[]; deleted: string[] }> {
    return this.request({ type: "claim", stream, group, consumer, min_idle_ms: minIdleMs, start, count });
  }

  private open(): void {
    const Ctor = this.options.WebSocket ?? (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
    if (!Ctor) throw new Error("no WebSocket implementation: pass options.WebSocket");
    const socket = new Ctor(this.url, [this.encoding === "msgpack" ? "herald.msgpack" : "herald.json"]);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => void this.restore(socket);
    socket.onmessage = (event: { data: unknown }) => this.receive(event.data);
    socket.onclose = (event: { code: number; reason: string }) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.failPending();
      const willReconnect = !this.closed && this.options.reconnect !== false;
      this.emit("close", { code: event.code, reason: event.reason, willReconnect });
      if (willReconnect) this.schedule();
    };
    socket.onerror = () => {
      // onclose follows and handles it.
    };
  }

  private schedule(): void {
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.initialMs * this.backoff.factor ** this.attempt);
    const delayMs = Math.floor(Math.random() * ceiling);
    this.attempt++;
    this.emit("reconnecting", { attempt: this.attempt, delayMs });
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.closed) this.open();
    }, delayMs);
  }

  /** Restores subscriptions and follows, then sends what was queued meanwhile. */
  private async restore(socket: WebSocket): Promise<void> {
    const reconnect = this.everOpened;
    this.everOpened = true;
    this.attempt = 0;
    const send = (body: Record<string, unknown>) => {
      const id = this.nextId++;
      socket.send(this.encode({ ...body, id }));
      return new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    };
    const restored: Promise<unknown>[] = [];
    if (this.channels.size + this.patterns.size + this.shardChannels.size > 0) {
      restored.push(send({ type: "subscribe", channels: [...this.channels], patterns: [...this.patterns], shard_channels: [...this.shardChannels] }));
    }
    for (const [stream, from] of this.follows) restored.push(send({ type: "follow", stream, from }));
    for (const text of this.outbox.splice(0)) socket.send(text);
    const results = await Promise.allSettled(restored);
    for (const r of results) if (r.status === "rejected") this.emit("error", r.reason as HeraldError);
    this.emit("open", { reconnect });
    for (const resolve of this.openWaiters.splice(0)) resolve();
  }

  private receive(data: unknown): void {
    let message: Record<string, unknown>;
    try {
      if (typeof data === "string") message = JSON.parse(data) as Record<string, unknown>;
      else if (data instanceof ArrayBuffer || data instanceof Uint8Array) message = msgpackDecode(data) as Record<string, unknown>;
      else return;
    } catch {
      return;
    }
    if (message === null || typeof message !== "object") return;
    switch (message.type) {
      case "reply": {
        const error = message.error as { code: string; message: string } | undefined;
        if (message.id === null || message.id === undefined) {
          if (error) this.emit("error", new HeraldError(error.code, error.message));
          return;
        }
        const pending = this.pending.get(message.id as number);
        if (!pending) return;
        this.pending.delete(message.id as number);
        if (error) pending.reject(new HeraldError(error.code, error.message));
        else {
          pending.onResult?.(message.result);
          pending.resolve(message.result);
        }
        return;
      }
      case "entries": {
        const event = message as unknown as EntriesEvent;
        const last = event.entries[event.entries.length - 1];
        if (last && this.follows.has(event.stream)) this.follows.set(event.stream, last.id);
        this.emit("entries", event);
        return;
      }
      case "message":
        this.emit("message", message as unknown as MessageEvent);
        return;
      case "pmessage":
        this.emit("pmessage", message as unknown as PMessageEvent);
        return;
      case "smessage":
        this.emit("smessage", message as unknown as SMessageEvent);
        return;
    }
  }

  private failPending(): void {
    for (const pending of this.pending.values()) pending.reject(new HeraldError("DISCONNECTED", "the connection closed before the reply"));
    this.pending.clear();
  }
}

function normalize(names: Partial<Names> | string | string[]): Names {
  if (typeof names === "string") return { channels: [names], patterns: [], shard_channels: [] };
  if (Array.isArray(names)) return { channels: names, patterns: [], shard_channels: [] };
  return { channels: names.channels ?? [], patterns: names.patterns ?? [], shard_channels: names.shard_channels ?? [] };
}
