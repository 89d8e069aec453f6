/**
 * What the webhook tests expect (§11): the changes the server acknowledged,
 * each as the event it must become, and the checks of what a receiver got:
 * every change delivered once answered 2xx, with the acknowledged message as
 * data, in its room's change order (no request for a change before the
 * previous one of its room was answered 2xx), one webhook-id per change on
 * every retry, and every signature valid.
 */
import type { Message } from "../../shared";
import type { Delivery, Receiver } from "./receiver";

export type EventType = Delivery["type"];

/** A change the server acknowledged, as its webhook event: its room, type, position (n) and message. */
export interface Change {
  roomId: string;
  type: EventType;
  position: number;
  message: Message;
}

/** The `n` of a position (`<epoch>-<n>`): a room's changes count from 1 without gaps (§8). */
const n = (position: string) => Number(position.split("-").at(-1));

/** The change a `message:send` (or REST post) acknowledged. */
export const created = (message: Message): Change => ({
  roomId: message.roomId,
  type: "message.created",
  position: n(message.id),
  message,
});

/** The change an edit, a delete or a reaction acknowledged (the message in its new state). */
export const updated = (message: Message): Change => ({
  roomId: message.roomId,
  type: "message.updated",
  position: n(message.rev),
  message,
});

/** The position of the change a request carries. */
export const positionOf = (d: Delivery): number => n(d.type === "message.created" ? d.data.id : d.data.rev);

const is2xx = (d: Delivery) => typeof d.status === "number" && d.status >= 200 && d.status < 300;

/** The requests the receiver got for `rooms`, in arrival order (retries included). */
export const requestsOf = (receiver: Receiver, rooms: Iterable<string>): Delivery[] => {
  const set = new Set(rooms);
  return receiver.requests.filter((r) => set.has(r.data.roomId));
};

/** The changes of `rooms` delivered (answered 2xx), first of each. */
export const deliveredOf = (receiver: Receiver, rooms: Iterable<string>): Delivery[] => {
  const set = new Set(rooms);
  return receiver.delivered().filter((d) => set.has(d.data.roomId));
};

/**
 * Fails unless every change in `changes` was delivered as §11 says. Also fails on a request for a change of those
 * rooms that was not acknowledged, or for a change before the previous one of its room was answered 2xx.
 */
export function expectDelivered(receiver: Receiver, changes: Change[]): void {
  expect(receiver.forged).toEqual([]);
  const rooms = [...new Set(changes.map((c) => c.roomId))];
  const requests = requestsOf(receiver, rooms);

  // One webhook-id per change, the same on every retry, and the same body every time.
  const idOf = new Map<string, string>();
  const firstOf = new Map<string, Delivery>();
  for (const r of requests) {
    const key = `${r.data.roomId} ${positionOf(r)}`;
    if (!idOf.has(key)) idOf.set(key, r.id);
    expect({ key, id: r.id }).toEqual({ key, id: idOf.get(key) });
    const first = firstOf.get(r.id);
    if (!first) firstOf.set(r.id, r);
    else
      expect({ id: r.id, type: r.type, at: r.at, data: r.data }).toEqual({
        id: r.id,
        type: first.type,
        at: first.at,
        data: first.data,
      });
  }
  expect(new Set(idOf.values()).size).toBe(idOf.size);

  for (const roomId of rooms) {
    const want = changes.filter((c) => c.roomId === roomId).sort((a, b) => a.position - b.position);
    // Each acknowledged change delivered, as acknowledged, in change order.
    const got = deliveredOf(receiver, [roomId]);
    expect(got.map((d) => ({ type: d.type, data: d.data }))).toEqual(
      want.map((c) => ({ type: c.type, data: c.message })),
    );
    // The next waits for the previous: the room's requests go through its changes one by one, each repeated
    // until answered 2xx (and possibly once more, at least once), never ahead.
    let current = 0;
    let answered = false;
    for (const r of requests.filter((r) => r.data.roomId === roomId)) {
      const at = positionOf(r);
      if (answered && at === want[current + 1]?.position) {
        current++;
        answered = false;
      }
      if (at !== want[current]?.position) {
        throw new Error(
          `room ${roomId}: a request for position ${at} while position ${want[current]?.position} ` +
            `was ${answered ? "just delivered" : "not delivered yet"} (positions ${want.map((c) => c.position).join(",")})`,
        );
      }
      if (is2xx(r)) answered = true;
    }
  }
}
