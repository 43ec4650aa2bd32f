// Queries on conversation_members (issue #17, item 2: the query layer), and the one ranking of
// roles, used by the access rules (operations/access.ts) and, as SQL, to order member lists. The
// membership queries of operations/conversations.ts moved here as they were.
import type { Role } from '@confab/protocol';
import type { Queryable } from './db.ts';
import { MENTIONS_MEMBER } from './mentions.ts';
import type { MemberProfileRow, MembershipRow, MemberStateRow } from './rows.ts';

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

/**
 * For many (conversation, user) pairs at once, the pair's index in the arrays (from 1) with the
 * conversation's other members and when each was last seen, only where the user is a member: a
 * member alone gets one row whose `id` is null, a pair whose user is no member gets no row. The
 * membership check and the member list in one statement, for a whole batch of `subscribe`s.
 */
export function otherMembersOfMembers(
  db: Queryable,
  conversationIds: string[],
  userIds: string[],
): Promise<Array<{ req: number; id: string | null; last_seen_at: Date | null; hidden: boolean | null }>> {
  return db.query<{ req: number; id: string | null; last_seen_at: Date | null; hidden: boolean | null }>(
    `SELECT q.req::int AS req, u.id, CASE WHEN u.show_last_seen THEN u.last_seen_at END AS last_seen_at, NOT u.show_last_seen AS hidden
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(conversation_id, user_id, req)
       JOIN conversation_members me ON me.conversation_id = q.conversation_id AND me.user_id = q.user_id
       LEFT JOIN (conversation_members o JOIN users u ON u.id = o.user_id) ON o.conversation_id = q.conversation_id AND o.user_id <> q.user_id`,
    [conversationIds, userIds],
    { prepare: true },
  );
}

/** Owner first, then by rank (the one ranking, as SQL for ORDER BY). */
const RANK_SQL = roleRankSql('cm');

/** The members of these conversations with their users: by joining time, then rank (owner first), then id. */
export function findMemberProfiles(db: Queryable, conversationIds: string[]): Promise<MemberProfileRow[]> {
  return db.query<MemberProfileRow>(
    `SELECT cm.conversation_id, cm.user_id, cm.role, cm.joined_at, cm.last_read_seq, cm.last_delivered_seq,
            u.handle, u.display_name, u.avatar_url, u.is_bot,
            -- Shared by every member alike (operations/conversations.ts): hidden from all when the user hides it.
            CASE WHEN u.show_last_seen THEN u.last_seen_at END AS last_seen_at
       FROM conversation_members cm JOIN users u ON u.id = cm.user_id
      WHERE cm.conversation_id = ANY($1::text[])
      ORDER BY cm.joined_at, ${RANK_SQL} DESC, cm.user_id`,
    [conversationIds],
  );
}

/**
 * Each (conversation, user) pair's own state in the conversation, with the user's unread count
 * (messages of others on the main line after their read watermark, not deleted, not system, not
 * an AI answer still streaming: it counts once finished; thread replies count in the Threads view
 * instead) and how many of those mention them (read from
 * the partial index messages_mentions_idx). Pairs whose user is not a member have no row.
 */
export function findMemberStates(db: Queryable, pairs: { conversationId: string; userId: string }[]): Promise<MemberStateRow[]> {
  return db.query<MemberStateRow>(
    `SELECT cm.conversation_id, cm.user_id, cm.role, cm.pinned, cm.muted, cm.archived, cm.draft_enc, cm.project_id,
            cm.last_read_seq, cm.last_delivered_seq,
            (SELECT count(*)::int FROM messages m
              WHERE m.conversation_id = cm.conversation_id AND m.seq > cm.last_read_seq
                AND m.author_id <> cm.user_id AND m.deleted_at IS NULL AND m.kind <> 'system' AND m.status <> 'streaming'
                AND (m.thread_root_id IS NULL OR m.also_to_channel)) AS unread_count,
            (SELECT count(*)::int FROM messages m
              WHERE m.conversation_id = cm.conversation_id AND m.seq > cm.last_read_seq
                AND (m.mentions <> '{}' OR m.mentions_here OR m.mentions_channel)
                AND ${MENTIONS_MEMBER('m', 'cm.user_id')}) AS unread_mention_count
       FROM unnest($1::text[], $2::text[]) AS p(conversation_id, user_id)
       JOIN conversation_members cm ON cm.conversation_id = p.conversation_id AND cm.user_id = p.user_id`,
    [pairs.map((p) => p.conversationId), pairs.map((p) => p.userId)],
  );
}

/** Adds the users as members with `role`, their watermarks at `watermark`; those already members are left as they are. */
export async function insertMembers(tx: Queryable, conversationId: string, userIds: string[], role: Role, watermark: number): Promise<void> {
  if (userIds.length === 0) return;
  await tx.query(
    `INSERT INTO conversation_members (conversation_id, user_id, role, last_read_seq, last_delivered_seq)
     SELECT $1, u, $2, $3, $3 FROM unnest($4::text[]) AS u
     ON CONFLICT DO NOTHING`,
    [conversationId, role, watermark, userIds],
  );
}

export async function findMemberIds(tx: Queryable, conversationId: string): Promise<string[]> {
  const rows = await tx.query<{ user_id: string }>('SELECT user_id FROM conversation_members WHERE conversation_id = $1', [conversationId]);
  return rows.map((r) => r.user_id);
}

/** The members with their role and whether each is a bot, longest-standing first. */
export function findMembersBySeniority(tx: Queryable, conversationId: string): Promise<{ user_id: string; role: Role; is_bot: boolean }[]> {
  return tx.query<{ user_id: string; role: Role; is_bot: boolean }>(
    `SELECT cm.user_id, cm.role, u.is_bot FROM conversation_members cm JOIN users u ON u.id = cm.user_id
      WHERE cm.conversation_id = $1 ORDER BY cm.joined_at, cm.user_id`,
    [conversationId],
  );
}

/** The member's role; undefined if the user is not a member. */
export async function findMemberRole(tx: Queryable, conversationId: string, userId: string): Promise<Role | undefined> {
  const [target] = await tx.query<{ role: Role }>('SELECT role FROM conversation_members WHERE conversation_id = $1 AND user_id = $2', [conversationId, userId]);
  return target?.role;
}

/** The member's role and whether the member is a bot; undefined if the user is not a member. */
export async function findMemberRoleAndKind(tx: Queryable, conversationId: string, userId: string): Promise<{ role: Role; is_bot: boolean } | undefined> {
  const [target] = await tx.query<{ role: Role; is_bot: boolean }>(
    `SELECT cm.role, u.is_bot FROM conversation_members cm JOIN users u ON u.id = cm.user_id
      WHERE cm.conversation_id = $1 AND cm.user_id = $2`,
    [conversationId, userId],
  );
  return target;
}

export async function setMemberRole(tx: Queryable, conversationId: string, userId: string, role: Role): Promise<void> {
  await tx.query('UPDATE conversation_members SET role = $3 WHERE conversation_id = $1 AND user_id = $2', [conversationId, userId, role]);
}

export async function deleteMember(tx: Queryable, conversationId: string, userId: string): Promise<void> {
  await tx.query('DELETE FROM conversation_members WHERE conversation_id = $1 AND user_id = $2', [conversationId, userId]);
}

/** A member's own settings of a conversation; an absent field stays as it is. */
export interface MemberStateChanges {
  pinned?: boolean;
  muted?: boolean;
  archived?: boolean;
  draft_enc?: string | null;
  project_id?: string | null;
}

/** Sets the given fields of the member's own state (nothing when none is given). */
export async function updateMemberState(tx: Queryable, conversationId: string, userId: string, changes: MemberStateChanges): Promise<void> {
  const set: string[] = [];
  const params: unknown[] = [conversationId, userId];
  for (const column of ['pinned', 'muted', 'archived', 'draft_enc', 'project_id'] as const) {
    if (changes[column] !== undefined) set.push(`${column} = $${params.push(changes[column])}`);
  }
  if (set.length === 0) return;
  await tx.query(`UPDATE conversation_members SET ${set.join(', ')} WHERE conversation_id = $1 AND user_id = $2`, params);
}
