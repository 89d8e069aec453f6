/**
 * The outbox of a single node without Redis or PostgreSQL: events wait in
 * memory, per room in change order, and are lost with the process (§11 says
 * so; the README too). Same contract as the durable ones otherwise.
 */
import type { FailedEvent, OutboxEntry, OutboxStore } from "./outbox.store";
import type { WebhookEvent } from "./webhook-event";

interface Pending {
  event: WebhookEvent;
  attempts: number;
  firstAttemptAt?: number;
  nextAt: number;
  leaseUntil: number;
}

export interface MemoryOutbox extends OutboxStore {
  /** Records an event, in the same synchronous step as its change. */
  record(event: WebhookEvent): void;
}

/** Failed events kept in memory, newest last. */
const MAX_FAILED = 10_000;

export function createMemoryOutbox(onRecorded?: () => void): MemoryOutbox {
  const rooms = new Map<string, Pending[]>();
  const failedEvents: FailedEvent[] = [];

  const head = (handle: string) => {
    const queue = rooms.get(handle);
    return { queue, pending: queue?.[0] };
  };
  const next = (handle: string) => {
    const queue = rooms.get(handle);
    queue?.shift();
    if (queue && queue.length === 0) rooms.delete(handle);
  };

  return {
    record(event) {
      let queue = rooms.get(event.roomId);
      if (!queue) rooms.set(event.roomId, (queue = []));
      queue.push({ event, attempts: 0, nextAt: 0, leaseUntil: 0 });
      onRecorded?.();
    },
    async claim(_nodeId, now, limit, leaseMs) {
      const claimed: OutboxEntry[] = [];
      for (const [roomId, queue] of rooms) {
        if (claimed.length >= limit) break;
        const pending = queue[0]!;
        if (pending.nextAt > now || pending.leaseUntil > now) continue;
        pending.leaseUntil = now + leaseMs;
        claimed.push({
          event: pending.event,
          attempts: pending.attempts,
          firstAttemptAt: pending.firstAttemptAt,
          handle: roomId,
        });
      }
      return claimed;
    },
    async delivered(entry) {
      if (head(entry.handle).pending?.event.id === entry.event.id) next(entry.handle);
    },
    async retry(entry, nextAt, _status, _error, now) {
      const { pending } = head(entry.handle);
      if (pending?.event.id !== entry.event.id) return;
      pending.attempts++;
      pending.firstAttemptAt ??= now;
      pending.nextAt = nextAt;
      pending.leaseUntil = 0;
    },
    async exhausted(entry, status, error, now) {
      const { pending } = head(entry.handle);
      if (pending?.event.id !== entry.event.id) return;
      failedEvents.push({
        event: entry.event,
        attempts: pending.attempts + 1,
        lastStatus: status,
        lastError: error,
        failedAt: now,
      });
      if (failedEvents.length > MAX_FAILED) failedEvents.shift();
      next(entry.handle);
    },
    async stats() {
      let queued = 0;
      let oldestAt: number | null = null;
      for (const queue of rooms.values()) {
        queued += queue.length;
        const at = queue[0]!.event.at;
        if (oldestAt === null || at < oldestAt) oldestAt = at;
      }
      return { queued, oldestAt, failed: failedEvents.length };
    },
    async failed(limit) {
      return failedEvents.slice(-limit).reverse();
    },
  };
}
