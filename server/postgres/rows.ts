/** Rows of the `messages` table as the stores read them, and back into the wire's `Message`. */
import type { Message, Reaction } from "../../shared";

/** The columns every message read selects (`m` is `messages`); the room's epoch comes beside them. */
export const MESSAGE_COLUMNS =
  "m.room_id, m.pos, m.seq, m.rev, m.user_id, m.user_name, m.text, m.ts, m.client_msg_id, m.reply_to, m.edited_at, m.deleted, m.reactions";

/** bigint columns arrive as strings (node-postgres keeps int8 exact); every figure here fits a double. */
export interface MessageRow {
  [column: string]: unknown;
  room_id: string;
  pos: string;
  seq: string;
  rev: string;
  user_id: string;
  user_name: string;
  text: string;
  ts: string;
  client_msg_id: string | null;
  reply_to: string | null;
  edited_at: string | null;
  deleted: boolean;
  reactions: Reaction[] | null;
  epoch: string;
}

/** A row as a stored message (every reacting user kept; `toWire` cuts the lists). */
export function toMessage(row: MessageRow): Message {
  const message: Message = {
    id: `${row.epoch}-${row.pos}`,
    roomId: row.room_id,
    user: { id: row.user_id, name: row.user_name },
    text: row.text,
    ts: Number(row.ts),
    seq: Number(row.seq),
    rev: `${row.epoch}-${row.rev}`,
  };
  if (row.client_msg_id !== null) message.clientMsgId = row.client_msg_id;
  if (row.reply_to !== null) message.replyTo = row.reply_to;
  if (row.edited_at !== null) message.editedAt = Number(row.edited_at);
  if (row.deleted) message.deleted = true;
  if (row.reactions && row.reactions.length > 0) message.reactions = row.reactions;
  return message;
}
