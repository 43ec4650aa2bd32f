import { ConfabError } from '@confab/protocol';
import { conversationRoom } from '../../bus/bus.ts';
import type { EventHandlers, RealtimeServices } from '../types.ts';

/**
 * Typing indicators. Membership is checked against the socket's rooms: they are exactly the
 * user's conversations, kept current by membership events, so a typing event (many per minute
 * per user) costs no query. Nothing is stored.
 */
export function typingHandlers({ typing }: RealtimeServices): Pick<EventHandlers, 'chat:typing'> {
  return {
    async 'chat:typing'(socket, { conversationId, isTyping }) {
      if (!socket.rooms.has(conversationRoom(conversationId))) throw new ConfabError('NOT_FOUND', 'no such conversation');
      typing.report(conversationId, socket.data.userId, socket.data.displayName, socket.id, isTyping);
      return null;
    },
  };
}
