/**
 * Local delivery: the one subscriber of the room-event bus on this node. It
 * hands each event to this node's Socket.IO sockets (one encode per
 * broadcast, through Socket.IO rooms) and to its other listeners: SSE
 * streams, long polls and plain WebSocket clients.
 */
import type { Server } from "socket.io";
import type { RoomEvent, RoomEventBus } from "../core/bus";
import { LAGGING_ROOM } from "./slow-consumers";
import { roomKey } from "./socket/room-keys";

/** A listener that is not a Socket.IO socket: an SSE stream, a long poll, a plain WebSocket. */
export interface RoomListener {
  /** The listener's user, so that a user's own `presence:join` is not sent back to them. */
  readonly userId?: string;
  onEvent(event: RoomEvent): void;
}

export interface LocalDelivery {
  /** Starts sending `roomId`'s events to `listener`; returns the function that stops it. */
  listen(roomId: string, listener: RoomListener): () => void;
  close(): void;
}

// Socket.IO's typed `emit` cannot take a union of event names, and every event here is checked by construction.
type LooseServer = Server<any, any, any, any>;

export function createLocalDelivery(bus: RoomEventBus, io: LooseServer): LocalDelivery {
  const listeners = new Map<string, Set<RoomListener>>();

  const sockets = io.of("/");

  /**
   * The ids of `userId`'s sockets in Socket.IO room `key` on this node. Found by looking at the room's sockets
   * when a user's first connection joins (rare, and O(room)) rather than by a room per user, which every idle
   * socket would pay for in memory. Each socket is in a room named by its id, so the ids work with `except`.
   */
  const socketsOfUser = (key: string, userId: string): string[] => {
    const ids: string[] = [];
    for (const id of sockets.adapter.rooms.get(key) ?? []) {
      if ((sockets.sockets.get(id)?.data as { user?: { id?: string } } | undefined)?.user?.id === userId) ids.push(id);
    }
    return ids;
  };

  const toSockets = (event: RoomEvent) => {
    const key = roomKey(event.roomId);
    const room = io.local.to(key);
    switch (event.type) {
      case "message":
        room.emit("message:new", event.message);
        break;
      case "update":
        room.emit("message:updated", event.message);
        break;
      case "presence":
        if (event.change === "join") {
          // "the room's other sockets": the joiner's own sockets already know.
          room
            .except(socketsOfUser(key, event.user.id))
            .emit("presence:join", { roomId: event.roomId, user: event.user });
        } else {
          room.emit("presence:leave", { roomId: event.roomId, user: event.user });
        }
        break;
      case "typing":
        // Sockets that are behind (./slow-consumers.ts) skip typing updates: ephemeral, and corrected by the next.
        room.except(LAGGING_ROOM).emit("typing:update", { roomId: event.roomId, users: event.users });
        break;
    }
  };

  const unsubscribe = bus.subscribe((event) => {
    toSockets(event);
    const roomListeners = listeners.get(event.roomId);
    if (!roomListeners) return;
    for (const listener of roomListeners) {
      if (event.type === "presence" && event.change === "join" && listener.userId === event.user.id) continue;
      listener.onEvent(event);
    }
  });

  return {
    listen(roomId, listener) {
      let roomListeners = listeners.get(roomId);
      if (!roomListeners) listeners.set(roomId, (roomListeners = new Set()));
      roomListeners.add(listener);
      return () => {
        roomListeners.delete(listener);
        if (roomListeners.size === 0 && listeners.get(roomId) === roomListeners) listeners.delete(roomId);
      };
    },
    close() {
      unsubscribe();
      listeners.clear();
    },
  };
}
