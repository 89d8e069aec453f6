/**
 * Small helpers shared by the protocol tests: acks with a timeout that names
 * the event, joining with an assertion, hand-made tokens (for the refusals
 * jsonwebtoken will not sign), and a raw Engine.IO v4 WebSocket for the
 * packets socket.io-client never sends.
 */
import { createHmac } from "node:crypto";
import WebSocket from "ws";
import type { Ack, AckResults, ClientEventName, JoinResult, Message, SessionInfo } from "../../shared";
import { createClient, waitForEvent, type ClientOptions, type HuddleClient } from "../helpers/clients";
import { TEST_SECRET } from "../helpers/tokens";
import { createWaiters } from "../helpers/waiters";

type Emitter = { emit: Function } & Pick<HuddleClient, "on" | "off" | "once">;

/** Emits `event` with `args` and an ack callback; resolves with the ack or fails naming the event. */
export function request<E extends ClientEventName>(
  socket: Emitter,
  event: E,
  payload: unknown,
  timeoutMs?: number,
): Promise<Ack<AckResults[E]>>;
export function request(socket: Emitter, event: string, payload?: unknown, timeoutMs?: number): Promise<any>;
export function request(socket: Emitter, event: string, payload?: unknown, timeoutMs = 3000): Promise<any> {
  return requestArgs(socket, event, [payload], timeoutMs);
}

/** Like `request`, with any argument list before the ack (an empty one sends no payload at all). */
export function requestArgs(socket: Emitter, event: string, args: unknown[], timeoutMs = 3000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for the ack of "${event}"`)),
      timeoutMs,
    );
    socket.emit(event, ...args, (response: unknown) => {
      clearTimeout(timer);
      resolve(response);
    });
  });
}

/** Joins `roomId` and fails unless the join is acknowledged ok. */
export async function join(socket: Emitter, roomId: string, since?: string): Promise<JoinResult> {
  const ack = await request(socket, "room:join", since === undefined ? { roomId } : { roomId, since });
  if (!ack.ok) throw new Error(`room:join ${roomId} failed: ${JSON.stringify(ack.error)}`);
  return ack;
}

/** Sends a message and fails unless it is acknowledged ok. */
export async function send(socket: Emitter, roomId: string, text: string, clientMsgId?: string): Promise<Message> {
  const ack = await request(
    socket,
    "message:send",
    clientMsgId === undefined ? { roomId, text } : { roomId, text, clientMsgId },
  );
  if (!ack.ok) throw new Error(`message:send to ${roomId} failed: ${JSON.stringify(ack.error)}`);
  return ack.message;
}

/** The whole history of a room as `socket` (which must have joined) sees it, oldest first. */
export async function fullHistory(socket: Emitter, roomId: string): Promise<Message[]> {
  const all: Message[] = [];
  let before: string | undefined;
  for (;;) {
    const ack = await request(
      socket,
      "room:history",
      before === undefined ? { roomId, limit: 100 } : { roomId, before, limit: 100 },
    );
    if (!ack.ok) throw new Error(`room:history ${roomId} failed: ${JSON.stringify(ack.error)}`);
    all.unshift(...ack.messages);
    if (!ack.more || ack.messages.length === 0) return all;
    before = ack.messages[0]!.id;
  }
}

/** An ack of `bad_request` (or another code), whatever its message. */
export const refusedWith = (code: string) => ({ ok: false, error: { code, message: expect.any(String) } });

let roomCounter = 0;
/** A fresh room id per call, so tests never share rooms by accident. */
export const uniqueRoom = (prefix = "room") => `${prefix}-${++roomCounter}-${Math.random().toString(36).slice(2, 8)}`;

const b64url = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** A JWT assembled by hand: any header, any payload, HMAC-signed with `secret` (or unsigned for `alg: none`). */
export function handMadeToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  secret: string | Buffer = TEST_SECRET,
): string {
  const head = `${b64url(header)}.${b64url(payload)}`;
  if (header.alg === "none") return `${head}.`;
  const hash = header.alg === "HS512" ? "sha512" : header.alg === "HS384" ? "sha384" : "sha256";
  return `${head}.${createHmac(hash, secret).update(head).digest("base64url")}`;
}

export const nowSec = () => Math.floor(Date.now() / 1000);

/**
 * A raw Engine.IO v4 WebSocket that speaks Socket.IO packets as text, for what
 * socket.io-client never sends (a namespace disconnect on a live transport,
 * reserved event names, broken packets).
 */
export interface RawSocket {
  readonly frames: string[];
  send(frame: string): void;
  /** Waits for a frame matching `predicate` among the frames from index `from` on (received already or later). */
  next(predicate: (frame: string) => boolean, what: string, from?: number, timeoutMs?: number): Promise<string>;
  readonly closed: Promise<number>;
  close(): void;
}

export async function openRaw(baseUrl: string): Promise<RawSocket> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
  const frames: string[] = [];
  const waiters = createWaiters();
  const closed = new Promise<number>((resolve) => ws.on("close", (code) => resolve(code)));
  ws.on("message", (data) => {
    const frame = data.toString();
    // Answer the engine's heartbeat so a slow test is not dropped.
    if (frame === "2") ws.send("3");
    frames.push(frame);
    waiters.wake();
  });
  ws.on("error", () => {});
  const raw: RawSocket = {
    frames,
    send: (frame) => ws.send(frame),
    closed,
    close: () => ws.close(),
    next(predicate, what, from = 0, timeoutMs = 3000) {
      let seen = from;
      const find = () => {
        for (; seen < frames.length; seen++) if (predicate(frames[seen]!)) return frames[seen]!;
        return undefined;
      };
      return waiters.until(find, `raw frame: ${what}`, timeoutMs);
    },
  };
  await raw.next((f) => f.startsWith("0{"), "engine.io open packet");
  return raw;
}

/** Connects and resolves once the `session` event arrived (listened for before connecting, so polling cannot outrun it). */
export async function connectSession(
  url: string,
  options: ClientOptions = {},
): Promise<{ socket: HuddleClient; session: SessionInfo }> {
  const socket = createClient(url, options);
  const session = waitForEvent<SessionInfo>(socket, "session", { timeoutMs: 5000 });
  const failed = new Promise<never>((_, reject) => socket.once("connect_error", reject));
  return { socket, session: await Promise.race([session, failed]) };
}

/** Emits without the typed event map and without an ack: for payloads and events the protocol does not allow. */
export function emitLoose(socket: HuddleClient, event: string, ...args: unknown[]): void {
  (socket as unknown as { emit(event: string, ...args: unknown[]): void }).emit(event, ...args);
}
