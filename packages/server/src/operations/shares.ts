import { randomBytes } from 'node:crypto';
import { ConfabError, type ConversationShare, type ConversationShareList, type SharedMessage, type SharedSnapshot } from '@confab/protocol';
import { ASSISTANT_ID } from '../ai/assistant.ts';
import type { Context } from '../context.ts';
import { sha256 } from '../crypto/keyring.ts';
import { findTitle } from '../storage/conversations.ts';
import { deleteShare as deleteShareRow, findSnapshot, insertShare, listShares as listShareRows, listSnapshotPage, type ShareRow } from '../storage/shares.ts';
import { isAdmin, requireMember } from './access.ts';
import { publicOrigin } from './invites.ts';
import { iso } from './users.ts';

// Shared snapshots (API.md, "AI conversations"; docs/ai.md). `POST /api/conversations/:id/shares`
// stores a read-only copy of what the conversation shows now and answers with an unguessable URL;
// anyone with the URL reads it (`GET /api/shared/:id`, no sign-in) until it is removed. Later edits
// and deletions in the conversation do not change a snapshot: its text was copied, encrypted like
// messages are. What it holds of people is their display name at that moment and whether they are
// the assistant: no ids, handles, e-mails or avatars, no reactions, no other conversation data.
// Files are listed by name, type and size, never published. Deleting an account removes the
// snapshots that hold that person's messages (their erasure reaches copies too).

export const SHARE_LIMITS = {
  /** The most messages one snapshot holds, and its largest size (its JSON, in bytes); above either it is refused. */
  maxMessages: 2000,
  maxBytes: 5 * 1024 * 1024,
  /** Messages read per query while taking the snapshot. */
  batch: 500,
};

/** 192 random bits, base64url: the URL is the only key to the page. */
const SHARE_ID = /^[A-Za-z0-9_-]{32}$/;
const newShareId = () => randomBytes(24).toString('base64url');

const shareUrl = (ctx: Context, origin: string, id: string) => `${publicOrigin(ctx, origin)}/shared/${id}`;

function toShare(ctx: Context, row: ShareRow, origin: string): ConversationShare {
  const id = ctx.keys.decrypt(row.id_enc);
  return {
    id,
    url: shareUrl(ctx, origin, id),
    conversationId: row.conversation_id,
    title: row.title_enc === null ? null : ctx.keys.decrypt(row.title_enc),
    messageCount: row.message_count,
    createdBy: row.created_by,
    createdAt: iso(row.created_at)!,
  };
}

/**
 * The owner of an assistant conversation, or the owners and admins of a group, may share it and
 * manage its shares; other members get FORBIDDEN, outsiders NOT_FOUND. Direct conversations are
 * two people's: neither publishes them alone.
 */
async function requireShareAdmin(ctx: Context, userId: string, conversationId: string): Promise<void> {
  const me = await requireMember(ctx.db, conversationId, userId);
  if (me.type === 'direct') throw new ConfabError('FORBIDDEN', 'direct conversations cannot be shared');
  if (!isAdmin(me.role)) {
    throw new ConfabError('FORBIDDEN', me.type === 'assistant' ? 'only the owner can share this conversation' : 'only owners and admins can share a group conversation');
  }
}

const tooLarge = () =>
  new ConfabError('PAYLOAD_TOO_LARGE', `a shared snapshot holds at most ${SHARE_LIMITS.maxMessages} messages and ${SHARE_LIMITS.maxBytes / 1024 / 1024} MB`, {
    maxMessages: SHARE_LIMITS.maxMessages,
    maxBytes: SHARE_LIMITS.maxBytes,
  });

/** POST /api/conversations/:id/shares → 201 the share, with its URL. */
export async function createShare(ctx: Context, userId: string, conversationId: string, origin: string): Promise<ConversationShare> {
  await requireShareAdmin(ctx, userId, conversationId);
  await ctx.limits.consume('sharesCreatedPerUser', userId);
  const title = (await findTitle(ctx.db, conversationId))?.title ?? null;
  const messages: SharedMessage[] = [];
  const authors = new Set<string>();
  let bytes = 0;
  let after = 0;
  for (;;) {
    const rows = await listSnapshotPage(ctx.db, conversationId, after, SHARE_LIMITS.batch);
    for (const r of rows) {
      const content = ctx.keys.decrypt(r.content_enc);
      const attachments = r.attachments.map((a) => ({ name: a.name, type: a.type, size: a.size }));
      if (!content && attachments.length === 0) continue;
      const assistant = r.author_id === ASSISTANT_ID;
      // An answer still being written is shared as far as it was saved (its last checkpoint).
      const message: SharedMessage = {
        author: { name: assistant ? 'Assistant' : r.display_name, assistant },
        content,
        createdAt: iso(r.created_at)!,
        model: assistant ? r.model : null,
        attachments,
      };
      bytes += Buffer.byteLength(JSON.stringify(message));
      messages.push(message);
      authors.add(r.author_id);
      if (messages.length > SHARE_LIMITS.maxMessages || bytes > SHARE_LIMITS.maxBytes) throw tooLarge();
    }
    if (rows.length < SHARE_LIMITS.batch) break;
    after = rows[rows.length - 1]!.seq;
  }
  const id = newShareId();
  const row = await insertShare(ctx.db, {
    idHash: sha256(id),
    idEnc: ctx.keys.encrypt(id),
    conversationId,
    createdBy: userId,
    titleEnc: title === null ? null : ctx.keys.encrypt(title),
    messageCount: messages.length,
    authorIds: [...authors],
    snapshotEnc: ctx.keys.encrypt(JSON.stringify({ title, messages })),
  });
  return toShare(ctx, row, origin);
}

/** GET /api/conversations/:id/shares (an addition): the conversation's shares, newest first, for those who may share it. */
export async function listShares(ctx: Context, userId: string, conversationId: string, origin: string): Promise<ConversationShareList> {
  await requireShareAdmin(ctx, userId, conversationId);
  return { shares: (await listShareRows(ctx.db, conversationId)).map((r) => toShare(ctx, r, origin)) };
}

/** DELETE /api/conversations/:id/shares/:shareId: the page answers 404 from now on. */
export async function deleteShare(ctx: Context, userId: string, conversationId: string, shareId: string): Promise<void> {
  await requireShareAdmin(ctx, userId, conversationId);
  if (!SHARE_ID.test(shareId) || !(await deleteShareRow(ctx.db, conversationId, sha256(shareId)))) throw new ConfabError('NOT_FOUND', 'no such share');
}

/** GET /api/shared/:id, for anyone: counted per address; an id that is not a share is 404 like a removed one. */
export async function getShared(ctx: Context, shareId: string, ip: string): Promise<SharedSnapshot> {
  await ctx.limits.consume('sharedViewsPerIp', ip);
  const row = SHARE_ID.test(shareId) ? await findSnapshot(ctx.db, sha256(shareId)) : undefined;
  if (!row) throw new ConfabError('NOT_FOUND', 'this shared conversation was removed, or the link is wrong');
  const snapshot = JSON.parse(ctx.keys.decrypt(row.snapshot_enc)) as Pick<SharedSnapshot, 'title' | 'messages'>;
  return { title: snapshot.title, createdAt: iso(row.created_at)!, messages: snapshot.messages };
}
