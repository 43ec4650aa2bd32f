import { z } from 'zod';
import { Id, IsoTime } from './entities.ts';

// AI conversations: branches and shared snapshots (API.md, "AI conversations"; docs/ai.md).

// ---- branches

/** `POST /api/conversations/:id/branch`: a new assistant conversation with copies of the messages up to this one. */
export const BranchBody = z.strictObject({ messageId: Id });
export type BranchBody = z.infer<typeof BranchBody>;

// ---- shares

/**
 * A share's id is the secret of its public URL (192 random bits, base64url). Anything else is not
 * a share: a bad id is answered 404 like a removed one, never 400, so the answer says nothing more.
 */
export const ShareId = z.string().min(1).max(100);
export const ShareParams = z.strictObject({ id: Id, shareId: ShareId });
export type ShareParams = z.infer<typeof ShareParams>;
export const SharedParams = z.strictObject({ id: ShareId });
export type SharedParams = z.infer<typeof SharedParams>;

/** A share as its conversation's owner or admins see it. */
export const ConversationShare = z.object({
  id: z.string(),
  /** The public page of the snapshot (the web app's /shared/<id>); `GET /api/shared/:id` reads it. */
  url: z.string(),
  conversationId: Id,
  /** The conversation's title when the snapshot was taken. */
  title: z.string().nullable(),
  messageCount: z.number().int(),
  createdBy: Id.nullable(),
  createdAt: IsoTime,
});
export type ConversationShare = z.infer<typeof ConversationShare>;
export const ConversationShareList = z.object({ shares: z.array(ConversationShare) });
export type ConversationShareList = z.infer<typeof ConversationShareList>;

/** A file of a shared message: what it was, never its bytes (a share does not publish files). */
export const SharedAttachment = z.object({ name: z.string(), type: z.string(), size: z.number().int() });
export type SharedAttachment = z.infer<typeof SharedAttachment>;

/**
 * One message of a snapshot, as it read when the snapshot was taken. People appear by the display
 * name they had then; no ids, handles, e-mails or avatars. `assistant`: written by the AI assistant
 * (then `model` says which model, when known).
 */
export const SharedMessage = z.object({
  author: z.object({ name: z.string(), assistant: z.boolean() }),
  content: z.string(),
  createdAt: IsoTime,
  model: z.string().nullable(),
  attachments: z.array(SharedAttachment),
});
export type SharedMessage = z.infer<typeof SharedMessage>;

/** `GET /api/shared/:id` (no sign-in): the snapshot. `createdAt`: when it was taken (an addition). */
export const SharedSnapshot = z.object({
  title: z.string().nullable(),
  createdAt: IsoTime,
  messages: z.array(SharedMessage),
});
export type SharedSnapshot = z.infer<typeof SharedSnapshot>;
