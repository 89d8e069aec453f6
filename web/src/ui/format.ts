/**
 * Words the UI shows, as pure functions of state: the typing line, the
 * connection status, errors in plain language, times, and room links.
 * No DOM here, so all of it is tested in Node.
 */
import type { ConnectionState, HuddleClientError, User } from "@huddle/client";

/** The protocol's room id rule (PROTOCOL.md §2), checked before asking the server. */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_\-.:]{1,64}$/;

export const isRoomId = (value: string): boolean => ROOM_ID_PATTERN.test(value);

/** "Alice is typing…", "Alice and Bob are typing…", "Several people are typing…", or "" — never counting `meId`. */
export function typingLine(users: readonly User[], meId: string | undefined): string {
  const others = users.filter((u) => u.id !== meId);
  if (others.length === 0) return "";
  if (others.length === 1) return `${others[0]!.name} is typing…`;
  if (others.length === 2) return `${others[0]!.name} and ${others[1]!.name} are typing…`;
  return "Several people are typing…";
}

/** Whole seconds until `at`, at least 1 while it is in the future. */
export function secondsUntil(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}

export function connectionText(state: ConnectionState, now: number): string {
  switch (state.status) {
    case "connected":
      return "Connected";
    case "connecting":
      return "Connecting…";
    case "reconnecting": {
      const seconds = secondsUntil(state.nextAttemptAt, now);
      return seconds > 0 ? `Reconnecting in ${seconds} s…` : "Reconnecting…";
    }
    case "offline":
      if (state.reason === "auth") return "Offline — please sign in again";
      if (state.reason === "unsupported") return "Offline — this server speaks another protocol version";
      return "Offline";
  }
}

/** An error as a sentence a person can act on. */
export function errorText(error: Pick<HuddleClientError, "code" | "message" | "retryAfterMs">): string {
  switch (error.code) {
    case "rate_limited": {
      const seconds = Math.max(1, Math.ceil((error.retryAfterMs ?? 1000) / 1000));
      // Joins have their own budget (§13): "sending" would send the person looking at the composer.
      if (/join/.test(error.message)) return `You're joining rooms too fast — try again in ${seconds} s`;
      return `You're sending too fast — try again in ${seconds} s`;
    }
    case "too_large":
      return "That message is too long — the limit is 4000 characters";
    case "bad_request":
      if (/empty/.test(error.message)) return "There is nothing to send";
      if (/emojis/.test(error.message)) return "A message can carry at most 20 different reactions";
      return `The server could not accept that: ${error.message}`;
    case "forbidden":
      // One code for several refusals (§8, §11): someone else's message, a ban, a moderator's call, the token's rooms.
      if (isBanned(error)) return "A moderator removed you from this room";
      if (/author/.test(error.message)) return "You can only change your own messages";
      if (/moderator/.test(error.message)) return "Only a moderator can do that";
      return "You don't have access to that room";
    case "not_joined":
      return "You're not in that room any more — join it again";
    case "not_found":
      return /message|replyTo/.test(error.message) ? "That message is no longer there" : "Not found";
    case "unauthorized":
    case "auth":
      return "Your sign-in is no longer valid — please sign in again";
    case "unavailable":
      return "The server can't store messages right now — try again in a moment";
    case "timeout":
      return "The server did not answer in time";
    case "disconnected":
      return "Not connected — it will be sent when the connection is back";
    case "closed":
      return "Signed out";
    case "unsupported":
      return "This server speaks another protocol version";
    case "internal":
      return "Something went wrong on the server";
    case "limit_exceeded":
      return /room/.test(error.message)
        ? "You're in too many rooms at once — leave one to join another"
        : "Too many open connections — close another tab or window of Huddle";
  }
}

/** A `forbidden` that means a ban (§11): the server's refusal of a banned user, or the client's `removed`. */
export const isBanned = (error: Pick<HuddleClientError, "code" | "message">): boolean =>
  error.code === "forbidden" && /banned|removed you/.test(error.message);

/** The choices of a ban's length a moderator picks from, in seconds (undefined: until lifted). */
export const BAN_DURATIONS: readonly { label: string; seconds: number | undefined }[] = [
  { label: "10 minutes", seconds: 600 },
  { label: "1 hour", seconds: 3600 },
  { label: "1 day", seconds: 86_400 },
  { label: "Permanently", seconds: undefined },
];

/** How long a ban lasts, in words: "for 10 minutes", or "permanently" (until a moderator lifts it). */
export function banLength(seconds: number | undefined): string {
  const choice = BAN_DURATIONS.find((d) => d.seconds === seconds);
  if (choice) return choice.seconds === undefined ? "permanently" : `for ${choice.label}`;
  return `for ${Math.max(1, Math.round((seconds ?? 0) / 60))} minutes`;
}

/** When a ban ends: "until 14:30" today, "until Tue 3 Jun, 14:30" later, "until lifted" without an end. */
export function banUntil(until: number | null, now: number): string {
  if (until === null) return "until lifted";
  return `until ${dayKey(until) === dayKey(now) ? formatTime(until) : shortDateFormat.format(until)}`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
const shortDateFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
});

export const formatTime = (ts: number): string => timeFormat.format(ts);
export const formatFullTime = (ts: number): string => fullFormat.format(ts);

/** The tooltip of the "edited" marker. */
export const editedTitle = (editedAt: number): string => `Edited ${formatFullTime(editedAt)}`;

/** The first line of `text`, cut at `max` characters with an ellipsis: what a reply quotes. */
export function firstLine(text: string, max = 100): string {
  const line = text.split("\n", 1)[0]!.trim();
  const chars = [...line];
  return chars.length > max
    ? `${chars
        .slice(0, max - 1)
        .join("")
        .trimEnd()}…`
    : line;
}

/** "Alice", "Alice and Bob", "Alice, Bob and Carol"; with `more` others not named: "Alice, Bob and 3 others". */
export function listNames(names: readonly string[], more = 0): string {
  const all = more > 0 ? [...names, `${more} ${more === 1 ? "other" : "others"}`] : [...names];
  if (all.length <= 1) return all[0] ?? "";
  return `${all.slice(0, -1).join(", ")} and ${all.at(-1)!}`;
}

/**
 * What the line under my latest message says of who has seen it: the names when there are one or two,
 * a count past that (`full` always names everyone, for the popover and screen readers).
 */
export function seenText(names: readonly string[]): { text: string; full: string } {
  const full = `Seen by ${listNames(names)}`;
  return { text: names.length <= 2 ? full : `Seen by ${names.length} people`, full };
}

/** A calendar-day key in local time, for grouping messages under day headings. */
export function dayKey(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

export function dayLabel(ts: number, now: number): string {
  if (dayKey(ts) === dayKey(now)) return "Today";
  if (dayKey(ts) === dayKey(now - 86_400_000)) return "Yesterday";
  return dateFormat.format(ts);
}

/** The room a URL hash invites to: `#room=lobby` or `#lobby`; undefined when there is none or it is not a valid id. */
export function roomFromHash(hash: string): string | undefined {
  const raw = hash.replace(/^#/, "");
  if (raw === "") return undefined;
  const params = new URLSearchParams(raw);
  const value = params.has("room") ? (params.get("room") ?? "") : decodeURIComponentSafe(raw);
  return isRoomId(value) ? value : undefined;
}

export const hashForRoom = (roomId: string): string => `#room=${encodeURIComponent(roomId)}`;

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Up to two initials for an avatar. */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]!, words[words.length - 1]!] : words.slice(0, 1);
  return letters.map((w) => [...w][0]!.toUpperCase()).join("") || "?";
}

/** A stable colour slot (0–7) for a name: a person keeps their colour everywhere, even with a new dev token. */
export function colorSlot(name: string): number {
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (hash * 31 + name.charCodeAt(i)) | 0;
  return Math.abs(hash) % 8;
}
