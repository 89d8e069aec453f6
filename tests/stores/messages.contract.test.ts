/**
 * The message store contract, over every implementation: storing and
 * publishing as one step, seq and positions, idempotency, order, paging
 * positions, resuming, and trimming to HISTORY_MAX. Changes (§8) have their
 * own suite: message-changes.contract.test.ts.
 */
import type { Message, User } from "../../shared";
import type { MessageStore } from "../../server/features/chat/message.store";
import { eventually } from "../helpers/clients";
import { KINDS, kitConfig, useContractServers, type Kit } from "./store-kits";

const openKit = useContractServers();

const alice: User = { id: "alice", name: "Alice" };
const bob: User = { id: "bob", name: "Bob" };

async function fill(store: MessageStore, roomId: string, count: number): Promise<Message[]> {
  const messages: Message[] = [];
  for (let i = 0; i < count; i++) {
    messages.push((await store.append({ roomId, user: alice, text: `m${i}`, ts: Date.now() })).message);
  }
  return messages;
}

const n = (position: string) => Number(position.split("-")[1]);

/** A position of the same room `k` changes after `position`. */
const shifted = (position: string, k: number) => {
  const [epoch, n] = position.split("-").map(Number) as [number, number];
  return `${epoch}-${n + k}`;
};

const texts = (messages: Message[]) => messages.map((m) => m.text);
let rooms = 0;
/** A room no other test uses, so tests can share one kit. */
const freshRoom = () => `room-${++rooms}`;

describe.each(KINDS)("message store (%s)", (kind) => {
  let kit: Kit;
  let r1: string;
  let r2: string;
  beforeAll(async () => {
    kit = await openKit(kind, { HISTORY_MAX: "5" });
  });
  beforeEach(async () => {
    r1 = freshRoom();
    r2 = freshRoom();
    await kit.follow(r1, r2);
  });
  /** HISTORY_MAX caps the cache stores; PostgreSQL keeps every message (§10). */
  const trims = kind === "postgres" ? test.skip : test;
  const messageEvents = (events = kit.events) => events.filter((e) => e.type === "message" && e.roomId === r1);

  test("stores a message with seq 1, an id of the <epoch>-<n> shape and rev equal to id, and publishes it", async () => {
    const ts = Date.now();
    const { message, duplicate } = await kit.a.messages.append({
      roomId: r1,
      user: alice,
      text: "hello",
      clientMsgId: "c1",
      ts,
    });
    expect(duplicate).toBe(false);
    expect(message).toEqual({
      id: expect.stringMatching(/^\d+-1$/),
      roomId: r1,
      user: alice,
      text: "hello",
      ts,
      clientMsgId: "c1",
      seq: 1,
      rev: message.id,
    });
    await eventually(() => messageEvents().length === 1, "the message on the bus");
    expect(messageEvents()[0]).toEqual({ type: "message", roomId: r1, message });
    expect((await kit.b.messages.latest(r1, 10)).messages).toEqual([message]);
  });

  test("a message without clientMsgId or replyTo has no such fields, nor reactions, editedAt or deleted", async () => {
    const { message } = await kit.a.messages.append({ roomId: r1, user: alice, text: "x", ts: Date.now() });
    for (const field of ["clientMsgId", "replyTo", "reactions", "editedAt", "deleted"]) {
      expect(message).not.toHaveProperty(field);
      expect((await kit.a.messages.latest(r1, 1)).messages[0]).not.toHaveProperty(field);
    }
  });

  test("seq counts a room's messages from 1 without gaps, each room on its own", async () => {
    const first = await fill(kit.a.messages, r1, 3);
    const other = await fill(kit.b.messages, r2, 2);
    const more = await fill(kit.b.messages, r1, 2);
    expect([...first, ...more].map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(other.map((m) => m.seq)).toEqual([1, 2]);
  });

  test("replyTo must be a message of the same room: not_found otherwise, and nothing is stored", async () => {
    const [target] = await fill(kit.a.messages, r1, 1);
    const reply = await kit.b.messages.append({ roomId: r1, user: bob, text: "re", replyTo: target!.id, ts: 1 });
    expect(reply.message.replyTo).toBe(target!.id);
    const [elsewhere] = await fill(kit.a.messages, r2, 1);
    for (const replyTo of [elsewhere!.id, "1-1", "not-an-id", shifted(reply.message.id, 5)]) {
      await expect(kit.a.messages.append({ roomId: r1, user: bob, text: "x", replyTo, ts: 1 })).rejects.toMatchObject({
        code: "not_found",
      });
    }
    expect((await kit.a.messages.latest(r1, 10)).messages).toHaveLength(2);
  });

  test("a repeated clientMsgId from the same user in the same room returns the first message, stores and publishes nothing", async () => {
    const first = await kit.a.messages.append({
      roomId: r1,
      user: alice,
      text: "one",
      clientMsgId: "c1",
      ts: Date.now(),
    });
    const again = await kit.b.messages.append({
      roomId: r1,
      user: alice,
      text: "two",
      clientMsgId: "c1",
      ts: Date.now(),
    });
    expect(again).toEqual({ message: first.message, duplicate: true });
    expect(texts((await kit.a.messages.latest(r1, 10)).messages)).toEqual(["one"]);
    await eventually(() => messageEvents().length >= 1, "the first message on the bus");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(messageEvents()).toHaveLength(1);
  });

  test("the same clientMsgId from another user or in another room is another message", async () => {
    const first = await kit.a.messages.append({
      roomId: r1,
      user: alice,
      text: "a",
      clientMsgId: "c1",
      ts: Date.now(),
    });
    const otherUser = await kit.a.messages.append({
      roomId: r1,
      user: bob,
      text: "b",
      clientMsgId: "c1",
      ts: Date.now(),
    });
    const otherRoom = await kit.a.messages.append({
      roomId: r2,
      user: alice,
      text: "c",
      clientMsgId: "c1",
      ts: Date.now(),
    });
    expect(otherUser.duplicate).toBe(false);
    expect(otherRoom.duplicate).toBe(false);
    expect(otherUser.message.id).not.toBe(first.message.id);
    expect(texts((await kit.a.messages.latest(r1, 10)).messages)).toEqual(["a", "b"]);
    expect(texts((await kit.a.messages.latest(r2, 10)).messages)).toEqual(["c"]);
  });

  test("concurrent appends with the same clientMsgId on two nodes store exactly one message", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? kit.a : kit.b).messages.append({
          roomId: r1,
          user: alice,
          text: `t${i}`,
          clientMsgId: "same",
          ts: Date.now(),
        }),
      ),
    );
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(results.map((r) => r.message.id)).size).toBe(1);
    expect((await kit.a.messages.latest(r1, 10)).messages).toHaveLength(1);
  });

  // With PostgreSQL, nodes publish after their commits: the bus may bring a room's events in another order, and
  // the receivers' delivery puts them back in position order (transport/room-order.ts, tested there and end to end).
  const inBusOrder = (ids: string[]) => (kind === "postgres" ? [...ids].sort((x, y) => n(x) - n(y)) : ids);
  test("concurrent senders on two nodes: both nodes' buses deliver every message once, in history order", async () => {
    const kitWide = await openKit(kind, { HISTORY_MAX: "100" });
    await kitWide.follow(r1);
    try {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? kitWide.a : kitWide.b).messages.append({
            roomId: r1,
            user: i % 2 ? alice : bob,
            text: `t${i}`,
            ts: Date.now(),
          }),
        ),
      );
      const history = (await kitWide.a.messages.latest(r1, 100)).messages.map((m) => m.id);
      expect(history).toHaveLength(40);
      const ids = (events: typeof kitWide.events) =>
        events.flatMap((e) => (e.type === "message" ? [e.message.id] : []));
      await eventually(
        () => ids(kitWide.events).length === 40 && ids(kitWide.eventsB).length === 40,
        "40 messages on both buses",
      );
      expect(inBusOrder(ids(kitWide.events))).toEqual(history);
      expect(inBusOrder(ids(kitWide.eventsB))).toEqual(history);
    } finally {
      await kitWide.close();
    }
  });

  test("ids are consecutive positions in the order messages are stored and latest lists them oldest first", async () => {
    const stored = await fill(kit.a.messages, r1, 4);
    const page = await kit.a.messages.latest(r1, 10);
    expect(page).toEqual({ messages: stored, more: false });
    expect(stored.map((m) => m.id)).toEqual([1, 2, 3, 4].map((n) => shifted(stored[0]!.id, n - 1)));
  });

  trims("keeps only the newest HISTORY_MAX messages of a room", async () => {
    await fill(kit.a.messages, r1, 8);
    const page = await kit.a.messages.latest(r1, 100);
    expect(texts(page.messages)).toEqual(["m3", "m4", "m5", "m6", "m7"]);
    expect(page.more).toBe(false);
  });

  test("latest gives the newest page and says whether older messages exist", async () => {
    await fill(kit.a.messages, r1, 5);
    expect(await kit.a.messages.latest(r1, 2)).toEqual({ messages: expect.any(Array), more: true });
    expect(texts((await kit.a.messages.latest(r1, 2)).messages)).toEqual(["m3", "m4"]);
    expect((await kit.a.messages.latest(r1, 5)).more).toBe(false);
    expect(await kit.a.messages.latest(freshRoom(), 5)).toEqual({ messages: [], more: false });
  });

  test("before is a position: the newest messages older than it, whether or not the id exists", async () => {
    const stored = await fill(kit.a.messages, r1, 5);
    const page = await kit.a.messages.before(r1, stored[3]!.id, 2);
    expect(texts(page.messages)).toEqual(["m1", "m2"]);
    expect(page.more).toBe(true);
    expect(await kit.a.messages.before(r1, stored[2]!.id, 5)).toEqual({ messages: stored.slice(0, 2), more: false });
    expect(texts((await kit.a.messages.before(r1, shifted(stored[4]!.id, 1000), 1)).messages)).toEqual(["m4"]);
    expect(await kit.a.messages.before(r1, "0-0", 5)).toEqual({ messages: [], more: false });
    // A position of a later life of the room is after everything; of an earlier one, before everything.
    expect(texts((await kit.a.messages.before(r1, "8999999999999999-1", 1)).messages)).toEqual(["m4"]);
    expect(texts((await kit.a.messages.after(r1, "1-99", 1)).messages)).toEqual(["m0"]);
    expect(await kit.a.messages.before(r1, "not-an-id", 5)).toEqual({ messages: [], more: false });
  });

  test("after is a position: the oldest messages newer than it, and whether newer ones exist", async () => {
    const stored = await fill(kit.a.messages, r1, 5);
    const page = await kit.a.messages.after(r1, stored[0]!.id, 2);
    expect(texts(page.messages)).toEqual(["m1", "m2"]);
    expect(page.more).toBe(true);
    expect(await kit.a.messages.after(r1, stored[2]!.id, 5)).toEqual({ messages: stored.slice(3), more: false });
    expect(texts((await kit.a.messages.after(r1, "0-0", 1)).messages)).toEqual(["m0"]);
    expect(await kit.a.messages.after(r1, stored[4]!.id, 5)).toEqual({ messages: [], more: false });
    expect(await kit.a.messages.after(r1, "garbage", 5)).toEqual({ messages: [], more: false });
  });

  test("since returns every message after a covered position, and null when the gap cannot be filled", async () => {
    const stored = await fill(kit.a.messages, r1, 5);
    const missed = (messages: Message[]) => ({ messages, updates: [] });
    expect(await kit.b.messages.since(r1, stored[1]!.id, 10)).toEqual(missed(stored.slice(2)));
    expect(await kit.a.messages.since(r1, stored[4]!.id, 10)).toEqual(missed([]));
    expect(await kit.a.messages.since(r1, stored[1]!.id, 3)).toEqual(missed(stored.slice(2)));
    expect(await kit.a.messages.since(r1, stored[1]!.id, 2)).toBeNull();
    expect(await kit.a.messages.since(r1, shifted(stored[4]!.id, 1), 10)).toBeNull();
    expect(await kit.a.messages.since(r1, "nonsense", 10)).toBeNull();
    expect(await kit.a.messages.since(r1, "1-1", 10)).toBeNull();
    expect(await kit.a.messages.since(r2, stored[1]!.id, 10)).toBeNull();
  });

  trims("since returns null for a position that was trimmed away", async () => {
    const stored = await fill(kit.a.messages, r1, 7);
    expect(await kit.a.messages.since(r1, stored[0]!.id, 100)).toBeNull();
    expect(await kit.a.messages.since(r1, stored[1]!.id, 100)).toBeNull();
    expect(await kit.a.messages.since(r1, stored[2]!.id, 100)).toEqual({ messages: stored.slice(3), updates: [] });
  });

  trims("trimming stays exact message after message, long past HISTORY_MAX, for every read", async () => {
    const stored: Message[] = [];
    for (let n = 1; n <= 23; n++) {
      stored.push((await kit.a.messages.append({ roomId: r1, user: alice, text: `m${n}`, ts: Date.now() })).message);
      const retained = stored.slice(-5);
      const oldest = retained[0]!;
      expect(await kit.a.messages.latest(r1, 100)).toEqual({ messages: retained, more: false });
      expect(await kit.a.messages.latest(r1, 2)).toEqual({ messages: retained.slice(-2), more: retained.length > 2 });
      expect(await kit.a.messages.before(r1, stored[n - 1]!.id, 100)).toEqual({
        messages: retained.slice(0, -1),
        more: false,
      });
      expect(await kit.a.messages.after(r1, "0-0", 100)).toEqual({ messages: retained, more: false });
      expect(await kit.a.messages.since(r1, oldest.id, 100)).toEqual({ messages: retained.slice(1), updates: [] });
      if (n > 5) expect(await kit.a.messages.since(r1, stored[n - 6]!.id, 100)).toBeNull();
      expect(await kit.a.messages.head(r1)).toBe(stored[n - 1]!.id);
    }
  });

  if (kind === "postgres") {
    test("keeps every message whatever HISTORY_MAX, and resumes from the oldest", async () => {
      const stored = await fill(kit.a.messages, r1, 8);
      expect(await kit.b.messages.latest(r1, 100)).toEqual({ messages: stored, more: false });
      expect(await kit.a.messages.since(r1, stored[0]!.id, 100)).toEqual({ messages: stored.slice(1), updates: [] });
      expect(await kit.a.messages.after(r1, "0-0", 3)).toEqual({ messages: stored.slice(0, 3), more: true });
    });
  }

  test("head is the room's newest position, or null in an empty room", async () => {
    expect(await kit.a.messages.head(r1)).toBeNull();
    const stored = await fill(kit.a.messages, r1, 3);
    expect(await kit.b.messages.head(r1)).toBe(stored[2]!.id);
  });

  test("text with quotes, newlines, backslashes and non-ASCII characters comes back unchanged", async () => {
    const text = 'a "quoted" \\ back\nslash\t👋 é <b>not html</b> \u2028';
    const { message } = await kit.a.messages.append({ roomId: r1, user: { id: 'u"1', name: "Zoë ✓" }, text, ts: 1 });
    expect(message.text).toBe(text);
    expect((await kit.b.messages.latest(r1, 1)).messages[0]).toEqual(message);
    await eventually(() => messageEvents().length === 1, "the message on the bus");
    expect(messageEvents()[0]).toEqual({ type: "message", roomId: r1, message });
  });
});

describe.each(KINDS)("CLIENT_MSG_ID_TTL_MS (%s)", (kind) => {
  test("defaults to 10 minutes", () => {
    expect(kitConfig().clientMsgIdTtlMs).toBe(600_000);
  });

  const window =
    kind === "postgres"
      ? "with PostgreSQL a clientMsgId is recognised for as long as its message is kept, past the window"
      : "a clientMsgId is remembered for at least the window (Redis: at most twice it), then a send is a new message";
  test(window, async () => {
    const kit = await openKit(kind, { CLIENT_MSG_ID_TTL_MS: "1000" });
    const roomId = freshRoom();
    const send = (text: string) =>
      kit.a.messages.append({ roomId, user: alice, text, clientMsgId: "retry-me", ts: Date.now() });
    const first = await send("first");
    const within = await send("within the window");
    expect(within).toEqual({ message: first.message, duplicate: true });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await send("still within the window")).toEqual({ message: first.message, duplicate: true });
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const after = await send("after the window");
    if (kind === "postgres") {
      expect(after).toEqual({ message: first.message, duplicate: true });
      expect(texts((await kit.a.messages.latest(roomId, 10)).messages)).toEqual(["first"]);
      return;
    }
    expect(after.duplicate).toBe(false);
    expect(after.message.id).not.toBe(first.message.id);
    expect(texts((await kit.a.messages.latest(roomId, 10)).messages)).toEqual(["first", "after the window"]);
  });
});
