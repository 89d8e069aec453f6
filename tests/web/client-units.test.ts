/** Pure parts of the typed client: the backoff function, the join/dedupe bookkeeping, and unread counting. */
import {
  backoffDelay,
  firstUnread,
  mergeRead,
  NOTHING_READ,
  readAfterAnswer,
  readAfterMessage,
  readAfterUpdate,
  readFromJoin,
  readFromSummary,
  seenBy,
  unreadCount,
} from "@huddle/client";
import { createRoomTrack, markChanged, markSeen, mergeJoin } from "../../client/src/room-tracker";
import type { JoinResult, Message } from "../../shared/events";

describe("backoffDelay", () => {
  test("the window doubles from baseMs per attempt and random() picks a point in it (full jitter)", () => {
    const options = { baseMs: 500, maxMs: 30_000 };
    expect([0, 1, 2, 3, 4].map((attempt) => backoffDelay(attempt, options, () => 1))).toEqual([
      500, 1000, 2000, 4000, 8000,
    ]);
    expect(backoffDelay(3, options, () => 0.5)).toBe(2000);
    expect(backoffDelay(3, options, () => 0)).toBe(0);
  });

  test("never exceeds maxMs, however many attempts", () => {
    for (const attempt of [6, 7, 20, 1000, Number.MAX_SAFE_INTEGER]) {
      expect(backoffDelay(attempt, { baseMs: 500, maxMs: 30_000 }, () => 1)).toBe(30_000);
    }
  });

  test("stays within [0, window] with the default Math.random", () => {
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(2, { baseMs: 100, maxMs: 10_000 });
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(400);
    }
  });

  test("uses 500 ms, ×2 and a 30 s cap by default", () => {
    expect(backoffDelay(0, {}, () => 1)).toBe(500);
    expect(backoffDelay(1, {}, () => 1)).toBe(1000);
    expect(backoffDelay(10, {}, () => 1)).toBe(30_000);
  });
});

const msg = (id: string): Message => ({
  id,
  roomId: "r",
  user: { id: "u", name: "U" },
  text: id,
  ts: 0,
  seq: 0,
  rev: id,
});
/** Message `id` as change `rev` left it. */
const changed = (id: string, rev: string): Message => ({ ...msg(id), text: `${id}@${rev}`, rev });
const joinResult = (history: Message[], resumed: boolean, updates: Message[] = []): JoinResult => ({
  roomId: "r",
  members: [],
  typing: [],
  history,
  resumed,
  updates,
  readUpTo: null,
  unread: 0,
});
const live = (message: Message) => ({ type: "message" as const, message });
const update = (message: Message) => ({ type: "updated" as const, message });

describe("room bookkeeping", () => {
  test("a first join resets the room to its history and remembers the newest id for the next since", () => {
    const track = createRoomTrack();
    const merged = mergeJoin(track, joinResult([msg("1"), msg("2")], false));
    expect(merged).toEqual({ reset: true, messages: [msg("1"), msg("2")], updates: [] });
    expect(track.lastPosition).toBe("2");
  });

  test("a resumed join delivers only messages not seen before", () => {
    const track = createRoomTrack();
    mergeJoin(track, joinResult([msg("1")], false));
    markSeen(track, msg("2"));
    const merged = mergeJoin(track, joinResult([msg("2"), msg("3")], true));
    expect(merged).toEqual({ reset: false, messages: [msg("3")], updates: [] });
    expect(track.lastPosition).toBe("3");
  });

  test("live messages held during a join come after its history, without duplicates", () => {
    const track = createRoomTrack();
    mergeJoin(track, joinResult([msg("1")], false));
    track.held = [live(msg("3")), live(msg("4"))];
    const merged = mergeJoin(track, joinResult([msg("2"), msg("3")], true));
    expect(merged.messages.map((m) => m.id)).toEqual(["2", "3", "4"]);
    expect(track.lastPosition).toBe("4");
  });

  test("a gap that could not be filled resets the room", () => {
    const track = createRoomTrack();
    mergeJoin(track, joinResult([msg("1")], false));
    const merged = mergeJoin(track, joinResult([msg("7"), msg("8")], false));
    expect(merged).toEqual({ reset: true, messages: [msg("7"), msg("8")], updates: [] });
  });

  test("markSeen refuses an id already delivered", () => {
    const track = createRoomTrack();
    expect(markSeen(track, msg("a"))).toBe(true);
    expect(markSeen(track, msg("a"))).toBe(false);
  });

  test("a change is reported once per rev, and the resume point moves to its rev", () => {
    const track = createRoomTrack();
    mergeJoin(track, joinResult([msg("1")], false));
    expect(markChanged(track, changed("1", "5"))).toBe(true);
    expect(markChanged(track, changed("1", "5"))).toBe(false);
    expect(track.lastPosition).toBe("5");
  });

  test("a resumed join hands over the join's updates, and a known message whose state changed as an update", () => {
    const track = createRoomTrack();
    mergeJoin(track, joinResult([msg("1")], false));
    markSeen(track, msg("2"));
    // `since` was older than needed: message 2 comes again in history, edited at 6; message 1 changed at 5.
    const merged = mergeJoin(track, joinResult([changed("2", "6"), msg("3")], true, [changed("1", "5")]));
    expect(merged.messages).toEqual([msg("3")]);
    expect(merged.updates).toEqual([changed("2", "6"), changed("1", "5")]);
    expect(track.lastPosition).toBe("3");
    // The same answer again (a second resume from the same point) brings nothing new.
    const again = mergeJoin(track, joinResult([changed("2", "6"), msg("3")], true, [changed("1", "5")]));
    expect(again).toEqual({ reset: false, messages: [], updates: [] });
  });

  test("held events the join's answer already reflects are dropped; later ones follow it in arrival order", () => {
    const track = createRoomTrack();
    mergeJoin(track, joinResult([msg("1")], false));
    // Arrived during the join, in change order: 1 edited at 5 then at 7 (both before the join's read), then
    // a new message 8 and 1 edited again at 9 (after it). Replaying 1@5 after the answer would show a stale text.
    track.held = [update(changed("1", "5")), update(changed("1", "7")), live(msg("8")), update(changed("1", "9"))];
    const merged = mergeJoin(track, joinResult([], true, [changed("1", "7")]));
    expect(merged.messages).toEqual([msg("8")]);
    expect(merged.updates).toEqual([changed("1", "7"), changed("1", "9")]);
    expect(track.lastPosition).toBe("9");
  });

  test("with no lost gap and nothing new, the resume point stays where it was", () => {
    const track = createRoomTrack();
    mergeJoin(track, joinResult([msg("1"), msg("2")], false));
    markChanged(track, changed("1", "3"));
    expect(mergeJoin(track, joinResult([], true))).toEqual({ reset: false, messages: [], updates: [] });
    expect(track.lastPosition).toBe("3");
  });
});

describe("unread helpers", () => {
  const alice = { id: "a", name: "Alice" };
  const bob = { id: "b", name: "Bob" };
  const carol = { id: "c", name: "Carol" };
  /** Message number `seq` of the room, by `user`. */
  const nth = (seq: number, user = bob): Message => ({ ...msg(`m${seq}`), seq, user });

  test("a room from rooms:list: the marker's seq is what the count leaves; nothing read means every message", () => {
    const summary = { readUpTo: "m7", unread: 3, lastMessage: nth(10) };
    expect(readFromSummary(summary)).toEqual({ readUpTo: "m7", readSeq: 7, lastSeq: 10 });
    expect(unreadCount(readFromSummary(summary))).toBe(3);
    expect(readFromSummary({ readUpTo: null, unread: 4, lastMessage: nth(4) })).toEqual({
      readUpTo: null,
      readSeq: 0,
      lastSeq: 4,
    });
    expect(readFromSummary({ readUpTo: null, unread: 0, lastMessage: null })).toEqual(NOTHING_READ);
  });

  test("a join: the marker's message gives its seq; when it is not loaded, the count from the newest does", () => {
    const page = [nth(3), nth(4), nth(5), nth(6)];
    expect(readFromJoin({ readUpTo: "m4", unread: 2 }, page)).toEqual({ readUpTo: "m4", readSeq: 4, lastSeq: 6 });
    // 60 unread, 50 shown: the marker is older than the page.
    const latest = Array.from({ length: 50 }, (_, i) => nth(i + 11));
    expect(readFromJoin({ readUpTo: "m0", unread: 60 }, latest)).toEqual({ readUpTo: "m0", readSeq: 0, lastSeq: 60 });
    expect(readFromJoin({ readUpTo: "m5", unread: 0 }, [])).toEqual({ readUpTo: "m5", readSeq: 0, lastSeq: 0 });
    expect(readFromJoin({ readUpTo: null, unread: 0 }, [])).toEqual(NOTHING_READ);
    // A message stored between the server's two reads: counted once the count says so.
    expect(readFromJoin({ readUpTo: "m6", unread: 1 }, page)).toEqual({ readUpTo: "m6", readSeq: 6, lastSeq: 7 });
  });

  test("a new message counts; mine reads the room up to it; one already counted changes nothing", () => {
    const start = { readUpTo: "m2", readSeq: 2, lastSeq: 2 };
    const one = readAfterMessage(start, nth(3), "a");
    expect(unreadCount(one)).toBe(1);
    expect(readAfterMessage(one, nth(3), "a")).toBe(one);
    const mine = readAfterMessage(readAfterMessage(one, nth(4), "a"), nth(5, alice), "a");
    expect(mine).toEqual({ readUpTo: "m5", readSeq: 5, lastSeq: 5 });
    // Without knowing who I am, every message counts.
    expect(unreadCount(readAfterMessage(start, nth(3, alice)))).toBe(1);
  });

  test("my marker moves forward only, from events and answers alike", () => {
    const state = { readUpTo: "m4", readSeq: 4, lastSeq: 9 };
    expect(readAfterUpdate(state, { readUpTo: "m2", readSeq: 2 })).toBe(state);
    expect(readAfterUpdate(state, { readUpTo: "m7", readSeq: 7 })).toEqual({ readUpTo: "m7", readSeq: 7, lastSeq: 9 });
    // Read elsewhere past what this tab has seen arrive.
    expect(readAfterUpdate(state, { readUpTo: "m11", readSeq: 11 })).toEqual({
      readUpTo: "m11",
      readSeq: 11,
      lastSeq: 11,
    });
    const known = [nth(6), nth(7), nth(8)];
    expect(readAfterAnswer(state, { readUpTo: "m7", unread: 2 }, known)).toEqual({
      readUpTo: "m7",
      readSeq: 7,
      lastSeq: 9,
    });
    // The answer knows of a message not here yet.
    expect(readAfterAnswer(state, { readUpTo: "m8", unread: 2 }, known)).toEqual({
      readUpTo: "m8",
      readSeq: 8,
      lastSeq: 10,
    });
    // A marker whose message is not loaded: its seq is what the count leaves.
    expect(readAfterAnswer(state, { readUpTo: "m6x", unread: 3 }, known)).toEqual({
      readUpTo: "m6x",
      readSeq: 6,
      lastSeq: 9,
    });
    expect(readAfterAnswer(state, { readUpTo: "m1", unread: 8 }, [])).toBe(state);
  });

  test("merging two views of a room keeps the further marker and the newer last message", () => {
    const a = { readUpTo: "m4", readSeq: 4, lastSeq: 9 };
    const b = { readUpTo: "m6", readSeq: 6, lastSeq: 8 };
    expect(mergeRead(a, b)).toEqual({ readUpTo: "m6", readSeq: 6, lastSeq: 9 });
    expect(mergeRead(a, NOTHING_READ)).toBe(a);
    expect(mergeRead(NOTHING_READ, a)).toBe(a);
  });

  test("the first unread message is the first after the marker, in any order of messages", () => {
    const state = { readUpTo: "m4", readSeq: 4, lastSeq: 7 };
    expect(firstUnread(state, [nth(7), nth(3), nth(5), nth(6), nth(4)])?.id).toBe("m5");
    expect(firstUnread({ ...state, readSeq: 7 }, [nth(7)])).toBeUndefined();
  });

  test("seen by: markers at or past the message, its author, and authors of later messages, each once", () => {
    const mine = nth(5, alice);
    const markers = [
      { user: bob, readUpTo: "m6", readSeq: 6 },
      { user: carol, readUpTo: "m4", readSeq: 4 },
      { user: alice, readUpTo: "m5", readSeq: 5 },
    ];
    expect(seenBy(mine, markers).map((u) => u.name)).toEqual(["Alice", "Bob"]);
    expect(seenBy(mine, markers, [], "a").map((u) => u.name)).toEqual(["Bob"]);
    expect(seenBy(mine, markers, [nth(4, carol), nth(6, carol), nth(7, bob)], "a").map((u) => u.name)).toEqual([
      "Bob",
      "Carol",
    ]);
  });
});
