import type { ServerEventName, ServerEventPayload } from '@confab/protocol';
import { conversationRoom, userRoom, type Bus, type BusEvent, type DomainEvent, type DomainEventOf } from '../bus/bus.ts';
import { SeqGate } from './ordering.ts';
import type { AppServer, MembershipChange, SessionsEnded } from './types.ts';

/**
 * Where an event goes on the wire. `conversationId` is set for conversation rooms (they pass the
 * reorder buffer), `seq` for the events that carry one (a message's `updatedSeq`).
 */
type Emit = (room: string, event: ServerEventName, payload: unknown, conversationId: string | undefined, seq: number | undefined) => void;

/**
 * The one mapping from domain events to socket emits: rooms and wire event names live here and
 * nowhere else. `membership` and `sessions_ended` emit nothing (they move sockets, see startFanout).
 */
export function emitsOf(e: DomainEvent, emit: Emit): void {
  switch (e.type) {
    case 'message_stored': {
      const id = e.message.conversationId;
      return emit(conversationRoom(id), 'chat:message_received', e.message, id, e.message.updatedSeq);
    }
    case 'message_changed': {
      const id = e.message.conversationId;
      return emit(conversationRoom(id), 'chat:message_updated', e.message, id, e.message.updatedSeq);
    }
    case 'receipt_moved':
      return emit(conversationRoom(e.receipt.conversationId), 'chat:message_status_updated', e.receipt, e.receipt.conversationId, undefined);
    case 'conversation_changed':
      return emit(conversationRoom(e.change.id), 'conversation:update', e.change, e.change.id, undefined);
    case 'member_view_changed':
      return emit(userRoom(e.userId), 'conversation:update', e.view, undefined, undefined);
    case 'answer_delta':
      return emit(conversationRoom(e.delta.conversationId), 'ai:delta', e.delta, e.delta.conversationId, undefined);
    case 'answer_tool':
      return emit(conversationRoom(e.tool.conversationId), 'ai:tool', e.tool, e.tool.conversationId, undefined);
    case 'answer_completed': {
      const { message } = e;
      const id = message.conversationId;
      const room = conversationRoom(id);
      emit(room, 'chat:message_updated', message, id, message.updatedSeq);
      return emit(room, 'ai:done', { conversationId: id, messageId: message.id, status: e.status, content: message.content }, id, undefined);
    }
    case 'assistant_answering':
      return emit(conversationRoom(e.typing.conversationId), 'chat:user_typing', e.typing, e.typing.conversationId, undefined);
    case 'notification':
      return emit(userRoom(e.userId), 'notification', e.notification, undefined, undefined);
    case 'membership':
    case 'sessions_ended':
      return;
  }
}

/** The wire view of an event, for the bus's catch-all subscribers (tests, diagnostics). */
export function wireView(e: DomainEvent, out: (wire: BusEvent) => void): void {
  if (e.type === 'membership' || e.type === 'sessions_ended') return out(e);
  const repeat = e.type === 'message_stored' && e.repeat;
  emitsOf(e, (room, event, payload) => out({ type: 'emit', room, event, payload: payload as ServerEventPayload<ServerEventName>, ...(repeat ? { repeat: true } : {}) }));
}

export interface FanoutHooks {
  /** Moves this node's sockets of the user in or out of the conversation's room. */
  onMembership(change: MembershipChange): void;
  /** Closes this node's sockets of the ended sessions. */
  onSessionsEnded(ended: SessionsEnded): void;
}

export interface Fanout {
  /** The reorder buffer every conversation-room emit passes (ordering.ts). */
  gate: SeqGate;
  stop(): void;
}

/**
 * This node's committed events become emits here, and only here. Emits reach the sockets of other
 * nodes through the Socket.IO adapter (Redis with several nodes); membership changes and ended
 * sessions are forwarded to the other nodes' gateways by `serverSideEmit` (their bus never sees
 * them: see the Bus contract in bus/bus.ts).
 */
export function startFanout(bus: Bus, io: AppServer, hooks: FanoutHooks, opts: { holdMs: number; crossNodes: boolean; onEmit?: (event: ServerEventName) => void }): Fanout {
  let stopped = false;
  const gate = new SeqGate((e) => io.to(e.room).emit(e.event as ServerEventName, e.payload as never), { holdMs: opts.holdMs });
  const emit: Emit = (room, event, payload, conversationId, seq) => {
    opts.onEmit?.(event);
    if (conversationId === undefined) io.to(room).emit(event, payload as never);
    else gate.push(conversationId, { room, event, payload }, seq);
  };
  const toSockets = (e: DomainEvent) => {
    if (!stopped) emitsOf(e, emit);
  };
  const onMembership = (e: DomainEventOf<'membership'>) => {
    if (stopped) return;
    const change = { userId: e.userId, conversationId: e.conversationId, joined: e.joined };
    hooks.onMembership(change);
    // Fire and forget: if it is lost, the other nodes' reconcile applies the change instead.
    if (opts.crossNodes) io.serverSideEmit('confab:membership', change);
  };
  const onSessionsEnded = (e: DomainEventOf<'sessions_ended'>) => {
    if (stopped) return;
    const ended = { userId: e.userId, sessionIds: e.sessionIds };
    hooks.onSessionsEnded(ended);
    if (opts.crossNodes) io.serverSideEmit('confab:sessions_ended', ended);
  };
  const unsubscribes = [
    bus.subscribe('message_stored', toSockets),
    bus.subscribe('message_changed', toSockets),
    bus.subscribe('receipt_moved', toSockets),
    bus.subscribe('conversation_changed', toSockets),
    bus.subscribe('member_view_changed', toSockets),
    bus.subscribe('answer_delta', toSockets),
    bus.subscribe('answer_tool', toSockets),
    bus.subscribe('answer_completed', toSockets),
    bus.subscribe('assistant_answering', toSockets),
    bus.subscribe('notification', toSockets),
    bus.subscribe('membership', onMembership),
    bus.subscribe('sessions_ended', onSessionsEnded),
  ];
  return {
    gate,
    stop() {
      stopped = true;
      for (const unsubscribe of unsubscribes) unsubscribe();
    },
  };
}
