import type { User } from "@huddle/client";
import { el } from "./dom";
import { colorSlot, initials } from "./format";

/** A coloured circle with the user's initials; decorative, the name is always shown beside it. */
export const avatar = (user: User): HTMLSpanElement =>
  el(
    "span",
    { className: `avatar avatar-${colorSlot(user.name)}`, attrs: { "aria-hidden": "true" } },
    initials(user.name),
  );
