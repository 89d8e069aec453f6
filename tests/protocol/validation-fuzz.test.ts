/**
 * §3 "Any payload that does not match its schema is answered with
 * bad_request and changes nothing", events without an ack, unknown events,
 * broken packets, and a bounded fuzz run after which the node still serves a
 * normal chat and nothing leaked into any room.
 */
import { closeAllClients, collect, eventually, sleep, waitForEvent, type HuddleClient } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken } from "../helpers/tokens";
import { CLIENT_EVENT_NAMES, type Message, type PresenceEvent } from "../../shared";
import {
  connectSession,
  emitLoose,
  join,
  openRaw,
  refusedWith,
  request,
  requestArgs,
  send,
  uniqueRoom,
} from "./support";

let server: TestApp;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);

beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  server = await startApp({ TYPING_TTL_MS: "10000" });
});
afterAll(async () => {
  closeAllClients();
  process.off("unhandledRejection", onUnhandled);
  await stopAllApps();
});

/** Everything a socket receives, in order, except `session`. */
function record(socket: HuddleClient): { items: Array<[string, unknown]> } {
  const sink = { items: [] as Array<[string, unknown]> };
  socket.onAny((event: string, payload: unknown) => {
    if (event !== "session") sink.items.push([event, payload]);
  });
  return sink;
}

/**
 * A round trip through the server on each socket: whatever the server emitted to a socket before acking the
 * action that caused it is in by now (one connection's packets arrive in order).
 */
async function settle(...sockets: HuddleClient[]) {
  await Promise.all(sockets.map((socket) => request(socket, "room:leave", { roomId: "settle-never-joined" })));
}

const json = (text: string) => JSON.parse(text) as unknown;
const long = "r".repeat(40_000);

/** Payload shapes that are wrong for every event (`R` stands for the actor's joined room). */
const commonShapes = (R: string): Array<[string, unknown[]]> => [
  ["no payload at all", []],
  ["null", [null]],
  ["a number", [42]],
  ["zero", [0]],
  ["a string", [R]],
  ["true", [true]],
  ["an empty array", [[]]],
  ["an array holding the right object", [[{ roomId: R, text: "hi" }]]],
  ["an empty object", [{}]],
  ["roomId as a number", [{ roomId: 7, text: "hi" }]],
  ["roomId null", [{ roomId: null, text: "hi" }]],
  ["roomId as an array", [{ roomId: [R], text: "hi" }]],
  ["roomId as an object", [{ roomId: { toString: R }, text: "hi" }]],
  ["roomId of 40000 characters", [{ roomId: long, text: "hi" }]],
  ["roomId with a space", [{ roomId: `${R} `, text: "hi" }]],
  ["the right fields under __proto__", [json(`{"__proto__":{"roomId":"${R}","text":"hi"}}`)]],
  ["the right fields under constructor.prototype", [{ constructor: { prototype: { roomId: R, text: "hi" } } }]],
  ["a binary payload", [Buffer.from(JSON.stringify({ roomId: R, text: "hi" }))]],
  ["roomId as binary", [{ roomId: Buffer.from(R), text: "hi" }]],
];

const specificShapes = (R: string): Record<string, Array<[string, unknown[]]>> => ({
  "room:join": [
    ["since as a number", [{ roomId: R, since: 5 }]],
    ["since empty", [{ roomId: R, since: "" }]],
    ["since null", [{ roomId: R, since: null }]],
    ["since of 65 characters", [{ roomId: R, since: "1".repeat(65) }]],
    ["since as an object", [{ roomId: R, since: {} }]],
  ],
  "message:send": [
    ["no text", [{ roomId: R }]],
    ["no roomId", [{ text: "hi" }]],
    ["text as a number", [{ roomId: R, text: 5 }]],
    ["text null", [{ roomId: R, text: null }]],
    ["text as an array", [{ roomId: R, text: ["hi"] }]],
    ["text as an object", [{ roomId: R, text: { toString: "hi" } }]],
    ["text as binary", [{ roomId: R, text: Buffer.from("hi") }]],
    ["text of whitespace only", [{ roomId: R, text: " \r\n\t " }]],
    ["clientMsgId empty", [{ roomId: R, text: "hi", clientMsgId: "" }]],
    ["clientMsgId of 40000 characters", [{ roomId: R, text: "hi", clientMsgId: long }]],
    ["clientMsgId as a number", [{ roomId: R, text: "hi", clientMsgId: 1 }]],
    ["clientMsgId as an object", [{ roomId: R, text: "hi", clientMsgId: {} }]],
    ["replyTo as a number", [{ roomId: R, text: "hi", replyTo: 1 }]],
  ],
  "message:edit": [
    ["no id", [{ roomId: R, text: "hi" }]],
    ["id as a number", [{ roomId: R, id: 1, text: "hi" }]],
    ["no text", [{ roomId: R, id: "1-1" }]],
    ["text as a number", [{ roomId: R, id: "1-1", text: 5 }]],
  ],
  "room:read": [
    ["no upTo", [{ roomId: R }]],
    ["upTo as a number", [{ roomId: R, upTo: 1 }]],
    ["private as a string", [{ roomId: R, upTo: "1-1", private: "yes" }]],
  ],
  "room:leave": [["forget as a string", [{ roomId: R, forget: "yes" }]]],
  "message:delete": [
    ["no id", [{ roomId: R }]],
    ["id null", [{ roomId: R, id: null }]],
    ["id as an array", [{ roomId: R, id: ["1-1"] }]],
  ],
  ...Object.fromEntries(
    (["reaction:add", "reaction:remove"] as const).map((event) => [
      event,
      [
        ["no emoji", [{ roomId: R, id: "1-1" }]],
        ["emoji empty", [{ roomId: R, id: "1-1", emoji: "" }]],
        ["emoji with a space", [{ roomId: R, id: "1-1", emoji: "a b" }]],
        ["emoji with a control character", [{ roomId: R, id: "1-1", emoji: "\u0007" }]],
        ["emoji of 17 characters", [{ roomId: R, id: "1-1", emoji: "e".repeat(17) }]],
        ["emoji as a number", [{ roomId: R, id: "1-1", emoji: 1 }]],
        ["no id", [{ roomId: R, emoji: "👍" }]],
      ] as Array<[string, unknown[]]>,
    ]),
  ),
  "room:history": [
    ["limit 0", [{ roomId: R, limit: 0 }]],
    ["limit 101", [{ roomId: R, limit: 101 }]],
    ["limit 2.5", [{ roomId: R, limit: 2.5 }]],
    ['limit "5"', [{ roomId: R, limit: "5" }]],
    ["limit null", [{ roomId: R, limit: null }]],
    ["before as a number", [{ roomId: R, before: 1 }]],
    ["before of 40000 characters", [{ roomId: R, before: long }]],
  ],
});

describe("malformed payloads", () => {
  // One actor and one observer per event, in a room of their own: each refusal must leave it exactly as it was.
  let actor: HuddleClient;
  let observer: HuddleClient;
  let R: string;
  let seen: { items: Array<[string, unknown]> };
  afterAll(() => closeAllClients());

  describe.each(CLIENT_EVENT_NAMES)("%s", (event) => {
    beforeAll(async () => {
      R = uniqueRoom("valid");
      actor = (await connectSession(server.url)).socket;
      observer = (await connectSession(server.url)).socket;
      await join(actor, R);
      await join(observer, R);
      seen = record(observer);
    });
    // rooms:list takes `{}` and ignores unknown keys (so any object, or nothing, is fine): only non-objects are wrong.
    const cases = (room: string) =>
      event === "rooms:list"
        ? commonShapes(room).filter(
            ([, args]) =>
              args.length > 0 && args[0] !== null && (typeof args[0] !== "object" || Array.isArray(args[0])),
          )
        : [...commonShapes(room), ...(specificShapes(room)[event] ?? [])];
    test.each(cases("R").map(([name], index) => [name, index] as const))(
      "answers %s with bad_request and changes nothing",
      async (_name, index) => {
        const args = cases(R)[index]![1];
        await expect(requestArgs(actor, event, args)).resolves.toEqual(refusedWith("bad_request"));
        // Nothing changed: the observer heard nothing, the actor is still a member, the room has no message.
        await settle(observer, actor);
        expect(seen.items).toEqual([]);
        const state = await join(observer, R);
        expect(state.members).toHaveLength(2);
        expect(state.history).toEqual([]);
        expect(state.typing).toEqual([]);
        expect(({} as Record<string, unknown>).roomId).toBeUndefined();
      },
    );
  });
});

describe("payload keys", () => {
  let actor: HuddleClient;
  let R: string;
  beforeEach(async () => {
    R = uniqueRoom("keys");
    actor = (await connectSession(server.url)).socket;
    await join(actor, R);
  });
  afterEach(() => closeAllClients());

  test("a __proto__ key does not pollute the server's objects", async () => {
    await requestArgs(actor, "message:send", [json('{"__proto__":{"polluted":"yes"},"roomId":"x y","text":"hi"}')]);
    await requestArgs(actor, "room:join", [json('{"__proto__":{"polluted":"yes"}}')]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("unknown keys beside valid fields are ignored", async () => {
    const ack = await request(actor, "message:send", { roomId: R, text: "extra", extra: { deep: [1, 2] } });
    expect(ack).toMatchObject({ ok: true, message: { text: "extra" } });
    expect((ack as { message: Message }).message).not.toHaveProperty("extra");
  });
});

describe("events without an ack callback", () => {
  afterEach(() => closeAllClients());
  test("message:send without a callback is still stored and broadcast", async () => {
    const roomId = uniqueRoom();
    const { socket } = await connectSession(server.url);
    const observer = (await connectSession(server.url)).socket;
    await join(socket, roomId);
    await join(observer, roomId);
    const delivered = waitForEvent<Message>(observer, "message:new");
    emitLoose(socket, "message:send", { roomId, text: "no ack wanted" });
    await expect(delivered).resolves.toMatchObject({ text: "no ack wanted", roomId });
    await expect(request(observer, "room:history", { roomId })).resolves.toMatchObject({
      messages: [{ text: "no ack wanted" }],
    });
  });

  test("room:join and typing:start without a callback are still served", async () => {
    const roomId = uniqueRoom();
    const observer = (await connectSession(server.url)).socket;
    await join(observer, roomId);
    const { socket, session } = await connectSession(server.url);
    const joined = waitForEvent<PresenceEvent>(observer, "presence:join");
    emitLoose(socket, "room:join", { roomId });
    await expect(joined).resolves.toEqual({ roomId, user: session.user });
    const typing = waitForEvent(observer, "typing:update");
    emitLoose(socket, "typing:start", { roomId });
    await expect(typing).resolves.toEqual({ roomId, users: [session.user] });
  });

  test("malformed events without a callback are dropped and the connection keeps working", async () => {
    const roomId = uniqueRoom();
    const { socket } = await connectSession(server.url);
    await join(socket, roomId);
    const emitRaw = (...args: [string, ...unknown[]]) => emitLoose(socket, ...args);
    for (const event of CLIENT_EVENT_NAMES) {
      emitRaw(event);
      emitRaw(event, null);
      emitRaw(event, { roomId: 5 });
      emitRaw(event, [roomId], "extra", 3);
    }
    emitRaw("no-such-event", { roomId });
    await expect(send(socket, roomId, "still fine")).resolves.toMatchObject({ text: "still fine" });
    expect(socket.connected).toBe(true);
  });
});

describe("unknown events", () => {
  afterEach(() => closeAllClients());
  test.each([
    "room:destroy",
    "Room:Join",
    "message:new",
    "session",
    "presence:join",
    "",
    "constructor",
    "__proto__",
    "toString",
    "hasOwnProperty",
    "x".repeat(1000),
  ])("answers %j with bad_request when it carries an ack", async (event) => {
    const { socket } = await connectSession(server.url);
    await expect(requestArgs(socket, event, [{ roomId: "r" }])).resolves.toEqual(refusedWith("bad_request"));
    await expect(request(socket, "room:leave", { roomId: "r" })).resolves.toEqual({ ok: true });
  });
});

describe("broken Socket.IO packets (raw Engine.IO WebSocket)", () => {
  afterEach(() => closeAllClients());
  async function rawConnected() {
    const raw = await openRaw(server.url);
    const from = raw.frames.length;
    raw.send(`40${JSON.stringify({ token: signToken(), v: 1 })}`);
    await raw.next((f) => f.startsWith("40{"), "namespace CONNECT", from);
    return raw;
  }

  test.each([
    ["a reserved event name", '42["disconnect"]'],
    ["another reserved event name", '42["connect_error",{}]'],
    ["an event that is not an array", '42{"roomId":"r"}'],
    ["truncated JSON", '42["room:join",{"roomId":'],
    ["an unknown packet type", "9"],
    ["an event without a name", "42[]"],
    ["an unknown Socket.IO packet type", "49"],
  ])("closes a connection that sends %s, and the node keeps serving", async (_name, frame) => {
    const raw = await rawConnected();
    raw.send(frame);
    await expect(raw.closed).resolves.toEqual(expect.any(Number));
    const { socket } = await connectSession(server.url);
    await expect(request(socket, "room:join", { roomId: uniqueRoom() })).resolves.toMatchObject({ ok: true });
  });

  test("answers an event with a numeric name and an ack id with bad_request", async () => {
    const raw = await rawConnected();
    const from = raw.frames.length;
    raw.send('4217[42,{"roomId":"r"}]');
    await expect(raw.next((f) => f.startsWith("4317"), "ack 17", from)).resolves.toMatch(/"code":"bad_request"/);
    raw.close();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Fuzz: seeded, so a failure can be replayed with FUZZ_SEED.

function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const OBSERVED_ROOM = "observed-room";
const FUZZ_ROOMS = ["fz-0", "fz-1", "fz-2", "fz-3"];
const JUNK_EVENTS = [
  "",
  "x",
  "room:JOIN",
  "message:new",
  "session",
  "typing",
  "constructor",
  "__proto__",
  "toString",
  "👀",
];
const KEYS = [
  "roomId",
  "text",
  "since",
  "before",
  "limit",
  "clientMsgId",
  "id",
  "emoji",
  "replyTo",
  "__proto__",
  "constructor",
  "extra",
  "",
];
const CHARS = 'ab \t\n\r\u0000\u0085é😀-_.:/*{}"\\';

function makeFuzzer(random: () => number, socketIds: () => string[]) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const chance = (p: number) => random() < p;
  const str = (max = 20): string => {
    const length = chance(0.03) ? 4001 + Math.floor(random() * 12_000) : Math.floor(random() * max);
    let out = "";
    for (let i = 0; i < length; i++) out += chance(0.7) ? "q" : pick([...CHARS]);
    return out;
  };
  /** A room id the fuzz may use: its own rooms, socket ids, junk; never the observed room. */
  const roomId = (): unknown => {
    const r = random();
    if (r < 0.5) return pick(FUZZ_ROOMS);
    if (r < 0.6) return pick(socketIds());
    const junk = value(1);
    return junk === OBSERVED_ROOM ? "fz-0" : junk;
  };
  /** Sets `key` as an own property, so that "__proto__" becomes a key on the wire rather than a prototype. */
  const own = (obj: Record<string, unknown>, key: string, v: unknown) =>
    Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
  /** Anything but a plain object: no payload of this kind can be a valid send. */
  const notAnObject = (): unknown =>
    pick([null, 0, 7, true, "", str(), [], [value(1)], [{ roomId: "fz-0", text: "hi" }]]);
  const value = (depth: number): unknown => {
    const r = random();
    if (r < 0.1) return null;
    if (r < 0.2) return pick([0, -1, 1, 2.5, 1e308, 101, Number.MAX_SAFE_INTEGER]);
    if (r < 0.25) return chance(0.5);
    if (r < 0.6 || depth <= 0) return str();
    if (r < 0.75) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth - 1));
    const obj: Record<string, unknown> = {};
    for (let i = Math.floor(random() * 4); i > 0; i--) own(obj, pick(KEYS), value(depth - 1));
    return obj;
  };
  const payload = (): unknown => {
    if (chance(0.25)) return value(2);
    const obj: Record<string, unknown> = { roomId: roomId() };
    for (const key of ["text", "since", "before", "limit", "clientMsgId", "id", "emoji", "replyTo"]) {
      if (chance(0.3)) obj[key] = value(1);
    }
    if (chance(0.1)) own(obj, "__proto__", value(1));
    return obj;
  };
  /** A message:send payload that cannot be valid, whatever else it holds. */
  const brokenSend = (): unknown => {
    const base = payload();
    const obj: Record<string, unknown> =
      base && typeof base === "object" && !Array.isArray(base) ? { ...(base as object) } : { roomId: roomId() };
    switch (Math.floor(random() * 6)) {
      case 0:
        return chance(0.8) ? notAnObject() : undefined;
      case 1:
        obj.roomId = pick([null, 5, "", "has space", "x".repeat(65), ["fz-0"], "é"]);
        break;
      case 2:
        obj.text = pick([null, 5, true, ["hi"], { t: "hi" }]);
        break;
      case 3:
        obj.text = pick(["", "   ", "\u0000\u0001", "\r\n\t", "\u0085 \u009f"]);
        break;
      case 4:
        obj.clientMsgId = pick(["", "c".repeat(65), 12, null, {}]);
        if (typeof obj.text !== "string") obj.text = "fine text";
        break;
      default:
        obj.text = "z".repeat(4001 + Math.floor(random() * 2000));
        break;
    }
    return obj;
  };
  const event = (): { name: string; args: unknown[]; wantsAck: boolean } => {
    const name = chance(0.8) ? pick(CLIENT_EVENT_NAMES) : pick(JUNK_EVENTS);
    const body = name === "message:send" ? brokenSend() : payload();
    const args: unknown[] = body === undefined ? [] : [body];
    if (body !== undefined && chance(0.05)) args.push(value(1));
    return { name, args, wantsAck: chance(0.5) };
  };
  return { event };
}

describe("fuzz", () => {
  afterEach(() => closeAllClients());
  test("3000 random malformed events leave the node serving and every room clean", async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    const observer = (await connectSession(server.url)).socket;
    await join(observer, OBSERVED_ROOM);
    const observed = record(observer);
    const watcher = (await connectSession(server.url)).socket;
    for (const roomId of FUZZ_ROOMS) await join(watcher, roomId);
    const watched = collect(watcher, "message:new");

    const fuzzers = await Promise.all([0, 1, 2].map(async () => (await connectSession(server.url)).socket));
    const fuzzed = fuzzers.map((socket) => collect(socket, "message:new"));
    const disconnects = fuzzers.map((socket) => collect(socket, "disconnect"));
    const fuzz = makeFuzzer(random, () => fuzzers.map((s) => s.id!));

    const acks: Array<Promise<{ name: string; ack: any }>> = [];
    for (let i = 0; i < 3000; i++) {
      const socket = fuzzers[i % fuzzers.length]!;
      const { name, args, wantsAck } = fuzz.event();
      if (JSON.stringify(args).length > 60_000) continue; // stay under MAX_PAYLOAD_BYTES: a closed connection is tested elsewhere
      if (wantsAck) acks.push(requestArgs(socket, name, args, 15_000).then((ack) => ({ name, ack })));
      else emitLoose(socket, name, ...args);
      if (i % 200 === 0) await sleep(1); // let acks flow so buffers stay small
    }
    const answered = await Promise.all(acks);
    const context = `(FUZZ_SEED=${seed})`;

    expect({ context, disconnects: disconnects.map((d) => d.items) }).toEqual({ context, disconnects: [[], [], []] });
    const shapes = answered.filter(({ ack }) => typeof ack !== "object" || ack === null || typeof ack.ok !== "boolean");
    expect({ context, shapes }).toEqual({ context, shapes: [] });
    const internal = answered.filter(
      ({ ack }) => ack.ok === false && ["internal", "unavailable"].includes(ack.error?.code),
    );
    expect({ context, internal }).toEqual({ context, internal: [] });
    const sendsOk = answered.filter(({ name, ack }) => name === "message:send" && ack.ok);
    expect({ context, sendsOk }).toEqual({ context, sendsOk: [] });

    // Every fuzz event has been handled once each fuzz socket's next request is answered; then the watchers' turn.
    await settle(...fuzzers);
    await sleep(50);
    await settle(observer, watcher);
    expect({ context, observed: observed.items }).toEqual({ context, observed: [] });
    expect({ context, watched: watched.items }).toEqual({ context, watched: [] });
    expect({ context, fuzzed: fuzzed.flatMap((f) => f.items) }).toEqual({ context, fuzzed: [] });
    for (const roomId of [...FUZZ_ROOMS, OBSERVED_ROOM]) {
      const target = roomId === OBSERVED_ROOM ? observer : watcher;
      await expect(request(target, "room:history", { roomId })).resolves.toEqual({
        ok: true,
        messages: [],
        more: false,
      });
    }
    const observedState = await join(observer, OBSERVED_ROOM);
    expect(observedState.members).toHaveLength(1);
    expect(unhandled).toEqual([]);

    // A normal chat between two fresh clients.
    const roomId = uniqueRoom("after-fuzz");
    const alice = await connectSession(server.url, { claims: { name: "Alice" } });
    const bob = await connectSession(server.url, { claims: { name: "Bob" } });
    await join(alice.socket, roomId);
    const bobArrives = waitForEvent<PresenceEvent>(alice.socket, "presence:join");
    await join(bob.socket, roomId);
    await expect(bobArrives).resolves.toEqual({ roomId, user: bob.session.user });
    const toBob = waitForEvent<Message>(bob.socket, "message:new");
    const hello = await send(alice.socket, roomId, "hello after the storm");
    await expect(toBob).resolves.toEqual(hello);
    const reply = await send(bob.socket, roomId, "all good");
    await eventually(async () => {
      const page = await request(alice.socket, "room:history", { roomId });
      return page.ok && page.messages.length === 2;
    }, "both messages in history");
    await expect(request(alice.socket, "room:history", { roomId })).resolves.toEqual({
      ok: true,
      messages: [hello, reply],
      more: false,
    });
  }, 60_000);
});
