/** Time, injected so the core can be tested with a fixed clock. */
export interface Clock {
  /** Milliseconds since epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
