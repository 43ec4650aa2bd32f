import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfabError, type CreatedIncomingHook, type IncomingHook, type IncomingHookList, type Message } from '@confab/protocol';
import type { Context } from '../context.ts';
import { sha256 } from '../crypto/keyring.ts';
import { newId } from '../ids.ts';
import {
  deactivateHookBot,
  deleteHookAndBot,
  deleteIncomingHook as deleteHookRow,
  findIncomingHook,
  insertHookBot,
  insertIncomingHook,
  listIncomingHooks as listHookRows,
  type IncomingHookRow,
} from '../storage/incomingHooks.ts';
import { isAdmin, requireMember } from './access.ts';
import { addParticipants, removeParticipant } from './conversations.ts';
import { publicOrigin } from './invites.ts';
import { sendMessage } from './messages.ts';
import { iso } from './users.ts';

// Incoming webhooks (API.md, "Building on Confab"; docs/platform.md). A hook is a bot user of its
// own (is_bot, no password, owned by whoever created the hook) that joins the conversation as a
// plain member, added by its creator like anyone they add: every other access rule (group
// conversations only, admins add members, the member cap, removal) applies unchanged, and a post to
// the hook's URL is an ordinary send by that member (operations/messages.ts, sendMessage): limits,
// the before-send hook, events, notifications and search apply. The send limit is per user, so per hook.

function toHook(row: IncomingHookRow): IncomingHook {
  return { id: row.id, conversationId: row.conversation_id, name: row.name, botUserId: row.author_id, createdBy: row.created_by, createdAt: iso(row.created_at)! };
}

/** Conversation owners and admins of group conversations manage hooks; others get 403, outsiders 404. */
async function requireHookAdmin(ctx: Context, userId: string, conversationId: string): Promise<void> {
  const me = await requireMember(ctx.db, conversationId, userId);
  if (me.type !== 'group') throw new ConfabError('FORBIDDEN', 'only group conversations can have incoming webhooks');
  if (!isAdmin(me.role)) throw new ConfabError('FORBIDDEN', 'only owners and admins can manage incoming webhooks');
}

/** POST /api/conversations/:id/hooks: the URL (with its token) is in the answer only. */
export async function createIncomingHook(ctx: Context, userId: string, conversationId: string, name: string, origin: string): Promise<CreatedIncomingHook> {
  await requireHookAdmin(ctx, userId, conversationId);
  const token = randomBytes(32).toString('base64url');
  const hookId = newId();
  const botId = newId();
  const row = await ctx.db.transaction(async (tx) => {
    const handle = `hook-${randomBytes(8).toString('hex')}`;
    if (!(await insertHookBot(tx, { id: botId, handle, displayName: name, ownerId: userId }))) throw new ConfabError('CONFLICT', 'try again');
    return insertIncomingHook(tx, { id: hookId, conversationId, name, tokenHash: sha256(token), authorId: botId, createdBy: userId });
  });
  try {
    // Added as the creator adds anyone: the same checks, system message and events.
    await addParticipants(ctx, userId, conversationId, { userIds: [botId] });
  } catch (error) {
    await deleteHookAndBot(ctx.db, hookId, botId);
    throw error;
  }
  return { ...toHook(row), url: `${publicOrigin(ctx, origin)}/api/hooks/${hookId}/${token}` };
}

/** GET /api/conversations/:id/hooks (owners and admins): without their URLs, which hold the token. */
export async function listIncomingHooks(ctx: Context, userId: string, conversationId: string): Promise<IncomingHookList> {
  await requireHookAdmin(ctx, userId, conversationId);
  return { hooks: (await listHookRows(ctx.db, conversationId)).map(toHook) };
}

/** DELETE /api/conversations/:id/hooks/:hookId: the URL stops working; the bot leaves the conversation. */
export async function deleteIncomingHook(ctx: Context, userId: string, conversationId: string, hookId: string): Promise<void> {
  await requireHookAdmin(ctx, userId, conversationId);
  const row = await deleteHookRow(ctx.db, conversationId, hookId);
  if (!row) throw new ConfabError('NOT_FOUND', 'no such hook');
  await deactivateHookBot(ctx.db, row.author_id);
  // Already removed (or ranked above the caller by the owner): the hook is gone all the same.
  await removeParticipant(ctx, userId, conversationId, row.author_id).catch((error: unknown) => {
    if (!(error instanceof ConfabError) || (error.code !== 'NOT_FOUND' && error.code !== 'FORBIDDEN')) throw error;
  });
}

/** POST /api/hooks/:hookId/:token: a wrong id or token is 404 alike (the URL is the secret). */
export async function postToIncomingHook(ctx: Context, hookId: string, token: string, content: string): Promise<Message> {
  const hook = await findIncomingHook(ctx.db, hookId);
  // Both are SHA-256 hashes in base64url, of one length: compared in constant time.
  if (!hook || !timingSafeEqual(Buffer.from(sha256(token)), Buffer.from(hook.token_hash))) throw new ConfabError('NOT_FOUND', 'no such hook');
  const { message } = await sendMessage(ctx, hook.author_id, { conversationId: hook.conversation_id, content, clientId: newId() });
  return message;
}
