/**
 * The typed client's public shapes: its options, the events it reports, and
 * the calls it offers. Implemented by `createHuddleClient`.
 */
import type { ManagerOptions, Socket, SocketOptions } from "socket.io-client";
import type {
  AckResults,
  Ban,
  ClientToServerEvents,
  JoinResult,
  Message,
  PresenceEvent,
  ReadMarker,
  ReadResult,
  ReadUpdate,
  RoomRemoved,
  RoomSummary,
  ServerToClientEvents,
  SessionInfo,
  TypingUpdate,
  User,
} from "../../shared/events";
import type { BackoffOptions } from "./backoff";
import type { ConnectionState, StateChange } from "./connection-state";
import type { HuddleClientError } from "./errors";
import type { OutboxEntry } from "./outbox";

export type HuddleSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * The server's `session`, as the client reports it. `revision` is the revision of protocol v1 the server
 * serves: what it said, or 1 when it said nothing (a revision-1 server). Compare it with `PROTOCOL_REVISION`,
 * the revision this client speaks: against an older server, calls it lacks reject with `unsupported`.
 */
export type HuddleSession = Omit<SessionInfo, "revision"> & { revision: number };
export type IoFactory = (url: string, options: Partial<ManagerOptions & SocketOptions>) => HuddleSocket;

/** Why the client asks for a token: the first connection, an expired one, or one the server refused. */
export type TokenReason = "initial" | "expired" | "invalid";

export interface HuddleClientOptions {
  /** The server's origin, e.g. `https://chat.example.com` (or `window.location.origin`). */
  url: string;
  /** Returns a JWT. Called before the first connection and again whenever the server says the token expired or is invalid. */
  getToken(context: { reason: TokenReason }): string | Promise<string>;
  /** The socket factory. @default `io` from socket.io-client */
  io?: IoFactory;
  /** @default ["websocket", "polling"] (try WebSocket first, fall back to long-polling) */
  transports?: ("websocket" | "polling")[];
  /** How long a call waits for its answer (and for a connection, when offline). @default 10000 */
  ackTimeoutMs?: number;
  /** Reconnection delays. @default { baseMs: 500, maxMs: 30000, factor: 2 } */
  backoff?: BackoffOptions;
  /** Randomness for the backoff jitter. @default Math.random */
  random?: () => number;
  /** Typing throttle. @default { startIntervalMs: 2000, idleMs: 3000 } */
  typing?: { startIntervalMs?: number; idleMs?: number };
  /** Times a message is emitted without an answer before it is marked failed. @default 5 */
  maxSendAttempts?: number;
  /** Connect at once. @default true */
  autoConnect?: boolean;
  /** Clock, for timestamps and the typing throttle. @default Date.now */
  now?: () => number;
  /** Extra socket.io-client options (e.g. `path`, `extraHeaders` in Node). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

/**
 * A (re)join finished. Apply it in two steps: first `messages` (with `reset`, replace the room's messages
 * with them; otherwise append them), then each of `updates` in order, replacing the message with its id.
 */
export interface JoinedEvent {
  roomId: string;
  members: User[];
  typing: User[];
  /** Messages not delivered before, oldest first, each in its current state (edited, deleted, reacted to). */
  messages: Message[];
  /**
   * Messages that changed after they were delivered: while the client was away, or while this join was in
   * flight. Each is the message in its current state, in the room's change order; replace the one you show
   * with the same `id` (one you do not show, say an older page not loaded, can be ignored). These changes
   * are not reported again as `updated`. On a first join, only changes made while the join was in flight.
   */
  updates: Message[];
  resumed: boolean;
  reset: boolean;
  /** With `reset`: whether older messages may exist (page them with `history({ before })`). */
  more: boolean;
  /**
   * My read marker in the room when the server answered (a message id), or null when nothing is read yet. The
   * first join of a room sets it to the newest message: older messages are not unread. See `readFromJoin`.
   */
  readUpTo: string | null;
  /** Messages after the marker, then. */
  unread: number;
}

export interface SendOptions {
  /** Makes the send idempotent; a re-send (after a drop, or `retry`) uses the same one. @default a random id */
  clientMsgId?: string;
  /** The id of the message this one answers (a message of the same room). */
  replyTo?: string;
}

export interface LeaveOptions {
  /** Also remove the room (and my read marker) from my rooms on the server. @default false */
  forget?: boolean;
}

export interface MarkReadOptions {
  /** Move my marker for my unread counts only: others do not see it move. @default false */
  private?: boolean;
}

export interface BanOptions {
  /** How long the ban lasts, in seconds (1 to 31,536,000). @default no end: until lifted */
  durationSec?: number;
  /** Why, up to 200 characters: kept with the ban and listed to moderators. */
  reason?: string;
}

export interface HuddleClientEvents {
  state: StateChange;
  /** The server's `session`, first thing on each connection. */
  session: HuddleSession;
  joined: JoinedEvent;
  /** The client stopped being in a room on its own (a re-join was refused). */
  left: { roomId: string; error: HuddleClientError };
  /**
   * A moderator took me out of the room (§11: `reason` "banned"). The client is no longer in it and will not
   * join it again on its own (not on reconnect either); `join` it again to try, which is refused `forbidden`
   * while the ban lasts. Messages of the room still in the outbox fail with `forbidden`. Not reported as `left`.
   */
  removed: RoomRemoved;
  /** A new message, each one once, in the server's order. */
  message: Message;
  /**
   * A message changed (edited, deleted, a reaction added or removed): the message in its new state, to replace
   * the one with its `id`. Each change once, in the room's change order (with `message`); changes missed while
   * away come in `joined.updates` instead.
   */
  updated: Message;
  /**
   * A read marker moved (§9). My own marker, from any of my connections (another tab or device, or this one),
   * for any of my rooms, joined here or not: apply it with `readAfterUpdate`. Another user's public marker, for
   * rooms joined here (not past `READ_BROADCAST_MAX_MEMBERS` members): that user has seen up to `readSeq`.
   * The server sends at most one a second per user and room, carrying the latest; my own messages move my
   * marker without one.
   */
  read: ReadUpdate;
  presence: PresenceEvent & { type: "join" | "leave" };
  typing: TypingUpdate;
  /** An outgoing message changed status (pending, sent, failed). */
  outbox: OutboxEntry;
  /** A failure no call was waiting for (refused connection, failed re-join, token refresh). */
  error: HuddleClientError;
}

export interface HuddleClient {
  readonly state: ConnectionState;
  /** The signed-in user, once the server has sent `session`. */
  readonly user: User | undefined;
  /** The latest `session`: the user, the node, the revision of the protocol the server serves, its limits. */
  readonly session: HuddleSession | undefined;
  /** The underlying typed socket (for advanced uses; do not reconnect it yourself). */
  readonly socket: HuddleSocket;
  /** Rooms the client is in or will re-join. */
  readonly rooms: readonly string[];
  on<K extends keyof HuddleClientEvents>(event: K, listener: (payload: HuddleClientEvents[K]) => void): () => void;
  off<K extends keyof HuddleClientEvents>(event: K, listener: (payload: HuddleClientEvents[K]) => void): void;
  /** Starts connecting (when `autoConnect` is false, or after going offline). */
  connect(): void;
  /** While waiting to reconnect: try now. */
  reconnectNow(): void;
  /** Joins and stays joined across reconnects. Resolves with the first join's answer. */
  join(roomId: string): Promise<JoinResult>;
  /**
   * Leaves the room. With `forget`, it also leaves the user's rooms (`listRooms`, on every device) with its read
   * marker, joined here or not (joining again later starts afresh); that needs the server, so it waits for the
   * connection and rejects when it cannot be told.
   */
  leave(roomId: string, options?: LeaveOptions): Promise<void>;
  /** Queues `text` in the outbox and resolves with the stored message. */
  send(roomId: string, text: string, options?: SendOptions): Promise<Message>;
  /**
   * Changes the text of one of your messages. Resolves with the message as this change left it; the room's
   * state is what `updated` reports, in order (a later change may already have superseded this answer).
   */
  edit(roomId: string, id: string, text: string): Promise<Message>;
  /** Deletes a message (yours, or any as a moderator); resolves with the tombstone (`deleted: true`, text ""). */
  delete(roomId: string, id: string): Promise<Message>;
  /** Adds your reaction `emoji` (1 to 16 characters, no spaces) to a message; resolves with the message. */
  react(roomId: string, id: string, emoji: string): Promise<Message>;
  /** Removes your reaction `emoji` from a message; resolves with the message. */
  unreact(roomId: string, id: string, emoji: string): Promise<Message>;
  /**
   * Moves my read marker in the room forward to message `upTo` (a message of the room, else `not_found`), for my
   * unread counts on every device and, unless `private`, for others to see ("seen by"). Resolves with the marker
   * as it now stands and the messages after it: an older `upTo` changes nothing and answers the current marker.
   * My other connections (and, for a public marker, the room) get a `read` event. Needs the room joined.
   *
   * The client keeps no unread counts itself: `./unread` (exported from the index) has the few pure functions
   * that do, fed from `joined`, `message`, my own `read` events, this answer and `listRooms`.
   */
  markRead(roomId: string, upTo: string, options?: MarkReadOptions): Promise<ReadResult>;
  /** The room's public read markers (at most 100), highest `readSeq` first: "seen by" for a message. Needs the room joined. */
  reads(roomId: string): Promise<ReadMarker[]>;
  /**
   * The user's rooms (at most 200), newest activity first, the same on every device: each with my marker, its
   * unread count and its last message. A room becomes one of mine on its first join, and stops being one with
   * `leave(roomId, { forget: true })`. Needs only the connection, not the rooms.
   */
  listRooms(): Promise<RoomSummary[]>;
  /**
   * Moderators (a token with `"role": "moderator"`, §11): bans `userId` from the room, at once on every node (their
   * connections are taken out of it and get `removed`), until `durationSec` ends or the ban is lifted. Over REST:
   * needs no joined room. Anyone else is refused `forbidden`. Banning again replaces the ban.
   */
  ban(roomId: string, userId: string, options?: BanOptions): Promise<Ban>;
  /** Moderators: lifts the ban of `userId` from the room (fine when there is none); they may join again. */
  unban(roomId: string, userId: string): Promise<void>;
  /** Moderators: the bans in force in the room. */
  bans(roomId: string): Promise<Ban[]>;
  /** Sends a failed message again, with the same `clientMsgId`. */
  retry(clientMsgId: string): Promise<Message>;
  /** Drops a failed message from the outbox. */
  discard(clientMsgId: string): boolean;
  /** Messages not yet acknowledged (pending or failed), oldest first. */
  pending(): OutboxEntry[];
  /** A page of older messages: the newest ones before `before`. */
  history(roomId: string, options?: { before?: string; limit?: number }): Promise<AckResults["room:history"]>;
  /** Call on each keystroke: throttled `typing:start`, then `typing:stop` when idle. */
  typing(roomId: string): void;
  /** The user stopped typing (cleared the composer). */
  stopTyping(roomId: string): void;
  /** Disconnects for good: pending sends fail with `closed`, the state becomes offline, then listeners are removed. */
  close(): void;
}
