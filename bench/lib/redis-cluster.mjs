/**
 * A private Redis Cluster for one bench session: six empty, non-persistent
 * redis-server processes on free ports (three masters, one replica each),
 * joined by `redis-cli --cluster create`. The same recipe as
 * tests/helpers/redis-cluster.ts (which the bench, plain ESM, cannot import).
 * Every process is tracked by processes.mjs, so an interrupted bench kills
 * them too.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createClient } from "redis";
import { freePort, startListening, StartError } from "./processes.mjs";

const SLOTS = 16384;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One command to 127.0.0.1:`port` on a connection of its own (RESP2: replies as plain arrays and strings). */
async function nodeCommand(port, args) {
  const client = createClient({
    RESP: 2,
    socket: { host: "127.0.0.1", port, reconnectStrategy: false, connectTimeout: 1000 },
  });
  client.on("error", () => {}); // a refused connection is reported by connect()
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

const clusterInfo = async (port) =>
  Object.fromEntries(
    String(await nodeCommand(port, ["CLUSTER", "INFO"]))
      .split(/\r?\n/)
      .map((line) => line.split(":", 2)),
  );

/**
 * True once all six say cluster_state:ok and know each other, and every master has a linked replica. (CLUSTER
 * SLOTS lists an empty master's replica only after a replication ping, up to 10 s later: the nodes do not need it.)
 */
async function ready(ports) {
  for (const port of ports) {
    const info = await clusterInfo(port);
    if (info.cluster_state !== "ok" || info.cluster_slots_ok !== String(SLOTS)) return false;
    if (info.cluster_known_nodes !== String(ports.length)) return false;
  }
  // Replicas in sync: REDIS_REPLICA_ACKS's WAIT would otherwise time out (250 ms) on the first writes.
  const replication = await Promise.all(ports.map((port) => nodeCommand(port, ["INFO", "replication"])));
  return replication.filter((text) => String(text).includes("master_link_status:up")).length === ports.length / 2;
}

/**
 * Starts the cluster; resolves once it serves every slot with a linked replica per master.
 * Returns `{ seeds: "127.0.0.1:P1,…", ports, pids, stop() }`; throws StartError (the session is then skipped).
 */
export async function startRedisCluster({ bin = "/usr/bin/redis-server", cli = "/usr/bin/redis-cli" } = {}) {
  const ports = new Set();
  while (ports.size < 12) ports.add(await freePort()); // a client port and a cluster bus port per node
  const [clientPorts, busPorts] = [[...ports].slice(0, 6), [...ports].slice(6)];
  const root = mkdtempSync(join(tmpdir(), "huddle-bench-redis-cluster-"));
  const removeDir = () => rmSync(root, { recursive: true, force: true });
  process.on("exit", removeDir);
  const servers = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop(0)));
    removeDir();
    process.off("exit", removeDir);
  };
  try {
    const started = await Promise.allSettled(
      clientPorts.map((port, i) => {
        const dir = join(root, String(port));
        mkdirSync(dir);
        const args = [
          ...["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no"],
          ...["--save", "", "--appendonly", "no"],
          ...["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", String(busPorts[i])],
          // A replica's first sync starts at once, not after the default 5 s wait for more replicas.
          ...["--repl-diskless-sync-delay", "0"],
          // Gossip runs at a pace set by the node timeout: 2 s (not 15) gets the cluster ready in a few seconds,
          // and still leaves a busy machine's stalls well short of a failover.
          ...["--cluster-node-timeout", "2000"],
        ];
        return startListening("redis-server (cluster)", bin, args, {
          port,
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
        });
      }),
    );
    for (const s of started) if (s.status === "fulfilled") servers.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
    const seeds = clientPorts.map((port) => `127.0.0.1:${port}`);
    const { stdout } = await promisify(execFile)(
      cli,
      ["--cluster", "create", ...seeds, "--cluster-replicas", "1", "--cluster-yes"],
      { timeout: 30_000 },
    ).catch((error) => {
      throw new StartError("redis-cli --cluster create", `failed: ${error.message} ${error.stdout ?? ""}`);
    });
    if (!stdout.includes(`All ${SLOTS} slots covered`)) {
      throw new StartError("redis-cli --cluster create", `did not cover all slots: ${stdout}`);
    }
    const deadline = Date.now() + 20_000;
    while (!(await ready(clientPorts).catch(() => false))) {
      if (Date.now() > deadline) throw new StartError("Redis Cluster", "not ok with linked replicas within 20 s");
      await sleep(100);
    }
    return { seeds: seeds.join(","), ports: clientPorts, pids: servers.map((s) => s.pid), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
