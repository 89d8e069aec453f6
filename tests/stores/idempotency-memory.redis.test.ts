/**
 * A remembered send is small (§12): the (room, user, clientMsgId) key holds
 * the first message's id, seq and ts, not a copy of it, whatever the
 * message's size, so 10 minutes of sends at 100 a second cost ~6 MB of Redis
 * rather than gigabytes. A retry inside the window still answers the first
 * message.
 */
import type { Message, User } from "../../shared";
import type { RedisStores } from "../../server/redis/redis-stores";
import { command } from "../../server/redis/client";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { closeKits, openKit, type Kit } from "./store-kits";

const alice: User = { id: "alice-with-a-rather-long-user-id-0123456789", name: "Alice" };
let redis: TestRedis;
let kit: Kit;
beforeAll(async () => {
  redis = await startRedis();
  kit = await openKit("redis", { env: { REDIS_URL: redis.url } });
});
afterAll(async () => {
  await closeKits();
  await redis.stop();
});

test("a remembered send costs at most 100 bytes of Redis, and a retry still returns the first message", async () => {
  const stores = kit.a as unknown as RedisStores;
  const roomId = "memory-room";
  const sends = 500;
  const clientMsgId = (i: number) => `${i}-a-client-message-id-of-the-longest-usual-kind-0f1e2d3c4b5a69788796a5b4`;
  const firsts: Message[] = [];
  for (let i = 0; i < sends; i++) {
    const draft = { roomId, user: alice, text: "x".repeat(2000), clientMsgId: clientMsgId(i), ts: Date.now() };
    firsts.push((await stores.messages.append(draft)).message);
  }
  // Every window the sends may have fallen in (a window is CLIENT_MSG_ID_TTL_MS long).
  const window = Math.floor(Date.now() / kit.config.clientMsgIdTtlMs);
  let bytes = 0;
  for (const w of [window - 1, window, window + 1]) {
    const key = stores.keys.sent(roomId, w);
    bytes += Number((await command(stores.client, key, ["MEMORY", "USAGE", key, "SAMPLES", "0"])) ?? 0);
  }
  expect(bytes / sends).toBeGreaterThan(10);
  expect(bytes / sends).toBeLessThanOrEqual(100);
  for (const i of [0, 250, sends - 1]) {
    const retry = await kit.b.messages.append({
      roomId,
      user: alice,
      text: "retry",
      clientMsgId: clientMsgId(i),
      ts: Date.now(),
    });
    expect(retry).toEqual({ message: firsts[i], duplicate: true });
  }
});
