import { ConfabError, type ThreadFollow, type ThreadList } from '@confab/protocol';
import type { Context } from '../context.ts';
import { findMessage } from '../storage/messages.ts';
import { listFollowedThreads, upsertFollow } from '../storage/threads.ts';
import { requireMember } from './access.ts';
import { hydrateMessages } from './messages.ts';

/**
 * Threads (issue #18; docs/threads.md). Sending a reply, listing a thread and the root's summary
 * live with the messages (operations/messages.ts); here: following a thread, and the caller's
 * followed threads with their unread replies.
 */

/**
 * `PUT /api/messages/:id/follow`: the caller follows (or stops following) the thread of a message.
 * Any message on the main line may be followed before its first reply; a reply in a thread cannot
 * (VALIDATION_ERROR). A message the caller cannot see is NOT_FOUND.
 */
export async function followThread(ctx: Context, userId: string, messageId: string, following: boolean): Promise<ThreadFollow> {
  const root = await findMessage(ctx.db, messageId);
  if (!root) throw new ConfabError('NOT_FOUND', 'no such message');
  try {
    await requireMember(ctx.db, root.conversation_id, userId);
  } catch {
    throw new ConfabError('NOT_FOUND', 'no such message');
  }
  if (root.thread_root_id !== null) throw new ConfabError('VALIDATION_ERROR', 'a reply in a thread has no thread of its own: follow its root');
  const row = await upsertFollow(ctx.db, root.id, userId, root.conversation_id, following);
  return { rootId: row.root_id, conversationId: row.conversation_id, following: row.following, lastReadSeq: row.last_read_seq };
}

/** Keyset cursor of the followed-threads list: the last item's sort time and id. */
function encodeCursor(at: Date, id: string): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

function decodeCursor(cursor: string): { at: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    if (typeof at === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(at))) return { at: new Date(at), id };
  } catch {
    // falls through
  }
  throw new ConfabError('VALIDATION_ERROR', 'cursor is not one this server gave out');
}

/**
 * `GET /api/threads`: the threads the caller follows, in conversations they are still in, the
 * latest reply first, each with its root (and summary) and the number of replies by others after
 * the caller's read watermark in it.
 */
export async function listThreads(ctx: Context, userId: string, query: { limit: number; cursor?: string | undefined }): Promise<ThreadList> {
  const after = query.cursor ? decodeCursor(query.cursor) : null;
  const rows = await listFollowedThreads(ctx.db, userId, after, query.limit + 1);
  const page = rows.slice(0, query.limit);
  const roots = await hydrateMessages(ctx, ctx.db, page);
  const last = page.at(-1);
  return {
    threads: page.map((r, i) => ({ conversationId: r.conversation_id, root: roots[i]!, unreadCount: r.unread_count, lastReadSeq: r.last_read_seq })),
    nextCursor: rows.length > query.limit && last ? encodeCursor(last.sort_at, last.id) : null,
  };
}
