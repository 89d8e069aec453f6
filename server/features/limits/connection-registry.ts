/** Counts each user's open connections, to enforce `MAX_CONNECTIONS_PER_USER` (4029). */
export interface ConnectionRegistry {
  /** Registers `connId` for `userId` unless the user already holds `max`; true when registered. */
  acquire(userId: string, connId: string, max: number): Promise<boolean>;
  /** Forgets `connId`; harmless when it was never registered. */
  release(userId: string, connId: string): Promise<void>;
}

export function createMemoryConnectionRegistry(): ConnectionRegistry {
  const users = new Map<string, Set<string>>();
  return {
    async acquire(userId, connId, max) {
      let connections = users.get(userId);
      if (!connections) users.set(userId, (connections = new Set()));
      if (connections.has(connId)) return true;
      if (connections.size >= max) return false;
      connections.add(connId);
      return true;
    },
    async release(userId, connId) {
      const connections = users.get(userId);
      if (connections?.delete(connId) && connections.size === 0) users.delete(userId);
    },
  };
}
