// Queries on conversation_members (issue #17, item 2: the query layer), and the one ranking of
// roles, used by the access rules (operations/access.ts) and, as SQL, to order member lists.
import type { Role } from '@confab/protocol';
import type { Queryable } from './db.ts';
import type { MembershipRow } from './rows.ts';

/** THE ranking of roles: a higher rank may do everything a lower one may. */
export const ROLE_RANK: Readonly<Record<Role, number>> = { owner: 3, admin: 2, moderator: 1, member: 0 };

/** ROLE_RANK as a SQL expression on the role column under `alias`, for ORDER BY. */
export function roleRankSql(alias: string): string {
  const whens = Object.entries(ROLE_RANK)
    .filter(([, rank]) => rank > 0)
    .sort(([, a], [, b]) => b - a)
    .map(([role, rank]) => `WHEN '${role}' THEN ${rank}`)
    .join(' ');
  return `CASE ${alias}.role ${whens} ELSE 0 END`;
}

/** One user's membership in one conversation, with the conversation's type; FOR UPDATE of the conversation if `lock`. */
export async function findMembership(db: Queryable, conversationId: string, userId: string, opts: { lock?: boolean } = {}): Promise<MembershipRow | undefined> {
  const [row] = await db.query<MembershipRow>(
    `SELECT m.conversation_id, m.user_id, m.role, c.type
       FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
      WHERE m.conversation_id = $1 AND m.user_id = $2${opts.lock ? ' FOR UPDATE OF c' : ''}`,
    [conversationId, userId],
    { prepare: true },
  );
  return row;
}

/** Every conversation of each of these users, as (user, conversation) pairs. */
export async function conversationsOfUsers(db: Queryable, userIds: string[]): Promise<Array<{ user_id: string; conversation_id: string }>> {
  return db.query<{ user_id: string; conversation_id: string }>('SELECT user_id, conversation_id FROM conversation_members WHERE user_id = ANY($1::text[])', [
    userIds,
  ]);
}

/** The other members of a conversation (all but `exceptUserId`), with when each was last seen. */
export async function otherMembersLastSeen(db: Queryable, conversationId: string, exceptUserId: string): Promise<Array<{ id: string; last_seen_at: Date | null }>> {
  return db.query<{ id: string; last_seen_at: Date | null }>(
    `SELECT u.id, u.last_seen_at FROM conversation_members m JOIN users u ON u.id = m.user_id
          WHERE m.conversation_id = $1 AND u.id <> $2`,
    [conversationId, exceptUserId],
  );
}
