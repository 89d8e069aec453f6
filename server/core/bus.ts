/**
 * The room-event bus: how the nodes that serve a room learn what happened in
 * it. Messages and their changes are put on it by the message store as it
 * stores them; presence, typing, read markers and bans by their services.
 * Each node's local delivery subscribes once and fans events out to its own
 * clients. A bus may carry a room's events only to the nodes that follow the
 * room (Redis: one sharded channel a room), and a user's own events only to
 * the nodes that follow the user (their read markers, §9).
 */
import type { Message, User } from "../../shared";

export type RoomEvent =
  | { type: "message"; roomId: string; message: Message }
  /** An edit, a delete or a reaction: the message in its new state; its `rev` is the change's position. */
  | { type: "update"; roomId: string; message: Message }
  | { type: "presence"; roomId: string; change: "join" | "leave"; user: User }
  /**
   * A read marker moved (§9): `readUpTo`/`readSeq` for the user's own sockets; `public`, when the position
   * others see moved too and the room is small enough to be told, for the room's other sockets.
   */
  | { type: "read"; roomId: string; user: User; readUpTo: string; readSeq: number; public?: ReadPosition }
  /** A user was banned from the room (§11): every node takes the user's connections out of it. */
  | { type: "ban"; roomId: string; userId: string; until: number | null; reason?: string }
  /** A ban was lifted. */
  | { type: "unban"; roomId: string; userId: string }
  | { type: "typing"; roomId: string; users: User[] };

export type ReadPosition = { readUpTo: string; readSeq: number };

/**
 * How an event reached this node: on its room's channel, or on its user's (a read marker's own part goes to
 * the user's connections, its public part to the room's).
 */
export type Via = "room" | "user";

export type RoomEventListener = (event: RoomEvent, via: Via) => void;

export interface RoomEventBus {
  /** Delivers `event` to the subscribers of every node that follows its room (and, for a read marker, its user). */
  publish(event: RoomEvent): Promise<void>;
  /** Subscribes to the events of the rooms and users this node follows; returns the unsubscribe function. */
  subscribe(listener: RoomEventListener): () => void;
  /** Starts receiving `roomId`'s events; resolves once they flow. A bus that carries everything everywhere omits it. */
  followRoom?(roomId: string): Promise<void>;
  unfollowRoom?(roomId: string): void;
  /** Starts receiving `userId`'s own events. */
  followUser?(userId: string): Promise<void>;
  unfollowUser?(userId: string): void;
  /** Called after the bus lost its subscriptions and got them back: what was published meanwhile is gone. */
  onResume?(callback: () => void): void;
}

/** The bus of a single node: subscribers are called in publish order, at once. */
export function createMemoryBus(): RoomEventBus & { deliver(event: RoomEvent): void } {
  const listeners = new Set<RoomEventListener>();
  const deliver = (event: RoomEvent) => {
    for (const listener of listeners) {
      listener(event, "room");
      if (event.type === "read") listener(event, "user");
    }
  };
  return {
    deliver,
    async publish(event) {
      deliver(event);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
