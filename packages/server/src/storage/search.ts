// The search index's queries (issue #17, item 2: the query layer): the blind index of message text
// (messages.search_terms, search_version; see search/terms.ts), conversation titles and names, and
// the re-index of version 1 rows. The SQL moved as it was from operations/search.ts, which keeps
// the rules (who sees what, hashing the query, when to re-index).
import type { Database, Queryable } from './db.ts';
import { MESSAGE_COLUMNS } from './messages.ts';
import type { MessageRow } from './rows.ts';

/**
 * The user's conversations whose title matches `pattern` (a LIKE pattern), or direct ones whose
 * other person's name or handle does; most recent activity first.
 */
export async function findConversationIdsByName(db: Queryable, userId: string, pattern: string, limit: number): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT c.id FROM conversations c
       JOIN conversation_members me ON me.conversation_id = c.id AND me.user_id = $1
      WHERE c.title ILIKE $2
         OR (c.type = 'direct' AND EXISTS (
              SELECT 1 FROM conversation_members o JOIN users u ON u.id = o.user_id
               WHERE o.conversation_id = c.id AND o.user_id <> $1 AND (u.display_name ILIKE $2 OR u.handle ILIKE $2)))
      ORDER BY c.last_activity_at DESC LIMIT $3`,
    [userId, pattern, limit],
  );
  return rows.map((r) => r.id);
}

/** The conversations the user is a member of: all of them, or only `conversationId` if given. */
export async function findSearchableConversationIds(db: Queryable, userId: string, conversationId: string | null): Promise<string[]> {
  const memberships = await db.query<{ conversation_id: string }>(
    `SELECT conversation_id FROM conversation_members WHERE user_id = $1 AND ($2::text IS NULL OR conversation_id = $2)`,
    [userId, conversationId],
  );
  return memberships.map((m) => m.conversation_id);
}

/**
 * Messages indexed the version 2 way (hashed per conversation) that hold every term of their
 * conversation's query, newest first. `terms[i]` (bigint[] literal) is the query hashed for
 * `conversationIds[i]`, `candidateTerms[i]` its first term: one pass over the GIN index finds the
 * messages holding it, and each is then checked against all the terms of its conversation. The
 * planner guesses that `&&` with one value per conversation matches much of the table and would
 * scan all of it: the scan is forced to the index.
 */
export function findMessagesByTerms(
  db: Database,
  userId: string,
  query: { conversationIds: string[]; terms: string[]; candidateTerms: string[] },
  limit: number,
): Promise<MessageRow[]> {
  return db.transaction(async (tx) => {
    await tx.query('SET LOCAL enable_seqscan = off');
    return tx.query<MessageRow>(
      `WITH candidates AS MATERIALIZED (
         SELECT m.* FROM messages m
          WHERE m.search_terms && $4::bigint[] AND m.search_version = 2 AND m.deleted_at IS NULL AND m.kind <> 'system'
       )
       SELECT ${MESSAGE_COLUMNS} FROM candidates m
         JOIN unnest($2::text[], $3::text[]) AS q(conversation_id, terms) ON q.conversation_id = m.conversation_id
         JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $1
        WHERE m.search_terms @> q.terms::bigint[]
        ORDER BY m.created_at DESC LIMIT $5`,
      [userId, query.conversationIds, query.terms, query.candidateTerms, limit],
    );
  });
}

/** Messages indexed the version 1 way (one key for all conversations) that hold every term, newest first. */
export function findLegacyMessagesByTerms(db: Queryable, userId: string, terms: string[], conversationId: string | null, limit: number): Promise<MessageRow[]> {
  return db.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m
       JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $1
      WHERE m.search_terms @> $2::bigint[] AND m.search_version = 1 AND m.deleted_at IS NULL AND m.kind <> 'system'
        AND ($3::text IS NULL OR m.conversation_id = $3)
      ORDER BY m.created_at DESC LIMIT $4`,
    [userId, terms, conversationId, limit],
  );
}

/** Whether any message is still indexed the version 1 way: one probe of a partial index. */
export async function legacyRowsRemain(db: Queryable): Promise<boolean> {
  const [row] = await db.query<{ remain: boolean }>('SELECT EXISTS (SELECT 1 FROM messages WHERE search_version = 1) AS remain');
  return Boolean(row?.remain);
}

/**
 * Up to `batch` version 1 rows, locked (FOR UPDATE SKIP LOCKED: several nodes share the work, and
 * a row being edited or deleted is skipped); `indexed` says whether the row has terms at all.
 */
export function lockLegacyRows(tx: Queryable, batch: number): Promise<{ id: string; conversation_id: string; content_enc: string; indexed: boolean }[]> {
  return tx.query<{ id: string; conversation_id: string; content_enc: string; indexed: boolean }>(
    `SELECT id, conversation_id, content_enc, cardinality(search_terms) > 0 AS indexed FROM messages
      WHERE search_version = 1 ORDER BY id LIMIT ${batch} FOR UPDATE SKIP LOCKED`,
  );
}

/** Stores the rows' version 2 terms (bigint[] literals, one per id). */
export async function setReindexedTerms(tx: Queryable, ids: string[], terms: string[]): Promise<void> {
  await tx.query(
    `UPDATE messages m SET search_terms = t.terms::bigint[], search_version = 2
       FROM unnest($1::text[], $2::text[]) AS t(id, terms) WHERE m.id = t.id AND m.search_version = 1`,
    [ids, terms],
  );
}
