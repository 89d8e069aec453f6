import { closeAllClients, createClient, waitForEvent } from "../helpers/clients";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { signToken } from "../helpers/tokens";

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
      limits: { maxMessageLength: 4000, typingTtlMs: 1234 },
    });
  });
});
