/**
 * The core, assembled: the services every transport adapter (Socket.IO,
 * HTTP, SSE, long polling, plain WebSocket) calls, over one set of stores.
 */
import { createTokenVerifier, createDevTokenIssuer, type DevTokenIssuer, type TokenVerifier } from "./auth/tokens";
import type { Config } from "./config";
import type { Clock } from "./core/clock";
import { createChatService, type ChatService } from "./features/chat/chat.service";
import { createRoomsService, type RoomsService } from "./features/rooms/rooms.service";
import { createTypingService, type TypingService } from "./features/typing/typing.service";
import { createReadsService, type ReadsService } from "./features/reads/reads.service";
import { createModerationService, type ModerationService } from "./features/moderation/moderation.service";
import type { Stores } from "./stores";

export interface Services {
  readonly stores: Stores;
  readonly clock: Clock;
  readonly verifier: TokenVerifier;
  /** Present only where dev tokens are enabled. */
  readonly devTokens?: DevTokenIssuer;
  readonly rooms: RoomsService;
  readonly chat: ChatService;
  readonly typing: TypingService;
  readonly reads: ReadsService;
  readonly moderation: ModerationService;
  close(): void;
}

export function createServices(
  config: Config,
  stores: Stores,
  clock: Clock,
  onError: (error: unknown) => void,
  onStored?: () => void,
): Services {
  const typing = createTypingService({
    store: stores.typing,
    limiter: stores.typingLimiter,
    bus: stores.bus,
    clock,
    ttlMs: config.typingTtlMs,
    onError,
  });
  const chat = createChatService({
    messages: stores.messages,
    limiter: stores.messageLimiter,
    typing,
    clock,
    onError,
    onStored,
  });
  const reads = createReadsService({
    store: stores.reads,
    bus: stores.bus,
    clock,
    broadcastMaxMembers: config.readBroadcastMaxMembers,
    onError,
  });
  const moderation = createModerationService({ store: stores.bans, bus: stores.bus, clock });
  const rooms = createRoomsService({
    reads,
    moderation,
    maxRoomsPerConnection: config.maxRoomsPerConnection,
    joinLimiter: stores.joinLimiter,
    presence: stores.presence,
    messages: stores.messages,
    typingStore: stores.typing,
    typing,
    bus: stores.bus,
    clock,
  });
  return {
    stores,
    clock,
    verifier: createTokenVerifier(config.jwt, clock, { onKeySetError: onError }),
    devTokens: config.devTokens ? createDevTokenIssuer(config.jwt, clock) : undefined,
    rooms,
    chat,
    typing,
    reads,
    moderation,
    close: () => {
      typing.close();
      reads.close();
    },
  };
}
