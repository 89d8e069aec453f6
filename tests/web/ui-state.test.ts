/** The web UI's pure parts: words it shows, the store over client events, and the timeline rows. */
import type { JoinedEvent, Message, OutboxEntry, User } from "../../web/src/client";
import { HuddleClientError } from "../../web/src/client";
import { connectionText, errorText, initials, roomFromHash, typingLine } from "../../web/src/ui/format";
import { activeRoom, initialState, reduce, type Action, type ChatState } from "../../web/src/ui/store";
import { buildTimeline } from "../../web/src/ui/timeline";

const alice: User = { id: "a", name: "Alice" };
const bob: User = { id: "b", name: "Bob" };
const carol: User = { id: "c", name: "Carol" };
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

describe("words", () => {
  test("the typing line names one or two people, says several for three or more, and never counts me", () => {
    expect(typingLine([], "a")).toBe("");
    expect(typingLine([alice], "a")).toBe("");
    expect(typingLine([alice, bob], "a")).toBe("Bob is typing…");
    expect(typingLine([bob, carol], "a")).toBe("Bob and Carol are typing…");
    expect(typingLine([bob, carol, { id: "d", name: "Dan" }], "a")).toBe("Several people are typing…");
  });

  test("the connection reads Connected, Reconnecting in N s…, or Offline", () => {
    expect(connectionText({ status: "connected" }, T0)).toBe("Connected");
    const waiting = { status: "reconnecting" as const, attempt: 2, delayMs: 4000, nextAttemptAt: T0 + 3200 };
    expect(connectionText(waiting, T0)).toBe("Reconnecting in 4 s…");
    expect(connectionText(waiting, T0 + 3300)).toBe("Reconnecting…");
    expect(connectionText({ status: "offline", reason: "closed" }, T0)).toBe("Offline");
  });

  test("errors read as sentences: rate limits say how long to wait", () => {
    expect(errorText(new HuddleClientError("rate_limited", "slow down", { retryAfterMs: 2100 }))).toBe(
      "You're sending too fast — try again in 3 s",
    );
    expect(errorText(new HuddleClientError("too_large", "x"))).toMatch(/too long/);
    expect(errorText(new HuddleClientError("forbidden", "x"))).toBe("You don't have access to that room");
  });

  test("a link's hash names the room as #room=id or #id; anything else is ignored", () => {
    expect(roomFromHash("#room=lobby")).toBe("lobby");
    expect(roomFromHash("#team-a")).toBe("team-a");
    expect(roomFromHash("#room=bad room")).toBeUndefined();
    expect(roomFromHash("")).toBeUndefined();
  });

  test("initials take the first letters of the first and last words", () => {
    expect(initials("Ada Lovelace")).toBe("AL");
    expect(initials("bob")).toBe("B");
    expect(initials("  ")).toBe("?");
  });
});

const message = (id: string, user: User, text: string, extra: Partial<Message> = {}): Message => ({
  id,
  roomId: "r",
  user,
  text,
  seq: 0,
  rev: id,
  ts: T0,
  ...extra,
});
const joined = (messages: Message[], extra: Partial<JoinedEvent> = {}): Action => ({
  type: "joined",
  event: {
    roomId: "r",
    members: [bob, alice],
    typing: [],
    messages,
    updates: [],
    resumed: false,
    reset: true,
    more: false,
    ...extra,
  },
});
const outbox = (status: OutboxEntry["status"], extra: Partial<OutboxEntry> = {}): Action => ({
  type: "outbox",
  entry: { clientMsgId: "cm1", roomId: "r", text: "hello", status, attempts: 1, createdAt: T0, ...extra },
});
const run = (actions: Action[], start: ChatState = initialState) => actions.reduce(reduce, start);
const base = () => run([{ type: "session", user: alice }, { type: "joining", roomId: "r" }, joined([])]);

describe("store", () => {
  test("my message goes pending → sent → confirmed as one row that keeps its key", () => {
    const keys: string[][] = [];
    const statuses: string[][] = [];
    let state = base();
    const snap = () => {
      const items = buildTimeline(activeRoom(state)!, alice, T0).filter((i) => i.kind === "message");
      keys.push(items.map((i) => i.key));
      statuses.push(items.map((i) => (i.kind === "message" ? i.status : "")));
    };
    state = reduce(state, outbox("pending"));
    snap();
    const stored = message("m1", alice, "hello", { clientMsgId: "cm1" });
    state = reduce(state, outbox("sent", { message: stored }));
    snap();
    state = reduce(state, { type: "message", message: stored });
    snap();
    expect(keys).toEqual([["c:cm1"], ["c:cm1"], ["c:cm1"]]);
    expect(statuses).toEqual([["pending"], ["sent"], ["confirmed"]]);
    expect(activeRoom(state)!.outgoing).toEqual([]);
  });

  test("a failed message stays with its error until discarded", () => {
    let state = run([outbox("pending"), outbox("failed", { error: new HuddleClientError("too_large", "x") })], base());
    expect(activeRoom(state)!.outgoing.map((o) => o.status)).toEqual(["failed"]);
    state = reduce(state, { type: "discard", roomId: "r", clientMsgId: "cm1" });
    expect(activeRoom(state)!.outgoing).toEqual([]);
  });

  test("presence adds and removes members, sorted by name", () => {
    let state = reduce(base(), { type: "presence", roomId: "r", kind: "join", user: carol });
    expect(activeRoom(state)!.members.map((m) => m.name)).toEqual(["Alice", "Bob", "Carol"]);
    state = reduce(state, { type: "presence", roomId: "r", kind: "leave", user: bob });
    expect(activeRoom(state)!.members.map((m) => m.name)).toEqual(["Alice", "Carol"]);
  });

  test("a reset join replaces the messages; a resumed one appends only new ones", () => {
    let state = reduce(base(), { type: "message", message: message("1", bob, "one") });
    state = reduce(state, joined([message("1", bob, "one"), message("2", bob, "two")], { reset: false }));
    expect(activeRoom(state)!.messages.map((m) => m.id)).toEqual(["1", "2"]);
    state = reduce(state, joined([message("9", carol, "after restart")]));
    expect(activeRoom(state)!.messages.map((m) => m.id)).toEqual(["9"]);
  });

  test("older pages go before the loaded messages, and a message twice is kept once", () => {
    let state = reduce(base(), { type: "message", message: message("3", bob, "three") });
    state = reduce(state, { type: "message", message: message("3", bob, "three") });
    state = reduce(state, {
      type: "older",
      roomId: "r",
      messages: [message("1", bob, "1"), message("2", bob, "2")],
      more: false,
    });
    expect(activeRoom(state)!.messages.map((m) => m.id)).toEqual(["1", "2", "3"]);
    expect(activeRoom(state)!.hasMore).toBe(false);
  });

  test("messages in a room I am not looking at count as unread until I select it", () => {
    let state = run([{ type: "joining", roomId: "other" }], base());
    state = reduce(state, { type: "message", message: { ...message("1", bob, "psst"), roomId: "other" } });
    expect(state.rooms.find((r) => r.id === "other")!.unread).toBe(1);
    state = reduce(state, { type: "select", roomId: "other" });
    expect(state.rooms.find((r) => r.id === "other")!.unread).toBe(0);
  });
});

describe("timeline", () => {
  test("groups consecutive messages of one person and marks mine", () => {
    const room = activeRoom(
      run(
        [
          { type: "message", message: message("1", bob, "hi") },
          { type: "message", message: { ...message("2", bob, "there"), ts: T0 + 1000 } },
          { type: "message", message: { ...message("3", alice, "hey"), ts: T0 + 2000 } },
        ],
        base(),
      ),
    )!;
    const items = buildTimeline(room, alice, T0);
    expect(items.map((i) => (i.kind === "day" ? `day:${i.label}` : `${i.text}:${i.grouped}:${i.own}`))).toEqual([
      "day:Today",
      "hi:false:false",
      "there:true:false",
      "hey:false:true",
    ]);
  });
});
