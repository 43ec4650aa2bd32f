import { z } from 'zod';
import type { ErrorPayload } from './errors.ts';
import { Conversation, Id, LIMITS, Message, MessageStatus } from './entities.ts';
import { SendMessageBody } from './rest.ts';

/** Socket.IO events, client to server. Every one is answered through its ack. */
export const ClientEventSchemas = {
  'chat:message_send': SendMessageBody,
  'chat:message_edit': z.strictObject({ messageId: Id, content: z.string() }),
  'chat:message_delete': z.strictObject({ messageId: Id }),
  'chat:message_delivered': z.strictObject({ messageId: Id }),
  'chat:message_read': z.strictObject({ messageId: Id }),
  'chat:reaction': z.strictObject({ messageId: Id, emoji: z.string().min(1).max(32), on: z.boolean() }),
  'chat:typing': z.strictObject({ conversationId: Id, isTyping: z.boolean() }),
  'presence:online': z.strictObject({}).optional(),
  'presence:offline': z.strictObject({}).optional(),
  subscribe: z.strictObject({ conversationId: Id }),
  unsubscribe: z.strictObject({ conversationId: Id }),
  sync: z.strictObject({
    cursors: z.record(Id, z.number().int().min(0)),
    limit: z.number().int().min(1).max(1000).optional(),
  }),
  'auth:refresh': z.strictObject({ token: z.string().min(1).max(4096) }),
  'ai:stop': z.strictObject({ messageId: Id }),
  'ai:regenerate': z.strictObject({ messageId: Id }),
} as const;
export type ClientEventName = keyof typeof ClientEventSchemas;
export type ClientEventPayload<E extends ClientEventName> = z.infer<(typeof ClientEventSchemas)[E]>;

export const SyncResult = z.object({
  conversations: z.array(Conversation),
  messages: z.array(Message),
  /** Conversations in `cursors` that the caller no longer belongs to (left, removed or deleted). */
  removedConversationIds: z.array(Id),
  hasMore: z.boolean(),
  /**
   * Addition to the contract: the cursors to send next, for the conversations this page brought
   * (fully or partly) up to date. Next cursors = { ...previous, ...cursors } minus
   * removedConversationIds; conversations not reached on this page are absent.
   */
  cursors: z.record(Id, z.number().int()).optional(),
});
export type SyncResult = z.infer<typeof SyncResult>;

/** What each client event's ack carries on success. */
export interface ClientEventResults {
  'chat:message_send': Message;
  'chat:message_edit': Message;
  'chat:message_delete': Message;
  'chat:message_delivered': { seq: number };
  'chat:message_read': { seq: number };
  'chat:reaction': Message;
  'chat:typing': null;
  'presence:online': null;
  'presence:offline': null;
  subscribe: null;
  unsubscribe: null;
  sync: SyncResult;
  'auth:refresh': { expiresAt: string };
  'ai:stop': null;
  'ai:regenerate': Message;
}

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorPayload };

export const ReceiptEvent = z.object({
  conversationId: Id,
  userId: Id,
  status: z.enum(['delivered', 'read']),
  seq: z.number().int(),
});
export const TypingEvent = z.object({ conversationId: Id, userId: Id, displayName: z.string(), isTyping: z.boolean() });
export const PresenceEvent = z.object({ userId: Id, status: z.enum(['online', 'offline']), lastSeenAt: z.string().nullable() });
export const ConversationUpdateEvent = Conversation.partial()
  .required({ id: true })
  .extend({ deleted: z.boolean().optional(), removed: z.boolean().optional() });
export const AiDeltaEvent = z.object({ conversationId: Id, messageId: Id, index: z.number().int(), text: z.string() });
export const AiDoneEvent = z.object({ conversationId: Id, messageId: Id, status: MessageStatus, content: z.string() });
export const NotificationEvent = z.object({
  kind: z.enum(['message', 'mention', 'ai_answer']),
  conversationId: Id,
  messageId: Id,
  title: z.string(),
  body: z.string(),
});

/** Socket.IO events, server to client, with their payloads. */
export interface ServerEvents {
  'chat:message_received': (message: Message) => void;
  'chat:message_updated': (message: Message) => void;
  'chat:message_status_updated': (event: z.infer<typeof ReceiptEvent>) => void;
  'chat:user_typing': (event: z.infer<typeof TypingEvent>) => void;
  'user:status_changed': (event: z.infer<typeof PresenceEvent>) => void;
  /**
   * The conversation after a change; `deleted: true` when it was deleted for everyone,
   * `removed: true` when the receiving user left or was removed.
   */
  'conversation:update': (conversation: z.infer<typeof ConversationUpdateEvent>) => void;
  'ai:delta': (event: z.infer<typeof AiDeltaEvent>) => void;
  'ai:done': (event: z.infer<typeof AiDoneEvent>) => void;
  notification: (event: z.infer<typeof NotificationEvent>) => void;
}
export type ServerEventName = keyof ServerEvents;
export type ServerEventPayload<E extends ServerEventName> = Parameters<ServerEvents[E]>[0];

/** Typed Socket.IO client→server map (payload plus ack callback). */
export type ClientEvents = {
  [E in ClientEventName]: (payload: ClientEventPayload<E>, ack: (result: Ack<ClientEventResults[E]>) => void) => void;
};

/** Per-event payload ceilings for the gateway, in bytes (the whole socket frame is capped at LIMITS.bodyBytes). */
export const EVENT_PAYLOAD_BYTES: Record<ClientEventName, number> = {
  'chat:message_send': LIMITS.messageContentBytes * 2 + 4096,
  'chat:message_edit': LIMITS.messageContentBytes * 2 + 1024,
  'chat:message_delete': 1024,
  'chat:message_delivered': 1024,
  'chat:message_read': 1024,
  'chat:reaction': 1024,
  'chat:typing': 1024,
  'presence:online': 256,
  'presence:offline': 256,
  subscribe: 1024,
  unsubscribe: 1024,
  sync: 256 * 1024,
  'auth:refresh': 8192,
  'ai:stop': 1024,
  'ai:regenerate': 1024,
};
