import { ConfabError } from '@confab/protocol';
import type { Context } from '../context.ts';
import { Batcher, getOrCreate, RECONNECT_GATHER_MS } from '../storage/batcher.ts';
import { conversationsOfUsers, otherMembersOfMembers } from '../storage/members.ts';
import { findHiddenUsers } from '../storage/consent.ts';
import { stampLastSeen } from '../storage/users.ts';

/**
 * What presence (realtime/presence.ts and the `subscribe` handler) reads and writes in the
 * database: when a user was last seen, and who shares a conversation with them. Realtime decides
 * when to announce and to which sockets; the SQL is in storage/.
 */

/**
 * Records that the user was seen now (they went offline): returns that moment and the
 * conversations whose members are to be told; undefined if the user no longer exists.
 */
export function markLastSeen(ctx: Context, userId: string): Promise<LastSeen | undefined> {
  return lastSeenBatcher(ctx).load(userId);
}

/** `hidden`: the user hides their presence (privacy's showLastSeen false): their going offline is not announced. */
export type LastSeen = { lastSeenAt: Date; conversationIds: string[]; hidden: boolean };

const lastSeenBatchers = new WeakMap<Context, Batcher<string, LastSeen | undefined>>();

/**
 * Batched: when a server stops, or clients drop together (a network blip), thousands of users go
 * offline within moments, and one statement stamps a whole batch of them. One batch at a time: this
 * is no one's wait (the announcement follows it), and the writes then never contend with each other.
 */
const lastSeenBatcher = (ctx: Context) =>
  getOrCreate(lastSeenBatchers, ctx, () => new Batcher((userIds: string[]) => stampBatch(ctx, userIds), { maxConcurrent: 1, maxBatch: 500, spareAfterMs: 25, gatherMs: RECONNECT_GATHER_MS }));

async function stampBatch(ctx: Context, userIds: string[]): Promise<Array<LastSeen | undefined>> {
  const rows = await stampLastSeen(ctx.db, [...new Set(userIds)]);
  const byId = new Map(rows.map((r) => [r.id, { lastSeenAt: new Date(r.last_seen_at), conversationIds: r.conversation_ids, hidden: !r.show_last_seen }]));
  return userIds.map((id) => byId.get(id));
}

/**
 * Whether the user hides their presence (privacy: `showLastSeen` false): others never see them
 * online. For users a heartbeat brought back (rare); a socket's handshake and the last-seen stamp
 * read the flag in their own statements. Batched like the stamps.
 */
export function hidesPresence(ctx: Context, userId: string): Promise<boolean> {
  return getOrCreate(hiddenBatchers, ctx, () => new Batcher((userIds: string[]) => loadHidden(ctx, userIds), { maxConcurrent: 1, maxBatch: 500, spareAfterMs: 25, gatherMs: RECONNECT_GATHER_MS })).load(userId);
}

const hiddenBatchers = new WeakMap<Context, Batcher<string, boolean>>();

async function loadHidden(ctx: Context, userIds: string[]): Promise<boolean[]> {
  const hidden = await findHiddenUsers(ctx.db, [...new Set(userIds)]);
  return userIds.map((id) => hidden.has(id));
}

/** How last-seen stamps were batched on this server (tests, diagnostics). */
export const lastSeenBatchStats = (ctx: Context) => lastSeenBatcher(ctx).stats;

/** The conversations of each of these users; users in none are left out. */
export async function conversationsByUser(ctx: Context, userIds: string[]): Promise<Map<string, string[]>> {
  const byUser = new Map<string, string[]>();
  for (const r of await conversationsOfUsers(ctx.db, userIds)) byUser.set(r.user_id, [...(byUser.get(r.user_id) ?? []), r.conversation_id]);
  return byUser;
}

/** `hidden`: the member hides their presence and last-seen time (privacy); lastSeenAt is null then. */
export type MemberLastSeen = { id: string; lastSeenAt: Date | null; hidden: boolean };

/**
 * The other members of a conversation with when each was last seen, for a member only (NOT_FOUND
 * otherwise, as requireMember). Checked against the database, not a socket's rooms: this answer
 * reveals the member list. The array may be shared with other callers: read it, do not change it.
 */
export async function otherMembersOf(ctx: Context, userId: string, conversationId: string): Promise<readonly MemberLastSeen[]> {
  const members = await memberListBatcher(ctx).load({ conversationId, userId });
  if (!members) throw new ConfabError('NOT_FOUND', 'no such conversation');
  return members;
}

interface MemberListRequest {
  conversationId: string;
  userId: string;
}

/** How subscribes' member lists were batched on this server (tests, diagnostics). */
export const memberListBatchStats = (ctx: Context) => memberListBatcher(ctx).stats;

const memberListBatchers = new WeakMap<Context, Batcher<MemberListRequest, MemberLastSeen[] | undefined>>();

/**
 * Batched (storage/batcher.ts): every client subscribes to the conversation on screen on every
 * connect, so after a restart thousands arrive within seconds, many of them the same user's tabs
 * asking the same. One statement checks the membership and reads the member list of a whole batch.
 */
const memberListBatcher = (ctx: Context) =>
  getOrCreate(memberListBatchers, ctx, () => new Batcher((batch: MemberListRequest[]) => loadMemberLists(ctx, batch), { maxConcurrent: ctx.db.kind === 'embedded' ? 1 : 2, maxBatch: 500, spareAfterMs: 25, gatherMs: RECONNECT_GATHER_MS }));

async function loadMemberLists(ctx: Context, batch: MemberListRequest[]): Promise<Array<MemberLastSeen[] | undefined>> {
  const key = (r: MemberListRequest) => `${r.conversationId} ${r.userId}`;
  const distinct = [...new Map(batch.map((r) => [key(r), r])).values()];
  const rows = await otherMembersOfMembers(
    ctx.db,
    distinct.map((r) => r.conversationId),
    distinct.map((r) => r.userId),
  );
  // A row for each member found; a member with no one else has one row without an id.
  const lists = new Map<string, MemberLastSeen[]>();
  for (const row of rows) {
    const k = key(distinct[row.req - 1]!);
    let list = lists.get(k);
    if (!list) lists.set(k, (list = []));
    if (row.id !== null) list.push({ id: row.id, lastSeenAt: row.last_seen_at, hidden: row.hidden === true });
  }
  return batch.map((r) => lists.get(key(r)));
}
