import type { Message, ServerEventName, ServerEventPayload } from '@confab/protocol';

/** Rooms: every member's sockets are in `conv:<id>`, every socket of a user in `user:<id>`. */
export const conversationRoom = (conversationId: string) => `conv:${conversationId}`;
export const userRoom = (userId: string) => `user:${userId}`;

/**
 * What happened, once committed: a closed union. Operations and the AI runner publish these (after
 * their transaction commits); realtime/fanout.ts alone turns them into socket emits, and the AI
 * runner and notifications subscribe by kind. Nothing here names a room or a wire event.
 */
export type DomainEvent =
  /**
   * A message was stored (a send, a system message, a new AI answer). `repeat`: an idempotent
   * retry announced again for clients, not a new message: it triggers nothing.
   */
  | { type: 'message_stored'; message: Message; repeat?: boolean }
  /** A stored message changed (edit, delete, reaction, regenerate); `message` is its new state. */
  | { type: 'message_changed'; message: Message }
  /** A member's delivered/read position moved. */
  | { type: 'receipt_moved'; receipt: ServerEventPayload<'chat:message_status_updated'> }
  /** What every member sees of a conversation changed (title, generating, members…). */
  | { type: 'conversation_changed'; change: ServerEventPayload<'conversation:update'> }
  /** One member's own view of a conversation changed (their settings, role; removed, deleted). */
  | { type: 'member_view_changed'; userId: string; view: ServerEventPayload<'conversation:update'> }
  /** A user joined or left a conversation: their live sockets start or stop receiving it. */
  | { type: 'membership'; userId: string; conversationId: string; joined: boolean }
  /** Sessions of a user ended (see endSessions in operations/auth.ts): their live sockets close. */
  | { type: 'sessions_ended'; userId: string; sessionIds: string[] }
  /** A piece of an AI answer's text, while it streams (not stored one by one). */
  | { type: 'answer_delta'; delta: ServerEventPayload<'ai:delta'> }
  /** A tool call of a streaming AI answer started or ended (its whole state; not stored one by one either). */
  | { type: 'answer_tool'; tool: ServerEventPayload<'ai:tool'> }
  /**
   * An AI answer reached its final state (complete, stopped, error); `message` is that state.
   * `requestedBy`: the member who asked for it (the trigger's author, or who regenerated), when
   * known; only they are told it is ready (operations/notifications.ts).
   */
  | { type: 'answer_completed'; message: Message; status: Message['status']; requestedBy?: string }
  /**
   * The assistant started (or stopped) answering in a conversation: shown to its members like a
   * member typing (`chat:user_typing` with the assistant's user id), refreshed while it answers.
   */
  | { type: 'assistant_answering'; typing: ServerEventPayload<'chat:user_typing'> }
  /** An in-app notification for one user (decided by operations/notifications.ts). */
  | { type: 'notification'; userId: string; notification: ServerEventPayload<'notification'> };

export type DomainEventType = DomainEvent['type'];
export type DomainEventOf<K extends DomainEventType> = Extract<DomainEvent, { type: K }>;

/**
 * The wire view of an event: what the realtime layer sends for it (a room and a wire event name),
 * membership and ended sessions as they are. Only the catch-all `subscribe(handler)` shows it, for
 * tests and diagnostics; nothing acts on it.
 */
export type BusEvent =
  | {
      type: 'emit';
      room: string;
      event: ServerEventName;
      payload: ServerEventPayload<ServerEventName>;
      /** An announcement repeated for clients (an idempotent retry), not a new change. */
      repeat?: boolean;
    }
  | DomainEventOf<'membership'>
  | DomainEventOf<'sessions_ended'>;

/** Turns a domain event into its wire view (realtime/fanout.ts provides it: the one place that knows rooms and wire names). */
export type WireView = (event: DomainEvent, out: (wire: BusEvent) => void) => void;

/**
 * This node's in-process bus of domain events. Publishing never blocks or fails an operation:
 * the database is the source of truth, and clients that miss an event catch up by `sync`.
 * Handlers run synchronously, in the order they subscribed, on the publisher's call stack.
 *
 * **Each node's bus carries only the events committed on that node; nothing is ever published into
 * it from another node.** Subscribers rely on that: the AI runner answers a trigger on the node that
 * stored it (so one answer per trigger, not one per node), notifications are worked out once per
 * message. What other nodes must learn crosses by other ways, each written in one place:
 * - socket emits (every event with a room): the Socket.IO Redis adapter, from realtime/fanout.ts;
 * - `membership` and `sessions_ended`: `serverSideEmit` to the other nodes' gateways (they apply it
 *   to their own sockets; membership is also written to the database, read back by liveChanges.ts);
 * - AI stop requests and "conversation free" signals: the Redis control channel (assistant/control.ts);
 * - live AI answer text: the stream registry in Redis (ai/streams.ts).
 */
export interface Bus {
  publish(event: DomainEvent): void;
  /** Handles one kind of event; returns the unsubscribe. */
  subscribe<K extends DomainEventType>(type: K, handler: (event: DomainEventOf<K>) => void): () => void;
  /** Every event in its wire view (tests, diagnostics); costs nothing while nobody listens. */
  subscribe(handler: (event: BusEvent) => void): () => void;
}

type Handler = (event: DomainEvent) => void;

export function createLocalBus(wireView?: WireView): Bus {
  // Copied on change, so a handler may unsubscribe (or subscribe) while an event is delivered.
  const byType = new Map<DomainEventType, Handler[]>();
  let taps: ((event: BusEvent) => void)[] = [];
  const none: Handler[] = [];
  return {
    publish(event) {
      for (const handler of byType.get(event.type) ?? none) handler(event);
      if (taps.length > 0 && wireView) {
        const current = taps;
        wireView(event, (wire) => {
          for (const tap of current) tap(wire);
        });
      }
    },
    subscribe(typeOrHandler: DomainEventType | ((event: BusEvent) => void), maybeHandler?: (event: never) => void) {
      if (typeof typeOrHandler === 'function') {
        const tap = typeOrHandler;
        taps = [...taps, tap];
        return () => {
          taps = taps.filter((t) => t !== tap);
        };
      }
      const type = typeOrHandler;
      const handler = maybeHandler as Handler;
      byType.set(type, [...(byType.get(type) ?? []), handler]);
      return () => {
        byType.set(
          type,
          (byType.get(type) ?? []).filter((h) => h !== handler),
        );
      };
    },
  };
}
