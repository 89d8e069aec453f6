/**
 * §13 "SSE streams and waiting long polls count toward `MAX_CONNECTIONS_PER_USER`
 * with the user's Socket.IO and `/ws` connections, while they are open: past
 * it, HTTP 429 `limit_exceeded`, and nothing is held open." A poll that is
 * answered at once (something newer than `after`, or `timeout=0`) never waits:
 * it is served even when the user's places are all taken. One that would wait
 * is refused.
 */
import { closeAllClients, connectClient } from "../helpers/clients";
import { startApp, stopAllApps } from "../helpers/app";
import { request as http } from "../helpers/http";
import { signToken, uniqueUserId } from "../helpers/tokens";

afterAll(async () => {
  closeAllClients();
  await stopAllApps();
});

test("with every place taken, polls answered at once are served and a poll that would wait is 429 limit_exceeded", async () => {
  const server = await startApp({ MAX_CONNECTIONS_PER_USER: "1" });
  const token = signToken({ sub: uniqueUserId("poller") });
  const auth = { authorization: `Bearer ${token}` };
  const room = `slots-${process.pid}`;
  const first = await http(`${server.url}/api/rooms/${room}/messages`, {
    method: "POST",
    headers: auth,
    body: { text: "one" },
  });
  await http(`${server.url}/api/rooms/${room}/messages`, { method: "POST", headers: auth, body: { text: "two" } });
  await connectClient(server.url, { token }); // the user's one place

  const ready = await http(`${server.url}/api/rooms/${room}/poll?after=${first.body.message.id}`, { headers: auth });
  expect([ready.status, ready.body.messages?.map((m: { text: string }) => m.text)]).toEqual([200, ["two"]]);
  const immediate = await http(`${server.url}/api/rooms/${room}/poll?timeout=0`, { headers: auth });
  expect([immediate.status, immediate.body.messages]).toEqual([200, []]);

  const waiting = await http(`${server.url}/api/rooms/${room}/poll?timeout=5`, { headers: auth });
  expect([waiting.status, waiting.body.error?.code, waiting.headers["retry-after"]]).toEqual([
    429,
    "limit_exceeded",
    undefined,
  ]);
});
