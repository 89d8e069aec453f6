/**
 * Real socket.io-client connections with the typed event maps, and waits
 * that always time out with a message naming what was awaited.
 */
import { io, type Socket, type ManagerOptions, type SocketOptions } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "../../shared";
import { signToken } from "./tokens";

export type HuddleClient = Socket<ServerToClientEvents, ClientToServerEvents>;
export type Transport = "websocket" | "polling";

const open = new Set<HuddleClient>();

export interface ClientOptions extends Partial<ManagerOptions & SocketOptions> {
  token?: string;
  /** Extra claims for the generated token (ignored when `token` is given). */
  claims?: Record<string, unknown>;
  transport?: Transport;
}

/** Creates a client without waiting for it to connect. */
export function createClient(url: string, options: ClientOptions = {}): HuddleClient {
  const { token, claims, transport, ...rest } = options;
  const socket: HuddleClient = io(url, {
    auth: { token: token ?? signToken(claims), v: 1 },
    transports: transport ? [transport] : ["websocket"],
    reconnection: false,
    forceNew: true,
    ...rest,
  });
  open.add(socket);
  return socket;
}

/** Creates a client and resolves once it is connected (rejects on connect_error). */
export async function connectClient(url: string, options: ClientOptions = {}): Promise<HuddleClient> {
  const socket = createClient(url, options);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out waiting for connect")), 5000);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("connect_error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  return socket;
}

/** Resolves with the `connect_error` a refused client gets. */
export function connectError(url: string, options: ClientOptions = {}): Promise<Error & { data?: any }> {
  const socket = createClient(url, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timed out waiting for connect_error")), 5000);
    socket.once("connect", () => {
      clearTimeout(timer);
      reject(new Error("connected, but a connect_error was expected"));
    });
    socket.once("connect_error", (error) => {
      clearTimeout(timer);
      socket.close();
      resolve(error);
    });
  });
}

/** Waits for the next `event` (matching `predicate`, if given) on `socket`. */
export function waitForEvent<T = any>(
  socket: { once: Function; on: Function; off: Function },
  event: string,
  options: { timeoutMs?: number; predicate?: (payload: T) => boolean } = {},
): Promise<T> {
  const { timeoutMs = 3000, predicate } = options;
  return new Promise((resolve, reject) => {
    const handler = (payload: T) => {
      if (predicate && !predicate(payload)) return;
      clearTimeout(timer);
      socket.off(event, handler);
      resolve(payload);
    };
    const timer = setTimeout(() => {
      socket.off(event, handler);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    socket.on(event, handler);
  });
}

/** Records every `event` on `socket`; read `.items` later. */
export function collect<T = any>(socket: { on: Function }, event: string): { items: T[] } {
  const sink = { items: [] as T[] };
  socket.on(event, (payload: T) => sink.items.push(payload));
  return sink;
}

/** Resolves after `ms`; use only to prove that something does NOT happen within a window. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true, or fails naming `what`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Closes every client created through these helpers. */
export function closeAllClients(): void {
  for (const socket of open) socket.close();
  open.clear();
}
