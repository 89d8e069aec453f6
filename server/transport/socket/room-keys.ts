/**
 * Names of the Socket.IO rooms Huddle uses. Protocol room ids get a prefix so
 * that they live in their own name space: a room called like some socket's id
 * can never reach that socket's private room (§2).
 */
export const roomKey = (roomId: string) => `room:${roomId}`;

/** The protocol room id of a Socket.IO room name, or undefined for the other rooms (a socket's own, lagging). */
export const roomOfKey = (key: string): string | undefined => (key.startsWith("room:") ? key.slice(5) : undefined);
