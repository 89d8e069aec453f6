/**
 * Rolling restart under load (§15): three real node processes sharing a private redis-server, behind the
 * repo's nginx template in plain round-robin. 1,000 Socket.IO clients (a quarter polling-only, the rest
 * polling then WebSocket) chat in 100 rooms of 10 while every node in turn is sent SIGTERM, waited for and
 * started again on its own port. Each client behaves as docs/protocol.md asks of a real one: on every
 * (re)connect it joins its room again with `since` = the latest position it holds, and it re-sends a message
 * whose ack it did not get (a timeout, a disconnect, `unavailable`) with the same clientMsgId until it is acked.
 *
 * Afterwards every acknowledged message is in its room's history exactly once (one stored message per
 * clientMsgId, none stored that was not acked), and every client holds exactly its room's history.
 *
 * About 30 s on an idle 2-core machine, up to 100 s when other suites load it; waits are generous and nothing
 * is timed. A failure names each client that misses messages, its sessions and events, and when each missing
 * message was stored relative to the restarts.
 */
import { closeAllClients, createClient, eventually, sleep, type HuddleClient } from "../helpers/clients";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { signToken } from "../helpers/tokens";
import { restHistory } from "../cluster/nodes";
import { startNginx, type TestNginx } from "./nginx-harness";
import { startNode, type NodeProcess } from "./node-processes";
import type { Message, SessionInfo } from "../../shared";

const CLIENTS = 1000;
const ROOMS = 100;
/** Every POLLING_EVERY-th client is polling-only: a quarter of them. */
const POLLING_EVERY = 4;
/** Messages a second, over all rooms, for the whole run. */
const RATE = 75;
/** Traffic before the first restart, and after each node is back. */
const SETTLE_MS = 2500;
const ACK_TIMEOUT_MS = 10_000;
/** Errors a real client retries (with the same clientMsgId). */
const RETRIED = new Set(["unavailable", "rate_limited", "not_joined"]);

const NODE_ENV = {
  RATE_BURST: "1000",
  RATE_PER_SEC: "1000",
  JOIN_RATE_BURST: "1000",
  JOIN_RATE_PER_SEC: "1000",
  MAX_CONNECTIONS_PER_USER: "100",
  // Every client comes through nginx, from 127.0.0.1: no per-address connection rate.
  CONNECT_RATE_PER_IP: "0",
};

type Ack<T> = { ok: true } & T;
type Refusal = { ok: false; error: { code: string; message?: string; retryAfterMs?: number } };
type JoinAck = Ack<{ history: Message[]; updates: Message[]; resumed: boolean }> | Refusal;
type SendAck = Ack<{ message: Message }> | Refusal;

interface Sim {
  index: number;
  roomId: string;
  pollingOnly: boolean;
  socket: HuddleClient;
  /** Ids of the room's messages this client holds (message:new, and join answers). */
  seen: Set<string>;
  /** The latest position it holds: what it resumes from. */
  last?: string;
  /** Connections so far (1 + reconnects). */
  connects: number;
  /** Joined its room on the current connection. */
  joined: boolean;
  /** The node of each session it had, in order. */
  nodes: string[];
  disconnects: string[];
  /** Joins with `since` answered resumed: false (the gap could not be filled: must not happen here). */
  notResumed: number;
  joinRefusals: string[];
  /** Woken when the client has joined on its current connection. */
  joinWaiters: (() => void)[];
  /** A send in progress (at most one at a time). */
  busy: boolean;
  /** What happened to it, for the diagnostics of a failure: connects, joins, message:new ids. */
  log: string[];
}

const t0 = Date.now();
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(2)}s`;
/** The part of a position that counts (`<epoch>-<n>` -> `n`), for short diagnostics. */
const short = (id: string | undefined) => id?.slice(id.lastIndexOf("-") + 1) ?? "-";

interface Acked {
  id: string;
  roomId: string;
  clientMsgId: string;
  client: number;
  attempts: number;
}

let redis: TestRedis;
let nodes: NodeProcess[] = [];
let nginx: TestNginx;
const sims: Sim[] = [];

beforeAll(async () => {
  redis = await startRedis();
  nodes = await Promise.all(
    ["roll-1", "roll-2", "roll-3"].map((nodeId) => startNode({ nodeId, redisUrl: redis.url, env: NODE_ENV })),
  );
  // 1,000 clients: their connections and the upstream ones, WebSocket and long polls, well past the default 512.
  nginx = await startNginx(
    nodes.map((node) => node.address),
    { workerConnections: 8192 },
  );
}, 90_000);

afterAll(async () => {
  closeAllClients();
  await nginx?.stop();
  await Promise.all(nodes.map((node) => node.stop()));
  await redis?.stop();
}, 30_000);

/** Emits with an ack and a timeout; resolves with the ack, or with the client-side error (timeout, disconnect). */
function emit<T>(socket: HuddleClient, event: string, payload: unknown): Promise<T | { clientError: string }> {
  return new Promise((resolve) => {
    (socket.timeout(ACK_TIMEOUT_MS).emit as (...args: unknown[]) => void)(
      event,
      payload,
      (error: Error | null, answer: T) => resolve(error ? { clientError: error.message } : answer),
    );
  });
}

function simulate(index: number, url: string, roomId: string): Sim {
  const pollingOnly = index % POLLING_EVERY === 0;
  const socket = createClient(url, {
    transports: pollingOnly ? ["polling"] : ["polling", "websocket"],
    claims: { name: `c${index}` },
    reconnection: true,
    reconnectionDelay: 200,
    reconnectionDelayMax: 2000,
    randomizationFactor: 0.5,
  });
  const sim: Sim = {
    index,
    roomId,
    pollingOnly,
    socket,
    seen: new Set(),
    connects: 0,
    joined: false,
    nodes: [],
    disconnects: [],
    notResumed: 0,
    joinRefusals: [],
    joinWaiters: [],
    busy: false,
    log: [],
  };
  socket.on("session", (session: SessionInfo) => {
    sim.nodes.push(session.nodeId);
    sim.log.push(`${stamp()} session ${session.nodeId} (${socket.io.engine?.id})`);
  });
  socket.on("disconnect", (reason) => {
    sim.joined = false;
    sim.disconnects.push(reason);
    sim.log.push(`${stamp()} disconnect: ${reason}`);
  });
  socket.on("message:new", (message: Message) => {
    if (message.roomId !== roomId) return;
    sim.seen.add(message.id);
    // While the join is in flight, an event may be past what its answer will hold: the position to resume from
    // moves only once joined (a join retried after a timeout must not skip what the first one would have answered).
    if (sim.joined) sim.last = message.id;
    sim.log.push(`new ${short(message.id)}`);
  });
  socket.on("connect", () => {
    sim.connects++;
    sim.joined = false;
    void join(sim, sim.connects);
  });
  return sim;
}

/** Joins the client's room on connection number `connection`, resuming from its latest position. */
async function join(sim: Sim, connection: number): Promise<void> {
  while (sim.connects === connection && sim.socket.connected) {
    const since = sim.last;
    const answer = await emit<JoinAck>(
      sim.socket,
      "room:join",
      since === undefined ? { roomId: sim.roomId } : { roomId: sim.roomId, since },
    );
    if (sim.connects !== connection) return;
    if ("clientError" in answer || !answer.ok) {
      const why = "clientError" in answer ? answer.clientError : answer.error.code;
      sim.joinRefusals.push(why);
      await sleep(("error" in answer && answer.error.retryAfterMs) || 200);
      continue;
    }
    if (since !== undefined && !answer.resumed) sim.notResumed++;
    sim.log.push(
      `${stamp()} joined since ${short(since)}: resumed ${answer.resumed}, history [${answer.history.map((m) => short(m.id)).join(" ")}]`,
    );
    for (const message of [...answer.history, ...answer.updates]) sim.seen.add(message.id);
    // The end of the answer's history; a message:new that came in meanwhile may be later, and resuming from
    // an earlier position only repeats what the client holds.
    const end = answer.history[answer.history.length - 1];
    if (end) sim.last = end.id;
    sim.joined = true;
    for (const wake of sim.joinWaiters.splice(0)) wake();
    return;
  }
}

const joinedNow = (sim: Sim) =>
  sim.joined && sim.socket.connected ? Promise.resolve() : new Promise<void>((r) => sim.joinWaiters.push(r));

test(`${CLIENTS} clients in ${ROOMS} rooms lose and double nothing while every node restarts in turn`, async () => {
  const startedAt = Date.now();
  const run = Math.random().toString(36).slice(2, 8);
  const rooms = Array.from({ length: ROOMS }, (_, r) => `roll-${run}-${r}`);

  // Connect in batches of 100, each client joining its room.
  for (let batch = 0; batch < CLIENTS; batch += 100) {
    const created: Sim[] = [];
    for (let i = batch; i < Math.min(CLIENTS, batch + 100); i++)
      created.push(simulate(i, nginx.url, rooms[i % ROOMS]!));
    sims.push(...created);
    await eventually(
      () => created.every((sim) => sim.joined),
      `clients ${batch}-${batch + created.length - 1} to connect and join (${created.filter((s) => s.joined).length} did)`,
      30_000,
    );
  }
  const connectedAt = Date.now();
  const firstNodes = new Map<string, number>();
  for (const sim of sims) firstNodes.set(sim.nodes[0]!, (firstNodes.get(sim.nodes[0]!) ?? 0) + 1);

  const acked: Acked[] = [];
  const failures: string[] = [];
  const retries = new Map<string, number>();
  let pending = 0;
  let sent = 0;

  /** One message, re-sent with the same clientMsgId until acked, as a real client does. */
  async function send(sim: Sim, clientMsgId: string): Promise<void> {
    sim.busy = true;
    pending++;
    sent++;
    try {
      for (let attempt = 1; ; attempt++) {
        if (attempt > 50) {
          failures.push(`client ${sim.index}: ${clientMsgId} not acked after 50 attempts`);
          return;
        }
        await joinedNow(sim);
        const answer = await emit<SendAck>(sim.socket, "message:send", {
          roomId: sim.roomId,
          text: `${clientMsgId} from c${sim.index}`,
          clientMsgId,
        });
        if (!("clientError" in answer) && answer.ok) {
          if (answer.message.clientMsgId !== clientMsgId || answer.message.roomId !== sim.roomId) {
            failures.push(`client ${sim.index}: ${clientMsgId} acked with ${JSON.stringify(answer.message)}`);
          }
          acked.push({ id: answer.message.id, roomId: sim.roomId, clientMsgId, client: sim.index, attempts: attempt });
          return;
        }
        const why = "clientError" in answer ? answer.clientError : answer.error.code;
        if (!("clientError" in answer) && !RETRIED.has(why)) {
          failures.push(`client ${sim.index}: ${clientMsgId} refused: ${JSON.stringify(answer.error)}`);
          return;
        }
        retries.set(why, (retries.get(why) ?? 0) + 1);
        await sleep(("error" in answer && answer.error.retryAfterMs) || 100);
      }
    } finally {
      sim.busy = false;
      pending--;
    }
  }

  // A first message in every room, so that every client holds a position to resume from.
  await Promise.all(rooms.map((_, r) => send(sims[r]!, `seed-${r}`)));
  await eventually(
    () => sims.every((sim) => sim.seen.size >= 1),
    "every client to get its room's first message",
    30_000,
  );

  // Steady traffic: RATE messages a second over all clients, in turn, skipping one whose send is in progress.
  let traffic = true;
  let cursor = 0;
  const sends: Promise<void>[] = [];
  const sender = (async () => {
    const from = Date.now();
    let due = 0;
    while (traffic) {
      const target = Math.floor(((Date.now() - from) * RATE) / 1000);
      for (; due < target; due++) {
        for (let tries = 0; tries < CLIENTS; tries++) {
          const sim = sims[cursor++ % CLIENTS]!;
          if (sim.busy) continue;
          sends.push(send(sim, `m-${sim.index}-${due}`));
          break;
        }
      }
      await sleep(20);
    }
  })();

  const restarts: string[] = [];
  await sleep(SETTLE_MS);
  const windows: { nodeId: string; term: number; exited: number; ready: number }[] = [];
  for (const node of nodes) {
    const term = Date.now();
    await node.stop();
    const exited = Date.now();
    await node.restart();
    const ready = Date.now();
    windows.push({ nodeId: node.nodeId, term, exited, ready });
    restarts.push(`${node.nodeId} exited in ${exited - term} ms, ready ${ready - exited} ms later`);
    await sleep(SETTLE_MS);
  }
  traffic = false;
  await sender;
  const trafficEnded = Date.now();
  await eventually(() => pending === 0, `every send to be acked (${pending} pending)`, 60_000);
  await Promise.all(sends);

  // (a) Every acked message is in its room's history exactly once, and nothing else is.
  const token = signToken({ name: "auditor" });
  const histories = new Map<string, Message[]>();
  for (const roomId of rooms) histories.set(roomId, await restHistory(nginx.url, roomId, token));
  const problems: string[] = [...failures];
  const ackedIds = new Map<string, Acked>();
  for (const entry of acked) {
    const other = ackedIds.get(`${entry.roomId} ${entry.clientMsgId}`);
    if (other && other.id !== entry.id)
      problems.push(`${entry.clientMsgId} acked twice with different ids: ${other.id}, ${entry.id}`);
    ackedIds.set(`${entry.roomId} ${entry.clientMsgId}`, entry);
  }
  for (const roomId of rooms) {
    const history = histories.get(roomId)!;
    const byClientMsgId = new Map<string, string[]>();
    const ids = new Set<string>();
    for (const message of history) {
      if (ids.has(message.id)) problems.push(`${roomId}: message ${message.id} twice in history`);
      ids.add(message.id);
      const list = byClientMsgId.get(message.clientMsgId ?? "(none)") ?? [];
      list.push(message.id);
      byClientMsgId.set(message.clientMsgId ?? "(none)", list);
    }
    for (const [clientMsgId, list] of byClientMsgId) {
      if (list.length > 1) problems.push(`${roomId}: clientMsgId ${clientMsgId} stored ${list.length} times: ${list}`);
      else if (!ackedIds.has(`${roomId} ${clientMsgId}`))
        problems.push(`${roomId}: ${list[0]} (${clientMsgId}) is in history but was never acked`);
    }
    for (const entry of acked.filter((a) => a.roomId === roomId)) {
      if (!ids.has(entry.id))
        problems.push(`${roomId}: acked ${entry.id} (${entry.clientMsgId} of client ${entry.client}) not in history`);
    }
  }
  expect(problems.slice(0, 40)).toEqual([]);
  expect(acked.length).toBe(sent);

  // (b) Every client ends up holding exactly its room's history.
  const gaps = () =>
    sims.flatMap((sim) => {
      const history = histories.get(sim.roomId)!;
      const missing = history.filter((m) => !sim.seen.has(m.id)).map((m) => m.id);
      const extra = [...sim.seen].filter((id) => !history.some((m) => m.id === id));
      if (missing.length === 0 && extra.length === 0) return [];
      return [
        `client ${sim.index} (${sim.pollingOnly ? "polling-only" : "upgrading"}, ${sim.roomId}, ` +
          `${sim.socket.connected ? (sim.joined ? "joined" : "connected, not joined") : "disconnected"}, ` +
          `sessions on ${sim.nodes.join(" > ")}, disconnects: ${sim.disconnects.join(", ")}) ` +
          `misses ${missing.length} [${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}]` +
          (extra.length ? `, holds ${extra.length} not in history [${extra.slice(0, 5).join(", ")}]` : ""),
      ];
    });
  try {
    await eventually(() => gaps().length === 0, "every client to hold its room's history", 30_000);
  } catch {
    const list = gaps();
    // When each missing message was stored, against the restarts, and what nginx saw go wrong.
    const when = (ts: number) =>
      windows.map((w) => `${w.nodeId} term${ts - w.term >= 0 ? "+" : ""}${ts - w.term}ms`).join(" ");
    const missing = new Map<string, Message>();
    for (const sim of sims) {
      for (const m of histories.get(sim.roomId)!) if (!sim.seen.has(m.id)) missing.set(m.id, m);
    }
    const stored = [...missing.values()].map((m) => `${m.id} ${m.clientMsgId}: ${when(m.ts)}`);
    const nginxErrors = new Map<string, number>();
    for (const line of nginx.errorLog().split("\n")) {
      const kind = /\] \d+#\d+: \*\d+ ([^,(]+)/.exec(line)?.[1];
      if (kind) nginxErrors.set(kind, (nginxErrors.get(kind) ?? 0) + 1);
    }
    const gapped = sims.filter((sim) => histories.get(sim.roomId)!.some((m) => !sim.seen.has(m.id)));
    for (const sim of gapped.slice(0, 8)) {
      process.stderr.write(`client ${sim.index} ${sim.roomId}:\n  ${sim.log.join("\n  ")}\n`);
    }
    process.stderr.write(
      `restarts: ${windows.map((w) => `${w.nodeId} term ${((w.term - t0) / 1000).toFixed(2)}s exited ${((w.exited - t0) / 1000).toFixed(2)}s ready ${((w.ready - t0) / 1000).toFixed(2)}s`).join("; ")}\n`,
    );
    expect({
      clientsWithGaps: list.length,
      first: list.slice(0, 25),
      missing: stored.slice(0, 20),
      nginxErrors: Object.fromEntries(nginxErrors),
    }).toEqual({ clientsWithGaps: 0, first: [], missing: [], nginxErrors: {} });
  }

  // The restarts did something: every client lost its first session (its node restarted) and resumed.
  const neverReconnected = sims.filter((sim) => sim.connects < 2).map((sim) => sim.index);
  expect(neverReconnected).toEqual([]);
  expect(sims.filter((sim) => sim.notResumed > 0).map((sim) => sim.index)).toEqual([]);
  const reconnects = sims.reduce((n, sim) => n + sim.connects - 1, 0);
  expect(new Set(sims.flatMap((sim) => sim.nodes))).toEqual(new Set(nodes.map((node) => node.nodeId)));

  const reasons = new Map<string, number>();
  for (const sim of sims) for (const reason of sim.disconnects) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  const retried = acked.filter((a) => a.attempts > 1).length;
  process.stderr.write(
    [
      `rolling restart: ${CLIENTS} clients (${CLIENTS / POLLING_EVERY} polling-only) in ${ROOMS} rooms, ` +
        `connected in ${connectedAt - startedAt} ms (first sessions: ${[...firstNodes].map(([n, c]) => `${n} ${c}`).join(", ")})`,
      `restarts: ${restarts.join(", ")}; traffic ${trafficEnded - connectedAt} ms`,
      `messages acked: ${acked.length} (${retried} after a retry; retries: ${[...retries].map(([k, v]) => `${k} ${v}`).join(", ") || "none"})`,
      `reconnects: ${reconnects} (disconnect reasons: ${[...reasons].map(([k, v]) => `${k} ${v}`).join(", ")}); ` +
        `join refusals: ${sims.reduce((n, sim) => n + sim.joinRefusals.length, 0)}`,
      `total ${Date.now() - startedAt} ms`,
      "",
    ].join("\n"),
  );
}, 240_000);
