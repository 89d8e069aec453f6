/** The web UI's pure parts of moderation and limits: the words it shows, and the store of a removed room. */
import type { JoinedEvent, Message, User } from "@huddle/client";
import { HuddleClientError } from "@huddle/client";
import { BAN_DURATIONS, banLength, banUntil, errorText, isBanned } from "../../web/src/ui/format";
import { activeRoom, initialState, reduce, type Action, type ChatState } from "../../web/src/ui/store";

const alice: User = { id: "a", name: "Alice" };
const bob: User = { id: "b", name: "Bob" };
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

const message = (id: string, user: User, text: string, seq: number): Message => ({
  id,
  roomId: "r",
  user,
  text,
  seq,
  rev: id,
  ts: T0,
});
const joinedEvent = (messages: Message[]): JoinedEvent => ({
  roomId: "r",
  members: [bob, alice],
  typing: [bob],
  messages,
  updates: [],
  resumed: false,
  reset: true,
  more: false,
  readUpTo: null,
  unread: 0,
});
const run = (actions: Action[], start: ChatState = initialState) => actions.reduce(reduce, start);
const error = (code: HuddleClientError["code"], text: string, retryAfterMs?: number) =>
  new HuddleClientError(code, text, { retryAfterMs });

describe("words", () => {
  test("each forbidden says which refusal it is", () => {
    // The server's refusal of a banned user, and the client's own when the server took it out of the room.
    expect(errorText(error("forbidden", "you are banned from room r"))).toBe("A moderator removed you from this room");
    expect(errorText(error("forbidden", "a moderator removed you from room r"))).toBe(
      "A moderator removed you from this room",
    );
    expect(errorText(error("forbidden", "only a moderator can do that"))).toBe("Only a moderator can do that");
    expect(errorText(error("forbidden", "only the author or a moderator can delete a message"))).toBe(
      "You can only change your own messages",
    );
    expect(errorText(error("forbidden", "your token does not allow room r"))).toBe(
      "You don't have access to that room",
    );
    expect(isBanned(error("forbidden", "you are banned from room r"))).toBe(true);
    expect(isBanned(error("forbidden", "only a moderator can do that"))).toBe(false);
    expect(isBanned(error("not_joined", "banned"))).toBe(false);
  });

  test("limits say what to do: wait for joins, leave a room, close a tab", () => {
    expect(errorText(error("rate_limited", "you are joining rooms too fast", 1200))).toBe(
      "You're joining rooms too fast — try again in 2 s",
    );
    expect(errorText(error("rate_limited", "you are sending too fast", 300))).toBe(
      "You're sending too fast — try again in 1 s",
    );
    expect(
      errorText(
        error("limit_exceeded", "you are in too many rooms: a connection may be in 100 at once; leave one first"),
      ),
    ).toBe("You're in too many rooms at once — leave one to join another");
    expect(errorText(error("limit_exceeded", "too many open connections: at most 20 per user"))).toBe(
      "Too many open connections — close another tab or window of Huddle",
    );
  });

  test("a ban's length and end read as words", () => {
    expect(BAN_DURATIONS.map((d) => d.seconds)).toEqual([600, 3600, 86_400, undefined]);
    expect(BAN_DURATIONS.map((d) => banLength(d.seconds))).toEqual([
      "for 10 minutes",
      "for 1 hour",
      "for 1 day",
      "permanently",
    ]);
    expect(banLength(1800)).toBe("for 30 minutes");
    expect(banUntil(null, T0)).toBe("until lifted");
    // Today: the time alone; another day: with the date.
    expect(banUntil(T0 + 600_000, T0)).toMatch(/^until \d{1,2}[:.]\d\d/);
    expect(banUntil(T0 + 3 * 86_400_000, T0)).toMatch(/^until \S+.*\d[:.]\d\d/);
    expect(banUntil(T0 + 3 * 86_400_000, T0).length).toBeGreaterThan(banUntil(T0 + 600_000, T0).length);
  });
});

describe("a removed room in the store", () => {
  const inRoom = () =>
    run([
      { type: "session", user: alice },
      { type: "joining", roomId: "r" },
      { type: "joined", event: joinedEvent([message("m1", bob, "hello", 1)]) },
      { type: "edit", roomId: "r", id: "m1" },
      { type: "reply", roomId: "r", id: "m1" },
    ]);

  test("stays in view and in the sidebar, with what was said, but nobody in it and nothing in progress", () => {
    const state = reduce(inRoom(), { type: "removed", roomId: "r" });
    const room = activeRoom(state)!;
    expect(room).toMatchObject({ id: "r", status: "removed", members: [], typing: [], markers: [] });
    expect(room.messages.map((m) => m.text)).toEqual(["hello"]);
    expect(room.editing).toBeUndefined();
    expect(room.replyTo).toBeUndefined();
    expect(state.list.map((e) => e.id)).toEqual(["r"]);
  });

  test("a try to rejoin keeps it removed until the answer: refused, it says why; let in, it is joined again", () => {
    let state = reduce(inRoom(), { type: "removed", roomId: "r" });
    state = reduce(state, { type: "joining", roomId: "r" });
    expect(activeRoom(state)).toMatchObject({ status: "removed", rejoining: true, refusal: undefined });
    state = reduce(state, { type: "removed", roomId: "r", refusal: "still banned" });
    expect(activeRoom(state)).toMatchObject({ status: "removed", rejoining: undefined, refusal: "still banned" });

    state = reduce(state, { type: "joining", roomId: "r" });
    state = reduce(state, { type: "joined", event: joinedEvent([message("m1", bob, "hello", 1)]) });
    expect(activeRoom(state)).toMatchObject({ status: "joined", rejoining: undefined, refusal: undefined });
    expect(activeRoom(state)!.members).toEqual([alice, bob]);
  });

  test("leaving it takes it away; a removal of a room not shown changes nothing", () => {
    const removed = reduce(inRoom(), { type: "removed", roomId: "r" });
    expect(reduce(removed, { type: "left", roomId: "r" })).toMatchObject({ rooms: [], list: [], active: undefined });
    const state = inRoom();
    expect(reduce(state, { type: "removed", roomId: "elsewhere" })).toBe(state);
  });
});
