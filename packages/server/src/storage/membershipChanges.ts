// Queries on membership_changes, the record every node reads back in case a broadcast of a
// membership change was lost (issue #17, item 2: the query layer). The SQL moved here as it was
// from operations/liveChanges.ts, which keeps what the rows mean.
import type { Queryable } from './db.ts';
import { sessionEndedAfter } from './sessions.ts';

/** Rows older than this are deleted: long past every node's window. */
const KEEP_CHANGES = '1 hour';

/** Records that each user's membership in each conversation changed (now). */
export async function insertMembershipChanges(tx: Queryable, userIds: string[], conversationIds: string[]): Promise<void> {
  await tx.query('INSERT INTO membership_changes (user_id, conversation_id) SELECT * FROM unnest($1::text[], $2::text[])', [userIds, conversationIds]);
}

/** One row of readRecentChanges: which fields are set depends on `kind`. */
export interface RecentChangeRow {
  kind: 'at' | 'm' | 's';
  user_id: string | null;
  id: string | null;
  member: boolean | null;
  at: Date | string | null;
}

/**
 * The database's clock (kind 'at', in `at`), then one row per user and conversation whose
 * membership changed (kind 'm': `id` is the conversation, `member` whether the user is in it now),
 * then one row per session that ended (kind 's': `id` is the session), all after `since` minus
 * `overlapMs` (after now minus `overlapMs` without `since`). One statement, two index range scans.
 */
export async function readRecentChanges(
  db: Queryable,
  since: Date | null,
  overlapMs: number,
): Promise<RecentChangeRow[]> {
  return db.query<RecentChangeRow>(
    `SELECT 'at' AS kind, NULL::text AS user_id, NULL::text AS id, NULL::boolean AS member, now() AS at
     UNION ALL
     SELECT 'm', c.user_id, c.conversation_id, x.member IS NOT NULL, NULL
       FROM (SELECT DISTINCT user_id, conversation_id FROM membership_changes
              WHERE changed_at > coalesce($1::timestamptz, now()) - $2 * interval '1 millisecond') c
       -- A probe of the primary key per change. (As EXISTS, PostgreSQL may hash every membership
       -- of every conversation instead, on each run.)
       LEFT JOIN LATERAL (SELECT true AS member FROM conversation_members m
                           WHERE m.conversation_id = c.conversation_id AND m.user_id = c.user_id LIMIT 1) x ON true
     UNION ALL
     SELECT 's', s.user_id, s.id, NULL, NULL
       FROM sessions s WHERE ${sessionEndedAfter('s', "coalesce($1::timestamptz, now()) - $2 * interval '1 millisecond'")}`,
    [since, overlapMs],
    { prepare: true },
  );
}

/** Deletes changes every node has long read (running it twice, or on two nodes, is harmless). */
export async function pruneMembershipChanges(db: Queryable): Promise<void> {
  await db.query(`DELETE FROM membership_changes WHERE changed_at < now() - interval '${KEEP_CHANGES}'`);
}
