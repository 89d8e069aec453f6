/**
 * §2 room ids, §3 `room:join` / `room:leave`, §4 presence: who is told when a
 * user comes and goes, per user rather than per connection.
 */
import { closeAllClients, collect, eventually, sleep, waitForEvent, type HuddleClient } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken, uniqueUserId } from "../helpers/tokens";
import type { PresenceEvent } from "../../shared";
import { connectSession, join, refusedWith, request, send, uniqueRoom } from "./support";

let server: TestApp;
beforeAll(async () => {
  server = await startApp();
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

/** A connected client of a fresh user (or of `sub`), with its user. */
async function user(name?: string, sub = uniqueUserId()) {
  const token = signToken({ sub, ...(name ? { name } : {}) });
  const { socket, session } = await connectSession(server.url, { token });
  return { socket, user: session.user, token };
}
/** Another connection (tab) of the same user. */
async function tab(token: string): Promise<HuddleClient> {
  return (await connectSession(server.url, { token })).socket;
}

/** Waits long enough for a stray event to have arrived: a round trip through the server after the action. */
async function settle(...sockets: HuddleClient[]) {
  await Promise.all(sockets.map((socket) => request(socket, "room:leave", { roomId: "settle-never-joined" })));
  await sleep(30);
}

describe("room ids", () => {
  test.each([
    ["64 characters", "r".repeat(64)],
    ["every allowed character kind", "a-b_c.d:e"],
    ["one character", "x"],
    ["digits and capitals", "Room42"],
  ])("accepts a room id of %s", async (_name, roomId) => {
    const { socket } = await user();
    await expect(request(socket, "room:join", { roomId })).resolves.toMatchObject({ ok: true, roomId });
  });

  test.each([
    ["65 characters", "r".repeat(65)],
    ["a space", "my room"],
    ["nothing", ""],
    ["an accented letter", "café"],
    ["an emoji", "room-🎉"],
    ["a slash", "a/b"],
    ["a star", "team-*"],
    ["a newline", "room\n"],
    ["a number instead of a string", 42],
  ])("refuses a room id of %s with bad_request", async (_name, roomId) => {
    const { socket } = await user();
    await expect(request(socket, "room:join", { roomId })).resolves.toEqual(refusedWith("bad_request"));
  });

  test("a room named like another socket's id never reaches that socket", async () => {
    const victim = await user();
    const other = await user();
    const seen = ["message:new", "presence:join", "presence:leave", "typing:update"].map((event) =>
      collect(victim.socket, event),
    );
    const roomId = victim.socket.id!;
    expect(roomId).toMatch(/^[A-Za-z0-9_\-.:]{1,64}$/);
    await join(other.socket, roomId);
    const third = await user();
    await join(third.socket, roomId);
    await request(other.socket, "typing:start", { roomId });
    await send(other.socket, roomId, "for the room, not the socket");
    await request(third.socket, "room:leave", { roomId });
    await settle(victim.socket, other.socket);
    expect(seen.flatMap((sink) => sink.items)).toEqual([]);
  });
  test("a room named like a user's private key never reaches that user", async () => {
    const victim = await user();
    const other = await user();
    const seen = collect(victim.socket, "message:new");
    const roomId = `user:${victim.user.id}`;
    await join(other.socket, roomId);
    await send(other.socket, roomId, "not for the victim");
    await settle(victim.socket, other.socket);
    expect(seen.items).toEqual([]);
  });

  test("rooms x and room:x are different rooms", async () => {
    const alice = await user();
    const bob = await user();
    const base = uniqueRoom();
    await join(alice.socket, base);
    await join(bob.socket, `room:${base}`);
    const atAlice = collect(alice.socket, "message:new");
    await send(bob.socket, `room:${base}`, "in room:x");
    await settle(alice.socket, bob.socket);
    expect(atAlice.items).toEqual([]);
  });
});

describe("room:join", () => {
  test("answers ok with roomId, members (the joiner included), typing, history and resumed", async () => {
    const alice = await user("Alice");
    const roomId = uniqueRoom();
    const ack = await request(alice.socket, "room:join", { roomId });
    expect(ack).toEqual({
      ok: true,
      roomId,
      members: [alice.user],
      typing: [],
      history: [],
      resumed: false,
      updates: [],
      readUpTo: null,
      unread: 0,
    });
  });

  test("lists every member once, in the order they joined", async () => {
    const roomId = uniqueRoom();
    const alice = await user("Alice");
    const bob = await user("Bob");
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const carol = await user("Carol");
    const ack = await join(carol.socket, roomId);
    expect(ack.members).toEqual([alice.user, bob.user, carol.user]);
  });

  test("joining the same room twice is fine and changes nothing", async () => {
    const roomId = uniqueRoom();
    const observer = await user();
    await join(observer.socket, roomId);
    const alice = await user();
    const presence = collect(observer.socket, "presence:join");
    await join(alice.socket, roomId);
    const again = await request(alice.socket, "room:join", { roomId });
    expect(again).toMatchObject({ ok: true, members: [observer.user, alice.user] });
    await settle(observer.socket);
    expect(presence.items).toHaveLength(1);
  });

  test("a joined socket receives the room's events, a socket that left does not", async () => {
    const roomId = uniqueRoom();
    const alice = await user();
    const bob = await user();
    await join(alice.socket, roomId);
    await join(bob.socket, roomId);
    const delivered = waitForEvent(bob.socket, "message:new");
    await send(alice.socket, roomId, "both of you");
    await expect(delivered).resolves.toMatchObject({ text: "both of you" });
    await expect(request(bob.socket, "room:leave", { roomId })).resolves.toEqual({ ok: true });
    const after = collect(bob.socket, "message:new");
    await send(alice.socket, roomId, "only alice now");
    await settle(bob.socket);
    expect(after.items).toEqual([]);
  });
});

describe("room:leave", () => {
  test("answers { ok: true } for a room never joined", async () => {
    const { socket } = await user();
    await expect(request(socket, "room:leave", { roomId: uniqueRoom() })).resolves.toEqual({ ok: true });
  });

  test("after leaving, sending to the room is not_joined", async () => {
    const roomId = uniqueRoom();
    const { socket } = await user();
    await join(socket, roomId);
    await request(socket, "room:leave", { roomId });
    await expect(request(socket, "message:send", { roomId, text: "hi" })).resolves.toEqual(refusedWith("not_joined"));
  });

  test("leaving one room keeps the socket in its other rooms", async () => {
    const [a, b] = [uniqueRoom(), uniqueRoom()];
    const { socket } = await user();
    await join(socket, a);
    await join(socket, b);
    await request(socket, "room:leave", { roomId: a });
    await expect(request(socket, "message:send", { roomId: b, text: "still here" })).resolves.toMatchObject({
      ok: true,
    });
  });
});

describe("presence", () => {
  let roomId: string;
  let observer: Awaited<ReturnType<typeof user>>;
  beforeEach(async () => {
    roomId = uniqueRoom();
    observer = await user("Observer");
    await join(observer.socket, roomId);
  });

  test("tells the room's other sockets when a user joins, with roomId and user", async () => {
    const alice = await user("Alice");
    const told = waitForEvent<PresenceEvent>(observer.socket, "presence:join");
    await join(alice.socket, roomId);
    await expect(told).resolves.toEqual({ roomId, user: alice.user });
  });

  test("does not tell the joiner about its own join", async () => {
    const alice = await user("Alice");
    const own = collect(alice.socket, "presence:join");
    await join(alice.socket, roomId);
    await settle(alice.socket, observer.socket);
    expect(own.items).toEqual([]);
  });

  test("does not announce a user's second tab, and lists the user once", async () => {
    const alice = await user("Alice");
    const announced = waitForEvent(observer.socket, "presence:join");
    await join(alice.socket, roomId);
    await announced;
    const presence = collect(observer.socket, "presence:join");
    const second = await tab(alice.token);
    const firstTab = collect(alice.socket, "presence:join");
    const ack = await join(second, roomId);
    expect(ack.members).toEqual([observer.user, alice.user]);
    await settle(observer.socket, alice.socket);
    expect(presence.items).toEqual([]);
    expect(firstTab.items).toEqual([]);
  });

  test("two tabs of a user joining together: the room hears of the user once, neither tab hears of itself", async () => {
    const alice = await user("Alice");
    const second = await tab(alice.token);
    const presence = collect(observer.socket, "presence:join");
    const ownJoins = [collect(alice.socket, "presence:join"), collect(second, "presence:join")];
    await Promise.all([join(alice.socket, roomId), join(second, roomId)]);
    await settle(observer.socket, alice.socket, second);
    expect(presence.items).toEqual([{ roomId, user: alice.user }]);
    expect(ownJoins.map((own) => own.items)).toEqual([[], []]);
  });

  test("a tab joining while the user's other tab is elsewhere is the user's first connection in this room", async () => {
    const alice = await user("Alice");
    await join(alice.socket, uniqueRoom("elsewhere"));
    const second = await tab(alice.token);
    const told = waitForEvent<PresenceEvent>(observer.socket, "presence:join");
    await join(second, roomId);
    await expect(told).resolves.toEqual({ roomId, user: alice.user });
  });

  test("tells the room when a user leaves with room:leave", async () => {
    const alice = await user("Alice");
    await join(alice.socket, roomId);
    const told = waitForEvent<PresenceEvent>(observer.socket, "presence:leave");
    await request(alice.socket, "room:leave", { roomId });
    await expect(told).resolves.toEqual({ roomId, user: alice.user });
    const ack = await join(observer.socket, roomId);
    expect(ack.members).toEqual([observer.user]);
  });

  test("tells the room when a user's connection disconnects", async () => {
    const alice = await user("Alice");
    await join(alice.socket, roomId);
    const told = waitForEvent<PresenceEvent>(observer.socket, "presence:leave");
    alice.socket.disconnect();
    await expect(told).resolves.toEqual({ roomId, user: alice.user });
    await eventually(async () => (await join(observer.socket, roomId)).members.length === 1, "alice gone from members");
  });

  test("says nothing while the user still has another tab in the room, and tells when the last one goes", async () => {
    const alice = await user("Alice");
    const second = await tab(alice.token);
    await join(alice.socket, roomId);
    await join(second, roomId);
    const leaves = collect<PresenceEvent>(observer.socket, "presence:leave");
    await request(alice.socket, "room:leave", { roomId });
    await settle(observer.socket);
    expect(leaves.items).toEqual([]);
    expect((await join(observer.socket, roomId)).members).toEqual([observer.user, alice.user]);
    second.disconnect();
    await eventually(() => leaves.items.length === 1, "presence:leave after the last tab");
    expect(leaves.items).toEqual([{ roomId, user: alice.user }]);
  });

  test("one presence:leave when both tabs disconnect", async () => {
    const alice = await user("Alice");
    const second = await tab(alice.token);
    await join(alice.socket, roomId);
    await join(second, roomId);
    const leaves = collect<PresenceEvent>(observer.socket, "presence:leave");
    alice.socket.disconnect();
    second.disconnect();
    await eventually(() => leaves.items.length >= 1, "presence:leave");
    await settle(observer.socket);
    expect(leaves.items).toEqual([{ roomId, user: alice.user }]);
  });

  test("presence of one room does not reach another room", async () => {
    const elsewhere = await user();
    await join(elsewhere.socket, uniqueRoom("other"));
    const seen = [collect(elsewhere.socket, "presence:join"), collect(elsewhere.socket, "presence:leave")];
    const alice = await user();
    await join(alice.socket, roomId);
    await request(alice.socket, "room:leave", { roomId });
    await settle(elsewhere.socket, observer.socket);
    expect(seen.flatMap((s) => s.items)).toEqual([]);
  });

  test("a user who left can join again and is announced again", async () => {
    const alice = await user("Alice");
    const firstJoin = waitForEvent(observer.socket, "presence:join");
    await join(alice.socket, roomId);
    await firstJoin;
    const left = waitForEvent(observer.socket, "presence:leave");
    await request(alice.socket, "room:leave", { roomId });
    await left;
    const told = waitForEvent<PresenceEvent>(observer.socket, "presence:join");
    await join(alice.socket, roomId);
    await expect(told).resolves.toEqual({ roomId, user: alice.user });
  });
});
