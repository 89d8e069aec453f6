/**
 * The calls of read state (§9): mark a room read, the room's public markers,
 * and the user's rooms. Marking read and the markers need the room joined on
 * the live connection (the server answers `not_joined` otherwise); the list
 * of rooms needs only a connection. All are safe to repeat: a marker never
 * moves back, so a `markRead` sent twice, or late, changes nothing.
 */
import type { ReadMarker, ReadResult, RoomSummary } from "../../shared/events";
import type { Request } from "./request";
import type { HuddleClient } from "./types";

export type ReadCalls = Pick<HuddleClient, "markRead" | "reads" | "listRooms">;

export interface ReadCallsOptions {
  request: Request;
  /** Resolves once `roomId` is joined on the live connection; rejects when it is not wanted or cannot be. */
  inRoom(roomId: string): Promise<void>;
  /** Resolves once connected and in sync. */
  whenConnected(): Promise<void>;
}

export function createReadCalls({ request, inRoom, whenConnected }: ReadCallsOptions): ReadCalls {
  return {
    async markRead(roomId, upTo, options = {}): Promise<ReadResult> {
      await inRoom(roomId);
      const payload = options.private ? { roomId, upTo, private: true } : { roomId, upTo };
      const { readUpTo, unread } = await request("room:read", payload);
      return { readUpTo, unread };
    },
    async reads(roomId): Promise<ReadMarker[]> {
      await inRoom(roomId);
      return (await request("room:reads", { roomId })).reads;
    },
    async listRooms(): Promise<RoomSummary[]> {
      await whenConnected();
      return (await request("rooms:list", {})).rooms;
    },
  };
}
