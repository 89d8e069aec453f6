/**
 * §8, property style: random sequences of sends, replies, edits, deletes and
 * reactions, from several users, while an observer goes offline and comes
 * back with `since`, an SSE reader reconnects with `Last-Event-ID`, and a
 * poller follows its cursor. Whatever the sequence, each ends with exactly
 * the state `GET …/messages` shows. On one node, and on two nodes over Redis
 * (each reader on another node than the writers it does not see).
 */
import type { JoinResult, Message } from "../../shared";
import { startApp, stopAllApps } from "../helpers/app";
import { closeAllClients, connectClient, eventually, type HuddleClient } from "../helpers/clients";
import { request as http } from "../helpers/http";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { openSse, type SseStream } from "../helpers/sse";
import { signToken, uniqueUserId } from "../helpers/tokens";
import { restHistory, startNode, stopAllNodes } from "../cluster/nodes";
import { request } from "./support";

/** mulberry32: a small seeded PRNG, so a failing sequence can be replayed from its seed. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]! };
}

/** What a client knows of a room: every message by id, and the position to resume from. */
class RoomState {
  readonly messages = new Map<string, Message>();
  position: string | undefined;
  apply(message: Message, at: string) {
    this.messages.set(message.id, message);
    this.position = at;
  }
  /** A join's answer: history (reset unless resumed) and updates, then the last entry as the resume position. */
  joined(ack: JoinResult) {
    if (!ack.resumed) this.messages.clear();
    for (const m of ack.history) this.apply(m, m.id);
    for (const m of ack.updates) this.apply(m, m.rev);
  }
  sorted() {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }
}

interface Deployment {
  /** Where writers connect. */
  writeUrl: string;
  /** Where readers connect. */
  readUrl: string;
  close(): Promise<void>;
}

const deployments: [string, () => Promise<Deployment>][] = [
  [
    "one node",
    async () => {
      const app = await startApp({ RATE_BURST: "100000", RATE_PER_SEC: "100000" });
      return { writeUrl: app.url, readUrl: app.url, close: () => stopAllApps() };
    },
  ],
  [
    "two nodes over Redis",
    async () => {
      const redis: TestRedis = await startRedis();
      const env = { RATE_BURST: "100000", RATE_PER_SEC: "100000" };
      const [a, b] = await Promise.all([startNode(redis.url, "prop-a", env), startNode(redis.url, "prop-b", env)]);
      return {
        writeUrl: a!.url,
        readUrl: b!.url,
        async close() {
          await stopAllNodes();
          await redis.stop();
        },
      };
    },
  ],
];

describe.each(deployments)("random change sequences (%s)", (_name, deploy) => {
  let deployment: Deployment;
  beforeAll(async () => {
    deployment = await deploy();
  }, 30_000);
  afterEach(() => closeAllClients());
  afterAll(() => deployment.close());

  test.each([1, 2, 3, 4])("seed %i: every reader ends with the state GET …/messages shows", async (seed) => {
    const rng = random(seed);
    const roomId = `prop-${seed}-${process.pid}-${Date.now()}`;
    const people = ["Ann", "Ben", "Cat"].map((name) => ({ sub: uniqueUserId(name), name }));
    const moderator = { sub: uniqueUserId("mod"), name: "Mod", role: "moderator" };
    const writers = await Promise.all(
      [...people, moderator].map((claims) => connectClient(deployment.writeUrl, { claims })),
    );
    for (const socket of writers) await request(socket, "room:join", { roomId });
    const readToken = signToken({ sub: uniqueUserId("reader") });

    // The observer: a Socket.IO client that drops and resumes with `since`.
    const observed = new RoomState();
    let observer: HuddleClient | undefined;
    const connectObserver = async () => {
      const socket = await connectClient(deployment.readUrl, { token: readToken });
      socket.on("message:new", (m) => observed.apply(m, m.id));
      socket.on("message:updated", (m) => observed.apply(m, m.rev));
      const payload = observed.position ? { roomId, since: observed.position } : { roomId };
      const ack = await request(socket, "room:join", payload);
      if (!ack.ok) throw new Error(`observer join failed: ${JSON.stringify(ack)}`);
      observed.joined(ack);
      observer = socket;
    };
    await connectObserver();

    // The SSE reader: reconnects with Last-Event-ID.
    const streamed = new RoomState();
    let stream: SseStream | undefined;
    let consumed = 0;
    const drain = () => {
      for (; stream && consumed < stream.events.length; consumed++) {
        const event = stream.events[consumed]!;
        if (event.event === "message" || event.event === "update") streamed.apply(JSON.parse(event.data), event.id!);
      }
    };
    const openStream = async () => {
      const headers: Record<string, string> = { authorization: `Bearer ${readToken}` };
      if (streamed.position) headers["last-event-id"] = streamed.position;
      stream = await openSse(`${deployment.readUrl}/api/rooms/${roomId}/events`, headers);
      consumed = 0;
    };
    await openStream();

    // The poller: follows its cursor from the room's first message (a poll without a known `after` means
    // "from now on", so a poller starts from a message it has).
    const first = await request(writers[0]!, "message:send", { roomId, text: "first" });
    if (!first.ok) throw new Error("first send failed");
    const sent: Message[] = [first.message];
    const polled = new RoomState();
    polled.apply(first.message, first.message.id);
    let cursor = first.message.id;
    const pollOnce = async () => {
      const query = `?after=${cursor}&timeout=0`;
      const res = await http(`${deployment.readUrl}/api/rooms/${roomId}/poll${query}`, {
        headers: { authorization: `Bearer ${readToken}` },
      });
      for (const m of [...res.body.messages, ...res.body.updates] as Message[]) polled.apply(m, m.rev);
      cursor = res.body.cursor;
    };

    for (let step = 0; step < 40; step++) {
      const who = rng.next() < 0.2 ? writers.length - 1 : Math.floor(rng.next() * people.length);
      const socket = writers[who]!;
      const target = sent.length > 0 ? rng.pick(sent) : undefined;
      const roll = rng.next();
      if (!target || roll < 0.35) {
        const replyTo = target && rng.next() < 0.3 ? target.id : undefined;
        const ack = await request(socket, "message:send", { roomId, text: `s${step}`, ...(replyTo && { replyTo }) });
        if (ack.ok) sent.push(ack.message);
      } else if (roll < 0.5) {
        await request(socket, "message:edit", { roomId, id: target.id, text: `edit ${step}` });
      } else if (roll < 0.6) {
        await request(socket, "message:delete", { roomId, id: target.id });
      } else {
        const emoji = rng.pick(["👍", "🎉", ":ship:"]);
        await request(socket, rng.next() < 0.7 ? "reaction:add" : "reaction:remove", { roomId, id: target.id, emoji });
      }
      // Readers drop and come back at random moments.
      if (rng.next() < 0.15) {
        if (observer) {
          observer.close();
          observer = undefined;
        } else await connectObserver();
      }
      if (rng.next() < 0.15) {
        drain();
        stream?.close();
        await openStream();
      }
      if (rng.next() < 0.3) await pollOnce();
    }
    if (!observer) await connectObserver();

    const truth = await restHistory(deployment.readUrl, roomId, readToken);
    expect(truth.length).toBeGreaterThan(0);
    const same = (state: RoomState) => JSON.stringify(state.sorted()) === JSON.stringify(truth);
    await eventually(() => same(observed), "the observer to reach the stored state", 5000).catch(() => {});
    expect(observed.sorted()).toEqual(truth);
    await eventually(
      () => {
        drain();
        return same(streamed);
      },
      "the SSE reader to reach the stored state",
      5000,
    ).catch(() => {});
    expect(streamed.sorted()).toEqual(truth);
    for (let i = 0; i < 5 && !same(polled); i++) await pollOnce();
    expect(polled.sorted()).toEqual(truth);
    stream?.close();
  });
});
