import type { SearchResult } from '@confab/protocol';
import type { Context } from '../context.ts';
import type { Database } from '../storage/db.ts';
import { legacyQueryTerms, queryTerms, searchTerms } from '../search/terms.ts';
import { getConversations } from './conversations.ts';
import { hydrateMessages, MESSAGE_COLUMNS } from './messages.ts';
import type { MessageRow } from '../storage/rows.ts';

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Messages and conversations the caller can see that match. Message text is encrypted at rest, so
 * messages are found through the blind index (see search/terms.ts); conversation titles are not
 * encrypted and match by substring, and direct conversations by the other person's name.
 * Only conversations the caller is a member of are searched: membership is part of the query.
 */
export async function search(ctx: Context, userId: string, q: { query: string; limit: number; conversationId?: string | undefined }): Promise<SearchResult> {
  const rows = await searchMessages(ctx, userId, q);
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

/**
 * Index version 2 hashes each term with its conversation id (search/terms.ts), so a query is
 * hashed once per conversation the caller is in: the caller's conversations are read first, and
 * each is matched against its own hashes.
 */
export async function searchMessages(ctx: Context, userId: string, q: { query: string; limit: number; conversationId?: string | undefined }): Promise<MessageRow[]> {
  if (legacyQueryTerms(ctx.keys.searchKey, q.query).length === 0) return [];
  const memberships = await ctx.db.query<{ conversation_id: string }>(
    `SELECT conversation_id FROM conversation_members WHERE user_id = $1 AND ($2::text IS NULL OR conversation_id = $2)`,
    [userId, q.conversationId ?? null],
  );
  if (memberships.length === 0) return [];
  const ids = memberships.map((m) => m.conversation_id);
  const perConversation = ids.map((id) => queryTerms(ctx.keys.searchKey, id, q.query));
  // One pass over the GIN index finds the candidates (messages holding, in their conversation's
  // hashes, the longest query word, which queryTerms puts first); each is then checked against all
  // the words of its conversation. The planner guesses that `&&` with one value per conversation
  // matches much of the table and would scan all of it: the scan is forced to the index.
  const rows = await ctx.db.transaction(async (tx) => {
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
      [userId, ids, perConversation.map((t) => `{${t.join(',')}}`), perConversation.map((t) => t[0]!), q.limit],
    );
  });
  if (!(await legacyRowsRemain(ctx.db))) return rows;
  // Rows not re-indexed yet match the old way (one key for all conversations).
  const legacy = await ctx.db.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m
       JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $1
      WHERE m.search_terms @> $2::bigint[] AND m.search_version = 1 AND m.deleted_at IS NULL AND m.kind <> 'system'
        AND ($3::text IS NULL OR m.conversation_id = $3)
      ORDER BY m.created_at DESC LIMIT $4`,
    [userId, legacyQueryTerms(ctx.keys.searchKey, q.query), q.conversationId ?? null, q.limit],
  );
  return [...rows, ...legacy].sort((a, b) => +new Date(b.created_at) - +new Date(a.created_at)).slice(0, q.limit);
}

/**
 * Asked on every search rather than remembered per process: it is one probe of a partial index
 * that is empty once the re-index is done, and another node may still be re-indexing.
 */
async function legacyRowsRemain(db: Database): Promise<boolean> {
  const [row] = await db.query<{ remain: boolean }>('SELECT EXISTS (SELECT 1 FROM messages WHERE search_version = 1) AS remain');
  return Boolean(row?.remain);
}

export const REINDEX_JOB = 'search.reindex';
const REINDEX_BATCH = 200;
/** A job re-indexes for this long, then hands the rest to a new job (a lease is not held for hours). */
const REINDEX_SLICE_MS = 30_000;

/**
 * Re-indexes version 1 rows (written before migration 8) in the background, in batches, each in
 * a transaction that locks its rows (SKIP LOCKED: several nodes share the work; an edit or delete
 * of a row waits for its batch or the batch skips it). Rows whose terms are empty (deleted
 * messages, AI answers, which are not indexed) only change version.
 */
export function registerSearchJobs(ctx: Context): void {
  ctx.jobs.register(REINDEX_JOB, async () => {
    const started = Date.now();
    while (Date.now() - started < REINDEX_SLICE_MS) {
      if ((await reindexBatch(ctx)) < REINDEX_BATCH) return;
    }
    await ctx.jobs.enqueue(ctx.db, REINDEX_JOB, {});
  });
}

export async function reindexBatch(ctx: Context): Promise<number> {
  return ctx.db.transaction(async (tx) => {
    const rows = await tx.query<{ id: string; conversation_id: string; content_enc: string; indexed: boolean }>(
      `SELECT id, conversation_id, content_enc, cardinality(search_terms) > 0 AS indexed FROM messages
        WHERE search_version = 1 ORDER BY id LIMIT ${REINDEX_BATCH} FOR UPDATE SKIP LOCKED`,
    );
    if (rows.length === 0) return 0;
    const terms = rows.map((r) => (r.indexed && r.content_enc ? `{${searchTerms(ctx.keys.searchKey, r.conversation_id, ctx.keys.decrypt(r.content_enc)).join(',')}}` : '{}'));
    await tx.query(
      `UPDATE messages m SET search_terms = t.terms::bigint[], search_version = 2
         FROM unnest($1::text[], $2::text[]) AS t(id, terms) WHERE m.id = t.id AND m.search_version = 1`,
      [rows.map((r) => r.id), terms],
    );
    return rows.length;
  });
}

/** At start: queues the re-index when version 1 rows remain and no re-index job is waiting. */
export async function scheduleReindex(ctx: Context): Promise<void> {
  if (!(await legacyRowsRemain(ctx.db))) return;
  const [queued] = await ctx.db.query(`SELECT 1 FROM jobs WHERE kind = $1 AND status IN ('pending', 'running') LIMIT 1`, [REINDEX_JOB]);
  if (!queued) await ctx.jobs.enqueue(ctx.db, REINDEX_JOB, {});
}
