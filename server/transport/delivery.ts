/**
 * Local delivery: the one subscriber of the room-event bus on this node. It
 * hands each event to this node's Socket.IO sockets (one encode per
 * broadcast, through Socket.IO rooms) and to its other listeners: SSE
 * streams, long polls and plain WebSocket clients. Read markers (§9) also go
 * to the user's own connections, whatever rooms they are in: for that it keeps
 * the ids of each user's sockets on this node.
 *
 * It tells the bus what this node serves (§12): a room while it has a member,
 * a stream or a poll here (through ./room-order.ts, which also lingers), a
 * user while they have a connection here. A bus that carries each room
 * separately then brings this node only those.
 */
import type { Server, Socket } from "socket.io";
import type { RoomEvent, RoomEventBus, Via } from "../core/bus";
import type { MessageStore } from "../features/chat/message.store";
import { createRoomOrder } from "./room-order";
import { LAGGING_ROOM } from "./slow-consumers";
import { roomKey, roomOfKey } from "./socket/room-keys";
import { readUpdate } from "./ws/ws-frames";

/** A listener that is not a Socket.IO socket: an SSE stream, a long poll, a plain WebSocket. */
export interface RoomListener {
  /** The listener's user, so that a user's own `presence:join` and read markers are not sent back as others'. */
  readonly userId?: string;
  onEvent(event: RoomEvent): void;
}

export interface LocalDelivery {
  /** Starts sending `roomId`'s events to `listener`; returns the function that stops it. */
  listen(roomId: string, listener: RoomListener): () => void;
  /**
   * Resolves once this node follows `roomId` in order from a known position (./room-order.ts): a joiner awaits it
   * after starting to listen and before reading history, so nothing stored meanwhile is missed.
   */
  ready(roomId: string): Promise<void>;
  /** Starts sending the events meant for `userId`'s own connections (read markers) to `listener`. */
  listenUser(userId: string, listener: RoomListener): () => void;
  /** Rooms followed now (served here, or lingering). */
  followed(): number;
  close(): void;
}

// Socket.IO's typed `emit` cannot take a union of event names, and every event here is checked by construction.
type LooseServer = Server<any, any, any, any>;
type ReadEvent = Extract<RoomEvent, { type: "read" }>;

/** Socket ids by user, for the events of a user's own sockets: one id as a string, a Set from the second. */
function createUserIndex() {
  const users = new Map<string, string | Set<string>>();
  return {
    add(userId: string, socketId: string) {
      const held = users.get(userId);
      if (held === undefined) users.set(userId, socketId);
      else if (typeof held === "string") users.set(userId, new Set([held, socketId]));
      else held.add(socketId);
    },
    remove(userId: string, socketId: string) {
      const held = users.get(userId);
      if (held === socketId) users.delete(userId);
      else if (typeof held === "object") {
        held.delete(socketId);
        if (held.size === 1) users.set(userId, held.values().next().value as string);
      }
    },
    of(userId: string): string[] {
      const held = users.get(userId);
      return held === undefined ? [] : typeof held === "string" ? [held] : [...held];
    },
  };
}

export interface DeliveryOptions {
  /** Where a room's starting position and its gaps are read. */
  messages: Pick<MessageStore, "head" | "since" | "after">;
  onError(error: unknown): void;
  /** @see RoomOrderOptions */
  gapWaitMs?: number;
  lingerMs?: number;
  /** A user was banned from a room: take this node's Socket.IO sockets of theirs out of it (§11). */
  onBan?(roomId: string, userId: string): void;
  /** A ban was made or lifted (for the nodes' ban caches). */
  onModeration?(event: Extract<RoomEvent, { type: "ban" | "unban" }>): void;
  /** A message was stored or changed somewhere (webhook events may be due). */
  onChange?: () => void;
}

export function createLocalDelivery(bus: RoomEventBus, io: LooseServer, options: DeliveryOptions): LocalDelivery {
  const listeners = new Map<string, Set<RoomListener>>();
  const userListeners = new Map<string, Set<RoomListener>>();
  const sockets = io.of("/");
  const byUser = createUserIndex();

  // One listener function for every socket (`this` is the socket), as the socket server does.
  function onSocketGone(this: Socket) {
    const userId = (this.data as { user?: { id?: string } } | undefined)?.user?.id;
    if (userId === undefined) return;
    byUser.remove(userId, this.id);
    releaseUser(userId);
  }
  sockets.on("connection", (socket: Socket) => {
    const userId = (socket.data as { user?: { id?: string } } | undefined)?.user?.id;
    if (userId === undefined) return;
    byUser.add(userId, socket.id);
    holdUser(userId);
    socket.on("disconnect", onSocketGone);
  });

  /**
   * The ids of `userId`'s sockets in Socket.IO room `key` on this node. Each socket is in a room named by its id,
   * so the ids work with `except`.
   */
  const socketsOfUserIn = (key: string, userId: string): string[] => {
    const room = sockets.adapter.rooms.get(key);
    return room ? byUser.of(userId).filter((id) => room.has(id)) : [];
  };

  /** A read event as its receivers see it: the user's own marker, or the public position for the others. */
  const ownRead = ({ public: _public, ...own }: ReadEvent): ReadEvent => own;
  const publicRead = (event: ReadEvent): ReadEvent => ({
    type: "read",
    roomId: event.roomId,
    user: event.user,
    readUpTo: event.public!.readUpTo,
    readSeq: event.public!.readSeq,
  });

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
            .except(socketsOfUserIn(key, event.user.id))
            .emit("presence:join", { roomId: event.roomId, user: event.user });
        } else {
          room.emit("presence:leave", { roomId: event.roomId, user: event.user });
        }
        break;
      case "typing":
        // Sockets that are behind (./slow-consumers.ts) skip typing updates: ephemeral, and corrected by the next.
        room.except(LAGGING_ROOM).emit("typing:update", { roomId: event.roomId, users: event.users });
        break;
      case "read":
        // The room's part of a read marker: the position others see (the user's own part comes by user).
        if (event.public) room.except(byUser.of(event.user.id)).emit("read:updated", readUpdate(publicRead(event)));
        break;
      case "ban":
        options.onModeration?.(event);
        options.onBan?.(event.roomId, event.userId);
        break;
      case "unban":
        options.onModeration?.(event);
        break;
    }
  };

  const toListeners = (event: RoomEvent) => {
    if (event.type === "unban") return;
    if (event.type === "ban") {
      // Only the banned user's own streams and connections hear of it (they end, or leave the room).
      for (const listener of [...(listeners.get(event.roomId) ?? [])]) {
        if (listener.userId === event.userId) listener.onEvent(event);
      }
      return;
    }
    if (event.type === "read") {
      if (!event.public) return;
      const shown = publicRead(event);
      for (const listener of listeners.get(event.roomId) ?? []) {
        if (listener.userId !== event.user.id) listener.onEvent(shown);
      }
      return;
    }
    for (const listener of listeners.get(event.roomId) ?? []) {
      if (event.type === "presence" && event.change === "join" && listener.userId === event.user.id) continue;
      listener.onEvent(event);
    }
  };

  /** A read marker's own part: to the user's sockets and other connections on this node, whatever their rooms. */
  const toUser = (event: ReadEvent) => {
    const own = byUser.of(event.user.id);
    if (own.length > 0) io.local.to(own).emit("read:updated", readUpdate(ownRead(event)));
    for (const listener of userListeners.get(event.user.id) ?? []) listener.onEvent(ownRead(event));
  };

  /** How many connections each user has here (sockets and others): the user is followed while there is one. */
  const userRefs = new Map<string, number>();
  const holdUser = (userId: string) => {
    const refs = userRefs.get(userId) ?? 0;
    userRefs.set(userId, refs + 1);
    if (refs === 0) bus.followUser?.(userId).catch(options.onError);
  };
  const releaseUser = (userId: string) => {
    const refs = (userRefs.get(userId) ?? 0) - 1;
    if (refs > 0) return void userRefs.set(userId, refs);
    userRefs.delete(userId);
    bus.unfollowUser?.(userId);
  };

  const order = createRoomOrder({
    subscribe: bus.followRoom && ((roomId) => bus.followRoom!(roomId)),
    unsubscribe: bus.unfollowRoom && ((roomId) => bus.unfollowRoom!(roomId)),
    messages: options.messages,
    deliver(event) {
      toSockets(event);
      toListeners(event);
    },
    gapWaitMs: options.gapWaitMs,
    lingerMs: options.lingerMs,
    onError: options.onError,
  });
  const unsubscribe = bus.subscribe((event, via: Via) => {
    if (event.type === "read" && via === "user") return toUser(event);
    if (event.type === "message" || event.type === "update") options.onChange?.();
    order.push(event);
  });
  bus.onResume?.(() => order.catchUp());

  // A room is followed while this node serves it: Socket.IO members (the adapter tells when a room's first socket
  // joins and its last leaves), and other listeners (counted below).
  sockets.adapter.on("create-room", (key: string) => {
    const roomId = roomOfKey(key);
    if (roomId !== undefined) void order.follow(roomId);
  });
  sockets.adapter.on("delete-room", (key: string) => {
    const roomId = roomOfKey(key);
    if (roomId !== undefined) order.unfollow(roomId);
  });

  const add = (map: Map<string, Set<RoomListener>>, key: string, listener: RoomListener, onFirst?: () => void) => {
    let set = map.get(key);
    if (!set) {
      map.set(key, (set = new Set()));
      onFirst?.();
    }
    set.add(listener);
    return () => {
      if (!set.delete(listener)) return;
      if (set.size === 0 && map.get(key) === set) {
        map.delete(key);
        if (map === listeners) order.unfollow(key);
      }
    };
  };

  return {
    listen: (roomId, listener) => add(listeners, roomId, listener, () => void order.follow(roomId)),
    listenUser(userId, listener) {
      holdUser(userId);
      const stop = add(userListeners, userId, listener);
      let held = true;
      return () => {
        stop();
        if (held) releaseUser(userId);
        held = false;
      };
    },
    ready: (roomId) => order.ready(roomId),
    followed: () => order.followed(),
    close() {
      unsubscribe();
      order.close();
      listeners.clear();
      userListeners.clear();
    },
  };
}
