/**
 * §12 "On SIGTERM a node stops taking connections (`/readyz` 503) … closes its
 * connections so that their clients reconnect to another node". SSE streams
 * and long polls are connections too (§13 counts them): from the moment the
 * node drains, a new one is not held open on a node about to exit: a poll is
 * refused 503 `unavailable` (the client polls again, through the balancer);
 * an SSE request gets an event stream that ends at once with `retry:`, since
 * `EventSource` reconnects after a stream ends but gives up for good on a 503.
 */
import { startApp, stopAllApps } from "../helpers/app";
import { request as http } from "../helpers/http";
import { signToken } from "../helpers/tokens";

afterAll(() => stopAllApps());

test("a draining node ends new SSE streams at once and answers new polls 503 unavailable, like /readyz", async () => {
  const server = await startApp();
  const token = signToken();
  const closing = server.app.close();
  const [ready, sse, poll] = await Promise.all([
    http(`${server.url}/readyz`),
    http(`${server.url}/api/rooms/drain/events?token=${token}`, { timeoutMs: 2000 }),
    http(`${server.url}/api/rooms/drain/poll?timeout=5&token=${token}`, { timeoutMs: 2000 }),
  ]);
  await closing;
  expect(ready.status).toBe(503);
  expect([sse.status, sse.headers["content-type"]]).toEqual([200, expect.stringMatching(/^text\/event-stream/)]);
  expect(sse.text).toMatch(/^retry: \d+$/m);
  expect([poll.status, poll.body?.error?.code]).toEqual([503, "unavailable"]);
});

test("a waiting poll on a draining node is answered at once, empty, with its cursor, instead of being cut", async () => {
  const server = await startApp();
  const token = signToken();
  const auth = { authorization: `Bearer ${token}` };
  const sent = await http(`${server.url}/api/rooms/drain-poll/messages`, {
    method: "POST",
    headers: auth,
    body: { text: "before" },
  });
  const after = sent.body.message.id;
  const poll = http(`${server.url}/api/rooms/drain-poll/poll?timeout=20&after=${after}`, {
    headers: auth,
    timeoutMs: 5000,
  });
  await new Promise((resolve) => setTimeout(resolve, 300)); // the poll is waiting
  const started = Date.now();
  await server.app.close();
  const answer = await poll;
  expect(Date.now() - started).toBeLessThan(4000);
  expect(answer.status).toBe(200);
  expect(answer.body).toEqual({ messages: [], updates: [], cursor: after });
  expect(answer.headers.connection).toBe("close");
});
