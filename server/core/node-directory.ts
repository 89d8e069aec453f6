/**
 * Which node holds which Engine.IO session, without sticky sessions (§12).
 *
 * Each node makes up a short random tag when it starts and puts it in front of
 * every Engine.IO session id it issues: `<tag>.<random>`. The directory maps
 * a live node's tag to the base URL the other nodes reach it at
 * (`ADVERTISE_URL`); with Redis it is server/redis/directory.redis.ts. A
 * request whose `sid` carries another node's tag is forwarded to that URL
 * (transport/socket/forwarding.ts), and only ever to a URL found here: a
 * client chooses at most a tag, never an address.
 */
import { randomBytes } from "node:crypto";

export interface NodeDirectory {
  /** This node's tag: what its Engine.IO session ids start with. */
  readonly tag: string;
  /** The base URL of the live node with this tag; undefined when no live node has it. Never rejects. */
  lookup(tag: string): Promise<string | undefined>;
  /** Removes this node's entry (it is going away) and stops refreshing it. */
  shutdown(): Promise<void>;
  /** Stops refreshing, leaving the entry to expire. */
  stop(): void;
}

/** 6 random bytes, base64url: 8 characters out of [A-Za-z0-9_-]. */
export const newNodeTag = (): string => randomBytes(6).toString("base64url");

const TAG = /^[A-Za-z0-9_-]{8}$/;
export const isNodeTag = (value: string): boolean => TAG.test(value);

/**
 * A new Engine.IO session id of the node tagged `tag`: the tag, a dot, and 15 random bytes (as many as Engine.IO's
 * own ids carry). Every character is URL-safe, so clients put it in the query string as it is.
 */
export const newSessionId = (tag: string): string => `${tag}.${randomBytes(15).toString("base64url")}`;

/** The tag of the node that issued `sid`, when `sid` has the shape of our session ids; else undefined. */
export function sessionTag(sid: string): string | undefined {
  const dot = sid.indexOf(".");
  if (dot < 0) return undefined;
  const tag = sid.slice(0, dot);
  return isNodeTag(tag) ? tag : undefined;
}

/** A fixed directory (tests, tools): `entries` maps tags to base URLs. */
export function createStaticDirectory(tag: string, entries: ReadonlyMap<string, string>): NodeDirectory {
  return {
    tag,
    lookup: async (other) => entries.get(other),
    shutdown: async () => {},
    stop: () => {},
  };
}
