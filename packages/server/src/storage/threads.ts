// Queries on threads (issue #18; docs/threads.md): one thread's replies, who follows a thread and
// how far they read it, the caller's followed threads. Storing a reply (and the root's summary that
// goes with it) is part of storing a message: insertSend and confab_store_sends in messages.ts.
import type { Queryable } from './db.ts';
import { MESSAGE_COLUMNS } from './messages.ts';
import type { MessageRow, ThreadFollowRow } from './rows.ts';

/** What decides whether a message may be a thread's root: it is in this conversation and is no reply itself. */
export async function findThreadRoot(db: Queryable, rootId: string, conversationId: string): Promise<{ thread_root_id: string | null } | undefined> {
  const [row] = await db.query<{ thread_root_id: string | null }>('SELECT thread_root_id FROM messages WHERE id = $1 AND conversation_id = $2', [
    rootId,
    conversationId,
  ]);
  return row;
}

/**
 * Up to `limit` replies of one thread after the seq `after` (ascending), or else before the seq
 * `before` (descending, newest first). Served by messages_thread_idx.
 */
export function listThreadPage(db: Queryable, rootId: string, page: { after: number } | { before: number }, limit: number): Promise<MessageRow[]> {
  const forward = 'after' in page;
  return db.query<MessageRow>(
    forward
      ? `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE thread_root_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3`
      : `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE thread_root_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
    [rootId, forward ? page.after : page.before, limit],
  );
}

/**
 * Follows or unfollows a thread. A first follow starts read up to the conversation's latest seq
 * (what was there is not news); following again keeps the watermark.
 */
export async function upsertFollow(db: Queryable, rootId: string, userId: string, conversationId: string, following: boolean): Promise<ThreadFollowRow> {
  const [row] = await db.query<ThreadFollowRow>(
    `INSERT INTO thread_follows AS f (root_id, user_id, conversation_id, following, last_read_seq)
     SELECT $1, $2, $3, $4, c.last_seq FROM conversations c WHERE c.id = $3
     ON CONFLICT (root_id, user_id) DO UPDATE SET following = EXCLUDED.following
     RETURNING f.root_id, f.user_id, f.conversation_id, f.following, f.last_read_seq`,
    [rootId, userId, conversationId, following],
  );
  return row!;
}

/** Moves a follower's read watermark in a thread up to `seq`; only forward. Returns whether it moved. */
export async function moveThreadWatermark(db: Queryable, rootId: string, userId: string, seq: number): Promise<boolean> {
  const moved = await db.query('UPDATE thread_follows SET last_read_seq = $3 WHERE root_id = $1 AND user_id = $2 AND last_read_seq < $3 RETURNING 1', [
    rootId,
    userId,
    seq,
  ]);
  return moved.length > 0;
}

/** The followers (following now) of these threads, with their read watermarks. */
export function findThreadFollowers(db: Queryable, rootIds: string[]): Promise<Pick<ThreadFollowRow, 'root_id' | 'user_id' | 'last_read_seq'>[]> {
  return db.query<Pick<ThreadFollowRow, 'root_id' | 'user_id' | 'last_read_seq'>>(
    'SELECT root_id, user_id, last_read_seq FROM thread_follows WHERE root_id = ANY($1::text[]) AND following',
    [rootIds],
  );
}

/** A followed thread: its root, the caller's watermark, the unread replies of others, and its sort key. */
export type FollowedThreadRow = MessageRow & { last_read_seq: number; unread_count: number; sort_at: Date };

/**
 * The user's followed threads in conversations they are still a member of, the latest reply first
 * (a thread without replies by its root's time), after the keyset `after` (exclusive). The sort
 * time is cut to milliseconds, as a JavaScript Date (the cursor) holds it.
 */
export function listFollowedThreads(db: Queryable, userId: string, after: { at: Date; id: string } | null, limit: number): Promise<FollowedThreadRow[]> {
  return db.query<FollowedThreadRow>(
    `SELECT * FROM (
       SELECT ${MESSAGE_COLUMNS}, f.last_read_seq, date_trunc('milliseconds', COALESCE(m.thread_last_reply_at, m.created_at)) AS sort_at,
              (SELECT count(*)::int FROM messages x
                WHERE x.thread_root_id = m.id AND x.seq > f.last_read_seq AND x.author_id <> f.user_id AND x.deleted_at IS NULL) AS unread_count
         FROM thread_follows f
         JOIN messages m ON m.id = f.root_id
         JOIN conversation_members cm ON cm.conversation_id = f.conversation_id AND cm.user_id = f.user_id
        WHERE f.user_id = $1 AND f.following) t
      WHERE $2::timestamptz IS NULL OR (t.sort_at, t.id) < ($2::timestamptz, $3::text)
      ORDER BY t.sort_at DESC, t.id DESC
      LIMIT $4`,
    [userId, after?.at ?? null, after?.id ?? '', limit],
  );
}

/**
 * A reply of this root was deleted: the root's count goes down, and the root takes the seq `seq`
 * for that change (its participants and last reply time stay: they are history).
 */
export async function threadReplyRemoved(tx: Queryable, rootId: string, seq: number): Promise<void> {
  await tx.query('UPDATE messages SET thread_reply_count = GREATEST(thread_reply_count - 1, 0), updated_seq = $2 WHERE id = $1', [rootId, seq]);
}
