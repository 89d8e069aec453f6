/**
 * A load generator, forked by bench/run.mjs (one or more per run so their CPU
 * does not compete with the runner's measurements). It holds socket.io-client
 * connections (WebSocket only) and answers the runner's commands over IPC:
 *
 * - `connect`: open connections, timing each from creation to `connect`;
 * - `setup`: connect and join each client to its room;
 * - `phase-prepare` / `phase-send` / `phase-wait`: send messages at a rate from
 *   this process's senders, then count what every local client received;
 *   with a `mix`, some of those operations are changes (§8: reaction toggles,
 *   edits of the sender's own messages), and `phase-acks` reports the changes
 *   acked, so that every client can be checked for each `message:updated`;
 * - readers (§9) answer every `message:new` with a public `room:read` of it;
 * - `list-setup` / `list-run`: one user in many rooms calls `rooms:list`.
 *
 * A message's text is `phase|loader|seq|sendTime`: (loader, seq) identifies it
 * for loss and duplicate counting, and the send time gives the end-to-end
 * latency when the receiver lives in the sending process (same clock). A
 * change is identified by the (id, rev) of the message its ack returns.
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
/**
 * @type {{socket: import("socket.io-client").Socket, room?: string, sender?: boolean, reader?: boolean,
 *   seen?: Uint8Array[], seenPhase?: number, recent?: string[], own?: string[], reacted?: Set<string>,
 *   pending?: Set<string>, updates?: Set<string>, updatesPhase?: number}[]}
 */
let clients = [];
/** The connection of the user whose rooms `list-run` lists. */
let listSocket;
let phase = null;
let stale = 0;
/** (id, rev) of every change acked by this process, to tell a change that changed nothing (it repeats a rev). */
const changesAcked = new Set();
/** Message ids a changing client remembers: the room's latest, and its own latest. */
const RECENT = 16;
const EMOJI = "👍";

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

/**
 * Resolves when `done()` holds, or when `progress()` has not changed for `quietMs` (silence means loss), or after
 * `capMs` (an overloaded server drains its backlog slowly but steadily).
 */
async function until(done, progress, quietMs, capMs) {
  const started = now();
  let lastProgress = now();
  let last = -1;
  while (!done()) {
    const count = progress();
    if (count !== last) {
      last = count;
      lastProgress = now();
    }
    if (now() - lastProgress > quietMs || now() - started > capMs) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
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

const remember = (list, id) => {
  list.push(id);
  if (list.length > RECENT) list.shift();
};

function onMessage(client, message) {
  const text = message?.text;
  if (typeof text !== "string") return;
  if (client.recent && typeof message.id === "string") remember(client.recent, message.id);
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
  if (client.reader) {
    if (ph.readSpreadMs > 0) setTimeout(markRead, Math.random() * ph.readSpreadMs, client, ph, message.id);
    else markRead(client, ph, message.id);
  }
  const t = wall();
  if (t < ph.firstRecv) ph.firstRecv = t;
  ph.lastRecv = t;
  if (origin === loaderId) ph.latency.record((now() - Number(parts[3])) * 1000);
}

/** A public `room:read` up to `id` (§9), timed from emit to ack. */
function markRead(client, ph, id) {
  const t = now();
  ph.readsSent++;
  client.socket.emit("room:read", { roomId: client.room, upTo: id }, (ack) => {
    ph.readAck.record((now() - t) * 1000);
    if (ack?.ok) ph.readsAcked++;
    else {
      const key = `room:read ${ack?.error?.code ?? JSON.stringify(ack)}`;
      ph.otherErrors[key] = (ph.otherErrors[key] ?? 0) + 1;
      ph.readErrors++;
    }
  });
}

/** A `message:updated`: counted once per (id, rev) per client; the check against what was acked comes at the end. */
function onUpdated(client, message) {
  const ph = phase;
  if (!ph || typeof message?.id !== "string") return;
  if (message.roomId !== client.room) {
    ph.wrongRoom++;
    return;
  }
  if (client.updatesPhase !== ph.id) {
    client.updatesPhase = ph.id;
    client.updates = new Set();
  }
  const key = `${message.id}|${message.rev}`;
  if (client.updates.has(key)) {
    ph.updateDuplicates++;
    return;
  }
  client.updates.add(key);
  ph.updatesReceived++;
  const t = wall();
  if (t < ph.firstRecv) ph.firstRecv = t;
  ph.lastRecv = t;
}

/** Picks the next client, from `start`, that has a message to change; null when none has. */
function pickChange(senders, start, kind) {
  for (let i = 0; i < senders.length; i++) {
    const client = senders[(start + i) % senders.length];
    const pool = kind === "edit" ? client.own : client.recent;
    if (!pool || pool.length === 0) continue;
    // Any recent one this client has no change in flight for: one change at a time per (client, message).
    const from = Math.floor(Math.random() * pool.length);
    for (let j = 0; j < pool.length; j++) {
      const id = pool[(from + j) % pool.length];
      if (!client.pending.has(id)) return { client, id, next: start + i + 1 };
    }
  }
  return null;
}

/**
 * One change: a reaction toggle (add if this user has not reacted, else remove) or an edit to a new text. Each
 * changes the message (the same user never has two changes of one message in flight), so each is broadcast once.
 */
function sendChange(ph, kind, client, id, seq) {
  const t = now();
  let event;
  let payload;
  if (kind === "edit") {
    event = "message:edit";
    payload = { roomId: client.room, id, text: `${ph.id}|${loaderId}|e${seq}|${t.toFixed(3)}` };
  } else {
    event = client.reacted.has(id) ? "reaction:remove" : "reaction:add";
    payload = { roomId: client.room, id, emoji: EMOJI };
  }
  client.pending.add(id);
  ph.changesSent++;
  client.socket.emit(event, payload, (ack) => {
    client.pending.delete(id);
    ph.changeAck[kind].record((now() - t) * 1000);
    if (!ack?.ok) {
      const key = `${event} ${ack?.error?.code ?? JSON.stringify(ack)}`;
      ph.otherErrors[key] = (ph.otherErrors[key] ?? 0) + 1;
      ph.changeErrors++;
      return;
    }
    if (event === "reaction:add") client.reacted.add(id);
    else if (event === "reaction:remove") client.reacted.delete(id);
    const key = `${ack.message?.id}|${ack.message?.rev}`;
    ph.changesAcked++;
    if (ack.message?.rev === ack.message?.id || changesAcked.has(key)) {
      ph.changeNoops++;
      return;
    }
    changesAcked.add(key);
    (ph.changeKeys[client.room] ??= []).push(key);
  });
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
      const client = { socket: result.socket, room: spec.room, sender: spec.sender, reader: spec.reader };
      if (spec.reader) {
        client.socket.on("read:updated", () => {
          if (phase) phase.readUpdated++;
        });
      }
      if (spec.changes) {
        Object.assign(client, { recent: [], own: [], reacted: new Set(), pending: new Set() });
        client.socket.on("message:updated", (message) => onUpdated(client, message));
      }
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

  "phase-prepare"({ phaseId, readSpreadMs = 0 }) {
    phase = {
      id: phaseId,
      /** Readers wait a random 0–readSpreadMs after a message before marking it read (0: at once). */
      readSpreadMs,
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
      /** Refused changes and reads, by event and code (ackErrors is for message:send). */
      otherErrors: {},
      // Changes (§8)
      ops: 0,
      changesSent: 0,
      changesAcked: 0,
      changeErrors: 0,
      changeNoops: 0,
      changeFallbacks: 0,
      changeAck: { reaction: new Histogram(), edit: new Histogram() },
      changeKeys: {},
      updatesReceived: 0,
      updateDuplicates: 0,
      // Reads (§9)
      readsSent: 0,
      readsAcked: 0,
      readErrors: 0,
      readAck: new Histogram(),
      readUpdated: 0,
    };
    stale = 0;
    return {};
  },

  /**
   * Sends `rate` operations a second for `durationMs`, round-robin over this process's senders: messages, and
   * with `mix` ({ reaction, edit }: fractions of the operations) reaction toggles and edits of recent messages.
   * With `outstanding`: a closed loop instead, each sender keeping that many sends in flight (the next one as
   * soon as an ack comes back) for `durationMs`, for the most a server sustains (the durable throughput).
   */
  async "phase-send"({ rate, durationMs, mix, outstanding }) {
    const ph = phase;
    const senders = clients.filter((c) => c.sender);
    const total = senders.length === 0 ? 0 : Math.round((rate * durationMs) / 1000);
    const sentByRoom = {};
    const sendOne = (client, seq, onAck) => {
      const t = now();
      const text = `${ph.id}|${loaderId}|${seq}|${t.toFixed(3)}`;
      sentByRoom[client.room] = (sentByRoom[client.room] ?? 0) + 1;
      client.socket.emit("message:send", { roomId: client.room, text }, (ack) => {
        ph.ack.record((now() - t) * 1000);
        if (ack?.ok) {
          ph.acked++;
          if (client.own && typeof ack.message?.id === "string") remember(client.own, ack.message.id);
        } else {
          const key = ack?.error?.code ?? JSON.stringify(ack);
          ph.ackErrors[key] = (ph.ackErrors[key] ?? 0) + 1;
        }
        onAck?.(client);
      });
    };
    if (outstanding) {
      const startWall = wall();
      // Closed when the phase ends: a send after that would be missing from sentByRoom, already reported.
      let open = true;
      const next = (client) => {
        if (open) sendOne(client, ph.sent++, next);
      };
      for (const client of senders) for (let k = 0; k < outstanding; k++) next(client);
      await new Promise((resolve) => setTimeout(resolve, durationMs));
      open = false;
      // Acks within the window only: those of the sends still in flight would flatter the rate.
      return { sent: ph.sent, changesSent: 0, sentByRoom, startWall, endWall: wall(), ackedInWindow: ph.acked };
    }
    let changer = 0;
    const operate = (op) => {
      // A low-discrepancy sequence spreads each kind evenly over the phase.
      const r = (op * 0.6180339887498949) % 1;
      const kind = !mix ? "send" : r < mix.reaction ? "reaction" : r < mix.reaction + mix.edit ? "edit" : "send";
      if (kind !== "send") {
        const picked = pickChange(senders, changer, kind);
        if (picked) {
          changer = picked.next;
          return sendChange(ph, kind, picked.client, picked.id, op);
        }
        ph.changeFallbacks++;
      }
      sendOne(senders[ph.sent % senders.length], ph.sent);
      ph.sent++;
    };
    const startWall = wall();
    const started = now();
    await new Promise((resolve) => {
      const tick = () => {
        const elapsed = now() - started;
        const due = Math.min(total, Math.floor((rate * Math.min(elapsed, durationMs)) / 1000));
        while (ph.ops < due) operate(ph.ops++);
        if (elapsed >= durationMs) {
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(tick, 2);
    });
    return { sent: ph.sent, changesSent: ph.changesSent, sentByRoom, startWall, endWall: wall() };
  },

  /** Waits (like phase-wait) until every change sent is answered; reports the changes acked, by room. */
  async "phase-acks"({ quietMs, capMs }) {
    const ph = phase;
    const answered = () => ph.changesAcked + ph.changeErrors;
    await until(() => answered() >= ph.changesSent, answered, quietMs, capMs);
    return { changeKeys: ph.changeKeys };
  },

  /**
   * Waits until every local client has every message sent to its room
   * (`expectedByRoom`, summed over all loaders) and every local send is acked,
   * or nothing new arrived for `quietMs`, or `capMs` passed; then reports.
   */
  async "phase-wait"({ expectedByRoom, expectedUpdates = {}, quietMs, capMs }) {
    const ph = phase;
    let expected = 0;
    let updatesExpected = 0;
    let readsExpected = 0;
    for (const client of clients) {
      const count = expectedByRoom[client.room] ?? 0;
      expected += count;
      if (client.reader) readsExpected += count;
      if (client.recent) updatesExpected += expectedUpdates[client.room]?.length ?? 0;
    }
    const sendsAnswered = () => ph.acked + Object.values(ph.ackErrors).reduce((a, b) => a + b, 0);
    const changesAnswered = () => ph.changesAcked + ph.changeErrors;
    const readsAnswered = () => ph.readsAcked + ph.readErrors;
    const progress = () => ph.unique + ph.updatesReceived + sendsAnswered() + changesAnswered() + readsAnswered();
    await until(
      () =>
        ph.unique >= expected &&
        ph.updatesReceived >= updatesExpected &&
        sendsAnswered() >= ph.sent &&
        changesAnswered() >= ph.changesSent &&
        readsAnswered() >= ph.readsSent &&
        ph.readsSent >= readsExpected,
      progress,
      quietMs,
      capMs,
    );
    // Every client must have every change of its room exactly once: what it lacks is lost, what nobody acked is extra.
    let updatesLost = 0;
    let updatesUnexpected = 0;
    const expectedSets = {};
    for (const client of clients) {
      if (!client.recent) continue;
      const keys = (expectedSets[client.room] ??= new Set(expectedUpdates[client.room] ?? []));
      const seen = client.updatesPhase === ph.id ? client.updates : new Set();
      for (const key of keys) if (!seen.has(key)) updatesLost++;
      for (const key of seen) if (!keys.has(key)) updatesUnexpected++;
    }
    return {
      updatesExpected,
      updatesReceived: ph.updatesReceived,
      updatesLost,
      updatesUnexpected,
      updateDuplicates: ph.updateDuplicates,
      changesSent: ph.changesSent,
      changesAcked: ph.changesAcked,
      changeErrors: ph.changeErrors,
      changeNoops: ph.changeNoops,
      changeFallbacks: ph.changeFallbacks,
      reactionAck: ph.changeAck.reaction.toJSON(),
      editAck: ph.changeAck.edit.toJSON(),
      readsExpected,
      readsSent: ph.readsSent,
      readsAcked: ph.readsAcked,
      readErrors: ph.readErrors,
      readAck: ph.readAck.toJSON(),
      readUpdated: ph.readUpdated,
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
      otherErrors: ph.otherErrors,
      unacked: ph.sent - sendsAnswered(),
      changesUnanswered: ph.changesSent - changesAnswered(),
      readsUnanswered: ph.readsSent - readsAnswered(),
    };
  },

  /**
   * One user (`lister`) joins `rooms` rooms on one connection; another (`writer`) joins them too and sends
   * `messages` messages to each, so every room has a last message and unread messages for the lister.
   */
  async "list-setup"({ lister, writer, rooms, messages, timeoutMs }) {
    const errors = {};
    const fail = (what) => (errors[what] = (errors[what] ?? 0) + 1);
    const open = async (spec) => {
      const result = await connectOne({ ...spec, token: token(spec.userId) }, timeoutMs);
      if (result.error) throw new Error(`list-setup: ${spec.userId}: ${result.error}`);
      clients.push({ socket: result.socket });
      return result.socket;
    };
    const [listing, writing] = await Promise.all([open(lister), open(writer)]);
    const call = (socket, event, payload) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve({ ok: false, error: { code: "timeout" } }), timeoutMs);
        socket.emit(event, payload, (ack) => {
          clearTimeout(timer);
          resolve(ack);
        });
      });
    const ids = Array.from({ length: rooms }, (_, i) => `${lister.prefix}-${i}`);
    const t0 = wall();
    await pool(ids, 20, async (roomId) => {
      for (const [socket, who] of [
        [listing, "lister"],
        [writing, "writer"],
      ]) {
        const ack = await call(socket, "room:join", { roomId });
        if (!ack?.ok) fail(`${who} room:join ${ack?.error?.code ?? JSON.stringify(ack)}`);
      }
      for (let m = 0; m < messages; m++) {
        const ack = await call(writing, "message:send", { roomId, text: `list|${m}` });
        if (!ack?.ok) fail(`message:send ${ack?.error?.code ?? JSON.stringify(ack)}`);
      }
    });
    listSocket = listing;
    return { errors, setupMs: Math.round(wall() - t0) };
  },

  /** `calls` `rooms:list` calls one after another, each timed from emit to ack. */
  async "list-run"({ calls }) {
    const latency = new Histogram();
    const errors = {};
    let fewest = Infinity;
    const startWall = wall();
    for (let i = 0; i < calls; i++) {
      const t = now();
      const ack = await new Promise((resolve) => listSocket.emit("rooms:list", {}, resolve));
      latency.record((now() - t) * 1000);
      if (ack?.ok) fewest = Math.min(fewest, ack.rooms.length);
      else {
        const key = ack?.error?.code ?? JSON.stringify(ack);
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
    return {
      latency: latency.toJSON(),
      errors,
      fewestRooms: Number.isFinite(fewest) ? fewest : null,
      startWall,
      endWall: wall(),
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
