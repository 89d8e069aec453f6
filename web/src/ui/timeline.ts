/**
 * A room's messages as the rows the UI shows: day headings, my messages
 * marked, consecutive messages of one person grouped, my unconfirmed
 * messages with their delivery state, and what each message has become
 * (edited, deleted, reacted to, a reply) with what I may do to it, the
 * "New messages" line, and who has seen my latest message. Pure, so it is
 * tested in Node.
 */
import { seenBy, type Message, type User } from "@huddle/client";
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
  /** "New messages": above the first message that was unread when I opened the room. */
  | { kind: "divider"; key: string; label: string }
  | {
      kind: "message";
      /** Stable across pending → sent → confirmed for my messages, so the row is updated, not replaced. */
      key: string;
      /** The message id, once the server confirmed it. */
      id?: string;
      /** Its number in the room, once confirmed: what reading it up to means. */
      seq?: number;
      user: User;
      text: string;
      ts: number;
      own: boolean;
      grouped: boolean;
      status: DeliveryStatus;
      /** Shown under my last confirmed message ("Sent"). */
      showSent: boolean;
      /** With `showSent`: the people who have seen it, by name (empty: nobody yet). */
      seenBy?: string[];
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
type Row = Omit<MessageItem, "grouped" | "showSent" | "seenBy">;

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
  const seenNames = (id: string): string[] => {
    const message = byId.get(id);
    if (!message) return [];
    return seenBy(message, room.markers, room.messages, me?.id).map((user) => user.name);
  };
  return withDaysAndGroups(rows, now, room.divider, seenNames);
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
    seq: m.seq,
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

function withDaysAndGroups(
  rows: Row[],
  now: number,
  divider: number | undefined,
  seenNames: (id: string) => string[],
): TimelineItem[] {
  let lastOwnConfirmed = -1;
  rows.forEach((row, i) => {
    if (row.own && row.status === "confirmed") lastOwnConfirmed = i;
  });
  const hasLaterOwn = rows.some((row, i) => i > lastOwnConfirmed && row.own);
  const firstNew = divider === undefined ? -1 : rows.findIndex((row) => row.seq !== undefined && row.seq > divider);

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
    if (i === firstNew) items.push({ kind: "divider", key: "new", label: "New messages" });
    const grouped =
      !newDay &&
      i !== firstNew &&
      previous !== undefined &&
      previous.user.id === row.user.id &&
      previous.status !== "failed" &&
      // A reply starts its own group: its quote reads as a new thought.
      row.quote === undefined &&
      row.ts - previous.ts < GROUP_WINDOW_MS;
    const showSent = i === lastOwnConfirmed && !hasLaterOwn && !row.deleted;
    items.push(
      showSent && row.id !== undefined
        ? { ...row, grouped, showSent, seenBy: seenNames(row.id) }
        : { ...row, grouped, showSent },
    );
    previous = row;
  });
  return items;
}
