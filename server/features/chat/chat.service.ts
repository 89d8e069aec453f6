/**
 * Chat (§3 `message:send`, `room:history`; §8 edits, deletes, reactions and
 * replies; and the REST routes over them): text normalised and checked, the
 * sender's budget taken, the message or change stored (which publishes it),
 * and the sender's typing ended. The rules of each change are in
 * ./message-rules.ts; bad input is refused before any budget is spent.
 */
import { checkMessageText, ErrorCode, Limits, type Message, type User } from "../../../shared";
import type { Clock } from "../../core/clock";
import { parsePosition } from "../../core/position";
import { badRequest, HuddleError, notAMessage } from "../../errors";
import type { RateLimiter } from "../limits/rate-limiter";
import type { TypingService } from "../typing/typing.service";
import { deleteRule, editRule, reactionRule, type Actor, type ChangeRule } from "./message-rules";
import type { AppendResult, ChangeResult, MessageStore, Page } from "./message.store";

export interface ChatServiceOptions {
  messages: MessageStore;
  limiter: RateLimiter;
  typing: TypingService;
  clock: Clock;
  onError?: (error: unknown) => void;
  /** Called once for each message stored (not for a repeated clientMsgId). */
  onStored?: (message: Message) => void;
}

export interface SendInput {
  roomId: string;
  text: string;
  clientMsgId?: string;
  replyTo?: string;
}

export interface PageQuery {
  before?: string;
  after?: string;
  limit?: number;
}

export interface ChatService {
  /**
   * Stores and publishes a message. The caller has checked room access (and,
   * for sockets, membership).
   * @returns the message, and whether it is the first one stored for its clientMsgId.
   */
  send(user: User, input: SendInput): Promise<AppendResult>;
  /** Edits the text of one of `actor`'s messages (§8). */
  edit(actor: Actor, roomId: string, id: string, text: string): Promise<ChangeResult>;
  /** Deletes a message, leaving a tombstone: the author's, or any for a moderator (§8, §11). */
  remove(actor: Actor, roomId: string, id: string): Promise<ChangeResult>;
  /** Adds (`add`) or removes `actor`'s reaction `emoji` (§8). */
  react(actor: Actor, roomId: string, id: string, emoji: string, add: boolean): Promise<ChangeResult>;
  /** A page of history: the newest before `before` (or of all), or the oldest after `after`. */
  page(roomId: string, query: PageQuery): Promise<Page>;
}

const rateLimited = (retryAfterMs: number) =>
  new HuddleError(ErrorCode.RateLimited, "you are sending too fast", retryAfterMs);

export function createChatService(options: ChatServiceOptions): ChatService {
  const { messages, limiter, typing, clock } = options;

  const positionOf = (name: string, position: string) => {
    if (!parsePosition(position)) throw badRequest(`${name} is not a message id of this server`);
    return position;
  };

  /** After a message is stored: count it, and end the sender's typing at once (off the ack's path). */
  const stored = (result: AppendResult) => {
    if (!result.duplicate) {
      options.onStored?.(result.message);
      // A failure here must not fail the send, which is already stored.
      typing.stop(result.message.user.id, result.message.roomId).catch((error) => options.onError?.(error));
    }
    return result;
  };

  /** The sender's budget, taken only once a change is known to change something. */
  const budgetOf = (userId: string) => async () => {
    const decision = await limiter.take(userId, clock.now());
    if (!decision.ok) throw rateLimited(decision.retryAfterMs);
  };

  const change = async (actor: Actor, roomId: string, id: string, rule: ChangeRule) => {
    // No store round trip for what cannot be a message of any room (and no such string handed to a store).
    if (!parsePosition(id)) throw notAMessage("id");
    return messages.change(roomId, id, rule, budgetOf(actor.id));
  };

  return {
    async send(user, input) {
      const checked = checkMessageText(input.text);
      if (!checked.ok) throw new HuddleError(checked.code, checked.message);
      // A form no message id has is not_found like any other unknown id (§2); the Redis store reads "" as "none".
      if (input.replyTo !== undefined && !parsePosition(input.replyTo)) throw notAMessage("replyTo");
      const draft = {
        roomId: input.roomId,
        user,
        text: checked.text,
        clientMsgId: input.clientMsgId,
        replyTo: input.replyTo,
        ts: clock.now(),
      };
      if (messages.appendWithinBudget) {
        // One round trip: idempotency, reply check, budget, store and publish in one step.
        const result = await messages.appendWithinBudget(draft, user.id, draft.ts);
        if ("retryAfterMs" in result) throw rateLimited(result.retryAfterMs);
        return stored(result);
      }
      if (input.replyTo !== undefined && !(await messages.get(input.roomId, input.replyTo))) {
        // A retry of a stored reply is answered with it even if its target is gone (trimmed, say).
        const first =
          input.clientMsgId === undefined ? null : await messages.findSent(input.roomId, user.id, input.clientMsgId);
        if (first) return { message: first, duplicate: true };
        throw new HuddleError(ErrorCode.NotFound, `replyTo: no message ${input.replyTo} in this room`);
      }
      const decision = await limiter.take(user.id, clock.now());
      if (!decision.ok && input.clientMsgId !== undefined) {
        // A retry of a message already stored is answered with it, whatever the budget: the sender is not sending more.
        const first = await messages.findSent(input.roomId, user.id, input.clientMsgId);
        if (first) return { message: first, duplicate: true };
      }
      if (!decision.ok) throw rateLimited(decision.retryAfterMs);
      draft.ts = clock.now();
      return stored(await messages.append(draft));
    },

    edit(actor, roomId, id, text) {
      return change(actor, roomId, id, editRule(actor, text, clock.now()));
    },

    remove(actor, roomId, id) {
      return change(actor, roomId, id, deleteRule(actor));
    },

    react(actor, roomId, id, emoji, add) {
      return change(actor, roomId, id, reactionRule(actor, emoji, add));
    },

    async page(roomId, query) {
      const limit = query.limit ?? Limits.pageDefault;
      if (query.before !== undefined && query.after !== undefined) {
        throw badRequest("give before or after, not both");
      }
      if (query.before !== undefined) return messages.before(roomId, positionOf("before", query.before), limit);
      if (query.after !== undefined) return messages.after(roomId, positionOf("after", query.after), limit);
      return messages.latest(roomId, limit);
    },
  };
}
