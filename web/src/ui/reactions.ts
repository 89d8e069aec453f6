/**
 * Reactions as the UI shows them: the quick picker's emojis, and each
 * reaction as a chip (emoji, count, whether it is mine, who reacted by
 * name). Pure, so it is tested in Node.
 */
import type { Reaction, User } from "@huddle/client";
import { Limits } from "../../../shared/protocol";
import { listNames } from "./format";

/** The picker's choice: common, and each one code point sequence a server accepts as an emoji. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "🙏"] as const;

export interface ReactionChip {
  emoji: string;
  count: number;
  /** I am among the users listed (the first 20 to react). */
  mine: boolean;
  /** Who reacted, by name, me first as "You": "You, Alice and 3 others". */
  who: string;
}

/** Names for user ids: the room's members and the authors of its messages; else the id itself. */
export type NameOf = (userId: string) => string;

export function nameBook(people: Iterable<User>): NameOf {
  const names = new Map<string, string>();
  for (const user of people) names.set(user.id, user.name);
  return (userId) => names.get(userId) ?? userId;
}

export function reactionChips(reactions: readonly Reaction[] | undefined, meId: string | undefined, nameOf: NameOf) {
  return (reactions ?? []).map((reaction): ReactionChip => {
    const mine = meId !== undefined && reaction.userIds.includes(meId);
    const others = reaction.userIds.filter((id) => id !== meId).map(nameOf);
    const named = mine ? ["You", ...others] : others;
    return { emoji: reaction.emoji, count: reaction.count, mine, who: listNames(named, reaction.count - named.length) };
  });
}

/** A new emoji can still be added (a message carries at most 20 different ones). */
export const canAddReaction = (reactions: readonly Reaction[] | undefined): boolean =>
  (reactions?.length ?? 0) < Limits.maxEmojis;

/** Whether my reaction `emoji` is on the message, as far as the listed users tell. */
export const hasMyReaction = (reactions: readonly Reaction[] | undefined, emoji: string, meId: string | undefined) =>
  meId !== undefined && (reactions ?? []).some((r) => r.emoji === emoji && r.userIds.includes(meId));
