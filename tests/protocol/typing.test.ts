/**
 * §4 typing: `typing:update` carries the whole set whenever it changes; typing
 * expires on its own after `typingTtlMs`, and ends at once on send, stop,
 * leave and disconnect; §3 its own budget (past it: acked ok, dropped).
 *
 * "At once" is proved against a long TTL (10 s): the update arrives well
 * before typing could have expired.
 */
import { closeAllClients, collect, sleep, waitForEvent, type HuddleClient } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken, uniqueUserId } from "../helpers/tokens";
import type { TypingUpdate, User } from "../../shared";
import { connectSession, join, refusedWith, request, send, uniqueRoom } from "./support";

let server: TestApp; // TYPING_TTL_MS 10 s: anything that ends typing here did so "at once"
let expiring: TestApp; // TYPING_TTL_MS 800 ms
let budget: TestApp; // RATE_BURST 3, RATE_PER_SEC 1 for both budgets

beforeAll(async () => {
  server = await startApp({ TYPING_TTL_MS: "10000" });
  expiring = await startApp({ TYPING_TTL_MS: "800" });
  budget = await startApp({ TYPING_TTL_MS: "10000", RATE_BURST: "3", RATE_PER_SEC: "1" });
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

async function user(app: TestApp, name?: string, sub = uniqueUserId()) {
  const token = signToken({ sub, ...(name ? { name } : {}) });
  const { socket, session } = await connectSession(app.url, { token });
  return { socket, user: session.user, token };
}

/** Two users in a fresh room: `typer` types, `observer` watches. */
async function pair(app: TestApp) {
  const roomId = uniqueRoom();
  const typer = await user(app, "Typer");
  const observer = await user(app, "Observer");
  await join(typer.socket, roomId);
  await join(observer.socket, roomId);
  return { roomId, typer, observer };
}

const update = (socket: HuddleClient, roomId: string, users: User[], timeoutMs = 3000) =>
  waitForEvent<TypingUpdate>(socket, "typing:update", {
    timeoutMs,
    predicate: (u) => u.roomId === roomId && JSON.stringify(u.users) === JSON.stringify(users),
  });

async function startTyping(socket: HuddleClient, observer: HuddleClient, roomId: string, typer: User) {
  const shown = update(observer, roomId, [typer]);
  await expect(request(socket, "typing:start", { roomId })).resolves.toEqual({ ok: true });
  await shown;
}

/** A round trip through the server on each socket, then a little slack: a stray event would be in by now. */
async function settle(...sockets: HuddleClient[]) {
  await Promise.all(sockets.map((socket) => request(socket, "room:leave", { roomId: "settle-never-joined" })));
  await sleep(30);
}

describe("typing:update", () => {
  test("typing:start answers { ok: true } and tells the whole room, the typer included", async () => {
    const { roomId, typer, observer } = await pair(server);
    const toTyper = update(typer.socket, roomId, [typer.user]);
    const toObserver = update(observer.socket, roomId, [typer.user]);
    await expect(request(typer.socket, "typing:start", { roomId })).resolves.toEqual({ ok: true });
    await expect(toObserver).resolves.toEqual({ roomId, users: [typer.user] });
    await expect(toTyper).resolves.toEqual({ roomId, users: [typer.user] });
  });

  test("carries the whole set of users typing, in the order they started", async () => {
    const { roomId, typer, observer } = await pair(server);
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    const both = update(typer.socket, roomId, [typer.user, observer.user]);
    await request(observer.socket, "typing:start", { roomId });
    await both;
    const onlyObserver = update(typer.socket, roomId, [observer.user]);
    await request(typer.socket, "typing:stop", { roomId });
    await onlyObserver;
  });

  test("sends nothing when a repeated typing:start does not change the set", async () => {
    const { roomId, typer, observer } = await pair(server);
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    const updates = collect(observer.socket, "typing:update");
    await request(typer.socket, "typing:start", { roomId });
    await request(typer.socket, "typing:start", { roomId });
    await settle(observer.socket, typer.socket);
    expect(updates.items).toEqual([]);
  });

  test("shows a user typing from two tabs once", async () => {
    const { roomId, typer, observer } = await pair(server);
    const second = (await connectSession(server.url, { token: typer.token })).socket;
    await join(second, roomId);
    const updates = collect<TypingUpdate>(observer.socket, "typing:update");
    await request(typer.socket, "typing:start", { roomId });
    await request(second, "typing:start", { roomId });
    await settle(observer.socket);
    expect(updates.items).toEqual([{ roomId, users: [typer.user] }]);
  });

  test("a joiner sees who is typing in its join ack", async () => {
    const { roomId, typer, observer } = await pair(server);
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    const late = await user(server);
    await expect(join(late.socket, roomId)).resolves.toMatchObject({ typing: [typer.user] });
  });

  test("typing in one room is not shown in another", async () => {
    const { roomId, typer, observer } = await pair(server);
    const elsewhere = await user(server);
    await join(elsewhere.socket, uniqueRoom("elsewhere"));
    await join(typer.socket, (await join(elsewhere.socket, uniqueRoom("shared"))).roomId);
    const seen = collect(elsewhere.socket, "typing:update");
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    await settle(elsewhere.socket);
    expect(seen.items).toEqual([]);
  });

  test.each(["typing:start", "typing:stop"] as const)("%s before joining the room is not_joined", async (event) => {
    const { socket } = await user(server);
    await expect(request(socket, event, { roomId: uniqueRoom() })).resolves.toEqual(refusedWith("not_joined"));
  });
});

describe("the end of typing", () => {
  test("expires on its own typingTtlMs after the last typing:start", async () => {
    const { roomId, typer, observer } = await pair(expiring);
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    await expect(update(observer.socket, roomId, [], 3000)).resolves.toEqual({ roomId, users: [] });
    const late = await user(expiring);
    await expect(join(late.socket, roomId)).resolves.toMatchObject({ typing: [] });
  });

  test("a renewed typing:start keeps the user typing past the first TTL", async () => {
    const { roomId, typer, observer } = await pair(expiring);
    const updates = collect<TypingUpdate>(observer.socket, "typing:update");
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    await sleep(400);
    await request(typer.socket, "typing:start", { roomId });
    await sleep(400);
    await request(typer.socket, "typing:start", { roomId });
    await sleep(400); // 1.2 s after the first start, 0.4 s after the last
    expect(updates.items).toEqual([{ roomId, users: [typer.user] }]);
    await update(observer.socket, roomId, [], 3000);
  });

  test("typing:stop ends it at once and answers { ok: true }", async () => {
    const { roomId, typer, observer } = await pair(server);
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    const ended = update(observer.socket, roomId, []);
    await expect(request(typer.socket, "typing:stop", { roomId })).resolves.toEqual({ ok: true });
    await ended;
  });

  test("typing:stop when not typing is ok and sends nothing", async () => {
    const { roomId, typer, observer } = await pair(server);
    const updates = collect(observer.socket, "typing:update");
    await expect(request(typer.socket, "typing:stop", { roomId })).resolves.toEqual({ ok: true });
    await settle(observer.socket);
    expect(updates.items).toEqual([]);
  });

  test("sending a message ends it at once", async () => {
    const { roomId, typer, observer } = await pair(server);
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    const ended = update(observer.socket, roomId, []);
    await send(typer.socket, roomId, "done typing");
    await ended;
  });

  test("leaving the room ends it at once", async () => {
    const { roomId, typer, observer } = await pair(server);
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    const ended = update(observer.socket, roomId, []);
    await request(typer.socket, "room:leave", { roomId });
    await ended;
  });

  test("disconnecting ends it at once", async () => {
    const { roomId, typer, observer } = await pair(server);
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    const ended = update(observer.socket, roomId, []);
    typer.socket.disconnect();
    await ended;
  });

  test("ending one user's typing keeps the others in the set", async () => {
    const { roomId, typer, observer } = await pair(server);
    const third = await user(server, "Third");
    await join(third.socket, roomId);
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    const both = update(observer.socket, roomId, [typer.user, third.user]);
    await request(third.socket, "typing:start", { roomId });
    await both;
    const onlyThird = update(observer.socket, roomId, [third.user]);
    await send(typer.socket, roomId, "sent");
    await onlyThird;
  });
});

describe("the typing budget (RATE_BURST=3, RATE_PER_SEC=1)", () => {
  test("past its budget typing:start is acked ok and dropped", async () => {
    const { roomId, typer, observer } = await pair(budget);
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
    await request(typer.socket, "typing:start", { roomId });
    await request(typer.socket, "typing:start", { roomId });
    const stopped = update(observer.socket, roomId, []);
    await request(typer.socket, "typing:stop", { roomId });
    await stopped;
    const updates = collect(observer.socket, "typing:update");
    await expect(request(typer.socket, "typing:start", { roomId })).resolves.toEqual({ ok: true });
    await settle(observer.socket, typer.socket);
    expect(updates.items).toEqual([]);
    const late = await user(budget);
    await expect(join(late.socket, roomId)).resolves.toMatchObject({ typing: [] });
  });

  test("an exhausted message budget leaves typing alone", async () => {
    const { roomId, typer, observer } = await pair(budget);
    for (let i = 0; i < 3; i++) await send(typer.socket, roomId, `m${i}`);
    await expect(request(typer.socket, "message:send", { roomId, text: "one too many" })).resolves.toMatchObject({
      ok: false,
      error: { code: "rate_limited" },
    });
    await startTyping(typer.socket, observer.socket, roomId, typer.user);
  });

  test("an exhausted typing budget leaves messages alone", async () => {
    const { roomId, typer, observer } = await pair(budget);
    for (let i = 0; i < 4; i++) await request(typer.socket, "typing:start", { roomId });
    const delivered = waitForEvent(observer.socket, "message:new");
    await send(typer.socket, roomId, "still allowed");
    await expect(delivered).resolves.toMatchObject({ text: "still allowed" });
  });
});
