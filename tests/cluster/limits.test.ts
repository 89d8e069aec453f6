/**
 * §13 across two real nodes over one Redis: the join budget is the user's on
 * every node; SSE streams, waiting polls and sockets of a user count together
 * toward MAX_CONNECTIONS_PER_USER whatever node holds them, and a node that
 * dies gives its streams' places back once it is reaped.
 */
import { createKeys } from "../../server/redis/keys";
import { closeAllClients, connectClient, eventually } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { startSharedRedis, type SharedRedis } from "../helpers/shared-redis";
import { openSse, type SseStream } from "../helpers/sse";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { request, startNode, stopAllNodes, type NodeProcess } from "./nodes";

let redis: SharedRedis;
let A: NodeProcess;
let B: NodeProcess;
const env = { MAX_CONNECTIONS_PER_USER: "3", JOIN_RATE_BURST: "3", JOIN_RATE_PER_SEC: "0.5" };
beforeAll(async () => {
  redis = await startSharedRedis();
  [A, B] = await Promise.all([startNode(redis.url, "limits-a", env), startNode(redis.url, "limits-b", env)]);
}, 60_000);
const streams: SseStream[] = [];
afterEach(() => {
  closeAllClients();
  for (const stream of streams.splice(0)) stream.close();
});
afterAll(async () => {
  await stopAllNodes();
  await redis?.stop();
});

let rooms = 0;
const freshRoom = () => `limits-${process.pid}-${++rooms}`;

test("the join budget is one per user across nodes", async () => {
  const claims = { sub: uniqueUserId("joiner") };
  const onA = await connectClient(A.url, { claims });
  const onB = await connectClient(B.url, { claims });
  for (const socket of [onA, onB, onA])
    expect(await request(socket, "room:join", { roomId: freshRoom() })).toMatchObject({ ok: true });
  expect(await request(onB, "room:join", { roomId: freshRoom() })).toMatchObject({
    ok: false,
    error: { code: "rate_limited", retryAfterMs: expect.any(Number) },
  });
});

test("a socket on A, a stream on B and a waiting poll on A fill the cap; a fourth anywhere is refused; closing frees a place", async () => {
  const sub = uniqueUserId("spread");
  const token = signToken({ sub });
  const roomId = freshRoom();
  await connectClient(A.url, { token });
  const stream = await openSse(`${B.url}/api/rooms/${roomId}/events?token=${token}`);
  streams.push(stream);
  expect(stream.status).toBe(200);
  const poll = http(`${A.url}/api/rooms/${roomId}/poll?token=${token}&timeout=5`, { timeoutMs: 10_000 });
  // Once the poll holds its place (seen in Redis: probing with another poll would take a place itself).
  const admin = await redis.admin();
  await eventually(async () => (await admin.sCard(createKeys().userConnections(sub))) === 3, "three places held");
  const refused = await http(`${B.url}/api/rooms/${roomId}/events?token=${token}`);
  expect([refused.status, refused.body.error.code]).toEqual([429, "limit_exceeded"]);
  stream.close();
  await eventually(async () => {
    const again = await openSse(`${B.url}/api/rooms/${roomId}/events?token=${token}`);
    streams.push(again);
    return again.status === 200;
  }, "a stream accepted once one closed");
  await poll;
});

test("the streams of a node that dies free their places once the node is reaped", async () => {
  const C = await startNode(redis.url, "limits-c", env);
  const token = signToken({ sub: uniqueUserId("orphan") });
  const roomId = freshRoom();
  for (let i = 0; i < 3; i++) {
    const stream = await openSse(`${C.url}/api/rooms/${roomId}/events?token=${token}`);
    streams.push(stream);
    expect(stream.status).toBe(200);
  }
  expect((await http(`${A.url}/api/rooms/${roomId}/events?token=${token}`)).status).toBe(429);
  await C.kill("SIGKILL");
  await eventually(
    async () => {
      const stream = await openSse(`${A.url}/api/rooms/${roomId}/events?token=${token}`);
      streams.push(stream);
      return stream.status === 200;
    },
    "a place freed once the dead node was reaped",
    10_000,
  );
});
