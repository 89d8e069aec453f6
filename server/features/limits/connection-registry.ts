/** Counts each user's open connections, to enforce `MAX_CONNECTIONS_PER_USER` (4029). */
export interface ConnectionRegistry {
  /** Registers `connId` for `userId` unless the user already holds `max`; true when registered. */
  acquire(userId: string, connId: string, max: number): Promise<boolean>;
  /** Forgets `connId`; harmless when it was never registered. */
  release(userId: string, connId: string): Promise<void>;
}

export function createMemoryConnectionRegistry(): ConnectionRegistry {
  // Most users hold one connection: it is kept as the id itself, and a Set (~150 bytes more) only from the second.
  const users = new Map<string, string | Set<string>>();
  return {
    async acquire(userId, connId, max) {
      const held = users.get(userId);
      if (held === undefined) {
        if (max < 1) return false;
        users.set(userId, connId);
        return true;
      }
      if (held === connId) return true;
      if (typeof held === "string") {
        if (max < 2) return false;
        users.set(userId, new Set([held, connId]));
        return true;
      }
      if (held.has(connId)) return true;
      if (held.size >= max) return false;
      held.add(connId);
      return true;
    },
    async release(userId, connId) {
      const held = users.get(userId);
      if (held === connId) users.delete(userId);
      else if (typeof held === "object" && held.delete(connId)) {
        if (held.size === 1) users.set(userId, held.values().next().value as string);
      }
    },
  };
}
