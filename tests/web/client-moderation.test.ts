/**
 * The typed client's moderation (§11) and limits (§13) against real servers:
 * a moderator's `ban`, `unban` and `bans` over REST; the banned user's client
 * reporting `removed`, no longer in the room (not even after a reconnect), its
 * joins refused `forbidden` until the ban is lifted or ends; everyone else
 * refused `forbidden`; and the limits of joining as typed errors, with a
 * reconnect that waits for the join budget instead of dropping rooms.
 */
import { HuddleClientError, type HuddleClient } from "@huddle/client";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { sleep } from "../helpers/clients";
import { freePort } from "../helpers/ports";
import { uniqueUserId } from "../helpers/tokens";
import { closeAllTestClients, nextEvent, reachState, startClient } from "./client-helpers";

let server: TestApp;
let room = 0;
const newRoom = () => `mod-${process.pid}-${++room}`;

beforeAll(async () => {
  server = await startApp();
});
afterEach(() => closeAllTestClients());
afterAll(() => stopAllApps());

/** A person with a client; `moderator` puts `"role": "moderator"` in the token. */
function person(name: string, extra: Record<string, unknown> = {}, url = server.url) {
  const id = uniqueUserId(name);
  const tab = startClient(url, { claims: { sub: id, name, ...extra } });
  return { id, ...tab };
}

const moderator = (name = "Mona", extra: Record<string, unknown> = {}) => person(name, { role: "moderator", ...extra });

/** Every `event` of `client`, in order. */
function record<K extends "left" | "removed">(client: HuddleClient, event: K) {
  const seen: unknown[] = [];
  client.on(event, (payload) => seen.push(payload));
  return seen;
}

describe("a ban, as the banned user's client sees it", () => {
  test("the client reports removed, leaves the room, and the others see the user go", async () => {
    const roomId = newRoom();
    const mona = moderator();
    const bob = person("Bob");
    await mona.client.join(roomId);
    await bob.client.join(roomId);
    const lefts = record(bob.client, "left");
    const removed = nextEvent(bob.client, "removed");
    const gone = nextEvent(mona.client, "presence", (p) => p.type === "leave" && p.user.id === bob.id);

    const before = Date.now();
    const ban = await mona.client.ban(roomId, bob.id, { durationSec: 600, reason: "spam links" });
    expect(ban).toMatchObject({ roomId, userId: bob.id, reason: "spam links" });
    expect(ban.until).toBeGreaterThanOrEqual(before + 600_000);
    expect(ban.until).toBeLessThanOrEqual(Date.now() + 600_000);

    expect(await removed).toEqual({ roomId, reason: "banned" });
    await gone;
    expect(bob.client.rooms).not.toContain(roomId);
    // The room is not wanted any more: a send is refused at once, without a round trip.
    const sendsBefore = bob.outgoing.filter((o) => o.event === "message:send").length;
    await expect(bob.client.send(roomId, "still here?")).rejects.toMatchObject({ code: "not_joined" });
    expect(bob.outgoing.filter((o) => o.event === "message:send")).toHaveLength(sendsBefore);
    expect(lefts).toEqual([]);
  });

  test("rejoining is refused forbidden while the ban lasts, a reconnect does not try, and after unban it works", async () => {
    const roomId = newRoom();
    const other = newRoom();
    const mona = moderator();
    const bob = person("Bob");
    await mona.client.join(roomId);
    await bob.client.join(roomId);
    await bob.client.join(other);
    const removed = nextEvent(bob.client, "removed");
    await mona.client.ban(roomId, bob.id);
    await removed;

    const refused = await bob.client.join(roomId).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HuddleClientError);
    expect(refused).toMatchObject({ code: "forbidden", message: expect.stringMatching(/banned/) });
    expect(bob.client.rooms).toEqual([other]);

    // A dropped connection comes back with the rooms still wanted: not the one the ban took.
    const joinsBefore = bob.outgoing.length;
    bob.client.socket.io.engine.close();
    await reachState(bob.client, "reconnecting");
    await reachState(bob.client, "connected");
    const rejoined = bob.outgoing.slice(joinsBefore).filter((o) => o.event === "room:join");
    expect(rejoined.map((o) => o.payload.roomId)).toEqual([other]);

    await mona.client.unban(roomId, bob.id);
    const back = nextEvent(mona.client, "presence", (p) => p.type === "join" && p.user.id === bob.id);
    const joined = await bob.client.join(roomId);
    expect(joined.members.map((m) => m.id).sort()).toEqual([bob.id, mona.id].sort());
    await back;
    expect([...bob.client.rooms].sort()).toEqual([roomId, other].sort());
    const message = await bob.client.send(roomId, "thanks for letting me back");
    expect(message).toMatchObject({ roomId, text: "thanks for letting me back" });
  });

  test("a message still in the outbox when the ban lands fails with forbidden", async () => {
    const roomId = newRoom();
    const mona = moderator();
    const bobId = uniqueUserId("Bob");
    // A reconnect 1.5 s after the drop, long enough to ban him meanwhile.
    const bob = startClient(server.url, {
      claims: { sub: bobId, name: "Bob" },
      backoff: { baseMs: 1500, maxMs: 1500 },
      random: () => 1,
    });
    await bob.client.join(roomId);
    // Offline: the message waits in the outbox; the ban is made meanwhile, and the room is refused on reconnect.
    bob.client.socket.io.engine.close();
    await reachState(bob.client, "reconnecting");
    const pending = bob.client.send(roomId, "queued before the ban");
    const lefts = nextEvent(bob.client, "left");
    await mona.client.ban(roomId, bobId);
    await expect(pending).rejects.toMatchObject({ code: "forbidden" });
    expect(await lefts).toMatchObject({ roomId, error: { code: "forbidden" } });
    expect(bob.client.rooms).toEqual([]);
  });
});

describe("bans, unban and who may call them", () => {
  test("bans lists the bans in force with their end and reason; unban removes one; a short ban ends on its own", async () => {
    const roomId = newRoom();
    const mona = moderator();
    const [a, b, c] = [uniqueUserId("a"), uniqueUserId("b"), uniqueUserId("c")];
    expect(await mona.client.bans(roomId)).toEqual([]);
    await mona.client.ban(roomId, a, { durationSec: 3600, reason: "flooding" });
    await mona.client.ban(roomId, b);
    await mona.client.ban(roomId, c, { durationSec: 1 });
    const byUser = <T extends { userId: string }>(bans: T[]) =>
      [...bans].sort((x, y) => x.userId.localeCompare(y.userId));
    const listed = await mona.client.bans(roomId);
    expect(byUser(listed)).toEqual(
      byUser([
        { roomId, userId: a, until: expect.any(Number), reason: "flooding" },
        { roomId, userId: b, until: null },
        { roomId, userId: c, until: expect.any(Number) },
      ]),
    );

    await mona.client.unban(roomId, a);
    // Lifting a ban that is not there is fine too.
    await mona.client.unban(roomId, a);
    await sleep(1100);
    expect(await mona.client.bans(roomId)).toEqual([{ roomId, userId: b, until: null }]);
  });

  test("a user whose short ban ended joins again", async () => {
    const roomId = newRoom();
    const mona = moderator();
    const bob = person("Bob");
    await bob.client.join(roomId);
    const removed = nextEvent(bob.client, "removed");
    await mona.client.ban(roomId, bob.id, { durationSec: 1 });
    await removed;
    await expect(bob.client.join(roomId)).rejects.toMatchObject({ code: "forbidden" });
    await sleep(1100);
    await expect(bob.client.join(roomId)).resolves.toMatchObject({ roomId });
  });

  test("anyone but a moderator is refused forbidden, and a moderator outside the rooms of the token too", async () => {
    const roomId = newRoom();
    const bob = person("Bob");
    const carol = person("Carol");
    await carol.client.join(roomId);
    for (const call of [
      () => bob.client.ban(roomId, carol.id),
      () => bob.client.bans(roomId),
      () => bob.client.unban(roomId, carol.id),
    ]) {
      const refused = await call().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(HuddleClientError);
      expect(refused).toMatchObject({ code: "forbidden", message: "only a moderator can do that" });
    }
    // A role claim other than "moderator" is no role at all.
    const admin = person("Ada", { role: "admin" });
    await expect(admin.client.bans(roomId)).rejects.toMatchObject({ code: "forbidden" });
    const teamMod = moderator("Tess", { rooms: ["team-*"] });
    await expect(teamMod.client.ban(roomId, carol.id)).rejects.toMatchObject({ code: "forbidden" });
    await expect(teamMod.client.bans(`team-${roomId}`)).resolves.toEqual([]);
    // Nothing was banned: Carol is still in.
    await sleep(100);
    expect(carol.client.rooms).toEqual([roomId]);
  });

  test("the calls work before the client has connected, with the token it will connect with", async () => {
    const roomId = newRoom();
    const id = uniqueUserId("Mona");
    const { client, outgoing } = startClient(server.url, {
      claims: { sub: id, name: "Mona", role: "moderator" },
      autoConnect: false,
    });
    await expect(client.ban(roomId, "someone")).resolves.toMatchObject({ userId: "someone", until: null });
    await expect(client.bans(roomId)).resolves.toHaveLength(1);
    expect(outgoing).toEqual([]);
  });

  test("bans that cannot pass are refused bad_request before any request; the server's own refusals are typed", async () => {
    const roomId = newRoom();
    const mona = moderator();
    for (const options of [
      { durationSec: 0 },
      { durationSec: 1.5 },
      { durationSec: 31_536_001 },
      { reason: "x".repeat(201) },
    ]) {
      await expect(mona.client.ban(roomId, "someone", options)).rejects.toMatchObject({ code: "bad_request" });
    }
    await expect(mona.client.ban(roomId, "")).rejects.toMatchObject({ code: "bad_request" });
    // 200 characters (code points, not UTF-16 units) is the limit, and fine.
    await expect(mona.client.ban(roomId, "someone", { reason: "🚫".repeat(200) })).resolves.toMatchObject({
      reason: "🚫".repeat(200),
    });
    await expect(mona.client.bans("not a room id")).rejects.toMatchObject({ code: "bad_request" });
  });

  test("a server that cannot be reached is a disconnected error, not a crash", async () => {
    const port = await freePort();
    const { client } = startClient(`http://127.0.0.1:${port}`, {
      claims: { role: "moderator" },
      autoConnect: false,
    });
    await expect(client.bans("lobby")).rejects.toMatchObject({ name: "HuddleClientError", code: "disconnected" });
  });
});

describe("limits of joining (§13)", () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startApp({ MAX_ROOMS_PER_CONNECTION: "3", JOIN_RATE_BURST: "4", JOIN_RATE_PER_SEC: "2" });
  });

  test("one room past MAX_ROOMS_PER_CONNECTION is refused limit_exceeded and not kept; leaving one frees a place", async () => {
    const { client } = person("Rooms", {}, limited.url);
    const ids = [newRoom(), newRoom(), newRoom(), newRoom()];
    for (const id of ids.slice(0, 3)) await client.join(id);
    const refused = await client.join(ids[3]!).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HuddleClientError);
    expect(refused).toMatchObject({ code: "limit_exceeded", message: expect.stringMatching(/too many rooms/) });
    expect(client.rooms).toEqual(ids.slice(0, 3));
    await client.leave(ids[0]!);
    await expect(client.join(ids[3]!)).resolves.toMatchObject({ roomId: ids[3] });
  });

  test("joining too fast is refused rate_limited with retryAfterMs; a reconnect waits for the budget, dropping nothing", async () => {
    const tab = person("Fast", {}, limited.url);
    const { client, outgoing } = tab;
    // Three rooms at most on a connection: the fourth and fifth joins are of rooms left again.
    const ids = [newRoom(), newRoom(), newRoom()];
    for (const id of ids) await client.join(id);
    await client.leave(ids[2]!);
    await client.join(ids[2]!);
    const refused = await client.leave(ids[2]!).then(() => client.join(ids[2]!).catch((e: unknown) => e));
    expect(refused).toBeInstanceOf(HuddleClientError);
    expect(refused).toMatchObject({ code: "rate_limited" });
    const retryAfterMs = (refused as HuddleClientError).retryAfterMs!;
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(500);
    expect(client.rooms).toEqual(ids.slice(0, 2));

    // Now with the budget spent, a reconnect re-joins both rooms: one waits its turn instead of being dropped.
    const lefts = record(client, "left");
    const from = outgoing.length;
    client.socket.io.engine.close();
    await reachState(client, "reconnecting");
    await reachState(client, "connected", 8000);
    expect(lefts).toEqual([]);
    expect(client.rooms).toEqual(ids.slice(0, 2));
    const joins = outgoing.slice(from).filter((o) => o.event === "room:join");
    expect(new Set(joins.map((o) => o.payload.roomId))).toEqual(new Set(ids.slice(0, 2)));
    // Both rooms answer on the new connection.
    for (const id of ids.slice(0, 2)) await expect(client.history(id)).resolves.toMatchObject({ messages: [] });
  });
});
