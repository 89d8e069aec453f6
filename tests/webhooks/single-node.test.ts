/**
 * §11 webhooks on one node in memory: every created and changed message is
 * POSTed, signed with Standard Webhooks, in change order per room, with the
 * same webhook-id on every retry; failures, redirects and silence are
 * retried; acks never wait for any of it.
 */
import type { Message } from "../../shared";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, connectClient, eventually } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { signToken } from "../helpers/tokens";
import { join, request, send, uniqueRoom } from "../protocol/support";
import { startReceiver, WEBHOOK_SECRET, type Receiver } from "./receiver";

let receiver: Receiver;
let server: TestApp;
beforeAll(async () => {
  receiver = await startReceiver();
  server = await startApp({
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET,
    WEBHOOK_TIMEOUT_MS: "300",
    WEBHOOK_RETRY_BASE_MS: "50",
    RATE_BURST: "1000",
    RATE_PER_SEC: "1000",
  });
});
afterEach(() => {
  closeAllClients();
  receiver.answer(200);
});
afterAll(async () => {
  await stopAllApps();
  await receiver.stop();
});

test("message.created and message.updated arrive signed, with the message as data, in change order", async () => {
  const roomId = uniqueRoom("wh");
  const socket = await connectClient(server.url);
  await join(socket, roomId);
  const m = await send(socket, roomId, "hello hooks");
  const edited = await request(socket, "message:edit", { roomId, id: m.id, text: "hello, hooks" });
  const reacted = await request(socket, "reaction:add", { roomId, id: m.id, emoji: "🎣" });
  const deleted = await request(socket, "message:delete", { roomId, id: m.id });
  const mine = () => receiver.delivered().filter((d) => d.data.roomId === roomId);
  await eventually(() => mine().length === 4, "four webhook events", 5000);
  expect(mine().map((d) => [d.type, d.data])).toEqual([
    ["message.created", m],
    ["message.updated", (edited as { message: Message }).message],
    ["message.updated", (reacted as { message: Message }).message],
    ["message.updated", (deleted as { message: Message }).message],
  ]);
  expect(new Set(mine().map((d) => d.id)).size).toBe(4);
  expect(mine()[0]!.at).toBe(new Date(m.ts).toISOString());
  expect(receiver.forged).toEqual([]);
});

test("a failing receiver gets the same webhook-id again until it answers 2xx; the room's next event waits", async () => {
  const roomId = uniqueRoom("wh-retry");
  const socket = await connectClient(server.url);
  await join(socket, roomId);
  let failures = 0;
  receiver.answer((d) => (d.data.roomId === roomId && d.data.text === "first" && failures++ < 3 ? 500 : 200));
  const startedAt = Date.now();
  const first = await send(socket, roomId, "first");
  const second = await send(socket, roomId, "second");
  expect(Date.now() - startedAt).toBeLessThan(1000);
  await eventually(
    () => receiver.delivered().filter((d) => d.data.roomId === roomId).length === 2,
    "both delivered",
    10_000,
  );
  const attempts = receiver.requests.filter((r) => r.data.roomId === roomId);
  expect(attempts.map((r) => [r.data.text, r.status])).toEqual([
    ["first", 500],
    ["first", 500],
    ["first", 500],
    ["first", 200],
    ["second", 200],
  ]);
  expect(new Set(attempts.slice(0, 4).map((r) => r.id)).size).toBe(1);
  expect(attempts[4]!.data).toEqual(second);
  expect(attempts[3]!.data).toEqual(first);
});

test("redirects and silence are failures too, and retried", async () => {
  const roomId = uniqueRoom("wh-odd");
  const socket = await connectClient(server.url);
  await join(socket, roomId);
  const answers: ("hang" | number)[] = [302, "hang", 200];
  receiver.answer((d) => (d.data.roomId === roomId ? (answers.shift() ?? 200) : 200));
  await send(socket, roomId, "odd receiver");
  await eventually(() => receiver.delivered().some((d) => d.data.roomId === roomId), "delivered in the end", 10_000);
  expect(receiver.requests.filter((r) => r.data.roomId === roomId).map((r) => r.status)).toEqual([302, "hang", 200]);
});

test("a receiver that is away for a while gets everything once it is back, each room in order", async () => {
  const rooms = [uniqueRoom("wh-a"), uniqueRoom("wh-b")];
  const socket = await connectClient(server.url);
  for (const roomId of rooms) await join(socket, roomId);
  await receiver.close();
  const sent: Message[] = [];
  for (let i = 0; i < 6; i++) sent.push(await send(socket, rooms[i % 2]!, `while away ${i}`));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await receiver.reopen();
  await eventually(
    () => receiver.delivered().filter((d) => rooms.includes(d.data.roomId)).length === 6,
    "six events after the receiver came back",
    15_000,
  );
  for (const roomId of rooms) {
    const got = receiver
      .delivered()
      .filter((d) => d.data.roomId === roomId)
      .map((d) => d.data.text);
    expect(got).toEqual(sent.filter((m) => m.roomId === roomId).map((m) => m.text));
  }
});

test("/metrics shows webhooks queued, delivered, failed and the oldest queued age", async () => {
  const res = await http(`${server.url}/metrics`);
  for (const name of [
    "huddle_webhooks_queued",
    "huddle_webhooks_delivered_total",
    "huddle_webhooks_attempts_failed_total",
    "huddle_webhooks_oldest_queued_seconds",
    "huddle_webhooks_failed",
    "huddle_webhooks_delivery_lag_seconds",
  ]) {
    expect(res.text).toContain(name);
  }
});

test("events that exhaust their retries are kept and listed to moderators; the room goes on", async () => {
  const short = await startApp({
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET,
    WEBHOOK_RETRY_BASE_MS: "50",
    WEBHOOK_RETRY_FOR_MS: "1000",
  });
  const roomId = uniqueRoom("wh-exhaust");
  const socket = await connectClient(short.url);
  await join(socket, roomId);
  receiver.answer((d) => (d.data.text === "never" ? 500 : 200));
  await send(socket, roomId, "never");
  const after = await send(socket, roomId, "after");
  await eventually(
    () => receiver.delivered().some((d) => d.data.id === after.id && d.data.roomId === roomId),
    "the next event",
    15_000,
  );
  const moderator = signToken({ sub: "wh-mod", role: "moderator" });
  const listed = await http(`${short.url}/api/webhooks/failed`, { headers: { authorization: `Bearer ${moderator}` } });
  expect(listed.status).toBe(200);
  expect(listed.body.failed).toEqual([
    expect.objectContaining({ event: expect.objectContaining({ roomId, type: "message.created" }), lastStatus: 500 }),
  ]);
  const refused = await http(`${short.url}/api/webhooks/failed`, {
    headers: { authorization: `Bearer ${signToken()}` },
  });
  expect(refused.status).toBe(403);
  await short.close();
}, 30_000);
