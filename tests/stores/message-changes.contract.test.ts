/**
 * The changes of §8 against every message store, through the same rules the
 * service uses: edits, deletes (tombstones), reactions, their positions and
 * events, what `since` and `pollFrom` say about them, and concurrent changes
 * from two nodes ending in one state and one order.
 */
import type { Message, User } from "../../shared";
import type { RoomEvent } from "../../server/core/bus";
import { deleteRule, editRule, reactionRule } from "../../server/features/chat/message-rules";
import type { MessageStore } from "../../server/features/chat/message.store";
import { eventually } from "../helpers/clients";
import { KINDS, useContractServers, type Kit } from "./store-kits";

const openKit = useContractServers();

const alice: User = { id: "alice", name: "Alice" };
const bob: User = { id: "bob", name: "Bob" };
const moderator = { id: "mod", moderator: true };

let rooms = 0;
const freshRoom = () => `changes-${++rooms}`;
const n = (position: string) => Number(position.split("-")[1]);

describe.each(KINDS)("message changes (%s)", (kind) => {
  let kit: Kit;
  let room: string;
  beforeAll(async () => {
    kit = await openKit(kind, { HISTORY_MAX: "50" });
  });
  beforeEach(async () => {
    room = freshRoom();
    await kit.follow(room);
  });
  const send = (store: MessageStore, user: User, text: string, extra: Partial<Message> = {}) =>
    store.append({ roomId: room, user, text, ts: Date.now(), ...extra }).then((r) => r.message);
  const roomEvents = (events: RoomEvent[] = kit.events) =>
    events.filter((e) => (e.type === "message" || e.type === "update") && e.roomId === room);
  const updates = (events?: RoomEvent[]) => roomEvents(events).filter((e) => e.type === "update");
  /** Waits until node one's bus delivered `count` events of the room, and a little longer for strays. */
  const settled = async (count: number) => {
    await eventually(() => roomEvents().length >= count, `${count} events of the room`);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(roomEvents()).toHaveLength(count);
  };

  describe("edit", () => {
    test("the author's edit keeps id, seq and ts, takes the next position as rev, stamps editedAt and publishes", async () => {
      const original = await send(kit.a.messages, alice, "helo");
      const before = Date.now();
      const { message, changed } = await kit.b.messages.change(room, original.id, editRule(alice, "  hello\r\n", 5));
      expect(changed).toBe(true);
      expect(message).toEqual({ ...original, text: "hello", editedAt: 5, rev: expect.any(String) });
      expect(n(message.rev)).toBe(n(original.id) + 1);
      expect(message.rev.split("-")[0]).toBe(original.id.split("-")[0]);
      expect(before).toBeGreaterThan(0);
      expect(await kit.a.messages.get(room, original.id)).toEqual(message);
      await settled(2);
      expect(roomEvents()[1]).toEqual({ type: "update", roomId: room, message });
      expect((await kit.a.messages.latest(room, 10)).messages).toEqual([message]);
    });

    test("someone else's edit is forbidden and changes nothing", async () => {
      const original = await send(kit.a.messages, alice, "mine");
      await expect(kit.a.messages.change(room, original.id, editRule(bob, "theirs", 1))).rejects.toMatchObject({
        code: "forbidden",
      });
      await expect(kit.a.messages.change(room, original.id, editRule(moderator, "mod", 1))).rejects.toMatchObject({
        code: "forbidden",
      });
      expect(await kit.a.messages.get(room, original.id)).toEqual(original);
      await settled(1);
    });

    test("an edit to the same text after normalisation changes nothing and publishes nothing", async () => {
      const original = await send(kit.a.messages, alice, "same");
      const result = await kit.a.messages.change(room, original.id, editRule(alice, " same\u0007 ", 9));
      expect(result).toEqual({ message: original, changed: false });
      expect(await kit.a.messages.head(room)).toBe(original.id);
      await settled(1);
    });

    test("empty and too long edits are refused before anything is read", () => {
      expect(() => editRule(alice, " \n ", 1)).toThrow(expect.objectContaining({ code: "bad_request" }));
      expect(() => editRule(alice, "x".repeat(4001), 1)).toThrow(expect.objectContaining({ code: "too_large" }));
    });
  });

  describe("delete", () => {
    test("the author's delete leaves a tombstone that keeps id, seq, ts and clientMsgId, and drops the rest", async () => {
      const target = await send(kit.a.messages, bob, "target");
      const original = await send(kit.a.messages, alice, "bye", { clientMsgId: "c-del", replyTo: target.id });
      await kit.a.messages.change(room, original.id, reactionRule(bob, "👍", true));
      await kit.a.messages.change(room, original.id, editRule(alice, "bye!", 3));
      const { message, changed } = await kit.b.messages.change(room, original.id, deleteRule(alice));
      expect(changed).toBe(true);
      expect(message).toEqual({
        id: original.id,
        roomId: room,
        user: alice,
        text: "",
        ts: original.ts,
        clientMsgId: "c-del",
        seq: original.seq,
        rev: expect.any(String),
        deleted: true,
      });
      expect(n(message.rev)).toBe(n(original.id) + 3);
      expect(await kit.a.messages.get(room, original.id)).toEqual(message);
    });

    test("a moderator may delete anyone's message; anyone else is forbidden", async () => {
      const original = await send(kit.a.messages, alice, "spam");
      await expect(kit.a.messages.change(room, original.id, deleteRule(bob))).rejects.toMatchObject({
        code: "forbidden",
      });
      const { message } = await kit.a.messages.change(room, original.id, deleteRule(moderator));
      expect(message.deleted).toBe(true);
    });

    test("deleting a tombstone is ok and changes nothing; editing or reacting to it is not_found", async () => {
      const original = await send(kit.a.messages, alice, "gone");
      const { message: stone } = await kit.a.messages.change(room, original.id, deleteRule(alice));
      expect(await kit.b.messages.change(room, original.id, deleteRule(alice))).toEqual({
        message: stone,
        changed: false,
      });
      await expect(kit.a.messages.change(room, original.id, editRule(alice, "back", 1))).rejects.toMatchObject({
        code: "not_found",
      });
      await expect(kit.a.messages.change(room, original.id, reactionRule(bob, "👍", true))).rejects.toMatchObject({
        code: "not_found",
      });
      await settled(2);
    });

    test("a repeated clientMsgId of a deleted message returns the tombstone", async () => {
      const original = await send(kit.a.messages, alice, "once", { clientMsgId: "c-once" });
      const { message: stone } = await kit.a.messages.change(room, original.id, deleteRule(alice));
      const again = await kit.b.messages.append({
        roomId: room,
        user: alice,
        text: "once",
        clientMsgId: "c-once",
        ts: 1,
      });
      expect(again).toEqual({ message: stone, duplicate: true });
      expect(await kit.b.messages.findSent(room, alice.id, "c-once")).toEqual(stone);
    });
  });

  describe("reactions", () => {
    test("one reaction per user per emoji, counts and users oldest first, emojis in order of first use", async () => {
      const m = await send(kit.a.messages, alice, "react to me");
      const add = (user: { id: string }, emoji: string) =>
        kit.b.messages.change(room, m.id, reactionRule(user, emoji, true));
      await add(bob, "👍");
      await add(alice, "🎉");
      const { message } = await add(alice, "👍");
      expect(message.reactions).toEqual([
        { emoji: "👍", count: 2, userIds: ["bob", "alice"] },
        { emoji: "🎉", count: 1, userIds: ["alice"] },
      ]);
      expect(await add(bob, "👍")).toEqual({ message, changed: false });
      const removed = await kit.a.messages.change(room, m.id, reactionRule(alice, "🎉", false));
      expect(removed.message.reactions).toEqual([{ emoji: "👍", count: 2, userIds: ["bob", "alice"] }]);
      expect(await kit.a.messages.change(room, m.id, reactionRule(alice, "🎉", false))).toEqual({
        message: removed.message,
        changed: false,
      });
      const { message: bare } = await kit.a.messages.change(room, m.id, reactionRule(bob, "👍", false));
      const { message: last } = await kit.a.messages.change(room, m.id, reactionRule(alice, "👍", false));
      expect(bare.reactions).toEqual([{ emoji: "👍", count: 1, userIds: ["alice"] }]);
      expect(last).not.toHaveProperty("reactions");
      expect(n(last.rev)).toBe(n(m.id) + 6);
    });

    test("a 21st different emoji is bad_request and changes nothing", async () => {
      const m = await send(kit.a.messages, alice, "busy");
      for (let i = 0; i < 20; i++) await kit.a.messages.change(room, m.id, reactionRule(bob, `:e${i}:`, true));
      const full = await kit.a.messages.get(room, m.id);
      await expect(kit.a.messages.change(room, m.id, reactionRule(bob, ":e20:", true))).rejects.toMatchObject({
        code: "bad_request",
      });
      // One more user on an emoji already there is fine.
      await kit.a.messages.change(room, m.id, reactionRule(alice, ":e0:", true));
      expect((await kit.a.messages.get(room, m.id))!.reactions).toHaveLength(20);
      expect(full!.reactions).toHaveLength(20);
    });

    test("userIds lists the first 20 to react while count has them all", async () => {
      const m = await send(kit.a.messages, alice, "popular");
      const users = Array.from({ length: 23 }, (_, i) => ({ id: `u${String(i).padStart(2, "0")}` }));
      let message = m;
      for (const user of users)
        message = (await kit.a.messages.change(room, m.id, reactionRule(user, "❤️", true))).message;
      const expected = { emoji: "❤️", count: 23, userIds: users.slice(0, 20).map((u) => u.id) };
      expect(message.reactions).toEqual([expected]);
      expect((await kit.b.messages.get(room, m.id))!.reactions).toEqual([expected]);
      expect((await kit.b.messages.latest(room, 1)).messages[0]!.reactions).toEqual([expected]);
      await eventually(() => updates().length === 23, "23 updates");
      expect((updates().at(-1) as { message: Message }).message.reactions).toEqual([expected]);
      const { message: after } = await kit.a.messages.change(room, m.id, reactionRule(users[0]!, "❤️", false));
      expect(after.reactions).toEqual([{ emoji: "❤️", count: 22, userIds: users.slice(1, 21).map((u) => u.id) }]);
    });
  });

  test("ids of other rooms, unknown ids and ids of any other form are not_found", async () => {
    const here = await send(kit.a.messages, alice, "here");
    const other = await kit.a.messages.append({ roomId: freshRoom(), user: alice, text: "there", ts: 1 });
    for (const id of [other.message.id, `${here.id.split("-")[0]}-999`, "garbage", "", "1-1"]) {
      await expect(kit.a.messages.change(room, id, editRule(alice, "x", 1))).rejects.toMatchObject({
        code: "not_found",
      });
      expect(await kit.a.messages.get(room, id)).toBeNull();
    }
  });

  test("beforeCommit runs once, only for a change that will be stored, and can refuse it", async () => {
    const m = await send(kit.a.messages, alice, "guarded");
    const guard = jest.fn(async () => {});
    await kit.a.messages.change(room, m.id, editRule(alice, "guarded", 1), guard);
    expect(guard).not.toHaveBeenCalled();
    await kit.a.messages.change(room, m.id, editRule(alice, "changed", 1), guard);
    expect(guard).toHaveBeenCalledTimes(1);
    const refusing = async () => {
      throw Object.assign(new Error("slow down"), { code: "rate_limited" });
    };
    await expect(kit.a.messages.change(room, m.id, editRule(alice, "again", 1), refusing)).rejects.toMatchObject({
      code: "rate_limited",
    });
    expect((await kit.a.messages.get(room, m.id))!.text).toBe("changed");
    await settled(2);
  });

  test("since: messages after the position, and older ones changed after it in change order, as they are now", async () => {
    const [m1, m2, m3] = [
      await send(kit.a.messages, alice, "1"),
      await send(kit.a.messages, alice, "2"),
      await send(kit.a.messages, alice, "3"),
    ];
    const mark = m3!.id;
    await kit.a.messages.change(room, m2!.id, editRule(alice, "2 edited", 1));
    const m4 = await send(kit.a.messages, bob, "4");
    await kit.a.messages.change(room, m1!.id, reactionRule(bob, "👍", true));
    await kit.a.messages.change(room, m2!.id, reactionRule(bob, "👀", true));
    await kit.a.messages.change(room, m4.id, editRule(bob, "4 edited", 2));
    const missed = await kit.b.messages.since(room, mark, 500);
    const now = async (id: string) => (await kit.a.messages.get(room, id))!;
    expect(missed).toEqual({ messages: [await now(m4.id)], updates: [await now(m1!.id), await now(m2!.id)] });
    // A change's rev is a position too: nothing after the last change.
    const head = (await kit.a.messages.head(room))!;
    expect(await kit.a.messages.since(room, head, 500)).toEqual({ messages: [], updates: [] });
    // From the edit of m2: m4 is new; m1, m2 (changed again) are updates.
    const editOfM2 = `${mark.split("-")[0]}-${n(mark) + 1}`;
    expect((await kit.a.messages.since(room, editOfM2, 500))!.updates.map((m) => m.text)).toEqual(["1", "2 edited"]);
    // The limit counts both lists.
    expect(await kit.a.messages.since(room, mark, 3)).toEqual(missed);
    expect(await kit.a.messages.since(room, mark, 2)).toBeNull();
  });

  test("pollFrom cuts at the limit and then holds only changes made before the last message returned", async () => {
    const first = await send(kit.a.messages, alice, "a");
    const after = first.id;
    await send(kit.a.messages, alice, "b");
    await kit.a.messages.change(room, first.id, editRule(alice, "a1", 1));
    const c = await send(kit.a.messages, alice, "c");
    await kit.a.messages.change(room, first.id, reactionRule(bob, "👍", true));
    await send(kit.a.messages, alice, "d");
    const cut = (await kit.b.messages.pollFrom(room, after, 2))!;
    expect(cut.messages.map((m) => m.text)).toEqual(["b", "c"]);
    expect(cut.updates).toEqual([]);
    expect(cut.cursor).toBe(c.id);
    const rest = (await kit.b.messages.pollFrom(room, cut.cursor, 2))!;
    expect(rest.messages.map((m) => m.text)).toEqual(["d"]);
    expect(rest.updates.map((m) => [m.text, m.reactions?.length])).toEqual([["a1", 1]]);
    expect(rest.cursor).toBe(await kit.a.messages.head(room));
    expect(await kit.b.messages.pollFrom(room, rest.cursor, 2)).toEqual({
      messages: [],
      updates: [],
      cursor: rest.cursor,
    });
    expect(await kit.b.messages.pollFrom(room, "1-1", 2)).toBeNull();
    expect(await kit.b.messages.pollFrom(room, `${after.split("-")[0]}-999`, 2)).toBeNull();
  });

  test("concurrent reactions and edits from two nodes end in one state, with gapless positions in one order", async () => {
    const target = await send(kit.a.messages, alice, "hot");
    const users = Array.from({ length: 12 }, (_, i) => ({ id: `r${i}` }));
    await Promise.all([
      ...users.map((user, i) =>
        (i % 2 ? kit.a : kit.b).messages.change(room, target.id, reactionRule(user, i % 3 ? "👍" : "🔥", true)),
      ),
      ...[1, 2, 3].map((i) => (i % 2 ? kit.b : kit.a).messages.change(room, target.id, editRule(alice, `hot ${i}`, i))),
    ]);
    const final = (await kit.a.messages.get(room, target.id))!;
    expect(await kit.b.messages.get(room, target.id)).toEqual(final);
    expect(final.reactions!.reduce((sum, r) => sum + r.count, 0)).toBe(12);
    expect(n(final.rev)).toBe(n(target.id) + 15);
    await eventually(() => updates().length === 15 && updates(kit.eventsB).length === 15, "15 updates on both nodes");
    // With PostgreSQL the bus may reorder a room's events (publishes follow commits); delivery restores the order.
    const ordered = (events: RoomEvent[]) =>
      kind === "postgres"
        ? [...events].sort(
            (x, y) => n((x as { message: Message }).message.rev) - n((y as { message: Message }).message.rev),
          )
        : events;
    const revs = ordered(updates()).map((e) => n((e as { message: Message }).message.rev));
    expect(revs).toEqual(Array.from({ length: 15 }, (_, i) => n(target.id) + 1 + i));
    expect(ordered(updates(kit.eventsB))).toEqual(ordered(updates()));
    expect((ordered(updates()).at(-1) as { message: Message }).message).toEqual(final);
  });

  test("concurrent sends from two nodes number messages 1..N without gaps", async () => {
    const sent = await Promise.all(
      Array.from({ length: 30 }, (_, i) => send(i % 2 ? kit.a.messages : kit.b.messages, i % 2 ? alice : bob, `s${i}`)),
    );
    expect(sent.map((m) => m.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const page = await kit.a.messages.latest(room, 50);
    expect(page.messages.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });
});
