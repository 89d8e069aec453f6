/**
 * What a change does to a message (§8), as pure functions: the current state
 * in, the next state out, `null` when the change changes nothing (an edit to
 * the same text, a second delete, a reaction added twice or removed when
 * absent), or a thrown HuddleError when it is refused. Every store applies
 * these same rules, atomically with its own notion of "current" (a lock, a
 * compare-and-set on `rev`), so the rules live here once.
 *
 * Stored messages keep every reacting user; the wire shows the first 20
 * (`toWire`). `rev` is assigned by the store that commits the change.
 */
import { checkMessageText, ErrorCode, Limits, type Message, type Reaction } from "../../../shared";
import { HuddleError } from "../../errors";

/** Who asks for a change: the user, and whether their token says `"role": "moderator"`. */
export interface Actor {
  readonly id: string;
  readonly moderator?: boolean;
}

/** A change to apply to the current state of a message. */
export type ChangeRule = (current: Message) => Message | null;

const notFound = (id: string) => new HuddleError(ErrorCode.NotFound, `no message ${id} in this room`);

/** An edit: the author only; the text follows the §2 rules; the same text changes nothing. */
export function editRule(actor: Actor, rawText: string, now: number): ChangeRule {
  const checked = checkMessageText(rawText);
  if (!checked.ok) throw new HuddleError(checked.code, checked.message);
  return (current) => {
    if (current.deleted) throw notFound(current.id);
    if (current.user.id !== actor.id) throw new HuddleError(ErrorCode.Forbidden, "only the author can edit a message");
    if (current.text === checked.text) return null;
    return { ...current, text: checked.text, editedAt: now };
  };
}

/** A delete: the author or a moderator; leaves a tombstone; deleting a tombstone changes nothing. */
export function deleteRule(actor: Actor): ChangeRule {
  return (current) => {
    if (current.user.id !== actor.id && !actor.moderator) {
      throw new HuddleError(ErrorCode.Forbidden, "only the author or a moderator can delete a message");
    }
    if (current.deleted) return null;
    return tombstone(current);
  };
}

/** What stays of a deleted message: who and when, its place (`id`, `seq`) and its `clientMsgId`. */
export function tombstone(message: Message): Message {
  const stone: Message = {
    id: message.id,
    roomId: message.roomId,
    user: message.user,
    text: "",
    ts: message.ts,
    seq: message.seq,
    rev: message.rev,
    deleted: true,
  };
  if (message.clientMsgId !== undefined) stone.clientMsgId = message.clientMsgId;
  return stone;
}

/** A reaction added or removed: one per user per emoji; at most 20 different emojis on a message. */
export function reactionRule(actor: Actor, emoji: string, add: boolean): ChangeRule {
  return (current) => {
    if (current.deleted) throw notFound(current.id);
    const reactions = current.reactions ?? [];
    const index = reactions.findIndex((r) => r.emoji === emoji);
    const existing = index < 0 ? undefined : reactions[index]!;
    const reacted = existing?.userIds.includes(actor.id) ?? false;
    if (add === reacted) return null;
    let next: Reaction[];
    if (add) {
      if (!existing && reactions.length >= Limits.maxEmojis) {
        throw new HuddleError(ErrorCode.BadRequest, `a message carries at most ${Limits.maxEmojis} different emojis`);
      }
      const userIds = [...(existing?.userIds ?? []), actor.id];
      const reaction = { emoji, count: userIds.length, userIds };
      next = existing ? reactions.map((r, i) => (i === index ? reaction : r)) : [...reactions, reaction];
    } else {
      const userIds = existing!.userIds.filter((id) => id !== actor.id);
      next =
        userIds.length === 0
          ? reactions.filter((_, i) => i !== index)
          : reactions.map((r, i) => (i === index ? { emoji, count: userIds.length, userIds } : r));
    }
    const { reactions: _old, ...rest } = current;
    return next.length > 0 ? { ...rest, reactions: next } : rest;
  };
}

/**
 * A stored message as clients see it: each reaction lists its first 20 users. Returns the same object when
 * nothing needs cutting (the common case), so the hot path copies nothing.
 */
export function toWire(message: Message): Message {
  const reactions = message.reactions;
  if (!reactions || !reactions.some((r) => r.userIds.length > Limits.reactionUserIds)) return message;
  return {
    ...message,
    reactions: reactions.map((r) =>
      r.userIds.length > Limits.reactionUserIds ? { ...r, userIds: r.userIds.slice(0, Limits.reactionUserIds) } : r,
    ),
  };
}
