/**
 * Where messages live, and the room's changes (§8): every message in its
 * current state, numbered by `seq`, placed by positions (../../core/position.ts),
 * with the idempotency record of each `clientMsgId`. Every implementation
 * (memory, Redis, PostgreSQL) passes the same contract suite
 * (tests/stores/messages.contract.test.ts).
 *
 * Writes publish their event (`message`, `update`) on the room-event bus as
 * part of storing, so that every node sees a room's changes in the order of
 * their positions.
 */
import type { Message, User } from "../../../shared";
import type { ChangeRule } from "./message-rules";

export interface MessageDraft {
  roomId: string;
  user: User;
  text: string;
  clientMsgId?: string;
  /** Checked by the store: a message of the same room, else `not_found`. */
  replyTo?: string;
  /** Server time the message is stamped with. */
  ts: number;
}

export interface Page {
  messages: Message[];
  /** Older messages exist (for `latest` and `before`), newer ones exist (for `after`). */
  more: boolean;
}

/** What happened in a room after a position, as `room:join` with `since`, polls and SSE replay need it. */
export interface Missed {
  /** Messages created after the position, oldest first, in their current state. */
  messages: Message[];
  /** Messages at or before the position that changed after it, in change order (by `rev`), in their current state. */
  updates: Message[];
}

export type AppendResult = { message: Message; duplicate: boolean };
export type ChangeResult = { message: Message; changed: boolean };

/** Takes one token of the sender's message budget, or throws `rate_limited`. */
export type BudgetGuard = () => Promise<void>;

export interface MessageStore {
  /**
   * Stores the message with the room's next `seq` and position and publishes it. A draft whose
   * (roomId, user, clientMsgId) was stored before returns that first message (in its current state: a
   * tombstone if it was deleted), with `duplicate: true`, and stores and publishes nothing.
   * @throws HuddleError not_found when `replyTo` is not a message of the room.
   * @throws StoreUnavailableError when the message could not be stored.
   */
  append(draft: MessageDraft): Promise<AppendResult>;
  /**
   * Optional fused path (one round trip): like `append`, but first takes one token of the sender's budget
   * (`budgetKey`); a clientMsgId stored before returns its first message without taking one; an empty budget
   * stores nothing and says when to retry.
   */
  appendWithinBudget?(
    draft: MessageDraft,
    budgetKey: string,
    now: number,
  ): Promise<AppendResult | { retryAfterMs: number }>;
  /**
   * Applies `rule` to the current state of message `id` and, when it changes something, stores the result with
   * the room's next position as its `rev` and publishes an `update` — atomically with respect to every other
   * change of the room, on every node. `beforeCommit` runs once, only for a change that will be stored (the
   * sender's budget), and may throw to refuse it.
   * @throws HuddleError not_found when `id` is not a message of the room (or is no longer kept); whatever `rule` throws.
   */
  change(roomId: string, id: string, rule: ChangeRule, beforeCommit?: BudgetGuard): Promise<ChangeResult>;
  /** The message in its current state, or null when `id` is not a message of the room (or no longer kept). */
  get(roomId: string, id: string): Promise<Message | null>;
  /** The newest `limit` messages, oldest first. */
  latest(roomId: string, limit: number): Promise<Page>;
  /** The newest `limit` messages older than `position` (which need not exist), oldest first. */
  before(roomId: string, position: string, limit: number): Promise<Page>;
  /** The oldest `limit` messages newer than `position` (which need not exist), oldest first. */
  after(roomId: string, position: string, limit: number): Promise<Page>;
  /**
   * What changed after `position`, when `position` is a position of the room still covered by what is kept and
   * at most `max` messages (created after it, or changed after it) are involved; otherwise null: the gap
   * cannot be filled.
   */
  since(roomId: string, position: string, max: number): Promise<Missed | null>;
  /**
   * What a long poll from `position` answers (§8): at most `limit` messages created after it (oldest first),
   * the messages at or before it changed after it (in change order) — only those changed before the last
   * message returned when the messages were cut at `limit` — and `cursor`, the newest position included
   * (`position` itself when nothing happened after it). Null when `position` is not covered.
   */
  pollFrom(roomId: string, position: string, limit: number): Promise<(Missed & { cursor: string }) | null>;
  /** The message first stored for (roomId, userId, clientMsgId), in its current state, while it is remembered. */
  findSent(roomId: string, userId: string, clientMsgId: string): Promise<Message | null>;
  /** The room's newest position (of a message or a change), or null when nothing happened in it. */
  head(roomId: string): Promise<string | null>;
}
