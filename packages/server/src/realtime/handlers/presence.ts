import { ConfabError } from '@confab/protocol';
import { conversationRoom } from '../../bus/bus.ts';
import { otherMembersOf } from '../../operations/presence.ts';
import type { EventHandlers, RealtimeServices } from '../types.ts';

/**
 * Presence and interest. `presence:offline` marks this socket away (the user shows offline once
 * no socket of theirs is present); `presence:online` brings it back. `subscribe` tells the server
 * a conversation is on screen: the client gets its members' current status at once. Nothing is
 * kept per subscription (typing and status changes reach every member's sockets anyway), so
 * `unsubscribe` only checks membership.
 */
export function presenceHandlers({ ctx, presence }: RealtimeServices): Pick<EventHandlers, 'presence:online' | 'presence:offline' | 'subscribe' | 'unsubscribe'> {
  return {
    async 'presence:online'(socket) {
      socket.data.away = false;
      await presence.count(socket);
      return null;
    },
    async 'presence:offline'(socket) {
      socket.data.away = true;
      await presence.uncount(socket);
      return null;
    },
    async subscribe(socket, { conversationId }) {
      // The member list comes from the database, not the room cache (see otherMembersOf).
      const members = await otherMembersOf(ctx, socket.data.userId, conversationId);
      await presence.snapshot(socket, members);
      return null;
    },
    async unsubscribe(socket, { conversationId }) {
      if (!socket.rooms.has(conversationRoom(conversationId))) throw new ConfabError('NOT_FOUND', 'no such conversation');
      return null;
    },
  };
}
