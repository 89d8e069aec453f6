/**
 * The room-event bus over Redis pub/sub: one channel, a dedicated subscriber
 * connection per node, every event handed to this node's local delivery in
 * channel order. Messages and their changes are published by the message
 * store's scripts themselves (messages.redis.ts); presence and typing changes by `publish`.
 *
 * Pub/sub forgets what it sends while a subscriber is away, and a client
 * library that does not restore its subscriptions after a reconnection loses
 * everything silently (socket.io#4845). node-redis resubscribes on
 * reconnection; on top of that, when the subscriber comes back this bus reads
 * each room it has delivered from up to the room's newest change, so a
 * message or change stored by another node while this one was not listening
 * still reaches this node's clients, once and in order.
 */
import type { RoomEvent, RoomEventBus, RoomEventListener } from "../core/bus";
import { comparePositions, formatPosition, type Position } from "../core/position";
import { eventPosition, missedAsEvents } from "../features/chat/missed";
import type { Missed } from "../features/chat/message.store";
import type { Guard, Redis } from "./client";

export interface RedisBusOptions {
  /** Publishes (any connection that is not in subscriber mode). */
  client: Redis;
  guard: Guard;
  /** Dedicated to this bus's subscription. */
  subscriber: Redis;
  channel: string;
  /** What changed in a room after a position (the message store's `since`), or null when it cannot say. */
  readAfter(roomId: string, position: string, max: number): Promise<Missed | null>;
  onError(error: unknown, context: string): void;
  /** Rooms whose last delivered id is remembered for catching up. @default 10000 */
  maxTrackedRooms?: number;
}

export interface RedisBus extends RoomEventBus {
  /** Subscribes; resolves once Redis confirmed the subscription. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Changes read per room when catching up; a longer gap is left to clients resuming with `since`. */
const CATCH_UP_MAX = 1000;
const CATCH_UP_ATTEMPTS = 25;
const CATCH_UP_RETRY_MS = 200;

export function createRedisBus(options: RedisBusOptions): RedisBus {
  const { client, subscriber, channel, guard } = options;
  const maxTracked = options.maxTrackedRooms ?? 10_000;
  const listeners = new Set<RoomEventListener>();
  /** The newest position delivered per room, least recently used first. */
  const delivered = new Map<string, Position>();
  let held: RoomEvent[] | undefined;
  /** The subscription dropped and has not been caught up since. */
  let lost = false;
  let started = false;
  let closed = false;

  const deliver = (event: RoomEvent) => {
    if (event.type === "message" || event.type === "update") {
      const position = eventPosition(event);
      if (!position) return;
      // The newest position seen per room, to catch up from after a lost subscription. Nothing is dropped here:
      // with PostgreSQL a room's events can arrive out of order, and the delivery orders and dedupes them
      // (../transport/room-order.ts).
      const last = delivered.get(event.roomId);
      delivered.delete(event.roomId);
      delivered.set(event.roomId, last && comparePositions(position, last) < 0 ? last : position);
      if (delivered.size > maxTracked) delivered.delete(delivered.keys().next().value!);
    }
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        options.onError(error, "bus listener");
      }
    }
  };

  const onRaw = (raw: string) => {
    let event: RoomEvent;
    try {
      event = JSON.parse(raw) as RoomEvent;
    } catch (error) {
      return options.onError(error, "bus decode");
    }
    if (held) held.push(event);
    else deliver(event);
  };

  /** The subscription dropped: hold live events from now until the catch-up read is done. */
  const onLost = () => {
    if (!started || closed) return;
    lost = true;
    held ??= [];
  };

  const release = () => {
    const pending = held ?? [];
    held = undefined;
    for (const event of pending) deliver(event);
  };

  /**
   * Delivers what was stored while the subscription was down, then what was
   * held meanwhile. The command connection may come back a little after the
   * subscriber: failed reads are retried for a few seconds before giving up
   * (clients then fill any gap by resuming with `since`).
   */
  const catchUp = async (attempt = 1): Promise<void> => {
    const rooms = [...delivered.entries()];
    const reads = await Promise.allSettled(
      rooms.map(([roomId, last]) => options.readAfter(roomId, formatPosition(last), CATCH_UP_MAX)),
    );
    let failed: unknown;
    reads.forEach((read, i) => {
      if (read.status === "rejected") return void (failed = read.reason);
      // Null: too much happened (or Redis lost it); clients fill their gap by resuming with `since`.
      if (read.value) for (const event of missedAsEvents(rooms[i]![0], read.value)) deliver(event);
    });
    // Lost again meanwhile: keep holding until the next catch-up.
    if (lost || closed) return;
    if (failed !== undefined && attempt < CATCH_UP_ATTEMPTS) {
      await new Promise((resolve) => setTimeout(resolve, CATCH_UP_RETRY_MS).unref());
      return catchUp(attempt + 1);
    }
    if (failed !== undefined) options.onError(failed, "bus catch-up");
    release();
  };

  const onReady = () => {
    // node-redis has restored the subscription before it reports ready.
    if (!started || closed || !lost) return;
    lost = false;
    catchUp().catch((error) => {
      options.onError(error, "bus catch-up");
      if (!lost) release();
    });
  };

  return {
    async publish(event) {
      await guard(() => client.publish(channel, JSON.stringify(event)));
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async start() {
      if (started) return;
      await subscriber.subscribe(channel, onRaw);
      subscriber.on("error", onLost);
      subscriber.on("ready", onReady);
      started = true;
    },
    async close() {
      closed = true;
      subscriber.off("error", onLost);
      subscriber.off("ready", onReady);
      listeners.clear();
      if (subscriber.isReady) await subscriber.unsubscribe(channel, onRaw).catch(() => {});
    },
  };
}
