/**
 * §11 moderation routes on one node (in process, memory stores): who may
 * call them (a token with `"role": "moderator"` that allows the room; anyone
 * else gets 403 forbidden), the shapes they accept (400 bad_request
 * otherwise), and their answers: POST → 200 { ban }, GET → { bans } in force,
 * DELETE → 200 {}. A moderator may delete anyone's message, over REST and
 * over a socket.
 */
import type { Ban } from "../../shared";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, connectClient, eventually } from "../helpers/clients";
import { request as http, type HttpAnswer } from "../helpers/http";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { join, request, send, uniqueRoom } from "../protocol/support";

let server: TestApp;
beforeAll(async () => {
  server = await startApp({ RATE_BURST: "1000", RATE_PER_SEC: "1000" });
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

const moderatorToken = (claims: Record<string, unknown> = {}) =>
  signToken({ sub: uniqueUserId("mod"), role: "moderator", ...claims });
const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const bansUrl = (roomId: string, userId?: string) =>
  `${server.url}/api/rooms/${encodeURIComponent(roomId)}/bans${userId === undefined ? "" : `/${encodeURIComponent(userId)}`}`;

const postBan = (roomId: string, token: string, body: unknown) =>
  http(bansUrl(roomId), { method: "POST", headers: auth(token), body });
const getBans = (roomId: string, token: string) => http(bansUrl(roomId), { headers: auth(token) });
const liftBan = (roomId: string, userId: string, token: string) =>
  http(bansUrl(roomId, userId), { method: "DELETE", headers: auth(token) });

const refused = (answer: HttpAnswer, status: number, code: string) =>
  expect({ status: answer.status, body: answer.body }).toEqual({
    status,
    body: { error: { code, message: expect.any(String) } },
  });

describe("who may call the bans routes", () => {
  test("a user without the moderator role: POST, GET and DELETE are 403 forbidden, and nothing is banned", async () => {
    const roomId = uniqueRoom("mod-refuse");
    const mod = moderatorToken();
    await postBan(roomId, mod, { userId: "someone" });
    for (const token of [signToken(), signToken({ role: "admin" }), signToken({ role: ["moderator"] })]) {
      refused(await postBan(roomId, token, { userId: "victim" }), 403, "forbidden");
      // Forbidden whatever the body: a non-moderator learns nothing about the shape the route accepts.
      refused(await postBan(roomId, token, { userId: "", durationSec: -1 }), 403, "forbidden");
      refused(await getBans(roomId, token), 403, "forbidden");
      refused(await liftBan(roomId, "someone", token), 403, "forbidden");
    }
    // The refused calls changed nothing.
    expect((await getBans(roomId, mod)).body).toEqual({ bans: [{ roomId, userId: "someone", until: null }] });
  });

  test("a moderator whose token does not allow the room: 403 forbidden on all three; in an allowed room they work", async () => {
    const roomId = uniqueRoom("mod-other");
    const allowedRoom = `team-${roomId}`;
    const narrow = moderatorToken({ rooms: ["team-*"] });
    refused(await postBan(roomId, narrow, { userId: "victim" }), 403, "forbidden");
    refused(await getBans(roomId, narrow), 403, "forbidden");
    refused(await liftBan(roomId, "victim", narrow), 403, "forbidden");
    expect((await getBans(roomId, moderatorToken())).body).toEqual({ bans: [] });

    expect((await postBan(allowedRoom, narrow, { userId: "victim" })).status).toBe(200);
    expect((await getBans(allowedRoom, narrow)).body).toEqual({
      bans: [{ roomId: allowedRoom, userId: "victim", until: null }],
    });
    expect((await liftBan(allowedRoom, "victim", narrow)).status).toBe(200);
  });

  test("no token: 401 unauthorized", async () => {
    const roomId = uniqueRoom("mod-anon");
    refused(await http(bansUrl(roomId), { method: "POST", body: { userId: "x" } }), 401, "unauthorized");
    refused(await http(bansUrl(roomId)), 401, "unauthorized");
    refused(await http(bansUrl(roomId, "x"), { method: "DELETE" }), 401, "unauthorized");
  });
});

describe("the shape of a ban", () => {
  const bad: [string, unknown][] = [
    ["no userId", { durationSec: 60 }],
    ["an empty body object", {}],
    ["userId a number", { userId: 42 }],
    ["userId null", { userId: null }],
    ["userId an array", { userId: ["x"] }],
    ["durationSec 0", { userId: "x", durationSec: 0 }],
    ["durationSec -1", { userId: "x", durationSec: -1 }],
    ["durationSec 1.5", { userId: "x", durationSec: 1.5 }],
    ["durationSec 31536001", { userId: "x", durationSec: 31_536_001 }],
    ['durationSec "10"', { userId: "x", durationSec: "10" }],
    ["durationSec null", { userId: "x", durationSec: null }],
    ["a reason of 201 characters", { userId: "x", reason: "r".repeat(201) }],
    ["a reason that is not a string", { userId: "x", reason: 5 }],
    ["an array body", [{ userId: "x" }]],
  ];
  test.each(bad)("%s: 400 bad_request, nothing banned", async (_what, body) => {
    const roomId = uniqueRoom("mod-shape");
    const mod = moderatorToken();
    refused(await postBan(roomId, mod, body), 400, "bad_request");
    expect((await getBans(roomId, mod)).body).toEqual({ bans: [] });
  });

  test.each([
    ["a JSON string", '"x"'],
    ["a JSON number", "42"],
    ["JSON null", "null"],
    ["not JSON at all", "userId=x"],
    ["no body", undefined],
  ])("a body that is %s: 400 bad_request", async (_what, raw) => {
    const roomId = uniqueRoom("mod-raw");
    const answer = await http(bansUrl(roomId), {
      method: "POST",
      headers: { ...auth(moderatorToken()), "content-type": "application/json" },
      body: raw,
    });
    refused(answer, 400, "bad_request");
  });

  test("the edges that are allowed: durationSec 1 and 31536000, a reason of 200 characters (code points), keys not named are ignored", async () => {
    const roomId = uniqueRoom("mod-edges");
    const mod = moderatorToken();
    expect((await postBan(roomId, mod, { userId: "one", durationSec: 1 })).status).toBe(200);
    expect((await postBan(roomId, mod, { userId: "year", durationSec: 31_536_000 })).status).toBe(200);
    const reason = "🚫".repeat(200);
    expect((await postBan(roomId, mod, { userId: "why", reason })).body).toEqual({
      ban: { roomId, userId: "why", until: null, reason },
    });
    expect((await postBan(roomId, mod, { userId: "extra", colour: "red" })).body).toEqual({
      ban: { roomId, userId: "extra", until: null },
    });
  });
});

describe("the answers", () => {
  test("POST answers 200 { ban } with until = now + durationSec × 1000, or null; GET lists the bans in force; DELETE answers 200 {}", async () => {
    const roomId = uniqueRoom("mod-answers");
    const mod = moderatorToken();
    const before = Date.now();
    const timed = await postBan(roomId, mod, { userId: "timed", durationSec: 3600, reason: "spam" });
    const after = Date.now();
    expect(timed.status).toBe(200);
    const ban = timed.body.ban as Ban;
    expect(ban).toEqual({ roomId, userId: "timed", until: expect.any(Number), reason: "spam" });
    expect(ban.until).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(ban.until).toBeLessThanOrEqual(after + 3_600_000);

    const forever = await postBan(roomId, mod, { userId: "forever" });
    expect({ status: forever.status, body: forever.body }).toEqual({
      status: 200,
      body: { ban: { roomId, userId: "forever", until: null } },
    });

    const listed = await getBans(roomId, mod);
    expect(listed.status).toBe(200);
    expect(listed.body.bans).toHaveLength(2);
    expect(listed.body.bans).toEqual(expect.arrayContaining([ban, forever.body.ban]));
    // Another room's bans are its own.
    expect((await getBans(uniqueRoom("mod-empty"), mod)).body).toEqual({ bans: [] });

    const lifted = await liftBan(roomId, "timed", mod);
    expect({ status: lifted.status, body: lifted.body }).toEqual({ status: 200, body: {} });
    expect((await getBans(roomId, mod)).body).toEqual({ bans: [forever.body.ban] });
    // Lifting a ban that is not there is fine too.
    expect((await liftBan(roomId, "timed", mod)).status).toBe(200);
  });

  test("a new ban of the same user replaces the old one: one entry, the latest until and reason", async () => {
    const roomId = uniqueRoom("mod-replace");
    const mod = moderatorToken();
    await postBan(roomId, mod, { userId: "again", reason: "first" });
    const second = await postBan(roomId, mod, { userId: "again", durationSec: 60 });
    expect((await getBans(roomId, mod)).body).toEqual({ bans: [second.body.ban] });
    expect(second.body.ban).not.toHaveProperty("reason");
  });

  test("expired bans are not listed", async () => {
    const roomId = uniqueRoom("mod-expired");
    const mod = moderatorToken();
    const { body } = await postBan(roomId, mod, { userId: "brief", durationSec: 1 });
    expect((await getBans(roomId, mod)).body).toEqual({ bans: [body.ban] });
    await eventually(async () => (await getBans(roomId, mod)).body.bans.length === 0, "the ban to end", 3000);
    // Not before its time.
    expect(Date.now()).toBeGreaterThanOrEqual(body.ban.until);
  });
});

describe("a moderator deletes anyone's message (§8, §11)", () => {
  test("over REST and over a socket, in rooms the token allows; a user who is not a moderator cannot", async () => {
    const roomId = uniqueRoom("mod-delete");
    const authorToken = signToken();
    const author = await connectClient(server.url, { token: authorToken });
    await join(author, roomId);
    const [one, two, three] = [
      await send(author, roomId, "one"),
      await send(author, roomId, "two"),
      await send(author, roomId, "three"),
    ];

    const bystander = await connectClient(server.url);
    await join(bystander, roomId);
    expect(await request(bystander, "message:delete", { roomId, id: one.id })).toMatchObject({
      ok: false,
      error: { code: "forbidden" },
    });

    const rest = await http(`${server.url}/api/rooms/${roomId}/messages/${one.id}`, {
      method: "DELETE",
      headers: auth(moderatorToken()),
    });
    expect(rest.status).toBe(200);
    expect(rest.body.message).toMatchObject({ id: one.id, deleted: true, text: "" });

    const moderator = await connectClient(server.url, { token: moderatorToken() });
    await join(moderator, roomId);
    const acked = await request(moderator, "message:delete", { roomId, id: two.id });
    expect(acked).toMatchObject({ ok: true, message: { id: two.id, deleted: true, text: "" } });

    const narrow = await http(`${server.url}/api/rooms/${roomId}/messages/${three.id}`, {
      method: "DELETE",
      headers: auth(moderatorToken({ rooms: ["team-*"] })),
    });
    refused(narrow, 403, "forbidden");
  });
});
