/**
 * A room's messages as the rows the UI shows: day headings, my messages
 * marked, consecutive messages of one person grouped, my unconfirmed
 * messages with their delivery state, and what each message has become
 * (edited, deleted, reacted to, a reply) with what I may do to it. Pure, so
 * it is tested in Node.
 */
import type { Message, User } from "../client";
import { dayKey, dayLabel, editedTitle, errorText, firstLine } from "./format";
import { canAddReaction, nameBook, reactionChips, type NameOf, type ReactionChip } from "./reactions";
import type { RoomView } from "./store";

/** Messages from one person closer than this are drawn as one group. */
const GROUP_WINDOW_MS = 5 * 60_000;

export type DeliveryStatus = "confirmed" | "pending" | "sent" | "failed";

/** What a reply shows of the message it answers. */
export interface Quote {
  /** The original's id: the quote is a link to it. */
  id: string;
  /** Its author's name ("You" for mine); absent when it is not loaded. */
  author?: string;
  /** Its first line, "Message deleted", or "Original message not loaded". */
  text: string;
  state: "shown" | "deleted" | "missing";
}

/** What I may do to a message now. */
export interface MessageActions {
  react: boolean;
  reply: boolean;
  edit: boolean;
  delete: boolean;
}

export type TimelineItem =
  | { kind: "day"; key: string; label: string }
  | {
      kind: "message";
      /** Stable across pending → sent → confirmed for my messages, so the row is updated, not replaced. */
      key: string;
      /** The message id, once the server confirmed it. */
      id?: string;
      user: User;
      text: string;
      ts: number;
      own: boolean;
      grouped: boolean;
      status: DeliveryStatus;
      /** Shown under my last confirmed message ("Sent"). */
      showSent: boolean;
      error?: string;
      clientMsgId?: string;
      deleted: boolean;
      /** The "edited" marker's tooltip, when the text was edited. */
      edited?: string;
      reactions: ReactionChip[];
      quote?: Quote;
      actions: MessageActions;
      /** I am editing it in place. */
      editing: boolean;
      /** Its open reaction picker or delete confirmation. */
      menu?: "react" | "delete";
    };

export type MessageItem = Extract<TimelineItem, { kind: "message" }>;
type Row = Omit<MessageItem, "grouped" | "showSent">;

const NO_ACTIONS: MessageActions = { react: false, reply: false, edit: false, delete: false };

export interface TimelineOptions {
  /** I may delete anyone's message. @default false */
  moderator?: boolean;
}

export function buildTimeline(
  room: RoomView,
  me: User | undefined,
  now: number,
  { moderator = false }: TimelineOptions = {},
): TimelineItem[] {
  const byId = new Map(room.messages.map((m) => [m.id, m]));
  const nameOf = nameBook([...room.members, ...room.messages.map((m) => m.user), ...(me ? [me] : [])]);
  const quoteOf = (replyTo: string | undefined) => (replyTo === undefined ? undefined : quote(replyTo, byId, me));

  const rows: Row[] = room.messages.map((m) => confirmedRow(m, room, me, moderator, nameOf, quoteOf));
  const author = me ?? { id: "", name: "You" };
  for (const o of room.outgoing) {
    rows.push({
      kind: "message",
      key: `c:${o.clientMsgId}`,
      user: author,
      text: o.text,
      ts: o.message?.ts ?? o.createdAt,
      own: true,
      status: o.status === "sent" ? "sent" : o.status,
      error: o.error ? errorText(o.error) : undefined,
      clientMsgId: o.clientMsgId,
      deleted: false,
      reactions: [],
      quote: quoteOf(o.replyTo),
      actions: NO_ACTIONS,
      editing: false,
    });
  }
  return withDaysAndGroups(rows, now);
}

function confirmedRow(
  m: Message,
  room: RoomView,
  me: User | undefined,
  moderator: boolean,
  nameOf: NameOf,
  quoteOf: (replyTo: string | undefined) => Quote | undefined,
): Row {
  const own = me !== undefined && m.user.id === me.id;
  const live = !m.deleted;
  const editing = live && own && room.editing === m.id;
  const menu = live && room.menu?.id === m.id ? room.menu.kind : undefined;
  return {
    kind: "message",
    key: own && m.clientMsgId !== undefined ? `c:${m.clientMsgId}` : `m:${m.id}`,
    id: m.id,
    user: m.user,
    text: m.text,
    ts: m.ts,
    own,
    status: "confirmed",
    clientMsgId: own ? m.clientMsgId : undefined,
    deleted: m.deleted === true,
    edited: live && m.editedAt !== undefined ? editedTitle(m.editedAt) : undefined,
    reactions: live ? reactionChips(m.reactions, me?.id, nameOf) : [],
    quote: live ? quoteOf(m.replyTo) : undefined,
    actions: live
      ? { react: canAddReaction(m.reactions), reply: true, edit: own, delete: own || moderator }
      : NO_ACTIONS,
    editing,
    menu,
  };
}

function quote(id: string, byId: ReadonlyMap<string, Message>, me: User | undefined): Quote {
  const original = byId.get(id);
  if (!original) return { id, text: "Original message not loaded", state: "missing" };
  const author = original.user.id === me?.id ? "You" : original.user.name;
  if (original.deleted) return { id, author, text: "Message deleted", state: "deleted" };
  return { id, author, text: firstLine(original.text), state: "shown" };
}

function withDaysAndGroups(rows: Row[], now: number): TimelineItem[] {
  let lastOwnConfirmed = -1;
  rows.forEach((row, i) => {
    if (row.own && row.status === "confirmed") lastOwnConfirmed = i;
  });
  const hasLaterOwn = rows.some((row, i) => i > lastOwnConfirmed && row.own);

  const items: TimelineItem[] = [];
  const usedDayKeys = new Set<string>();
  let previous: Row | undefined;
  rows.forEach((row, i) => {
    const day = dayKey(row.ts);
    const newDay = previous === undefined || dayKey(previous.ts) !== day;
    if (newDay) {
      // Clocks can disagree (my pending message vs the server's time), so a day may start twice: keys stay unique.
      let key = `d:${day}`;
      for (let n = 2; usedDayKeys.has(key); n++) key = `d:${day}#${n}`;
      usedDayKeys.add(key);
      items.push({ kind: "day", key, label: dayLabel(row.ts, now) });
    }
    const grouped =
      !newDay &&
      previous !== undefined &&
      previous.user.id === row.user.id &&
      previous.status !== "failed" &&
      // A reply starts its own group: its quote reads as a new thought.
      row.quote === undefined &&
      row.ts - previous.ts < GROUP_WINDOW_MS;
    items.push({ ...row, grouped, showSent: i === lastOwnConfirmed && !hasLaterOwn && !row.deleted });
    previous = row;
  });
  return items;
}
