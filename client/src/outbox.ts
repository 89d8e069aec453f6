/**
 * Messages the user sent that the server has not acknowledged yet. Each entry
 * keeps its `clientMsgId` for life, so re-sending it after a reconnect (when
 * the ack may have been lost after the server stored it) can never store it
 * twice: the server answers a repeated id with the first message.
 *
 * This module owns the entries and their status; when to emit is the
 * client's business.
 */
import type { Message } from "../../shared/events";
import type { HuddleClientError } from "./errors";

export type OutboxStatus = "pending" | "sent" | "failed";

/** What the client reports about one outgoing message each time its status changes. */
export interface OutboxEntry {
  readonly clientMsgId: string;
  readonly roomId: string;
  readonly text: string;
  /** The message this one answers, sent with every attempt. */
  readonly replyTo?: string;
  readonly status: OutboxStatus;
  /** With `failed`: why. */
  readonly error?: HuddleClientError;
  /** With `sent`: the message as stored. */
  readonly message?: Message;
  /** Times it has been emitted since it was queued (or last retried). */
  readonly attempts: number;
  readonly createdAt: number;
}

/** What the user asked to send. */
export interface OutboxDraft {
  roomId: string;
  text: string;
  clientMsgId: string;
  replyTo?: string;
}

interface Item {
  entry: OutboxEntry;
  inFlight: boolean;
  resolve(message: Message): void;
  reject(error: HuddleClientError): void;
  promise: Promise<Message>;
}

export interface Outbox {
  add(draft: OutboxDraft, now: number): { entry: OutboxEntry; promise: Promise<Message> };
  get(clientMsgId: string): OutboxEntry | undefined;
  /** Pending entries not currently awaiting an ack, oldest first. */
  ready(): OutboxEntry[];
  /** Every entry still held (pending or failed), oldest first. */
  all(): OutboxEntry[];
  /** Marks an entry as emitted; returns its updated snapshot. */
  dispatched(clientMsgId: string): OutboxEntry | undefined;
  /** The emit ended without an answer (timeout, drop): pending again, to be re-sent. */
  unanswered(clientMsgId: string): OutboxEntry | undefined;
  sent(clientMsgId: string, message: Message): OutboxEntry | undefined;
  failed(clientMsgId: string, error: HuddleClientError): OutboxEntry | undefined;
  /** A failed entry back to pending, with a fresh promise; undefined when it is not failed. */
  retry(clientMsgId: string): { entry: OutboxEntry; promise: Promise<Message> } | undefined;
  discard(clientMsgId: string): boolean;
}

export function createOutbox(): Outbox {
  const items = new Map<string, Item>();

  const makeItem = (entry: OutboxEntry): Item => {
    let resolve!: (message: Message) => void;
    let reject!: (error: HuddleClientError) => void;
    const promise = new Promise<Message>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A caller that ignores the promise must not see an unhandled rejection: failures are also reported as events.
    promise.catch(() => {});
    return { entry, inFlight: false, resolve, reject, promise };
  };

  const update = (clientMsgId: string, patch: Partial<OutboxEntry>, inFlight?: boolean) => {
    const item = items.get(clientMsgId);
    if (!item) return undefined;
    item.entry = { ...item.entry, ...patch };
    if (inFlight !== undefined) item.inFlight = inFlight;
    return item;
  };

  return {
    add({ roomId, text, clientMsgId, replyTo }, now) {
      const existing = items.get(clientMsgId);
      if (existing) return { entry: existing.entry, promise: existing.promise };
      const entry: OutboxEntry = { clientMsgId, roomId, text, status: "pending", attempts: 0, createdAt: now };
      const item = makeItem(replyTo === undefined ? entry : { ...entry, replyTo });
      items.set(clientMsgId, item);
      return { entry: item.entry, promise: item.promise };
    },
    get: (clientMsgId) => items.get(clientMsgId)?.entry,
    ready: () => [...items.values()].filter((i) => i.entry.status === "pending" && !i.inFlight).map((i) => i.entry),
    all: () => [...items.values()].map((i) => i.entry),
    dispatched(clientMsgId) {
      const item = items.get(clientMsgId);
      if (!item) return undefined;
      return update(clientMsgId, { attempts: item.entry.attempts + 1 }, true)?.entry;
    },
    unanswered: (clientMsgId) => update(clientMsgId, {}, false)?.entry,
    sent(clientMsgId, message) {
      const item = update(clientMsgId, { status: "sent", message, error: undefined }, false);
      if (!item) return undefined;
      items.delete(clientMsgId);
      item.resolve(message);
      return item.entry;
    },
    failed(clientMsgId, error) {
      const item = update(clientMsgId, { status: "failed", error }, false);
      if (!item) return undefined;
      item.reject(error);
      return item.entry;
    },
    retry(clientMsgId) {
      const old = items.get(clientMsgId);
      if (!old || old.entry.status !== "failed") return undefined;
      const item = makeItem({ ...old.entry, status: "pending", error: undefined, attempts: 0 });
      items.set(clientMsgId, item);
      return { entry: item.entry, promise: item.promise };
    },
    discard(clientMsgId) {
      const item = items.get(clientMsgId);
      if (!item || item.entry.status !== "failed") return false;
      items.delete(clientMsgId);
      return true;
    },
  };
}

type WebCrypto = { randomUUID?: () => string; getRandomValues?: (array: Uint32Array) => Uint32Array };

/**
 * A fresh `clientMsgId`: 128 random bits. `randomUUID` exists only in secure contexts (https, localhost),
 * `getRandomValues` everywhere.
 */
export function newClientMsgId(): string {
  const c = (globalThis as { crypto?: WebCrypto }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  const words = new Uint32Array(4);
  if (c?.getRandomValues) c.getRandomValues(words);
  else for (let i = 0; i < words.length; i++) words[i] = Math.floor(Math.random() * 0x100000000);
  return [...words].map((w) => w.toString(16).padStart(8, "0")).join("");
}
