/**
 * One client connection as the core sees it, whatever its transport
 * (Socket.IO, plain WebSocket): who it is and which rooms it joined.
 */
import type { Identity } from "../auth/tokens";

export interface Connection {
  /** Unique across nodes: the node id and a local id. */
  readonly id: string;
  readonly identity: Identity;
  /** Rooms this connection has joined, kept by the rooms service. */
  readonly joined: Set<string>;
}

/** The set of joined rooms is made on first use: many connections sit idle and never join one. */
class ClientConnection implements Connection {
  private rooms: Set<string> | undefined;

  constructor(
    readonly id: string,
    readonly identity: Identity,
  ) {}

  get joined(): Set<string> {
    return (this.rooms ??= new Set());
  }
}

export function createConnection(id: string, identity: Identity): Connection {
  return new ClientConnection(id, identity);
}
