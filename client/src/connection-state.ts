/**
 * The connection as an explicit state machine. One `set` changes it and
 * reports `{ newState, oldState }` only when something a user could see
 * changed, so a UI can render straight from the event.
 *
 *   connecting ──▶ connected ──(drop)──▶ reconnecting ──(timer)──▶ connecting …
 *        │                                    ▲
 *        └──────(refused / unreachable)───────┘
 *   any ──(close(), token refused for good, unsupported version)──▶ offline
 *
 * "connected" means in sync: the socket is up and every joined room has been
 * re-joined (with `since`), so a UI showing "Connected" shows everything.
 */
import { HuddleClientError } from "./errors";

export type ConnectionState =
  | { status: "connecting" }
  | { status: "connected" }
  | {
      status: "reconnecting";
      /** 1 for the first retry after a drop or failure. */
      attempt: number;
      delayMs: number;
      /** When the next attempt starts, ms since epoch. */
      nextAttemptAt: number;
      /** Why the last connection ended or failed, when known. */
      error?: HuddleClientError;
    }
  | { status: "offline"; reason: "closed" | "auth" | "unsupported"; error?: HuddleClientError };

export type ConnectionStatus = ConnectionState["status"];

export interface StateChange {
  newState: ConnectionState;
  oldState: ConnectionState;
}

export interface StateMachine {
  get(): ConnectionState;
  /** Moves to `next`; calls `onChange` only if it differs from the current state. */
  set(next: ConnectionState): void;
}

export function createStateMachine(initial: ConnectionState, onChange: (change: StateChange) => void): StateMachine {
  let state = initial;
  return {
    get: () => state,
    set(next) {
      if (sameState(state, next)) return;
      const oldState = state;
      state = next;
      onChange({ newState: next, oldState });
    },
  };
}

function sameState(a: ConnectionState, b: ConnectionState): boolean {
  if (a.status !== b.status) return false;
  if (a.status === "reconnecting" && b.status === "reconnecting") {
    return a.attempt === b.attempt && a.nextAttemptAt === b.nextAttemptAt;
  }
  if (a.status === "offline" && b.status === "offline") return a.reason === b.reason && a.error === b.error;
  return true;
}

/**
 * Resolves once `machine` is connected (at once if it is); rejects after `timeoutMs`, or when it goes offline.
 * `subscribe` registers a listener for state changes and returns the function that removes it.
 */
export function waitUntilConnected(
  machine: StateMachine,
  subscribe: (listener: (change: StateChange) => void) => () => void,
  timeoutMs: number,
): Promise<void> {
  if (machine.get().status === "connected") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new HuddleClientError("timeout", `not connected within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = subscribe(({ newState }) => {
      if (newState.status === "connected") {
        clearTimeout(timer);
        off();
        resolve();
      } else if (newState.status === "offline") {
        clearTimeout(timer);
        off();
        reject(newState.error ?? new HuddleClientError("closed", "the client went offline"));
      }
    });
  });
}
