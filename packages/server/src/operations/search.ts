import type { SearchResult } from '@confab/protocol';
import type { Context } from '../context.ts';
import { queryTerms } from '../search/terms.ts';
import { getConversations } from './conversations.ts';
import { hydrateMessages, MESSAGE_COLUMNS, type MessageRow } from './messages.ts';

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Messages and conversations the caller can see that match. Message text is encrypted at rest, so
 * messages are found through the blind index (see search/terms.ts); conversation titles are not
 * encrypted and match by substring, and direct conversations by the other person's name.
 * Only conversations the caller is a member of are searched: membership is part of the query.
 */
export async function search(ctx: Context, userId: string, q: { query: string; limit: number; conversationId?: string | undefined }): Promise<SearchResult> {
  const terms = queryTerms(ctx.keys.searchKey, q.query);
  const rows = terms.length
    ? await ctx.db.query<MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages m
           JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $1
          WHERE m.search_terms @> $2::bigint[] AND m.deleted_at IS NULL AND m.kind <> 'system'
            AND ($3::text IS NULL OR m.conversation_id = $3)
          ORDER BY m.created_at DESC LIMIT $4`,
        [userId, terms, q.conversationId ?? null, q.limit],
      )
    : [];
  const pattern = `%${escapeLike(q.query)}%`;
  const convIds = q.conversationId
    ? []
    : await ctx.db.query<{ id: string }>(
        `SELECT c.id FROM conversations c
           JOIN conversation_members me ON me.conversation_id = c.id AND me.user_id = $1
          WHERE c.title ILIKE $2
             OR (c.type = 'direct' AND EXISTS (
                  SELECT 1 FROM conversation_members o JOIN users u ON u.id = o.user_id
                   WHERE o.conversation_id = c.id AND o.user_id <> $1 AND (u.display_name ILIKE $2 OR u.handle ILIKE $2)))
          ORDER BY c.last_activity_at DESC LIMIT $3`,
        [userId, pattern, q.limit],
      );
  return {
    messages: await hydrateMessages(ctx, ctx.db, rows),
    conversations: await getConversations(ctx, userId, convIds.map((r) => r.id)),
  };
}
