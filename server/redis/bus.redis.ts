/**
 * The room-event bus over Redis sharded pub/sub (§12): one channel a room
 * (`{roomId}:ev`, in the room's slot, so the message scripts publish in the
 * same step as they store) and one a user (their read markers). A node
 * subscribes to a room's channel only while it serves the room, and to a
 * user's while it holds a connection of theirs: a node with no one in a room
 * spends nothing on its traffic. `SSUBSCRIBE` works on a single Redis 7 as on
 * a cluster.
 *
 * Pub/sub forgets what it sends while a subscriber is away. When the
 * subscriber connection comes back (node-redis restores its subscriptions),
 * the bus says so (`onResume`), and the delivery reads what each room it
 * follows missed from the store (../transport/room-order.ts).
 */
import type { RoomEvent, RoomEventBus, RoomEventListener, Via } from "../core/bus";
import { isCluster, type Guard, type Redis } from "./client";
import type { Keys } from "./keys";

/** How long after a cluster node was lost its recovery's node-ready events still bring a catch-up. */
const RECOVERY_WINDOW_MS = 60_000;

export interface RedisBusOptions {
  /** Publishes (any connection not in subscriber mode). */
  client: Redis;
  guard: Guard;
  /** Dedicated to this bus's subscriptions. */
  subscriber: Redis;
  keys: Keys;
  onError(error: unknown, context: string): void;
}

export interface RedisBus extends RoomEventBus {
  /** Starts watching the subscriber connection, and follows the bans (every node hears every ban and lift). */
  start(): void;
  /** The subscriber connection is connected: makes the subscriptions wanted so far. */
  connected(): void;
  close(): Promise<void>;
  /** Channels subscribed now (for tests and metrics). */
  subscribed(): number;
}

export function createRedisBus(options: RedisBusOptions): RedisBus {
  const { client, subscriber, keys, guard } = options;
  const listeners = new Set<RoomEventListener>();
  const resumed = new Set<() => void>();
  /** The channels this node follows, each with its listener (kept while Redis is away, to subscribe again). */
  const wanted = new Map<string, (raw: string) => void>();
  /** Subscriptions made or in flight; a failed one leaves this map (and stays wanted). */
  const channels = new Map<string, Promise<void>>();
  let closed = false;

  const deliver = (event: RoomEvent, via: Via) => {
    for (const listener of listeners) {
      try {
        listener(event, via);
      } catch (error) {
        options.onError(error, "bus listener");
      }
    }
  };
  const onRoom = (raw: string) => decode(raw, "room");
  const onUser = (raw: string) => decode(raw, "user");
  const decode = (raw: string, via: Via) => {
    try {
      deliver(JSON.parse(raw) as RoomEvent, via);
    } catch (error) {
      options.onError(error, "bus decode");
    }
  };

  const subscribe = (channel: string, listener: (raw: string) => void) => {
    let subscribing = channels.get(channel);
    if (!subscribing) {
      subscribing = subscriber.sSubscribe(channel, listener).catch((error) => {
        if (channels.get(channel) === subscribing) channels.delete(channel);
        throw error;
      });
      channels.set(channel, subscribing);
    }
    return subscribing;
  };
  const follow = (channel: string, listener: (raw: string) => void) => {
    wanted.set(channel, listener);
    return subscribe(channel, listener);
  };
  const unfollow = (channel: string, listener: (raw: string) => void) => {
    wanted.delete(channel);
    if (!channels.delete(channel) || closed) return;
    void subscriber.sUnsubscribe(channel, listener).catch((e) => options.onError(e, "unsubscribe"));
  };

  /** When the subscriber last lost a connection (0: not since the last resume, on a single Redis). */
  let lostAt = 0;
  const onLost = () => {
    if (!closed) lostAt = Date.now();
  };
  /** Subscribes what is wanted and not subscribed (failed while Redis was away, or wanted before it came). */
  const subscribeWanted = () => {
    const again = [...wanted].filter(([channel]) => !channels.has(channel));
    return Promise.allSettled(again.map(([channel, listener]) => subscribe(channel, listener)));
  };
  const resume = () => !closed && resumed.forEach((callback) => callback());
  let resumeTimer: NodeJS.Timeout | undefined;
  const onReady = () => {
    // node-redis has restored the subscriptions it held before it reports ready; those that failed while Redis
    // was away are made now. Then say that events may have been missed meanwhile.
    if (closed) return;
    if (!lostAt) return void subscribeWanted();
    if (!isCluster(subscriber)) {
      lostAt = 0;
      return void subscribeWanted().then(resume);
    }
    // A cluster client finds a failed master's replacement in steps (a topology refresh, then a connection to the
    // new master, then the subscriptions moved onto it), each with its own node-ready: every ready soon after a
    // loss brings a catch-up (coalesced), and one more once things have settled.
    if (Date.now() - lostAt > RECOVERY_WINDOW_MS) return void (lostAt = 0);
    clearTimeout(resumeTimer);
    resumeTimer = setTimeout(() => {
      void subscribeWanted().then(() => {
        resume();
        resumeTimer = setTimeout(resume, 2000).unref();
      });
    }, 100).unref();
  };
  // A cluster client reports its nodes' failures and recoveries; a single connection its own.
  const [lostEvent, readyEvent] = isCluster(subscriber) ? ["node-error", "node-ready"] : ["error", "ready"];

  const publish = (channel: string, event: RoomEvent) =>
    guard(() => client.sPublish(channel, JSON.stringify(event))).then(() => undefined);

  return {
    async publish(event) {
      // Bans and lifts go to every node: any node may be asked to let the user in next (its ban cache must know).
      if (event.type === "ban" || event.type === "unban") return publish(keys.moderationEvents, event);
      if (event.type !== "read") return publish(keys.roomEvents(event.roomId), event);
      // A read marker: its user's connections always hear it; the room only when it is public (§9).
      await Promise.all([
        publish(keys.userEvents(event.user.id), event),
        event.public ? publish(keys.roomEvents(event.roomId), event) : undefined,
      ]);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    followRoom: (roomId) => follow(keys.roomEvents(roomId), onRoom),
    unfollowRoom: (roomId) => unfollow(keys.roomEvents(roomId), onRoom),
    followUser: (userId) => follow(keys.userEvents(userId), onUser),
    unfollowUser: (userId) => unfollow(keys.userEvents(userId), onUser),
    onResume: (callback) => void resumed.add(callback),
    subscribed: () => channels.size,
    start() {
      subscriber.on(lostEvent, onLost);
      subscriber.on(readyEvent, onReady);
      wanted.set(keys.moderationEvents, onRoom);
    },
    connected: () => void subscribeWanted(),
    async close() {
      closed = true;
      clearTimeout(resumeTimer);
      subscriber.off(lostEvent, onLost);
      subscriber.off(readyEvent, onReady);
      listeners.clear();
      resumed.clear();
      channels.clear();
      wanted.clear();
    },
  };
}
