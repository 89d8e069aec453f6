/**
 * Every abuse limit is a setting and is counted in /metrics: the payload cap
 * (MAX_PAYLOAD_BYTES) on Socket.IO over both transports and on /ws, the
 * message budget (RATE_BURST / RATE_PER_SEC) and the per-user connection cap
 * (MAX_CONNECTIONS_PER_USER). The per-address connection rate and slow
 * consumers have their own files.
 */
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, connectClient, connectError, waitForEvent, type Transport } from "../helpers/clients";
import { signToken } from "../helpers/tokens";
import { closeAllPlain, connectPlain } from "../ws/ws-client";
import { metric } from "./support";

let server: TestApp;
beforeAll(async () => {
  server = await startApp({
    MAX_PAYLOAD_BYTES: "2048",
    RATE_BURST: "2",
    RATE_PER_SEC: "0.001",
    MAX_CONNECTIONS_PER_USER: "1",
  });
});
afterEach(() => {
  closeAllClients();
  closeAllPlain();
});
afterAll(() => stopAllApps());

const tooLarge = () => metric(server.url, "huddle_errors_total", { code: "too_large" });

describe.each<Transport>(["websocket", "polling"])("a Socket.IO packet over MAX_PAYLOAD_BYTES (%s)", (transport) => {
  test("closes the connection and is counted as too_large", async () => {
    const before = await tooLarge();
    const client = await connectClient(server.url, { transport });
    expect((await client.emitWithAck("room:join", { roomId: "big" })).ok).toBe(true);
    const disconnected = waitForEvent(client, "disconnect");
    client.emit("message:send", { roomId: "big", text: "y".repeat(3000) }, () => {});
    await disconnected;
    expect(await tooLarge()).toBe(before + 1);
  });
});

test("a /ws frame over MAX_PAYLOAD_BYTES closes with 1009 and is counted as too_large", async () => {
  const before = await tooLarge();
  const { client } = await connectPlain(server.url);
  client.send({ type: "room:join", id: 1, data: { roomId: "z".repeat(3000) } });
  expect((await client.closed).code).toBe(1009);
  expect(await tooLarge()).toBe(before + 1);
});

test("messages over the budget are refused rate_limited and counted", async () => {
  const client = await connectClient(server.url);
  expect((await client.emitWithAck("room:join", { roomId: "budget" })).ok).toBe(true);
  const acks = [];
  for (let i = 0; i < 3; i++) acks.push(await client.emitWithAck("message:send", { roomId: "budget", text: `m${i}` }));
  expect(acks.map((ack) => (ack.ok ? "ok" : ack.error.code))).toEqual(["ok", "ok", "rate_limited"]);
  expect(await metric(server.url, "huddle_errors_total", { code: "rate_limited" })).toBeGreaterThanOrEqual(1);
});

test("a connection over MAX_CONNECTIONS_PER_USER is refused 4029 and counted", async () => {
  const token = signToken();
  await connectClient(server.url, { token });
  expect((await connectError(server.url, { token })).data.code).toBe(4029);
  expect(await metric(server.url, "huddle_connections_refused_total", { code: "4029" })).toBe(1);
});
