/**
 * One acknowledged call over the socket: emit with a timeout, and turn every
 * outcome into either the `Ok` answer (without `ok`) or a HuddleClientError —
 * the single place where socket.io's errors and `{ ok: false }` acks become
 * the client's one error type.
 */
import type { Ack, AckResults, ClientToServerEvents } from "../../shared/events";
import { HuddleClientError } from "./errors";
import type { HuddleSocket } from "./types";

export type AckedEvent = keyof AckResults;

export type Request = <E extends AckedEvent>(
  event: E,
  payload: Parameters<ClientToServerEvents[E]>[0],
  timeoutMs?: number,
) => Promise<AckResults[E]>;

export function createRequest(socket: HuddleSocket, defaultTimeoutMs: number): Request {
  return async function request<E extends AckedEvent>(
    event: E,
    payload: Parameters<ClientToServerEvents[E]>[0],
    timeoutMs = defaultTimeoutMs,
  ): Promise<AckResults[E]> {
    // Never let socket.io buffer it: a buffered emit would be flushed on reconnect, behind the outbox's back.
    if (!socket.connected) throw new HuddleClientError("disconnected", "not connected");
    let ack: Ack<AckResults[E]>;
    try {
      // The maps type each event separately; for a generic event name the call is checked by the signature above.
      const timed = socket.timeout(timeoutMs) as unknown as {
        emitWithAck(event: string, payload: unknown): Promise<Ack<AckResults[E]>>;
      };
      ack = await timed.emitWithAck(event, payload);
    } catch {
      // socket.io rejects both on timeout and when the connection drops before the answer.
      throw socket.connected
        ? new HuddleClientError("timeout", `no answer to ${event} within ${timeoutMs} ms`)
        : new HuddleClientError("disconnected", `connection lost before ${event} was answered`);
    }
    if (!ack.ok) throw HuddleClientError.fromWire(ack.error);
    const { ok: _ok, ...result } = ack;
    return result as unknown as AckResults[E];
  };
}

export function toClientError(error: unknown): HuddleClientError {
  return error instanceof HuddleClientError ? error : new HuddleClientError("internal", describeError(error));
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
