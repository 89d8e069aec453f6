/**
 * The embeddable Huddle client: import this from any app (browser or Node).
 * It depends on socket.io-client and the shared protocol types, nothing else.
 */
export { createHuddleClient } from "./huddle-client";
export type {
  BanOptions,
  HuddleClient,
  HuddleClientOptions,
  HuddleClientEvents,
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
