import { z } from 'zod';
import { ErrorPayload } from './errors.ts';
import { Conversation, Id, LIMITS, Message, MessageStatus, ToolCall } from './entities.ts';
import { EditMessageBody, MessageStatusResult, ReactionBody, SendMessageBody } from './rest.ts';

/**
 * Socket inputs that act on one message. Where a socket event does what a REST route does, its
 * payload is the REST body plus the message's id (the REST route has it in the path), so a field
 * is defined once for both transports.
 */
export const MessageRef = z.strictObject({ messageId: Id });
export type MessageRef = z.infer<typeof MessageRef>;
export const EditMessageInput = z.strictObject({ ...MessageRef.shape, ...EditMessageBody.shape });
export type EditMessageInput = z.infer<typeof EditMessageInput>;
export const ReactionInput = z.strictObject({ ...MessageRef.shape, ...ReactionBody.shape, on: z.boolean() });
export type ReactionInput = z.infer<typeof ReactionInput>;
export const TypingInput = z.strictObject({ conversationId: Id, isTyping: z.boolean() });
export type TypingInput = z.infer<typeof TypingInput>;
export const ConversationRef = z.strictObject({ conversationId: Id });
export type ConversationRef = z.infer<typeof ConversationRef>;
export const SyncInput = z.strictObject({
  cursors: z.record(Id, z.number().int().min(0)),
  limit: z.number().int().min(1).max(1000).optional(),
});
export type SyncInput = z.infer<typeof SyncInput>;
export const AuthRefreshInput = z.strictObject({ token: z.string().min(1).max(4096) });
export type AuthRefreshInput = z.infer<typeof AuthRefreshInput>;

/** Socket.IO events, client to server. Every one is answered through its ack. */
export const ClientEventSchemas = {
  'chat:message_send': SendMessageBody,
  'chat:message_edit': EditMessageInput,
  'chat:message_delete': MessageRef,
  'chat:message_delivered': MessageRef,
  'chat:message_read': MessageRef,
  'chat:reaction': ReactionInput,
  'chat:typing': TypingInput,
  'presence:online': z.strictObject({}).optional(),
  'presence:offline': z.strictObject({}).optional(),
  subscribe: ConversationRef,
  unsubscribe: ConversationRef,
  sync: SyncInput,
  'auth:refresh': AuthRefreshInput,
  'ai:stop': MessageRef,
  'ai:regenerate': MessageRef,
} as const;
export type ClientEventSchemas = typeof ClientEventSchemas;
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

export const AuthRefreshResult = z.object({ expiresAt: z.string() });
export type AuthRefreshResult = z.infer<typeof AuthRefreshResult>;

/** What each client event's ack carries on success. */
export const ClientEventResultSchemas = {
  'chat:message_send': Message,
  'chat:message_edit': Message,
  'chat:message_delete': Message,
  'chat:message_delivered': MessageStatusResult,
  'chat:message_read': MessageStatusResult,
  'chat:reaction': Message,
  'chat:typing': z.null(),
  'presence:online': z.null(),
  'presence:offline': z.null(),
  subscribe: z.null(),
  unsubscribe: z.null(),
  sync: SyncResult,
  'auth:refresh': AuthRefreshResult,
  'ai:stop': z.null(),
  'ai:regenerate': Message,
} as const satisfies Record<ClientEventName, z.ZodType>;
export type ClientEventResultSchemas = typeof ClientEventResultSchemas;
export type ClientEventResults = { [E in ClientEventName]: z.infer<(typeof ClientEventResultSchemas)[E]> };

/** An ack: `{ ok: true, data }` or `{ ok: false, error }`. */
export const AckSchema = <T extends z.ZodType>(data: T) =>
  z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), data }), z.object({ ok: z.literal(false), error: ErrorPayload })]);
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
/**
 * A tool call of a streaming answer started or ended (addition): its whole state, so applying the
 * same event twice changes nothing. A call never goes back from an end state (`done`, `error`,
 * `stopped`) to `running`: a client ignores such an event (it can only be an older one).
 */
export const AiToolEvent = z.object({ conversationId: Id, messageId: Id, call: ToolCall });
export const AiDoneEvent = z.object({ conversationId: Id, messageId: Id, status: MessageStatus, content: z.string() });
export const NotificationEvent = z.object({
  kind: z.enum(['message', 'mention', 'ai_answer']),
  conversationId: Id,
  messageId: Id,
  title: z.string(),
  body: z.string(),
  /** For a reply in a thread: the thread's root (threads). */
  threadRootId: Id.optional(),
});

export type ReceiptEvent = z.infer<typeof ReceiptEvent>;
export type TypingEvent = z.infer<typeof TypingEvent>;
export type PresenceEvent = z.infer<typeof PresenceEvent>;
export type ConversationUpdateEvent = z.infer<typeof ConversationUpdateEvent>;
export type AiDeltaEvent = z.infer<typeof AiDeltaEvent>;
export type AiDoneEvent = z.infer<typeof AiDoneEvent>;
export type AiToolEvent = z.infer<typeof AiToolEvent>;
export type NotificationEvent = z.infer<typeof NotificationEvent>;

/** Socket.IO events, server to client, with their payloads. */
export const ServerEventSchemas = {
  'chat:message_received': Message,
  'chat:message_updated': Message,
  'chat:message_status_updated': ReceiptEvent,
  'chat:user_typing': TypingEvent,
  'user:status_changed': PresenceEvent,
  /**
   * The conversation after a change; `deleted: true` when it was deleted for everyone,
   * `removed: true` when the receiving user left or was removed.
   */
  'conversation:update': ConversationUpdateEvent,
  'ai:delta': AiDeltaEvent,
  'ai:done': AiDoneEvent,
  'ai:tool': AiToolEvent,
  notification: NotificationEvent,
} as const;
export type ServerEventSchemas = typeof ServerEventSchemas;
/** The typed Socket.IO server→client map. */
export type ServerEvents = { [E in keyof ServerEventSchemas]: (payload: z.infer<ServerEventSchemas[E]>) => void };
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
