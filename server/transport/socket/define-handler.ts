/**
 * `defineHandler(commands, event, target)`: a Socket.IO listener for one
 * client event. It finds the ack callback (a client that gives none is still
 * served), hands the payload to the shared commands (validation, services,
 * error normalisation: server/transport/commands.ts) and acks the result.
 *
 * The events of one socket run one at a time, in arrival order (`enqueue`):
 * a client may emit `room:join` and `message:send` back to back without
 * waiting, and the send must find the room joined even when the join waits
 * on Redis.
 */
import type { ClientEventName } from "../../../shared";
import type { CommandTarget, Commands } from "../commands";

export type { CommandHooks as HandlerHooks } from "../commands";

export type EventHandler = (...args: unknown[]) => void;

/** Runs tasks one after another; a task's failure does not stop the ones after it. */
export function createSerialQueue(): (task: () => Promise<void>) => void {
  let tail: Promise<void> = Promise.resolve();
  return (task) => {
    tail = tail.then(task, task);
  };
}

export function defineHandler(
  commands: Commands,
  event: ClientEventName,
  target: CommandTarget,
  enqueue: (task: () => Promise<void>) => void,
): EventHandler {
  return (...args: unknown[]) => {
    const last = args[args.length - 1];
    const ack = typeof last === "function" ? (last as (response: unknown) => void) : undefined;
    const payload = ack ? args.slice(0, -1)[0] : args[0];
    enqueue(async () => {
      const response = await commands.execute(event, payload, target);
      try {
        ack?.(response);
      } catch {
        // An ack to a socket that just closed: nothing left to tell.
      }
    });
  };
}
