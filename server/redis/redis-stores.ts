/** Placeholder until the Redis stores land (issue 3). */
import type { Config } from "../config";
import type { Logger } from "../logger";
import type { Stores } from "../stores";

export async function createRedisStores(_config: Config, _logger: Logger): Promise<Stores> {
  throw new Error("REDIS_URL is not supported yet");
}
