/**
 * Typing indicators (§4): a user types in a room until `typingTtlMs` after
 * their last `typing:start`, or until they stop, send, leave or disconnect.
 * Every change publishes the room's whole typing set, so a client that missed
 * an update is corrected by the next.
 */
import type { User } from "../../../shared";
import type { RoomEventBus } from "../../core/bus";
import type { Clock } from "../../core/clock";
import type { RateLimiter } from "../limits/rate-limiter";
import type { TypingStore } from "./typing.store";

export interface TypingServiceOptions {
  store: TypingStore;
  limiter: RateLimiter;
  bus: RoomEventBus;
  clock: Clock;
  /** @default 5000 */
  ttlMs: number;
  onError?: (error: unknown) => void;
}

export interface TypingService {
  /** Marks the user typing; past the typing budget the call is a silent no-op (the ack is still ok). */
  start(user: User, roomId: string): Promise<void>;
  stop(userId: string, roomId: string): Promise<void>;
  /** Cancels pending expiry timers. */
  close(): void;
}

export function createTypingService(options: TypingServiceOptions): TypingService {
  const { store, limiter, bus, clock, ttlMs } = options;
  const timers = new Map<string, NodeJS.Timeout>();
  const keyOf = (roomId: string, userId: string) => `${roomId}\n${userId}`;

  const announce = async (roomId: string) => {
    const users = await store.list(roomId, clock.now());
    await bus.publish({ type: "typing", roomId, users });
  };
  const clearTimer = (key: string) => {
    const timer = timers.get(key);
    if (timer) clearTimeout(timer);
    timers.delete(key);
  };

  const expire = async (roomId: string, userId: string) => {
    timers.delete(keyOf(roomId, userId));
    if (await store.expire(roomId, userId, clock.now())) await announce(roomId);
  };

  return {
    async start(user, roomId) {
      const decision = await limiter.take(user.id, clock.now());
      if (!decision.ok) return;
      const changed = await store.start(roomId, user, clock.now() + ttlMs);
      const key = keyOf(roomId, user.id);
      clearTimer(key);
      const timer = setTimeout(() => {
        expire(roomId, user.id).catch((error) => options.onError?.(error));
      }, ttlMs + 5);
      timer.unref();
      timers.set(key, timer);
      if (changed) await announce(roomId);
    },
    async stop(userId, roomId) {
      clearTimer(keyOf(roomId, userId));
      if (await store.stop(roomId, userId)) await announce(roomId);
    },
    close() {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
    },
  };
}
