/**
 * Commands a redis-server has run, from `INFO commandstats`: how many calls of
 * each command, those run inside scripts included (Redis counts a script's
 * `redis.call`s as commands of their own). The bench's own INFO calls are left
 * out. One short-lived connection per snapshot, in plain RESP, so the runner
 * needs no Redis client.
 */
import { createConnection } from "node:net";

function info(port, section) {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    let data = "";
    socket.setEncoding("utf8");
    socket.on("connect", () => socket.write(`*2\r\n$4\r\nINFO\r\n$${section.length}\r\n${section}\r\n`));
    socket.on("data", (chunk) => {
      data += chunk;
      // A bulk string: `$<length>\r\n<payload>\r\n` (the length counts bytes; INFO is ASCII).
      const header = /^\$(\d+)\r\n/.exec(data);
      if (header && data.length >= header[0].length + Number(header[1]) + 2) {
        socket.end();
        resolve(data.slice(header[0].length, header[0].length + Number(header[1])));
      }
    });
    socket.on("error", reject);
  });
}

/**
 * Calls per command so far (`{ evalsha: 12, hget: 30, … }`), the bench's INFO excluded; `port` may be a list
 * (a Redis Cluster's nodes), whose counts are summed.
 */
export async function redisCommandCounts(port) {
  const counts = {};
  for (const p of Array.isArray(port) ? port : [port]) {
    for (const match of (await info(p, "commandstats")).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (match[1] !== "info") counts[match[1]] = (counts[match[1]] ?? 0) + Number(match[2]);
    }
  }
  return counts;
}

/** What ran between two snapshots: the calls per command, the total, and how many were script invocations. */
export function commandsBetween(before, after) {
  const byCommand = {};
  let total = 0;
  for (const [name, calls] of Object.entries(after)) {
    const delta = calls - (before[name] ?? 0);
    if (delta > 0) {
      byCommand[name] = delta;
      total += delta;
    }
  }
  const scripts = (byCommand.evalsha ?? 0) + (byCommand.eval ?? 0) + (byCommand.fcall ?? 0);
  return { total, scripts, byCommand };
}
