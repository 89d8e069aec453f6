/**
 * The typed event maps of protocol v1, in Socket.IO's four-generic shape.
 * A client flips the first two:
 *
 * @example
 * import { io, Socket } from "socket.io-client";
 * const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { auth: { token, v: 1 } });
 */
import type { ErrorCode } from "./protocol";
import type { HistoryPayload, JoinPayload, LeavePayload, SendPayload, TypingPayload } from "./schemas";

export type User = { id: string; name: string };

export type Message = {
  /** Opaque, unique in its room; order is the server's. */
  id: string;
  roomId: string;
  user: User;
  text: string;
  /** Server time, ms since epoch. */
  ts: number;
  /** Echoed when the sender gave one. */
  clientMsgId?: string;
};

export type WireError = { code: ErrorCode; message: string; retryAfterMs?: number };
export type Ok<T extends object = {}> = { ok: true } & T;
export type Err = { ok: false; error: WireError };
export type Ack<T extends object = {}> = Ok<T> | Err;
export type AckCallback<T extends object = {}> = (response: Ack<T>) => void;

export type JoinResult = {
  roomId: string;
  members: User[];
  typing: User[];
  history: Message[];
  resumed: boolean;
};
export type SendResult = { message: Message };
export type HistoryResult = { messages: Message[]; more: boolean };

/** What each client → server event answers on success. */
export interface AckResults {
  "room:join": JoinResult;
  "room:leave": {};
  "message:send": SendResult;
  "typing:start": {};
  "typing:stop": {};
  "room:history": HistoryResult;
}

export interface ClientToServerEvents {
  "room:join": (payload: JoinPayload, ack: AckCallback<JoinResult>) => void;
  "room:leave": (payload: LeavePayload, ack: AckCallback) => void;
  "message:send": (payload: SendPayload, ack: AckCallback<SendResult>) => void;
  "typing:start": (payload: TypingPayload, ack: AckCallback) => void;
  "typing:stop": (payload: TypingPayload, ack: AckCallback) => void;
  "room:history": (payload: HistoryPayload, ack: AckCallback<HistoryResult>) => void;
}

export type SessionInfo = {
  user: User;
  nodeId: string;
  protocol: 1;
  limits: { maxMessageLength: number; typingTtlMs: number };
};
export type PresenceEvent = { roomId: string; user: User };
export type TypingUpdate = { roomId: string; users: User[] };

export interface ServerToClientEvents {
  session: (info: SessionInfo) => void;
  "message:new": (message: Message) => void;
  "presence:join": (event: PresenceEvent) => void;
  "presence:leave": (event: PresenceEvent) => void;
  "typing:update": (update: TypingUpdate) => void;
  "session:expired": (payload: Record<string, never>) => void;
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
