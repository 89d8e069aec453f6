/**
 * The presence and typing store contracts, over every implementation, with
 * connections spread over two nodes of the same data.
 */
import type { User } from "../../shared";
import { EPHEMERAL_KINDS, openKit, useContractRedis, type Kit } from "./store-kits";

const redis = useContractRedis();

const alice: User = { id: "alice", name: "Alice" };
const bob: User = { id: "bob", name: "Bob" };
const carol: User = { id: "carol:1\nx", name: 'Carol "C" ✓' };
let rooms = 0;
const freshRoom = () => `room-${++rooms}`;

describe.each(EPHEMERAL_KINDS)("presence store (%s)", (kind) => {
  let kit: Kit;
  let room: string;
  beforeAll(async () => {
    kit = await openKit(kind, redis());
  });
  beforeEach(() => {
    room = freshRoom();
  });

  test("a user's first connection in a room makes them a member; a second one, on another node, does not again", async () => {
    expect(await kit.a.presence.join(room, alice, "a:1")).toBe(true);
    expect(await kit.b.presence.join(room, alice, "b:1")).toBe(false);
    expect(await kit.a.presence.members(room)).toEqual([alice]);
  });

  test("joining twice through the same connection is harmless", async () => {
    expect(await kit.a.presence.join(room, alice, "a:1")).toBe(true);
    expect(await kit.a.presence.join(room, alice, "a:1")).toBe(false);
    expect(await kit.a.presence.leave(room, alice.id, "a:1")).toBe(true);
    expect(await kit.a.presence.members(room)).toEqual([]);
  });

  test("a user stays a member until their last connection leaves, whichever node it is on", async () => {
    await kit.a.presence.join(room, alice, "a:1");
    await kit.b.presence.join(room, alice, "b:1");
    expect(await kit.a.presence.leave(room, alice.id, "a:1")).toBe(false);
    expect(await kit.b.presence.members(room)).toEqual([alice]);
    expect(await kit.a.presence.count(room)).toBe(1);
    expect(await kit.b.presence.leave(room, alice.id, "b:1")).toBe(true);
    expect(await kit.a.presence.members(room)).toEqual([]);
    expect(await kit.b.presence.count(room)).toBe(0);
  });

  test("the count is the number of members, each user once", async () => {
    await kit.a.presence.join(room, alice, "a:1");
    await kit.b.presence.join(room, bob, "b:1");
    await kit.b.presence.join(room, alice, "b:2");
    expect(await kit.a.presence.count(room)).toBe(2);
    expect(await kit.b.presence.count(freshRoom())).toBe(0);
  });

  test("members are listed once each, in the order they joined", async () => {
    await kit.b.presence.join(room, bob, "b:1");
    await kit.a.presence.join(room, carol, "a:2");
    await kit.a.presence.join(room, alice, "a:1");
    await kit.b.presence.join(room, bob, "b:2");
    expect(await kit.a.presence.members(room)).toEqual([bob, carol, alice]);
  });

  test("leaving through a connection that never joined changes nothing and is not a last leave", async () => {
    await kit.a.presence.join(room, alice, "a:1");
    expect(await kit.a.presence.leave(room, alice.id, "a:404")).toBe(false);
    expect(await kit.a.presence.leave(room, bob.id, "a:1")).toBe(false);
    expect(await kit.a.presence.leave(freshRoom(), alice.id, "a:1")).toBe(false);
    expect(await kit.a.presence.members(room)).toEqual([alice]);
  });

  test("rooms are independent", async () => {
    const other = freshRoom();
    await kit.a.presence.join(room, alice, "a:1");
    await kit.a.presence.join(other, bob, "a:1");
    expect(await kit.a.presence.members(room)).toEqual([alice]);
    expect(await kit.b.presence.members(other)).toEqual([bob]);
  });
});

describe.each(EPHEMERAL_KINDS)("typing store (%s)", (kind) => {
  let kit: Kit;
  let room: string;
  beforeAll(async () => {
    kit = await openKit(kind, redis());
  });
  beforeEach(() => {
    room = freshRoom();
  });

  test("start is a change the first time, and a renewal (no change) while the user still types", async () => {
    const now = Date.now();
    expect(await kit.a.typing.start(room, alice, now + 5000)).toBe(true);
    expect(await kit.b.typing.start(room, alice, now + 6000)).toBe(false);
    expect(await kit.b.typing.list(room, now)).toEqual([alice]);
  });

  test("lists the users typing in the order they started, renewals keeping their place", async () => {
    const now = Date.now();
    await kit.a.typing.start(room, bob, now + 5000);
    await kit.b.typing.start(room, carol, now + 5000);
    await kit.a.typing.start(room, bob, now + 9000);
    await kit.b.typing.start(room, alice, now + 5000);
    expect(await kit.a.typing.list(room, now)).toEqual([bob, carol, alice]);
  });

  test("an entry whose expiry has passed is not listed", async () => {
    const now = Date.now();
    await kit.a.typing.start(room, alice, now + 1000);
    await kit.a.typing.start(room, bob, now + 5000);
    expect(await kit.b.typing.list(room, now + 1000)).toEqual([bob]);
    expect(await kit.b.typing.list(room, now + 999)).toEqual([alice, bob]);
  });

  test("expire ends an entry only once its expiry has passed, and says so once", async () => {
    const now = Date.now();
    await kit.a.typing.start(room, alice, now + 1000);
    expect(await kit.a.typing.expire(room, alice.id, now + 999)).toBe(false);
    expect(await kit.b.typing.expire(room, alice.id, now + 1000)).toBe(true);
    expect(await kit.a.typing.expire(room, alice.id, now + 2000)).toBe(false);
    expect(await kit.a.typing.list(room, now)).toEqual([]);
  });

  test("a renewal pushes the expiry back", async () => {
    const now = Date.now();
    await kit.a.typing.start(room, alice, now + 1000);
    await kit.b.typing.start(room, alice, now + 3000);
    expect(await kit.a.typing.expire(room, alice.id, now + 1000)).toBe(false);
    expect(await kit.a.typing.list(room, now + 2000)).toEqual([alice]);
  });

  test("stop ends typing at once and says whether the user was typing", async () => {
    const now = Date.now();
    await kit.a.typing.start(room, alice, now + 5000);
    expect(await kit.b.typing.stop(room, alice.id)).toBe(true);
    expect(await kit.a.typing.stop(room, alice.id)).toBe(false);
    expect(await kit.a.typing.list(room, now)).toEqual([]);
    expect(await kit.a.typing.start(room, alice, now + 5000)).toBe(true);
  });
});
