/**
 * Every Redis key and channel the stores use, in one place, laid out for a
 * Redis Cluster (§12): a script may only touch keys of one hash slot, so
 *
 * - a room's keys share the hash tag `{roomId}` (room ids cannot contain
 *   braces), and so does the room's event channel (sharded pub/sub);
 * - a user's keys share a tag of their own, a digest of the user id (which may
 *   hold anything, braces included), and so does the user's event channel;
 * - the nodes' registry (who is alive, what each holds) shares `{nodes}`, and
 *   the webhook dispatch lists share `{webhooks}`.
 *
 * The same layout serves a single Redis.
 */
import { createHash } from "node:crypto";

export interface Keys {
  readonly prefix: string;
  /** A room's event channel (sharded pub/sub): a node subscribes while it serves the room. */
  roomEvents(roomId: string): string;
  /** Bans and lifts (§11), heard by every node: rare, and any node may be asked to let the user in next. */
  readonly moderationEvents: string;
  /** A user's event channel (their read markers, §9): a node subscribes while it holds a connection of theirs. */
  userEvents(userId: string): string;
  /** A room's counters (hash): `e` epoch, `p` last position, `s` last seq, `f` floor, `j`/`t` join and typing order. */
  room(roomId: string): string;
  /** A room's messages in their current state (hash: id → JSON). */
  messages(roomId: string): string;
  /** A room's message ids by creation position (sorted set). */
  order(roomId: string): string;
  /** A room's message ids by the position of their latest change (sorted set). */
  revs(roomId: string): string;
  /**
   * A room's remembered sends of one time window (hash: `sentField` → the first message's "n seq ts", n its
   * position in the room's epoch): one hash a window, not a key a send, keeps a remembered send under 100 bytes.
   */
  sent(roomId: string, window: number): string;
  /** A (user, clientMsgId)'s field in a room's remembered sends: a 72-bit digest. */
  sentField(userId: string, clientMsgId: string): string;
  /** A room's webhook events not delivered yet (stream, in change order), with the claim on its head and its attempts. */
  webhookQueue(roomId: string): string;
  webhookLease(roomId: string): string;
  webhookState(roomId: string): string;
  /** Rooms with webhook events, by when their head is due (sorted set). */
  readonly webhookDue: string;
  /** Webhook events that exhausted their retries (list, newest first). */
  readonly webhookFailed: string;
  /** A room's read markers (hash: user id → marker JSON). */
  reads(roomId: string): string;
  /** A room's bans (hash: user id → `{until, reason}`). */
  bans(roomId: string): string;
  /** A room's public read positions (sorted set: user id by public seq). */
  publicReads(roomId: string): string;
  /** A user's rooms (sorted set: room id by when it became theirs, ms). */
  userRooms(userId: string): string;
  /** A room's members: user id → join order. */
  members(roomId: string): string;
  /** A room's members: user id → user JSON. */
  names(roomId: string): string;
  /** The connections through which a user is in a room. */
  presenceConnections(roomId: string, userId: string): string;
  /** A user's connections on every node, for MAX_CONNECTIONS_PER_USER. */
  userConnections(userId: string): string;
  /** Who types in a room: user id → "expiresAt startOrder userJson". */
  typing(roomId: string): string;
  /** Every typing entry by expiry, so that a dead node's entries are still announced when they expire. */
  readonly typingDue: string;
  /** A token bucket of a user (or any key). */
  bucket(limiter: string, key: string): string;
  /** The ids of the live (or not yet reaped) nodes. */
  readonly nodes: string;
  /** Exists while the node is alive (a TTL refreshed by its heartbeat). */
  heartbeat(nodeId: string): string;
  /** Held by the node reaping a dead node, for as long as that takes. */
  reaping(nodeId: string): string;
  /** The (room, user, connection) entries a node holds, for its reaping. */
  nodePresence(nodeId: string): string;
  /** The (user, connection) entries a node holds, for its reaping. */
  nodeConnections(nodeId: string): string;
}

/** 96 bits of sha1, base64url: short, and safe inside a key (and a hash tag) whatever the input holds. */
const digest = (text: string) => createHash("sha1").update(text).digest("base64url").slice(0, 16);

/** @param prefix put before every key and channel; it must not contain braces. @default "huddle:" */
export function createKeys(prefix = "huddle:"): Keys {
  if (/[{}]/.test(prefix)) throw new Error("a Redis key prefix must not contain braces (they are hash tags)");
  const p = prefix;
  const room = (roomId: string) => `${p}{${roomId}}:`;
  const user = (userId: string) => `${p}u{${digest(userId)}}:`;
  return {
    prefix: p,
    roomEvents: (roomId) => `${room(roomId)}ev`,
    userEvents: (userId) => `${user(userId)}ev`,
    moderationEvents: `${p}{moderation}:ev`,
    room: (roomId) => `${room(roomId)}room`,
    messages: (roomId) => `${room(roomId)}msg`,
    order: (roomId) => `${room(roomId)}idx`,
    revs: (roomId) => `${room(roomId)}rev`,
    sent: (roomId, window) => `${room(roomId)}s:${window}`,
    // A digest of (user, clientMsgId): short fields keep a remembered send small, whatever the ids' lengths.
    sentField: (userId, clientMsgId) => digest(`${userId}\n${clientMsgId}`).slice(0, 12),
    webhookQueue: (roomId) => `${room(roomId)}wh`,
    webhookLease: (roomId) => `${room(roomId)}wh:lease`,
    webhookState: (roomId) => `${room(roomId)}wh:state`,
    webhookDue: `${p}{webhooks}:due`,
    webhookFailed: `${p}{webhooks}:failed`,
    reads: (roomId) => `${room(roomId)}reads`,
    bans: (roomId) => `${room(roomId)}bans`,
    publicReads: (roomId) => `${room(roomId)}pub`,
    userRooms: (userId) => `${user(userId)}rooms`,
    members: (roomId) => `${room(roomId)}members`,
    names: (roomId) => `${room(roomId)}names`,
    presenceConnections: (roomId, userId) => `${room(roomId)}pconn:${userId}`,
    userConnections: (userId) => `${user(userId)}conns`,
    typing: (roomId) => `${room(roomId)}typing`,
    typingDue: `${p}{typing}:due`,
    bucket: (limiter, key) => `${user(key)}bucket:${limiter}`,
    nodes: `${p}{nodes}:all`,
    heartbeat: (nodeId) => `${p}{nodes}:alive:${nodeId}`,
    reaping: (nodeId) => `${p}{nodes}:reaping:${nodeId}`,
    nodePresence: (nodeId) => `${p}{nodes}:presence:${nodeId}`,
    nodeConnections: (nodeId) => `${p}{nodes}:conns:${nodeId}`,
  };
}
