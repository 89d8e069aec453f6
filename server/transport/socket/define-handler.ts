/**
 * `defineHandler(commands, event, target)`: a Socket.IO listener for one
 * client event. It finds the ack callback (a client that gives none is still
 * served), hands the payload to the shared commands (validation, services,
 * error normalisation: server/transport/commands.ts) and acks the result.
 */
import type { ClientEventName } from "../../../shared";
import type { CommandTarget, Commands } from "../commands";

export type { CommandHooks as HandlerHooks } from "../commands";

export type EventHandler = (...args: unknown[]) => void;

export function defineHandler(commands: Commands, event: ClientEventName, target: CommandTarget): EventHandler {
  return (...args: unknown[]) => {
    const last = args[args.length - 1];
    const ack = typeof last === "function" ? (last as (response: unknown) => void) : undefined;
    const payload = ack ? args.slice(0, -1)[0] : args[0];
    void commands.execute(event, payload, target).then((response) => {
      try {
        ack?.(response);
      } catch {
        // An ack to a socket that just closed: nothing left to tell.
      }
    });
  };
}
