/**
 * The per-address limit on new connections (CONNECT_RATE_PER_IP,
 * CONNECT_BURST_PER_IP): a handshake flood from one source address
 * (127.0.0.2) is answered 429 with Retry-After, before any auth work, on
 * Socket.IO polling, Socket.IO WebSocket and /ws alike, while another address
 * (127.0.0.3) still connects. Behind a proxy (TRUST_PROXY) the address is the
 * one the proxy appended to X-Forwarded-For, not one the client wrote.
 */
import WebSocket from "ws";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, connectClient, type ClientOptions } from "../helpers/clients";
import { signToken } from "../helpers/tokens";
import { closeAllPlain, connectPlain, refusedUpgradeStatus } from "../ws/ws-client";
import { metric, request } from "./support";

const BURST = 10;
/** Slow refill, so that a test's flood cannot earn tokens back while it runs. */
const limits = { CONNECT_BURST_PER_IP: String(BURST), CONNECT_RATE_PER_IP: "0.5" };

afterEach(() => {
  closeAllClients();
  closeAllPlain();
});
afterAll(() => stopAllApps());

/** Socket.IO client options to connect from `address` (Node's socket.io-client passes it to the socket). */
const from = (address: string, options: ClientOptions = {}) =>
  ({ ...options, localAddress: address }) as unknown as ClientOptions;

/** A Socket.IO polling handshake, as socket.io-client opens one, from `from`. */
const handshake = (server: TestApp, address: string, headers: Record<string, string> = {}) =>
  request(`${server.url}/socket.io/?EIO=4&transport=polling&t=${Math.random()}`, { localAddress: address, headers });

describe("a handshake flood from one address", () => {
  let server: TestApp;
  beforeAll(async () => {
    server = await startApp(limits);
  });

  test("gets 429 with Retry-After past the burst, while another address still connects", async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, () => handshake(server, "127.0.0.2")));
    const statuses = answers.map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(BURST);
    expect(statuses.filter((status) => status === 429)).toHaveLength(40 - BURST);
    const refused = answers.find((answer) => answer.status === 429)!;
    expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(refused.text).error.code).toBe("rate_limited");

    // 127.0.0.2 is refused on every way in…
    const socket = await connectClient(server.url, from("127.0.0.2")).catch((error: Error) => error);
    expect(socket).toBeInstanceOf(Error);
    expect(await refusedUpgradeStatus(server.url, { query: { token: signToken() }, localAddress: "127.0.0.2" })).toBe(
      429,
    );
    // …and 127.0.0.3 is not: Socket.IO over WebSocket, /ws and a polling handshake.
    const other = await connectClient(server.url, from("127.0.0.3"));
    expect(other.connected).toBe(true);
    const { session } = await connectPlain(server.url, { localAddress: "127.0.0.3" });
    expect(session.user.id).toEqual(expect.any(String));
    expect((await handshake(server, "127.0.0.3")).status).toBe(200);

    expect(await metric(server.url, "huddle_connections_refused_total", { code: "429" })).toBe(40 - BURST + 2);
  });

  test("requests of an established Socket.IO session are not counted", async () => {
    const fresh = await startApp(limits);
    const polling = await connectClient(fresh.url, from("127.0.0.4", { transport: "polling" }));
    // Long polling sends a request every few hundred milliseconds at most; these carry the session's sid.
    for (let i = 0; i < BURST * 2; i++) {
      expect((await polling.emitWithAck("room:join", { roomId: `sid-${i % 3}` })).ok).toBe(true);
    }
    expect(await metric(fresh.url, "huddle_connections_refused_total", { code: "429" })).toBe(0);
  });

  test("a refused handshake costs no token check: even a bad token gets 429, not 4002", async () => {
    const fresh = await startApp(limits);
    for (let i = 0; i < BURST; i++) await handshake(fresh, "127.0.0.5");
    const status = await refusedUpgradeStatus(fresh.url, { query: { token: "garbage" }, localAddress: "127.0.0.5" });
    expect(status).toBe(429);
    expect(await metric(fresh.url, "huddle_connections_refused_total", { code: "4002" })).toBe(0);
  });
});

describe("CONNECT_RATE_PER_IP=0", () => {
  test("turns the limit off", async () => {
    const server = await startApp({ CONNECT_RATE_PER_IP: "0", CONNECT_BURST_PER_IP: "1" });
    const statuses = await Promise.all(Array.from({ length: 15 }, () => handshake(server, "127.0.0.6")));
    expect(new Set(statuses.map((answer) => answer.status))).toEqual(new Set([200]));
  });
});

describe("TRUST_PROXY", () => {
  test("off (the default): X-Forwarded-For is ignored, so a client cannot dodge the limit by writing it", async () => {
    const server = await startApp(limits);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => handshake(server, "127.0.0.7", { "x-forwarded-for": `10.9.9.${i}` })),
    );
    expect(answers.filter((answer) => answer.status === 429)).toHaveLength(20 - BURST);
  });

  test("1: the address the proxy appended counts; what the client wrote before it does not", async () => {
    const server = await startApp({ ...limits, TRUST_PROXY: "1" });
    // As nginx's $proxy_add_x_forwarded_for sends it: the client's own header, then the client's address.
    const spoofing = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        handshake(server, "127.0.0.8", { "x-forwarded-for": `1.1.1.${i}, 203.0.113.7` }),
      ),
    );
    expect(spoofing.filter((answer) => answer.status === 429)).toHaveLength(20 - BURST);
    // Another client behind the same proxy is not affected.
    expect((await handshake(server, "127.0.0.8", { "x-forwarded-for": "203.0.113.8" })).status).toBe(200);
    // A WebSocket upgrade is judged the same way.
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/ws?token=${signToken()}`, {
      localAddress: "127.0.0.8",
      headers: { "x-forwarded-for": "203.0.113.7" },
    });
    const status = await new Promise<number>((resolve) => {
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("open", () => resolve(101));
      ws.on("error", () => {});
    });
    ws.terminate();
    expect(status).toBe(429);
  });
});
