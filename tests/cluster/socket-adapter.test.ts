/**
 * The Socket.IO Redis adapter, classic and sharded (REDIS_ADAPTER): cluster-
 * wide Socket.IO operations see every node's sockets, while room events,
 * which travel on the room-event bus, still reach each client exactly once.
 * Two apps in this process, each with its own Redis stores.
 */
import type { Message } from "../../shared";
import { closeAllClients, collect, connectClient, sleep } from "../helpers/clients";
import { startApp, stopAllApps } from "../helpers/app";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { uniqueUserId } from "../helpers/tokens";
import { kitConfig, redisStores } from "../stores/store-kits";
import { joinRoom, sendMessage } from "./nodes";

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  closeAllClients();
  await stopAllApps();
});
afterAll(() => redis?.stop());

describe.each(["classic", "sharded"] as const)("REDIS_ADAPTER=%s", (kind) => {
  const startNodes = async () => {
    const prefix = `adapter-${kind}-${uniqueUserId()}:`;
    return Promise.all(
      ["one", "two"].map(async (name) => {
        const env = { REDIS_URL: redis.url, REDIS_ADAPTER: kind, NODE_ID: `${prefix}${name}` };
        const stores = await redisStores(kitConfig(env), prefix);
        return startApp(env, { stores });
      }),
    );
  };

  test("io.fetchSockets() lists the sockets of every node", async () => {
    const [one, two] = await startNodes();
    await connectClient(one!.url, { claims: { sub: "u-one" } });
    await connectClient(two!.url, { claims: { sub: "u-two" } });
    const sockets = await one!.app.io.fetchSockets();
    expect(sockets.map((s) => s.data.user.id).sort()).toEqual(["u-one", "u-two"]);
  });

  test("room events reach each client once, with the adapter installed", async () => {
    const [one, two] = await startNodes();
    const alice = await connectClient(one!.url);
    const bob = await connectClient(two!.url);
    await joinRoom(alice, "adapter-room");
    await joinRoom(bob, "adapter-room");
    const seen = [alice, bob].map((socket) => collect<Message>(socket, "message:new"));
    const message = await sendMessage(alice, "adapter-room", "once");
    await sleep(300);
    for (const sink of seen) expect(sink.items).toEqual([message]);
  });
});
