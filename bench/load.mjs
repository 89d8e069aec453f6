/**
 * A load generator, forked by bench/run.mjs (one or more per run so their CPU
 * does not compete with the runner's measurements). It holds socket.io-client
 * connections (WebSocket only) and answers the runner's commands over IPC:
 *
 * - `connect`: open connections, timing each from creation to `connect`;
 * - `setup`: connect and join each client to its room;
 * - `phase-prepare` / `phase-send` / `phase-wait`: send messages at a rate from
 *   this process's senders, then count what every local client received.
 *
 * A message's text is `phase|loader|seq|sendTime`: (loader, seq) identifies it
 * for loss and duplicate counting, and the send time gives the end-to-end
 * latency when the receiver lives in the sending process (same clock).
 */
import { createSecretKey } from "node:crypto";
import jwt from "jsonwebtoken";
import { performance } from "node:perf_hooks";
import { io } from "socket.io-client";
import { Histogram } from "./lib/stats.mjs";

const now = () => performance.now();
/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
const wall = () => performance.timeOrigin + performance.now();

let loaderId = 0;
let secret;
/** @type {{socket: import("socket.io-client").Socket, room?: string, sender?: boolean, seen?: Uint8Array[], seenPhase?: number}[]} */
let clients = [];
let phase = null;
let stale = 0;

function token(userId) {
  return jwt.sign({ sub: userId }, secret, { algorithm: "HS256" });
}

async function pool(items, concurrency, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Opens one connection; resolves with the socket and the time to `connect`, or an error. */
function connectOne(spec, timeoutMs) {
  const started = now();
  const socket = io(spec.url, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    timeout: timeoutMs,
    auth: { token: spec.token, v: 1 },
    localAddress: spec.localAddress,
  });
  return new Promise((resolve) => {
    const done = (result) => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
      if (result.error) socket.close();
      resolve({ socket, ...result });
    };
    const onConnect = () => done({ ms: now() - started });
    const onError = (error) => done({ error: error?.message ?? String(error) });
    const timer = setTimeout(() => done({ error: `no connect within ${timeoutMs} ms` }), timeoutMs + 1000);
    socket.once("connect", onConnect);
    socket.once("connect_error", onError);
  });
}

function join(client, timeoutMs) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(`room:join of ${client.room} not acked within ${timeoutMs} ms`), timeoutMs);
    client.socket.emit("room:join", { roomId: client.room }, (ack) => {
      clearTimeout(timer);
      resolve(ack?.ok ? null : `room:join refused: ${JSON.stringify(ack?.error ?? ack)}`);
    });
  });
}

function onMessage(client, message) {
  const text = message?.text;
  if (typeof text !== "string") return;
  const parts = text.split("|");
  const ph = phase;
  if (!ph || Number(parts[0]) !== ph.id) {
    stale++;
    return;
  }
  if (message.roomId !== client.room) {
    ph.wrongRoom++;
    return;
  }
  const origin = Number(parts[1]);
  const seq = Number(parts[2]);
  if (client.seenPhase !== ph.id) {
    client.seenPhase = ph.id;
    client.seen = [];
  }
  let seen = client.seen[origin];
  if (!seen || seq >= seen.length) {
    const grown = new Uint8Array(Math.max(1024, (seq + 1) * 2));
    if (seen) grown.set(seen);
    seen = client.seen[origin] = grown;
  }
  if (seen[seq]) {
    ph.duplicates++;
    return;
  }
  seen[seq] = 1;
  ph.unique++;
  const t = wall();
  if (t < ph.firstRecv) ph.firstRecv = t;
  ph.lastRecv = t;
  if (origin === loaderId) ph.latency.record((now() - Number(parts[3])) * 1000);
}

const commands = {
  init(msg) {
    loaderId = msg.loaderId;
    // A KeyObject: jsonwebtoken given a string tries it as a PEM key first, slowly.
    secret = createSecretKey(Buffer.from(msg.secret));
    return { pid: process.pid };
  },

  /** Opens `clients` connections, `concurrency` at a time; keeps them open. */
  async connect({ specs, concurrency, timeoutMs }) {
    for (const spec of specs) spec.token = token(spec.userId);
    const latency = new Histogram();
    const errors = {};
    let connected = 0;
    const startWall = wall();
    await pool(specs, concurrency, async (spec) => {
      const result = await connectOne(spec, timeoutMs);
      if (result.error) {
        errors[result.error] = (errors[result.error] ?? 0) + 1;
        return;
      }
      connected++;
      latency.record(result.ms * 1000);
      clients.push({ socket: result.socket });
    });
    return { connected, errors, latency: latency.toJSON(), startWall, endWall: wall() };
  },

  /** Connects each member and joins it to its room. */
  async setup({ members, concurrency, timeoutMs }) {
    for (const spec of members) spec.token = token(spec.userId);
    const errors = {};
    let joined = 0;
    await pool(members, concurrency, async (spec) => {
      const result = await connectOne(spec, timeoutMs);
      const problem = result.error ?? null;
      const client = { socket: result.socket, room: spec.room, sender: spec.sender };
      const failure = problem ?? (await join(client, timeoutMs));
      if (failure) {
        errors[failure] = (errors[failure] ?? 0) + 1;
        client.socket.close();
        return;
      }
      joined++;
      client.socket.on("message:new", (message) => onMessage(client, message));
      clients.push(client);
    });
    return { joined, errors };
  },

  async disconnect() {
    for (const client of clients) client.socket.disconnect();
    clients = [];
    await new Promise((resolve) => setTimeout(resolve, 50));
    return {};
  },

  "phase-prepare"({ phaseId }) {
    phase = {
      id: phaseId,
      unique: 0,
      duplicates: 0,
      wrongRoom: 0,
      firstRecv: Infinity,
      lastRecv: 0,
      latency: new Histogram(),
      ack: new Histogram(),
      sent: 0,
      acked: 0,
      ackErrors: {},
    };
    stale = 0;
    return {};
  },

  /** Sends `rate` messages a second for `durationMs`, round-robin over this process's senders. */
  async "phase-send"({ rate, durationMs }) {
    const ph = phase;
    const senders = clients.filter((c) => c.sender);
    const total = senders.length === 0 ? 0 : Math.round((rate * durationMs) / 1000);
    const sentByRoom = {};
    const sendOne = (client, seq) => {
      const t = now();
      const text = `${ph.id}|${loaderId}|${seq}|${t.toFixed(3)}`;
      sentByRoom[client.room] = (sentByRoom[client.room] ?? 0) + 1;
      client.socket.emit("message:send", { roomId: client.room, text }, (ack) => {
        ph.ack.record((now() - t) * 1000);
        if (ack?.ok) ph.acked++;
        else {
          const key = ack?.error?.code ?? JSON.stringify(ack);
          ph.ackErrors[key] = (ph.ackErrors[key] ?? 0) + 1;
        }
      });
    };
    const startWall = wall();
    const started = now();
    await new Promise((resolve) => {
      const tick = () => {
        const elapsed = now() - started;
        const due = Math.min(total, Math.floor((rate * Math.min(elapsed, durationMs)) / 1000));
        while (ph.sent < due) {
          sendOne(senders[ph.sent % senders.length], ph.sent);
          ph.sent++;
        }
        if (elapsed >= durationMs) {
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(tick, 2);
    });
    return { sent: ph.sent, sentByRoom, startWall, endWall: wall() };
  },

  /**
   * Waits until every local client has every message sent to its room
   * (`expectedByRoom`, summed over all loaders) and every local send is acked,
   * or nothing new arrived for `quietMs`, or `capMs` passed; then reports.
   */
  async "phase-wait"({ expectedByRoom, quietMs, capMs }) {
    const ph = phase;
    let expected = 0;
    for (const client of clients) expected += expectedByRoom[client.room] ?? 0;
    const answered = () => ph.acked + Object.values(ph.ackErrors).reduce((a, b) => a + b, 0);
    const started = now();
    let lastProgress = now();
    let lastCount = -1;
    while (ph.unique < expected || answered() < ph.sent) {
      const count = ph.unique + answered();
      if (count !== lastCount) {
        lastCount = count;
        lastProgress = now();
      }
      if (now() - lastProgress > quietMs || now() - started > capMs) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return {
      expected,
      unique: ph.unique,
      duplicates: ph.duplicates,
      wrongRoom: ph.wrongRoom,
      stale,
      firstRecv: Number.isFinite(ph.firstRecv) ? ph.firstRecv : null,
      lastRecv: ph.lastRecv || null,
      latency: ph.latency.toJSON(),
      ack: ph.ack.toJSON(),
      sent: ph.sent,
      acked: ph.acked,
      ackErrors: ph.ackErrors,
      unacked: ph.sent - answered(),
    };
  },

  exit() {
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on("message", async (msg) => {
  try {
    const result = await commands[msg.cmd](msg);
    process.send({ id: msg.id, ok: true, result });
  } catch (error) {
    process.send({ id: msg.id, ok: false, error: error?.stack ?? String(error) });
  }
});
// The runner went away (crash, Ctrl-C): do not linger holding connections.
process.on("disconnect", () => process.exit(0));
