/**
 * What an idle Socket.IO connection keeps (issue 5: RSS per idle connection
 * below bare Socket.IO's). Socket.IO and Engine.IO hold on to a socket's
 * first HTTP request, its headers and its token for the socket's whole life;
 * Huddle lets them go once the handshake is done. `npm run bench` measures the
 * effect (KiB per connection); these tests pin the behaviour down.
 */
import type { IncomingMessage } from "node:http";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { closeAllClients, connectClient, sleep } from "../helpers/clients";
import { signToken } from "../helpers/tokens";
import { collectGarbage } from "./support";

let server: TestApp;
beforeEach(async () => {
  server = await startApp();
});
afterEach(async () => {
  closeAllClients();
  await stopAllApps();
});

test("a connected WebSocket's upgrade request can be collected", async () => {
  const upgrades: WeakRef<IncomingMessage>[] = [];
  server.app.http.prependListener("upgrade", (req: IncomingMessage) => void upgrades.push(new WeakRef(req)));
  const clients = await Promise.all(
    Array.from({ length: 5 }, () => connectClient(server.url, { transport: "websocket" })),
  );
  expect(upgrades).toHaveLength(5);
  // A WeakRef's target lives at least until the end of the task that made it: collect on a later one.
  await sleep(20);
  collectGarbage();
  expect(upgrades.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
  // The connections are still up and working.
  expect(clients.every((client) => client.connected)).toBe(true);
  const sockets = await server.app.io.fetchSockets();
  expect(sockets).toHaveLength(5);
});

test("the server does not keep a connected socket's token, headers or request", async () => {
  const token = signToken({ name: "Keeps Nothing" });
  await connectClient(server.url, { transport: "websocket", token });
  await connectClient(server.url, { transport: "polling", auth: { v: 1 }, query: { token } });
  const sockets = [...server.app.io.of("/").sockets.values()];
  expect(sockets).toHaveLength(2);
  for (const socket of sockets) {
    expect(JSON.stringify(socket.handshake)).not.toContain(token);
    expect(socket.handshake.headers).toEqual({});
    expect(socket.request).toBeNull();
    // What the session needs is kept: who the socket is.
    expect(socket.data.user.name).toBe("Keeps Nothing");
  }
});
