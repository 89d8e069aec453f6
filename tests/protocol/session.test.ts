import { closeAllClients, createClient, eventually, waitForEvent } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken } from "../helpers/tokens";
import { connectSession, join, send, uniqueRoom } from "./support";

let server: TestApp;
beforeAll(async () => {
  server = await startApp({ NODE_ID: "node-a", TYPING_TTL_MS: "1234" });
});
afterEach(() => closeAllClients());
afterAll(() => stopAllApps());

describe.each(["websocket", "polling"] as const)("session over %s", (transport) => {
  test("sends session with user, node id, protocol and limits right after connecting", async () => {
    const token = signToken({ sub: "alice-1", name: "Alice" });
    const socket = createClient(server.url, { token, transport });
    const session = waitForEvent(socket, "session");
    await expect(session).resolves.toEqual({
      user: { id: "alice-1", name: "Alice" },
      nodeId: "node-a",
      protocol: 1,
      revision: 2,
      limits: { maxMessageLength: 4000, typingTtlMs: 1234 },
    });
  });

  test("sends session before any other event, even to a socket that joins a busy room at once", async () => {
    const roomId = uniqueRoom("busy");
    const { socket: talker } = await connectSession(server.url, { transport });
    await join(talker, roomId);
    const socket = createClient(server.url, { transport });
    const events: string[] = [];
    socket.onAny((event: string) => events.push(event));
    const joined = new Promise((resolve) => socket.on("connect", () => socket.emit("room:join", { roomId }, resolve)));
    await waitForEvent(socket, "session");
    await expect(joined).resolves.toMatchObject({ ok: true });
    await send(talker, roomId, "while you arrive");
    await eventually(() => events.includes("message:new"), "message:new on the new socket");
    expect(events[0]).toBe("session");
    expect(events.filter((e) => e === "session")).toHaveLength(1);
  });
});
