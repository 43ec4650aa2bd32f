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
