/**
 * The read-state contract (§9) over every store: the first-join rule,
 * forward-only markers, the public position, the author's own message, unread
 * counts through edits and deletes, `room:reads`, the user's rooms in activity
 * order, and `forget`.
 */
import type { Message, User } from "../../shared";
import { deleteRule, editRule } from "../../server/features/chat/message-rules";
import { KINDS, useContractServers, type Kit } from "./store-kits";

const openKit = useContractServers();

const alice: User = { id: "alice", name: "Alice" };
const bob: User = { id: "bob", name: "Bob" };

let rooms = 0;
const freshRoom = () => `reads-${++rooms}`;
let users = 0;
const freshUser = (name = "U"): User => ({ id: `reader-${++users}`, name });

describe.each(KINDS)("read state (%s)", (kind) => {
  let kit: Kit;
  let room: string;
  beforeAll(async () => {
    kit = await openKit(kind, { HISTORY_MAX: "1000" });
  });
  beforeEach(() => {
    room = freshRoom();
  });
  const send = (user: User, text: string, roomId = room) =>
    kit.a.messages.append({ roomId, user, text, ts: Date.now() }).then((r) => r.message);
  const fill = async (count: number, roomId = room) => {
    const sent: Message[] = [];
    for (let i = 0; i < count; i++) sent.push(await send(alice, `m${i}`, roomId));
    return sent;
  };

  test("the first join sets the marker to the newest message: nothing older is unread; later joins change nothing", async () => {
    const sent = await fill(3);
    expect(await kit.b.reads.enter(room, bob, 1)).toEqual({ readUpTo: sent[2]!.id, unread: 0, first: true });
    await fill(2);
    expect(await kit.a.reads.enter(room, bob, 2)).toEqual({ readUpTo: sent[2]!.id, unread: 2, first: false });
  });

  test("in an empty room the marker is null and every later message is unread", async () => {
    expect(await kit.a.reads.enter(room, bob, 1)).toEqual({ readUpTo: null, unread: 0, first: true });
    await fill(4);
    expect(await kit.b.reads.enter(room, bob, 2)).toEqual({ readUpTo: null, unread: 4, first: false });
  });

  test("markers move forward only: an older upTo is ok and answered with the current marker", async () => {
    const sent = await fill(5);
    await kit.a.reads.enter(room, bob, 1);
    await fill(3);
    const mark = await kit.a.reads.markRead(room, bob, sent[4]!.id, false, 2);
    expect(mark).toMatchObject({ readUpTo: sent[4]!.id, readSeq: 5, unread: 3, moved: false });
    const later = (await kit.a.messages.latest(room, 1)).messages[0]!;
    expect(await kit.b.reads.markRead(room, bob, later.id, false, 3)).toMatchObject({
      readUpTo: later.id,
      readSeq: 8,
      unread: 0,
      moved: true,
      publicMoved: true,
      publicUpTo: later.id,
      publicSeq: 8,
    });
    expect(await kit.a.reads.markRead(room, bob, sent[0]!.id, false, 4)).toMatchObject({
      readUpTo: later.id,
      unread: 0,
      moved: false,
      publicMoved: false,
    });
  });

  test("upTo that is not a message of the room is not_found and changes nothing", async () => {
    const sent = await fill(2);
    const elsewhere = await send(alice, "x", freshRoom());
    await kit.a.reads.enter(room, bob, 1);
    for (const upTo of [elsewhere.id, "1-1", "nonsense", `${sent[0]!.id.split("-")[0]}-99`]) {
      await expect(kit.a.reads.markRead(room, bob, upTo, false, 2)).rejects.toMatchObject({ code: "not_found" });
    }
    expect(await kit.a.reads.enter(room, bob, 3)).toMatchObject({ readUpTo: sent[1]!.id, unread: 0 });
    expect(await kit.a.reads.reads(room, 100)).toEqual([]);
  });

  test("a private read moves the marker and unread, not the public position others see", async () => {
    const sent = await fill(4);
    await kit.a.reads.enter(room, bob, 1);
    await fill(3);
    await kit.a.reads.markRead(room, bob, sent[3]!.id, false, 2);
    const latest = (await kit.a.messages.latest(room, 1)).messages[0]!;
    expect(await kit.a.reads.markRead(room, bob, latest.id, true, 3)).toMatchObject({
      readUpTo: latest.id,
      unread: 0,
      moved: true,
      publicMoved: false,
      publicUpTo: sent[3]!.id,
    });
    expect(await kit.b.reads.reads(room, 100)).toEqual([{ user: bob, readUpTo: sent[3]!.id, readSeq: 4 }]);
    // A later public read of an older message still moves the public position up to it.
    const middle = (await kit.a.messages.latest(room, 2)).messages[0]!;
    expect(await kit.a.reads.markRead(room, bob, middle.id, false, 4)).toMatchObject({
      readUpTo: latest.id,
      moved: false,
      publicMoved: true,
      publicUpTo: middle.id,
    });
  });

  test("joining does not make a public position: room:reads lists only users who read publicly or wrote", async () => {
    await fill(2);
    await kit.a.reads.enter(room, bob, 1);
    expect(await kit.a.reads.reads(room, 100)).toEqual([]);
    await kit.a.reads.enter(room, alice, 1);
    const own = await send(alice, "mine");
    expect(await kit.b.reads.reads(room, 100)).toEqual([{ user: alice, readUpTo: own.id, readSeq: 3 }]);
  });

  test("the author's own message moves their marker and public position to it", async () => {
    await fill(2);
    await kit.a.reads.enter(room, bob, 1);
    await fill(5);
    const own = await send(bob, "bob writes");
    expect(await kit.b.reads.enter(room, bob, 2)).toEqual({ readUpTo: own.id, unread: 0, first: false });
    await send(alice, "after");
    expect(await kit.b.reads.enter(room, bob, 3)).toEqual({ readUpTo: own.id, unread: 1, first: false });
  });

  test("unread counts messages after the marker; edits and deletes do not change it, tombstones still count", async () => {
    const sent = await fill(2);
    await kit.a.reads.enter(room, bob, 1);
    const more = await fill(3);
    await kit.a.messages.change(room, more[0]!.id, editRule(alice, "edited", 1));
    await kit.a.messages.change(room, more[1]!.id, deleteRule(alice));
    await kit.a.messages.change(room, sent[0]!.id, deleteRule(alice));
    expect((await kit.b.reads.enter(room, bob, 2)).unread).toBe(3);
    expect((await kit.b.reads.markRead(room, bob, more[1]!.id, false, 3)).unread).toBe(1);
  });

  test("room:reads answers at most `limit`, highest readSeq first", async () => {
    const sent = await fill(12);
    const readers = Array.from({ length: 12 }, (_, i) => freshUser(`R${i}`));
    for (const [i, reader] of readers.entries()) {
      await kit.a.reads.enter(room, reader, 1);
      await kit.b.reads.markRead(room, reader, sent[i]!.id, false, 2);
    }
    const reads = await kit.a.reads.reads(room, 5);
    expect(reads.map((r) => r.readSeq)).toEqual([12, 11, 10, 9, 8]);
    expect(reads[0]).toEqual({ user: readers[11], readUpTo: sent[11]!.id, readSeq: 12 });
  });

  test("rooms: newest last message first, then rooms without messages (latest joined first), with unread and marker", async () => {
    const me = freshUser();
    const [quiet, older, busy, emptyFirst, emptyLater] = [1, 2, 3, 4, 5].map(() => freshRoom());
    await send(alice, "q", quiet!);
    await kit.a.reads.enter(emptyFirst!, me, 1000);
    for (const roomId of [quiet!, older!, busy!]) await kit.b.reads.enter(roomId, me, 2000);
    await kit.a.reads.enter(emptyLater!, me, 3000);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await send(alice, "o", older!);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const last = await send(alice, "b", busy!);
    const list = await kit.a.reads.rooms(me.id, 200);
    expect(list.map((r) => r.roomId)).toEqual([busy, older, quiet, emptyLater, emptyFirst]);
    expect(list[0]).toEqual({ roomId: busy, readUpTo: null, unread: 1, lastMessage: last });
    expect(list[2]).toMatchObject({ roomId: quiet, unread: 0, lastMessage: { text: "q" } });
    expect(list[3]).toEqual({ roomId: emptyLater, readUpTo: null, unread: 0, lastMessage: null });
  });

  // §9: "rooms without messages after them, the latest joined first" — also for joins within one millisecond, where
  // a sorted set's equal scores would order rooms by id instead.
  test("rooms: rooms joined in the same millisecond are listed the latest joined first", async () => {
    const me = freshUser();
    const base = freshRoom();
    // Neither the ids' order nor its reverse: a tie broken by id in either direction shows.
    const ids = ["b", "d", "a", "c"].map((suffix) => `${base}-${suffix}`);
    for (const [i, roomId] of ids.entries()) await (i % 2 ? kit.b : kit.a).reads.enter(roomId, me, 5000);
    expect((await kit.a.reads.rooms(me.id, 200)).map((r) => r.roomId)).toEqual([...ids].reverse());
  });

  test("rooms: at most `limit` of 210, the most active", async () => {
    const me = freshUser();
    const ids = Array.from({ length: 210 }, () => freshRoom());
    for (const [i, roomId] of ids.entries()) {
      await kit.a.reads.enter(roomId, me, i);
      if (i >= 10) await send(alice, `in ${i}`, roomId);
    }
    const list = await kit.b.reads.rooms(me.id, 200);
    expect(list).toHaveLength(200);
    expect(new Set(list.map((r) => r.roomId))).toEqual(new Set(ids.slice(10)));
    expect(list[0]!.roomId).toBe(ids[209]);
  });

  test("forget removes the room and its marker; joining again starts afresh", async () => {
    const me = freshUser();
    const sent = await fill(3);
    await kit.a.reads.enter(room, me, 1);
    await kit.a.reads.markRead(room, me, sent[2]!.id, false, 2);
    expect(await kit.b.reads.forget(room, me.id)).toBe(true);
    expect(await kit.a.reads.rooms(me.id, 200)).toEqual([]);
    expect(await kit.a.reads.reads(room, 100)).toEqual([]);
    expect(await kit.b.reads.forget(room, me.id)).toBe(false);
    await fill(2);
    const latest = (await kit.a.messages.latest(room, 1)).messages[0]!;
    expect(await kit.a.reads.enter(room, me, 3)).toEqual({ readUpTo: latest.id, unread: 0, first: true });
  });

  test("a read of a room never joined makes it one of the user's rooms", async () => {
    const me = freshUser();
    const sent = await fill(3);
    await kit.a.reads.markRead(room, me, sent[1]!.id, true, 5);
    expect(await kit.b.reads.rooms(me.id, 200)).toEqual([
      { roomId: room, readUpTo: sent[1]!.id, unread: 1, lastMessage: sent[2] },
    ]);
  });
});
