/**
 * The typed client's read state (§9) against a real server: `markRead`,
 * `reads`, `listRooms`, `leave` with `forget`, the `read` event (to every
 * connection of the user, joined or not; to the room for public markers),
 * and the unread helpers kept by the events alone agreeing with the server.
 */
import type { HuddleClient, JoinedEvent, Message, ReadUpdate } from "@huddle/client";
import {
  NOTHING_READ,
  readAfterAnswer,
  readAfterMessage,
  readAfterUpdate,
  readFromJoin,
  readFromSummary,
  seenBy,
  unreadCount,
  type ReadState,
} from "@huddle/client";
import { startApp, stopAllApps, type TestApp } from "../helpers/app";
import { eventually, sleep } from "../helpers/clients";
import { uniqueUserId } from "../helpers/tokens";
import { closeAllTestClients, nextEvent, startClient } from "./client-helpers";

let server: TestApp;
let room = 0;
const newRoom = () => `reads-${process.pid}-${++room}`;

beforeAll(async () => {
  server = await startApp({ RATE_BURST: "500", RATE_PER_SEC: "100" });
});
afterEach(() => closeAllTestClients());
afterAll(() => stopAllApps());

/** A person: one client per call with the same `sub` is another tab of the same user. */
function person(name: string) {
  const claims = { sub: uniqueUserId(name), name };
  return { claims, tab: () => startClient(server.url, { claims }).client };
}

async function sendAll(client: HuddleClient, roomId: string, texts: string[]): Promise<Message[]> {
  const sent: Message[] = [];
  for (const text of texts) sent.push(await client.send(roomId, text));
  return sent;
}

/** Every `read` event of `client`, in order. */
function reads(client: HuddleClient): ReadUpdate[] {
  const seen: ReadUpdate[] = [];
  client.on("read", (update) => seen.push(update));
  return seen;
}

describe("markRead, reads and the read event", () => {
  test("a first join reads nothing old; markRead moves the marker forward only and answers what is left", async () => {
    const roomId = newRoom();
    const alice = person("Alice").tab();
    await alice.join(roomId);
    const [one] = await sendAll(alice, roomId, ["one"]);
    const bob = person("Bob").tab();
    const joined = await bob.join(roomId);
    expect(joined).toMatchObject({ readUpTo: one!.id, unread: 0 });

    const [two, three, four] = await sendAll(alice, roomId, ["two", "three", "four"]);
    expect(await bob.markRead(roomId, three!.id)).toEqual({ readUpTo: three!.id, unread: 1 });
    // An older message answers the marker as it stands.
    expect(await bob.markRead(roomId, two!.id)).toEqual({ readUpTo: three!.id, unread: 1 });
    expect(await bob.markRead(roomId, four!.id, { private: true })).toEqual({ readUpTo: four!.id, unread: 0 });
  });

  test("refusals: a room not joined is not_joined without asking; a message of another room is not_found", async () => {
    const roomId = newRoom();
    const other = newRoom();
    const alice = person("Alice").tab();
    await alice.join(roomId);
    await alice.join(other);
    const [elsewhere] = await sendAll(alice, other, ["elsewhere"]);
    const bob = person("Bob");
    const tab = startClient(server.url, { claims: bob.claims });
    await tab.client.join(roomId);
    await expect(tab.client.markRead(other, elsewhere!.id)).rejects.toMatchObject({ code: "not_joined" });
    await expect(tab.client.reads(other)).rejects.toMatchObject({ code: "not_joined" });
    expect(tab.outgoing.filter((o) => o.event === "room:read" || o.event === "room:reads")).toEqual([]);
    await expect(tab.client.markRead(roomId, elsewhere!.id)).rejects.toMatchObject({ code: "not_found" });
  });

  test("every tab of the user gets `read`, joined or not; the room's others get public markers only", async () => {
    const roomId = newRoom();
    const alice = person("Alice").tab();
    const bob = person("Bob");
    const bobHere = bob.tab();
    const bobElsewhere = bob.tab(); // never joins the room
    await alice.join(roomId);
    await bobHere.join(roomId);
    await bobElsewhere.join(newRoom());
    const toAlice = reads(alice);
    const toElsewhere = reads(bobElsewhere);
    const [m1, m2] = await sendAll(alice, roomId, ["one", "two"]);

    const seenElsewhere = nextEvent(bobElsewhere, "read", (u) => u.roomId === roomId);
    const seenByAlice = nextEvent(alice, "read", (u) => u.roomId === roomId);
    await bobHere.markRead(roomId, m1!.id);
    const first = await seenElsewhere;
    expect(first).toEqual({ roomId, user: bobHere.user, readUpTo: m1!.id, readSeq: m1!.seq });
    expect(await seenByAlice).toEqual(first);

    // A private read: Bob's other tab is told (after the one-a-second window), Alice is not.
    await sleep(1100);
    const privately = nextEvent(bobElsewhere, "read", (u) => u.readUpTo === m2!.id, 3000);
    await bobHere.markRead(roomId, m2!.id, { private: true });
    expect(await privately).toMatchObject({ readSeq: m2!.seq });
    await sleep(1200);
    expect(toAlice.map((u) => u.readUpTo)).toEqual([m1!.id]);
    expect(toElsewhere.map((u) => u.readUpTo)).toEqual([m1!.id, m2!.id]);
  });

  test("reads lists public markers highest first; with the authors, seenBy says who saw a message", async () => {
    const roomId = newRoom();
    const alice = person("Alice").tab();
    const bob = person("Bob").tab();
    const carol = person("Carol").tab();
    for (const c of [alice, bob, carol]) await c.join(roomId);
    const [m1, m2] = await sendAll(alice, roomId, ["one", "two"]);
    await bob.markRead(roomId, m2!.id);
    await carol.markRead(roomId, m1!.id);
    const markers = await alice.reads(roomId);
    // Alice's own messages moved her public marker too.
    expect(markers.map((m) => [m.user.name, m.readSeq]).sort()).toEqual([
      ["Alice", m2!.seq],
      ["Bob", m2!.seq],
      ["Carol", m1!.seq],
    ]);
    expect(markers.map((m) => m.readSeq)).toEqual([m2!.seq, m2!.seq, m1!.seq]);
    const names = (m: Message) => seenBy(m, markers, [], alice.user!.id).map((u) => u.name);
    expect(names(m2!)).toEqual(["Bob"]);
    expect(names(m1!)).toEqual(["Bob", "Carol"]);
    // Carol writes: her message moves her marker (no event), and seenBy counts her for everything before it.
    const [reply] = await sendAll(carol, roomId, ["three"]);
    expect(seenBy(m2!, markers, [m1!, m2!, reply!], alice.user!.id).map((u) => u.name)).toEqual(["Bob", "Carol"]);
    expect((await alice.reads(roomId)).find((m) => m.user.name === "Carol")?.readSeq).toBe(reply!.seq);
  });
});

describe("listRooms and leave with forget", () => {
  test("the same list on every device, newest activity first, with unread counts and the last message", async () => {
    const [quiet, busy, latest] = [newRoom(), newRoom(), newRoom()];
    const alice = person("Alice").tab();
    const bob = person("Bob");
    const phone = bob.tab();
    for (const roomId of [quiet, busy, latest]) {
      await phone.join(roomId);
      await alice.join(roomId);
    }
    await sendAll(alice, busy, ["b1", "b2"]);
    await sleep(5);
    const [last] = await sendAll(alice, latest, ["l1"]);
    const laptop = bob.tab(); // joins nothing
    const list = await laptop.listRooms();
    expect(list.map((r) => [r.roomId, r.unread])).toEqual([
      [latest, 1],
      [busy, 2],
      [quiet, 0],
    ]);
    expect(list[0]!.lastMessage).toEqual(last);
    expect(await phone.listRooms()).toEqual(list);
  });

  test("leave with forget takes the room off the list, even from a connection that is not in it", async () => {
    const [kept, dropped, droppedElsewhere] = [newRoom(), newRoom(), newRoom()];
    const bob = person("Bob");
    const phone = bob.tab();
    for (const roomId of [kept, dropped, droppedElsewhere]) await phone.join(roomId);
    await phone.leave(dropped, { forget: true });
    expect(phone.rooms).toEqual([kept, droppedElsewhere]);
    const laptop = bob.tab();
    await laptop.leave(droppedElsewhere, { forget: true });
    expect((await laptop.listRooms()).map((r) => r.roomId)).toEqual([kept]);
    // The phone is still in the room it did not leave itself; it just is no longer one of Bob's rooms.
    expect(phone.rooms).toEqual([kept, droppedElsewhere]);
    // Joining again starts afresh: the room is back, nothing of before unread.
    await laptop.join(dropped);
    expect((await laptop.listRooms()).map((r) => [r.roomId, r.unread])).toEqual([
      [dropped, 0],
      [kept, 0],
    ]);
  });

  test("leave with forget while offline waits for the connection, then tells the server", async () => {
    const roomId = newRoom();
    const bob = person("Bob");
    const tab = startClient(server.url, { claims: bob.claims, autoConnect: false });
    const leaving = tab.client.leave(roomId, { forget: true });
    tab.client.connect();
    await leaving;
    expect(tab.outgoing.filter((o) => o.event === "room:leave").map((o) => o.payload)).toEqual([
      { roomId, forget: true },
    ]);
  });
});

describe("the unread helpers, fed by the client's events only", () => {
  test("two tabs of one user agree with the server: new messages count, my messages and reads elsewhere clear", async () => {
    const roomId = newRoom();
    const alice = person("Alice").tab();
    await alice.join(roomId);
    await sendAll(alice, roomId, ["before Bob"]);
    const bob = person("Bob");
    const watcher = bob.tab();
    const reader = bob.tab();

    // What an app keeps for the room on Bob's watching tab, from events alone.
    let state: ReadState = NOTHING_READ;
    let messages: Message[] = [];
    const me = () => watcher.user?.id;
    watcher.on("joined", (j: JoinedEvent) => {
      messages = j.reset ? [...j.messages] : [...messages, ...j.messages];
      state = readFromJoin(j, messages);
    });
    watcher.on("message", (m) => {
      messages.push(m);
      state = readAfterMessage(state, m, me());
    });
    watcher.on("read", (u) => {
      if (u.roomId === roomId && u.user.id === me()) state = readAfterUpdate(state, u);
    });
    await watcher.join(roomId);
    await reader.join(roomId);
    expect(unreadCount(state)).toBe(0);

    const sent = await sendAll(alice, roomId, ["a", "b", "c"]);
    await eventually(() => unreadCount(state) === 3, "3 unread");
    expect((await watcher.listRooms()).find((r) => r.roomId === roomId)?.unread).toBe(3);

    // The other tab reads up to "b": this one hears of it and counts 1.
    await reader.markRead(roomId, sent[1]!.id);
    await eventually(() => unreadCount(state) === 1, "1 unread after the other tab read");
    expect(state.readUpTo).toBe(sent[1]!.id);

    // Bob writes from the other tab: his message reads the room, here too, without a read event.
    await sendAll(alice, roomId, ["d"]);
    await reader.send(roomId, "my answer");
    await eventually(() => messages.at(-1)?.text === "my answer", "my own message");
    expect(unreadCount(state)).toBe(0);
    const summary = (await watcher.listRooms()).find((r) => r.roomId === roomId)!;
    expect(summary.unread).toBe(0);
    expect(readFromSummary(summary)).toEqual(state);
  });

  test("a markRead answer, applied with the messages known, leaves what the server counts", async () => {
    const roomId = newRoom();
    const alice = person("Alice").tab();
    const bob = person("Bob").tab();
    await alice.join(roomId);
    const join = await bob.join(roomId);
    const sent = await sendAll(alice, roomId, ["1", "2", "3", "4"]);
    let state = readFromJoin(join, []);
    for (const m of sent) state = readAfterMessage(state, m, bob.user!.id);
    expect(unreadCount(state)).toBe(4);
    const answer = await bob.markRead(roomId, sent[1]!.id);
    state = readAfterAnswer(state, answer, sent);
    expect(unreadCount(state)).toBe(answer.unread);
    expect(state).toEqual({ readUpTo: sent[1]!.id, readSeq: sent[1]!.seq, lastSeq: sent[3]!.seq });
  });
});
