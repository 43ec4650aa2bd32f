import { z } from 'zod';
import { Id, IsoTime } from './entities.ts';

// Outgoing webhooks, their deliveries, and incoming webhooks (API.md, "Building on Confab").

// ---- outgoing webhooks

export const WEBHOOK_EVENTS = [
  'message.created',
  'message.updated',
  'message.deleted',
  'reaction.changed',
  'conversation.created',
  'conversation.updated',
  'conversation.deleted',
  'member.added',
  'member.removed',
  'ai.answer.completed',
  'user.created',
] as const;
export const WebhookEventType = z.enum(WEBHOOK_EVENTS);
export type WebhookEventType = z.infer<typeof WebhookEventType>;

export const Webhook = z.object({
  id: Id,
  url: z.string(),
  events: z.array(WebhookEventType),
  enabled: z.boolean(),
  /** Why it is disabled: by an admin, or every delivery failed for a day. */
  disabledReason: z.string().nullable(),
  /** Since when every delivery has failed (null while the last one succeeded). */
  failingSince: IsoTime.nullable(),
  createdBy: Id.nullable(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export type Webhook = z.infer<typeof Webhook>;

/** The answer to creating one: the signing secret is shown this once. */
export const CreatedWebhook = Webhook.extend({ secret: z.string() });
export type CreatedWebhook = z.infer<typeof CreatedWebhook>;

const WebhookUrl = z.string().min(1).max(2000);
const WebhookEvents = z.array(WebhookEventType).min(1).max(WEBHOOK_EVENTS.length);

export const CreateWebhookBody = z.strictObject({
  url: WebhookUrl,
  events: WebhookEvents,
  /** Given, or generated (32 random bytes, base64url). */
  secret: z.string().min(16).max(200).optional(),
});
export type CreateWebhookBody = z.infer<typeof CreateWebhookBody>;

export const UpdateWebhookBody = z
  .strictObject({ url: WebhookUrl.optional(), events: WebhookEvents.optional(), enabled: z.boolean().optional() })
  .refine((b) => b.url !== undefined || b.events !== undefined || b.enabled !== undefined, 'nothing to change');
export type UpdateWebhookBody = z.infer<typeof UpdateWebhookBody>;

export const WebhookList = z.object({ webhooks: z.array(Webhook) });
export type WebhookList = z.infer<typeof WebhookList>;

export const WebhookAttempt = z.object({
  at: IsoTime,
  /** The endpoint's HTTP status; null when there was no answer (refused, timed out…). */
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  durationMs: z.number().int(),
});
export type WebhookAttempt = z.infer<typeof WebhookAttempt>;

export const WebhookDelivery = z.object({
  id: Id,
  eventId: z.string(),
  type: WebhookEventType,
  conversationId: Id.nullable(),
  status: z.enum(['pending', 'delivered', 'failed']),
  createdAt: IsoTime,
  deliveredAt: IsoTime.nullable(),
  nextAttemptAt: IsoTime.nullable(),
  attempts: z.array(WebhookAttempt),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export const WebhookDeliveryList = z.object({ deliveries: z.array(WebhookDelivery), nextCursor: z.string().nullable() });
export type WebhookDeliveryList = z.infer<typeof WebhookDeliveryList>;

/** What an endpoint receives: `Confab-Event-Id` is `id`; `Confab-Signature: t=<unix s>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const WebhookEvent = z.object({
  id: z.string(),
  type: WebhookEventType,
  createdAt: IsoTime,
  data: z.record(z.string(), z.unknown()),
});
export type WebhookEvent = z.infer<typeof WebhookEvent>;

// ---- incoming hooks ----
// A URL that posts into one conversation as a bot user of its own (docs/platform.md).

/** The name is its bot's display name: the same limits. */
export const CreateIncomingHookBody = z.strictObject({ name: z.string().trim().min(1).max(64) });
export type CreateIncomingHookBody = z.infer<typeof CreateIncomingHookBody>;
export const IncomingHookParams = z.strictObject({ id: Id, hookId: Id });
/** A hook as listed: never its token (stored hashed); `botUserId` is who its messages are by. */
export const IncomingHook = z.object({
  id: Id,
  conversationId: Id,
  name: z.string(),
  botUserId: Id,
  createdBy: Id.nullable(),
  createdAt: IsoTime,
});
export type IncomingHook = z.infer<typeof IncomingHook>;
/** The answer to creating one: the URL holds the token and is shown only this once. */
export const CreatedIncomingHook = IncomingHook.extend({ url: z.string() });
export type CreatedIncomingHook = z.infer<typeof CreatedIncomingHook>;
export const IncomingHookList = z.object({ hooks: z.array(IncomingHook) });
export type IncomingHookList = z.infer<typeof IncomingHookList>;
/** `POST /api/hooks/:hookId/:token`: no other authentication, the URL is the secret. */
export const IncomingHookPostParams = z.strictObject({ hookId: Id, token: z.string().min(1).max(200) });
export const IncomingHookPostBody = z.strictObject({ content: z.string() });
export type IncomingHookPostBody = z.infer<typeof IncomingHookPostBody>;

// ---- before-send hook ----
// What Confab POSTs to CONFAB_BEFORE_SEND_URL before it stores a message, and the answers it takes.

/**
 * `event` says whether a new message (`message.send`) or an edit (`message.edit`, with `messageId`)
 * is about to be stored; the rest is the message as its author wrote it.
 */
export const BeforeSendRequest = z.object({
  event: z.enum(['message.send', 'message.edit']),
  messageId: Id.optional(),
  conversationId: Id,
  authorId: Id,
  content: z.string(),
  kind: z.string(),
  clientId: z.string().optional(),
  replyToId: Id.nullable(),
  threadRootId: Id.nullable(),
  attachmentIds: z.array(Id),
  /** `@handles` written in the content (as typed; the server resolves them against the members). */
  mentions: z.array(z.string()),
});
export type BeforeSendRequest = z.infer<typeof BeforeSendRequest>;
export const BeforeSendAnswer = z.discriminatedUnion('action', [
  z.object({ action: z.literal('allow') }),
  z.object({ action: z.literal('block'), reason: z.string().max(500).optional() }),
  z.object({ action: z.literal('replace'), content: z.string() }),
]);
export type BeforeSendAnswer = z.infer<typeof BeforeSendAnswer>;
