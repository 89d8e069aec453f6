/** Bans in Redis (§11), when there is no PostgreSQL: a hash per room (user id → `{until, reason}`) under the room's tag. */
import type { Ban } from "../../shared";
import type { BanStore } from "../features/moderation/ban.store";
import type { Guard, Redis } from "./client";
import type { Keys } from "./keys";

export function createRedisBanStore(options: { client: Redis; guard: Guard; keys: Keys }): BanStore {
  const { client, guard, keys } = options;
  return {
    async ban(ban) {
      const stored = JSON.stringify({ until: ban.until, ...(ban.reason !== undefined && { reason: ban.reason }) });
      await guard(() => client.hSet(keys.bans(ban.roomId), ban.userId, stored));
    },
    async lift(roomId, userId) {
      return (await guard(() => client.hDel(keys.bans(roomId), userId))) === 1;
    },
    async list(roomId, now) {
      const all = await guard(() => client.hGetAll(keys.bans(roomId)));
      const live: Ban[] = [];
      const expired: string[] = [];
      for (const [userId, json] of Object.entries(all)) {
        const { until, reason } = JSON.parse(json) as { until: number | null; reason?: string };
        if (until !== null && until <= now) expired.push(userId);
        else live.push({ roomId, userId, until, ...(reason !== undefined && { reason }) });
      }
      if (expired.length > 0) await guard(() => client.hDel(keys.bans(roomId), expired));
      return live;
    },
  };
}
