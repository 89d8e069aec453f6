/**
 * The Redis a multi-node suite runs on: one private redis-server, or, when the
 * suite runs in the "cluster" Jest project (HUDDLE_TEST_REDIS=cluster), a
 * private six-node Redis Cluster. The same suites then prove that everything
 * works on both (§12).
 */
import { createClient, createCluster } from "redis";
import type { Redis } from "../../server/redis/client";
import { startRedisCluster, type TestRedisCluster } from "./redis-cluster";
import { startRedis, type TestRedis } from "./redis-server";

export interface SharedRedis {
  readonly kind: "single" | "cluster";
  /** What a node is given: a redis:// URL, or the cluster's seeds (tests/cluster/nodes.ts tells them apart). */
  readonly url: string;
  /** The environment that points a node at it. */
  readonly env: Record<string, string>;
  /** The single server (undefined on a cluster). */
  readonly single?: TestRedis;
  /** The cluster (undefined on a single server). */
  readonly cluster?: TestRedisCluster;
  /** A connected client for the test's own reads; closed by `stop`. */
  admin(): Promise<Redis>;
  stop(): Promise<void>;
}

/** True when this Jest project runs the suites on a Redis Cluster. */
export const onCluster = () => process.env.HUDDLE_TEST_REDIS === "cluster";

export async function startSharedRedis(): Promise<SharedRedis> {
  const clients: Redis[] = [];
  const connect = async (client: Redis) => {
    client.on("error", () => {}); // a test that kills a server reads the failure from the command
    clients.push(client);
    await client.connect();
    return client;
  };
  const closeClients = () => Promise.all(clients.splice(0).map((c) => c.destroy()));
  if (onCluster()) {
    const cluster = await startRedisCluster();
    return {
      kind: "cluster",
      url: cluster.seeds,
      env: { REDIS_CLUSTER_NODES: cluster.seeds },
      cluster,
      admin: () =>
        connect(
          createCluster({
            rootNodes: cluster.nodes.map((node) => ({ url: node.url })),
            RESP: 2,
          }) as unknown as Redis,
        ),
      async stop() {
        await closeClients();
        await cluster.stop();
      },
    };
  }
  const single = await startRedis();
  return {
    kind: "single",
    url: single.url,
    env: { REDIS_URL: single.url },
    single,
    admin: () => connect(createClient({ url: single.url, RESP: 2 }) as unknown as Redis),
    async stop() {
      await closeClients();
      await single.stop();
    },
  };
}
