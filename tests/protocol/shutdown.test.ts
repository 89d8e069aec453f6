/**
 * Closing an app (SIGTERM in production) ends every Socket.IO connection at
 * once so that clients reconnect, to another node behind the balancer: over
 * WebSocket and over polling, including a polling client caught between two
 * polls, which Engine.IO on its own would keep for up to 30 s.
 */
import { startApp, stopAllApps } from "../helpers/app";
import { closeAllClients, createClient, eventually, waitForEvent } from "../helpers/clients";
import { signToken } from "../helpers/tokens";

afterEach(async () => {
  closeAllClients();
  await stopAllApps();
});

/** Engine.IO v4 polling by hand: the handshake, the CONNECT, and the poll that answers it. */
async function pollingClientBetweenPolls(url: string): Promise<string> {
  const endpoint = `${url}/socket.io/?EIO=4&transport=polling`;
  const open = await (await fetch(endpoint)).text();
  const { sid } = JSON.parse(open.slice(1)) as { sid: string };
  const post = await fetch(`${endpoint}&sid=${sid}`, {
    method: "POST",
    body: `40${JSON.stringify({ token: signToken(), v: 1 })}`,
  });
  expect(await post.text()).toBe("ok");
  const answer = await (await fetch(`${endpoint}&sid=${sid}`)).text();
  expect(answer).toMatch(/^40\{"sid":/);
  return sid;
}

test("every connection ends when the app closes, a polling client between two polls included", async () => {
  const server = await startApp();
  const engine = server.app.io.engine;
  await pollingClientBetweenPolls(server.url);
  const polling = createClient(server.url, { transport: "polling" });
  const websocket = createClient(server.url, { transport: "websocket" });
  await Promise.all([waitForEvent(polling, "session"), waitForEvent(websocket, "session")]);
  expect(engine.clientsCount).toBe(3);

  const reasons = Promise.all([waitForEvent(polling, "disconnect"), waitForEvent(websocket, "disconnect")]);
  await server.close();
  // The transport ends, which socket.io-client reconnects from ("io server disconnect" would leave it
  // disconnected for good). Polling may see the close packet or its pending poll cut: either way it reconnects.
  const [pollingReason, websocketReason] = await reasons;
  expect(["transport close", "transport error"]).toContain(pollingReason);
  expect(websocketReason).toBe("transport close");
  await eventually(() => engine.clientsCount === 0, "every Engine.IO connection to be gone", 2000);
});
