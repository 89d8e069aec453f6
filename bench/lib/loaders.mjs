/**
 * The runner's side of the load generators: forks them, and turns each IPC
 * command into a promise (a generator that dies rejects what it was asked).
 * `spread` generators share the clients of a scenario; one more, the probe,
 * holds only the few clients a scenario gives it explicitly, so that their
 * timings are not delayed by a busy generator's own event loop.
 */
import { fileURLToPath } from "node:url";
import { forkLoader } from "./processes.mjs";

const LOAD_PATH = fileURLToPath(new URL("../load.mjs", import.meta.url));

export async function startLoaders(spread, secret) {
  let nextId = 0;
  const count = spread + 1;
  const loaders = Array.from({ length: count }, () => {
    const child = forkLoader(LOAD_PATH);
    const pending = new Map();
    child.on("message", (msg) => {
      const waiter = pending.get(msg.id);
      if (!waiter) return;
      pending.delete(msg.id);
      if (msg.ok) waiter.resolve(msg.result);
      else waiter.reject(new Error(`load generator: ${msg.error}`));
    });
    child.once("exit", (code, signal) => {
      for (const waiter of pending.values()) {
        waiter.reject(new Error(`load generator exited (${signal ?? code}) during a command`));
      }
      pending.clear();
    });
    return { child, pending };
  });

  const request = (index, command) => {
    const { child, pending } = loaders[index];
    const id = ++nextId;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      child.send({ id, ...command });
    });
  };
  const all = (commandFor) => Promise.all(loaders.map((_, i) => request(i, commandFor(i))));

  await all((i) => ({ cmd: "init", loaderId: i, secret }));
  return {
    /** Every generator, the probe included (commands to `all` go to each). */
    count,
    /** The generators clients are spread over. */
    spread,
    /** The index of the probe generator. */
    probe: spread,
    pids: loaders.map((l) => l.child.pid),
    request,
    all,
    async stop() {
      await Promise.all(
        loaders.map(async ({ child }, i) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const gone = new Promise((resolve) => child.once("exit", resolve));
          request(i, { cmd: "exit" }).catch(() => {});
          const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
          await gone;
          clearTimeout(timer);
        }),
      );
    },
  };
}
