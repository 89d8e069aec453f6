/**
 * The moderator's calls (§11): ban a user from a room, lift a ban, list the
 * bans in force. They go over REST, not the socket (the protocol has them
 * only there), so they need no joined room and no live connection, just a
 * token with `"role": "moderator"`; anyone else is answered `forbidden`.
 *
 * What a ban does to the banned user's own client (the `removed` event) is
 * the client's, not these calls': it comes from the server to that user.
 */
import type { Ban } from "../../shared/events";
import { Limits } from "../../shared/protocol";
import { codePointLength } from "../../shared/text";
import { HuddleClientError } from "./errors";
import type { RestRequest } from "./rest";
import type { HuddleClient } from "./types";

export type ModerationCalls = Pick<HuddleClient, "ban" | "unban" | "bans">;

const segment = (value: string) => encodeURIComponent(value);

export function createModerationCalls(rest: RestRequest): ModerationCalls {
  return {
    async ban(roomId, userId, options = {}): Promise<Ban> {
      // The server's rules, checked first so a ban that cannot pass costs no round trip.
      const { durationSec, reason } = options;
      if (userId === "") throw new HuddleClientError("bad_request", "userId is empty");
      if (
        durationSec !== undefined &&
        !(Number.isInteger(durationSec) && durationSec >= 1 && durationSec <= Limits.banMaxDurationSec)
      ) {
        throw new HuddleClientError(
          "bad_request",
          `durationSec must be an integer from 1 to ${Limits.banMaxDurationSec}`,
        );
      }
      if (reason !== undefined && codePointLength(reason) > Limits.banReasonMaxLength) {
        throw new HuddleClientError("bad_request", `reason must be at most ${Limits.banReasonMaxLength} characters`);
      }
      const body: { userId: string; durationSec?: number; reason?: string } = { userId };
      if (durationSec !== undefined) body.durationSec = durationSec;
      if (reason !== undefined && reason !== "") body.reason = reason;
      return (await rest<{ ban: Ban }>("POST", `/api/rooms/${segment(roomId)}/bans`, body)).ban;
    },
    async unban(roomId, userId): Promise<void> {
      await rest<object>("DELETE", `/api/rooms/${segment(roomId)}/bans/${segment(userId)}`);
    },
    async bans(roomId): Promise<Ban[]> {
      return (await rest<{ bans: Ban[] }>("GET", `/api/rooms/${segment(roomId)}/bans`)).bans;
    },
  };
}
