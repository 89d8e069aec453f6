/**
 * The private Redis Cluster harness (tests/helpers/redis-cluster.ts) against
 * six real redis-servers, through node-redis v5's cluster client: keys spread
 * over the three masters, a `{room}` hash tag keeps keys on one slot, sharded
 * pub/sub delivers, and after the master of a key is SIGKILLed its replica
 * takes over and the key is served again. SHOW_FIGURES=1 prints the timings.
 *
 * What node-redis 5 does in a failover (found here, and node-redis#2806): it
 * learns the new topology only from a MOVED or ASK reply, so a client that
 * was connected when the master died keeps sending that master's slots to the
 * dead address, where commands wait in its offline queue, until the old node
 * is back (as a replica, answering MOVED). Its SSUBSCRIBEs on that master are
 * then dropped without an event. A client created after the failover works.
 */
import { createCluster, type RedisClusterType } from "redis";
import { startRedisCluster, type TestRedisCluster } from "../helpers/redis-cluster";

let cluster: TestRedisCluster;
const clients: RedisClusterType[] = [];
const figure = (text: string) => process.env.SHOW_FIGURES && console.log(text);

async function connect(rootNodes: { url: string }[]): Promise<RedisClusterType> {
  const client = createCluster({ rootNodes }) as RedisClusterType;
  client.on("error", () => {}); // a dead root node is reported here, and the next one tried
  clients.push(client);
  await client.connect();
  return client;
}
const fromSeeds = () => cluster.seeds.split(",").map((seed) => ({ url: `redis://${seed}` }));
const nextMessage = (subscribe: (listener: (message: string) => void) => Promise<void>) =>
  new Promise<string>((resolve) => void subscribe(resolve));

beforeAll(async () => {
  const began = Date.now();
  cluster = await startRedisCluster();
  figure(`Redis Cluster: six nodes up and cluster_state:ok in ${Date.now() - began} ms`);
});
afterAll(async () => {
  for (const client of clients) client.destroy();
  await cluster?.stop();
});

test("six nodes on private ports: three masters serving all slots", async () => {
  expect(cluster.nodes).toHaveLength(6);
  expect(cluster.seeds.split(",")).toEqual(cluster.nodes.map((node) => `127.0.0.1:${node.port}`));
  expect(cluster.nodes.map((node) => node.port)).not.toContain(6379);
  expect(await cluster.masters()).toHaveLength(3);
});

test("keys spread over the masters; a {room} hash tag keeps keys together", async () => {
  const client = await connect([{ url: cluster.nodes[0]!.url }]);
  const keys = Array.from({ length: 12 }, (_, i) => `key:${i}`);
  for (const key of keys) await client.set(key, `value of ${key}`);
  for (const key of keys) expect(await client.get(key)).toBe(`value of ${key}`);
  const owners = new Set(await Promise.all(keys.map(async (key) => (await cluster.masterForKey(key)).port)));
  expect(owners.size).toBe(3);

  expect((await cluster.masterForKey("{room}:members")).port).toBe((await cluster.masterForKey("{room}:log")).port);
  await client.mSet([
    ["{room}:members", "2"],
    ["{room}:log", "hello"],
  ]);
  expect(await client.mGet(["{room}:members", "{room}:log"])).toEqual(["2", "hello"]);
  // A script may only touch one slot (node-redis 6 splits a plain MGET over the shards by itself, a script not).
  const script = ["EVAL", "return redis.call('MGET', KEYS[1], KEYS[2])", "2"];
  await expect(client.sendCommand("key:0", false, [...script, "key:0", "key:1"])).rejects.toThrow(/CROSSSLOT/);
  expect(await client.sendCommand("{room}:a", false, [...script, "{room}:members", "{room}:log"])).toEqual([
    "2",
    "hello",
  ]);
});

test("sharded pub/sub: SPUBLISH reaches an SSUBSCRIBEr on the channel's shard", async () => {
  const client = await connect([{ url: cluster.nodes[1]!.url }]);
  for (const channel of ["{room}:events", "{other}:events"]) {
    const received = nextMessage((listener) => client.sSubscribe(channel, listener));
    await new Promise((resolve) => setTimeout(resolve, 50)); // SSUBSCRIBE is sent
    expect(await client.sPublish(channel, `on ${channel}`)).toBe(1);
    expect(await received).toBe(`on ${channel}`);
    await client.sUnsubscribe(channel);
  }
});

test("SIGKILL the master of a key: its replica takes over and the key is served again", async () => {
  const before = await connect([{ url: cluster.nodes[2]!.url }]);
  const key = "{room}:state";
  await before.set(key, "before the kill");
  expect(await before.sendCommand(key, false, ["WAIT", "1", "2000"])).toBe(1); // on the replica too
  const dead = await cluster.masterForKey(key);

  const began = Date.now();
  await dead.kill();
  await cluster.waitForFailover(dead.port);
  figure(`Redis Cluster: failover after SIGKILL of a master in ${Date.now() - began} ms`);
  const successor = await cluster.masterForKey(key);
  expect(successor.port).not.toBe(dead.port);
  expect((await cluster.masters()).map((node) => node.port)).not.toContain(dead.port);

  // A client that connects now, even through a list of seeds that starts with dead nodes, is served at once.
  const after = await connect([{ url: dead.url }, ...fromSeeds()]);
  expect(await after.get(key)).toBe("before the kill");
  await after.set(key, "after the failover");
  expect(await after.get(key)).toBe("after the failover");
  const received = nextMessage((listener) => after.sSubscribe("{room}:events", listener));
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(await after.sPublish("{room}:events", "after the failover")).toBe(1);
  expect(await received).toBe("after the failover");

  // The client from before the kill is stuck on the dead address (see the top of this file) until the old
  // master is back: it rejoins as a replica, answers MOVED, and node-redis finds the successor.
  const stuckWrite = before.set(key, "written by the client from before");
  const restarted = Date.now();
  await dead.start();
  await stuckWrite;
  figure(`Redis Cluster: the old client served again ${Date.now() - restarted} ms after the old master restarted`);
  expect(await after.get(key)).toBe("written by the client from before");
  expect((await cluster.masterForKey(key)).port).toBe(successor.port);
});
