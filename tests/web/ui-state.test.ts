/** The web UI's pure parts: words it shows, the store over client events, and the timeline rows. */
import type { JoinedEvent, Message, OutboxEntry, RoomSummary, User } from "@huddle/client";
import { HuddleClientError } from "@huddle/client";
import {
  connectionText,
  errorText,
  firstLine,
  initials,
  listNames,
  roomFromHash,
  seenText,
  typingLine,
} from "../../web/src/ui/format";
import { canAddReaction, nameBook, reactionChips } from "../../web/src/ui/reactions";
import {
  activeRoom,
  initialState,
  reduce,
  totalUnread,
  unreadOf,
  type Action,
  type ChatState,
  type RoomEntry,
} from "../../web/src/ui/store";
import { buildTimeline, type MessageItem } from "../../web/src/ui/timeline";

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
  event: joinedEvent(messages, extra),
});
const joinedEvent = (messages: Message[], extra: Partial<JoinedEvent> = {}): JoinedEvent => ({
  roomId: "r",
  members: [bob, alice],
  typing: [],
  messages,
  updates: [],
  resumed: false,
  reset: true,
  more: false,
  readUpTo: null,
  unread: 0,
  ...extra,
});
const entry = (state: ChatState, roomId = "r"): RoomEntry => state.list.find((e) => e.id === roomId)!;
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

  test("messages in a room I am not looking at count as unread; selecting it does not read them", () => {
    let state = run([{ type: "joining", roomId: "other" }, joined([], { roomId: "other" })], base());
    state = reduce(state, { type: "message", message: { ...message("1", bob, "psst", { seq: 1 }), roomId: "other" } });
    expect(unreadOf(entry(state, "other"))).toBe(1);
    state = reduce(state, { type: "select", roomId: "other" });
    expect(unreadOf(entry(state, "other"))).toBe(1);
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
    expect(
      items.map((i) => (i.kind === "message" ? `${i.text}:${i.grouped}:${i.own}` : `${i.kind}:${i.label}`)),
    ).toEqual(["day:Today", "hi:false:false", "there:true:false", "hey:false:true"]);
  });
});

describe("words for message changes", () => {
  test("a quote is the first line, cut with an ellipsis", () => {
    expect(firstLine("first\nsecond")).toBe("first");
    expect(firstLine("x".repeat(150), 10)).toBe(`${"x".repeat(9)}…`);
  });

  test("names are listed as a sentence, with the ones not named counted", () => {
    expect(listNames([])).toBe("");
    expect(listNames(["Alice"])).toBe("Alice");
    expect(listNames(["Alice", "Bob"])).toBe("Alice and Bob");
    expect(listNames(["You", "Alice", "Bob"], 1)).toBe("You, Alice, Bob and 1 other");
    expect(listNames(["Alice"], 4)).toBe("Alice and 4 others");
  });

  test("refused changes read as sentences", () => {
    const forbidden = new HuddleClientError("forbidden", "only the author can edit a message");
    expect(errorText(forbidden)).toBe("You can only change your own messages");
    expect(errorText(new HuddleClientError("not_found", "no message 1-2 in this room"))).toBe(
      "That message is no longer there",
    );
    expect(errorText(new HuddleClientError("bad_request", "a message carries at most 20 different emojis"))).toBe(
      "A message can carry at most 20 different reactions",
    );
  });

  test("reaction chips say whether one is mine and who reacted, by name when known", () => {
    const nameOf = nameBook([alice, bob]);
    const chips = reactionChips(
      [
        { emoji: "👍", count: 2, userIds: ["b", "a"] },
        { emoji: "🎉", count: 23, userIds: ["b", "zed", ...Array.from({ length: 18 }, (_, i) => `u${i}`)] },
      ],
      "a",
      nameOf,
    );
    expect(chips[0]).toEqual({ emoji: "👍", count: 2, mine: true, who: "You and Bob" });
    expect(chips[1]).toMatchObject({ mine: false, who: expect.stringMatching(/^Bob, zed, u0, .* and 3 others$/) });
    expect(canAddReaction(Array.from({ length: 19 }, (_, i) => ({ emoji: `${i}`, count: 1, userIds: [] })))).toBe(true);
    expect(canAddReaction(Array.from({ length: 20 }, (_, i) => ({ emoji: `${i}`, count: 1, userIds: [] })))).toBe(
      false,
    );
  });
});

describe("store: message changes", () => {
  const withMessages = (...messages: Message[]) =>
    run(
      messages.map((m): Action => ({ type: "message", message: m })),
      base(),
    );

  test("an update replaces the message in its place, and one for a message not loaded changes nothing", () => {
    let state = withMessages(message("1", bob, "one", { seq: 1 }), message("2", bob, "two", { seq: 2 }));
    state = reduce(state, { type: "updated", message: message("1", bob, "one, edited", { seq: 1, editedAt: T0 }) });
    expect(activeRoom(state)!.messages.map((m) => m.text)).toEqual(["one, edited", "two"]);
    expect(reduce(state, { type: "updated", message: message("9", bob, "far away") })).toBe(state);
  });

  test("a join's updates apply after its messages", () => {
    let state = withMessages(message("1", bob, "one", { seq: 1 }));
    state = reduce(
      state,
      joined([message("2", bob, "two", { seq: 2 })], {
        reset: false,
        updates: [message("1", bob, "", { seq: 1, deleted: true }), message("2", bob, "two!", { seq: 2 })],
      }),
    );
    expect(activeRoom(state)!.messages.map((m) => [m.id, m.text, m.deleted ?? false])).toEqual([
      ["1", "", true],
      ["2", "two!", false],
    ]);
  });

  test("a message deleted under its editor or its open menu closes them", () => {
    let state = withMessages(message("1", alice, "mine", { seq: 1 }), message("2", bob, "his", { seq: 2 }));
    state = run(
      [
        { type: "edit", roomId: "r", id: "1" },
        { type: "menu", roomId: "r", menu: { id: "2", kind: "react" } },
        { type: "reply", roomId: "r", id: "2" },
      ],
      state,
    );
    expect(activeRoom(state)).toMatchObject({ editing: "1", menu: { id: "2", kind: "react" }, replyTo: "2" });
    state = reduce(state, { type: "updated", message: message("1", alice, "", { seq: 1, deleted: true }) });
    state = reduce(state, { type: "updated", message: message("2", bob, "", { seq: 2, deleted: true }) });
    expect(activeRoom(state)).toMatchObject({ editing: undefined, menu: undefined, replyTo: "2" });
  });

  test("a reset join forgets an edit, menu or reply of a message it no longer shows", () => {
    let state = withMessages(message("1", alice, "mine", { seq: 1 }));
    state = run(
      [
        { type: "edit", roomId: "r", id: "1" },
        { type: "reply", roomId: "r", id: "1" },
      ],
      state,
    );
    state = reduce(state, joined([message("7", bob, "after a restart", { seq: 1 })]));
    expect(activeRoom(state)).toMatchObject({ editing: undefined, menu: undefined, replyTo: undefined });
  });

  test("older pages and late messages keep the list in seq order", () => {
    let state = withMessages(message("5", bob, "five", { seq: 5 }));
    state = reduce(state, {
      type: "older",
      roomId: "r",
      messages: [message("3", bob, "3", { seq: 3 }), message("4", bob, "4", { seq: 4 })],
      more: true,
    });
    state = reduce(state, { type: "message", message: message("2", bob, "late", { seq: 2 }) });
    expect(activeRoom(state)!.messages.map((m) => m.seq)).toEqual([2, 3, 4, 5]);
  });

  test("the session says whether I am a moderator", () => {
    expect(reduce(initialState, { type: "session", user: alice, moderator: true }).moderator).toBe(true);
    expect(initialState.moderator).toBe(false);
  });
});

describe("timeline: message changes", () => {
  const rowsOf = (state: ChatState, moderator = false) =>
    buildTimeline(activeRoom(state)!, alice, T0, { moderator }).filter((i): i is MessageItem => i.kind === "message");
  const room = (...messages: Message[]) =>
    run(
      messages.map((m): Action => ({ type: "message", message: m })),
      base(),
    );

  test("an edited message carries its marker with the edit time; a deleted one neither text, reactions nor actions", () => {
    const [edited, deleted] = rowsOf(
      room(
        message("1", bob, "fixed", { editedAt: T0 + 60_000, reactions: [{ emoji: "👍", count: 1, userIds: ["a"] }] }),
        message("2", bob, "", { deleted: true }),
      ),
    );
    expect(edited).toMatchObject({ text: "fixed", edited: expect.stringMatching(/^Edited /), deleted: false });
    expect(edited!.reactions).toEqual([{ emoji: "👍", count: 1, mine: true, who: "You" }]);
    expect(deleted).toMatchObject({
      deleted: true,
      edited: undefined,
      reactions: [],
      actions: { react: false, reply: false, edit: false, delete: false },
    });
  });

  test("I may edit and delete my messages; others' only a moderator may delete", () => {
    const state = room(message("1", alice, "mine"), message("2", bob, "his"));
    expect(rowsOf(state).map((r) => r.actions)).toEqual([
      { react: true, reply: true, edit: true, delete: true },
      { react: true, reply: true, edit: false, delete: false },
    ]);
    expect(rowsOf(state, true)[1]!.actions).toEqual({ react: true, reply: true, edit: false, delete: true });
  });

  test("past 20 different emojis a message offers no picker, only its chips", () => {
    const reactions = Array.from({ length: 20 }, (_, i) => ({ emoji: `:e${i}:`, count: 1, userIds: ["b"] }));
    const [row] = rowsOf(room(message("1", bob, "popular", { reactions })));
    expect(row!.actions.react).toBe(false);
    expect(row!.reactions).toHaveLength(20);
  });

  test("a reply quotes its original's author and first line, a tombstone, or says it is not loaded", () => {
    const rows = rowsOf(
      room(
        message("1", bob, "the plan\nin detail"),
        message("2", carol, "", { deleted: true }),
        message("3", alice, "sure", { replyTo: "1" }),
        message("4", alice, "what was it?", { replyTo: "2" }),
        message("5", bob, "me?", { replyTo: "3" }),
        message("6", bob, "ancient", { replyTo: "0" }),
      ),
    );
    expect(rows.map((r) => r.quote)).toEqual([
      undefined,
      undefined,
      { id: "1", author: "Bob", text: "the plan", state: "shown" },
      { id: "2", author: "Carol", text: "Message deleted", state: "deleted" },
      { id: "3", author: "You", text: "sure", state: "shown" },
      { id: "0", text: "Original message not loaded", state: "missing" },
    ]);
    // A reply starts a group of its own.
    expect(rows.map((r) => r.grouped)).toEqual([false, false, false, false, false, false]);
  });

  test('my last message, deleted, says no "Sent"', () => {
    const rows = rowsOf(room(message("1", alice, "kept"), message("2", alice, "", { deleted: true })));
    expect(rows.map((r) => r.showSent)).toEqual([false, false]);
  });

  test("my pending reply shows its quote before the server confirms it", () => {
    let state = room(message("1", bob, "question"));
    state = reduce(state, outbox("pending", { replyTo: "1" }));
    expect(rowsOf(state).at(-1)).toMatchObject({ status: "pending", quote: { id: "1", author: "Bob" } });
  });

  test("the row I edit, and the menu I opened, are marked", () => {
    let state = room(message("1", alice, "mine"), message("2", bob, "his"));
    state = run(
      [
        { type: "edit", roomId: "r", id: "1" },
        { type: "menu", roomId: "r", menu: { id: "2", kind: "delete" } },
      ],
      state,
    );
    expect(rowsOf(state).map((r) => [r.editing, r.menu])).toEqual([
      [true, undefined],
      [false, "delete"],
    ]);
  });
});

describe("read state", () => {
  /** Message number `seq` of room `roomId`. */
  const nth = (seq: number, user: User = bob, roomId = "r", ts = T0 + seq * 1000): Message => ({
    ...message(`${roomId}-${seq}`, user, `${user.name} ${seq}`, { seq, ts }),
    roomId,
  });
  const summary = (roomId: string, readSeq: number, lastSeq: number, ts = T0): RoomSummary => ({
    roomId,
    readUpTo: readSeq === 0 ? null : `${roomId}-${readSeq}`,
    unread: lastSeq - readSeq,
    lastMessage: lastSeq === 0 ? null : { ...nth(lastSeq, bob, roomId), ts },
  });
  const sidebar = (state: ChatState) => state.list.map((e) => `${e.id}:${unreadOf(e)}`);
  const items = (state: ChatState, me: User = alice) =>
    buildTimeline(activeRoom(state)!, me, T0 + 86_400_000).filter((i) => i.kind !== "day");
  const describeItems = (state: ChatState) => items(state).map((i) => (i.kind === "message" ? `${i.seq}` : i.label));
  /** Signed in as Alice, looking at room r where seq 1–2 are read and 3–5 are not. */
  const opened = () =>
    run(
      [
        { type: "roomList", rooms: [summary("r", 2, 5)] },
        { type: "joining", roomId: "r" },
        joined(
          [1, 2, 3, 4, 5].map((n) => nth(n)),
          { readUpTo: "r-2", unread: 3 },
        ),
      ],
      run([{ type: "session", user: alice }]),
    );

  test("the sidebar is the server's list, newest activity first, with the server's counts; the title adds them up", () => {
    const state = run([
      { type: "session", user: alice },
      { type: "roomList", rooms: [summary("ops", 3, 7, T0 + 50), summary("dev", 1, 1, T0 + 20), summary("new", 0, 0)] },
    ]);
    expect(sidebar(state)).toEqual(["ops:4", "dev:0", "new:0"]);
    expect(totalUnread(state)).toBe(4);
    expect(state.rooms).toEqual([]); // listed, not joined
  });

  test("a new message moves its room to the top; rooms without messages keep the server's order below", () => {
    let state = run([
      { type: "session", user: alice },
      { type: "roomList", rooms: [summary("a", 1, 1, T0 + 30), summary("b", 1, 1, T0 + 20), summary("q", 0, 0)] },
      { type: "joining", roomId: "b" },
      joined([nth(1, bob, "b")], { roomId: "b", readUpTo: "b-1" }),
    ]);
    state = reduce(state, { type: "message", message: nth(2, carol, "b", T0 + 40) });
    expect(sidebar(state)).toEqual(["b:1", "a:0", "q:0"]);
    // A room joined here for the first time, with no messages: first of the quiet ones, as the server lists it.
    state = run([{ type: "joining", roomId: "fresh" }], state);
    expect(sidebar(state)).toEqual(["b:1", "a:0", "fresh:0", "q:0"]);
  });

  test("a new list drops rooms left elsewhere, keeps the ones joined here, and never moves back what this tab saw", () => {
    let state = reduce(opened(), { type: "roomList", rooms: [summary("r", 2, 5), summary("gone", 1, 2)] });
    state = run([{ type: "joining", roomId: "here-only" }], state);
    state = reduce(state, { type: "message", message: nth(6) });
    expect(sidebar(state)).toEqual(["r:4", "gone:1", "here-only:0"]);
    // An answer computed before message 6 arrived, without here-only (a first join not listed yet), without gone.
    state = reduce(state, { type: "roomList", rooms: [summary("r", 2, 5, T0 + 5000), summary("elsewhere", 0, 3)] });
    expect(sidebar(state)).toEqual(["r:4", "elsewhere:3", "here-only:0"]);
    state = reduce(state, { type: "roomList", rooms: [summary("r", 6, 6, T0 + 6000)] });
    expect(sidebar(state)).toEqual(["r:0", "here-only:0"]);
  });

  test("my read event clears the badge of any room of mine; someone else's moves their marker, not my count", () => {
    let state = run([
      { type: "session", user: alice },
      { type: "roomList", rooms: [summary("ops", 3, 7, T0 + 50)] },
    ]);
    state = reduce(state, { type: "read", update: { roomId: "ops", user: bob, readUpTo: "ops-7", readSeq: 7 } });
    expect(sidebar(state)).toEqual(["ops:4"]);
    state = reduce(state, { type: "read", update: { roomId: "ops", user: alice, readUpTo: "ops-6", readSeq: 6 } });
    expect(sidebar(state)).toEqual(["ops:1"]);
    // An older one (they are coalesced, and may cross a list) changes nothing.
    expect(reduce(state, { type: "read", update: { roomId: "ops", user: alice, readUpTo: "ops-4", readSeq: 4 } })).toBe(
      state,
    );
    state = reduce(state, { type: "read", update: { roomId: "ops", user: alice, readUpTo: "ops-9", readSeq: 9 } });
    expect(sidebar(state)).toEqual(["ops:0"]);
  });

  test("my own message reads the room up to it; a markRead answer counts what is left", () => {
    let state = opened();
    state = reduce(state, { type: "marked", roomId: "r", answer: { readUpTo: "r-4", unread: 1 } });
    expect(unreadOf(entry(state))).toBe(1);
    state = reduce(state, { type: "message", message: nth(6, carol) });
    expect(unreadOf(entry(state))).toBe(2);
    state = reduce(state, { type: "message", message: nth(7, alice) });
    expect(unreadOf(entry(state))).toBe(0);
  });

  test('"New messages" sits above the first message unread when the room was opened, and stays while I read', () => {
    let state = opened();
    expect(describeItems(state)).toEqual(["1", "2", "New messages", "3", "4", "5"]);
    state = reduce(state, { type: "marked", roomId: "r", answer: { readUpTo: "r-5", unread: 0 } });
    state = reduce(state, { type: "message", message: nth(6) });
    expect(describeItems(state)).toEqual(["1", "2", "New messages", "3", "4", "5", "6"]);
    // The message after the line starts a new group, even from the same person.
    const after = items(state).find((i) => i.kind === "message" && i.seq === 3);
    expect(after).toMatchObject({ grouped: false });
  });

  test("the line goes when I send, or look at another room; reopened with nothing unread, there is none", () => {
    let state = reduce(opened(), { type: "message", message: nth(6, alice) });
    expect(describeItems(state)).not.toContain("New messages");

    state = run([{ type: "joining", roomId: "other" }], opened());
    state = reduce(state, { type: "marked", roomId: "r", answer: { readUpTo: "r-5", unread: 0 } });
    state = reduce(state, { type: "select", roomId: "other" });
    expect(activeRoom(state)!.id).toBe("other");
    state = reduce(state, { type: "select", roomId: "r" });
    expect(describeItems(state)).toEqual(["1", "2", "3", "4", "5"]);
  });

  test("a room opened before its marker is known gets its line once the join or the list tells it", () => {
    let state = run([
      { type: "session", user: alice },
      { type: "joining", roomId: "r" },
    ]);
    expect(activeRoom(state)).toMatchObject({ dividerPending: true, divider: undefined });
    state = reduce(
      state,
      joined(
        [1, 2, 3].map((n) => nth(n)),
        { readUpTo: "r-1", unread: 2 },
      ),
    );
    expect(activeRoom(state)).toMatchObject({ dividerPending: false, divider: 1 });
    expect(describeItems(state)).toEqual(["1", "New messages", "2", "3"]);

    // A first join ever: the marker is at the newest message, nothing is new.
    state = run([
      { type: "session", user: alice },
      { type: "joining", roomId: "r" },
      joined([nth(1)], { readUpTo: "r-1" }),
    ]);
    expect(describeItems(state)).toEqual(["1"]);
  });

  test("seen by: under my latest message only, from others' markers and later authors, never me", () => {
    let state = run(
      [nth(6, alice), nth(7, alice)].map((m): Action => ({ type: "message", message: m })),
      opened(),
    );
    const lastOwn = () => items(state).filter((i) => i.kind === "message" && i.showSent);
    expect(lastOwn()).toEqual([expect.objectContaining({ seq: 7, seenBy: [] })]);
    state = reduce(state, {
      type: "markers",
      roomId: "r",
      markers: [
        { user: alice, readUpTo: "r-7", readSeq: 7 },
        { user: bob, readUpTo: "r-6", readSeq: 6 },
      ],
    });
    expect(lastOwn()[0]).toMatchObject({ seenBy: [] });
    state = reduce(state, { type: "read", update: { roomId: "r", user: bob, readUpTo: "r-7", readSeq: 7 } });
    expect(lastOwn()[0]).toMatchObject({ seenBy: ["Bob"] });
    // A marker older than the one known does not move it back.
    state = reduce(state, { type: "read", update: { roomId: "r", user: bob, readUpTo: "r-6", readSeq: 6 } });
    expect(lastOwn()[0]).toMatchObject({ seenBy: ["Bob"] });
    // Carol answers: her message moved her marker, so she has seen mine.
    state = reduce(state, { type: "message", message: nth(8, carol) });
    expect(lastOwn()[0]).toMatchObject({ seq: 7, seenBy: ["Bob", "Carol"] });
  });

  test("the seen-by line names one or two people, and counts more (with every name for the popover)", () => {
    expect(seenText(["Bob"])).toEqual({ text: "Seen by Bob", full: "Seen by Bob" });
    expect(seenText(["Bob", "Carol"]).text).toBe("Seen by Bob and Carol");
    expect(seenText(["Bob", "Carol", "Dan"])).toEqual({ text: "Seen by 3 people", full: "Seen by Bob, Carol and Dan" });
  });

  test("leaving forgets the room: gone from the sidebar and the rooms, and another room is opened", () => {
    let state = run([{ type: "joining", roomId: "other" }], opened());
    state = reduce(state, { type: "left", roomId: "r" });
    expect(sidebar(state)).toEqual(["other:0"]);
    expect(state.rooms.map((r) => r.id)).toEqual(["other"]);
    expect(state.active).toBe("other");
  });
});
