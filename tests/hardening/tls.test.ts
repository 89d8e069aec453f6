/**
 * TLS served by the node itself (TLS_CERT_FILE + TLS_KEY_FILE): HTTPS for the
 * REST routes, WSS and HTTPS long polling for Socket.IO, and WSS for /ws, with
 * a self-signed certificate made by openssl for this run and real clients
 * that verify it against that certificate.
 */
import { rmSync } from "node:fs";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, connectClient, connectError, waitForEvent, type Transport } from "../helpers/clients";
import { signToken } from "../helpers/tokens";
import { openPlain } from "../ws/ws-client";
import { makeCertificate, request, type TestCertificate } from "./support";

let certificate: TestCertificate;
let server: TestApp;
let base: string;

beforeAll(async () => {
  certificate = makeCertificate();
  server = await startApp({ TLS_CERT_FILE: certificate.certFile, TLS_KEY_FILE: certificate.keyFile });
  base = `https://127.0.0.1:${server.port}`;
});
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAllApps();
  rmSync(certificate.dir, { recursive: true, force: true });
});

describe("HTTPS", () => {
  test("serves GET /healthz over HTTPS to a client that trusts the certificate", async () => {
    const res = await request(`${base}/healthz`, { ca: certificate.cert });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ status: "ok" });
  });

  test("serves the REST API over HTTPS, with the token checked as over HTTP", async () => {
    const ok = await request(`${base}/api/rooms/tls-room/messages`, {
      ca: certificate.cert,
      headers: { authorization: `Bearer ${signToken()}` },
    });
    expect(ok.status).toBe(200);
    const refused = await request(`${base}/api/rooms/tls-room/messages`, { ca: certificate.cert });
    expect(refused.status).toBe(401);
  });

  test("tells browsers to stay on HTTPS (Strict-Transport-Security) on every response", async () => {
    for (const path of ["/healthz", "/", "/api/nope", "/socket.io/?EIO=4&transport=polling"]) {
      const res = await request(`${base}${path}`, { ca: certificate.cert });
      expect({ path, hsts: res.headers["strict-transport-security"] }).toEqual({ path, hsts: "max-age=15552000" });
    }
  });

  test("a client that does not trust the certificate is refused by its own TLS check", async () => {
    await expect(request(`${base}/healthz`)).rejects.toThrow(/self[- ]signed|certificate/i);
  });

  test("plain HTTP is not served on the TLS port", async () => {
    await expect(request(`http://127.0.0.1:${server.port}/healthz`, { timeoutMs: 2000 })).rejects.toThrow();
  });
});

describe.each<Transport>(["websocket", "polling"])("Socket.IO over TLS (%s)", (transport) => {
  test("connects, gets its session, joins a room and chats", async () => {
    const alice = await connectClient(base, { transport, ca: certificate.cert, claims: { name: "Alice" } });
    const bob = await connectClient(base, { transport, ca: certificate.cert, claims: { name: "Bob" } });
    const roomId = `tls-${transport}`;
    expect((await alice.emitWithAck("room:join", { roomId })).ok).toBe(true);
    expect((await bob.emitWithAck("room:join", { roomId })).ok).toBe(true);
    const received = waitForEvent(bob, "message:new");
    expect((await alice.emitWithAck("message:send", { roomId, text: "over TLS" })).ok).toBe(true);
    expect(await received).toMatchObject({ roomId, text: "over TLS", user: { name: "Alice" } });
    if (transport === "websocket") expect(alice.io.engine.transport.name).toBe("websocket");
  });

  test("refuses an invalid token with 4002, as over HTTP", async () => {
    const error = await connectError(base, { transport, ca: certificate.cert, token: "not-a-token" });
    expect(error.data).toEqual({ code: 4002, message: "Invalid token" });
  });
});

describe("/ws over WSS", () => {
  test("authenticates, joins and receives its own message", async () => {
    const client = await openPlain(base, { query: { token: signToken({ name: "Wes" }) }, ca: certificate.cert });
    const session = await client.event("session");
    expect(session.user.name).toBe("Wes");
    expect((await client.request("room:join", { roomId: "tls-ws" })).ok).toBe(true);
    const echoed = client.event("message:new");
    expect((await client.request("message:send", { roomId: "tls-ws", text: "wss works" })).ok).toBe(true);
    expect((await echoed).text).toBe("wss works");
    client.close();
  });
});
