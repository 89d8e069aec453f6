/**
 * Moves outbox entries to the server: each pending entry is emitted when its
 * room is joined on the live connection; an answer settles it, a refusal
 * fails it, and a lost answer (timeout, drop) leaves it pending to be sent
 * again with the same `clientMsgId` — up to `maxAttempts` emits.
 */
import type { HuddleClientError } from "./errors";
import { isTransient } from "./errors";
import type { Outbox, OutboxEntry } from "./outbox";
import { toClientError, type Request } from "./request";

export interface SenderOptions {
  outbox: Outbox;
  request: Request;
  /** The socket is up and `roomId` is joined on it. */
  canSend(roomId: string): boolean;
  maxAttempts: number;
  report(entry: OutboxEntry): void;
}

export interface Sender {
  /** Emits every pending entry that can go now. */
  pump(): void;
  /** Fails the pending entries of `roomId` (or of every room). */
  failPending(error: HuddleClientError, roomId?: string): void;
}

export function createSender(options: SenderOptions): Sender {
  const { outbox, request, maxAttempts } = options;
  const report = (entry: OutboxEntry | undefined) => entry && options.report(entry);

  function dispatch(clientMsgId: string) {
    const entry = outbox.dispatched(clientMsgId);
    if (!entry) return;
    const { roomId, text, replyTo } = entry;
    // Every attempt carries the same clientMsgId and replyTo: a re-send is the same message.
    const payload = replyTo === undefined ? { roomId, text, clientMsgId } : { roomId, text, clientMsgId, replyTo };
    request("message:send", payload).then(
      ({ message }) => report(outbox.sent(clientMsgId, message)),
      (error: unknown) => {
        const failure = toClientError(error);
        const current = outbox.get(clientMsgId);
        if (!current || current.status !== "pending") return;
        if (!isTransient(failure) || current.attempts >= maxAttempts) {
          return report(outbox.failed(clientMsgId, failure));
        }
        outbox.unanswered(clientMsgId);
        // Still connected after a timeout: the same clientMsgId again is safe. After a drop, the reconnect pumps.
        if (failure.code === "timeout") pump();
      },
    );
  }

  function pump() {
    for (const entry of outbox.ready()) {
      if (options.canSend(entry.roomId)) dispatch(entry.clientMsgId);
    }
  }

  return {
    pump,
    failPending(error, roomId) {
      for (const entry of outbox.all()) {
        if (entry.status !== "pending" || (roomId !== undefined && entry.roomId !== roomId)) continue;
        report(outbox.failed(entry.clientMsgId, error));
      }
    },
  };
}
