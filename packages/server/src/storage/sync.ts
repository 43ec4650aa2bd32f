// The reads of a sync (issue #17, item 2: the query layer), each serving a whole batch of sync
// requests in one statement. The SQL moved as it was from operations/sync.ts, which keeps the
// rules (cursors, paging, which conversations a request may see).
import type { Queryable } from './db.ts';
import { MESSAGE_COLUMNS } from './messages.ts';
import type { MessageRow } from './rows.ts';

/** Each user's conversations, their last seq and whether an answer is streaming in each. */
export function findSyncStates(db: Queryable, userIds: string[]): Promise<{ user_id: string; id: string; last_seq: number; streaming: boolean }[]> {
  return db.query<{ user_id: string; id: string; last_seq: number; streaming: boolean }>(
    `SELECT m.user_id, c.id, c.last_seq, EXISTS (SELECT 1 FROM messages s WHERE s.conversation_id = c.id AND s.status = 'streaming') AS streaming
       FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
      WHERE m.user_id = ANY($1::text[])`,
    [userIds],
    { prepare: true },
  );
}

/** The answers streaming now in the conversations of these users, once per user (`viewer`) who may see each. */
export function findStreamingAnswers(db: Queryable, viewerIds: string[]): Promise<(MessageRow & { viewer: string })[]> {
  return db.query<MessageRow & { viewer: string }>(
    `SELECT cm.user_id AS viewer, ${MESSAGE_COLUMNS} FROM messages m
       JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = ANY($1::text[])
      WHERE m.status = 'streaming'`,
    [viewerIds],
  );
}

/** Each user's conversations with their last seq, in id order. */
export function findMemberConversations(tx: Queryable, userIds: string[]): Promise<{ user_id: string; id: string; last_seq: number }[]> {
  return tx.query<{ user_id: string; id: string; last_seq: number }>(
    `SELECT m.user_id, c.id, c.last_seq FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
      WHERE m.user_id = ANY($1::text[]) ORDER BY c.id`,
    [userIds],
  );
}

/**
 * The messages changed after a cursor, for many requests in one statement. Request `r` (its index
 * in `limits`) takes up to `limits[r]` messages; its conversations are the entries of `conversations`
 * whose `req` is `r`, taken in the order of the arrays (`ord`, numbered across all requests, so it
 * orders the requests too), each from its `cursor` on, by updatedSeq: where a page may be cut.
 * Ordered by position, not by id: JavaScript and the database could collate ids differently.
 */
export function findChangesSince(
  tx: Queryable,
  limits: number[],
  conversations: { req: number[]; ids: string[]; cursors: number[] },
): Promise<(MessageRow & { req: number; ord: string })[]> {
  return tx.query<MessageRow & { req: number; ord: string }>(
    `SELECT p.* FROM unnest($1::int[], $2::int[]) AS r(req, lim)
      CROSS JOIN LATERAL (
        SELECT ${MESSAGE_COLUMNS}, c.req, c.ord
          FROM unnest($3::int[], $4::text[], $5::int[]) WITH ORDINALITY AS c(req, id, cursor, ord)
          JOIN messages m ON m.conversation_id = c.id AND m.updated_seq > c.cursor
         WHERE c.req = r.req
         ORDER BY c.ord, m.updated_seq
         LIMIT r.lim) p
      ORDER BY p.ord, p.updated_seq`,
    [limits.map((_, i) => i), limits, conversations.req, conversations.ids, conversations.cursors],
  );
}
