/**
 * The Redis message store's fused send (`appendWithinBudget`): the sender's
 * token, the idempotency check, the append and the publication in one round
 * trip, spending the same budget as the message limiter, across nodes.
 */
import type { Message, User } from "../../shared";
import type { MessageStore } from "../../server/features/chat/message.store";
import { eventually } from "../helpers/clients";
import { startRedis, type TestRedis } from "../helpers/redis-server";
import { closeKits, openKit, type Kit } from "./store-kits";

let redis: TestRedis;
let kit: Kit;
beforeAll(async () => {
  redis = await startRedis();
  kit = await openKit("redis", { env: { REDIS_URL: redis.url } }, { RATE_BURST: "3", RATE_PER_SEC: "1" });
  await kit.follow("budget-room");
});
afterAll(async () => {
  await closeKits();
  await redis?.stop();
});

let users = 0;
const freshUser = (): User => ({ id: `sender-${++users}`, name: "Sender" });
const draft = (user: User, text: string, clientMsgId?: string) => ({
  roomId: "budget-room",
  user,
  text,
  clientMsgId,
  ts: Date.now(),
});
const send = (store: MessageStore, user: User, text: string, clientMsgId?: string) =>
  store.appendWithinBudget!(draft(user, text, clientMsgId), user.id, Date.now());

test("the Redis message store offers the fused send", () => {
  expect(typeof kit.a.messages.appendWithinBudget).toBe("function");
});

test("stores and publishes within the burst, then refuses with retryAfterMs and stores nothing", async () => {
  const user = freshUser();
  for (let i = 0; i < 3; i++) await expect(send(kit.a.messages, user, `m${i}`)).resolves.toHaveProperty("message");
  const refused = await send(kit.a.messages, user, "too fast");
  expect(refused).toEqual({ retryAfterMs: expect.any(Number) });
  expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
  expect((refused as { retryAfterMs: number }).retryAfterMs).toBeLessThanOrEqual(1000);
  const stored = (await kit.a.messages.latest("budget-room", 100)).messages.filter((m) => m.user.id === user.id);
  expect(stored.map((m) => m.text)).toEqual(["m0", "m1", "m2"]);
  await eventually(
    () => kit.eventsB.filter((e) => e.type === "message" && e.message.user.id === user.id).length === 3,
    "three message events on the other node",
  );
});

test("is one budget across nodes and with the message limiter", async () => {
  const user = freshUser();
  await send(kit.a.messages, user, "from a");
  await send(kit.b.messages, user, "from b");
  expect((await kit.a.messageLimiter.take(user.id, Date.now())).ok).toBe(true);
  await expect(send(kit.b.messages, user, "fourth")).resolves.toEqual({ retryAfterMs: expect.any(Number) });
});

test("a stored clientMsgId returns its first message without spending a token, even with the budget spent", async () => {
  const user = freshUser();
  const first = (await send(kit.a.messages, user, "first", "c-1")) as { message: Message; duplicate: boolean };
  expect(first.duplicate).toBe(false);
  await send(kit.a.messages, user, "second");
  await send(kit.a.messages, user, "third");
  await expect(send(kit.b.messages, user, "first again", "c-1")).resolves.toEqual({
    message: first.message,
    duplicate: true,
  });
  await expect(send(kit.a.messages, user, "new", "c-2")).resolves.toEqual({ retryAfterMs: expect.any(Number) });
});
