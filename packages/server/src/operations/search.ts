import type { SearchResult } from '@confab/protocol';
import type { Context } from '../context.ts';
import { legacyQueryTerms, queryTerms, searchTerms } from '../search/terms.ts';
import { containsPattern } from '../storage/conversations.ts';
import type { MessageRow } from '../storage/rows.ts';
import {
  findConversationIdsByName,
  findLegacyMessagesByTerms,
  findMessagesByTerms,
  findSearchableConversationIds,
  legacyRowsRemain,
  lockLegacyRows,
  setReindexedTerms,
} from '../storage/search.ts';
import { jobPending } from '../storage/jobs.ts';
import { getConversations } from './conversations.ts';
import { hydrateMessages } from './messages.ts';

/**
 * Messages and conversations the caller can see that match. Message text is encrypted at rest, so
 * messages are found through the blind index (see search/terms.ts); conversation titles are not
 * encrypted and match by substring, and direct conversations by the other person's name.
 * Only conversations the caller is a member of are searched: membership is part of the query.
 */
export async function search(ctx: Context, userId: string, q: { query: string; limit: number; conversationId?: string | undefined }): Promise<SearchResult> {
  const rows = await searchMessages(ctx, userId, q);
  const convIds = q.conversationId ? [] : await findConversationIdsByName(ctx.db, userId, containsPattern(q.query), q.limit);
  return {
    messages: await hydrateMessages(ctx, ctx.db, rows),
    conversations: await getConversations(ctx, userId, convIds),
  };
}

/**
 * Index version 2 hashes each term with its conversation id (search/terms.ts), so a query is
 * hashed once per conversation the caller is in: the caller's conversations are read first, and
 * each is matched against its own hashes.
 */
export async function searchMessages(ctx: Context, userId: string, q: { query: string; limit: number; conversationId?: string | undefined }): Promise<MessageRow[]> {
  if (legacyQueryTerms(ctx.keys.searchKey, q.query).length === 0) return [];
  const ids = await findSearchableConversationIds(ctx.db, userId, q.conversationId ?? null);
  if (ids.length === 0) return [];
  const perConversation = ids.map((id) => queryTerms(ctx.keys.searchKey, id, q.query));
  // The candidates are the messages holding, in their conversation's hashes, the longest query
  // word, which queryTerms puts first; each is then checked against all the words (storage/search.ts).
  const rows = await findMessagesByTerms(
    ctx.db,
    userId,
    { conversationIds: ids, terms: perConversation.map((t) => `{${t.join(',')}}`), candidateTerms: perConversation.map((t) => t[0]!) },
    q.limit,
  );
  // Asked on every search rather than remembered per process: it is one probe of a partial index
  // that is empty once the re-index is done, and another node may still be re-indexing.
  if (!(await legacyRowsRemain(ctx.db))) return rows;
  // Rows not re-indexed yet match the old way (one key for all conversations).
  const legacy = await findLegacyMessagesByTerms(ctx.db, userId, legacyQueryTerms(ctx.keys.searchKey, q.query), q.conversationId ?? null, q.limit);
  return [...rows, ...legacy].sort((a, b) => +new Date(b.created_at) - +new Date(a.created_at)).slice(0, q.limit);
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
    const rows = await lockLegacyRows(tx, REINDEX_BATCH);
    if (rows.length === 0) return 0;
    const terms = rows.map((r) => (r.indexed && r.content_enc ? `{${searchTerms(ctx.keys.searchKey, r.conversation_id, ctx.keys.decrypt(r.content_enc)).join(',')}}` : '{}'));
    await setReindexedTerms(tx, rows.map((r) => r.id), terms);
    return rows.length;
  });
}

/** At start: queues the re-index when version 1 rows remain and no re-index job is waiting. */
export async function scheduleReindex(ctx: Context): Promise<void> {
  if (!(await legacyRowsRemain(ctx.db))) return;
  if (!(await jobPending(ctx.db, REINDEX_JOB))) await ctx.jobs.enqueue(ctx.db, REINDEX_JOB, {});
}
