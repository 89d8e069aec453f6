/**
 * Huddle nodes as separate processes (`node dist/server.js`), the way a
 * deployment runs them, configured only through the environment.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "../helpers/ports";
import { ensureServerBuilt, SERVER_BUNDLE } from "../helpers/server-bundle";
import { TEST_SECRET } from "../helpers/tokens";
import { REPO_ROOT } from "./nginx-harness";

export { SERVER_BUNDLE };

/** Brings dist/ up to date with scripts/build.mjs, which does nothing when no input changed (`npm test` builds first anyway). */
export function ensureBuilt(): void {
  ensureServerBuilt();
}

export interface NodeProcess {
  readonly nodeId: string;
  readonly port: number;
  /** host:port, as an nginx `server` line wants it. */
  readonly address: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** What the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
}

export interface NodeOptions {
  nodeId: string;
  redisUrl?: string;
  env?: Record<string, string>;
}

/** Spawns a node and resolves once its /healthz answers; rejects with its output if it exits first. */
export async function startNode(options: NodeOptions): Promise<NodeProcess> {
  ensureBuilt();
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    PORT: String(port),
    HOST: "127.0.0.1",
    NODE_ID: options.nodeId,
    JWT_SECRET: TEST_SECRET,
    DEV_TOKENS: "1",
    LOG_LEVEL: "warn",
    // Where the other nodes forward this node's Socket.IO requests (the default, <hostname>:PORT, listens on
    // HOST, loopback here).
    ADVERTISE_URL: `http://127.0.0.1:${port}`,
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...options.env,
  };
  const child = spawn(process.execPath, ["--enable-source-maps", SERVER_BUNDLE], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `node ${options.nodeId} exited (${child.exitCode ?? child.signalCode}) before it was healthy:\n${output}`,
      );
    }
    const healthy = await fetch(`${url}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`node ${options.nodeId} did not answer /healthz within 20 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  return {
    nodeId: options.nodeId,
    port,
    address: `127.0.0.1:${port}`,
    url,
    child,
    output: () => output,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
