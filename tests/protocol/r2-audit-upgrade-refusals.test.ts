/**
 * §5 "All bodies are JSON. Errors are `{ "error": { "code", "message" } }`; the
 * status follows the code", for the refusals of a WebSocket upgrade too:
 * §13 "`CONNECT_RATE_PER_IP` covers every request that opens a stream or a
 * socket (the Socket.IO handshake, `/ws`, …): past it, HTTP 429 `rate_limited`
 * with `Retry-After`", and §1 "Origins not in the allow-list are refused …
 * (HTTP 403 on both transports, the WebSocket upgrade included)". A client that
 * reads the refused handshake (the `ws` library's `unexpected-response`, a
 * Python client's `InvalidStatus`) gets the same error body as over plain HTTP.
 */
import { connect } from "node:net";
import { startApp, stopAllApps } from "../helpers/app";
import { request as http } from "../helpers/http";

afterAll(() => stopAllApps());

/** Sends a WebSocket upgrade by hand; resolves with the status, headers and body of the HTTP answer. */
function upgrade(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; headers: Record<string, string>; body: any }>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let raw = "";
    socket.on("data", (chunk) => (raw += chunk.toString("utf8")));
    socket.on("error", reject);
    socket.on("close", () => {
      const [head = "", body = ""] = raw.split("\r\n\r\n");
      const [statusLine = "", ...lines] = head.split("\r\n");
      const parsed: Record<string, string> = {};
      for (const line of lines) {
        const at = line.indexOf(":");
        parsed[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
      const status = Number(statusLine.split(" ")[1]);
      // A 101 is followed by WebSocket frames, not a body.
      resolve({ status, headers: parsed, body: body && status !== 101 ? JSON.parse(body) : undefined });
    });
    const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra.join("")}\r\n`,
    );
  });
}

test("past CONNECT_RATE_PER_IP, a /ws or Socket.IO upgrade is 429 rate_limited with Retry-After and the error body", async () => {
  const server = await startApp({ CONNECT_RATE_PER_IP: "0.1", CONNECT_BURST_PER_IP: "1" });
  // The one connection of the burst (counted before the origin is looked at, then refused at once).
  expect((await upgrade(server.port, "/ws", { Origin: "https://evil.example" })).status).toBe(403);
  for (const path of ["/ws?token=x", "/socket.io/?EIO=4&transport=websocket"]) {
    const refused = await upgrade(server.port, path);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(refused.headers["content-type"]).toMatch(/^application\/json/);
    expect(refused.body).toEqual({ error: { code: "rate_limited", message: expect.any(String) } });
  }
});

test("a disallowed Origin on an upgrade is 403 forbidden with the error body", async () => {
  const server = await startApp({ CONNECT_RATE_PER_IP: "0" });
  for (const path of ["/ws?token=x", "/socket.io/?EIO=4&transport=websocket"]) {
    const refused = await upgrade(server.port, path, { Origin: "https://evil.example" });
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({ error: { code: "forbidden", message: expect.any(String) } });
  }
});

test("CONNECT_RATE_PER_IP covers SSE and polls however the router spells their path (case, trailing slash)", async () => {
  const server = await startApp({ CONNECT_RATE_PER_IP: "0.1", CONNECT_BURST_PER_IP: "1" });
  const first = await http(`${server.url}/api/rooms/r/poll?timeout=0&token=bad`);
  expect(first.status).toBe(401);
  // Each of these reaches the SSE or poll route; past the limit it is 429 before any token work, not 401.
  for (const path of ["/api/rooms/r/events/", "/API/Rooms/r/Events", "/api/rooms/r/poll/", "/api/rooms/r/POLL"]) {
    const refused = await http(`${server.url}${path}?timeout=0&token=bad`);
    expect([path, refused.status, refused.body?.error?.code]).toEqual([path, 429, "rate_limited"]);
    expect(refused.headers["retry-after"]).toBeDefined();
  }
});
