/**
 * Where messages live: per room, the latest `HISTORY_MAX`, in server order,
 * with the idempotency record of each `clientMsgId`.
 */
import type { Message, User } from "../../../shared";

export interface MessageDraft {
  roomId: string;
  user: User;
  text: string;
  clientMsgId?: string;
  /** Server time the message is stamped with. */
  ts: number;
}

export interface Page {
  messages: Message[];
  /** Older messages exist (for `latest` and `before`), newer ones exist (for `after`). */
  more: boolean;
}

export interface HistoryStore {
  /**
   * Stores the message and publishes it on the room-event bus, as one step, so
   * that every node sees messages in the order they were stored. A draft whose
   * (roomId, user, clientMsgId) was stored before returns that first message,
   * with `duplicate: true`, and stores and publishes nothing.
   * @throws StoreUnavailableError when the message could not be stored.
   */
  append(draft: MessageDraft): Promise<{ message: Message; duplicate: boolean }>;
  /**
   * Optional fused path (Redis): like `append`, but first takes one token of the sender's message budget
   * (`budgetKey`), in the same round trip. A clientMsgId stored before returns its first message without
   * taking a token; an empty budget stores nothing and says when to retry.
   */
  appendWithinBudget?(
    draft: MessageDraft,
    budgetKey: string,
    now: number,
  ): Promise<{ message: Message; duplicate: boolean } | { retryAfterMs: number }>;
  /** The newest `limit` messages, oldest first. */
  latest(roomId: string, limit: number): Promise<Page>;
  /** The newest `limit` messages older than `beforeId` (a position: it need not exist), oldest first. */
  before(roomId: string, beforeId: string, limit: number): Promise<Page>;
  /** The oldest `limit` messages newer than `afterId` (a position: it need not exist), oldest first. */
  after(roomId: string, afterId: string, limit: number): Promise<Page>;
  /**
   * Every message after `id`, oldest first, when `id` is a retained message
   * and at most `max` came after it; otherwise null (the gap cannot be filled).
   */
  since(roomId: string, id: string, max: number): Promise<Message[] | null>;
  /** The message first stored for (roomId, userId, clientMsgId), while it is remembered; else null. */
  findSent(roomId: string, userId: string, clientMsgId: string): Promise<Message | null>;
  /** The newest message id of the room, or null when it has none. */
  newestId(roomId: string): Promise<string | null>;
}
