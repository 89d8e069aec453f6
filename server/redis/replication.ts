/**
 * "An ack means stored", on a Redis with replicas: before a message or change
 * is acknowledged, its master is asked to `WAIT` until enough replicas have
 * it, so that a failover (the replica promoted) loses nothing acknowledged.
 *
 * A master whose replicas do not answer in time (none is attached, say, right
 * after a failover promoted the only one) would make every send wait the
 * whole timeout. Its writes are then acknowledged without waiting for a few
 * seconds before it is asked again: they are as safe as they can be, there
 * being no replica to lose them to.
 */
import calculateSlot from "cluster-key-slot";
import type { Logger } from "../logger";
import { command, isCluster, type Guard, type Redis } from "./client";

export interface ReplicaWaitOptions {
  client: Redis;
  guard: Guard;
  /** Replicas that must have a write. 0: never wait. */
  acks: number;
  /** How long a write waits for them. @default 250 */
  timeoutMs?: number;
  /** How long a master that fell short is not waited for. @default 5000 */
  backoffMs?: number;
  logger: Logger;
  now?: () => number;
}

/** Resolves once the write just made to `key`'s master is on enough replicas, or that master cannot tell. */
export type ReplicaWait = (key: string) => Promise<void>;

export function createReplicaWait(options: ReplicaWaitOptions): ReplicaWait | undefined {
  const { client, guard, acks, logger } = options;
  if (acks <= 0) return undefined;
  const timeoutMs = options.timeoutMs ?? 250;
  const backoffMs = options.backoffMs ?? 5000;
  const now = options.now ?? Date.now;
  /** Masters (by address) not waited for until the time given. */
  const shortOf = new Map<string, number>();
  const masterOf = (key: string) => (isCluster(client) ? client.getSlotMaster(calculateSlot(key)).address : "");

  return async (key) => {
    const master = masterOf(key);
    const until = shortOf.get(master);
    if (until !== undefined) {
      if (now() < until) return;
      shortOf.delete(master);
    }
    const replicas = Number(await guard(() => command(client, key, ["WAIT", String(acks), String(timeoutMs)])));
    if (replicas >= acks) return;
    shortOf.set(master, now() + backoffMs);
    logger.warn(
      { master: master || undefined, replicas, wanted: acks },
      "redis replicas did not confirm a write in time; acknowledging without them for a while",
    );
  };
}
