/**
 * The typed client's message changes (§8) against a real server: edits,
 * deletes, reactions and replies, what the other members see (`updated`),
 * and a client that was away while messages changed catching up with
 * `since` to exactly the server's state.
 */
import { createMemoryStores, type Stores } from "../../server/stores";
import type { HuddleClient, Message } from "@huddle/client";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { eventually, sleep } from "../helpers/clients";
import { closeAllTestClients, nextEvent, reachState, startClient } from "./client-helpers";

let server: TestApp;
let room = 0;
const newRoom = () => `changes-${process.pid}-${++room}`;
// random() = 1 takes the whole backoff window: the first retry after a drop comes after exactly 300 ms.
const fixedBackoff = { backoff: { baseMs: 300, maxMs: 1000 }, random: () => 1 };

beforeAll(async () => {
  server = await startApp({ RATE_BURST: "500", RATE_PER_SEC: "100" });
});
afterEach(() => closeAllTestClients());
afterAll(() => stopAllApps());

/** What a UI following the client's contract shows for `roomId`: joined (then its updates), message, updated. */
function viewOf(client: HuddleClient, roomId: string): { messages: Message[]; updated: Message[] } {
  const view = { messages: [] as Message[], updated: [] as Message[] };
  const replace = (m: Message) => (view.messages = view.messages.map((old) => (old.id === m.id ? m : old)));
  client.on("joined", (j) => {
    if (j.roomId !== roomId) return;
    view.messages = j.reset ? [...j.messages] : [...view.messages, ...j.messages];
    j.updates.forEach(replace);
  });
  client.on("message", (m) => m.roomId === roomId && view.messages.push(m));
  client.on("updated", (m) => {
    if (m.roomId !== roomId) return;
    view.updated.push(m);
    replace(m);
  });
  return view;
}

/** The room as a client that just joined reads it: the newest 100 messages, in their current state. */
async function serverState(roomId: string, app = server): Promise<Message[]> {
  const reader = startClient(app.url).client;
  await reader.join(roomId);
  const page = await reader.history(roomId, { limit: 100 });
  reader.close();
  return page.messages;
}

/** Memory stores whose reads for a join (with and without `since`) wait up to `ms` before and after reading. */
function slowJoinStores(ms: number): Stores {
  const stores = createMemoryStores({
    historyMax: 1000,
    messageLimit: { burst: 500, perSecond: 100 },
    typingLimit: { burst: 500, perSecond: 100 },
  });
  const { messages } = stores;
  const pause = () => sleep(Math.random() * ms);
  const slowly =
    <A extends unknown[], R>(read: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      await pause();
      const result = await read(...args);
      await pause();
      return result;
    };
  const slowMessages = Object.create(messages) as typeof messages;
  slowMessages.since = slowly(messages.since.bind(messages));
  slowMessages.latest = slowly(messages.latest.bind(messages));
  return { ...stores, messages: slowMessages };
}

/** The parts of a message a change touches, for comparing views (a resumed view keeps what it was sent). */
const shape = (m: Message) => ({
  id: m.id,
  seq: m.seq,
  text: m.text,
  deleted: m.deleted,
  editedAt: m.editedAt,
  replyTo: m.replyTo,
  reactions: m.reactions ?? [],
});

describe("calls", () => {
  test("edits, reacts, unreacts and deletes, each resolving with the message in its new state", async () => {
    const roomId = newRoom();
    const { client: alice } = startClient(server.url, { claims: { name: "Alice" } });
    await alice.join(roomId);
    const sent = await alice.send(roomId, "helo");

    const edited = await alice.edit(roomId, sent.id, "  hello \r\n");
    expect(edited).toMatchObject({ id: sent.id, seq: sent.seq, text: "hello", ts: sent.ts });
    expect(edited.editedAt).toEqual(expect.any(Number));
    expect(edited.rev).not.toBe(sent.rev);

    const reacted = await alice.react(roomId, sent.id, "👍");
    expect(reacted.reactions).toEqual([{ emoji: "👍", count: 1, userIds: [alice.user!.id] }]);
    const unreacted = await alice.unreact(roomId, sent.id, "👍");
    expect(unreacted.reactions ?? []).toEqual([]);

    const tombstone = await alice.delete(roomId, sent.id);
    expect(tombstone).toMatchObject({ id: sent.id, deleted: true, text: "" });
    expect(tombstone.editedAt).toBeUndefined();
    // Deleting twice is fine and changes nothing.
    await expect(alice.delete(roomId, sent.id)).resolves.toMatchObject({ rev: tombstone.rev });
  });

  test("a reply carries replyTo, and the other member receives every change once as updated, in order", async () => {
    const roomId = newRoom();
    const { client: alice } = startClient(server.url, { claims: { name: "Alice" } });
    const { client: bob } = startClient(server.url, { claims: { name: "Bob" } });
    await alice.join(roomId);
    await bob.join(roomId);
    const bobView = viewOf(bob, roomId);
    const question = await alice.send(roomId, "lunch?");
    const answer = await bob.send(roomId, "yes!", { replyTo: question.id });
    expect(answer.replyTo).toBe(question.id);

    await alice.react(roomId, answer.id, "🎉");
    await alice.react(roomId, answer.id, "🎉"); // twice: no change, no event
    await alice.edit(roomId, question.id, "lunch at noon?");
    await alice.edit(roomId, question.id, "lunch at noon?"); // the same text: no change, no event
    await eventually(() => bobView.updated.length >= 2, "Bob to receive both changes");
    await sleep(100);
    expect(bobView.updated.map((m) => [m.id, m.text, m.reactions?.map((r) => r.emoji) ?? []])).toEqual([
      [answer.id, "yes!", ["🎉"]],
      [question.id, "lunch at noon?", []],
    ]);
    expect(bobView.messages.map((m) => m.text)).toEqual(["lunch at noon?", "yes!"]);
  });

  test("refusals reject with the protocol's code", async () => {
    const roomId = newRoom();
    const { client: alice } = startClient(server.url);
    const { client: bob, outgoing } = startClient(server.url);
    await alice.join(roomId);
    await bob.join(roomId);
    const mine = await alice.send(roomId, "mine");
    await expect(bob.edit(roomId, mine.id, "hijacked")).rejects.toMatchObject({
      name: "HuddleClientError",
      code: "forbidden",
    });
    await expect(bob.delete(roomId, mine.id)).rejects.toMatchObject({ code: "forbidden" });
    await expect(bob.react(roomId, "no-such-id", "👍")).rejects.toMatchObject({ code: "not_found" });
    await expect(bob.react(roomId, mine.id, "two words")).rejects.toMatchObject({ code: "bad_request" });
    await expect(bob.send(roomId, "re", { replyTo: "no-such-id" })).rejects.toMatchObject({ code: "not_found" });
    await expect(bob.edit("elsewhere", mine.id, "x")).rejects.toMatchObject({ code: "not_joined" });
    // Checked before asking: an empty edit never goes out.
    await expect(alice.edit(roomId, mine.id, " \n ")).rejects.toMatchObject({ code: "bad_request" });
    await alice.delete(roomId, mine.id);
    await expect(alice.edit(roomId, mine.id, "back")).rejects.toMatchObject({ code: "not_found" });
    expect(outgoing.filter((o) => o.event === "message:edit")).toHaveLength(1);
  });

  test("at most 20 different emojis on a message: the 21st is refused as bad_request", async () => {
    const roomId = newRoom();
    const { client } = startClient(server.url);
    await client.join(roomId);
    const { id } = await client.send(roomId, "react to me");
    for (let i = 0; i < 20; i++) await client.react(roomId, id, `:e${i}:`);
    await expect(client.react(roomId, id, ":e20:")).rejects.toMatchObject({ code: "bad_request" });
  });

  test("a moderator deletes someone else's message", async () => {
    const roomId = newRoom();
    const { client: alice } = startClient(server.url);
    const { client: moderator } = startClient(server.url, { claims: { name: "Mod", role: "moderator" } });
    await alice.join(roomId);
    await moderator.join(roomId);
    const aliceView = viewOf(alice, roomId);
    const message = await alice.send(roomId, "something rude");
    await expect(moderator.delete(roomId, message.id)).resolves.toMatchObject({ deleted: true });
    await eventually(() => aliceView.messages[0]?.deleted === true, "Alice to see the tombstone");
  });
});

describe("outbox", () => {
  test("a reply whose acknowledgement was lost is re-sent with the same clientMsgId and replyTo, stored once", async () => {
    const roomId = newRoom();
    const { client, outgoing } = startClient(server.url, fixedBackoff);
    await client.join(roomId);
    const original = await client.send(roomId, "original");
    const sent = client.send(roomId, "a reply", { clientMsgId: "cm-reply", replyTo: original.id });
    expect(client.pending()).toEqual([expect.objectContaining({ clientMsgId: "cm-reply", replyTo: original.id })]);
    client.socket.io.engine.close();
    await expect(sent).resolves.toMatchObject({ clientMsgId: "cm-reply", replyTo: original.id });
    const sends = outgoing.filter((o) => o.event === "message:send" && o.payload.clientMsgId === "cm-reply");
    expect(sends.map((o) => o.payload)).toEqual([
      { roomId, text: "a reply", clientMsgId: "cm-reply", replyTo: original.id },
      { roomId, text: "a reply", clientMsgId: "cm-reply", replyTo: original.id },
    ]);
    expect((await serverState(roomId)).map((m) => m.text)).toEqual(["original", "a reply"]);
  });
});

describe("resume", () => {
  test("a client away while messages were edited, deleted and reacted to rejoins with since and matches the server", async () => {
    const roomId = newRoom();
    const { client: alice, outgoing } = startClient(server.url, { ...fixedBackoff, claims: { name: "Alice" } });
    const { client: bob } = startClient(server.url, { claims: { name: "Bob" } });
    const aliceView = viewOf(alice, roomId);
    await alice.join(roomId);
    await bob.join(roomId);
    const kept = await bob.send(roomId, "to be edited");
    const doomed = await bob.send(roomId, "to be deleted");
    const liked = await bob.send(roomId, "to be liked");
    await eventually(() => aliceView.messages.length === 3, "Alice to have the three messages");

    alice.socket.io.engine.close();
    await bob.edit(roomId, kept.id, "edited while Alice was away");
    await bob.delete(roomId, doomed.id);
    await bob.react(roomId, liked.id, "❤️");
    await bob.react(roomId, kept.id, "👀");
    await bob.send(roomId, "new while away", { replyTo: liked.id });
    const rejoin = await nextEvent(alice, "joined", (j) => j.roomId === roomId);
    await reachState(alice, "connected");

    const joins = outgoing.filter((o) => o.event === "room:join").map((o) => o.payload);
    expect(joins).toEqual([{ roomId }, { roomId, since: liked.id }]);
    expect(rejoin).toMatchObject({ resumed: true, reset: false });
    expect(rejoin.messages.map((m) => m.text)).toEqual(["new while away"]);
    // Each changed message once, in its current state, in the order of its latest change.
    expect(rejoin.updates.map((m) => m.id)).toEqual([doomed.id, liked.id, kept.id]);
    expect(aliceView.updated).toEqual([]);
    expect(aliceView.messages.map(shape)).toEqual((await serverState(roomId)).map(shape));
  });

  test("changes racing with repeated drops and slow rejoins still end in the server's state, each message once", async () => {
    // Joins that take a while on both sides of their read: live changes arrive while each join is in flight,
    // some already in its answer, some after it.
    const slow = await startApp({ RATE_BURST: "500", RATE_PER_SEC: "100" }, { stores: slowJoinStores(40) });
    const roomId = newRoom();
    const { client: alice } = startClient(slow.url, { backoff: { baseMs: 20, maxMs: 50 } });
    const { client: bob } = startClient(slow.url);
    const aliceView = viewOf(alice, roomId);
    await alice.join(roomId);
    await bob.join(roomId);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await bob.send(roomId, `m${i}`)).id);

    let stop = false;
    const dropper = (async () => {
      while (!stop) {
        await reachState(alice, "connected", 5000);
        await sleep(15 + Math.random() * 30);
        alice.socket.io.engine.close();
      }
    })();
    for (let i = 0; i < 60; i++) {
      const id = ids[i % ids.length]!;
      if (i % 3 === 0) await bob.edit(roomId, id, `m${i % ids.length} edit ${i}`);
      else if (i % 3 === 1) await bob.react(roomId, id, ["👍", "🎉", "😮"][i % 3]!);
      else ids.push((await bob.send(roomId, `n${i}`, { replyTo: id })).id);
      if (i === 45) await bob.delete(roomId, ids[1]!);
      await sleep(5);
    }
    stop = true;
    await dropper;
    await reachState(alice, "connected", 5000);
    const expected = (await serverState(roomId, slow)).map(shape);
    await eventually(
      () => JSON.stringify(aliceView.messages.map(shape)) === JSON.stringify(expected),
      "Alice's view to match the server's history",
    ).catch(() => expect(aliceView.messages.map(shape)).toEqual(expected));
    expect(new Set(aliceView.messages.map((m) => m.id)).size).toBe(aliceView.messages.length);
  });
});
