/**
 * Chat (§3 `message:send`, `room:history`, and the REST routes over them):
 * text normalised and checked, the sender's budget taken, the message stored
 * (which publishes it), and the sender's typing ended.
 */
import { checkMessageText, ErrorCode, Limits, type Message, type User } from "../../../shared";
import type { Clock } from "../../core/clock";
import { parseMessageId } from "../../core/message-id";
import { badRequest, HuddleError } from "../../errors";
import type { RateLimiter } from "../limits/rate-limiter";
import type { TypingService } from "../typing/typing.service";
import type { HistoryStore, Page } from "./history.store";

export interface ChatServiceOptions {
  history: HistoryStore;
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
  send(user: User, input: SendInput): Promise<{ message: Message; duplicate: boolean }>;
  /** A page of history: the newest before `before` (or of all), or the oldest after `after`. */
  page(roomId: string, query: PageQuery): Promise<Page>;
}

export function createChatService(options: ChatServiceOptions): ChatService {
  const { history, limiter, typing, clock } = options;

  const messageIdOf = (name: string, id: string) => {
    if (!parseMessageId(id)) throw badRequest(`${name} is not a message id of this server`);
    return id;
  };

  /** After a message is stored: count it, and end the sender's typing at once (off the ack's path). */
  const stored = (result: { message: Message; duplicate: boolean }) => {
    if (!result.duplicate) {
      options.onStored?.(result.message);
      // A failure here must not fail the send, which is already stored.
      typing.stop(result.message.user.id, result.message.roomId).catch((error) => options.onError?.(error));
    }
    return result;
  };

  return {
    async send(user, input) {
      const checked = checkMessageText(input.text);
      if (!checked.ok) throw new HuddleError(checked.code, checked.message);
      if (history.appendWithinBudget) {
        // One round trip: budget, idempotency, store and publish in one step.
        const draft = {
          roomId: input.roomId,
          user,
          text: checked.text,
          clientMsgId: input.clientMsgId,
          ts: clock.now(),
        };
        const result = await history.appendWithinBudget(draft, user.id, draft.ts);
        if ("retryAfterMs" in result) {
          throw new HuddleError(ErrorCode.RateLimited, "you are sending too fast", result.retryAfterMs);
        }
        return stored(result);
      }
      const decision = await limiter.take(user.id, clock.now());
      if (!decision.ok && input.clientMsgId !== undefined) {
        // A retry of a message already stored is answered with it, whatever the budget: the sender is not sending more.
        const first = await history.findSent(input.roomId, user.id, input.clientMsgId);
        if (first) return { message: first, duplicate: true };
      }
      if (!decision.ok) {
        throw new HuddleError(ErrorCode.RateLimited, "you are sending too fast", decision.retryAfterMs);
      }
      const result = await history.append({
        roomId: input.roomId,
        user,
        text: checked.text,
        clientMsgId: input.clientMsgId,
        ts: clock.now(),
      });
      return stored(result);
    },

    async page(roomId, query) {
      const limit = query.limit ?? Limits.pageDefault;
      if (query.before !== undefined && query.after !== undefined) {
        throw badRequest("give before or after, not both");
      }
      if (query.before !== undefined) return history.before(roomId, messageIdOf("before", query.before), limit);
      if (query.after !== undefined) return history.after(roomId, messageIdOf("after", query.after), limit);
      return history.latest(roomId, limit);
    },
  };
}
