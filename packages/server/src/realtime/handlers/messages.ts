import { deleteMessage, editMessage, markStatus, sendMessage, setReaction } from '../../operations/messages.ts';
import type { EventHandlers, RealtimeServices } from '../types.ts';

/**
 * Messages and receipts: thin wrappers over the same operations the REST routes call. The
 * operations check membership (NOT_FOUND for outsiders), sizes (content over 64 KB is
 * PAYLOAD_TOO_LARGE) and the send rate, and publish the committed change to the bus, which the
 * gateway turns into room emits; the ack only carries the caller's own result.
 */
export function messageHandlers({ ctx, metrics }: RealtimeServices): Pick<
  EventHandlers,
  'chat:message_send' | 'chat:message_edit' | 'chat:message_delete' | 'chat:message_delivered' | 'chat:message_read' | 'chat:reaction'
> {
  return {
    async 'chat:message_send'(socket, body) {
      const { message, created } = await sendMessage(ctx, socket.data.userId, body);
      if (created) metrics.messagesSent.inc({ transport: 'socket' });
      return message;
    },
    'chat:message_edit': (socket, { messageId, content }) => editMessage(ctx, socket.data.userId, messageId, content),
    'chat:message_delete': (socket, { messageId }) => deleteMessage(ctx, socket.data.userId, messageId),
    'chat:message_delivered': (socket, { messageId }) => markStatus(ctx, socket.data.userId, messageId, 'delivered'),
    'chat:message_read': (socket, { messageId }) => markStatus(ctx, socket.data.userId, messageId, 'read'),
    'chat:reaction': (socket, { messageId, emoji, on }) => setReaction(ctx, socket.data.userId, messageId, emoji, on),
  };
}
