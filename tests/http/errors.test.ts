/** §5 errors: `{ error: { code, message } }` with the status of each code, over the REST routes. */
import { closeAllClients, collect, connectClient, sleep } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken } from "../helpers/tokens";
import { createMemoryStores, type Stores } from "../../server/stores";
import { StoreUnavailableError } from "../../server/errors";
import { bearer, expectError, http, uniqueRoom } from "./support";

let server: TestApp;
beforeAll(async () => {
  server = await startApp({ MAX_PAYLOAD_BYTES: "2048" });
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

const messagesUrl = (roomId = uniqueRoom()) => `${server.url}/api/rooms/${roomId}/messages`;
const nowSec = () => Math.floor(Date.now() / 1000);

describe("401 unauthorized, with the §1 message", () => {
  test("no token: Authentication required", async () => {
    const res = await http(messagesUrl());
    expectError(res, 401, "unauthorized");
    expect(res.body.error.message).toBe("Authentication required");
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
  });

  test("a token with a bad signature: Invalid token", async () => {
    const token = signToken();
    const res = await http(messagesUrl(), { headers: bearer(`${token.slice(0, -4)}AAAA`) });
    expectError(res, 401, "unauthorized");
    expect(res.body.error.message).toBe("Invalid token");
  });

  test("a malformed token: Invalid token", async () => {
    const res = await http(messagesUrl(), { headers: bearer("not-a-jwt") });
    expect(res.body.error.message).toBe("Invalid token");
    expect(res.status).toBe(401);
  });

  test("an Authorization header that is not Bearer: Invalid token", async () => {
    const res = await http(messagesUrl(), { headers: { authorization: `Basic ${signToken()}` } });
    expectError(res, 401, "unauthorized");
    expect(res.body.error.message).toBe("Invalid token");
  });

  test("a token without sub: Invalid token", async () => {
    const res = await http(messagesUrl(), { headers: bearer(signToken({ sub: undefined })) });
    expectError(res, 401, "unauthorized");
    expect(res.body.error.message).toBe("Invalid token");
  });

  test("a token expired more than the leeway ago: Token expired", async () => {
    const res = await http(messagesUrl(), { headers: bearer(signToken({ exp: nowSec() - 120 })) });
    expectError(res, 401, "unauthorized");
    expect(res.body.error.message).toBe("Token expired");
  });

  test("a token expired within the 30 s leeway is still accepted", async () => {
    const res = await http(messagesUrl(), { headers: bearer(signToken({ exp: nowSec() - 10 })) });
    expect(res.status).toBe(200);
  });

  test("?token= is not accepted by the messages route (only SSE and polling take it)", async () => {
    const res = await http(`${messagesUrl()}?token=${signToken()}`);
    expectError(res, 401, "unauthorized");
  });
});

describe("403 forbidden by the rooms claim", () => {
  const token = () => signToken({ rooms: ["team-*", "lobby"] });

  test.each([
    ["GET messages", "messages", "GET"],
    ["POST messages", "messages", "POST"],
    ["SSE events", "events", "GET"],
    ["long poll", "poll", "GET"],
  ])("%s of a room outside the claim", async (_what, route, method) => {
    const res = await http(`${server.url}/api/rooms/secret/${route}?timeout=0`, {
      method,
      headers: bearer(token()),
      body: method === "POST" ? { text: "hi" } : undefined,
    });
    expectError(res, 403, "forbidden");
  });

  test("a room matching a prefix or an exact entry of the claim is allowed", async () => {
    expect((await http(messagesUrl(`team-${uniqueRoom()}`), { headers: bearer(token()) })).status).toBe(200);
    expect((await http(messagesUrl("lobby"), { headers: bearer(token()) })).status).toBe(200);
    expectError(await http(messagesUrl("lobby2"), { headers: bearer(token()) }), 403, "forbidden");
  });
});

describe("404 not_found", () => {
  test("an unknown route under /api", async () => {
    expectError(await http(`${server.url}/api/nope`), 404, "not_found");
  });

  test("an unknown method on a known path under /api", async () => {
    expectError(await http(messagesUrl(), { method: "DELETE", headers: bearer(signToken()) }), 404, "not_found");
  });

  test("an unknown route elsewhere", async () => {
    expectError(await http(`${server.url}/no/such/page`), 404, "not_found");
  });
});

describe("400 bad_request", () => {
  test("an invalid room id", async () => {
    expectError(await http(messagesUrl("has%20space"), { headers: bearer(signToken()) }), 400, "bad_request");
    expectError(await http(messagesUrl("x".repeat(65)), { headers: bearer(signToken()) }), 400, "bad_request");
  });

  test.each([
    ["text missing", { clientMsgId: "a" }],
    ["text not a string", { text: 5 }],
    ["text empty after trimming", { text: " \n\t " }],
    ["clientMsgId empty", { text: "hi", clientMsgId: "" }],
    ["clientMsgId of 65 characters", { text: "hi", clientMsgId: "c".repeat(65) }],
    ["a body that is an array", [{ text: "hi" }]],
  ])("a publish with %s", async (_what, body) => {
    const res = await http(messagesUrl(), { method: "POST", headers: bearer(signToken()), body });
    expectError(res, 400, "bad_request");
  });

  test("a path that cannot be decoded", async () => {
    expectError(
      await http(`${server.url}/api/rooms/%E0%A4%A/messages`, { headers: bearer(signToken()) }),
      400,
      "bad_request",
    );
  });

  test("a body in an unsupported content encoding", async () => {
    const res = await http(messagesUrl(), {
      method: "POST",
      headers: { ...bearer(signToken()), "content-type": "application/json", "content-encoding": "x-unknown" },
      body: '{"text":"hi"}',
    });
    expectError(res, 400, "bad_request");
  });

  test("a publish whose body is not JSON", async () => {
    const res = await http(messagesUrl(), {
      method: "POST",
      headers: { ...bearer(signToken()), "content-type": "application/json" },
      body: '{"text": ',
    });
    expectError(res, 400, "bad_request");
  });
});

describe("413 too_large", () => {
  test("a body over MAX_PAYLOAD_BYTES", async () => {
    const res = await http(messagesUrl(), {
      method: "POST",
      headers: bearer(signToken()),
      body: { text: "x".repeat(3000) },
    });
    expectError(res, 413, "too_large");
  });

  test("text over 4000 characters (in a body the size limit allows)", async () => {
    const roomId = uniqueRoom();
    const big = await startApp();
    const res = await http(`${big.url}/api/rooms/${roomId}/messages`, {
      method: "POST",
      headers: bearer(signToken()),
      body: { text: "é".repeat(4001) },
    });
    expectError(res, 413, "too_large");
    const ok = await http(`${big.url}/api/rooms/${roomId}/messages`, {
      method: "POST",
      headers: bearer(signToken()),
      body: { text: "😀".repeat(4000) },
    });
    expect(ok.status).toBe(201);
  });
});

describe("429 rate_limited", () => {
  test("past the burst, with Retry-After in whole seconds", async () => {
    const limited = await startApp({ RATE_BURST: "2", RATE_PER_SEC: "0.5" });
    const token = signToken();
    const roomId = uniqueRoom();
    const send = () =>
      http(`${limited.url}/api/rooms/${roomId}/messages`, {
        method: "POST",
        headers: bearer(token),
        body: { text: "x" },
      });
    expect((await send()).status).toBe(201);
    expect((await send()).status).toBe(201);
    const res = await send();
    expectError(res, 429, "rate_limited");
    const retryAfter = Number(res.headers["retry-after"]);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
  });

  test("the budget is the user's: another user still sends", async () => {
    const limited = await startApp({ RATE_BURST: "1", RATE_PER_SEC: "0.1" });
    const roomId = uniqueRoom();
    const send = (token: string) =>
      http(`${limited.url}/api/rooms/${roomId}/messages`, {
        method: "POST",
        headers: bearer(token),
        body: { text: "x" },
      });
    const alice = signToken();
    expect((await send(alice)).status).toBe(201);
    expect((await send(alice)).status).toBe(429);
    expect((await send(signToken())).status).toBe(201);
  });
});

/** Memory stores whose message store fails to append with `error`. */
function failingStores(error: () => Error): Stores {
  const stores = createMemoryStores({
    historyMax: 100,
    messageLimit: { burst: 20, perSecond: 5 },
    typingLimit: { burst: 20, perSecond: 5 },
  });
  return {
    ...stores,
    messages: {
      ...stores.messages,
      append: async () => {
        throw error();
      },
    },
  };
}

describe("5xx", () => {
  test("503 unavailable when the message cannot be stored, and nothing is broadcast", async () => {
    const broken = await startApp({}, { stores: failingStores(() => new StoreUnavailableError()) });
    const roomId = uniqueRoom();
    const listener = await connectClient(broken.url);
    await listener.emitWithAck("room:join", { roomId });
    const received = collect(listener, "message:new");
    const res = await http(`${broken.url}/api/rooms/${roomId}/messages`, {
      method: "POST",
      headers: bearer(signToken()),
      body: { text: "lost" },
    });
    expectError(res, 503, "unavailable");
    await sleep(100);
    expect(received.items).toEqual([]);
  });

  test("500 internal on an unexpected failure, with no stack or cause on the wire", async () => {
    const broken = await startApp({}, { stores: failingStores(() => new Error("disk on fire at /var/secret")) });
    const res = await http(`${broken.url}/api/rooms/${uniqueRoom()}/messages`, {
      method: "POST",
      headers: bearer(signToken()),
      body: { text: "boom" },
    });
    expectError(res, 500, "internal");
    expect(res.body).toEqual({ error: { code: "internal", message: "internal error" } });
    expect(res.text).not.toContain("disk on fire");
  });
});
