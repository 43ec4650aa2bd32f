// Queries on messages' mentions (migration 11; docs/mentions.md). The mention columns are written
// by the statements that store and edit messages (storage/messages.ts, insertSend and
// updateMessageContent); these read them.
import type { Queryable } from './db.ts';
import { MESSAGE_COLUMNS } from './messages.ts';
import type { MessageRow } from './rows.ts';

/**
 * SQL: whether the message under alias `m` mentions the user `userId` (an SQL expression): by
 * handle, by @channel, or by @here while they were online; never their own message, never a
 * deleted one.
 */
export const MENTIONS_MEMBER = (m: string, userId: string) =>
  `(${m}.author_id <> ${userId} AND ${m}.deleted_at IS NULL
    AND (${userId} = ANY(${m}.mentions) OR ${m}.mentions_channel OR (${m}.mentions_here AND ${userId} = ANY(${m}.here_user_ids))))`;

/** Where a page of GET /api/mentions starts: after this message of the order (newest first). */
export interface MentionCursor {
  /** created_at as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, microseconds and all. */
  createdAt: string;
  id: string;
}

/**
 * Up to `limit` messages that mention the user, newest first (created_at, then id, descending: a
 * total order for keyset paging), from the conversations they are a member of now and sent since
 * they joined. Each conversation is read from the partial index of messages that mention anyone.
 */
export function listMentionPage(db: Queryable, userId: string, after: MentionCursor | undefined, limit: number): Promise<(MessageRow & { created_at_text: string })[]> {
  return db.query<MessageRow & { created_at_text: string }>(
    `SELECT ${MESSAGE_COLUMNS}, to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_text
       FROM conversation_members cm
       JOIN messages m ON m.conversation_id = cm.conversation_id
      WHERE cm.user_id = $1
        AND (m.mentions <> '{}' OR m.mentions_here OR m.mentions_channel)
        AND ${MENTIONS_MEMBER('m', '$1')}
        AND m.created_at >= cm.joined_at
        AND ($2::timestamptz IS NULL OR (m.created_at, m.id) < ($2::timestamptz, $3::text))
      ORDER BY m.created_at DESC, m.id DESC
      LIMIT $4`,
    [userId, after?.createdAt ?? null, after?.id ?? null, limit],
  );
}
