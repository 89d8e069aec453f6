/**
 * Clients that reach nginx from a chosen loopback source address. nginx hashes
 * `$remote_addr`, and every local client comes from 127.0.0.1 unless told
 * otherwise, so without this all test clients would land on one node.
 *
 * Verified with engine.io-client 6.6: the polling transport uses only the
 * `agent` option (its XHR shim ignores `localAddress`); the websocket
 * transport passes `agent` (and `localAddress`) on to `ws`. An
 * `http.Agent({ localAddress })` therefore binds both transports, including
 * the polling -> websocket upgrade.
 */
import { Agent } from "node:http";
import type { SessionInfo } from "../../shared";
import { createClient, waitForEvent, type ClientOptions, type HuddleClient } from "../helpers/clients";

const agents = new Set<Agent>();

/** Socket.IO client options that make every request of the client come from `address`. */
export function fromAddress(address: string): Pick<ClientOptions, "agent"> {
  const agent = new Agent({ localAddress: address, keepAlive: true });
  agents.add(agent);
  // engine.io-client types `agent` as string | boolean; at run time it forwards the object to http and ws.
  return { agent: agent as unknown as string };
}

/** Destroys the agents made by `fromAddress` (their keep-alive sockets). */
export function destroyAgents(): void {
  for (const agent of agents) agent.destroy();
  agents.clear();
}

/** 127.0.0.2, 127.0.0.3, … */
export const loopback = (n: number) => `127.0.0.${n}`;

export interface Connected {
  socket: HuddleClient;
  session: SessionInfo;
  address: string;
}

/** Connects through `url` from `address` and resolves with the `session` it got. */
export async function connectFrom(url: string, address: string, options: ClientOptions = {}): Promise<Connected> {
  const socket = createClient(url, { ...fromAddress(address), ...options });
  const session = waitForEvent<SessionInfo>(socket, "session", { timeoutMs: 5000 });
  const refused = new Promise<never>((_, reject) =>
    socket.once("connect_error", (error) => reject(new Error(`connect_error from ${address}: ${error.message}`))),
  );
  return { socket, session: await Promise.race([session, refused]), address };
}

/**
 * Probes source addresses until each of `nodeIds` has `perNode` addresses that
 * nginx sends to it. Consistent hashing over two nodes splits addresses
 * roughly evenly, so a few dozen candidates are plenty.
 */
export async function addressesByNode(
  url: string,
  nodeIds: readonly string[],
  perNode = 2,
): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>(nodeIds.map((id) => [id, []]));
  const enough = () => [...found.values()].every((list) => list.length >= perNode);
  for (let n = 2; n < 250 && !enough(); n += 8) {
    const batch = Array.from({ length: 8 }, (_, i) => loopback(n + i));
    const probes = await Promise.all(batch.map((address) => connectFrom(url, address, { transport: "websocket" })));
    for (const { socket, session, address } of probes) {
      found.get(session.nodeId)?.push(address);
      socket.close();
    }
  }
  if (!enough()) throw new Error(`could not find ${perNode} source addresses per node: ${JSON.stringify([...found])}`);
  return found;
}

/** Emits `event` with an ack and resolves with the ack, or fails naming the event. */
export function ack(socket: HuddleClient, event: string, payload: unknown, timeoutMs = 3000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for the ack of "${event}"`)), timeoutMs);
    (socket.emit as (...args: unknown[]) => void)(event, payload, (response: unknown) => {
      clearTimeout(timer);
      resolve(response);
    });
  });
}

/** One HTTP request, optionally from a given source address (`localAddress`). */
export { request as http, type HttpAnswer as HttpResult } from "../helpers/http";
