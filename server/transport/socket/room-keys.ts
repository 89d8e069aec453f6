/**
 * Names of the Socket.IO rooms Huddle uses. Protocol room ids get a prefix so
 * that they live in their own name space: a room called like some socket's id
 * can never reach that socket's private room (§2).
 */
export const roomKey = (roomId: string) => `room:${roomId}`;
/** Every socket of a user joins this room, so events can skip or target the user's sockets. */
export const userKey = (userId: string) => `user:${userId}`;
