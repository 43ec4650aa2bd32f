import { EventEmitter } from 'node:events';
import type { ServerEventName, ServerEventPayload } from '@confab/protocol';

/** Rooms: every member's sockets are in `conv:<id>`, every socket of a user in `user:<id>`. */
export const conversationRoom = (conversationId: string) => `conv:${conversationId}`;
export const userRoom = (userId: string) => `user:${userId}`;

export type BusEvent =
  | {
      type: 'emit';
      room: string;
      event: ServerEventName;
      payload: ServerEventPayload<ServerEventName>;
      /** An announcement repeated for clients (an idempotent retry), not a new change: triggers nothing. */
      repeat?: boolean;
    }
  /** A user joined or left a conversation: their live sockets start or stop receiving its room. */
  | { type: 'membership'; userId: string; conversationId: string; joined: boolean }
  /** Sessions of a user ended (see endSessions in operations/auth.ts): their live sockets close. */
  | { type: 'sessions_ended'; userId: string; sessionIds: string[] };

/**
 * Operations publish committed changes here; the realtime gateway turns them into socket
 * emits (across nodes through the Socket.IO adapter). Publishing never blocks or fails an
 * operation: the database is the source of truth and clients that miss an event catch up by `sync`.
 */
export interface Bus {
  publish(event: BusEvent): void;
  subscribe(handler: (event: BusEvent) => void): () => void;
}

export function createLocalBus(): Bus {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    publish: (event) => emitter.emit('event', event),
    subscribe(handler) {
      emitter.on('event', handler);
      return () => emitter.off('event', handler);
    },
  };
}

/** Helper for the common case: an event to every member of a conversation. */
export function emitToConversation<E extends ServerEventName>(bus: Bus, conversationId: string, event: E, payload: ServerEventPayload<E>, opts: { repeat?: boolean } = {}) {
  bus.publish({ type: 'emit', room: conversationRoom(conversationId), event, payload, ...(opts.repeat ? { repeat: true } : {}) });
}

export function emitToUser<E extends ServerEventName>(bus: Bus, userId: string, event: E, payload: ServerEventPayload<E>) {
  bus.publish({ type: 'emit', room: userRoom(userId), event, payload });
}
