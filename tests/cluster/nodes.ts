/**
 * Real Huddle nodes for cluster tests: separate `node dist/server.js`
 * processes (so one can be SIGKILLed) sharing a private redis-server, with
 * short heartbeat intervals. dist/ is brought up to date first (rebuilt when
 * any input changed), so the processes run the code under test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { JoinResult, Message } from "../../shared";
import { freePort } from "../helpers/ports";
import { ensureServerBuilt } from "../helpers/server-bundle";
import { TEST_SECRET } from "../helpers/tokens";

const ROOT = join(__dirname, "..", "..");

/** Heartbeat settings that make a dead node reaped within about a second. */
export const FAST_PRESENCE = { PRESENCE_HEARTBEAT_MS: "150", PRESENCE_TTL_MS: "800", PRESENCE_REAP_MS: "150" };

export interface NodeProcess {
  readonly nodeId: string;
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** What the process wrote to stderr (its warnings and errors). */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

const running = new Set<NodeProcess>();

export async function startNode(
  redisUrl: string,
  nodeId: string,
  env: Record<string, string> = {},
): Promise<NodeProcess> {
  const bundle = ensureServerBuilt();
  const port = await freePort();
  const child = spawn(process.execPath, [bundle], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: "127.0.0.1",
      // A redis:// URL, or a Redis Cluster's seeds (tests/helpers/shared-redis.ts).
      ...(redisUrl.startsWith("redis") ? { REDIS_URL: redisUrl } : { REDIS_CLUSTER_NODES: redisUrl }),
      NODE_ID: nodeId,
      JWT_SECRET: TEST_SECRET,
      DEV_TOKENS: "1",
      LOG_LEVEL: "warn",
      ADVERTISE_URL: `http://127.0.0.1:${port}`,
      ...FAST_PRESENCE,
      ...env,
    },
    // CLUSTER_DEBUG=1 keeps the node's log lines (stdout) too, printed with its stderr when it stops.
    stdio: ["ignore", process.env.CLUSTER_DEBUG ? "pipe" : "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const url = `http://127.0.0.1:${port}`;
  const node: NodeProcess = {
    nodeId,
    port,
    url,
    child,
    exited,
    output: () => stderr,
    async kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const result = await exited;
      running.delete(node);
      // CLUSTER_DEBUG=1 prints what each node logged (LOG_LEVEL warn unless the test set another).
      if (process.env.CLUSTER_DEBUG) process.stderr.write(`--- ${nodeId} (${String(result)})\n${stderr}\n`);
      return result;
    },
  };
  running.add(node);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`node ${nodeId} exited at start-up: ${stderr}`);
    if ((await readiness(url)) === 200) return node;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await node.kill("SIGKILL");
  throw new Error(`node ${nodeId} was not ready within 15 s: ${stderr}`);
}

/** The status of GET /readyz, or 0 when the node does not answer. */
export async function readiness(url: string): Promise<number> {
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

export async function stopAllNodes(): Promise<void> {
  await Promise.all([...running].map((node) => node.kill("SIGKILL")));
}

/**
 * A TCP forwarder standing in for a load balancer: clients connect to it, it
 * forwards to whichever node `target` names at the time of connecting.
 */
export interface Balancer {
  readonly url: string;
  target: number;
  close(): Promise<void>;
}

export async function startBalancer(target: number): Promise<Balancer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((downstream) => {
    const upstream = connect(balancer.target, "127.0.0.1");
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.pipe(upstream).pipe(downstream);
    upstream.on("close", () => downstream.end());
    downstream.on("close", () => upstream.end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const balancer: Balancer = {
    url: `http://127.0.0.1:${port}`,
    target,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return balancer;
}

/** Emits `event` with an ack callback; resolves with the ack or fails naming the event. */
export function request(socket: { emit: Function }, event: string, payload: unknown, timeoutMs = 5000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for the ack of "${event}"`)),
      timeoutMs,
    );
    socket.emit(event, payload, (response: unknown) => {
      clearTimeout(timer);
      resolve(response);
    });
  });
}

/** Joins and fails unless the join is acknowledged ok. */
export async function joinRoom(socket: { emit: Function }, roomId: string, since?: string): Promise<JoinResult> {
  const ack = await request(socket, "room:join", since === undefined ? { roomId } : { roomId, since });
  if (!ack.ok) throw new Error(`room:join ${roomId} failed: ${JSON.stringify(ack.error)}`);
  return ack;
}

/** Sends and fails unless the message is acknowledged ok. */
export async function sendMessage(
  socket: { emit: Function },
  roomId: string,
  text: string,
  clientMsgId?: string,
): Promise<Message> {
  const ack = await request(
    socket,
    "message:send",
    clientMsgId === undefined ? { roomId, text } : { roomId, text, clientMsgId },
  );
  if (!ack.ok) throw new Error(`message:send failed: ${JSON.stringify(ack.error)}`);
  return ack.message;
}

/** A room's whole retained history over REST, oldest first. */
export async function restHistory(url: string, roomId: string, token: string): Promise<Message[]> {
  const all: Message[] = [];
  let after = "0-0";
  for (;;) {
    const response = await fetch(`${url}/api/rooms/${roomId}/messages?after=${after}&limit=100`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (response.status !== 200) throw new Error(`GET messages answered ${response.status}`);
    const page = (await response.json()) as { messages: Message[]; more: boolean };
    all.push(...page.messages);
    if (!page.more || page.messages.length === 0) return all;
    after = page.messages[page.messages.length - 1]!.id;
  }
}
