/**
 * The room-event bus: how every node learns what happened in a room, in the
 * order it happened. Messages and their changes are put on it by the message
 * store in the same step that stores them (so delivery order is change order);
 * presence and typing changes are put on it by their services. Each node's
 * local delivery subscribes once and fans events out to its own clients.
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

export type RoomEventListener = (event: RoomEvent) => void;

export interface RoomEventBus {
  /** Delivers `event` to every subscriber on every node. */
  publish(event: RoomEvent): Promise<void>;
  /** Subscribes to every room's events; returns the unsubscribe function. */
  subscribe(listener: RoomEventListener): () => void;
}

/** The bus of a single node: subscribers are called in publish order, asynchronously. */
export function createMemoryBus(): RoomEventBus & { deliver(event: RoomEvent): void } {
  const listeners = new Set<RoomEventListener>();
  const deliver = (event: RoomEvent) => {
    for (const listener of listeners) listener(event);
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
