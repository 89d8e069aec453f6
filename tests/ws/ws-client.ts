/**
 * A real `ws` client of the plain WebSocket endpoint (§6), with waits that
 * time out naming what was awaited. Frames are parsed as they arrive and kept,
 * so a test can wait for a frame that came before it started waiting.
 */
import WebSocket, { type ClientOptions } from "ws";
import { signToken } from "../helpers/tokens";
import { createWaiters } from "../helpers/waiters";

export type Frame = { type: string; id?: unknown; data?: any };
export type Closed = { code: number; reason: string };

export interface PlainClient {
  readonly ws: WebSocket;
  /** Every frame received so far, in order. */
  readonly frames: Frame[];
  /** Resolves when the connection closes, with the close code and reason the client saw. */
  readonly closed: Promise<Closed>;
  /** Sends an object as JSON, or a string / Buffer as it is. */
  send(frame: unknown): void;
  /** Waits for the next frame matching `match` that no earlier `next` took. */
  next(match: (frame: Frame) => boolean, what: string, timeoutMs?: number): Promise<Frame>;
  /** The next frame of `type` (and matching `where`, if given). */
  event(type: string, where?: (data: any) => boolean, timeoutMs?: number): Promise<any>;
  /** Sends `{type, id, data}` and resolves with the `data` of its ack. */
  request(type: string, data: unknown, id?: string | number): Promise<any>;
  close(): void;
}

const open = new Set<PlainClient>();
let requestCounter = 0;

export interface PlainOptions extends ClientOptions {
  /** Query string parameters; `token` goes in the URL only when given here. */
  query?: Record<string, string>;
  /** @default "/ws" */
  path?: string;
}

/** `ws://` URL of the endpoint of the app at `httpUrl`. */
export function wsUrl(httpUrl: string, query: Record<string, string> = {}, path = "/ws"): string {
  const url = new URL(path, httpUrl.replace(/^http/, "ws"));
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  return url.toString();
}

/** Opens a connection and resolves once the WebSocket is open (before any auth). */
export function openPlain(httpUrl: string, options: PlainOptions = {}): Promise<PlainClient> {
  const { query, path, ...wsOptions } = options;
  const ws = new WebSocket(wsUrl(httpUrl, query, path), wsOptions);
  const frames: Frame[] = [];
  const taken = new Set<Frame>();
  const waiters = createWaiters();
  ws.on("message", (raw, isBinary) => {
    frames.push(isBinary ? { type: "(binary)" } : (JSON.parse(raw.toString()) as Frame));
    waiters.wake();
  });
  const closed = new Promise<Closed>((resolve) => {
    ws.on("close", (code, reason) => {
      open.delete(client);
      resolve({ code, reason: reason.toString() });
    });
  });

  const client: PlainClient = {
    ws,
    frames,
    closed,
    send(frame) {
      ws.send(typeof frame === "string" || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame));
    },
    next(match, what, timeoutMs = 3000) {
      const find = () => {
        const found = frames.find((frame) => !taken.has(frame) && match(frame));
        if (found) taken.add(found);
        return found;
      };
      return waiters.until(find, what, timeoutMs);
    },
    async event(type, where, timeoutMs) {
      const frame = await client.next(
        (f) => f.type === type && (!where || where(f.data)),
        `a "${type}" frame`,
        timeoutMs,
      );
      return frame.data;
    },
    async request(type, data, id = `r${++requestCounter}`) {
      client.send({ type, id, data });
      const ack = await client.next((f) => f.type === "ack" && f.id === id, `the ack of ${type} ${String(id)}`);
      return ack.data;
    },
    close() {
      ws.close();
    },
  };
  open.add(client);

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out waiting for the WebSocket to open")), 5000);
    ws.once("open", () => {
      clearTimeout(timer);
      resolve(client);
    });
    ws.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Opens a connection with `?token=` (a fresh user's unless given) and waits for `session`. */
export async function connectPlain(
  httpUrl: string,
  options: PlainOptions & { token?: string; claims?: Record<string, unknown> } = {},
): Promise<{ client: PlainClient; session: any }> {
  const { token, claims, query, ...rest } = options;
  const client = await openPlain(httpUrl, { ...rest, query: { token: token ?? signToken(claims), v: "1", ...query } });
  const session = await client.event("session");
  return { client, session };
}

/** Resolves with the HTTP status of an upgrade the server refused (rejects if it was accepted). */
export function refusedUpgradeStatus(httpUrl: string, options: PlainOptions = {}): Promise<number> {
  const { query, path, ...wsOptions } = options;
  const ws = new WebSocket(wsUrl(httpUrl, query, path), wsOptions);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out waiting for the upgrade answer")), 5000);
    ws.on("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on("error", () => {});
    ws.on("open", () => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error("the upgrade was accepted, a refusal was expected"));
    });
  });
}

/** Closes every client opened through these helpers. */
export function closeAllPlain(): void {
  for (const client of open) client.ws.terminate();
  open.clear();
}
