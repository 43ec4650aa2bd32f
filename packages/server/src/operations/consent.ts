import { LRUCache } from 'lru-cache';
import { ConfabError, type BlockList, type Privacy } from '@confab/protocol';
import type { Context } from '../context.ts';
import type { Queryable } from '../storage/db.ts';
import {
  deleteBlock,
  findBlockersAmong,
  findConversationKind,
  findDirectConsent,
  findPrivacy,
  insertBlock,
  isBlockedBy,
  listBlocks as listBlockRows,
  updatePrivacy,
  type PrivacyRow,
} from '../storage/consent.ts';
import { findUser } from '../storage/users.ts';
import { iso } from './users.ts';

// Blocks and privacy settings (API.md, "Consent and privacy"): who may reach whom. The checks other
// operations call (starting a direct conversation, adding members, sending) are here too.

// ---- blocks ----

/** Blocks `targetId` for the caller; idempotent. Returns whether the block is new. */
export async function blockUser(ctx: Context, userId: string, targetId: string): Promise<boolean> {
  if (targetId === userId) throw new ConfabError('VALIDATION_ERROR', 'you cannot block yourself');
  if (!(await findUser(ctx.db, targetId))) throw new ConfabError('NOT_FOUND', 'no such user');
  const added = await insertBlock(ctx.db, userId, targetId);
  blockCache(ctx).delete(blockKey(userId, targetId));
  return added;
}

/** Lifts the caller's block of `targetId`; idempotent. */
export async function unblockUser(ctx: Context, userId: string, targetId: string): Promise<void> {
  await deleteBlock(ctx.db, userId, targetId);
  blockCache(ctx).delete(blockKey(userId, targetId));
}

export async function listBlocks(ctx: Context, userId: string): Promise<BlockList> {
  const rows = await listBlockRows(ctx.db, userId);
  return { blocks: rows.map((r) => ({ id: r.id, handle: r.handle, displayName: r.display_name, blockedAt: iso(r.created_at)! })) };
}

/**
 * May `userId` start (or reopen) a direct conversation with `peerId`? Not if the peer blocked them,
 * nor if the peer takes direct messages only from people they share a conversation with and the two
 * share none: FORBIDDEN. An unknown peer is left to the caller (NOT_FOUND there).
 */
export async function requireMayStartDirect(tx: Queryable, userId: string, peerId: string): Promise<void> {
  const consent = await findDirectConsent(tx, userId, peerId);
  if (!consent) return;
  if (consent.blocked) throw new ConfabError('FORBIDDEN', 'this person does not take messages from you');
  if (consent.direct_messages_from === 'shared' && !consent.shared) {
    throw new ConfabError('FORBIDDEN', 'this person takes direct messages only from people they share a conversation with');
  }
}

/** A user who blocked the caller cannot be added by them to a group: FORBIDDEN. */
export async function requireNotBlockedByAny(tx: Queryable, userId: string, addedIds: string[]): Promise<void> {
  if ((await findBlockersAmong(tx, userId, addedIds)).length > 0) throw new ConfabError('FORBIDDEN', 'a person you are adding does not take invitations from you');
}

/**
 * Conversation kinds never change, so each process remembers them: for a direct conversation the
 * two people (from its direct key), for any other null. Bounded: the oldest entries go first.
 */
const KIND_CACHE_MAX = 100_000;
const kinds = new WeakMap<Context, Map<string, readonly [string, string] | null>>();

function kindCache(ctx: Context): Map<string, readonly [string, string] | null> {
  let cache = kinds.get(ctx);
  if (!cache) kinds.set(ctx, (cache = new Map()));
  return cache;
}

async function readKind(ctx: Context, cache: Map<string, readonly [string, string] | null>, conversationId: string): Promise<readonly [string, string] | null> {
  const row = await findConversationKind(ctx.db, conversationId);
  if (!row) return null; // no such conversation: the send answers NOT_FOUND (not remembered: nothing to remember)
  const [a, b] = row.type === 'direct' && row.direct_key ? row.direct_key.split(':') : [];
  const pair = a && b ? ([a, b] as const) : null;
  if (cache.size >= KIND_CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(conversationId, pair);
  return pair;
}

/**
 * Whether a blocker blocked someone, as this process last read it: a direct conversation's sends
 * (thousands a second under load) read user_blocks once per pair per BLOCK_CACHE_MS, not once per
 * message. This process forgets a pair at once when it blocks or unblocks; another node follows
 * within BLOCK_CACHE_MS (docs/privacy.md).
 */
const BLOCK_CACHE_MS = 2_000;
const blockCaches = new WeakMap<Context, LRUCache<string, Promise<boolean>>>();
const blockKey = (blockerId: string, blockedId: string) => `${blockerId} ${blockedId}`;

function blockCache(ctx: Context): LRUCache<string, Promise<boolean>> {
  let cache = blockCaches.get(ctx);
  if (!cache) blockCaches.set(ctx, (cache = new LRUCache<string, Promise<boolean>>({ max: 100_000, ttl: BLOCK_CACHE_MS })));
  return cache;
}

async function checkDirect(ctx: Context, userId: string, pair: readonly [string, string]): Promise<void> {
  const peer = pair[0] === userId ? pair[1] : pair[1] === userId ? pair[0] : undefined;
  // An author not in the pair is no member: the send answers NOT_FOUND as before.
  if (peer === undefined) return;
  // The read itself is remembered (not only its answer): sends that arrive while it runs wait for
  // the same read and go on in the order they came, so one sender's messages keep their order.
  const cache = blockCache(ctx);
  const key = blockKey(peer, userId);
  let blocked = cache.get(key);
  if (blocked === undefined) {
    const read = isBlockedBy(ctx.db, peer, userId);
    blocked = read;
    cache.set(key, read);
    read.catch(() => cache.get(key) === read && cache.delete(key));
  }
  if (await blocked) throw new ConfabError('FORBIDDEN', 'this person does not take messages from you');
}

/**
 * A send into a direct conversation whose other person blocked the author: FORBIDDEN (a promise
 * that rejects). Only direct conversations are checked, and cheaply: once this process knows a
 * conversation's kind (one primary-key read the first time it sees it), a group send returns
 * `undefined` at once, without a database read or even a promise to await; a direct send reads
 * user_blocks once per pair every BLOCK_CACHE_MS.
 */
export function checkSend(ctx: Context, userId: string, conversationId: string): Promise<void> | undefined {
  const cache = kindCache(ctx);
  const known = cache.get(conversationId);
  if (known === null) return undefined;
  if (known !== undefined) return checkDirect(ctx, userId, known);
  // One read per conversation however many sends arrive while it runs: they wait for the same read
  // and go on in the order they came (separate reads could finish in another order, and reorder
  // one sender's messages).
  const pending = pendingKinds(ctx);
  let read = pending.get(conversationId);
  if (!read) {
    read = readKind(ctx, cache, conversationId).finally(() => pending.delete(conversationId));
    pending.set(conversationId, read);
  }
  return read.then((pair) => (pair ? checkDirect(ctx, userId, pair) : undefined));
}

const pendingKindReads = new WeakMap<Context, Map<string, Promise<readonly [string, string] | null>>>();

function pendingKinds(ctx: Context): Map<string, Promise<readonly [string, string] | null>> {
  let pending = pendingKindReads.get(ctx);
  if (!pending) pendingKindReads.set(ctx, (pending = new Map()));
  return pending;
}

// ---- privacy ----

const toPrivacy = (r: PrivacyRow): Privacy => ({ discoverable: r.discoverable, showLastSeen: r.show_last_seen, directMessagesFrom: r.direct_messages_from });

export async function getPrivacy(ctx: Context, userId: string): Promise<Privacy> {
  const row = await findPrivacy(ctx.db, userId);
  if (!row) throw new ConfabError('UNAUTHENTICATED', 'this account no longer exists');
  return toPrivacy(row);
}

export async function putPrivacy(ctx: Context, userId: string, body: Privacy): Promise<Privacy> {
  const row = await updatePrivacy(ctx.db, userId, { discoverable: body.discoverable, show_last_seen: body.showLastSeen, direct_messages_from: body.directMessagesFrom });
  if (!row) throw new ConfabError('UNAUTHENTICATED', 'this account no longer exists');
  return toPrivacy(row);
}
