/**
 * A private Redis Cluster per test run: six redis-server processes on free
 * ports (three masters, one replica each), joined by `redis-cli --cluster
 * create`. Any node may be SIGKILLed and started again (it rejoins from its
 * nodes.conf); a short node timeout keeps failovers to a few seconds. Fails
 * loudly when redis-server or redis-cli is missing: these tests never skip.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient } from "redis";
import { freePort } from "./ports";
import { redisProcess, requireRedisBinary } from "./redis-server";

export const REDIS_CLI = process.env.REDIS_CLI_BIN ?? "/usr/bin/redis-cli";
const SLOTS = 16384;

export interface ClusterNode {
  readonly port: number;
  /** redis://127.0.0.1:port */
  readonly url: string;
  /** SIGKILLs this node (its connections drop at once). */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory: it rejoins the cluster from its nodes.conf, with no data. */
  start(): Promise<void>;
}

export interface TestRedisCluster {
  /** All six nodes, in the order given to `redis-cli --cluster create` (the first three start as masters). */
  readonly nodes: ClusterNode[];
  /** "127.0.0.1:P1,127.0.0.1:P2,…", all six, for REDIS_CLUSTER_NODES. */
  readonly seeds: string;
  /** The node serving `key`'s slot now, as a running node sees it (CLUSTER KEYSLOT, CLUSTER SLOTS). */
  masterForKey(key: string): Promise<ClusterNode>;
  /** The nodes serving slots now, as a running node sees them. */
  masters(): Promise<ClusterNode[]>;
  /** Resolves once every running node says cluster_state:ok with all slots served by nodes other than `killedPort`. */
  waitForFailover(killedPort: number, timeoutMs?: number): Promise<void>;
  /** SIGKILLs every node and removes their directories. */
  stop(): Promise<void>;
}

/** Sends one command to 127.0.0.1:`port` on a connection of its own. */
export async function nodeCommand(port: number, args: string[]): Promise<unknown> {
  const client = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false, connectTimeout: 5000 } });
  client.on("error", () => {}); // a dead node is an answer here, reported by connect() or sendCommand()
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

type SlotRange = { from: number; to: number; master: number };
async function slotRanges(port: number): Promise<SlotRange[]> {
  const reply = (await nodeCommand(port, ["CLUSTER", "SLOTS"])) as [number, number, [string, number]][];
  return reply.map(([from, to, [, master]]) => ({ from, to, master }));
}

async function clusterInfo(port: number): Promise<Record<string, string>> {
  const text = String(await nodeCommand(port, ["CLUSTER", "INFO"]));
  return Object.fromEntries(text.split(/\r?\n/).map((line) => line.split(":", 2) as [string, string]));
}

/** Polls `check` until it returns true (errors count as false); throws with `what` and the last error after `timeoutMs`. */
async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`Redis Cluster: ${what} not reached within ${timeoutMs} ms${last ? ` (last error: ${last})` : ""}`);
}

/**
 * @param options.nodeTimeoutMs cluster-node-timeout (default 1000): how long a silent master takes to be failed over.
 * @param options.args extra redis-server arguments for every node, after the defaults.
 */
export async function startRedisCluster(
  options: { nodeTimeoutMs?: number; args?: string[] } = {},
): Promise<TestRedisCluster> {
  requireRedisBinary();
  requireRedisBinary(REDIS_CLI);
  const ports = new Set<number>();
  while (ports.size < 12) ports.add(await freePort()); // a client port and a cluster bus port per node
  const [clientPorts, busPorts] = [[...ports].slice(0, 6), [...ports].slice(6)];
  const root = mkdtempSync(join(tmpdir(), "huddle-redis-cluster-"));
  const processes = clientPorts.map((port, i) => {
    const dir = join(root, String(port));
    mkdirSync(dir);
    return redisProcess(port, dir, [
      ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", String(busPorts[i])],
      ...["--cluster-node-timeout", String(options.nodeTimeoutMs ?? 1000)],
      // Any replica may take over, however long it was cut off; replicas stay where they were put.
      ...["--cluster-replica-validity-factor", "0", "--cluster-allow-replica-migration", "no"],
      // A replica's first sync starts at once, not after the default 5 s wait for more replicas.
      ...["--repl-diskless-sync-delay", "0"],
      ...(options.args ?? []),
    ]);
  });
  const nodes: ClusterNode[] = clientPorts.map((port, i) => ({
    port,
    url: `redis://127.0.0.1:${port}`,
    kill: processes[i]!.kill,
    start: processes[i]!.start,
  }));
  const stop = async () => {
    await Promise.all(processes.map((p) => p.kill()));
    rmSync(root, { recursive: true, force: true });
  };
  const running = () => nodes.filter((_, i) => processes[i]!.running);
  const byPort = (port: number) => {
    const node = nodes.find((n) => n.port === port);
    if (!node) throw new Error(`Redis Cluster: port ${port} is not one of this cluster's nodes`);
    return node;
  };
  const anyRunning = () => {
    const node = running()[0];
    if (!node) throw new Error("Redis Cluster: no node is running");
    return node.port;
  };
  // Every running node says cluster_state:ok and shows all slots served, none by `dead`.
  const healthy = async (dead?: number) => {
    for (const { port } of running()) {
      const info = await clusterInfo(port);
      if (info.cluster_state !== "ok" || info.cluster_slots_ok !== String(SLOTS)) return false;
      const ranges = await slotRanges(port);
      const served = ranges.reduce((sum, r) => sum + r.to - r.from + 1, 0);
      if (served !== SLOTS || ranges.some((r) => r.master === dead)) return false;
    }
    return true;
  };

  try {
    await Promise.all(processes.map((p) => p.start()));
    const seeds = clientPorts.map((port) => `127.0.0.1:${port}`);
    const created = await promisify(execFile)(
      REDIS_CLI,
      ["--cluster", "create", ...seeds, "--cluster-replicas", "1", "--cluster-yes"],
      { timeout: 30_000 },
    ).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`redis-cli --cluster create failed: ${err.message}\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    });
    if (!created.stdout.includes(`All ${SLOTS} slots covered`)) {
      throw new Error(`redis-cli --cluster create did not cover all slots:\n${created.stdout}${created.stderr}`);
    }
    await until("cluster_state:ok on all six nodes", 45_000, async () => {
      if (!(await healthy())) return false;
      const infos = await Promise.all(clientPorts.map((port) => clusterInfo(port)));
      if (infos.some((info) => info.cluster_known_nodes !== "6")) return false;
      // The three replicas are in sync, so a test's WAIT and a failover find the data there.
      const replication = await Promise.all(clientPorts.map((port) => nodeCommand(port, ["INFO", "replication"])));
      if (replication.filter((text) => String(text).includes("master_link_status:up")).length !== 3) return false;
      // …and every node's CLUSTER SLOTS lists a replica beside each master (gossip may lag the replication link).
      for (const port of clientPorts) {
        const reply = (await nodeCommand(port, ["CLUSTER", "SLOTS"])) as unknown[][];
        if (reply.some((range) => range.length < 4)) return false;
      }
      return true;
    });
    return {
      nodes,
      seeds: seeds.join(","),
      async masterForKey(key) {
        const port = anyRunning();
        const slot = Number(await nodeCommand(port, ["CLUSTER", "KEYSLOT", key]));
        const range = (await slotRanges(port)).find((r) => r.from <= slot && slot <= r.to);
        if (!range) throw new Error(`Redis Cluster: no node serves slot ${slot} (key ${key})`);
        return byPort(range.master);
      },
      async masters() {
        const ports = new Set((await slotRanges(anyRunning())).map((r) => r.master));
        return [...ports].sort((a, b) => a - b).map(byPort);
      },
      waitForFailover: (killedPort, timeoutMs = 20_000) =>
        until(`failover away from ${killedPort}`, timeoutMs, () => healthy(killedPort)),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
