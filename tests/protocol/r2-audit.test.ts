/**
 * Audit of protocol revision 2 over Socket.IO and /ws (§2, §3, §8, §9 of the contract): each test asserts one
 * sentence a client author relies on (quoted above it), on the memory, Redis and PostgreSQL stores.
 */
import type { Message } from "../../shared";
import { closeAllClients, collect, eventually, sleep, type HuddleClient } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { closeAllPlain, connectPlain } from "../ws/ws-client";
import { BACKENDS, bearer, GENEROUS, person, rest, useAuditBackends } from "./r2-audit-support";
import { connectSession, join, refusedWith, request, send, uniqueRoom } from "./support";

const backends = useAuditBackends();
afterEach(() => {
  closeAllClients();
  closeAllPlain();
});

/** Messages trimmed past HISTORY_MAX are no longer kept: not_found for changes, reads and replies; no resume from them. */
async function expectTrimmed(socket: HuddleClient, roomId: string, ms: Message[]) {
  expect(await request(socket, "message:edit", { roomId, id: ms[0]!.id, text: "z" })).toEqual(refusedWith("not_found"));
  expect(await request(socket, "room:read", { roomId, upTo: ms[1]!.id })).toEqual(refusedWith("not_found"));
  expect(await request(socket, "message:send", { roomId, text: "r", replyTo: ms[1]!.id })).toEqual(
    refusedWith("not_found"),
  );
  expect(await join(socket, roomId, ms[0]!.id)).toMatchObject({ resumed: false });
  expect(await join(socket, roomId, ms[1]!.id)).toMatchObject({ resumed: false });
  expect(await join(socket, roomId, ms[2]!.id)).toMatchObject({ resumed: true, history: [ms[3], ms[4]] });
}

describe.each(BACKENDS)("on %s", (backend) => {
  const app = () => backends.app(backend);

  // §2: "A message id given to a revision-2 event or route (`id`, `upTo`, `replyTo`, `:id`) that is not a message
  // of the room is `not_found`, whatever its form."
  test("an id, upTo or replyTo of any form (empty, 65 characters, junk) that is not a message of the room is not_found", async () => {
    const roomId = uniqueRoom();
    const a = await person(app());
    await join(a.socket, roomId);
    const m = await send(a.socket, roomId, "x");
    for (const id of ["", "x".repeat(65), "nope", "1-1", `${m.id}0`]) {
      expect([id, await request(a.socket, "message:edit", { roomId, id, text: "y" })]).toEqual([
        id,
        refusedWith("not_found"),
      ]);
      expect([id, await request(a.socket, "message:delete", { roomId, id })]).toEqual([id, refusedWith("not_found")]);
      expect([id, await request(a.socket, "reaction:add", { roomId, id, emoji: "x" })]).toEqual([
        id,
        refusedWith("not_found"),
      ]);
      expect([id, await request(a.socket, "room:read", { roomId, upTo: id })]).toEqual([id, refusedWith("not_found")]);
      expect([id, await request(a.socket, "message:send", { roomId, text: "r", replyTo: id })]).toEqual([
        id,
        refusedWith("not_found"),
      ]);
    }
  });

  // §2: "Ids are opaque strings: clients compare them only for equality": "E-03" is not message "E-3".
  test("an id that differs from a message's only by a leading zero is not_found", async () => {
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const { socket } = await connectSession(app().url, { token });
    await join(socket, roomId);
    const m = await send(socket, roomId, "x");
    const [epoch, n] = m.id.split("-");
    for (const id of [`${epoch}-0${n}`, `0${epoch}-${n}`]) {
      expect(await request(socket, "message:edit", { roomId, id, text: "y" })).toEqual(refusedWith("not_found"));
      expect(await request(socket, "room:read", { roomId, upTo: id })).toEqual(refusedWith("not_found"));
      expect(await request(socket, "message:send", { roomId, text: "r", replyTo: id })).toEqual(
        refusedWith("not_found"),
      );
    }
  });

  // §2: "seq: 1 for a room's first message, then +1 for each message"; "rev ... equals id until it changes";
  // §8: "`seq` numbers messages, not changes".
  test("seq counts messages, not changes, and rev equals id on a new message", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    await join(a.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    await request(a.socket, "reaction:add", { roomId, id: m1.id, emoji: "x" });
    const m2 = await send(a.socket, roomId, "2");
    expect([m1.seq, m2.seq]).toEqual([1, 2]);
    expect(m2.rev).toBe(m2.id);
    expect(m1).not.toHaveProperty("reactions");
    expect(m1).not.toHaveProperty("editedAt");
    expect(m1).not.toHaveProperty("deleted");
    expect(m1).not.toHaveProperty("replyTo");
  });

  // §8: "`message:edit`: only the author (`forbidden` otherwise)"; "`message:delete`: the author, or a moderator";
  // "Deleting a tombstone is `ok` and changes nothing"; "refused `not_found` ... except a repeated delete, for a
  // tombstone"; "A repeated `clientMsgId` of a deleted message returns the tombstone."
  test("who may edit and delete, tombstones, no-op changes broadcast nothing, a repeated clientMsgId answers the tombstone", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const b = await person(app(), "B");
    const mod = await person(app(), "M", { role: "moderator" });
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    await join(mod.socket, roomId);
    const m = await send(a.socket, roomId, "hello", "c1");
    expect(await request(b.socket, "message:edit", { roomId, id: m.id, text: "x" })).toEqual(refusedWith("forbidden"));
    expect(await request(b.socket, "message:delete", { roomId, id: m.id })).toEqual(refusedWith("forbidden"));
    const reply = (await request(b.socket, "message:send", { roomId, text: "re", replyTo: m.id })) as any;
    expect(reply.message.replyTo).toBe(m.id);
    const ed = (await request(b.socket, "message:edit", { roomId, id: reply.message.id, text: "re2" })) as any;
    const rx = (await request(a.socket, "reaction:add", { roomId, id: reply.message.id, emoji: "🎉" })) as any;
    expect(rx.message.reactions).toEqual([{ emoji: "🎉", count: 1, userIds: [a.user.id] }]);
    const updates = collect(a.socket, "message:updated");
    const del = (await request(mod.socket, "message:delete", { roomId, id: reply.message.id })) as any;
    expect(del).toEqual({
      ok: true,
      message: {
        id: reply.message.id,
        roomId,
        user: b.user,
        text: "",
        ts: reply.message.ts,
        seq: 2,
        rev: expect.any(String),
        deleted: true,
      },
    });
    // The delete's own broadcast first (over Redis it may land after its ack), then the no-ops add nothing.
    await eventually(() => updates.items.some((m: Message) => m.rev === del.message.rev), "the delete's broadcast");
    updates.items.length = 0;
    expect(await request(b.socket, "message:delete", { roomId, id: reply.message.id })).toEqual({
      ok: true,
      message: del.message,
    });
    expect(await request(mod.socket, "message:delete", { roomId, id: reply.message.id })).toEqual({
      ok: true,
      message: del.message,
    });
    expect(await request(a.socket, "message:delete", { roomId, id: reply.message.id })).toEqual(
      refusedWith("forbidden"),
    );
    expect(await request(b.socket, "message:edit", { roomId, id: reply.message.id, text: "z" })).toEqual(
      refusedWith("not_found"),
    );
    expect(await request(a.socket, "reaction:add", { roomId, id: reply.message.id, emoji: "x" })).toEqual(
      refusedWith("not_found"),
    );
    expect(await request(a.socket, "reaction:remove", { roomId, id: reply.message.id, emoji: "🎉" })).toEqual(
      refusedWith("not_found"),
    );
    await sleep(100);
    expect(updates.items).toEqual([]);
    // repeated clientMsgId of a deleted message
    await request(a.socket, "message:delete", { roomId, id: m.id });
    const again = (await request(a.socket, "message:send", { roomId, text: "hello", clientMsgId: "c1" })) as any;
    expect(again.message).toMatchObject({ id: m.id, deleted: true, text: "" });
    const againRest = await rest(app(), a.token, `/rooms/${roomId}/messages`, "POST", {
      text: "hello",
      clientMsgId: "c1",
    });
    expect(againRest.status).toBe(200);
    expect(againRest.body.message).toMatchObject({ id: m.id, deleted: true });
    // replyTo a tombstone?
    const r2 = await request(a.socket, "message:send", { roomId, text: "re", replyTo: m.id });
    expect(r2).toMatchObject({ ok: true });
    void ed;
  });

  // §8: "`since` ... accept[s] any position"; "`history` is every message whose `id` is after `since` ... and `updates`
  // every message at or before `since` whose `rev` is after `since`"; "Without `since`, `updates` is empty."
  test("room:join since a rev or a message id splits history and updates at that position; without since, updates is empty", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    await join(a.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const m2 = await send(a.socket, roomId, "2");
    const e1 = (await request(a.socket, "message:edit", { roomId, id: m1.id, text: "1b" })) as any;
    const b = await person(app(), "B");
    const j = await join(b.socket, roomId, e1.message.rev);
    expect(j).toMatchObject({ resumed: true, history: [], updates: [] });
    const j2 = await join(b.socket, roomId, m2.id);
    expect(j2).toMatchObject({ resumed: true, history: [], updates: [e1.message] });
    const j3 = await join(b.socket, roomId, m1.id);
    expect(j3).toMatchObject({ resumed: true, history: [m2], updates: [e1.message] });
    const j4 = await join(b.socket, roomId);
    expect(j4).toMatchObject({ resumed: false, updates: [] });
    const j5 = await join(b.socket, roomId, "garbage");
    expect(j5).toMatchObject({ resumed: false, updates: [] });
    expect(j5.history).toEqual([e1.message, m2]);
  });

  // §8: "The 500 limit counts both; past it ... `resumed` is false, `history` the latest 50 and `updates` empty."
  test("the 500 limit of a resume counts history and updates together", async () => {
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const ms: Message[] = [];
    for (let i = 0; i < 260; i++)
      ms.push((await rest(app(), token, `/rooms/${roomId}/messages`, "POST", { text: `m${i}` })).body.message);
    const since = ms.at(-1)!.id;
    for (let i = 0; i < 250; i++)
      ms.push((await rest(app(), token, `/rooms/${roomId}/messages`, "POST", { text: `n${i}` })).body.message);
    for (let i = 0; i < 251; i++) await rest(app(), token, `/rooms/${roomId}/messages/${ms[i]!.id}/reactions/x`, "PUT");
    const { socket } = await connectSession(app().url, { token });
    const j = await join(socket, roomId, since);
    expect([j.resumed, j.history.length, j.updates.length]).toEqual([false, 50, 0]);
    await rest(app(), token, `/rooms/${roomId}/messages/${ms[0]!.id}/reactions/x`, "DELETE");
    // now updates: 250 (ms[1..250]) + ms[0] = 251 still; history 250 => 501
    const j2 = await join(socket, roomId, since);
    expect(j2.resumed).toBe(false);
    const p = await rest(app(), token, `/rooms/${roomId}/poll?after=${since}&timeout=0`);
    expect(p.body.messages.length).toBe(100);
    const lastPos = Number(p.body.messages[99].id.split("-")[1]);
    expect(p.body.updates).toEqual([]);
    expect(p.body.cursor).toBe(p.body.messages[99].id);
    void lastPos;
  });

  // §8: "refused `not_found` for an id that is not a message of the room (or is no longer kept)";
  // §2: "userIds: the first 20 to react, oldest first".
  test("messages no longer kept are not_found; a reaction lists its first 20 users and counts them all", async () => {
    const small = await backends.startOn(backend, { HISTORY_MAX: "3", RATE_BURST: "1000", RATE_PER_SEC: "1000" });
    const roomId = uniqueRoom();
    const token = signToken({ sub: uniqueUserId("A") });
    const { socket } = await connectSession(small.url, { token });
    await join(socket, roomId);
    const ms: Message[] = [];
    for (let i = 0; i < 5; i++) ms.push(await send(socket, roomId, `m${i}`));
    // §10: with PostgreSQL, HISTORY_MAX no longer caps what is kept.
    if (backend !== "postgres") await expectTrimmed(socket, roomId, ms);
    const last = ms[4]!;
    let final: any;
    for (let i = 0; i < 21; i++) {
      const t = signToken({ sub: `u${String(i).padStart(2, "0")}-${uniqueUserId()}` });
      final = await http(`${small.url}/api/rooms/${roomId}/messages/${last.id}/reactions/x`, {
        method: "PUT",
        headers: bearer(t),
      });
    }
    const r = final.body.message.reactions[0];
    expect([r.count, r.userIds.length, r.userIds[0].slice(0, 3), r.userIds[19].slice(0, 3)]).toEqual([
      21,
      20,
      "u00",
      "u19",
    ]);
    await small.close();
  });

  // §9: "(`null` in an empty room, meaning nothing is read yet)"; "unread ... the number of messages with a larger
  // `seq` (tombstones included)".
  test("in an empty room readUpTo is null, and unread then counts every message, tombstones included", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const b = await person(app(), "B");
    expect(await join(b.socket, roomId)).toMatchObject({
      readUpTo: null,
      unread: 0,
      history: [],
      updates: [],
      resumed: false,
    });
    await join(a.socket, roomId);
    await send(a.socket, roomId, "1");
    const m2 = await send(a.socket, roomId, "2");
    await request(a.socket, "message:delete", { roomId, id: m2.id });
    expect(((await request(b.socket, "rooms:list", {})) as any).rooms[0]).toMatchObject({ readUpTo: null, unread: 2 });
    expect(await join(b.socket, roomId)).toMatchObject({ readUpTo: null, unread: 2 });
  });

  // §9: "a marker never moves back: an older `upTo` is `ok` and answered with the current marker".
  test("room:read with an older upTo is ok and answers the current marker", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const b = await person(app(), "B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const m2 = await send(a.socket, roomId, "2");
    const m3 = await send(a.socket, roomId, "3");
    expect(await request(b.socket, "room:read", { roomId, upTo: m2.id })).toEqual({
      ok: true,
      readUpTo: m2.id,
      unread: 1,
    });
    expect(await request(b.socket, "room:read", { roomId, upTo: m1.id })).toEqual({
      ok: true,
      readUpTo: m2.id,
      unread: 1,
    });
    await request(a.socket, "message:delete", { roomId, id: m3.id });
    expect(await request(b.socket, "room:read", { roomId, upTo: m1.id })).toEqual({
      ok: true,
      readUpTo: m2.id,
      unread: 1,
    });
    // upTo may be a tombstone
    expect(await request(b.socket, "room:read", { roomId, upTo: m3.id })).toEqual({
      ok: true,
      readUpTo: m3.id,
      unread: 0,
    });
  });

  // §9: "A user's own message moves their marker to it, without an event"; "What others see of a marker is its public
  // position: moved by a public `room:read` and by the user's own messages".
  test("an author's own message moves their public marker, shown by room:reads, with no read:updated", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const b = await person(app(), "B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const seen = collect(b.socket, "read:updated");
    const seenA = collect(a.socket, "read:updated");
    const m = await send(a.socket, roomId, "x");
    const reads = await request(b.socket, "room:reads", { roomId });
    expect(reads).toEqual({ ok: true, reads: [{ user: a.user, readUpTo: m.id, readSeq: 1 }] });
    await sleep(100);
    expect(seen.items).toEqual([]);
    expect(seenA.items).toEqual([]);
  });

  // §9: "`private: true` moves the marker for unread counts without showing it to others. `read:updated` always
  // reaches the user's own sockets (all tabs and devices), private or not."
  test("a private read reaches the user's other sockets, even one not in the room, and no one else", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const b = await person(app(), "B");
    const btab = (await connectSession(app().url, { token: b.token })).socket; // not joined
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const seenA = collect(a.socket, "read:updated");
    const seenTab = collect(btab, "read:updated");
    expect(await request(b.socket, "room:read", { roomId, upTo: m1.id, private: true })).toEqual({
      ok: true,
      readUpTo: m1.id,
      unread: 0,
    });
    await eventually(() => seenTab.items.length === 1, "tab told");
    expect(seenTab.items[0]).toEqual({ roomId, user: b.user, readUpTo: m1.id, readSeq: 1 });
    await sleep(100);
    expect(seenA.items).toEqual([]);
    expect(await request(a.socket, "room:reads", { roomId })).toEqual({
      ok: true,
      reads: [{ user: a.user, readUpTo: m1.id, readSeq: 1 }],
    });
  });

  // §9: "the server may coalesce a user's markers in a room to one `read:updated` a second carrying the latest".
  test("a burst of public reads ends with the latest marker, at most one read:updated a second", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const b = await person(app(), "B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const ms = [];
    for (let i = 0; i < 4; i++) ms.push(await send(a.socket, roomId, `m${i}`));
    const seenA = collect(a.socket, "read:updated");
    const seenB = collect(b.socket, "read:updated");
    for (const m of ms) await request(b.socket, "room:read", { roomId, upTo: m.id });
    await sleep(1500);
    expect(seenA.items.at(-1)).toEqual({ roomId, user: b.user, readUpTo: ms[3]!.id, readSeq: 4 });
    expect(seenB.items.at(-1)).toEqual({ roomId, user: b.user, readUpTo: ms[3]!.id, readSeq: 4 });
    expect(seenA.items.length).toBeLessThanOrEqual(2);
  });

  // §3: "A client that gives no callback is still served"; "Keys a payload's schema does not name are ignored";
  // §9: "`room:leave` with `forget: true` also removes the room and its marker"; "joining does not mark anything read".
  test("no ack callback and unknown keys are fine; forget removes the public marker; a later join keeps unread", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const b = await person(app(), "B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const updated = collect(b.socket, "message:updated");
    (a.socket as any).emit("message:edit", { roomId, id: m1.id, text: "1b", extra: { x: 1 } });
    (a.socket as any).emit("reaction:add", { roomId, id: m1.id, emoji: "x" });
    (a.socket as any).emit("rooms:list");
    (a.socket as any).emit("room:read", { roomId, upTo: m1.id });
    await eventually(() => updated.items.length === 2, "two updates");
    expect(await request(a.socket, "rooms:list", { foo: 1 })).toMatchObject({ ok: true });
    expect(await request(a.socket, "room:read", { roomId, upTo: m1.id, foo: 1 })).toMatchObject({ ok: true });
    expect(await request(b.socket, "room:read", { roomId, upTo: m1.id })).toMatchObject({ ok: true });
    expect(((await request(a.socket, "room:reads", { roomId })) as any).reads.length).toBe(2);
    expect(await request(b.socket, "room:leave", { roomId, forget: true })).toEqual({ ok: true });
    expect(await request(a.socket, "room:reads", { roomId })).toEqual({
      ok: true,
      reads: [{ user: a.user, readUpTo: m1.id, readSeq: 1 }],
    });
    // rejoin: starts afresh (marker at newest), then a message arrives, leave and rejoin: unread 1
    expect(await join(b.socket, roomId)).toMatchObject({ readUpTo: m1.id, unread: 0 });
    expect(await request(a.socket, "room:reads", { roomId })).toEqual({
      ok: true,
      reads: [{ user: a.user, readUpTo: m1.id, readSeq: 1 }],
    });
    await request(b.socket, "room:leave", { roomId });
    const m2 = await send(a.socket, roomId, "2");
    expect(await join(b.socket, roomId)).toMatchObject({ readUpTo: m1.id, unread: 1 });
    expect(await join(b.socket, roomId)).toMatchObject({ readUpTo: m1.id, unread: 1 });
    const list = (await request(b.socket, "rooms:list", {})) as any;
    expect(list.rooms).toEqual([{ roomId, readUpTo: m1.id, unread: 1, lastMessage: m2 }]);
  });

  // §9: "`room:leave` with `forget: true` also removes the room and its marker from the list (joining again starts
  // afresh)."
  test("room:leave with forget removes the room from the list; joining again starts afresh", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const b = await person(app(), "B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    await send(a.socket, roomId, "1");
    const m2 = await send(a.socket, roomId, "2");
    expect(await request(b.socket, "room:leave", { roomId, forget: true })).toEqual({ ok: true });
    expect(await request(b.socket, "rooms:list", {})).toEqual({ ok: true, rooms: [] });
    expect(await request(a.socket, "room:reads", { roomId })).toEqual({
      ok: true,
      reads: [{ user: a.user, readUpTo: m2.id, readSeq: 2 }],
    });
    expect(await join(b.socket, roomId)).toMatchObject({ readUpTo: m2.id, unread: 0 });
  });

  // §2/§9: `lastMessage: Message | null`, in its current state (edited, then a tombstone).
  test("rooms:list and GET /api/rooms show lastMessage in its current state", async () => {
    const roomId = uniqueRoom();
    const a = await person(app());
    await join(a.socket, roomId);
    const m = await send(a.socket, roomId, "x");
    const edited = await request(a.socket, "message:edit", { roomId, id: m.id, text: "y" });
    const list = await request(a.socket, "rooms:list", {});
    expect(list).toMatchObject({ ok: true });
    expect((list as any).rooms[0]).toEqual({ roomId, readUpTo: m.id, unread: 0, lastMessage: (edited as any).message });
    const del = await request(a.socket, "message:delete", { roomId, id: m.id });
    const list2 = await request(a.socket, "rooms:list", {});
    expect((list2 as any).rooms[0].lastMessage).toEqual((del as any).message);
    const rest = await http(`${app().url}/api/rooms`, { headers: bearer(a.token) });
    expect(rest.body.rooms[0].lastMessage).toEqual((del as any).message);
  });

  // §9: "`rooms:list` answers the user's rooms ordered by their `lastMessage.ts`, newest first (rooms without
  // messages after them, the latest joined first)".
  test("rooms:list: newest lastMessage first, then rooms without messages, the latest joined first", async () => {
    const a = await person(app(), "A");
    const r1 = uniqueRoom(),
      r2 = uniqueRoom(),
      r3 = uniqueRoom(),
      r4 = uniqueRoom();
    await join(a.socket, r1);
    await sleep(5);
    await join(a.socket, r2);
    await sleep(5);
    await join(a.socket, r3);
    await sleep(5);
    await join(a.socket, r4);
    await send(a.socket, r2, "x");
    await sleep(5);
    await send(a.socket, r1, "y");
    const list = (await request(a.socket, "rooms:list", {})) as any;
    expect(list.rooms.map((r: any) => r.roomId)).toEqual([r1, r2, r4, r3]);
    const restList = await rest(app(), a.token, "/rooms");
    expect(restList.body.rooms.map((r: any) => r.roomId)).toEqual([r1, r2, r4, r3]);
    expect(restList.body.rooms[3]).toEqual({ roomId: r3, readUpTo: null, unread: 0, lastMessage: null });
  });

  // §9: "(rooms without messages after them, the latest joined first)".
  test("rooms without messages are listed latest joined first", async () => {
    const server = backends.app(backend);
    const token = signToken({ sub: uniqueUserId("A") });
    const { socket } = await connectSession(server.url, { token });
    const base = uniqueRoom();
    // Neither the ids' order nor its reverse, so a tie broken by id (joins within a millisecond) shows.
    const names = ["f", "b", "k", "a", "h", "c", "l", "e", "j", "d", "i", "g"].map((letter) => `${base}-${letter}`);
    for (const roomId of names) await join(socket, roomId);
    const list = (await request(socket, "rooms:list", {})) as any;
    expect(list.rooms.map((r: any) => r.roomId)).toEqual([...names].reverse());
  });

  // §8: "An edit whose text, after the §2 normalisation, equals the current text changes nothing and broadcasts
  // nothing"; "adding it twice or removing one that is not there is `ok` and changes nothing".
  test("no-op edits and reactions are ok, keep rev and broadcast nothing", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const b = await person(app(), "B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const m = await send(a.socket, roomId, "same text");
    const updates = collect(a.socket, "message:updated");
    const added = (await request(b.socket, "reaction:add", { roomId, id: m.id, emoji: "👍" })) as any;
    // The reaction's own broadcast first (over Redis it may land after its ack); then the no-ops add nothing.
    await eventually(() => updates.items.length === 1, "the reaction's message:updated");
    updates.items.length = 0;
    for (const [event, payload] of [
      ["message:edit", { roomId, id: m.id, text: "  same text\r\n" }],
      ["reaction:add", { roomId, id: m.id, emoji: "👍" }],
      ["reaction:remove", { roomId, id: m.id, emoji: "🎉" }],
    ] as const) {
      const who = event === "message:edit" ? a : b;
      expect([event, await request(who.socket, event, payload)]).toEqual([event, { ok: true, message: added.message }]);
    }
    await sleep(150);
    expect(updates.items).toEqual([]);
  });

  // §2: "`replyTo`: id of the message this one answers"; §3: "a message of the same room, `not_found` otherwise".
  test("replyTo is kept on the message, history and edits, and a message of another room is not_found", async () => {
    const roomId = uniqueRoom();
    const other = uniqueRoom();
    const a = await person(app(), "A");
    await join(a.socket, roomId);
    await join(a.socket, other);
    const there = await send(a.socket, other, "there");
    const first = await send(a.socket, roomId, "first");
    expect(await request(a.socket, "message:send", { roomId, text: "re", replyTo: there.id })).toEqual(
      refusedWith("not_found"),
    );
    const reply = (await request(a.socket, "message:send", { roomId, text: "re", replyTo: first.id })) as any;
    expect(reply.message).toEqual({ ...reply.message, replyTo: first.id, seq: 2 });
    const edited = (await request(a.socket, "message:edit", { roomId, id: reply.message.id, text: "re!" })) as any;
    expect(edited.message.replyTo).toBe(first.id);
    const page = (await request(a.socket, "room:history", { roomId })) as any;
    expect(page.messages).toEqual([first, edited.message]);
  });

  // §4: "`message:new` and `message:updated` of a room together arrive in the room's change order (§8)"; §8: "Every
  // change in a room takes the room's next position".
  test("concurrent sends and changes from several clients reach a member in change order", async () => {
    const roomId = uniqueRoom();
    const people = [await person(app(), "A"), await person(app(), "B"), await person(app(), "C")];
    const watcher = await person(app(), "W");
    for (const p of [...people, watcher]) await join(p.socket, roomId);
    const seen: { at: string; message: Message }[] = [];
    watcher.socket.on("message:new", (message) => seen.push({ at: message.id, message }));
    watcher.socket.on("message:updated", (message) => seen.push({ at: message.rev, message }));
    await Promise.all(
      people.map(async (p, k) => {
        for (let i = 0; i < 10; i++) {
          const m = await send(p.socket, roomId, `${k}-${i}`);
          await Promise.all([
            request(p.socket, "message:edit", { roomId, id: m.id, text: `${k}-${i}!` }),
            request(people[(k + 1) % 3]!.socket, "reaction:add", { roomId, id: m.id, emoji: "x" }),
          ]);
        }
      }),
    );
    await eventually(() => seen.length === 90, "every change at the watcher");
    const n = (position: string) => Number(position.split("-")[1]);
    const order = seen.map((e) => n(e.at));
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(new Set(order).size).toBe(90);
    expect(new Set(seen.map((e) => e.message.seq)).size).toBe(30);
  });

  // §9: "Public markers (the default) are sent as `read:updated` to the room's other sockets, unless the room has
  // more than `READ_BROADCAST_MAX_MEMBERS` members"; "`read:updated` always reaches the user's own sockets".
  test("READ_BROADCAST_MAX_MEMBERS: at the limit others are told, past it only the reader's own sockets", async () => {
    const small = await backends.startOn(backend, { ...GENEROUS, READ_BROADCAST_MAX_MEMBERS: "2" });
    const roomId = uniqueRoom();
    const a = await person(small, "A");
    const b = await person(small, "B");
    await join(a.socket, roomId);
    await join(b.socket, roomId);
    const m1 = await send(a.socket, roomId, "1");
    const m2 = await send(a.socket, roomId, "2");
    const toA = collect(a.socket, "read:updated");
    await request(b.socket, "room:read", { roomId, upTo: m1.id });
    await eventually(() => toA.items.length === 1, "a, with two members, told of b's read");
    const c = await person(small, "C");
    await join(c.socket, roomId);
    const toB = collect(b.socket, "read:updated");
    await sleep(1100); // past the coalescing second
    await request(b.socket, "room:read", { roomId, upTo: m2.id });
    await eventually(() => toB.items.length === 1, "b's own socket told");
    expect(toB.items[0]).toEqual({ roomId, user: b.user, readUpTo: m2.id, readSeq: 2 });
    await sleep(200);
    expect(toA.items).toHaveLength(1);
    await small.close();
  });

  // §9: "`rooms:list` answers the user's rooms ... at most 200".
  test("rooms:list answers at most 200 rooms", async () => {
    const many = await backends.startOn(backend, {
      MAX_ROOMS_PER_CONNECTION: "1000",
      JOIN_RATE_BURST: "100000",
      JOIN_RATE_PER_SEC: "100000",
    });
    const token = signToken({ sub: uniqueUserId("A") });
    const { socket } = await connectSession(many.url, { token });
    for (let i = 0; i < 205; i++) await join(socket, uniqueRoom());
    const list = (await request(socket, "rooms:list", {})) as any;
    expect(list.rooms.length).toBe(200);
    await many.close();
  });

  // §3: "Over `/ws` they are sent like every §3 event (§6)"; §4: `message:updated`, `read:updated`.
  test("/ws clients get message:updated and their own read:updated, and use the r2 events", async () => {
    const roomId = uniqueRoom();
    const a = await person(app(), "A");
    const tokenB = signToken({ sub: uniqueUserId("B"), name: "B" });
    const { client: b } = await connectPlain(app().url, { token: tokenB });
    expect(await b.request("room:join", { roomId })).toMatchObject({
      ok: true,
      updates: [],
      readUpTo: null,
      unread: 0,
    });
    await join(a.socket, roomId);
    const m = await send(a.socket, roomId, "x");
    const upd = (await request(a.socket, "message:edit", { roomId, id: m.id, text: "y" })) as any;
    expect(await b.event("message:updated")).toEqual(upd.message);
    await request(a.socket, "room:read", { roomId, upTo: m.id }); // own message: no move
    expect(await b.request("room:read", { roomId, upTo: m.id })).toEqual({ ok: true, readUpTo: m.id, unread: 0 });
    expect(await b.event("read:updated")).toEqual({
      roomId,
      user: expect.objectContaining({ name: "B" }),
      readUpTo: m.id,
      readSeq: 1,
    });
    expect(await b.request("rooms:list", {})).toMatchObject({
      ok: true,
      rooms: [{ roomId, readUpTo: m.id, unread: 0 }],
    });
    expect(await b.request("room:reads", { roomId })).toMatchObject({ ok: true });
  });
});

describe("over /ws", () => {
  // §3: "Every revision-2 event about a room needs the socket to have joined it (`not_joined`)"; "Over `/ws` they are
  // sent like every §3 event (§6)".
  test("over /ws, r2 requests answer the same acks and codes (rooms:list without data, not_joined, not_found)", async () => {
    const server = backends.app("memory");
    const token = signToken({ sub: uniqueUserId("W") });
    const { client: w } = await connectPlain(server.url, { token });
    const roomId = uniqueRoom();
    w.send({ type: "rooms:list", id: 7 });
    expect(await w.next((f) => f.type === "ack" && f.id === 7, "ack")).toEqual({
      type: "ack",
      id: 7,
      data: { ok: true, rooms: [] },
    });
    expect(await w.request("room:join", { roomId })).toMatchObject({ ok: true });
    const sent = await w.request("message:send", { roomId, text: "x", clientMsgId: "k" });
    expect(await w.request("message:edit", { roomId, id: sent.message.id, text: "" })).toEqual(
      refusedWith("bad_request"),
    );
    expect(await w.request("message:edit", { roomId, id: "", text: "y" })).toEqual(refusedWith("not_found"));
    expect(await w.request("room:leave", { roomId, forget: true })).toEqual({ ok: true });
    expect(await w.request("rooms:list", {})).toEqual({ ok: true, rooms: [] });
    expect(await w.request("room:read", { roomId, upTo: sent.message.id })).toEqual(refusedWith("not_joined"));
    expect(await w.request("room:reads", { roomId })).toEqual(refusedWith("not_joined"));
    expect(await w.request("reaction:add", { roomId, id: sent.message.id, emoji: "x" })).toEqual(
      refusedWith("not_joined"),
    );
  });
});
