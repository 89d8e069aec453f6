/**
 * The embeddable Huddle client: import this from any app (browser or Node).
 * It depends on socket.io-client and the shared protocol types, nothing else.
 */
export { createHuddleClient } from "./huddle-client";
/**
 * The protocol this package speaks: version 1, revision `PROTOCOL_REVISION` (the package's version is
 * `<version>.<revision>.<patch>`). The server's revision is `client.session.revision`.
 */
export { PROTOCOL_VERSION, PROTOCOL_REVISION } from "../../shared/protocol";
export type {
  BanOptions,
  HuddleClient,
  HuddleClientOptions,
  HuddleClientEvents,
  HuddleSession,
  HuddleSocket,
  IoFactory,
  JoinedEvent,
  LeaveOptions,
  MarkReadOptions,
  SendOptions,
  TokenReason,
} from "./types";
export { HuddleClientError, isTransient, type ClientErrorCode } from "./errors";
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
export type { ConnectionState, ConnectionStatus, StateChange } from "./connection-state";
export type { OutboxEntry, OutboxStatus } from "./outbox";
export {
  NOTHING_READ,
  firstUnread,
  mergeRead,
  readAfterAnswer,
  readAfterMessage,
  readAfterUpdate,
  readFromJoin,
  readFromSummary,
  seenBy,
  unreadCount,
  type ReadState,
} from "./unread";
export type {
  ClientToServerEvents,
  ServerToClientEvents,
  Message,
  Reaction,
  User,
  SessionInfo,
  JoinResult,
  TypingUpdate,
  PresenceEvent,
  ReadMarker,
  ReadResult,
  ReadUpdate,
  RoomSummary,
  Ban,
  RoomRemoved,
} from "../../shared/events";
