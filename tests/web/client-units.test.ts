/** Pure parts of the typed client: the backoff function and the join/dedupe bookkeeping. */
import { backoffDelay } from "../../web/src/client";
import { createRoomTrack, markChanged, markSeen, mergeJoin } from "../../web/src/client/room-tracker";
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
