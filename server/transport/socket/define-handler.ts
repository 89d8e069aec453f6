/**
 * `defineHandler(schema, fn)`: the edge every client event passes. It parses
 * the payload with its schema (bad_request otherwise, nothing executed),
 * accepts a missing ack callback, runs `fn`, and turns any thrown value into
 * an `Err` ack through the one normaliser, so no stack or cause reaches the
 * wire and nothing a client sends can throw out of a handler.
 */
import type { z } from "zod";
import { describeIssues, ErrorCode, type Ack } from "../../../shared";
import { toWireError } from "../../errors";

export interface HandlerHooks {
  /** Called once per event with its outcome, for metrics and logs. */
  onOutcome(event: string, startedAt: bigint, ack: Ack<object>, thrown?: unknown): void;
}

export type EventHandler = (...args: unknown[]) => void;

export function defineHandler<S extends z.ZodType, R extends object>(
  event: string,
  schema: S,
  fn: (payload: z.infer<S>) => Promise<R> | R,
  hooks: HandlerHooks,
): EventHandler {
  return (...args: unknown[]) => {
    const startedAt = process.hrtime.bigint();
    const last = args[args.length - 1];
    const ack = typeof last === "function" ? (last as (response: Ack<object>) => void) : undefined;
    const payload = ack ? args.slice(0, -1)[0] : args[0];
    const reply = (response: Ack<object>, thrown?: unknown) => {
      hooks.onOutcome(event, startedAt, response, thrown);
      try {
        ack?.(response);
      } catch {
        // An ack to a socket that just closed: nothing left to tell.
      }
    };
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      reply({ ok: false, error: { code: ErrorCode.BadRequest, message: describeIssues(parsed.error) } });
      return;
    }
    let result: Promise<R>;
    try {
      result = Promise.resolve(fn(parsed.data));
    } catch (thrown) {
      result = Promise.reject(thrown);
    }
    result.then(
      (value) => reply({ ok: true, ...value }),
      (thrown: unknown) => reply({ ok: false, error: toWireError(thrown) }, thrown),
    );
  };
}
