/** §5 operational routes: /healthz, /readyz (draining included) and /metrics. */
import { request, Agent } from "node:http";
import { closeAllClients, connectClient } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken } from "../helpers/tokens";
import { bearer, http, publish, uniqueRoom } from "./support";

afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

/** The value of one sample line of Prometheus text, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = match[3] ?? "";
    if (Object.entries(labels).every(([k, v]) => present.includes(`${k}="${v}"`))) return Number(match[4]);
  }
  return undefined;
}

async function metricsOf(server: TestApp): Promise<string> {
  const res = await http(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text;
}

describe("health and readiness", () => {
  test("GET /healthz answers 200 {status: ok}", async () => {
    const server = await startApp();
    const res = await http(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
  });

  test("GET /readyz answers 200 while the node serves", async () => {
    const server = await startApp();
    const res = await http(`${server.url}/readyz`);
    expect(res.status).toBe(200);
  });

  test("GET /readyz answers 503 from the moment close() begins", async () => {
    const server = await startApp();
    // A kept-alive connection, opened before draining starts, so the probe after close() does not need a new one.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${server.url}/readyz`, { agent }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
        req.end();
      });
    try {
      expect(await get()).toBe(200);
      const closing = server.close();
      const status = await get();
      await closing;
      expect(status).toBe(503);
    } finally {
      agent.destroy();
    }
  });

  test("a node whose stores are unreachable answers /readyz 503 with the error shape", async () => {
    const { createMemoryStores } = await import("../../server/stores");
    const stores = {
      ...createMemoryStores({
        historyMax: 100,
        messageLimit: { burst: 20, perSecond: 5 },
        typingLimit: { burst: 20, perSecond: 5 },
      }),
      isReady: () => false,
    };
    const server = await startApp({}, { stores });
    const res = await http(`${server.url}/readyz`);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe("unavailable");
    // Liveness is not readiness: the process still runs.
    expect((await http(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe("GET /metrics", () => {
  test("is Prometheus text with the connection, room, message, error, latency and event-loop series", async () => {
    const server = await startApp({ NODE_ID: "metrics-node" });
    const res = await http(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    for (const name of [
      "huddle_connections",
      "huddle_rooms",
      "huddle_messages_sent_total",
      "huddle_errors_total",
      "huddle_ack_latency_seconds",
      "nodejs_eventloop_lag_seconds",
    ]) {
      expect(res.text).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
    }
    expect(res.text).toContain('node="metrics-node"');
  });

  test("counts open Socket.IO connections and rooms with members", async () => {
    const server = await startApp();
    const socket = await connectClient(server.url);
    await socket.emitWithAck("room:join", { roomId: uniqueRoom() });
    const text = await metricsOf(server);
    expect(sample(text, "huddle_connections", { transport: "socket.io" })).toBe(1);
    expect(sample(text, "huddle_rooms")).toBe(1);
  });

  test("counts messages sent over Socket.IO and REST, but not a repeated clientMsgId", async () => {
    const server = await startApp();
    const roomId = uniqueRoom();
    const before = sample(await metricsOf(server), "huddle_messages_sent_total") ?? 0;
    const socket = await connectClient(server.url);
    await socket.emitWithAck("room:join", { roomId });
    await socket.emitWithAck("message:send", { roomId, text: "over socket.io", clientMsgId: "c1" });
    await socket.emitWithAck("message:send", { roomId, text: "over socket.io", clientMsgId: "c1" });
    await publish(server.url, signToken(), roomId, "over rest");
    expect(sample(await metricsOf(server), "huddle_messages_sent_total")).toBe(before + 2);
  });

  test("counts errors by code, over Socket.IO and over HTTP", async () => {
    const server = await startApp();
    const socket = await connectClient(server.url);
    const ack = await socket.emitWithAck("message:send", { roomId: uniqueRoom(), text: "not joined" });
    expect(ack.ok).toBe(false);
    await http(`${server.url}/api/rooms/${uniqueRoom()}/messages`, { method: "POST", body: { text: "no token" } });
    await http(`${server.url}/api/rooms/bad%20id/messages`, { headers: bearer(signToken()) });
    const text = await metricsOf(server);
    expect(sample(text, "huddle_errors_total", { code: "not_joined" })).toBe(1);
    expect(sample(text, "huddle_errors_total", { code: "unauthorized" })).toBe(1);
    expect(sample(text, "huddle_errors_total", { code: "bad_request" })).toBe(1);
  });

  test("counts a 404 of an unknown route as a not_found error", async () => {
    const server = await startApp();
    await http(`${server.url}/no/such/page`);
    await http(`${server.url}/api/no-such-route`);
    expect(sample(await metricsOf(server), "huddle_errors_total", { code: "not_found" })).toBe(2);
  });

  test("observes the ack latency of each client event", async () => {
    const server = await startApp();
    const socket = await connectClient(server.url);
    const roomId = uniqueRoom();
    await socket.emitWithAck("room:join", { roomId });
    await socket.emitWithAck("message:send", { roomId, text: "hello" });
    const text = await metricsOf(server);
    expect(sample(text, "huddle_ack_latency_seconds_count", { event: "room:join" })).toBe(1);
    expect(sample(text, "huddle_ack_latency_seconds_count", { event: "message:send" })).toBe(1);
  });

  test("reports event-loop lag as nodejs_eventloop_lag_seconds", async () => {
    const server = await startApp();
    const value = sample(await metricsOf(server), "nodejs_eventloop_lag_seconds");
    expect(value).toBeGreaterThanOrEqual(0);
  });
});
