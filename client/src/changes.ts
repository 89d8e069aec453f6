/**
 * The calls that change a message (§8): edit, delete, react, unreact. Each
 * waits until the room is joined on a live connection, then asks once and
 * resolves with the message as the server answered it. They are idempotent
 * on the server (the same text, a second delete, a reaction twice change
 * nothing), so a caller may simply call again after a `timeout` or a drop.
 *
 * Their answers are not fed into the client's events: `message:updated`
 * reports every change, the caller's own included, in the room's change
 * order, while an answer can arrive after a later change by someone else.
 */
import type { Message } from "../../shared/events";
import { checkMessageText } from "../../shared/text";
import { HuddleClientError } from "./errors";
import type { Request } from "./request";
import type { HuddleClient } from "./types";

export type ChangeCalls = Pick<HuddleClient, "edit" | "delete" | "react" | "unreact">;

export interface ChangeCallsOptions {
  request: Request;
  /** Resolves once `roomId` is joined on the live connection; rejects when it is not wanted or cannot be. */
  inRoom(roomId: string): Promise<void>;
}

export function createChangeCalls({ request, inRoom }: ChangeCallsOptions): ChangeCalls {
  const react = (add: boolean) => async (roomId: string, id: string, emoji: string) => {
    if (emoji === "") throw new HuddleClientError("bad_request", "emoji is empty");
    await inRoom(roomId);
    const event = add ? "reaction:add" : "reaction:remove";
    return (await request(event, { roomId, id, emoji })).message;
  };
  return {
    async edit(roomId, id, text): Promise<Message> {
      // The same checks as a send, so an edit that cannot pass is refused before it costs a round trip.
      const checked = checkMessageText(text);
      if (!checked.ok) throw new HuddleClientError(checked.code, checked.message);
      await inRoom(roomId);
      return (await request("message:edit", { roomId, id, text: checked.text })).message;
    },
    async delete(roomId, id): Promise<Message> {
      await inRoom(roomId);
      return (await request("message:delete", { roomId, id })).message;
    },
    react: react(true),
    unreact: react(false),
  };
}
