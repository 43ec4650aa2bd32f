import { z } from 'zod';
import { Id, IsoTime } from './entities.ts';

// Outgoing webhooks, their deliveries, and incoming webhooks (API.md, "Building on Confab").

export const _webhooksPlaceholder = z.never();

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
