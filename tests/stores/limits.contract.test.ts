/**
 * The rate limiter and connection registry contracts, over every
 * implementation: a user's budget and connection cap are the same whichever
 * node they come through.
 */
import { uniqueUserId } from "../helpers/tokens";
import { EPHEMERAL_KINDS, openKit, useContractRedis, type Kit } from "./store-kits";

const redis = useContractRedis();

describe.each(EPHEMERAL_KINDS)("rate limiter (%s)", (kind) => {
  let kit: Kit;
  let user: string;
  beforeAll(async () => {
    kit = await openKit(kind, redis(), { RATE_BURST: "3", RATE_PER_SEC: "2" });
  });
  beforeEach(() => {
    user = uniqueUserId();
  });

  test("allows a burst, then refuses with the time until the next token, across nodes", async () => {
    const now = Date.now();
    expect(await kit.a.messageLimiter.take(user, now)).toEqual({ ok: true });
    expect(await kit.b.messageLimiter.take(user, now)).toEqual({ ok: true });
    expect(await kit.a.messageLimiter.take(user, now)).toEqual({ ok: true });
    expect(await kit.b.messageLimiter.take(user, now)).toEqual({ ok: false, retryAfterMs: 500 });
  });

  test("refills at the configured rate", async () => {
    const now = Date.now();
    for (let i = 0; i < 3; i++) await kit.a.messageLimiter.take(user, now);
    expect((await kit.b.messageLimiter.take(user, now + 250)).ok).toBe(false);
    expect(await kit.b.messageLimiter.take(user, now + 500)).toEqual({ ok: true });
    expect(await kit.a.messageLimiter.take(user, now + 600)).toEqual({ ok: false, retryAfterMs: 400 });
    expect(await kit.a.messageLimiter.take(user, now + 10_000)).toEqual({ ok: true });
  });

  test("concurrent takes on two nodes never hand out more than the burst", async () => {
    const now = Date.now();
    const decisions = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? kit.a : kit.b).messageLimiter.take(user, now)),
    );
    expect(decisions.filter((d) => d.ok)).toHaveLength(3);
  });

  test("users, and the message and typing budgets, are independent", async () => {
    const now = Date.now();
    for (let i = 0; i < 3; i++) await kit.a.messageLimiter.take(user, now);
    expect(await kit.a.messageLimiter.take(uniqueUserId(), now)).toEqual({ ok: true });
    expect(await kit.a.typingLimiter.take(user, now)).toEqual({ ok: true });
  });
});

describe.each(EPHEMERAL_KINDS)("connection registry (%s)", (kind) => {
  let kit: Kit;
  let user: string;
  beforeAll(async () => {
    kit = await openKit(kind, redis());
  });
  beforeEach(() => {
    user = uniqueUserId();
  });

  test("registers connections up to the cap, counting every node", async () => {
    expect(await kit.a.connections.acquire(user, "a:1", 2)).toBe(true);
    expect(await kit.b.connections.acquire(user, "b:1", 2)).toBe(true);
    expect(await kit.a.connections.acquire(user, "a:2", 2)).toBe(false);
    expect(await kit.b.connections.acquire(uniqueUserId(), "b:2", 2)).toBe(true);
  });

  test("a release frees a slot, on any node", async () => {
    await kit.a.connections.acquire(user, "a:1", 1);
    expect(await kit.b.connections.acquire(user, "b:1", 1)).toBe(false);
    await kit.a.connections.release(user, "a:1");
    expect(await kit.b.connections.acquire(user, "b:1", 1)).toBe(true);
  });

  test("acquiring a registered connection again succeeds and takes no second slot", async () => {
    expect(await kit.a.connections.acquire(user, "a:1", 2)).toBe(true);
    expect(await kit.a.connections.acquire(user, "a:1", 2)).toBe(true);
    expect(await kit.b.connections.acquire(user, "b:1", 2)).toBe(true);
  });

  test("releasing an unknown connection is harmless", async () => {
    await expect(kit.a.connections.release(user, "nope")).resolves.toBeUndefined();
    expect(await kit.a.connections.acquire(user, "a:1", 1)).toBe(true);
  });

  test("slots are counted right while a user's connections come and go in any order", async () => {
    const [a1, a2, a3, a4, a5] = ["a:1", "a:2", "a:3", "a:4", "a:5"];
    for (const id of [a1, a2, a3]) expect(await kit.a.connections.acquire(user, id!, 3)).toBe(true);
    expect(await kit.a.connections.acquire(user, a4!, 3)).toBe(false);
    await kit.a.connections.release(user, a1!);
    await kit.a.connections.release(user, a3!);
    // One left (a2): holding it again takes no slot, and two new ones fit.
    expect(await kit.a.connections.acquire(user, a2!, 3)).toBe(true);
    expect(await kit.a.connections.acquire(user, a4!, 3)).toBe(true);
    expect(await kit.a.connections.acquire(user, a5!, 3)).toBe(true);
    expect(await kit.a.connections.acquire(user, a1!, 3)).toBe(false);
    for (const id of [a2, a4, a5]) await kit.a.connections.release(user, id!);
    await kit.a.connections.release(user, a2!);
    expect(await kit.a.connections.acquire(user, a1!, 1)).toBe(true);
    expect(await kit.a.connections.acquire(user, a2!, 1)).toBe(false);
  });

  test("a cap of 0 admits nobody", async () => {
    expect(await kit.a.connections.acquire(user, "a:1", 0)).toBe(false);
  });

  test("concurrent acquires on two nodes never pass the cap", async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? kit.a : kit.b).connections.acquire(user, `c:${i}`, 4)),
    );
    expect(results.filter(Boolean)).toHaveLength(4);
  });
});
