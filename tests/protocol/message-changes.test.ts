/**
 * §8 over Socket.IO, on both transports: `message:edit`, `message:delete`,
 * `reaction:add`, `reaction:remove` and `replyTo` — their acks, the
 * `message:updated` every member receives in change order with
 * `message:new`, history in the current state, and every refusal with its
 * exact code, changing nothing.
 */
import type { Message } from "../../shared";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, collect, eventually, sleep, type HuddleClient, type Transport } from "../helpers/clients";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { connectSession, fullHistory, join, refusedWith, request, send, uniqueRoom } from "./support";

let server: TestApp;
let limited: TestApp; // RATE_BURST 3, RATE_PER_SEC 1

beforeAll(async () => {
  server = await startApp({ RATE_BURST: "100000", RATE_PER_SEC: "100000" });
  limited = await startApp({ RATE_BURST: "3", RATE_PER_SEC: "1" });
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

async function user(app: TestApp, transport: Transport, claims: Record<string, unknown> = {}) {
  const token = signToken({ sub: uniqueUserId(), ...claims });
  const { socket, session } = await connectSession(app.url, { token, transport });
  return { socket, user: session.user, token };
}

/** A round trip through the server on each socket, then a little slack: a stray event would be in by now. */
async function settle(...sockets: HuddleClient[]) {
  await Promise.all(sockets.map((socket) => request(socket, "room:leave", { roomId: "settle-never-joined" })));
  await sleep(30);
}

/** `message:new` and `message:updated` of one socket as one ordered list. */
function changes(socket: HuddleClient) {
  const seen: { event: "new" | "updated"; message: Message }[] = [];
  socket.on("message:new", (message) => seen.push({ event: "new", message }));
  socket.on("message:updated", (message) => seen.push({ event: "updated", message }));
  return seen;
}

const n = (position: string) => Number(position.split("-")[1]);

describe.each<Transport>(["websocket", "polling"])("over %s", (transport) => {
  test("an edit is acked with the new state and reaches every member as message:updated, after the message", async () => {
    const roomId = uniqueRoom();
    const alice = await user(server, transport, { name: "Alice" });
    const bob = await user(server, transport, { name: "Bob" });
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const seenByBob = changes(bob.socket);
    const seenByAlice = changes(alice.socket);
    const original = await send(alice.socket, roomId, "helo wrld");
    const ack = await request(alice.socket, "message:edit", { roomId, id: original.id, text: " hello world\r\n" });
    expect(ack).toEqual({
      ok: true,
      message: { ...original, text: "hello world", editedAt: expect.any(Number), rev: expect.any(String) },
    });
    if (!ack.ok) return;
    expect(n(ack.message.rev)).toBe(n(original.id) + 1);
    await eventually(() => seenByBob.length === 2 && seenByAlice.length === 2, "the message and its edit");
    expect(seenByBob).toEqual([
      { event: "new", message: original },
      { event: "updated", message: ack.message },
    ]);
    expect(seenByAlice).toEqual(seenByBob);
    expect(await fullHistory(bob.socket, roomId)).toEqual([ack.message]);
  });

  test("a delete leaves a tombstone in history and reaches every member", async () => {
    const roomId = uniqueRoom();
    const alice = await user(server, transport);
    const bob = await user(server, transport);
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const updated = collect<Message>(bob.socket, "message:updated");
    const original = await send(alice.socket, roomId, "oops", "c-oops");
    const ack = await request(alice.socket, "message:delete", { roomId, id: original.id });
    const stone = { ...original, text: "", deleted: true, rev: expect.any(String) };
    expect(ack).toEqual({ ok: true, message: stone });
    await eventually(() => updated.items.length === 1, "message:updated for the delete");
    expect(updated.items[0]).toEqual(stone);
    expect(await fullHistory(bob.socket, roomId)).toEqual([stone]);
    // The same clientMsgId again answers the tombstone, stores nothing.
    expect(await request(alice.socket, "message:send", { roomId, text: "oops", clientMsgId: "c-oops" })).toEqual({
      ok: true,
      message: stone,
    });
  });

  test("reactions: add, add again (no change, no event), another user, remove; every member sees each change", async () => {
    const roomId = uniqueRoom();
    const alice = await user(server, transport);
    const bob = await user(server, transport);
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const updated = collect<Message>(alice.socket, "message:updated");
    const m = await send(alice.socket, roomId, "react");
    const added = await request(bob.socket, "reaction:add", { roomId, id: m.id, emoji: "👍" });
    expect(added).toEqual({
      ok: true,
      message: { ...m, rev: expect.any(String), reactions: [{ emoji: "👍", count: 1, userIds: [bob.user.id] }] },
    });
    const again = await request(bob.socket, "reaction:add", { roomId, id: m.id, emoji: "👍" });
    expect(again).toEqual(added);
    const both = await request(alice.socket, "reaction:add", { roomId, id: m.id, emoji: "👍" });
    expect(both.ok && both.message.reactions).toEqual([
      { emoji: "👍", count: 2, userIds: [bob.user.id, alice.user.id] },
    ]);
    const removed = await request(bob.socket, "reaction:remove", { roomId, id: m.id, emoji: "👍" });
    expect(removed.ok && removed.message.reactions).toEqual([{ emoji: "👍", count: 1, userIds: [alice.user.id] }]);
    expect(await request(bob.socket, "reaction:remove", { roomId, id: m.id, emoji: "👍" })).toEqual(removed);
    await eventually(() => updated.items.length === 3, "three message:updated");
    await settle(alice.socket, bob.socket);
    expect(updated.items).toHaveLength(3);
    expect(updated.items[2]).toEqual(removed.ok && removed.message);
  });

  test("replyTo: a reply carries the id it answers; an id that is not a message of the room is not_found", async () => {
    const roomId = uniqueRoom();
    const other = uniqueRoom();
    const alice = await user(server, transport);
    await join(alice.socket, roomId);
    await join(alice.socket, other);
    const question = await send(alice.socket, roomId, "question?");
    const elsewhere = await send(alice.socket, other, "elsewhere");
    const reply = await request(alice.socket, "message:send", { roomId, text: "answer", replyTo: question.id });
    expect(reply).toEqual({ ok: true, message: expect.objectContaining({ replyTo: question.id, seq: 2 }) });
    for (const replyTo of [elsewhere.id, "999-999", "x", question.id.replace(/-\d+$/, "-999")]) {
      expect(await request(alice.socket, "message:send", { roomId, text: "lost", replyTo })).toEqual(
        refusedWith("not_found"),
      );
    }
    expect((await fullHistory(alice.socket, roomId)).map((m) => m.text)).toEqual(["question?", "answer"]);
  });
});

describe("who may change what", () => {
  test("only the author edits: forbidden for anyone else, moderators included, and nothing changes", async () => {
    const roomId = uniqueRoom();
    const alice = await user(server, "websocket");
    const bob = await user(server, "websocket");
    const mod = await user(server, "websocket", { role: "moderator" });
    for (const u of [alice, bob, mod]) await join(u.socket, roomId);
    const updated = collect<Message>(alice.socket, "message:updated");
    const m = await send(alice.socket, roomId, "mine");
    expect(await request(bob.socket, "message:edit", { roomId, id: m.id, text: "theirs" })).toEqual(
      refusedWith("forbidden"),
    );
    expect(await request(mod.socket, "message:edit", { roomId, id: m.id, text: "mod" })).toEqual(
      refusedWith("forbidden"),
    );
    await settle(alice.socket);
    expect(updated.items).toEqual([]);
    expect(await fullHistory(alice.socket, roomId)).toEqual([m]);
  });

  test("the author or a moderator deletes; anyone else is forbidden", async () => {
    const roomId = uniqueRoom();
    const alice = await user(server, "websocket");
    const bob = await user(server, "websocket");
    const mod = await user(server, "websocket", { role: "moderator" });
    const admin = await user(server, "websocket", { role: "admin" });
    for (const u of [alice, bob, mod, admin]) await join(u.socket, roomId);
    const m1 = await send(alice.socket, roomId, "one");
    const m2 = await send(alice.socket, roomId, "two");
    expect(await request(bob.socket, "message:delete", { roomId, id: m1.id })).toEqual(refusedWith("forbidden"));
    expect(await request(admin.socket, "message:delete", { roomId, id: m1.id })).toEqual(refusedWith("forbidden"));
    expect(await request(mod.socket, "message:delete", { roomId, id: m1.id })).toMatchObject({
      ok: true,
      message: { deleted: true },
    });
    expect(await request(alice.socket, "message:delete", { roomId, id: m2.id })).toMatchObject({ ok: true });
    // A second delete of a tombstone is ok and changes nothing.
    const again = await request(alice.socket, "message:delete", { roomId, id: m2.id });
    expect(again).toMatchObject({ ok: true, message: { deleted: true } });
  });
});

describe("refusals change nothing", () => {
  let alice: Awaited<ReturnType<typeof user>>;
  let roomId: string;
  let m: Message;
  let updated: { items: Message[] };
  beforeEach(async () => {
    roomId = uniqueRoom();
    alice = await user(server, "websocket");
    await join(alice.socket, roomId);
    m = await send(alice.socket, roomId, "target");
    updated = collect<Message>(alice.socket, "message:updated");
  });
  afterEach(async () => {
    await settle(alice.socket);
    expect(updated.items).toEqual([]);
    expect(await fullHistory(alice.socket, roomId)).toEqual([m]);
  });

  test.each([
    ["an unknown id", (id: string) => id.replace(/-\d+$/, "-424242")],
    ["an id of another form", () => "not-a-position"],
    ["an id of an earlier life of the room", () => "1-1"],
  ])("%s is not_found for every change", async (_what, idOf) => {
    const id = idOf(m.id);
    for (const [event, extra] of [
      ["message:edit", { text: "x" }],
      ["message:delete", {}],
      ["reaction:add", { emoji: "👍" }],
      ["reaction:remove", { emoji: "👍" }],
    ] as const) {
      expect(await request(alice.socket, event, { roomId, id, ...extra })).toEqual(refusedWith("not_found"));
    }
  });

  test("an id of another room is not_found", async () => {
    const other = uniqueRoom();
    await join(alice.socket, other);
    const there = await send(alice.socket, other, "there");
    await settle(alice.socket);
    updated.items.length = 0;
    expect(await request(alice.socket, "message:edit", { roomId, id: there.id, text: "x" })).toEqual(
      refusedWith("not_found"),
    );
    expect(await request(alice.socket, "reaction:add", { roomId, id: there.id, emoji: "👍" })).toEqual(
      refusedWith("not_found"),
    );
  });

  test.each([
    ["empty", ""],
    ["a space", "a b"],
    ["a tab", "\t"],
    ["a newline", "👍\n"],
    ["a control character", "x\u0001"],
    ["17 characters", "a".repeat(17)],
    ["a number", 1],
    ["absent", undefined],
  ])("an emoji that is %s is bad_request", async (_what, emoji) => {
    expect(await request(alice.socket, "reaction:add", { roomId, id: m.id, emoji })).toEqual(
      refusedWith("bad_request"),
    );
    expect(await request(alice.socket, "reaction:remove", { roomId, id: m.id, emoji })).toEqual(
      refusedWith("bad_request"),
    );
  });

  test("an emoji of 16 characters and one made of several code points are accepted", async () => {
    for (const emoji of [":" + "a".repeat(14) + ":", "👩‍👩‍👧‍👦", "👍🏽"]) {
      const ack = await request(alice.socket, "reaction:add", { roomId, id: m.id, emoji });
      expect(ack).toMatchObject({ ok: true });
      await request(alice.socket, "reaction:remove", { roomId, id: m.id, emoji });
    }
    await settle(alice.socket);
    updated.items.length = 0;
    const { rev: _rev, ...now } = (await fullHistory(alice.socket, roomId))[0]!;
    const { rev: _old, ...before } = m;
    expect(now).toEqual(before);
    // The history check after this test compares whole messages: put the rev the reactions moved back in.
    m = (await fullHistory(alice.socket, roomId))[0]!;
  });

  test("empty or too long edits are bad_request or too_large", async () => {
    expect(await request(alice.socket, "message:edit", { roomId, id: m.id, text: " \r\n\t " })).toEqual(
      refusedWith("bad_request"),
    );
    expect(await request(alice.socket, "message:edit", { roomId, id: m.id, text: "x".repeat(4001) })).toEqual(
      refusedWith("too_large"),
    );
  });

  test("an edit to the same text (after normalisation) is ok and broadcasts nothing", async () => {
    expect(await request(alice.socket, "message:edit", { roomId, id: m.id, text: "  target\r\n" })).toEqual({
      ok: true,
      message: m,
    });
  });

  test("malformed payloads are bad_request", async () => {
    for (const payload of [
      undefined,
      null,
      "x",
      { roomId },
      { roomId, id: 5, text: "x" },
      { roomId: "bad room", id: m.id, text: "x" },
      { id: m.id, text: "x" },
      { roomId, id: m.id },
    ]) {
      expect(await request(alice.socket, "message:edit", payload)).toEqual(refusedWith("bad_request"));
    }
    expect(await request(alice.socket, "message:send", { roomId, text: "x", replyTo: 7 })).toEqual(
      refusedWith("bad_request"),
    );
  });

  test("a room not joined is not_joined, for every change", async () => {
    const bob = await user(server, "websocket");
    for (const [event, extra] of [
      ["message:edit", { text: "x" }],
      ["message:delete", {}],
      ["reaction:add", { emoji: "👍" }],
      ["reaction:remove", { emoji: "👍" }],
    ] as const) {
      expect(await request(bob.socket, event, { roomId, id: m.id, ...extra })).toEqual(refusedWith("not_joined"));
    }
  });

  test("a 21st different emoji is bad_request", async () => {
    for (let i = 0; i < 20; i++) {
      expect(await request(alice.socket, "reaction:add", { roomId, id: m.id, emoji: `:e${i}:` })).toMatchObject({
        ok: true,
      });
    }
    expect(await request(alice.socket, "reaction:add", { roomId, id: m.id, emoji: ":e20:" })).toEqual(
      refusedWith("bad_request"),
    );
    await settle(alice.socket);
    expect(updated.items).toHaveLength(20);
    updated.items.length = 0;
    m = (await fullHistory(alice.socket, roomId))[0]!;
    expect(m.reactions).toHaveLength(20);
  });
});

describe("the budget", () => {
  test("changes count against the sender's message budget; refusals and no-op changes do not", async () => {
    const roomId = uniqueRoom();
    const alice = await user(limited, "websocket");
    await join(alice.socket, roomId);
    const m = await send(alice.socket, roomId, "one"); // 1 of 3
    // Refused and unchanged requests spend nothing.
    for (let i = 0; i < 5; i++) {
      expect(await request(alice.socket, "message:edit", { roomId, id: "1-1", text: "x" })).toEqual(
        refusedWith("not_found"),
      );
      expect(await request(alice.socket, "message:edit", { roomId, id: m.id, text: "one" })).toMatchObject({
        ok: true,
      });
    }
    expect(await request(alice.socket, "reaction:add", { roomId, id: m.id, emoji: "👍" })).toMatchObject({ ok: true });
    expect(await request(alice.socket, "message:edit", { roomId, id: m.id, text: "two" })).toMatchObject({ ok: true });
    const refused = await request(alice.socket, "message:delete", { roomId, id: m.id });
    expect(refused).toEqual({
      ok: false,
      error: { code: "rate_limited", message: expect.any(String), retryAfterMs: expect.any(Number) },
    });
    expect((await fullHistory(alice.socket, roomId))[0]).toMatchObject({ text: "two" });
  });
});

test("message:new and message:updated of a room reach every member in one change order", async () => {
  const roomId = uniqueRoom();
  const members = await Promise.all([0, 1, 2].map((i) => user(server, i === 1 ? "polling" : "websocket")));
  for (const member of members) await join(member.socket, roomId);
  const seen = members.map((member) => changes(member.socket));
  const base = await send(members[0]!.socket, roomId, "base");
  await Promise.all(
    members.flatMap((member, i) => [
      send(member.socket, roomId, `from ${i}`),
      request(member.socket, "reaction:add", { roomId, id: base.id, emoji: `:r${i}:` }),
      send(member.socket, roomId, `again ${i}`),
    ]),
  );
  await eventually(() => seen.every((list) => list.length === 10), "ten changes on every member");
  const positions = seen[0]!.map(({ event, message }) => n(event === "new" ? message.id : message.rev));
  expect(positions).toEqual([...positions].sort((a, b) => a - b));
  expect(seen[1]).toEqual(seen[0]);
  expect(seen[2]).toEqual(seen[0]);
});
