/**
 * The baseline: a bare Socket.IO 4.8 server doing only what the benchmark
 * exercises, the way one would write it by hand. JWT (HS256) checked on
 * connect, `room:join` joins and acks, `message:send` acks the message and
 * emits it to the room. Changes (`message:edit`, `message:delete`,
 * `reaction:add`, `reaction:remove`) look nothing up: each acks the message
 * with a new `rev` and emits it to the room as `message:updated`.
 * `room:read` only acks. No validation, storage, presence, read state or
 * rate limits.
 *
 *   node bench/bare-server.mjs --port 4000 [--redis redis://127.0.0.1:6379 | --redis-cluster host:port,…]
 *
 * The secret comes from JWT_SECRET. With `--redis` it uses
 * @socket.io/redis-adapter over node-redis, so emits reach the room on every node.
 * With `--redis-cluster` (seed nodes of a Redis Cluster) it uses that package's
 * sharded adapter (SPUBLISH/SSUBSCRIBE) over a node-redis cluster client, as
 * its documentation shows: default options, so a channel per room, each node
 * subscribed only to the rooms it has sockets in.
 */
import { createSecretKey } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import jwt from "jsonwebtoken";
import { Server } from "socket.io";

const { values } = parseArgs({
  options: { port: { type: "string" }, redis: { type: "string" }, "redis-cluster": { type: "string" } },
});
if (!process.env.JWT_SECRET) {
  process.stderr.write("bare-server: JWT_SECRET is required\n");
  process.exit(1);
}
// A KeyObject made once: given a string, jsonwebtoken first tries to parse it as a
// PEM public key on every verify (createPublicKey throws), which costs more than the HMAC.
const secret = createSecretKey(Buffer.from(process.env.JWT_SECRET));

const http = createServer();
const io = new Server(http, { serveClient: false });

if (values.redis) {
  const { createClient } = await import("redis");
  const { createAdapter } = await import("@socket.io/redis-adapter");
  const pub = createClient({ url: values.redis });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
} else if (values["redis-cluster"]) {
  const { createCluster } = await import("redis");
  const { createShardedAdapter } = await import("@socket.io/redis-adapter");
  const rootNodes = values["redis-cluster"].split(",").map((node) => ({ url: `redis://${node}` }));
  const pub = createCluster({ rootNodes });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createShardedAdapter(pub, sub));
}

io.use((socket, next) => {
  try {
    const claims = jwt.verify(socket.handshake.auth?.token, secret, { algorithms: ["HS256"] });
    socket.data.user = { id: claims.sub, name: claims.name ?? claims.sub };
    next();
  } catch {
    next(new Error("Invalid token"));
  }
});

let seq = 0;
io.on("connection", (socket) => {
  socket.on("room:join", ({ roomId } = {}, ack) => {
    socket.join(roomId);
    if (typeof ack === "function") ack({ ok: true, roomId });
  });
  socket.on("message:send", ({ roomId, text } = {}, ack) => {
    const ts = Date.now();
    const message = { id: `${ts}-${seq++}`, roomId, user: socket.data.user, text, ts };
    if (typeof ack === "function") ack({ ok: true, message });
    io.to(roomId).emit("message:new", message);
  });
  // The least a change can be: a new rev, acked, and the message's new state to the room.
  const change =
    (kind) =>
    ({ roomId, id, text, emoji } = {}, ack) => {
      const ts = Date.now();
      const message = { id, roomId, user: socket.data.user, text: text ?? "", ts, rev: `${ts}-${seq++}` };
      if (kind === "reaction") message.reactions = [{ emoji, count: 1, userIds: [socket.data.user.id] }];
      if (typeof ack === "function") ack({ ok: true, message });
      io.to(roomId).emit("message:updated", message);
    };
  socket.on("message:edit", change("edit"));
  socket.on("message:delete", change("delete"));
  socket.on("reaction:add", change("reaction"));
  socket.on("reaction:remove", change("reaction"));
  socket.on("room:read", ({ upTo } = {}, ack) => {
    if (typeof ack === "function") ack({ ok: true, readUpTo: upTo, unread: 0 });
  });
});

http.listen(Number(values.port ?? 0), "0.0.0.0");
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
