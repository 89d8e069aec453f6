/**
 * Every store the core needs, as one bundle: the in-memory bundle for a single
 * node, or the Redis bundle (server/redis/) when `REDIS_URL` is set.
 */
import type { ServerOptions } from "socket.io";
import { createMemoryBus, type RoomEventBus } from "./core/bus";
import { createMemoryMessageStore } from "./features/chat/message.memory";
import type { MessageStore } from "./features/chat/message.store";
import { createMemoryConnectionRegistry, type ConnectionRegistry } from "./features/limits/connection-registry";
import { createMemoryRateLimiter, type RateLimit, type RateLimiter } from "./features/limits/rate-limiter";
import { createMemoryPresenceStore, type PresenceStore } from "./features/rooms/presence.store";
import { createMemoryTypingStore, type TypingStore } from "./features/typing/typing.store";
import { createMemoryReadStore, type MemoryReadStore } from "./features/reads/read.memory";
import type { ReadStore } from "./features/reads/read.store";
import { createMemoryOutbox } from "./features/webhooks/outbox.memory";
import type { OutboxStore } from "./features/webhooks/outbox.store";
import { createMemoryBanStore, type BanStore } from "./features/moderation/ban.store";
import type { NodeDirectory } from "./core/node-directory";

export interface Stores {
  readonly bus: RoomEventBus;
  /** Messages, their changes and their idempotency records. */
  readonly messages: MessageStore;
  /** Read markers and the users' rooms (§9). */
  readonly reads: ReadStore;
  /** Webhook events recorded with the changes (§11); present only with webhooks configured. */
  readonly outbox?: OutboxStore;
  /** Who is kept out of which room (§11). */
  readonly bans: BanStore;
  readonly presence: PresenceStore;
  readonly typing: TypingStore;
  /** The per-user message budget (`RATE_BURST`, `RATE_PER_SEC`). */
  readonly messageLimiter: RateLimiter;
  /** The per-user typing budget, separate from messages. */
  readonly typingLimiter: RateLimiter;
  /** The per-user `room:join` budget (§13). */
  readonly joinLimiter: RateLimiter;
  readonly connections: ConnectionRegistry;
  /** Where each node is, for forwarding Socket.IO requests to the node holding their session; absent on one node. */
  readonly directory?: NodeDirectory;
  /** The Socket.IO adapter that makes cluster-wide Socket.IO operations reach every node; absent on one node. */
  readonly socketAdapter?: ServerOptions["adapter"];
  /** True while the stores can serve (Redis reachable); always true in memory. */
  isReady(): boolean;
  /** Removes what this node holds (its presence, its connections) before it goes away. */
  shutdown(): Promise<void>;
  close(): Promise<void>;
}

/** The stores of record of messages, read state and the webhook outbox, when they are not the bundle's own (§10). */
export type RecordStores = (deps: { bus: RoomEventBus; presence: PresenceStore }) => {
  messages: MessageStore;
  reads: ReadStore;
  outbox?: OutboxStore;
  bans: BanStore;
};

export interface StoreOptions {
  historyMax: number;
  /** How long a `clientMsgId` is remembered. @default 10 min */
  clientMsgIdTtlMs?: number;
  messageLimit: RateLimit;
  typingLimit: RateLimit;
  /** @default 50 a burst, 10 a second */
  joinLimit?: RateLimit;
  /** Messages and read state from elsewhere (PostgreSQL) instead of memory. */
  records?: RecordStores;
  /** Record webhook events with each change (§11). */
  webhooks?: boolean;
}

export function createMemoryStores(options: StoreOptions): Stores {
  const bus = createMemoryBus();
  const presence = createMemoryPresenceStore();
  // The read state and the messages share one room: the author's marker moves as a message is stored.
  let reads: MemoryReadStore | undefined;
  const outbox = options.webhooks ? createMemoryOutbox() : undefined;
  const messages = createMemoryMessageStore({
    bus,
    historyMax: options.historyMax,
    idempotencyTtlMs: options.clientMsgIdTtlMs,
    onAuthored: (message) => reads?.authored(message),
    outbox,
  });
  reads = createMemoryReadStore({
    messages: messages.local,
    members: (roomId) => presence.count(roomId),
  });
  const records = options.records?.({ bus, presence }) ?? { messages, reads, outbox, bans: createMemoryBanStore() };
  return {
    bus,
    ...records,
    presence,
    typing: createMemoryTypingStore(),
    messageLimiter: createMemoryRateLimiter(options.messageLimit),
    typingLimiter: createMemoryRateLimiter(options.typingLimit),
    joinLimiter: createMemoryRateLimiter(options.joinLimit ?? { burst: 50, perSecond: 10 }),
    connections: createMemoryConnectionRegistry(),
    isReady: () => true,
    shutdown: async () => {},
    close: async () => {},
  };
}
