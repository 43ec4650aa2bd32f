import type { Message, SyncResult } from '@confab/protocol';
import { withLiveText } from '../ai/streams.ts';
import type { Context } from '../context.ts';
import { Batcher, getOrCreate, RECONNECT_GATHER_MS } from '../storage/batcher.ts';
import type { Queryable } from '../storage/db.ts';
import type { MessageRow } from '../storage/rows.ts';
import { findChangesSince, findMemberConversations, findStreamingAnswers, findSyncStates } from '../storage/sync.ts';
import { conversationViewKey, getConversationViews } from './conversations.ts';
import { hydrateMessages } from './messages.ts';

export const SYNC_DEFAULT_LIMIT = 500;
export const SYNC_MAX_LIMIT = 1000;
/** Conversations hydrated per page at most: a new device with thousands of quiet conversations pages through them too. */
export const SYNC_MAX_CONVERSATIONS = 200;

export interface SyncInput {
  cursors: Record<string, number>;
  limit?: number | undefined;
}

/**
 * Catch-up after a disconnect, a reload or a missed live event.
 *
 * Cursors. A cursor for a conversation is a `seq` of that conversation such that the client holds
 * every change up to and including it. Every change takes the conversation's next seq and stamps
 * the changed message's `updatedSeq` with it, under the conversation's row lock, so "every message
 * whose updatedSeq is above the cursor, in its latest state" is exactly what the client lacks.
 *
 * Paging. A page holds at most `limit` messages (default 500, max 1000). Conversations are taken
 * in a fixed order, and within one conversation messages are CUT in `updatedSeq` order (not `seq`
 * order), so that a page always ends on a point where "everything up to X" is true. The messages
 * are then presented in (conversation, seq) order, as the contract says.
 *
 * How the client derives its next cursors — the result's `cursors` field says it outright:
 *   next = { ...previous, ...result.cursors } without result.removedConversationIds
 * `result.cursors` has an entry for each conversation this page brought fully or partly up to date:
 *   - conversations whose changes were all returned: the conversation's `lastSeq` at the moment of
 *     the read (which may be above every returned updatedSeq when the latest changes superseded
 *     each other or touched no message);
 *   - the one conversation cut in the middle (hasMore): the highest updatedSeq returned for it;
 *   - conversations not reached on this page are absent (keep the old cursor; a conversation that
 *     had none stays without one, so the next page still returns it as new).
 * Equivalently, without `cursors`: max updatedSeq received per conversation, but only for the
 * conversation that was cut; for the others `conversation.lastSeq` from the same response.
 * While `hasMore`, call again with the new cursors.
 *
 * Access. Conversations in `cursors` the caller is not a member of (never was, left, was removed,
 * the conversation was deleted or never existed) are listed in `removedConversationIds` and
 * nothing else is said about them.
 */
export function sync(ctx: Context, userId: string, input: SyncInput): Promise<SyncResult> {
  return syncBatcher(ctx).load({ userId, input });
}

/** How syncs were batched on this server (tests, diagnostics). */
export const syncBatchStats = (ctx: Context) => syncBatcher(ctx).stats;

const syncBatcher = (ctx: Context) =>
  getOrCreate(batchers, ctx, () => new Batcher((batch: SyncRequest[]) => syncBatch(ctx, batch), { maxConcurrent: ctx.db.kind === 'embedded' ? 1 : SYNC_CONCURRENCY, maxBatch: SYNC_MAX_BATCH, spareAfterMs: 25, gatherMs: RECONNECT_GATHER_MS }));

/**
 * Syncs are served in batches (storage/batcher.ts): after a restart thousands of clients sync
 * within seconds, and a batch costs the statements of one sync, not one sync's statements each.
 * At most SYNC_CONCURRENCY batches run at once per server (a second only beside a slow one), so a
 * storm cannot take every pooled connection from handshakes and sends.
 */
export const SYNC_CONCURRENCY = 3;
export const SYNC_MAX_BATCH = 64;
const batchers = new WeakMap<Context, Batcher<SyncRequest, SyncResult>>();

interface SyncRequest {
  userId: string;
  input: SyncInput;
}

interface ConversationState {
  id: string;
  last_seq: number;
  /** Has an AI answer streaming right now. */
  streaming: boolean;
}

/** Requests of one batch that are the same (one user's tabs and devices, equally up to date) are served once. */
const requestKey = (r: SyncRequest) =>
  `${r.userId}|${r.input.limit ?? ''}|${Object.keys(r.input.cursors)
    .sort()
    .map((id) => `${id}:${r.input.cursors[id]}`)
    .join(',')}`;

async function syncBatch(ctx: Context, batch: SyncRequest[]): Promise<SyncResult[]> {
  const keys = batch.map(requestKey);
  const distinct = new Map<string, SyncRequest>();
  for (const [i, key] of keys.entries()) if (!distinct.has(key)) distinct.set(key, batch[i]!);
  const requests = [...distinct.values()];
  const states = await syncStates(ctx, [...new Set(requests.map((r) => r.userId))]);
  const results = new Map<SyncRequest, SyncResult>();
  const full: SyncRequest[] = [];
  for (const r of requests) {
    if (upToDate(states.get(r.userId) ?? [], r.input.cursors)) results.set(r, { conversations: [], messages: [], removedConversationIds: [], hasMore: false, cursors: {} });
    else full.push(r);
  }
  if (full.length > 0) {
    const pages = await changesSince(ctx, full);
    // An answer that starts after this read is the client's to follow live: its socket is in the
    // conversation's room already and buffers live events while it syncs.
    const streaming = full.filter((r) => states.get(r.userId)?.some((c) => c.streaming));
    const withAnswers = streaming.length ? await withStreamingAnswers(ctx, streaming, pages) : pages;
    for (const r of full) results.set(r, withAnswers.get(r)!);
  }
  return keys.map((key) => results.get(distinct.get(key)!)!);
}

/** Each user's conversations, their last seq and whether an answer is streaming: one statement for the batch. */
async function syncStates(ctx: Context, userIds: string[]): Promise<Map<string, ConversationState[]>> {
  return groupBy(await findSyncStates(ctx.db, userIds), (r) => r.user_id);
}

/**
 * The fast path: the client holds every change of every conversation it belongs to, knows no
 * conversation it has left, and none has an answer streaming (those are always returned, see
 * withStreamingAnswers). Read in one statement, so one snapshot. Most reconnects after a blip end
 * here, without the transaction of a full sync.
 */
function upToDate(state: ConversationState[], cursors: Record<string, number>): boolean {
  if (state.length !== Object.keys(cursors).length) return false;
  return state.every((c) => Object.hasOwn(cursors, c.id) && c.last_seq <= cursors[c.id]! && !c.streaming);
}

/**
 * Answers still streaming are always part of the last sync page, with their live text and
 * `streamIndex`, even when the cursor is past their seq: a client that was away mid-answer
 * missed `ai:delta` pieces that no seq covers.
 */
async function withStreamingAnswers(ctx: Context, requests: SyncRequest[], pages: Map<SyncRequest, SyncResult>): Promise<Map<SyncRequest, SyncResult>> {
  const lastPages = requests.filter((r) => !pages.get(r)!.hasMore);
  const rows = lastPages.length ? await findStreamingAnswers(ctx.db, [...new Set(lastPages.map((r) => r.userId))]) : [];
  const hydrated = await hydrateOnce(ctx, ctx.db, rows);
  const byViewer = groupBy(rows, (r) => r.viewer);
  const out = new Map(pages);
  for (const r of requests) {
    const page = pages.get(r)!;
    let messages = page.messages;
    if (!page.hasMore) {
      const known = new Set(messages.map((m) => m.id));
      const extra = (byViewer.get(r.userId) ?? []).filter((row) => !known.has(row.id)).map((row) => hydrated.get(row.id)!);
      if (extra.length) messages = [...messages, ...extra];
    }
    out.set(r, { ...page, messages: await withLiveText(ctx.streams, messages) });
  }
  return out;
}

/**
 * Full sync pages: everything changed after each request's cursors, all in one REPEATABLE READ
 * snapshot and the same few statements however many requests the batch holds.
 */
async function changesSince(ctx: Context, requests: SyncRequest[]): Promise<Map<SyncRequest, SyncResult>> {
  return ctx.db.transaction(async (tx) => {
    // One snapshot (`snapshot: true` below) for the membership, the sequence numbers and the
    // messages: otherwise a change committing between two statements could be returned without
    // being covered by the cursor (harmless) or covered by a lastSeq read before it was visible
    // (a lost change).
    const members = groupBy(await findMemberConversations(tx, [...new Set(requests.map((r) => r.userId))]), (r) => r.user_id);
    const plans = requests.map((r) => {
      const cursors = r.input.cursors;
      const member = members.get(r.userId) ?? [];
      const memberIds = new Set(member.map((c) => c.id));
      // Changed: not known to the client, or with changes after its cursor.
      const changed = member.filter((c) => !Object.hasOwn(cursors, c.id) || c.last_seq > cursors[c.id]!);
      return {
        request: r,
        limit: Math.min(Math.max(r.input.limit ?? SYNC_DEFAULT_LIMIT, 1), SYNC_MAX_LIMIT),
        removedConversationIds: Object.keys(cursors).filter((id) => !memberIds.has(id)),
        changed,
        candidates: changed.slice(0, SYNC_MAX_CONVERSATIONS),
      };
    });

    // Every request's messages in one statement (findChangesSince): per request, its candidate
    // conversations in its order, then by updatedSeq, which is where a page may be cut; limit + 1
    // rows per request tell whether it was.
    const req: number[] = [];
    const ids: string[] = [];
    const from: number[] = [];
    for (const [i, p] of plans.entries()) {
      for (const c of p.candidates) {
        req.push(i);
        ids.push(c.id);
        from.push(Math.min(p.request.input.cursors[c.id] ?? 0, 2 ** 31 - 1));
      }
    }
    const rows = ids.length ? await findChangesSince(tx, plans.map((p) => p.limit + 1), { req, ids, cursors: from }) : [];
    const rowsOf = groupBy(rows, (r) => r.req);
    const hydrated = await hydrateOnce(ctx, tx, rows);

    const pages = plans.map((p, i) => {
      const mine = rowsOf.get(i) ?? [];
      const truncated = mine.length > p.limit;
      const page = mine.slice(0, p.limit);
      const nextCursors: Record<string, number> = {};
      let included = p.candidates;
      if (truncated) {
        const cut = page[page.length - 1]!;
        const cutIndex = p.candidates.findIndex((c) => c.id === cut.conversation_id);
        const cutIsPartial = mine[p.limit]!.conversation_id === cut.conversation_id;
        // Conversations before the cut are complete; the cut one may be partial; later ones wait.
        included = p.candidates.slice(0, cutIndex + 1);
        for (const c of included) nextCursors[c.id] = c.last_seq;
        if (cutIsPartial) nextCursors[cut.conversation_id] = Number(cut.updated_seq);
      } else {
        for (const c of p.candidates) nextCursors[c.id] = c.last_seq;
      }
      // Presented in the contract's order: by conversation, then by seq.
      const ordered = [...page].sort((a, b) => Number(a.ord) - Number(b.ord) || a.seq - b.seq);
      return { plan: p, included, truncated, nextCursors, messages: ordered.map((row) => hydrated.get(row.id)!) };
    });

    // Inside the transaction: the same snapshot, and on the embedded driver a query outside the
    // open transaction would wait for it.
    const views = await getConversationViews(
      ctx,
      pages.flatMap((pg) => pg.included.map((c) => ({ conversationId: c.id, userId: pg.plan.request.userId }))),
      tx,
    );
    const out = new Map<SyncRequest, SyncResult>();
    for (const pg of pages) {
      const userId = pg.plan.request.userId;
      out.set(pg.plan.request, {
        conversations: pg.included.flatMap((c) => views.get(conversationViewKey(c.id, userId)) ?? []),
        messages: pg.messages,
        removedConversationIds: pg.plan.removedConversationIds,
        hasMore: pg.truncated || pg.plan.changed.length > pg.plan.candidates.length,
        cursors: pg.nextCursors,
      });
    }
    return out;
  }, { snapshot: true });
}

/** Hydrates each stored message once, however many requests of the batch return it. */
async function hydrateOnce(ctx: Context, db: Queryable, rows: MessageRow[]): Promise<Map<string, Message>> {
  const unique = [...new Map(rows.map((r) => [r.id, r])).values()];
  // Extra columns (req, ord, viewer) need no stripping: toMessage reads the message's own fields.
  const messages = await hydrateMessages(ctx, db, unique);
  return new Map(messages.map((m) => [m.id, m]));
}

function groupBy<T, K>(items: T[], key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
