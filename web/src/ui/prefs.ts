/** The rooms the user is in and the one they look at, kept across reloads. */
import { isRoomId } from "./format";

export interface RoomPrefs {
  rooms(): string[];
  active(): string | undefined;
  save(rooms: readonly string[], active: string | undefined): void;
  clear(): void;
}

const KEY = "huddle.rooms";

export function createRoomPrefs(storage: Storage): RoomPrefs {
  const read = (): { rooms: string[]; active?: string } => {
    try {
      const value = JSON.parse(storage.getItem(KEY) ?? "null") as { rooms?: unknown; active?: unknown } | null;
      const rooms = Array.isArray(value?.rooms) ? value.rooms.filter((r): r is string => typeof r === "string") : [];
      const active = typeof value?.active === "string" ? value.active : undefined;
      return { rooms: rooms.filter(isRoomId), active };
    } catch {
      return { rooms: [] };
    }
  };
  return {
    rooms: () => read().rooms,
    active: () => read().active,
    save: (rooms, active) => storage.setItem(KEY, JSON.stringify({ rooms, active })),
    clear: () => storage.removeItem(KEY),
  };
}
