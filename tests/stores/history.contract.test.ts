/**
 * The history store contract, over every implementation: storing and
 * publishing as one step, idempotency, order, paging positions, resuming,
 * and trimming to HISTORY_MAX.
 */
import type { Message, User } from "../../shared";
import type { HistoryStore } from "../../server/features/chat/history.store";
import { eventually } from "../helpers/clients";
import { KINDS, openKit, useContractRedis, type Kit } from "./store-kits";

const redis = useContractRedis();

const alice: User = { id: "alice", name: "Alice" };
const bob: User = { id: "bob", name: "Bob" };

async function fill(history: HistoryStore, roomId: string, count: number): Promise<Message[]> {
  const messages: Message[] = [];
  for (let i = 0; i < count; i++) {
    messages.push((await history.append({ roomId, user: alice, text: `m${i}`, ts: Date.now() })).message);
  }
  return messages;
}

const texts = (messages: Message[]) => messages.map((m) => m.text);
let rooms = 0;
/** A room no other test uses, so tests can share one kit. */
const freshRoom = () => `room-${++rooms}`;

describe.each(KINDS)("history store (%s)", (kind) => {
  let kit: Kit;
  let r1: string;
  let r2: string;
  beforeAll(async () => {
    kit = await openKit(kind, redis(), { HISTORY_MAX: "5" });
  });
  beforeEach(() => {
    r1 = freshRoom();
    r2 = freshRoom();
  });
  const messageEvents = (events = kit.events) => events.filter((e) => e.type === "message" && e.roomId === r1);

  test("stores a message with an id of the <ms>-<seq> shape and publishes it on the bus", async () => {
    const ts = Date.now();
    const { message, duplicate } = await kit.a.history.append({
      roomId: r1,
      user: alice,
      text: "hello",
      clientMsgId: "c1",
      ts,
    });
    expect(duplicate).toBe(false);
    expect(message).toEqual({
      id: expect.stringMatching(/^\d+-\d+$/),
      roomId: r1,
      user: alice,
      text: "hello",
      ts,
      clientMsgId: "c1",
    });
    await eventually(() => messageEvents().length === 1, "the message on the bus");
    expect(messageEvents()[0]).toEqual({ type: "message", roomId: r1, message });
    expect((await kit.b.history.latest(r1, 10)).messages).toEqual([message]);
  });

  test("a message without clientMsgId has no clientMsgId field", async () => {
    const { message } = await kit.a.history.append({ roomId: r1, user: alice, text: "x", ts: Date.now() });
    expect(message).not.toHaveProperty("clientMsgId");
    expect((await kit.a.history.latest(r1, 1)).messages[0]).not.toHaveProperty("clientMsgId");
  });

  test("a repeated clientMsgId from the same user in the same room returns the first message, stores and publishes nothing", async () => {
    const first = await kit.a.history.append({
      roomId: r1,
      user: alice,
      text: "one",
      clientMsgId: "c1",
      ts: Date.now(),
    });
    const again = await kit.b.history.append({
      roomId: r1,
      user: alice,
      text: "two",
      clientMsgId: "c1",
      ts: Date.now(),
    });
    expect(again).toEqual({ message: first.message, duplicate: true });
    expect(texts((await kit.a.history.latest(r1, 10)).messages)).toEqual(["one"]);
    await eventually(() => messageEvents().length >= 1, "the first message on the bus");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(messageEvents()).toHaveLength(1);
  });

  test("the same clientMsgId from another user or in another room is another message", async () => {
    const first = await kit.a.history.append({
      roomId: r1,
      user: alice,
      text: "a",
      clientMsgId: "c1",
      ts: Date.now(),
    });
    const otherUser = await kit.a.history.append({
      roomId: r1,
      user: bob,
      text: "b",
      clientMsgId: "c1",
      ts: Date.now(),
    });
    const otherRoom = await kit.a.history.append({
      roomId: r2,
      user: alice,
      text: "c",
      clientMsgId: "c1",
      ts: Date.now(),
    });
    expect(otherUser.duplicate).toBe(false);
    expect(otherRoom.duplicate).toBe(false);
    expect(otherUser.message.id).not.toBe(first.message.id);
    expect(texts((await kit.a.history.latest(r1, 10)).messages)).toEqual(["a", "b"]);
    expect(texts((await kit.a.history.latest(r2, 10)).messages)).toEqual(["c"]);
  });

  test("concurrent appends with the same clientMsgId on two nodes store exactly one message", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? kit.a : kit.b).history.append({
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
    expect((await kit.a.history.latest(r1, 10)).messages).toHaveLength(1);
  });

  test("concurrent senders on two nodes: both nodes' buses deliver in history order", async () => {
    const kitWide = await openKit(kind, redis(), { HISTORY_MAX: "100" });
    try {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? kitWide.a : kitWide.b).history.append({
            roomId: r1,
            user: i % 2 ? alice : bob,
            text: `t${i}`,
            ts: Date.now(),
          }),
        ),
      );
      const history = (await kitWide.a.history.latest(r1, 100)).messages.map((m) => m.id);
      expect(history).toHaveLength(40);
      const ids = (events: typeof kitWide.events) =>
        events.flatMap((e) => (e.type === "message" ? [e.message.id] : []));
      await eventually(
        () => ids(kitWide.events).length === 40 && ids(kitWide.eventsB).length === 40,
        "40 messages on both buses",
      );
      expect(ids(kitWide.events)).toEqual(history);
      expect(ids(kitWide.eventsB)).toEqual(history);
    } finally {
      await kitWide.close();
    }
  });

  test("ids increase in the order messages are stored and latest lists them oldest first", async () => {
    const stored = await fill(kit.a.history, r1, 4);
    const page = await kit.a.history.latest(r1, 10);
    expect(page).toEqual({ messages: stored, more: false });
    const [x, y] = [stored[0]!.id, stored[1]!.id].map((id) => id.split("-").map(Number) as [number, number]);
    expect(x![0] < y![0] || (x![0] === y![0] && x![1] < y![1])).toBe(true);
  });

  test("keeps only the newest HISTORY_MAX messages of a room", async () => {
    await fill(kit.a.history, r1, 8);
    const page = await kit.a.history.latest(r1, 100);
    expect(texts(page.messages)).toEqual(["m3", "m4", "m5", "m6", "m7"]);
    expect(page.more).toBe(false);
  });

  test("latest gives the newest page and says whether older messages exist", async () => {
    await fill(kit.a.history, r1, 5);
    expect(await kit.a.history.latest(r1, 2)).toEqual({ messages: expect.any(Array), more: true });
    expect(texts((await kit.a.history.latest(r1, 2)).messages)).toEqual(["m3", "m4"]);
    expect((await kit.a.history.latest(r1, 5)).more).toBe(false);
    expect(await kit.a.history.latest(freshRoom(), 5)).toEqual({ messages: [], more: false });
  });

  test("before is a position: the newest messages older than it, whether or not the id exists", async () => {
    const stored = await fill(kit.a.history, r1, 5);
    const page = await kit.a.history.before(r1, stored[3]!.id, 2);
    expect(texts(page.messages)).toEqual(["m1", "m2"]);
    expect(page.more).toBe(true);
    expect(await kit.a.history.before(r1, stored[2]!.id, 5)).toEqual({ messages: stored.slice(0, 2), more: false });
    const [ms, seq] = stored[4]!.id.split("-").map(Number) as [number, number];
    const between = `${ms}-${seq + 1000}`;
    expect(texts((await kit.a.history.before(r1, between, 1)).messages)).toEqual(["m4"]);
    expect(await kit.a.history.before(r1, "0-0", 5)).toEqual({ messages: [], more: false });
    expect(await kit.a.history.before(r1, "not-an-id", 5)).toEqual({ messages: [], more: false });
  });

  test("after is a position: the oldest messages newer than it, and whether newer ones exist", async () => {
    const stored = await fill(kit.a.history, r1, 5);
    const page = await kit.a.history.after(r1, stored[0]!.id, 2);
    expect(texts(page.messages)).toEqual(["m1", "m2"]);
    expect(page.more).toBe(true);
    expect(await kit.a.history.after(r1, stored[2]!.id, 5)).toEqual({ messages: stored.slice(3), more: false });
    expect(texts((await kit.a.history.after(r1, "0-0", 1)).messages)).toEqual(["m0"]);
    expect(await kit.a.history.after(r1, stored[4]!.id, 5)).toEqual({ messages: [], more: false });
    expect(await kit.a.history.after(r1, "garbage", 5)).toEqual({ messages: [], more: false });
  });

  test("since returns every message after a retained id, and null when the gap cannot be filled", async () => {
    const stored = await fill(kit.a.history, r1, 5);
    expect(await kit.b.history.since(r1, stored[1]!.id, 10)).toEqual(stored.slice(2));
    expect(await kit.a.history.since(r1, stored[4]!.id, 10)).toEqual([]);
    expect(await kit.a.history.since(r1, stored[1]!.id, 3)).toEqual(stored.slice(2));
    expect(await kit.a.history.since(r1, stored[1]!.id, 2)).toBeNull();
    const [ms, seq] = stored[2]!.id.split("-").map(Number) as [number, number];
    expect(await kit.a.history.since(r1, `${ms}-${seq + 1000}`, 10)).toBeNull();
    expect(await kit.a.history.since(r1, "nonsense", 10)).toBeNull();
    expect(await kit.a.history.since(r2, stored[1]!.id, 10)).toBeNull();
  });

  test("since returns null for an id that was trimmed away", async () => {
    const stored = await fill(kit.a.history, r1, 7);
    expect(await kit.a.history.since(r1, stored[0]!.id, 100)).toBeNull();
    expect(await kit.a.history.since(r1, stored[2]!.id, 100)).toEqual(stored.slice(3));
  });

  test("trimming stays exact message after message, long past HISTORY_MAX, for every read", async () => {
    const stored: Message[] = [];
    for (let n = 1; n <= 23; n++) {
      stored.push((await kit.a.history.append({ roomId: r1, user: alice, text: `m${n}`, ts: Date.now() })).message);
      const retained = stored.slice(-5);
      const oldest = retained[0]!;
      expect(await kit.a.history.latest(r1, 100)).toEqual({ messages: retained, more: false });
      expect(await kit.a.history.latest(r1, 2)).toEqual({ messages: retained.slice(-2), more: retained.length > 2 });
      expect(await kit.a.history.before(r1, stored[n - 1]!.id, 100)).toEqual({
        messages: retained.slice(0, -1),
        more: false,
      });
      expect(await kit.a.history.after(r1, "0-0", 100)).toEqual({ messages: retained, more: false });
      expect(await kit.a.history.since(r1, oldest.id, 100)).toEqual(retained.slice(1));
      if (n > 5) expect(await kit.a.history.since(r1, stored[n - 6]!.id, 100)).toBeNull();
      expect(await kit.a.history.newestId(r1)).toBe(stored[n - 1]!.id);
    }
  });

  test("newestId is the room's newest message id, or null in an empty room", async () => {
    expect(await kit.a.history.newestId(r1)).toBeNull();
    const stored = await fill(kit.a.history, r1, 3);
    expect(await kit.b.history.newestId(r1)).toBe(stored[2]!.id);
  });

  test("text with quotes, newlines, backslashes and non-ASCII characters comes back unchanged", async () => {
    const text = 'a "quoted" \\ back\nslash\t👋 é <b>not html</b> \u2028';
    const { message } = await kit.a.history.append({ roomId: r1, user: { id: 'u"1', name: "Zoë ✓" }, text, ts: 1 });
    expect(message.text).toBe(text);
    expect((await kit.b.history.latest(r1, 1)).messages[0]).toEqual(message);
    await eventually(() => messageEvents().length === 1, "the message on the bus");
    expect(messageEvents()[0]).toEqual({ type: "message", roomId: r1, message });
  });
});

describe.each(KINDS)("CLIENT_MSG_ID_TTL_MS (%s)", (kind) => {
  test("a clientMsgId is remembered for the window, and a send after it is a new message", async () => {
    const kit = await openKit(kind, redis(), { CLIENT_MSG_ID_TTL_MS: "1000" });
    const roomId = freshRoom();
    const send = (text: string) =>
      kit.a.history.append({ roomId, user: alice, text, clientMsgId: "retry-me", ts: Date.now() });
    const first = await send("first");
    const within = await send("within the window");
    expect(within).toEqual({ message: first.message, duplicate: true });
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const after = await send("after the window");
    expect(after.duplicate).toBe(false);
    expect(after.message.id).not.toBe(first.message.id);
    expect(texts((await kit.a.history.latest(roomId, 10)).messages)).toEqual(["first", "after the window"]);
  });
});
