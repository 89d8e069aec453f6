/**
 * §5 and §8 over HTTP: `PATCH` / `DELETE …/messages/:id`, `PUT` / `DELETE
 * …/messages/:id/reactions/:emoji`, `replyTo` on `POST …/messages`, SSE
 * `event: update` and its replay after `Last-Event-ID`, and polls with
 * `updates` and their cursor.
 */
import type { Message } from "../../shared";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { openSse } from "../helpers/sse";
import { signToken } from "../helpers/tokens";
import { bearer, expectError, http, publish, uniqueRoom } from "./support";

let server: TestApp;
beforeAll(async () => {
  server = await startApp({ RATE_BURST: "100000", RATE_PER_SEC: "100000" });
});
afterAll(() => stopAllApps());

const alice = signToken({ sub: "rest-alice", name: "Alice" });
const bob = signToken({ sub: "rest-bob", name: "Bob" });
const mod = signToken({ sub: "rest-mod", name: "Mod", role: "moderator" });

const url = (roomId: string, path = "") => `${server.url}/api/rooms/${roomId}/messages${path}`;
const edit = (roomId: string, id: string, token: string, body: unknown) =>
  http(url(roomId, `/${encodeURIComponent(id)}`), { method: "PATCH", headers: bearer(token), body });
const remove = (roomId: string, id: string, token: string) =>
  http(url(roomId, `/${encodeURIComponent(id)}`), { method: "DELETE", headers: bearer(token) });
const react = (roomId: string, id: string, emoji: string, token: string, add = true) =>
  http(url(roomId, `/${encodeURIComponent(id)}/reactions/${encodeURIComponent(emoji)}`), {
    method: add ? "PUT" : "DELETE",
    headers: bearer(token),
  });
const all = async (roomId: string): Promise<Message[]> =>
  (await http(url(roomId, "?limit=100"), { headers: bearer(alice) })).body.messages;

describe("REST changes", () => {
  test("PATCH edits the author's message: 200 { message } in its new state", async () => {
    const roomId = uniqueRoom();
    const m = await publish(server.url, alice, roomId, "helo");
    const res = await edit(roomId, m.id, alice, { text: "hello" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      message: { ...m, text: "hello", editedAt: expect.any(Number), rev: expect.any(String) },
    });
    expect(await all(roomId)).toEqual([res.body.message]);
  });

  test("DELETE leaves a tombstone; a moderator may delete anyone's message; others get 403", async () => {
    const roomId = uniqueRoom();
    const m1 = await publish(server.url, alice, roomId, "one");
    const m2 = await publish(server.url, alice, roomId, "two");
    expectError(await remove(roomId, m1.id, bob), 403, "forbidden");
    const own = await remove(roomId, m1.id, alice);
    expect(own.status).toBe(200);
    expect(own.body.message).toEqual({ ...m1, text: "", deleted: true, rev: expect.any(String) });
    expect((await remove(roomId, m2.id, mod)).body.message).toMatchObject({ deleted: true });
    expect((await remove(roomId, m2.id, alice)).status).toBe(200);
    expect((await all(roomId)).map((m) => m.deleted)).toEqual([true, true]);
  });

  test("PUT and DELETE a reaction with a URL-encoded emoji", async () => {
    const roomId = uniqueRoom();
    const m = await publish(server.url, alice, roomId, "react");
    const put = await react(roomId, m.id, "🎉", bob);
    expect(put.status).toBe(200);
    expect(put.body.message.reactions).toEqual([{ emoji: "🎉", count: 1, userIds: ["rest-bob"] }]);
    expect((await react(roomId, m.id, ":ship:", alice)).body.message.reactions).toHaveLength(2);
    const del = await react(roomId, m.id, "🎉", bob, false);
    expect(del.body.message.reactions).toEqual([{ emoji: ":ship:", count: 1, userIds: ["rest-alice"] }]);
  });

  test("replyTo on POST must be a message of the same room", async () => {
    const roomId = uniqueRoom();
    const m = await publish(server.url, alice, roomId, "q");
    const other = await publish(server.url, alice, uniqueRoom(), "elsewhere");
    const reply = await http(url(roomId), { method: "POST", headers: bearer(bob), body: { text: "a", replyTo: m.id } });
    expect(reply.status).toBe(201);
    expect(reply.body.message).toMatchObject({ replyTo: m.id, seq: 2 });
    const refused = await http(url(roomId), {
      method: "POST",
      headers: bearer(bob),
      body: { text: "a", replyTo: other.id },
    });
    expectError(refused, 404, "not_found");
    expect(await all(roomId)).toHaveLength(2);
  });

  test("refusals: unknown ids 404, bad emojis and bodies 400, no token 401, a room the token forbids 403", async () => {
    const roomId = uniqueRoom();
    const m = await publish(server.url, alice, roomId, "x");
    expectError(await edit(roomId, "nope", alice, { text: "y" }), 404, "not_found");
    expectError(await remove(roomId, m.id.replace(/-\d+$/, "-99"), alice), 404, "not_found");
    expectError(await react(roomId, "1-1", "👍", alice), 404, "not_found");
    expectError(await react(roomId, m.id, "a b", alice), 400, "bad_request");
    expectError(await react(roomId, m.id, "x".repeat(17), alice), 400, "bad_request");
    expectError(await edit(roomId, m.id, alice, { text: 5 }), 400, "bad_request");
    expectError(await edit(roomId, m.id, alice, {}), 400, "bad_request");
    expectError(await edit(roomId, m.id, alice, { text: "x".repeat(4001) }), 413, "too_large");
    expectError(await edit(roomId, m.id, bob, { text: "mine now" }), 403, "forbidden");
    expectError(await http(url(roomId, `/${m.id}`), { method: "PATCH", body: { text: "y" } }), 401, "unauthorized");
    const limited = signToken({ sub: "rest-alice", rooms: ["elsewhere-*"] });
    expectError(await edit(roomId, m.id, limited, { text: "y" }), 403, "forbidden");
    expect(await all(roomId)).toEqual([m]);
  });

  test("a preflight allows the methods of the change routes", async () => {
    const res = await http(url(uniqueRoom(), "/1-1"), {
      method: "OPTIONS",
      headers: { origin: server.url, "access-control-request-method": "PATCH" },
    });
    expect(res.status).toBe(204);
    for (const method of ["PATCH", "PUT", "DELETE"]) {
      expect(res.headers["access-control-allow-methods"]).toContain(method);
    }
  });
});

describe("SSE", () => {
  test("a change arrives as event: update with id: its rev", async () => {
    const roomId = uniqueRoom();
    const m = await publish(server.url, alice, roomId, "before");
    const stream = await openSse(`${server.url}/api/rooms/${roomId}/events`, bearer(bob));
    try {
      const edited = (await edit(roomId, m.id, alice, { text: "after" })).body.message as Message;
      const event = await stream.next("update");
      expect(event.id).toBe(edited.rev);
      expect(JSON.parse(event.data)).toEqual(edited);
    } finally {
      stream.close();
    }
  });

  test("Last-Event-ID replays the changes after it in change order, each message once as it is now", async () => {
    const roomId = uniqueRoom();
    const m1 = await publish(server.url, alice, roomId, "m1");
    const m2 = await publish(server.url, alice, roomId, "m2");
    const seen = m2.id;
    await edit(roomId, m1.id, alice, { text: "m1 edited" });
    const m3 = await publish(server.url, alice, roomId, "m3");
    await react(roomId, m3.id, "👍", bob);
    await react(roomId, m2.id, "👀", bob);
    const stream = await openSse(`${server.url}/api/rooms/${roomId}/events`, { ...bearer(bob), "last-event-id": seen });
    try {
      const replay = [await stream.next(), await stream.next(), await stream.next()];
      const now = await all(roomId);
      expect(replay.map((e) => [e.event, JSON.parse(e.data)])).toEqual([
        ["update", now[0]],
        ["message", now[2]],
        ["update", now[1]],
      ]);
      expect(replay.map((e) => e.id)).toEqual([now[0]!.rev, now[2]!.id, now[1]!.rev]);
      // Live from here, nothing replayed twice.
      const live = await publish(server.url, alice, roomId, "m4");
      const next = await stream.next();
      expect([next.event, next.id]).toEqual(["message", live.id]);
    } finally {
      stream.close();
    }
  });
});

describe("polls", () => {
  const poll = (roomId: string, query: string) =>
    http(`${server.url}/api/rooms/${roomId}/poll${query}`, { headers: bearer(bob), timeoutMs: 10_000 });

  test("answers at once with the new messages and the older ones changed since, and a cursor that misses nothing", async () => {
    const roomId = uniqueRoom();
    const m1 = await publish(server.url, alice, roomId, "m1");
    const m2 = await publish(server.url, alice, roomId, "m2");
    await edit(roomId, m1.id, alice, { text: "m1 edited" });
    const m3 = await publish(server.url, alice, roomId, "m3");
    const res = await poll(roomId, `?after=${m2.id}&timeout=5`);
    const now = await all(roomId);
    expect(res.body).toEqual({ messages: [m3], updates: [now[0]], cursor: m3.id });
    const quiet = await poll(roomId, `?after=${res.body.cursor}&timeout=0`);
    expect(quiet.body).toEqual({ messages: [], updates: [], cursor: m3.id });
  });

  test("a waiting poll is answered as soon as a change arrives, with updates and the change's position as cursor", async () => {
    const roomId = uniqueRoom();
    const m = await publish(server.url, alice, roomId, "m");
    const pending = poll(roomId, `?after=${m.id}&timeout=10`);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const reacted = (await react(roomId, m.id, "👍", alice)).body.message as Message;
    expect((await pending).body).toEqual({ messages: [], updates: [reacted], cursor: reacted.rev });
  });

  test("when messages are cut at 100, updates hold only changes made before the last of them", async () => {
    const roomId = uniqueRoom();
    const early = await publish(server.url, alice, roomId, "early");
    const first = await publish(server.url, alice, roomId, "first");
    const sent: Message[] = [];
    for (let i = 0; i < 60; i++) sent.push(await publish(server.url, alice, roomId, `a${i}`));
    await edit(roomId, early.id, alice, { text: "early, edited midway" });
    for (let i = 0; i < 60; i++) sent.push(await publish(server.url, alice, roomId, `b${i}`));
    await react(roomId, first.id, "👍", alice);
    const page1 = (await poll(roomId, `?after=${first.id}&timeout=0`)).body;
    expect(page1.messages).toHaveLength(100);
    expect(page1.cursor).toBe(sent[99]!.id);
    expect(page1.updates.map((m: Message) => m.text)).toEqual(["early, edited midway"]);
    const page2 = (await poll(roomId, `?after=${page1.cursor}&timeout=0`)).body;
    expect(page2.messages.map((m: Message) => m.text)).toEqual(sent.slice(100).map((m) => m.text));
    expect(page2.updates.map((m: Message) => [m.id, m.reactions?.[0]?.emoji])).toEqual([[first.id, "👍"]]);
  });
});
