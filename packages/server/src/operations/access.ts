import { ConfabError, type Role } from '@confab/protocol';
import type { Queryable } from '../storage/db.ts';

export interface MembershipRow {
  conversation_id: string;
  user_id: string;
  role: Role;
  type: 'direct' | 'group' | 'assistant';
}

const NOT_FOUND = 'no such conversation';

/**
 * The caller's membership in a conversation, or NOT_FOUND: a non-member cannot tell a
 * conversation they may not see from one that does not exist.
 */
export async function requireMember(db: Queryable, conversationId: string, userId: string, opts: { lock?: boolean } = {}): Promise<MembershipRow> {
  const [row] = await db.query<MembershipRow>(
    `SELECT m.conversation_id, m.user_id, m.role, c.type
       FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
      WHERE m.conversation_id = $1 AND m.user_id = $2${opts.lock ? ' FOR UPDATE OF c' : ''}`,
    [conversationId, userId],
    { prepare: true },
  );
  if (!row) throw new ConfabError('NOT_FOUND', NOT_FOUND);
  return row;
}

const RANK: Record<Role, number> = { owner: 3, admin: 2, moderator: 1, member: 0 };
export const roleRank = (role: Role) => RANK[role];
export const isAdmin = (role: Role) => RANK[role] >= RANK.admin;
export const isModerator = (role: Role) => RANK[role] >= RANK.moderator;

export function requireRole(member: MembershipRow, atLeast: Role, action: string): void {
  if (RANK[member.role] < RANK[atLeast]) throw new ConfabError('FORBIDDEN', `only ${atLeast}s and above can ${action}`);
}
