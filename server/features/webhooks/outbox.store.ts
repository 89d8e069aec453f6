/**
 * The durable outbox of webhook events (§11): events are recorded by the
 * message store in the same step as the change (a transaction, a script, or
 * one synchronous step in memory), and delivered from here. Only the oldest
 * pending event of a room can be claimed, and a claim is a lease held by one
 * node: a room's events go one at a time, in change order, by one node at a
 * time; a node that dies lets its lease run out and another node goes on.
 */
import type { WebhookEvent } from "./webhook-event";

/** A claimed event, with what its deliveries so far have been. */
export interface OutboxEntry {
  event: WebhookEvent;
  /** Failed attempts so far. */
  attempts: number;
  /** When the first attempt was made (ms), or undefined before it. */
  firstAttemptAt?: number;
  /** An opaque handle the store needs to settle this claim. */
  handle: string;
}

export interface FailedEvent {
  event: WebhookEvent;
  attempts: number;
  /** The last answer's status, or 0 for no answer (timeout, refused connection). */
  lastStatus: number;
  lastError?: string;
  failedAt: number;
}

export interface OutboxStats {
  /** Events not delivered yet (failed ones not included). */
  queued: number;
  /** When the oldest queued event was recorded (ms), or null. */
  oldestAt: number | null;
  /** Events that exhausted their retries and are kept. */
  failed: number;
}

export interface OutboxStore {
  /** Claims up to `limit` due events, at most the oldest one of each room, for `leaseMs`. */
  claim(nodeId: string, now: number, limit: number, leaseMs: number): Promise<OutboxEntry[]>;
  /** The event was delivered: it leaves the outbox, and the room's next event may go. */
  delivered(entry: OutboxEntry): Promise<void>;
  /** The attempt failed: try again at `nextAt`. */
  retry(entry: OutboxEntry, nextAt: number, status: number, error: string | undefined, now: number): Promise<void>;
  /** Retries are exhausted: keep it aside (listed by `failed`); the room's next event may go. */
  exhausted(entry: OutboxEntry, status: number, error: string | undefined, now: number): Promise<void>;
  stats(): Promise<OutboxStats>;
  /** The events that exhausted their retries, newest first. */
  failed(limit: number): Promise<FailedEvent[]>;
}
