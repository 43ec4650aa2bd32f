import type { Conversation, Message, SyncResult } from '@confab/protocol';
import pLimit, { type LimitFunction } from 'p-limit';
import { withLiveText } from '../ai/streams.ts';
import type { Context } from '../context.ts';
import type { Database } from '../storage/db.ts';
import { getConversations } from './conversations.ts';
import { hydrateMessages, MESSAGE_COLUMNS, type MessageRow } from './messages.ts';

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
export async function sync(ctx: Context, userId: string, input: SyncInput): Promise<SyncResult> {
  const state = await syncState(ctx, userId);
  if (upToDate(state, input.cursors)) return { conversations: [], messages: [], removedConversationIds: [], hasMore: false, cursors: {} };
  // An answer that starts after this read is the client's to follow live: its socket is in the
  // conversation's room already and buffers live events while it syncs.
  const streaming = state.some((c) => c.streaming);
  return limiterFor(ctx.db)(async () => {
    const result = await changesSince(ctx, userId, input);
    return streaming ? withStreamingAnswers(ctx, userId, result) : result;
  });
}

/** Full syncs running at once per database; the others queue (see limiterFor). */
export const SYNC_CONCURRENCY = 8;
const limiters = new WeakMap<Database, LimitFunction>();
/**
 * A reconnect storm (a restarted node, thousands of clients at once) must not take every pooled
 * connection for syncs of several statements each: handshakes and sends need connections too, and
 * a handshake that waits too long times out and is retried, which is more work, not less.
 */
function limiterFor(db: Database): LimitFunction {
  let limiter = limiters.get(db);
  if (!limiter) limiters.set(db, (limiter = pLimit(SYNC_CONCURRENCY)));
  return limiter;
}

interface ConversationState {
  id: string;
  last_seq: number;
  /** Has an AI answer streaming right now. */
  streaming: boolean;
}

/** The caller's conversations, their last seq and whether an answer is streaming: one statement. */
function syncState(ctx: Context, userId: string): Promise<ConversationState[]> {
  return ctx.db.query<ConversationState>(
    `SELECT c.id, c.last_seq, EXISTS (SELECT 1 FROM messages s WHERE s.conversation_id = c.id AND s.status = 'streaming') AS streaming
       FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
      WHERE m.user_id = $1`,
    [userId],
  );
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
async function withStreamingAnswers(ctx: Context, userId: string, result: SyncResult): Promise<SyncResult> {
  let messages: Message[] = result.messages;
  if (!result.hasMore) {
    const rows = await ctx.db.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m
         JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $1
        WHERE m.status = 'streaming'`,
      [userId],
    );
    const known = new Set(messages.map((m) => m.id));
    const extra = await hydrateMessages(ctx, ctx.db, rows.filter((r) => !known.has(r.id)));
    if (extra.length) messages = [...messages, ...extra];
  }
  return { ...result, messages: await withLiveText(ctx.streams, messages) };
}

/** A full sync page: everything changed after the cursors, in one REPEATABLE READ snapshot. */
async function changesSince(ctx: Context, userId: string, input: SyncInput): Promise<SyncResult> {
  const limit = Math.min(Math.max(input.limit ?? SYNC_DEFAULT_LIMIT, 1), SYNC_MAX_LIMIT);
  const cursors = input.cursors;
  return ctx.db.transaction(async (tx) => {
    // One snapshot (`snapshot: true` below) for the membership, the sequence numbers and the
    // messages: otherwise a change committing between two statements could be returned without
    // being covered by the cursor (harmless) or covered by a lastSeq read before it was visible
    // (a lost change).
    const member = await tx.query<{ id: string; last_seq: number }>(
      `SELECT c.id, c.last_seq FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
        WHERE m.user_id = $1 ORDER BY c.id`,
      [userId],
    );
    const memberIds = new Set(member.map((c) => c.id));
    const removedConversationIds = Object.keys(cursors).filter((id) => !memberIds.has(id));
    // Changed: not known to the client, or with changes after its cursor.
    const changed = member.filter((c) => !Object.hasOwn(cursors, c.id) || c.last_seq > cursors[c.id]!);
    const candidates = changed.slice(0, SYNC_MAX_CONVERSATIONS);

    const rows = candidates.length
      ? await tx.query<MessageRow & { ord: number }>(
          // Ordered by the position in `candidates` (not by id: JavaScript and the database could
          // collate ids differently), then by updatedSeq, which is where a page may be cut.
          `SELECT ${MESSAGE_COLUMNS}, c.ord
             FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS c(id, cursor, ord)
             JOIN messages m ON m.conversation_id = c.id AND m.updated_seq > c.cursor
            ORDER BY c.ord, m.updated_seq
            LIMIT $3`,
          [candidates.map((c) => c.id), candidates.map((c) => Math.min(cursors[c.id] ?? 0, 2 ** 31 - 1)), limit + 1],
        )
      : [];

    const truncated = rows.length > limit;
    const page = rows.slice(0, limit);
    const nextCursors: Record<string, number> = {};
    let included = candidates;
    if (truncated) {
      const cut = page[page.length - 1]!;
      const cutIndex = candidates.findIndex((c) => c.id === cut.conversation_id);
      const cutIsPartial = rows[limit]!.conversation_id === cut.conversation_id;
      // Conversations before the cut are complete; the cut one may be partial; later ones wait.
      included = candidates.slice(0, cutIndex + 1);
      for (const c of included) nextCursors[c.id] = c.last_seq;
      if (cutIsPartial) nextCursors[cut.conversation_id] = Number(cut.updated_seq);
    } else {
      for (const c of candidates) nextCursors[c.id] = c.last_seq;
    }

    // Presented in the contract's order: by conversation, then by seq.
    const ordered = [...page].sort((a, b) => Number(a.ord) - Number(b.ord) || a.seq - b.seq);
    const messages: Message[] = await hydrateMessages(
      ctx,
      tx,
      ordered.map(({ ord: _ord, ...row }) => row),
    );
    // Inside the transaction: the same snapshot, and on the embedded driver a query outside the
    // open transaction would wait for it.
    const conversations: Conversation[] = await getConversations(
      ctx,
      userId,
      included.map((c) => c.id),
      tx,
    );
    return {
      conversations,
      messages,
      removedConversationIds,
      hasMore: truncated || changed.length > candidates.length,
      cursors: nextCursors,
    };
  }, { snapshot: true });
}
