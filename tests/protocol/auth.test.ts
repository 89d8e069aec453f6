/**
 * §1 Connecting: where the token goes, every refusal code with its text, the
 * token rules (algorithms, iss/aud, sub, exp and its leeway), the connection
 * cap, expiry on a live connection, and the `rooms` claim.
 */
import { generateKeyPairSync } from "node:crypto";
import jwt from "jsonwebtoken";
import {
  closeAllClients,
  collect,
  connectClient,
  connectError,
  createClient,
  sleep,
  waitForEvent,
  type HuddleClient,
} from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken, TEST_SECRET, uniqueUserId } from "../helpers/tokens";
import { connectSession, handMadeToken, join, nowSec, openRaw, refusedWith, request, uniqueRoom } from "./support";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherRsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const rsaPublicPem = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();

let server: TestApp;
let issuerServer: TestApp;
let cappedServer: TestApp;
let publicKeyServer: TestApp;
let ecServer: TestApp;

beforeAll(async () => {
  server = await startApp();
  issuerServer = await startApp({ JWT_ISSUER: "https://issuer.test", JWT_AUDIENCE: "huddle-test" });
  cappedServer = await startApp({ MAX_CONNECTIONS_PER_USER: "2" });
  publicKeyServer = await startApp({ JWT_SECRET: "", DEV_TOKENS: "0", JWT_PUBLIC_KEY: rsaPublicPem });
  const ecPublicPem = ec.publicKey.export({ type: "spki", format: "pem" }).toString();
  ecServer = await startApp({ JWT_SECRET: "", DEV_TOKENS: "0", JWT_PUBLIC_KEY: ecPublicPem });
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

const refusal = (code: number, message: string) =>
  expect.objectContaining({ message, data: { code, message } }) as unknown as Error;

/** An `exp` that makes the token (with its 30 s leeway) run out between 0.7 and 1.7 s from now. */
const expiringSoon = () => Math.ceil((Date.now() + 700) / 1000) - 30;

describe.each(["websocket", "polling"] as const)("connecting over %s", (transport) => {
  describe("where the token goes", () => {
    test("accepts the token in auth.token", async () => {
      const token = signToken({ sub: "auth-token-user" });
      const { session } = await connectSession(server.url, { transport, token });
      expect(session.user).toEqual({ id: "auth-token-user", name: "auth-token-user" });
    });

    test("accepts the token in the ?token= query", async () => {
      const token = signToken({ sub: "query-token-user", name: "Q" });
      const { session } = await connectSession(server.url, { transport, auth: {}, query: { token } });
      expect(session.user).toEqual({ id: "query-token-user", name: "Q" });
    });

    test("uses auth.token when the query carries another valid token", async () => {
      const auth = { token: signToken({ sub: "from-auth" }), v: 1 };
      const query = { token: signToken({ sub: "from-query" }) };
      const { session } = await connectSession(server.url, { transport, auth, query });
      expect(session.user.id).toBe("from-auth");
    });

    test("refuses a bad auth.token even when the query carries a valid one", async () => {
      const auth = { token: "not-a-jwt", v: 1 };
      const query = { token: signToken() };
      await expect(connectError(server.url, { transport, auth, query })).resolves.toEqual(
        refusal(4002, "Invalid token"),
      );
    });

    test("treats an absent auth.v as protocol version 1", async () => {
      const { session } = await connectSession(server.url, { transport, auth: { token: signToken() } });
      expect(session.protocol).toBe(1);
    });
  });

  describe("refusals", () => {
    test("refuses a connection without a token with 4001 Authentication required", async () => {
      await expect(connectError(server.url, { transport, auth: { v: 1 } })).resolves.toEqual(
        refusal(4001, "Authentication required"),
      );
    });

    test("refuses an empty token with 4001", async () => {
      await expect(connectError(server.url, { transport, auth: { token: "", v: 1 } })).resolves.toEqual(
        refusal(4001, "Authentication required"),
      );
    });

    test.each([2, "2", 0, 1.5, "one", [1]])(
      "refuses protocol version %j with 4010 Unsupported protocol version",
      async (v) => {
        await expect(connectError(server.url, { transport, auth: { token: signToken(), v } })).resolves.toEqual(
          refusal(4010, "Unsupported protocol version"),
        );
      },
    );

    const invalidTokens: Array<[string, () => unknown]> = [
      ["a token signed with another secret", () => jwt.sign({ sub: "x" }, "some-other-secret-0123456789abcdef0123")],
      ["a string that is not a JWT", () => "not-a-jwt"],
      ["three garbage segments", () => "abc.def.ghi"],
      ["a token whose payload is not JSON", () => `${b64('{"alg":"HS256"}')}.${b64("nope")}.sig`],
      ["a token that is a number", () => 12345],
      ["an unsigned alg:none token", () => handMadeToken({ alg: "none", typ: "JWT" }, { sub: "x" })],
      ["an alg:none token with a signature", () => handMadeToken({ alg: "none" }, { sub: "x" }) + "c2ln"],
      ["an HS512 token when only HS256 is accepted", () => jwt.sign({ sub: "x" }, TEST_SECRET, { algorithm: "HS512" })],
      [
        "an RS256 token against an HMAC configuration",
        () => jwt.sign({ sub: "x" }, rsa.privateKey, { algorithm: "RS256" }),
      ],
      [
        "an RS256 header with an HMAC signature (algorithm confusion)",
        () => handMadeToken({ alg: "RS256" }, { sub: "x" }),
      ],
      ["a token without sub", () => jwt.sign({ name: "No Sub" }, TEST_SECRET)],
      ["a token with an empty sub", () => jwt.sign({ sub: "" }, TEST_SECRET)],
      ["a token with a numeric sub", () => handMadeToken({ alg: "HS256" }, { sub: 42 })],
      ["a token whose rooms claim is not a list of strings", () => signToken({ rooms: "lobby" })],
    ];
    test.each(invalidTokens)("refuses %s with 4002 Invalid token", async (_name, makeToken) => {
      await expect(connectError(server.url, { transport, auth: { token: makeToken(), v: 1 } })).resolves.toEqual(
        refusal(4002, "Invalid token"),
      );
    });

    test("refuses a token expired more than 30 s ago with 4003 Token expired", async () => {
      const token = signToken({ exp: nowSec() - 31 });
      await expect(connectError(server.url, { transport, token })).resolves.toEqual(refusal(4003, "Token expired"));
    });

    test("accepts a token expired by less than the 30 s leeway", async () => {
      const token = signToken({ exp: nowSec() - 25 });
      await expect(connectSession(server.url, { transport, token })).resolves.toBeDefined();
    });

    test("refuses a wrongly signed expired token with 4002, not 4003", async () => {
      const token = jwt.sign({ sub: "x", exp: nowSec() - 3600 }, "some-other-secret-0123456789abcdef0123");
      await expect(connectError(server.url, { transport, token })).resolves.toEqual(refusal(4002, "Invalid token"));
    });
  });

  describe("issuer and audience, when configured", () => {
    const claims = { iss: "https://issuer.test", aud: "huddle-test" };
    test("accepts a token with the configured iss and aud", async () => {
      await expect(connectSession(issuerServer.url, { transport, claims })).resolves.toBeDefined();
    });
    test.each([
      ["a wrong iss", { ...claims, iss: "https://evil.test" }],
      ["no iss", { aud: claims.aud }],
      ["a wrong aud", { ...claims, aud: "someone-else" }],
      ["no aud", { iss: claims.iss }],
    ])("refuses a token with %s with 4002", async (_name, badClaims) => {
      await expect(connectError(issuerServer.url, { transport, claims: badClaims })).resolves.toEqual(
        refusal(4002, "Invalid token"),
      );
    });
  });

  describe("public-key configuration (RS256,ES256)", () => {
    test("accepts an RS256 token signed by the matching private key", async () => {
      const token = jwt.sign({ sub: "rs-user" }, rsa.privateKey, { algorithm: "RS256" });
      const { session } = await connectSession(publicKeyServer.url, { transport, token });
      expect(session.user.id).toBe("rs-user");
    });
    test.each<[string, () => string]>([
      [
        "an HS256 token signed with the public key as secret (algorithm confusion)",
        () => handMadeToken({ alg: "HS256", typ: "JWT" }, { sub: "x" }, rsaPublicPem),
      ],
      [
        "an RS256 token signed by another key",
        () => jwt.sign({ sub: "x" }, otherRsa.privateKey, { algorithm: "RS256" }),
      ],
      [
        "an ES256 token signed by a key that is not the configured one",
        () => jwt.sign({ sub: "x" }, ec.privateKey, { algorithm: "ES256" }),
      ],
      ["an HS256 token signed with the test secret", () => signToken()],
      ["an alg:none token", () => handMadeToken({ alg: "none" }, { sub: "x" })],
    ])("refuses %s with 4002", async (_name, makeToken) => {
      await expect(connectError(publicKeyServer.url, { transport, token: makeToken() })).resolves.toEqual(
        refusal(4002, "Invalid token"),
      );
    });
  });

  describe("public-key configuration with an EC key", () => {
    test("accepts an ES256 token signed by the matching private key", async () => {
      const token = jwt.sign({ sub: "es-user" }, ec.privateKey, { algorithm: "ES256" });
      const { session } = await connectSession(ecServer.url, { transport, token });
      expect(session.user.id).toBe("es-user");
    });
    test("refuses an RS256 token with 4002", async () => {
      const token = jwt.sign({ sub: "x" }, rsa.privateKey, { algorithm: "RS256" });
      await expect(connectError(ecServer.url, { transport, token })).resolves.toEqual(refusal(4002, "Invalid token"));
    });
  });

  describe("connections per user (MAX_CONNECTIONS_PER_USER=2)", () => {
    test("refuses a user's third connection with 4029 and accepts a new one after one disconnects", async () => {
      const token = signToken();
      const first = await connectClient(cappedServer.url, { transport, token });
      await connectClient(cappedServer.url, { transport, token });
      await expect(connectError(cappedServer.url, { transport, token })).resolves.toEqual(
        refusal(4029, "Too many connections"),
      );
      first.disconnect();
      await expect(connectSession(cappedServer.url, { transport, token })).resolves.toBeDefined();
    });

    test("counts each user separately", async () => {
      const token = signToken();
      await connectClient(cappedServer.url, { transport, token });
      await connectClient(cappedServer.url, { transport, token });
      await expect(connectSession(cappedServer.url, { transport })).resolves.toBeDefined();
    });

    test("frees the slot when the server ends a connection", async () => {
      const token = signToken({ sub: uniqueUserId(), exp: expiringSoon() });
      const expiring = createClient(cappedServer.url, { transport, token });
      await waitForEvent(expiring, "disconnect", { timeoutMs: 4000 });
      const fresh = signToken({ sub: jwt.decode(token, { json: true })!.sub });
      await connectClient(cappedServer.url, { transport, token: fresh });
      await expect(connectSession(cappedServer.url, { transport, token: fresh })).resolves.toBeDefined();
    });
  });

  describe("token expiry on a live connection", () => {
    test("emits session:expired and then disconnects when exp plus the leeway passes", async () => {
      const events: string[] = [];
      const socket = createClient(server.url, { transport, token: signToken({ exp: expiringSoon() }) });
      socket.on("connect", () => events.push("connect"));
      socket.on("session:expired", (payload) => events.push(`session:expired ${JSON.stringify(payload)}`));
      const disconnected = waitForEvent<string>(socket, "disconnect", { timeoutMs: 4000 });
      socket.on("disconnect", (reason) => events.push(`disconnect ${reason}`));
      await disconnected;
      expect(events).toEqual(["connect", "session:expired {}", "disconnect io server disconnect"]);
    });

    test("keeps a connection whose token has no exp", async () => {
      const { socket } = await connectSession(server.url, { transport });
      await sleep(300);
      expect(socket.connected).toBe(true);
    });
  });
});

describe("one Engine.IO connection cycling the namespace", () => {
  test("a namespace disconnect gives the connection slot back", async () => {
    const token = signToken();
    const raw = await openRaw(cappedServer.url);
    try {
      for (let round = 1; round <= 3; round++) {
        const from = raw.frames.length;
        raw.send(`40${JSON.stringify({ token, v: 1 })}`);
        const answer = await raw.next((f) => f.startsWith("40") || f.startsWith("44"), `CONNECT answer ${round}`, from);
        expect(answer).toMatch(/^40\{"sid":/);
        raw.send("41");
        await sleep(50);
      }
    } finally {
      raw.close();
    }
  });
});

describe("the rooms claim", () => {
  let member: HuddleClient;
  const open = "open-room";
  beforeEach(async () => {
    member = (await connectSession(server.url)).socket;
    await join(member, open);
  });

  test("lets a user join exactly the listed room ids", async () => {
    const { socket } = await connectSession(server.url, { claims: { rooms: ["alpha", open] } });
    await expect(request(socket, "room:join", { roomId: "alpha" })).resolves.toMatchObject({ ok: true });
    await expect(request(socket, "room:join", { roomId: open })).resolves.toMatchObject({ ok: true });
  });

  test.each(["alphabet", "alph", "Alpha", "beta"])(
    "refuses %s to a user allowed only alpha, with forbidden",
    async (roomId) => {
      const { socket } = await connectSession(server.url, { claims: { rooms: ["alpha"] } });
      await expect(request(socket, "room:join", { roomId })).resolves.toEqual(refusedWith("forbidden"));
    },
  );

  test.each(["team-", "team-red", "team-blue:ops"])("lets team-* cover %s", async (roomId) => {
    const { socket } = await connectSession(server.url, { claims: { rooms: ["team-*"] } });
    await expect(request(socket, "room:join", { roomId })).resolves.toMatchObject({ ok: true, roomId });
  });

  test.each(["team", "teams-red", "my-team-red", "TEAM-red"])("keeps team-* from covering %s", async (roomId) => {
    const { socket } = await connectSession(server.url, { claims: { rooms: ["team-*"] } });
    await expect(request(socket, "room:join", { roomId })).resolves.toEqual(refusedWith("forbidden"));
  });

  test("lets an empty rooms list join nothing", async () => {
    const { socket } = await connectSession(server.url, { claims: { rooms: [] } });
    await expect(request(socket, "room:join", { roomId: uniqueRoom() })).resolves.toEqual(refusedWith("forbidden"));
  });

  test("lets a token without a rooms claim join any room", async () => {
    const { socket } = await connectSession(server.url);
    await expect(request(socket, "room:join", { roomId: uniqueRoom("any") })).resolves.toMatchObject({ ok: true });
  });

  test("a forbidden join leaves no trace: no presence, no membership, sends are not_joined", async () => {
    const presence = collect(member, "presence:join");
    const { socket } = await connectSession(server.url, { claims: { rooms: ["elsewhere"] } });
    await expect(request(socket, "room:join", { roomId: open })).resolves.toEqual(refusedWith("forbidden"));
    await expect(request(socket, "message:send", { roomId: open, text: "sneak" })).resolves.toEqual(
      refusedWith("not_joined"),
    );
    const joined = await request(member, "room:join", { roomId: open });
    expect(joined.ok && joined.members.map((m) => m.id)).not.toContain((await socketUser(socket)).id);
    expect(presence.items).toEqual([]);
    expect(joined.ok && joined.history.map((m) => m.text)).not.toContain("sneak");
  });
});

async function socketUser(socket: HuddleClient) {
  const token = (socket.auth as { token: string }).token;
  return { id: String(jwt.decode(token, { json: true })!.sub) };
}

function b64(text: string) {
  return Buffer.from(text).toString("base64url");
}
