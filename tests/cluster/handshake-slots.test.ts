/**
 * MAX_CONNECTIONS_PER_USER with Redis: the slot a connection takes during
 * its handshake (one round trip to Redis) must come back even when the
 * client is gone before the handshake ends, when no Socket.IO "disconnect"
 * will ever follow. Otherwise a flaky mobile link would lock its user out.
 */
import { once } from "node:events";
import WebSocket from "ws";
import { startApp, stopAllApps } from "../helpers/app";
import { closeAllClients, connectClient, eventually } from "../helpers/clients";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { kitConfig, redisStores } from "../stores/store-kits";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  closeAllClients();
  await stopAllApps();
});
afterAll(() => redis?.stop());

test("clients that vanish in the middle of the handshake give their connection slot back", async () => {
  const prefix = `slots-${uniqueUserId()}:`;
  const env = { REDIS_URL: redis.url, MAX_CONNECTIONS_PER_USER: "1", NODE_ID: `${prefix}node` };
  const server = await startApp(env, { stores: await redisStores(kitConfig(env), prefix) });
  const token = signToken({ sub: uniqueUserId() });

  for (let i = 0; i < 20; i++) {
    const raw = new WebSocket(`${server.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`);
    raw.on("error", () => {});
    await once(raw, "message"); // Engine.IO's open packet
    // CONNECT, then gone at once: the server is still waiting on Redis for the slot when the close arrives.
    raw.send(`40${JSON.stringify({ token, v: 1 })}`);
    raw.terminate();
  }

  // Every slot came back: the user's only one is free for a real client.
  let lastError: unknown;
  await eventually(
    () =>
      connectClient(server.url, { token }).then(
        () => true,
        (error) => {
          lastError = error;
          return false;
        },
      ),
    "the user's slot to be free",
  ).catch((error) => {
    throw new Error(`${(error as Error).message}; last refusal: ${String(lastError)}`);
  });
});
