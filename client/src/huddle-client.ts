/**
 * `createHuddleClient`: protocol v1 over a typed `socket.io-client` socket,
 * for the browser and for Node. It owns the connection (an explicit state
 * machine, its own backoff-driven reconnects, token refresh), the rooms it
 * must be in (re-joined with `since` after every reconnect), the outbox of
 * unacknowledged sends, and the typing throttle. It never touches the DOM.
 *
 * @example
 * const client = createHuddleClient({ url: "http://localhost:3000", getToken: () => myJwt });
 * client.on("message", (m) => console.log(`${m.user.name}: ${m.text}`));
 * await client.join("lobby");
 * await client.send("lobby", "hello");
 */
import { io as defaultIo } from "socket.io-client";
import type { JoinResult } from "../../shared/events";
import { Limits, PROTOCOL_VERSION } from "../../shared/protocol";
import { checkMessageText } from "../../shared/text";
import { createChangeCalls } from "./changes";
import { createConnectionDriver } from "./connection";
import { createStateMachine, waitUntilConnected } from "./connection-state";
import { Emitter } from "./emitter";
import { HuddleClientError, isTransient } from "./errors";
import { joinAllPaced } from "./join-budget";
import { createOutbox, newClientMsgId, type OutboxEntry } from "./outbox";
import { createRequest, toClientError, type Request } from "./request";
import { routeLiveEvents } from "./live-events";
import { createModerationCalls } from "./moderation";
import { createReadCalls } from "./reads";
import { createRest, type RestRequest } from "./rest";
import { checkRevision, revisionError, revisionOf, sessionWithRevision } from "./revision";
import { createRoomTrack, mergeJoin, type RoomTrack } from "./room-tracker";
import { createSender } from "./sender";
import { createTypingThrottle } from "./typing-throttle";
import type {
  HuddleClient,
  HuddleClientEvents,
  HuddleClientOptions,
  HuddleSession,
  HuddleSocket,
  IoFactory,
} from "./types";

export function createHuddleClient(options: HuddleClientOptions): HuddleClient {
  const ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
  const maxSendAttempts = options.maxSendAttempts ?? 5;
  const now = options.now ?? Date.now;
  const events = new Emitter<HuddleClientEvents>();
  const machine = createStateMachine({ status: "connecting" }, (change) => events.emit("state", change));
  const outbox = createOutbox();
  const rooms = new Map<string, RoomTrack>();

  let session: HuddleSession | undefined;
  let closed = false;
  /** Per connection: rooms joined on it, and joins in flight on it. */
  let joinedNow = new Map<string, JoinResult>();
  let joining = new Map<string, Promise<JoinResult>>();
  let connectionSeq = 0;

  const socket: HuddleSocket = (options.io ?? (defaultIo as unknown as IoFactory))(options.url, {
    transports: options.transports ?? ["websocket", "polling"],
    // Where WebSocket is blocked (some proxies), fall back to long-polling instead of failing.
    tryAllTransports: true,
    ...options.socketOptions,
    // Reconnection is ours (backoff visible in the state, token refresh, re-join); never socket.io's.
    reconnection: false,
    autoConnect: false,
    forceNew: true,
    auth: (cb: (data: object) => void) => cb({ token: connection.token, v: PROTOCOL_VERSION }),
  });

  const emitRequest = createRequest(socket, ackTimeoutMs);
  /** Every call over the socket: refused at once when the server's revision lacks it (./revision). */
  const request: Request = async (event, payload, timeoutMs) => {
    const { needed, what } = revisionOf(event, payload);
    checkRevision(session, needed, what);
    return emitRequest(event, payload, timeoutMs);
  };
  const callRest = createRest({
    url: options.url,
    // The token the socket uses; before the first connection asked for one, ask now.
    token: async () => connection.token ?? options.getToken({ reason: "initial" }),
    timeoutMs: ackTimeoutMs,
  });
  /** Only moderation goes over REST, and revision 2 added it. */
  const rest: RestRequest = async (method, path, body) => {
    checkRevision(session, 2, "moderation");
    return callRest(method, path, body);
  };
  const report = (entry: OutboxEntry | undefined) => entry && events.emit("outbox", entry);
  const sender = createSender({
    outbox,
    request,
    canSend: (roomId) => socket.connected && !closed && joinedNow.has(roomId),
    maxAttempts: maxSendAttempts,
    report,
  });
  /** Sends what is queued, once the connection is in sync. */
  const pumpOutbox = () => machine.get().status === "connected" && sender.pump();

  const typing = createTypingThrottle({
    ...options.typing,
    now,
    emitStart: (roomId) => fireAndForget("typing:start", roomId),
    emitStop: (roomId) => fireAndForget("typing:stop", roomId),
  });

  function fireAndForget(event: "typing:start" | "typing:stop", roomId: string) {
    if (socket.connected && joinedNow.has(roomId)) socket.emit(event, { roomId }, () => {});
  }

  // ── connection ────────────────────────────────────────────────────────────

  const connection = createConnectionDriver({
    socket,
    machine,
    getToken: options.getToken,
    backoff: options.backoff,
    random: options.random ?? Math.random,
    now,
    onError: (error) => events.emit("error", error),
    onConnect() {
      const seq = ++connectionSeq;
      joinedNow = new Map();
      joining = new Map();
      void rejoinAll(seq);
    },
    onDisconnect() {
      connectionSeq++;
      joinedNow = new Map();
      joining = new Map();
      typing.reset();
      for (const track of rooms.values()) {
        track.held = undefined;
        track.heldPresence = [];
      }
    },
  });

  socket.on("session", (info) => {
    session = sessionWithRevision(info);
    events.emit("session", session);
  });

  // ── rooms ─────────────────────────────────────────────────────────────────

  async function rejoinAll(seq: number) {
    const ids = [...rooms.keys()];
    // Rooms past the join budget wait their turn (§13) rather than being dropped.
    const results = await joinAllPaced(ids, joinOnce, () => seq === connectionSeq && !closed);
    if (seq !== connectionSeq || closed) return;
    let transientFailure: HuddleClientError | undefined;
    results.forEach((result, i) => {
      if (result.status === "fulfilled") return;
      const error = toClientError(result.reason);
      if (isTransient(error)) transientFailure = error;
      else dropRefused(ids[i]!, error);
    });
    if (transientFailure) {
      // Not in sync: start over on a new connection rather than show "connected" with a room missing.
      events.emit("error", transientFailure);
      connection.restart(transientFailure);
      return;
    }
    machine.set({ status: "connected" });
    sender.pump();
  }

  /** The room is no longer wanted, and no longer joined on this connection. */
  function dropRoom(roomId: string, error: HuddleClientError): RoomTrack | undefined {
    const track = rooms.get(roomId);
    if (!track) return undefined;
    rooms.delete(roomId);
    joinedNow.delete(roomId);
    joining.delete(roomId);
    track.refused = error;
    typing.reset(roomId);
    sender.failPending(error, roomId);
    return track;
  }

  function dropRefused(roomId: string, error: HuddleClientError) {
    const track = dropRoom(roomId, error);
    // A room never joined has a join() caller that gets the error itself.
    if (track?.everJoined) events.emit("left", { roomId, error });
  }

  // A moderator banned me (§11): the server has taken this connection out of the room and would refuse it back,
  // so the room stops being wanted here, and a reconnect does not try it again.
  socket.on("room:removed", (event) => {
    const error = new HuddleClientError("forbidden", `a moderator removed you from room ${event.roomId}`);
    if (dropRoom(event.roomId, error)) events.emit("removed", { ...event });
  });

  /** One `room:join` per room per connection; concurrent callers share it. */
  function joinOnce(roomId: string): Promise<JoinResult> {
    const done = joinedNow.get(roomId);
    if (done) return Promise.resolve(done);
    const inFlight = joining.get(roomId);
    if (inFlight) return inFlight;
    const track = rooms.get(roomId);
    if (!track) return Promise.reject(new HuddleClientError("not_joined", `left ${roomId}`));
    const seq = connectionSeq;
    track.held = [];
    track.heldPresence = [];
    const payload = track.lastPosition !== undefined ? { roomId, since: track.lastPosition } : { roomId };
    const promise = request("room:join", payload).then(
      (result) => {
        if (seq !== connectionSeq || rooms.get(roomId) !== track) return result;
        joining.delete(roomId);
        const merged = mergeJoin(track, result);
        joinedNow.set(roomId, result);
        events.emit("joined", {
          roomId,
          members: result.members,
          typing: result.typing,
          messages: merged.messages,
          updates: merged.updates,
          resumed: result.resumed,
          reset: merged.reset,
          more: merged.reset && result.history.length >= Limits.joinHistory,
          // A revision-1 server has no read state: nothing read, nothing counted.
          readUpTo: result.readUpTo ?? null,
          unread: result.unread ?? 0,
        });
        for (const change of track.heldPresence.splice(0)) events.emit("presence", change);
        pumpOutbox();
        return result;
      },
      (error: unknown) => {
        if (seq === connectionSeq) {
          joining.delete(roomId);
          track.held = undefined;
          track.heldPresence = [];
        }
        throw error;
      },
    );
    joining.set(roomId, promise);
    return promise;
  }

  routeLiveEvents(socket, rooms, events);

  // ── waiting ───────────────────────────────────────────────────────────────

  /** Resolves once the client is connected and in sync; rejects on timeout or when it goes offline. */
  const whenConnected = (): Promise<void> =>
    closed && machine.get().status !== "connected"
      ? Promise.reject(new HuddleClientError("closed", "the client is closed"))
      : waitUntilConnected(machine, (listener) => events.on("state", listener), ackTimeoutMs);

  /** For calls that need the room joined on this connection. */
  async function inRoom(roomId: string): Promise<void> {
    if (!rooms.has(roomId)) throw new HuddleClientError("not_joined", `not in room ${roomId}`);
    await whenConnected();
    await joinOnce(roomId);
  }

  // ── public API ────────────────────────────────────────────────────────────

  const client: HuddleClient = {
    get state() {
      return machine.get();
    },
    get user() {
      return session?.user;
    },
    get session() {
      return session;
    },
    socket,
    get rooms() {
      return [...rooms.keys()];
    },
    on: (event, listener) => events.on(event, listener),
    off: (event, listener) => events.off(event, listener),

    connect: () => !closed && connection.start(),
    reconnectNow: () => !closed && connection.retryNow(),

    async join(roomId) {
      let track = rooms.get(roomId);
      if (!track) rooms.set(roomId, (track = createRoomTrack()));
      try {
        await whenConnected();
        if (track.refused) throw track.refused;
        if (rooms.get(roomId) !== track) throw new HuddleClientError("not_joined", `left ${roomId} while joining`);
        return await joinOnce(roomId);
      } catch (error) {
        // A refusal ends the wish to be in the room; after a timeout or a drop the room stays wanted and is joined on connect.
        if (!isTransient(error) && rooms.get(roomId) === track && !track.everJoined) rooms.delete(roomId);
        throw error;
      }
    },

    async leave(roomId, leaveOptions = {}) {
      // Refused before anything changes, so the room stays joined.
      if (leaveOptions.forget) checkRevision(session, 2, "leave with forget");
      const wanted = rooms.has(roomId);
      rooms.delete(roomId);
      let wasJoined = false;
      if (wanted) {
        typing.reset(roomId);
        sender.failPending(new HuddleClientError("not_joined", `left ${roomId}`), roomId);
        wasJoined = joinedNow.delete(roomId) || joining.delete(roomId);
      }
      if (leaveOptions.forget) {
        // The server forgets the room whether or not this connection is in it; it must be told, so wait for it.
        await whenConnected();
        await request("room:leave", { roomId, forget: true });
        return;
      }
      if (!wasJoined || !socket.connected) return;
      try {
        await request("room:leave", { roomId });
      } catch (error) {
        // A drop already took us out of the room on the server; anything else is worth knowing.
        if (!isTransient(error)) throw error;
      }
    },

    send(roomId, text, sendOptions = {}) {
      if (closed) return Promise.reject(new HuddleClientError("closed", "the client is closed"));
      if (!rooms.has(roomId)) return Promise.reject(new HuddleClientError("not_joined", `not in room ${roomId}`));
      const checked = checkMessageText(text);
      if (!checked.ok) return Promise.reject(new HuddleClientError(checked.code, checked.message));
      const tooOld = sendOptions.replyTo !== undefined && revisionError(session, 2, "a reply (replyTo)");
      if (tooOld) return Promise.reject(tooOld);
      typing.stop(roomId);
      const clientMsgId = sendOptions.clientMsgId ?? newClientMsgId();
      const draft = { roomId, text: checked.text, clientMsgId, replyTo: sendOptions.replyTo };
      const { entry, promise } = outbox.add(draft, now());
      report(entry);
      pumpOutbox();
      return promise;
    },
    retry(clientMsgId) {
      const again = outbox.retry(clientMsgId);
      if (!again) return Promise.reject(new HuddleClientError("bad_request", "no failed message with that id"));
      if (!rooms.has(again.entry.roomId)) {
        report(outbox.failed(clientMsgId, new HuddleClientError("not_joined", `not in room ${again.entry.roomId}`)));
        return again.promise;
      }
      report(again.entry);
      pumpOutbox();
      return again.promise;
    },
    discard: (clientMsgId) => outbox.discard(clientMsgId),
    pending: () => outbox.all(),
    ...createChangeCalls({ request, inRoom }),
    ...createReadCalls({ request, inRoom, whenConnected }),
    ...createModerationCalls(rest),

    async history(roomId, historyOptions = {}) {
      await inRoom(roomId);
      const payload: { roomId: string; before?: string; limit?: number } = { roomId };
      if (historyOptions.before !== undefined) payload.before = historyOptions.before;
      if (historyOptions.limit !== undefined) payload.limit = historyOptions.limit;
      return request("room:history", payload);
    },

    typing(roomId) {
      if (rooms.has(roomId)) typing.input(roomId);
    },
    stopTyping(roomId) {
      typing.stop(roomId);
    },

    close() {
      if (closed) return;
      closed = true;
      typing.reset();
      sender.failPending(new HuddleClientError("closed", "the client is closed"));
      connection.close();
      machine.set({ status: "offline", reason: "closed" });
      events.removeAll();
    },
  };

  if (options.autoConnect !== false) connection.start();
  return client;
}
