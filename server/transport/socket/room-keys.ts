/**
 * Names of the Socket.IO rooms Huddle uses. Protocol room ids get a prefix so
 * that they live in their own name space: a room called like some socket's id
 * can never reach that socket's private room (§2).
 */
export const roomKey = (roomId: string) => `room:${roomId}`;
