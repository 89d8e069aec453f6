/**
 * transport/room-order.ts over a real (memory) message store: a followed
 * room's changes are delivered in position order whatever order the bus
 * brings them in; a change lost on the way is read from the store after a
 * short wait; a room starts from its newest position; rooms not followed
 * pass through.
 */
import type { Message, User } from "../../shared";
import type { RoomEvent } from "../../server/core/bus";
import { createMemoryBus } from "../../server/core/bus";
import { editRule } from "../../server/features/chat/message-rules";
import { createMemoryMessageStore } from "../../server/features/chat/message.memory";
import { createRoomOrder, type RoomOrder, type RoomOrderOptions } from "../../server/transport/room-order";
import { eventually, sleep } from "../helpers/clients";

const alice: User = { id: "alice", name: "Alice" };

function setup(gapWaitMs = 50, bus: Pick<RoomOrderOptions, "subscribe" | "unsubscribe"> = {}) {
  // The store publishes to a bus nobody reads: the test hands events to the order itself, in any order.
  const messages = createMemoryMessageStore({ bus: createMemoryBus() });
  const delivered: RoomEvent[] = [];
  const errors: unknown[] = [];
  const order: RoomOrder = createRoomOrder({
    messages,
    deliver: (event) => delivered.push(event),
    gapWaitMs,
    lingerMs: 100,
    onError: (error) => errors.push(error),
    ...bus,
  });
  const send = async (text: string) =>
    (await messages.append({ roomId: "r", user: alice, text, ts: Date.now() })).message;
  const asEvent = (message: Message): RoomEvent => ({ type: "message", roomId: "r", message });
  const texts = () => delivered.map((e) => (e.type === "message" || e.type === "update" ? e.message.text : e.type));
  return { messages, order, delivered, errors, send, asEvent, texts };
}

test("events of a followed room that arrive out of order are delivered in position order", async () => {
  const { order, send, asEvent, texts } = setup();
  await order.follow("r");
  const [m1, m2, m3] = [await send("one"), await send("two"), await send("three")];
  order.push(asEvent(m3!));
  order.push(asEvent(m1!));
  expect(texts()).toEqual(["one"]);
  order.push(asEvent(m2!));
  expect(texts()).toEqual(["one", "two", "three"]);
  order.push(asEvent(m2!));
  expect(texts()).toEqual(["one", "two", "three"]);
});

test("a change that never arrives is read from the store after the wait, as it is now, and delivery goes on", async () => {
  const { order, send, asEvent, texts, messages, delivered } = setup(40);
  await order.follow("r");
  const lost = await send("lost on the way");
  const { message: edited } = await messages.change("r", lost.id, editRule(alice, "lost, then edited", 1));
  const after = await send("after");
  order.push(asEvent(after));
  expect(texts()).toEqual([]);
  await eventually(() => delivered.length === 2, "the gap filled from the store");
  expect(delivered[0]).toEqual({ type: "message", roomId: "r", message: edited });
  expect(texts()).toEqual(["lost, then edited", "after"]);
  // The edit's own event, arriving late, is not delivered twice.
  order.push({ type: "update", roomId: "r", message: edited });
  expect(delivered).toHaveLength(2);
});

test("a room starts from its newest position: what was stored before is not delivered again", async () => {
  const { order, send, asEvent, texts } = setup();
  const old = await send("before following");
  await order.follow("r");
  order.push(asEvent(old));
  const next = await send("after following");
  order.push(asEvent(next));
  expect(texts()).toEqual(["after following"]);
});

test("events that arrive while the room is being subscribed and its start read wait for it", async () => {
  let subscribed!: () => void;
  const { order, send, asEvent, texts } = setup(50, {
    subscribe: () => new Promise<void>((resolve) => (subscribed = resolve)),
  });
  const first = await send("first");
  const following = order.follow("r");
  order.push(asEvent(first));
  // Stored before the start is read (the subscription is not active yet): the joiner's history has it.
  const second = await send("second");
  order.push(asEvent(second));
  subscribed();
  await following;
  const third = await send("third");
  order.push(asEvent(third));
  expect(texts()).toEqual(["third"]);
});

test("a room is subscribed before its start is read, and unsubscribed a linger after its last listener left", async () => {
  const calls: string[] = [];
  const { order, messages } = setup(50, {
    subscribe: async (roomId) => void calls.push(`subscribe ${roomId}`),
    unsubscribe: (roomId) => void calls.push(`unsubscribe ${roomId}`),
  });
  const head = messages.head.bind(messages);
  messages.head = (roomId) => (calls.push(`head ${roomId}`), head(roomId));
  await order.follow("r");
  await order.follow("r");
  expect(calls).toEqual(["subscribe r", "head r"]);
  order.unfollow("r");
  order.unfollow("r");
  await sleep(50);
  expect(calls).toHaveLength(2); // lingering: a quick rejoin costs nothing
  await eventually(() => calls.length === 3, "the unsubscribe after the linger");
  expect(calls[2]).toBe("unsubscribe r");
  expect(order.followed()).toBe(0);
});

test("a failed subscription still starts the room; catchUp then reads what the bus did not bring", async () => {
  const { order, send, asEvent, texts, errors } = setup(50, {
    subscribe: () => Promise.reject(new Error("redis away")),
  });
  await order.follow("r");
  expect(errors).toHaveLength(1);
  await send("lost one");
  await send("lost two");
  order.catchUp();
  await eventually(() => texts().length === 2, "the missed messages");
  const next = await send("heard");
  order.push(asEvent(next));
  expect(texts()).toEqual(["lost one", "lost two", "heard"]);
});

test("rooms not followed, and events without a position, pass straight through", async () => {
  const { order, send, asEvent, delivered } = setup();
  const m = await send("unfollowed");
  order.push(asEvent(m));
  order.push({ type: "typing", roomId: "r", users: [] });
  expect(delivered).toHaveLength(2);
});

test("a room unfollowed and followed again within the linger keeps its position; after it, starts afresh", async () => {
  const { order, send, asEvent, texts } = setup();
  await order.follow("r");
  order.unfollow("r");
  await order.follow("r");
  expect(order.followed()).toBe(1);
  order.unfollow("r");
  await sleep(150);
  expect(order.followed()).toBe(0);
  const m = await send("after the linger");
  order.push(asEvent(m));
  expect(texts()).toEqual(["after the linger"]);
});
