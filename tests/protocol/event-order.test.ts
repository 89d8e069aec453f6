/**
 * The events of one socket are handled in the order they were sent, so a
 * client may emit `room:join` and `message:send` back to back without waiting
 * for the join's ack, even when the stores answer slowly (as Redis does).
 */
import type { Message } from "../../shared";
import { createMemoryStores } from "../../server/stores";
import { closeAllClients, collect } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { connectSession, request, uniqueRoom } from "./support";

let server: TestApp;
beforeAll(async () => {
  const stores = createMemoryStores({
    historyMax: 1000,
    messageLimit: { burst: 100, perSecond: 100 },
    typingLimit: { burst: 100, perSecond: 100 },
  });
  // A presence store that answers joins 100 ms late, like a store across a network.
  const join = stores.presence.join.bind(stores.presence);
  stores.presence.join = async (...args) => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    return join(...args);
  };
  server = await startApp({}, { stores });
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

describe.each(["websocket", "polling"] as const)("over %s", (transport) => {
  test("a send emitted right after a join, without waiting, finds the room joined", async () => {
    const roomId = uniqueRoom();
    const { socket } = await connectSession(server.url, { transport });
    const received = collect<Message>(socket, "message:new");
    const joined = request(socket, "room:join", { roomId });
    const sent = request(socket, "message:send", { roomId, text: "right away" });
    await expect(joined).resolves.toMatchObject({ ok: true, roomId });
    await expect(sent).resolves.toMatchObject({ ok: true, message: { text: "right away" } });
    const history = await request(socket, "room:history", { roomId });
    expect((history as { messages: Message[] }).messages.map((m) => m.text)).toEqual(["right away"]);
    expect(received.items.map((m) => m.text)).toEqual(["right away"]);
  });

  test("acks come back in the order the events were sent", async () => {
    const roomId = uniqueRoom();
    const { socket } = await connectSession(server.url, { transport });
    const order: string[] = [];
    const track = (name: string, promise: Promise<unknown>) => promise.then(() => order.push(name));
    await Promise.all([
      track("join", request(socket, "room:join", { roomId })),
      track("send-1", request(socket, "message:send", { roomId, text: "one" })),
      track("typing", request(socket, "typing:start", { roomId })),
      track("send-2", request(socket, "message:send", { roomId, text: "two" })),
    ]);
    expect(order).toEqual(["join", "send-1", "typing", "send-2"]);
  });
});
