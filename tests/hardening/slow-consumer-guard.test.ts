/**
 * The slow-consumer guard's rules on their own (the end-to-end behaviour,
 * with real clients that stop reading, is in slow-consumers.test.ts):
 * dropped only when over the cap at two sweeps in a row and not draining;
 * lagging with hysteresis; sources swept like registered connections.
 */
import { eventually } from "../helpers/clients";
import {
  createSlowConsumerGuard,
  type ConsumerInfo,
  type SlowConsumerGuard,
  type WatchedConnection,
} from "../../server/transport/slow-consumers";

const MAX = 1000;
const SWEEP_MS = 10;
let guard: SlowConsumerGuard | undefined;
afterEach(() => guard?.close());

function start() {
  const dropped: { who: ConsumerInfo; bytes: number }[] = [];
  const lagging: number[] = [];
  guard = createSlowConsumerGuard({
    maxBufferedBytes: MAX,
    sweepMs: SWEEP_MS,
    onDropped: (who, bytes) => dropped.push({ who, bytes }),
    onSweep: (counts) => lagging.push(counts.ws),
  });
  /** Resolves once `n` more sweeps have run (timers may be late on a busy machine: no fixed sleeps). */
  const sweeps = (n: number) => {
    const target = lagging.length + n;
    return eventually(() => lagging.length >= target, `${n} sweeps`);
  };
  return { guard, dropped, lagging, sweeps };
}

function connection(bytes: () => number) {
  const state = { drops: 0, lagging: [] as boolean[] };
  const watched: WatchedConnection = {
    transport: "ws",
    userId: "u-1",
    bufferedBytes: bytes,
    setLagging: (value) => void state.lagging.push(value),
    drop: () => void state.drops++,
  };
  return { watched, state };
}

test("a queue over the cap and still growing is dropped, once, and reported", async () => {
  const { guard, dropped, sweeps } = start();
  let bytes = MAX + 1;
  const { watched, state } = connection(() => (bytes += 10));
  guard.watch(watched);
  await sweeps(4);
  expect(state.drops).toBe(1);
  expect(dropped).toHaveLength(1);
  expect(dropped[0]!.who).toMatchObject({ transport: "ws", userId: "u-1" });
  expect(dropped[0]!.bytes).toBeGreaterThan(MAX);
});

test("a queue over the cap that drains between sweeps is spared", async () => {
  const { guard, dropped, sweeps } = start();
  let bytes = 50 * MAX;
  const { watched, state } = connection(() => (bytes -= 100));
  guard.watch(watched);
  await sweeps(5);
  expect(state.drops).toBe(0);
  expect(dropped).toEqual([]);
});

test("lagging starts past half the cap and ends below a quarter", async () => {
  const { guard, sweeps } = start();
  let bytes = 0;
  const { watched, state } = connection(() => bytes);
  guard.watch(watched);
  bytes = MAX * 0.6;
  await sweeps(2);
  expect(state.lagging).toEqual([true]);
  bytes = MAX * 0.3; // between a quarter and a half: still lagging
  await sweeps(2);
  expect(state.lagging).toEqual([true]);
  bytes = 0;
  await sweeps(2);
  expect(state.lagging).toEqual([true, false]);
});

test("a source's connections are judged by the same rules, and their lagging counted", async () => {
  const { guard, dropped, lagging, sweeps } = start();
  let growing = MAX + 1;
  const verdicts = new Map<string, string[]>();
  const keys = { idle: {}, behind: {}, flooding: {} };
  guard.addSource({
    transport: "ws",
    sweep(judge, report) {
      let count = 0;
      const look = (name: keyof typeof keys, bytes: number, wasLagging: boolean) => {
        const verdict = judge(keys[name], bytes, wasLagging);
        verdicts.set(name, [...(verdicts.get(name) ?? []), verdict]);
        if (verdict === "drop") report({ transport: "ws", userId: name }, bytes);
        if (verdict === "lagging") count++;
      };
      look("idle", 0, false);
      look("behind", MAX * 0.6, false);
      if (!verdicts.get("flooding")?.includes("drop")) look("flooding", (growing += 10), false);
      return count;
    },
  });
  await sweeps(4);
  expect(new Set(verdicts.get("idle"))).toEqual(new Set(["fine"]));
  expect(new Set(verdicts.get("behind"))).toEqual(new Set(["lagging"]));
  // Never judged on a single look: the first sweep only records the queue.
  expect(verdicts.get("flooding")!.slice(0, 2)).toEqual(["lagging", "drop"]);
  expect(dropped.map((d) => d.who.userId)).toEqual(["flooding"]);
  expect(lagging.at(-1)).toBe(1);
});
