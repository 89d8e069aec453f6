/**
 * Clients through nginx. nginx balances round-robin, so a client lands on
 * whichever node is next: `connectTo` connects until one lands on the node a
 * test wants. Clients may also come from a chosen loopback source address
 * (`connectFrom`, `fromAddress`).
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
 * Connects through nginx until the client's session is on `nodeId` (closing those that landed elsewhere):
 * round-robin over a few nodes gets there within a few tries.
 */
export async function connectTo(url: string, nodeId: string, options: ClientOptions = {}): Promise<Connected> {
  const seen: string[] = [];
  for (let attempt = 0; attempt < 12; attempt++) {
    const client = await connectFrom(url, "127.0.0.1", options);
    if (client.session.nodeId === nodeId) return client;
    seen.push(client.session.nodeId);
    client.socket.close();
  }
  throw new Error(`no connection landed on ${nodeId} in 12 tries (landed on ${seen.join(", ")})`);
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
