/**
 * Fixtures for tests of the typed client: real `createHuddleClient`s over
 * real socket.io-client sockets, with fast test timings, every outgoing event
 * recorded, and waits that fail naming what they awaited.
 */
import { io } from "socket.io-client";
import {
  createHuddleClient,
  type HuddleClient,
  type HuddleClientEvents,
  type HuddleClientOptions,
  type HuddleSocket,
} from "@huddle/client";
import type { ConnectionStatus } from "@huddle/client";
import { signToken } from "../helpers/tokens";

export interface TestClient {
  client: HuddleClient;
  /** Every event this client emitted to the server, in order. */
  outgoing: { event: string; payload: any }[];
  /** Every state the client went through, in order. */
  states: ConnectionStatus[];
}

const open = new Set<HuddleClient>();

export function startClient(
  url: string,
  options: Partial<HuddleClientOptions> & { claims?: Record<string, unknown> } = {},
): TestClient {
  const { claims, ...rest } = options;
  const token = signToken(claims);
  const outgoing: TestClient["outgoing"] = [];
  const client = createHuddleClient({
    url,
    getToken: () => token,
    transports: ["websocket"],
    ackTimeoutMs: 3000,
    backoff: { baseMs: 100, maxMs: 1000 },
    io: (target, socketOptions) => {
      const socket: HuddleSocket = io(target, socketOptions);
      socket.onAnyOutgoing((event, payload) => outgoing.push({ event, payload }));
      return socket;
    },
    ...rest,
  });
  const states: ConnectionStatus[] = [client.state.status];
  client.on("state", ({ newState }) => states.push(newState.status));
  open.add(client);
  return { client, outgoing, states };
}

export function closeAllTestClients(): void {
  for (const client of open) client.close();
  open.clear();
}

/** The next `event` of `client` that satisfies `predicate`. */
export function nextEvent<K extends keyof HuddleClientEvents>(
  client: HuddleClient,
  event: K,
  predicate: (payload: HuddleClientEvents[K]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<HuddleClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for client event "${String(event)}"`));
    }, timeoutMs);
    const off = client.on(event, (payload) => {
      if (!predicate(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** Resolves when the client reaches `status` (at once if it is there already). */
export async function reachState(client: HuddleClient, status: ConnectionStatus, timeoutMs = 5000): Promise<void> {
  if (client.state.status === status) return;
  await nextEvent(client, "state", ({ newState }) => newState.status === status, timeoutMs).catch(() => {
    throw new Error(`timed out after ${timeoutMs} ms waiting for state "${status}" (now "${client.state.status}")`);
  });
}

/** Posts a message over REST as `token`'s user. */
export async function postMessage(url: string, roomId: string, text: string, token = signToken()): Promise<any> {
  const response = await fetch(`${url}/api/rooms/${roomId}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ text }),
  });
  if (response.status !== 201) throw new Error(`POST message: HTTP ${response.status} ${await response.text()}`);
  return ((await response.json()) as { message: unknown }).message;
}

/** The room's stored messages over REST (newest 100). */
export async function storedMessages(url: string, roomId: string): Promise<any[]> {
  const response = await fetch(`${url}/api/rooms/${roomId}/messages?limit=100`, {
    headers: { authorization: `Bearer ${signToken()}` },
  });
  if (!response.ok) throw new Error(`GET messages: HTTP ${response.status}`);
  return ((await response.json()) as { messages: any[] }).messages;
}
