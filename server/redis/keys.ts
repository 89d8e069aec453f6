/**
 * Every Redis key and channel the stores use, in one place. Room ids cannot
 * contain a newline (§2), so `room + "\n" + user` names a pair without
 * ambiguity; user ids (a token's `sub`) may contain anything and always come
 * last. The reaper's Lua script builds the same names (see presence.redis.ts):
 * change them together.
 */
import { createHash } from "node:crypto";

export interface Keys {
  readonly prefix: string;
  /** The room-event bus channel every node subscribes to. */
  readonly events: string;
  /** A room's counters (hash): `e` its epoch, `p` its last position, `s` its last seq, `f` the floor of what is covered. */
  room(roomId: string): string;
  /** A room's messages in their current state (hash: id → JSON). */
  messages(roomId: string): string;
  /** A room's message ids by creation position (sorted set). */
  order(roomId: string): string;
  /** A room's message ids by the position of their latest change (sorted set). */
  revs(roomId: string): string;
  /** The first message stored for a (room, user, clientMsgId): its id, seq and ts. */
  sent(roomId: string, userId: string, clientMsgId: string): string;
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
  /** A token bucket. */
  bucket(limiter: string, key: string): string;
  /** A counter for join and typing order. */
  readonly sequence: string;
  /** The ids of the live (or not yet reaped) nodes. */
  readonly nodes: string;
  /** Exists while the node is alive (a TTL refreshed by its heartbeat). */
  heartbeat(nodeId: string): string;
  /** The (room, user, connection) entries a node holds, for its reaping. */
  nodePresence(nodeId: string): string;
  /** The (user, connection) entries a node holds, for its reaping. */
  nodeConnections(nodeId: string): string;
}

/** 96 bits of sha1, base64url: short, and safe inside a key whatever the input holds. */
const digest = (text: string) => createHash("sha1").update(text).digest("base64url").slice(0, 16);

/** @param prefix put before every key and channel. @default "huddle:" */
export function createKeys(prefix = "huddle:"): Keys {
  const p = prefix;
  return {
    prefix: p,
    events: `${p}events`,
    // A room's keys share the hash tag {roomId} (room ids cannot contain braces): one slot on a Redis Cluster.
    room: (roomId) => `${p}{${roomId}}:room`,
    messages: (roomId) => `${p}{${roomId}}:msg`,
    order: (roomId) => `${p}{${roomId}}:idx`,
    revs: (roomId) => `${p}{${roomId}}:rev`,
    // A digest of (user, clientMsgId): short keys keep a remembered send small, whatever the ids' lengths.
    sent: (roomId, userId, clientMsgId) => `${p}{${roomId}}:s:${digest(`${userId}\n${clientMsgId}`)}`,
    webhookQueue: (roomId) => `${p}{${roomId}}:wh`,
    webhookLease: (roomId) => `${p}{${roomId}}:wh:lease`,
    webhookState: (roomId) => `${p}{${roomId}}:wh:state`,
    webhookDue: `${p}webhooks:due`,
    webhookFailed: `${p}webhooks:failed`,
    reads: (roomId) => `${p}{${roomId}}:reads`,
    bans: (roomId) => `${p}{${roomId}}:bans`,
    publicReads: (roomId) => `${p}{${roomId}}:pub`,
    // A user's keys share a hash tag of their own: a digest, since a user id may hold braces.
    userRooms: (userId) => `${p}u{${digest(userId)}}:rooms`,
    members: (roomId) => `${p}{${roomId}}:members`,
    names: (roomId) => `${p}{${roomId}}:names`,
    presenceConnections: (roomId, userId) => `${p}{${roomId}}:pconn:${userId}`,
    userConnections: (userId) => `${p}uconn:${userId}`,
    typing: (roomId) => `${p}{${roomId}}:typing`,
    typingDue: `${p}typing-due`,
    bucket: (limiter, key) => `${p}bucket:${limiter}:${key}`,
    sequence: `${p}seq`,
    nodes: `${p}nodes`,
    heartbeat: (nodeId) => `${p}node:${nodeId}\nalive`,
    nodePresence: (nodeId) => `${p}node:${nodeId}\npresence`,
    nodeConnections: (nodeId) => `${p}node:${nodeId}\nconnections`,
  };
}
