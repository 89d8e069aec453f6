/**
 * The client events of §3, mapped onto the core services once for every
 * transport that carries them (Socket.IO, plain WebSocket). `execute` is the
 * edge each event passes: it parses the payload with its shared schema
 * (bad_request otherwise, nothing executed), runs the command, and turns any
 * thrown value into an `Err` ack through the one normaliser, so no stack or
 * cause reaches the wire and nothing a client sends can throw out of it.
 */
import type { z } from "zod";
import {
  ClientEventSchemas,
  CLIENT_EVENT_NAMES,
  describeIssues,
  ErrorCode,
  type Ack,
  type AckResults,
  type ClientEventName,
} from "../../shared";
import { canAccessRoom } from "../auth/tokens";
import type { Connection } from "../core/connection";
import type { Actor } from "../features/chat/message-rules";
import { toWireError } from "../errors";
import type { Services } from "../services";

/** One client connection as the commands see it: who, which rooms, and how its transport follows a room. */
export interface CommandTarget {
  readonly conn: Connection;
  /**
   * Starts delivering the room's live events to this connection (idempotent); resolves once this node follows the
   * room from a known position, so history read afterwards and live events leave no gap.
   */
  attach(roomId: string): Promise<void>;
  /** Stops delivering the room's live events to this connection. */
  detach(roomId: string): void;
  /** True once the connection has gone. */
  isClosed(): boolean;
}

export interface CommandHooks {
  /** Called once per event with its outcome, for metrics and logs. */
  onOutcome(event: string, startedAt: bigint, ack: Ack<object>, thrown?: unknown): void;
}

export interface Commands {
  /** Validates and runs `event`; resolves with its ack, never rejects. */
  execute(event: ClientEventName, payload: unknown, target: CommandTarget): Promise<Ack<object>>;
}

type Payload<E extends ClientEventName> = z.infer<(typeof ClientEventSchemas)[E]>;
type Handlers = {
  [E in ClientEventName]: (target: CommandTarget, payload: Payload<E>) => Promise<AckResults[E]>;
};

/** Who asks for a change, as the message rules see it. */
function actorOf(target: CommandTarget): Actor {
  const { user, moderator } = target.conn.identity;
  return { id: user.id, moderator };
}

export function isClientEventName(type: unknown): type is ClientEventName {
  return typeof type === "string" && (CLIENT_EVENT_NAMES as string[]).includes(type);
}

export function createCommands(services: Services, hooks: CommandHooks): Commands {
  const { rooms, chat, typing, reads, moderation } = services;
  /** Not banned (a ban also took the connection out of the room: forbidden, not not_joined, tells why), and joined. */
  const assertIn = async (target: CommandTarget, roomId: string) => {
    await moderation.assertNotBanned(target.conn.identity.user.id, roomId);
    rooms.assertJoined(target.conn, roomId);
  };

  const handlers: Handlers = {
    async "room:join"(target, payload) {
      const result = await rooms.join(target.conn, payload, () => target.attach(payload.roomId));
      // Closed while joining: the close handler ran before the room was recorded.
      if (target.isClosed()) await rooms.leaveAll(target.conn);
      // Banned while joining: the ban's expulsion ran before this connection was in the room, so it missed it.
      // The ban is known here by now (the event updates every node's bans before it expels): undo the join.
      const banned = await moderation.assertNotBanned(target.conn.identity.user.id, payload.roomId).then(
        () => undefined,
        (error: unknown) => error,
      );
      if (banned) {
        await rooms.leave(target.conn, payload.roomId, () => target.detach(payload.roomId));
        throw banned;
      }
      return result;
    },
    async "room:leave"(target, { roomId, forget }) {
      await rooms.leave(target.conn, roomId, () => target.detach(roomId));
      // Forgetting works whether or not this connection is in the room (from a room list, say).
      if (forget) await reads.forget(target.conn.identity.user.id, roomId);
      return {};
    },
    async "message:send"(target, payload) {
      await assertIn(target, payload.roomId);
      const { message } = await chat.send(target.conn.identity.user, payload);
      return { message };
    },
    async "message:edit"(target, { roomId, id, text }) {
      await assertIn(target, roomId);
      return { message: (await chat.edit(actorOf(target), roomId, id, text)).message };
    },
    async "message:delete"(target, { roomId, id }) {
      await assertIn(target, roomId);
      return { message: (await chat.remove(actorOf(target), roomId, id)).message };
    },
    async "reaction:add"(target, { roomId, id, emoji }) {
      await assertIn(target, roomId);
      return { message: (await chat.react(actorOf(target), roomId, id, emoji, true)).message };
    },
    async "reaction:remove"(target, { roomId, id, emoji }) {
      await assertIn(target, roomId);
      return { message: (await chat.react(actorOf(target), roomId, id, emoji, false)).message };
    },
    async "typing:start"(target, { roomId }) {
      rooms.assertJoined(target.conn, roomId);
      await typing.start(target.conn.identity.user, roomId);
      return {};
    },
    async "typing:stop"(target, { roomId }) {
      rooms.assertJoined(target.conn, roomId);
      await typing.stop(target.conn.identity.user.id, roomId);
      return {};
    },
    async "room:history"(target, { roomId, before, limit }) {
      rooms.assertJoined(target.conn, roomId);
      return chat.page(roomId, { before, limit });
    },
    async "room:read"(target, payload) {
      await assertIn(target, payload.roomId);
      return reads.markRead(target.conn.identity.user, payload.roomId, payload.upTo, payload.private ?? false);
    },
    async "room:reads"(target, { roomId }) {
      rooms.assertJoined(target.conn, roomId);
      return { reads: await reads.reads(roomId) };
    },
    async "rooms:list"(target) {
      const { identity } = target.conn;
      // A room the token no longer allows is not shown (the `rooms` claim may have narrowed since).
      const mine = await reads.rooms(identity.user.id);
      return { rooms: mine.filter((room) => canAccessRoom(identity, room.roomId)) };
    },
  };

  return {
    execute(event, payload, target) {
      const startedAt = process.hrtime.bigint();
      const done = (ack: Ack<object>, thrown?: unknown) => {
        hooks.onOutcome(event, startedAt, ack, thrown);
        return ack;
      };
      const parsed = ClientEventSchemas[event].safeParse(payload);
      if (!parsed.success) {
        return Promise.resolve(
          done({ ok: false, error: { code: ErrorCode.BadRequest, message: describeIssues(parsed.error) } }),
        );
      }
      let result: Promise<object>;
      try {
        // Started synchronously, so events of one connection begin in the order they arrived.
        const run = handlers[event] as (target: CommandTarget, payload: unknown) => Promise<object>;
        result = run(target, parsed.data);
      } catch (thrown) {
        result = Promise.reject(thrown);
      }
      return result.then(
        (value) => done({ ok: true, ...value }),
        (thrown: unknown) => done({ ok: false, error: toWireError(thrown) }, thrown),
      );
    },
  };
}
