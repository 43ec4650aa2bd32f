import type { Queryable } from '../storage/db.ts';
import { insertMembershipChanges, pruneMembershipChanges, readRecentChanges } from '../storage/membershipChanges.ts';

/**
 * Changes every node must apply to its live sockets: membership (a socket's rooms) and ended
 * sessions (a socket's life). Each reaches the other nodes at once by a Redis broadcast, but a
 * broadcast is fire-and-forget: one lost in a blip would leave a removed member in the room, or a
 * signed-out device connected, on the node that missed it. So each node also reads the changes of
 * the last few seconds from the database once a second (`recentChanges`) and applies them again:
 * applying is idempotent, and what is applied is the database's current state, not the event.
 */

/**
 * How far back each check reads from the previous one: a change whose transaction was still open
 * when the previous check ran (its timestamp is older than its commit) is still in the window.
 */
export const CHANGE_OVERLAP_MS = 10_000;

/** Written in the change's own transaction (see commit() in conversations.ts). */
export async function recordMembershipChanges(tx: Queryable, changes: Array<{ userId: string; conversationId: string }>): Promise<void> {
  if (changes.length === 0) return;
  await insertMembershipChanges(
    tx,
    changes.map((c) => c.userId),
    changes.map((c) => c.conversationId),
  );
}

export interface RecentChanges {
  /** The database's clock when the changes were read: pass it to the next call. */
  at: Date;
  /** Users whose membership in a conversation changed recently, with what it is now. */
  memberships: Array<{ userId: string; conversationId: string; member: boolean }>;
  /** Sessions revoked recently. */
  endedSessions: Array<{ userId: string; sessionId: string }>;
}

/**
 * The changes since `since` (the `at` of the previous call; the first call reads the last
 * CHANGE_OVERLAP_MS) minus CHANGE_OVERLAP_MS. One statement, two index range scans: its cost
 * depends on how much changed in the window, not on how many sockets the node holds. The
 * database's clock, not the node's: nodes' clocks may differ.
 */
export async function recentChanges(db: Queryable, since: Date | undefined): Promise<RecentChanges> {
  const rows = await readRecentChanges(db, since ?? null, CHANGE_OVERLAP_MS);
  const out: RecentChanges = { at: new Date(), memberships: [], endedSessions: [] };
  for (const r of rows) {
    if (r.kind === 'at') out.at = new Date(r.at!);
    else if (r.kind === 'm') out.memberships.push({ userId: r.user_id!, conversationId: r.id!, member: r.member === true });
    else out.endedSessions.push({ userId: r.user_id!, sessionId: r.id! });
  }
  return out;
}

/** Deletes changes every node has long read (any node may run it; running it twice is harmless). */
export async function pruneChanges(db: Queryable): Promise<void> {
  await pruneMembershipChanges(db);
}
