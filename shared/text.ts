/**
 * Message text normalisation (§2). Shared so that a client can show the same
 * length check the server applies before it sends.
 */
import { Limits } from "./protocol";

// Control characters other than tab (U+0009) and newline (U+000A). Carriage
// returns are rewritten to newlines before this runs.
const CONTROL_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/g;

/** Line endings to `\n`, control characters removed, then trimmed as `String.prototype.trim` does. */
export function normalizeText(raw: string): string {
  return raw.replace(/\r\n?/g, "\n").replace(CONTROL_CHARS, "").trim();
}

/** Length in Unicode code points, the unit every length limit of the protocol counts in. */
export function codePointLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    length++;
  }
  return length;
}

export type TextCheck = { ok: true; text: string } | { ok: false; code: "bad_request" | "too_large"; message: string };

/** Normalises `raw` and checks it is 1 to 4000 code points. */
export function checkMessageText(raw: string): TextCheck {
  const text = normalizeText(raw);
  if (text.length === 0) return { ok: false, code: "bad_request", message: "text is empty" };
  const length = codePointLength(text);
  if (length > Limits.messageMaxLength) {
    return {
      ok: false,
      code: "too_large",
      message: `text is ${length} characters; the limit is ${Limits.messageMaxLength}`,
    };
  }
  return { ok: true, text };
}
