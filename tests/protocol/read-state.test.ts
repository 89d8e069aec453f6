/**
 * §9 over Socket.IO, /ws and REST on one node: the join's `readUpTo` and
 * `unread`, `room:read` (forward only, public or private), `read:updated` to
 * the user's own sockets always and to the room for public markers (coalesced
 * to one a second, none past READ_BROADCAST_MAX_MEMBERS), `room:reads`,
 * `rooms:list`, `room:leave` with `forget`, and every refusal.
 */
import type { Message, ReadUpdate } from "../../shared";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, collect, eventually, sleep, waitForEvent, type HuddleClient } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { closeAllPlain, connectPlain } from "../ws/ws-client";
import { connectSession, join, refusedWith, request, send, uniqueRoom } from "./support";

let server: TestApp;
let small: TestApp; // READ_BROADCAST_MAX_MEMBERS 2
beforeAll(async () => {
  server = await startApp({ RATE_BURST: "100000", RATE_PER_SEC: "100000" });
  small = await startApp({ READ_BROADCAST_MAX_MEMBERS: "2", RATE_BURST: "1000", RATE_PER_SEC: "1000" });
});
afterEach(() => {
  closeAllClients();
  closeAllPlain();
});
afterAll(() => stopAllApps());

async function person(app: TestApp = server, name = "P", sub = uniqueUserId(name)) {
  const token = signToken({ sub, name });
  const { socket, session } = await connectSession(app.url, { token });
  return { socket, user: session.user, token, sub };
}
/** Another connection (tab) of the same user. */
async function tab(of: { token: string }, app: TestApp = server) {
  return (await connectSession(app.url, { token: of.token })).socket;
}
async function settle(...sockets: HuddleClient[]) {
  await Promise.all(sockets.map((socket) => request(socket, "room:leave", { roomId: "settle-never-joined" })));
  await sleep(30);
}

describe("the join", () => {
  test("the first join sets the marker to the newest message: readUpTo is it and unread is 0", async () => {
    const roomId = uniqueRoom();
    const alice = await person();
    await join(alice.socket, roomId);
    await send(alice.socket, roomId, "one");
    const two = await send(alice.socket, roomId, "two");
    const bob = await person();
    expect(await join(bob.socket, roomId)).toMatchObject({ readUpTo: two.id, unread: 0 });
    await send(alice.socket, roomId, "three");
    await send(alice.socket, roomId, "four");
    // Joining again (another tab) does not mark anything read.
    expect(await join(await tab(bob), roomId)).toMatchObject({ readUpTo: two.id, unread: 2 });
  });

  test("in an empty room readUpTo is null", async () => {
    const alice = await person();
    expect(await join(alice.socket, uniqueRoom())).toMatchObject({ readUpTo: null, unread: 0 });
  });
});

describe("room:read", () => {
  test("moves the marker forward and answers readUpTo and unread; an older upTo answers the current marker", async () => {
    const roomId = uniqueRoom();
    const alice = await person();
    const bob = await person();
    await join(bob.socket, roomId);
    await join(alice.socket, roomId);
    const sent: Message[] = [];
    for (let i = 0; i < 4; i++) sent.push(await send(alice.socket, roomId, `m${i}`));
    expect(await request(bob.socket, "room:read", { roomId, upTo: sent[2]!.id })).toEqual({
      ok: true,
      readUpTo: sent[2]!.id,
      unread: 1,
    });
    expect(await request(bob.socket, "room:read", { roomId, upTo: sent[0]!.id })).toEqual({
      ok: true,
      readUpTo: sent[2]!.id,
      unread: 1,
    });
  });

  test("refusals: not_found for an upTo not of the room, not_joined, bad_request; nothing moves", async () => {
    const roomId = uniqueRoom();
    const other = uniqueRoom();
    const alice = await person();
    await join(alice.socket, roomId);
    await join(alice.socket, other);
    const here = await send(alice.socket, roomId, "here");
    const there = await send(alice.socket, other, "there");
    const bob = await person();
    await join(bob.socket, roomId);
    await send(alice.socket, roomId, "unread");
    for (const upTo of [there.id, "1-1", "junk", here.id.replace(/-\d+$/, "-77")]) {
      expect(await request(bob.socket, "room:read", { roomId, upTo })).toEqual(refusedWith("not_found"));
    }
    expect(await request(bob.socket, "room:read", { roomId: other, upTo: there.id })).toEqual(
      refusedWith("not_joined"),
    );
    expect(await request(bob.socket, "room:read", { roomId, upTo: 5 })).toEqual(refusedWith("bad_request"));
    expect(await request(bob.socket, "room:reads", { roomId: other })).toEqual(refusedWith("not_joined"));
    expect(await join(await tab(bob), roomId)).toMatchObject({ readUpTo: here.id, unread: 1 });
  });

  test("read:updated reaches the user's other tabs, even one that did not join the room, and the room's others", async () => {
    const roomId = uniqueRoom();
    const alice = await person(server, "Alice");
    const bob = await person(server, "Bob");
    const bobElsewhere = await tab(bob); // joined no room
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const m = await send(alice.socket, roomId, "read me");
    const atTab = waitForEvent<ReadUpdate>(bobElsewhere, "read:updated");
    const atAlice = waitForEvent<ReadUpdate>(alice.socket, "read:updated");
    const atBob = waitForEvent<ReadUpdate>(bob.socket, "read:updated");
    await request(bob.socket, "room:read", { roomId, upTo: m.id });
    const expected = { roomId, user: bob.user, readUpTo: m.id, readSeq: 1 };
    await expect(atTab).resolves.toEqual(expected);
    await expect(atAlice).resolves.toEqual(expected);
    await expect(atBob).resolves.toEqual(expected);
  });

  test("a private read reaches only the user's own sockets and leaves room:reads as it was", async () => {
    const roomId = uniqueRoom();
    const alice = await person();
    const bob = await person();
    const bobTab = await tab(bob);
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const m1 = await send(alice.socket, roomId, "one");
    await request(bob.socket, "room:read", { roomId, upTo: m1.id });
    await settle(alice.socket);
    const m2 = await send(alice.socket, roomId, "two");
    const atAlice = collect<ReadUpdate>(alice.socket, "read:updated");
    const atTab = waitForEvent<ReadUpdate>(bobTab, "read:updated", { predicate: (u) => u.readUpTo === m2.id });
    await sleep(1100); // past the coalescing window of the first read
    expect(await request(bob.socket, "room:read", { roomId, upTo: m2.id, private: true })).toEqual({
      ok: true,
      readUpTo: m2.id,
      unread: 0,
    });
    await expect(atTab).resolves.toEqual({ roomId, user: bob.user, readUpTo: m2.id, readSeq: 2 });
    await settle(alice.socket, bob.socket);
    expect(atAlice.items).toEqual([]);
    expect(await request(alice.socket, "room:reads", { roomId })).toEqual({
      ok: true,
      reads: [
        { user: alice.user, readUpTo: m2.id, readSeq: 2 },
        { user: bob.user, readUpTo: m1.id, readSeq: 1 },
      ],
    });
  });

  test("a burst of reads is coalesced to one read:updated a second, and the latest arrives", async () => {
    const roomId = uniqueRoom();
    const alice = await person();
    const bob = await person();
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const sent: Message[] = [];
    for (let i = 0; i < 6; i++) sent.push(await send(alice.socket, roomId, `m${i}`));
    const seen = collect<ReadUpdate>(alice.socket, "read:updated");
    for (const m of sent) await request(bob.socket, "room:read", { roomId, upTo: m.id });
    await eventually(() => seen.items.at(-1)?.readUpTo === sent[5]!.id, "the latest marker", 3000);
    expect(seen.items.length).toBeLessThanOrEqual(2);
    expect(seen.items[0]!.readUpTo).toBe(sent[0]!.id);
  });

  test("own messages move the author's marker without an event", async () => {
    const roomId = uniqueRoom();
    const alice = await person();
    const aliceTab = await tab(alice);
    const bob = await person();
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    await send(bob.socket, roomId, "from bob");
    const reads = collect<ReadUpdate>(aliceTab, "read:updated");
    const mine = await send(alice.socket, roomId, "from alice");
    await settle(aliceTab, bob.socket);
    expect(reads.items).toEqual([]);
    expect(await join(aliceTab, roomId)).toMatchObject({ readUpTo: mine.id, unread: 0 });
    expect(((await request(bob.socket, "room:reads", { roomId })) as any).reads).toEqual([
      { user: alice.user, readUpTo: mine.id, readSeq: 2 },
      { user: bob.user, readUpTo: expect.any(String), readSeq: 1 },
    ]);
  });
});

test("a room with more members than READ_BROADCAST_MAX_MEMBERS sends no public read:updated; room:reads still answers", async () => {
  const roomId = uniqueRoom();
  const [a, b, c] = [await person(small), await person(small), await person(small)];
  for (const p of [a, b, c]) await join(p.socket, roomId);
  const m = await send(a.socket, roomId, "hello");
  const atA = collect<ReadUpdate>(a.socket, "read:updated");
  const atC = collect<ReadUpdate>(c.socket, "read:updated");
  const own = waitForEvent<ReadUpdate>(b.socket, "read:updated");
  await request(b.socket, "room:read", { roomId, upTo: m.id });
  await expect(own).resolves.toMatchObject({ readUpTo: m.id });
  await settle(a.socket, c.socket);
  expect([...atA.items, ...atC.items]).toEqual([]);
  expect(
    ((await request(c.socket, "room:reads", { roomId })) as any).reads.map((r: { user: { id: string } }) => r.user.id),
  ).toEqual([a.user.id, b.user.id].sort((x, y) => (x === a.user.id ? -1 : y === a.user.id ? 1 : 0)));
});

describe("rooms:list and forget", () => {
  test("lists the user's rooms, newest activity first, with unread and lastMessage, the same on every connection", async () => {
    const alice = await person();
    const bob = await person();
    const [quiet, loud] = [uniqueRoom("quiet"), uniqueRoom("loud")];
    for (const roomId of [quiet, loud]) {
      await join(bob.socket, roomId);
      await join(alice.socket, roomId);
    }
    await send(alice.socket, quiet, "q");
    await sleep(5);
    await send(alice.socket, loud, "l1");
    const last = await send(alice.socket, loud, "l2");
    const listed = await request(await tab(bob), "rooms:list", {});
    expect(listed).toEqual({
      ok: true,
      rooms: [
        { roomId: loud, readUpTo: null, unread: 2, lastMessage: last },
        { roomId: quiet, readUpTo: null, unread: 1, lastMessage: expect.objectContaining({ text: "q" }) },
      ],
    });
    // No payload at all is served the same.
    expect(await new Promise((resolve) => (bob.socket as any).emit("rooms:list", resolve))).toEqual(listed);
  });

  test("room:leave with forget removes the room from the list; joining again starts afresh", async () => {
    const alice = await person();
    const roomId = uniqueRoom();
    await join(alice.socket, roomId);
    const m = await send(alice.socket, roomId, "x");
    expect(await request(alice.socket, "room:leave", { roomId, forget: true })).toEqual({ ok: true });
    expect(await request(alice.socket, "rooms:list", {})).toEqual({ ok: true, rooms: [] });
    expect(await join(alice.socket, roomId)).toMatchObject({ readUpTo: m.id, unread: 0 });
    // forget of a room never joined is ok and changes nothing.
    expect(await request(alice.socket, "room:leave", { roomId: uniqueRoom(), forget: true })).toEqual({ ok: true });
    expect(((await request(alice.socket, "rooms:list", {})) as any).rooms).toHaveLength(1);
  });

  test("a room the token no longer allows is not listed", async () => {
    const sub = uniqueUserId("narrow");
    const wide = await person(server, "W", sub);
    await join(wide.socket, uniqueRoom("team-x"));
    await join(wide.socket, uniqueRoom("other"));
    const narrow = (await connectSession(server.url, { token: signToken({ sub, rooms: ["team-*"] }) })).socket;
    const listed: any = await request(narrow, "rooms:list", {});
    expect(listed.rooms.map((r: { roomId: string }) => r.roomId.startsWith("team-x"))).toEqual([true]);
  });
});

describe("/ws and REST", () => {
  test("a /ws client reads, gets its read:updated, and sees room:reads and rooms:list", async () => {
    const roomId = uniqueRoom();
    const alice = await person();
    await join(alice.socket, roomId);
    const sub = uniqueUserId("plain");
    const { client: plain } = await connectPlain(server.url, { claims: { sub, name: "Plain" } });
    const { client: plainTab } = await connectPlain(server.url, { claims: { sub, name: "Plain" } });
    await plain.request("room:join", { roomId });
    const m = await send(alice.socket, roomId, "for plain");
    expect(await plain.request("room:read", { roomId, upTo: m.id })).toEqual({ ok: true, readUpTo: m.id, unread: 0 });
    await expect(plainTab.event("read:updated")).resolves.toEqual({
      roomId,
      user: { id: sub, name: "Plain" },
      readUpTo: m.id,
      readSeq: 1,
    });
    expect(await plain.request("room:reads", { roomId })).toEqual({
      ok: true,
      reads: [
        { user: alice.user, readUpTo: m.id, readSeq: 1 },
        { user: { id: sub, name: "Plain" }, readUpTo: m.id, readSeq: 1 },
      ],
    });
    expect(await plainTab.request("rooms:list", {})).toMatchObject({ ok: true, rooms: [{ roomId, unread: 0 }] });
  });

  test("POST /read, GET /reads and GET /api/rooms need only access to the room", async () => {
    const roomId = uniqueRoom();
    const alice = await person();
    await join(alice.socket, roomId);
    const m1 = await send(alice.socket, roomId, "a");
    await send(alice.socket, roomId, "b");
    const token = signToken({ sub: uniqueUserId("rest"), name: "Rest" });
    const auth = { authorization: `Bearer ${token}` };
    const read = await http(`${server.url}/api/rooms/${roomId}/read`, {
      method: "POST",
      headers: auth,
      body: { upTo: m1.id },
    });
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ readUpTo: m1.id, unread: 1 });
    const reads = await http(`${server.url}/api/rooms/${roomId}/reads`, { headers: auth });
    expect(reads.body.reads.map((r: { user: { name: string } }) => r.user.name)).toEqual(["P", "Rest"]);
    const mine = await http(`${server.url}/api/rooms`, { headers: auth });
    expect(mine.body).toEqual({ rooms: [expect.objectContaining({ roomId, readUpTo: m1.id, unread: 1 })] });
    const bad = await http(`${server.url}/api/rooms/${roomId}/read`, {
      method: "POST",
      headers: auth,
      body: { upTo: "x" },
    });
    expect([bad.status, bad.body.error.code]).toEqual([404, "not_found"]);
    const malformed = await http(`${server.url}/api/rooms/${roomId}/read`, { method: "POST", headers: auth, body: {} });
    expect([malformed.status, malformed.body.error.code]).toEqual([400, "bad_request"]);
    const forbidden = signToken({ sub: "limited", rooms: ["nope"] });
    const refused = await http(`${server.url}/api/rooms/${roomId}/reads`, {
      headers: { authorization: `Bearer ${forbidden}` },
    });
    expect(refused.status).toBe(403);
    expect((await http(`${server.url}/api/rooms`, {})).status).toBe(401);
  });
});
