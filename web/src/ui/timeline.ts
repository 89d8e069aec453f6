/**
 * A room's messages as the rows the UI shows: day headings, my messages
 * marked, consecutive messages of one person grouped, and my unconfirmed
 * messages with their delivery state. Pure, so it is tested in Node.
 */
import type { User } from "../client";
import { dayKey, dayLabel, errorText } from "./format";
import type { RoomView } from "./store";

/** Messages from one person closer than this are drawn as one group. */
const GROUP_WINDOW_MS = 5 * 60_000;

export type DeliveryStatus = "confirmed" | "pending" | "sent" | "failed";

export type TimelineItem =
  | { kind: "day"; key: string; label: string }
  | {
      kind: "message";
      /** Stable across pending → sent → confirmed for my messages, so the row is updated, not replaced. */
      key: string;
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
    };

type MessageItem = Extract<TimelineItem, { kind: "message" }>;

export function buildTimeline(room: RoomView, me: User | undefined, now: number): TimelineItem[] {
  const rows: Omit<MessageItem, "grouped" | "showSent">[] = [];
  for (const m of room.messages) {
    const own = me !== undefined && m.user.id === me.id;
    rows.push({
      kind: "message",
      key: own && m.clientMsgId !== undefined ? `c:${m.clientMsgId}` : `m:${m.id}`,
      user: m.user,
      text: m.text,
      ts: m.ts,
      own,
      status: "confirmed",
      clientMsgId: own ? m.clientMsgId : undefined,
    });
  }
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
    });
  }

  let lastOwnConfirmed = -1;
  rows.forEach((row, i) => {
    if (row.own && row.status === "confirmed") lastOwnConfirmed = i;
  });
  const hasLaterOwn = rows.some((row, i) => i > lastOwnConfirmed && row.own);

  const items: TimelineItem[] = [];
  const usedDayKeys = new Set<string>();
  let previous: (typeof rows)[number] | undefined;
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
      row.ts - previous.ts < GROUP_WINDOW_MS;
    items.push({ ...row, grouped, showSent: i === lastOwnConfirmed && !hasLaterOwn });
    previous = row;
  });
  return items;
}
