/**
 * §1 origins: the allow-list guarding against cross-site WebSocket hijacking,
 * on the Socket.IO polling handshake, the WebSocket upgrade and the HTTP API,
 * and the CORS headers of the origins it allows.
 */
import { request } from "node:http";
import WebSocket from "ws";
import { closeAllClients, connectClient } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken } from "../helpers/tokens";
import { bearer, expectError, http, uniqueRoom } from "./support";

let listed: TestApp;
let any: TestApp;
let none: TestApp;
beforeAll(async () => {
  listed = await startApp({ CORS_ORIGINS: "https://a.com, http://localhost:5173" });
  any = await startApp({ CORS_ORIGINS: "*" });
  none = await startApp();
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

/** The status of a Socket.IO polling handshake sent with `headers`. */
async function pollingHandshake(server: TestApp, headers: Record<string, string>): Promise<number> {
  const res = await http(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers });
  return res.status;
}

/** The HTTP status a WebSocket upgrade to `path` gets: 101 when accepted, the refusal status otherwise. */
function upgradeStatus(
  server: TestApp,
  headers: Record<string, string>,
  path = "/socket.io/?EIO=4&transport=websocket",
) {
  return new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}${path}`, { headers });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`timed out waiting for the upgrade of ${path} to be answered`));
    }, 5000);
    ws.on("open", () => {
      clearTimeout(timer);
      ws.close();
      resolve(101);
    });
    ws.on("unexpected-response", (_req, res) => {
      clearTimeout(timer);
      res.resume();
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Sends a raw upgrade request and resolves with the status line's code, for a client that is not `ws`. */
function rawUpgradeStatus(server: TestApp, headers: Record<string, string>) {
  return new Promise<number>((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port: server.port,
      path: "/socket.io/?EIO=4&transport=websocket",
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": Buffer.from("0123456789abcdef").toString("base64"),
        ...headers,
      },
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error("timed out waiting for the raw upgrade to be answered"));
    }, 5000);
    req.on("upgrade", (res, socket) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("response", (res) => {
      clearTimeout(timer);
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

const api = (server: TestApp, headers: Record<string, string>) =>
  http(`${server.url}/api/rooms/${uniqueRoom()}/messages`, { headers: { ...bearer(signToken()), ...headers } });

describe("a disallowed Origin is refused with HTTP 403", () => {
  const evil = { origin: "https://evil.example" };

  test("on the Socket.IO polling handshake", async () => {
    expect(await pollingHandshake(none, evil)).toBe(403);
  });

  test("on the Socket.IO WebSocket upgrade", async () => {
    expect(await upgradeStatus(none, evil)).toBe(403);
  });

  test("on the Socket.IO WebSocket upgrade sent by a raw HTTP client", async () => {
    expect(await rawUpgradeStatus(none, evil)).toBe(403);
  });

  test("on the HTTP API, with the error shape", async () => {
    expectError(await api(none, evil), 403, "forbidden");
  });

  test("on an API preflight", async () => {
    const res = await http(`${none.url}/api/rooms/x/messages`, {
      method: "OPTIONS",
      headers: { ...evil, "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(403);
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  test("the opaque origin `null` is refused", async () => {
    expect(await pollingHandshake(none, { origin: "null" })).toBe(403);
    expect(await upgradeStatus(none, { origin: "null" })).toBe(403);
  });

  test("a page on the same host but another port is another origin", async () => {
    const origin = `http://127.0.0.1:${none.port + 1}`;
    expect(await upgradeStatus(none, { origin })).toBe(403);
  });

  test("a page on the same host and port but another scheme is still the same host (Host carries no scheme)", async () => {
    // Host cannot tell http from https; behind a TLS proxy the page is https and Host is the public name.
    expect(await pollingHandshake(none, { origin: `https://127.0.0.1:${none.port}` })).toBe(200);
  });
});

describe("allowed origins", () => {
  test("no Origin (not a browser) is allowed on every transport", async () => {
    expect(await pollingHandshake(none, {})).toBe(200);
    expect(await upgradeStatus(none, {})).toBe(101);
    expect((await api(none, {})).status).toBe(200);
  });

  test("an Origin matching the request's Host is allowed", async () => {
    const origin = `http://127.0.0.1:${none.port}`;
    expect(await pollingHandshake(none, { origin })).toBe(200);
    expect(await upgradeStatus(none, { origin })).toBe(101);
    expect((await api(none, { origin })).status).toBe(200);
  });

  test("same origin behind a proxy: Origin matching the forwarded Host, port included", async () => {
    const headers = { origin: "http://chat.example:8080", host: "chat.example:8080" };
    expect(await pollingHandshake(none, headers)).toBe(200);
    expect(await upgradeStatus(none, headers)).toBe(101);
    expect((await api(none, headers)).status).toBe(200);
    expect(await pollingHandshake(none, { origin: "http://chat.example:8080", host: "chat.example:9090" })).toBe(403);
  });

  test("same origin on a default port: https://chat.example with Host chat.example", async () => {
    expect(await pollingHandshake(none, { origin: "https://chat.example", host: "chat.example" })).toBe(200);
    expect(await pollingHandshake(none, { origin: "https://chat.example", host: "CHAT.example:443" })).toBe(200);
  });

  test("an origin listed in CORS_ORIGINS is allowed on every transport", async () => {
    for (const origin of ["https://a.com", "http://localhost:5173"]) {
      expect(await pollingHandshake(listed, { origin })).toBe(200);
      expect(await upgradeStatus(listed, { origin })).toBe(101);
      expect((await api(listed, { origin })).status).toBe(200);
    }
  });

  test.each(["https://a.com.evil.com", "https://a.co", "http://a.com", "https://a.com:8443", "https://sub.a.com"])(
    "CORS_ORIGINS matches exactly: %s is refused",
    async (origin) => {
      expect(await pollingHandshake(listed, { origin })).toBe(403);
      expect(await upgradeStatus(listed, { origin })).toBe(403);
      expect((await api(listed, { origin })).status).toBe(403);
    },
  );

  test("CORS_ORIGINS=* allows any origin", async () => {
    const origin = "https://anything.example";
    expect(await pollingHandshake(any, { origin })).toBe(200);
    expect(await upgradeStatus(any, { origin })).toBe(101);
    expect((await api(any, { origin })).status).toBe(200);
  });

  test("a Socket.IO client sending a listed Origin connects over WebSocket", async () => {
    const socket = await connectClient(listed.url, { extraHeaders: { origin: "https://a.com" } });
    expect(socket.connected).toBe(true);
  });
});

describe("CORS headers of the HTTP API", () => {
  test("an allowed cross-origin response carries Access-Control-Allow-Origin with that origin", async () => {
    const res = await api(listed, { origin: "https://a.com" });
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBe("https://a.com");
    expect(res.headers["vary"]).toMatch(/Origin/i);
  });

  test("an error answer to an allowed origin carries it too, so the page can read the error", async () => {
    const res = await http(`${listed.url}/api/rooms/${uniqueRoom()}/messages`, {
      headers: { origin: "https://a.com" },
    });
    expect(res.status).toBe(401);
    expect(res.headers["access-control-allow-origin"]).toBe("https://a.com");
  });

  test("Retry-After is exposed to cross-origin pages", async () => {
    const res = await api(listed, { origin: "https://a.com" });
    expect(res.headers["access-control-expose-headers"]).toMatch(/Retry-After/i);
  });

  test("a preflight from an allowed origin answers 204 with the methods and headers the API uses", async () => {
    const res = await http(`${listed.url}/api/rooms/r/messages`, {
      method: "OPTIONS",
      headers: {
        origin: "https://a.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers["access-control-allow-origin"]).toBe("https://a.com");
    expect(res.headers["access-control-allow-methods"]).toMatch(/POST/);
    expect(res.headers["access-control-allow-methods"]).toMatch(/GET/);
    const allowed = String(res.headers["access-control-allow-headers"]).toLowerCase();
    for (const header of ["authorization", "content-type", "last-event-id"]) expect(allowed).toContain(header);
  });

  test("a preflight for the token route works too", async () => {
    const res = await http(`${any.url}/api/token`, {
      method: "OPTIONS",
      headers: { origin: "https://x.example", "access-control-request-method": "POST" },
    });
    expect(res.status).toBe(204);
    expect(res.headers["access-control-allow-origin"]).toBe("https://x.example");
  });

  test("a request without Origin gets no CORS headers", async () => {
    const res = await api(listed, {});
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  test("the Socket.IO polling transport answers an allowed cross-origin page with CORS headers", async () => {
    const res = await http(`${listed.url}/socket.io/?EIO=4&transport=polling`, {
      headers: { origin: "https://a.com" },
    });
    expect(res.status).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBe("https://a.com");
  });
});
