/**
 * Read state in one node's memory, beside the memory message store it reads
 * (the seq of a message, a room's last seq and newest message). A marker is
 * two positions, the user's own and the public one; the user's rooms are a map
 * from room to when it became theirs.
 */
import { ErrorCode, type Message, type ReadMarker, type RoomSummary, type User } from "../../../shared";
import { HuddleError } from "../../errors";
import { toWire } from "../chat/message-rules";
import type { LocalMessages } from "../chat/message.memory";
import { byActivity, type ReadStore } from "./read.store";

interface Marker {
  user: User;
  readSeq: number;
  readUpTo: string | null;
  publicSeq: number;
  publicUpTo: string | null;
}

export interface MemoryReadOptions {
  messages: LocalMessages;
  /** The room's member count (presence), for the broadcast limit. */
  members(roomId: string): Promise<number>;
}

export interface MemoryReadStore extends ReadStore {
  /** A message was stored: its author's marker (and public position) moves to it, if they have one. */
  authored(message: Message): void;
}

export function createMemoryReadStore(options: MemoryReadOptions): MemoryReadStore {
  const { messages } = options;
  /** roomId → userId → marker. */
  const markers = new Map<string, Map<string, Marker>>();
  /** userId → roomId → when it became one of the user's rooms (insertion order breaks ties). */
  const userRooms = new Map<string, Map<string, number>>();

  const markersOf = (roomId: string) => {
    let room = markers.get(roomId);
    if (!room) markers.set(roomId, (room = new Map()));
    return room;
  };
  const addRoom = (userId: string, roomId: string, now: number) => {
    let rooms = userRooms.get(userId);
    if (!rooms) userRooms.set(userId, (rooms = new Map()));
    if (!rooms.has(roomId)) rooms.set(roomId, now);
  };

  return {
    async enter(roomId, user, now) {
      const room = markersOf(roomId);
      const lastSeq = messages.lastSeq(roomId);
      addRoom(user.id, roomId, now);
      const existing = room.get(user.id);
      if (existing) return { readUpTo: existing.readUpTo, unread: lastSeq - existing.readSeq, first: false };
      const newest = messages.newest(roomId);
      room.set(user.id, {
        user: { id: user.id, name: user.name },
        readSeq: newest?.seq ?? 0,
        readUpTo: newest?.id ?? null,
        publicSeq: 0,
        publicUpTo: null,
      });
      return { readUpTo: newest?.id ?? null, unread: 0, first: true };
    },

    async markRead(roomId, user, upTo, isPrivate, now) {
      const target = messages.message(roomId, upTo);
      if (!target) throw new HuddleError(ErrorCode.NotFound, `upTo: no message ${upTo} in this room`);
      const room = markersOf(roomId);
      let marker = room.get(user.id);
      if (!marker) {
        marker = { user: { id: user.id, name: user.name }, readSeq: 0, readUpTo: null, publicSeq: 0, publicUpTo: null };
        room.set(user.id, marker);
        addRoom(user.id, roomId, now);
      }
      const moved = target.seq > marker.readSeq;
      if (moved) {
        marker.readSeq = target.seq;
        marker.readUpTo = target.id;
      }
      const publicMoved = !isPrivate && target.seq > marker.publicSeq;
      if (publicMoved) {
        marker.publicSeq = target.seq;
        marker.publicUpTo = target.id;
      }
      return {
        readUpTo: marker.readUpTo!,
        readSeq: marker.readSeq,
        unread: messages.lastSeq(roomId) - marker.readSeq,
        moved,
        publicMoved,
        publicUpTo: marker.publicUpTo,
        publicSeq: marker.publicSeq,
        members: await options.members(roomId),
      };
    },

    async reads(roomId, limit) {
      const visible: ReadMarker[] = [];
      for (const marker of markers.get(roomId)?.values() ?? []) {
        if (marker.publicUpTo !== null) {
          visible.push({ user: marker.user, readUpTo: marker.publicUpTo, readSeq: marker.publicSeq });
        }
      }
      return visible.sort((a, b) => b.readSeq - a.readSeq).slice(0, limit);
    },

    async rooms(userId, limit) {
      const listed: { summary: RoomSummary; joinedAt: number }[] = [];
      for (const [roomId, joinedAt] of userRooms.get(userId) ?? []) {
        const marker = markers.get(roomId)?.get(userId);
        const newest = messages.newest(roomId);
        listed.push({
          joinedAt,
          summary: {
            roomId,
            readUpTo: marker?.readUpTo ?? null,
            unread: messages.lastSeq(roomId) - (marker?.readSeq ?? 0),
            lastMessage: newest ? toWire(newest) : null,
          },
        });
      }
      // A stable sort: rooms that became the user's in the same millisecond keep their order, reversed below.
      return listed
        .reverse()
        .sort(byActivity)
        .slice(0, limit)
        .map((r) => r.summary);
    },

    async forget(roomId, userId) {
      markers.get(roomId)?.delete(userId);
      return userRooms.get(userId)?.delete(roomId) ?? false;
    },

    authored(message) {
      const marker = markers.get(message.roomId)?.get(message.user.id);
      if (!marker) return;
      marker.readSeq = marker.publicSeq = message.seq;
      marker.readUpTo = marker.publicUpTo = message.id;
    },
  };
}
