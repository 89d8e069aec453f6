/**
 * The typed event maps of protocol v1, in Socket.IO's four-generic shape.
 * A client flips the first two:
 *
 * @example
 * import { io, Socket } from "socket.io-client";
 * const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { auth: { token, v: 1 } });
 */
import type { ErrorCode, PROTOCOL_REVISION } from "./protocol";
import type {
  DeletePayload,
  EditPayload,
  HistoryPayload,
  JoinPayload,
  LeavePayload,
  ReactionPayload,
  ReadPayload,
  ReadsPayload,
  RoomsListPayload,
  SendPayload,
  TypingPayload,
} from "./payloads";

export type User = { id: string; name: string };

export type Message = {
  /** Opaque, unique in its room; order is the server's. It is the position of the message's creation. */
  id: string;
  roomId: string;
  user: User;
  /** "" for a deleted message. */
  text: string;
  /** Server time, ms since epoch. */
  ts: number;
  /** Echoed when the sender gave one. */
  clientMsgId?: string;
  /** (r2) 1 for a room's first message, then +1 for each message: no gaps, never reused. Compare it to order messages. */
  seq: number;
  /** (r2) The position of the message's latest change; equals `id` until it changes. */
  rev: string;
  /** (r2) Id of the message this one answers (a message of the same room). */
  replyTo?: string;
  /** (r2) When the text was last edited, ms since epoch. */
  editedAt?: number;
  /** (r2) A deleted message (a tombstone): text "", no reactions, no editedAt or replyTo. */
  deleted?: true;
  /** (r2) Absent (or empty) when none; in order of first use. */
  reactions?: Reaction[];
};

/** (r2) One emoji on a message: how many reacted, and the first 20 of them (oldest first). */
export type Reaction = { emoji: string; count: number; userIds: string[] };

/** (r2) One of the user's rooms, as `rooms:list` answers it. */
export type RoomSummary = { roomId: string; readUpTo: string | null; unread: number; lastMessage: Message | null };

/** (r2) A user's public read position in a room: everything up to `readUpTo` (seq `readSeq`) is seen. */
export type ReadMarker = { user: User; readUpTo: string; readSeq: number };

/** (r2) A user kept out of a room until `until` (ms since epoch), or for good when null. */
export type Ban = { roomId: string; userId: string; until: number | null; reason?: string };

export type WireError = { code: ErrorCode; message: string; retryAfterMs?: number };
export type Ok<T extends object = {}> = { ok: true } & T;
export type Err = { ok: false; error: WireError };
export type Ack<T extends object = {}> = Ok<T> | Err;
export type AckCallback<T extends object = {}> = (response: Ack<T>) => void;

export type JoinResult = {
  roomId: string;
  members: User[];
  typing: User[];
  /** Without `since`: the latest 50. With `since`: every message after it (oldest first), or the latest 50 when `resumed` is false. */
  history: Message[];
  resumed: boolean;
  /** (r2) With `since`: messages at or before it that changed after it, in change order, in their current state. */
  updates: Message[];
  /** (r2) The user's read marker in the room: a message id, or null when nothing is read yet. */
  readUpTo: string | null;
  /** (r2) Messages after the marker. */
  unread: number;
};
export type SendResult = { message: Message };
export type HistoryResult = { messages: Message[]; more: boolean };
export type ReadResult = { readUpTo: string; unread: number };
export type ReadsResult = { reads: ReadMarker[] };
export type RoomsResult = { rooms: RoomSummary[] };

/** What each client → server event answers on success. */
export interface AckResults {
  "room:join": JoinResult;
  "room:leave": {};
  "message:send": SendResult;
  "typing:start": {};
  "typing:stop": {};
  "room:history": HistoryResult;
  "message:edit": SendResult;
  "message:delete": SendResult;
  "reaction:add": SendResult;
  "reaction:remove": SendResult;
  "room:read": ReadResult;
  "room:reads": ReadsResult;
  "rooms:list": RoomsResult;
}

export interface ClientToServerEvents {
  "room:join": (payload: JoinPayload, ack: AckCallback<JoinResult>) => void;
  "room:leave": (payload: LeavePayload, ack: AckCallback) => void;
  "message:send": (payload: SendPayload, ack: AckCallback<SendResult>) => void;
  "typing:start": (payload: TypingPayload, ack: AckCallback) => void;
  "typing:stop": (payload: TypingPayload, ack: AckCallback) => void;
  "room:history": (payload: HistoryPayload, ack: AckCallback<HistoryResult>) => void;
  "message:edit": (payload: EditPayload, ack: AckCallback<SendResult>) => void;
  "message:delete": (payload: DeletePayload, ack: AckCallback<SendResult>) => void;
  "reaction:add": (payload: ReactionPayload, ack: AckCallback<SendResult>) => void;
  "reaction:remove": (payload: ReactionPayload, ack: AckCallback<SendResult>) => void;
  "room:read": (payload: ReadPayload, ack: AckCallback<ReadResult>) => void;
  "room:reads": (payload: ReadsPayload, ack: AckCallback<ReadsResult>) => void;
  "rooms:list": (payload: RoomsListPayload, ack: AckCallback<RoomsResult>) => void;
}

export type SessionInfo = {
  user: User;
  nodeId: string;
  protocol: 1;
  /** (r2) The revision of protocol v1 the server serves. */
  revision: typeof PROTOCOL_REVISION;
  limits: { maxMessageLength: number; typingTtlMs: number };
};
export type PresenceEvent = { roomId: string; user: User };
export type TypingUpdate = { roomId: string; users: User[] };
/** (r2) A read marker moved: always to the user's own sockets; to the room's others too for a public marker. */
export type ReadUpdate = { roomId: string; user: User; readUpTo: string; readSeq: number };
/** (r2) The socket was taken out of the room. */
export type RoomRemoved = { roomId: string; reason: "banned" };

export interface ServerToClientEvents {
  session: (info: SessionInfo) => void;
  "message:new": (message: Message) => void;
  "presence:join": (event: PresenceEvent) => void;
  "presence:leave": (event: PresenceEvent) => void;
  "typing:update": (update: TypingUpdate) => void;
  "session:expired": (payload: Record<string, never>) => void;
  "message:updated": (message: Message) => void;
  "read:updated": (update: ReadUpdate) => void;
  "room:removed": (event: RoomRemoved) => void;
}

/** Huddle nodes talk to each other through their own room-event bus, not Socket.IO's server-side emits. */
export interface InterServerEvents {}

/** What the server keeps on each socket after the handshake. */
export interface SocketData {
  user: User;
  /** Room ids (or `prefix*`) the token allows; null means every room. */
  rooms: readonly string[] | null;
  /** Token expiry, seconds since epoch, when the token has one. */
  exp?: number;
}
