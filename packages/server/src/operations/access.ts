import { ConfabError, type Role } from '@confab/protocol';
import type { Queryable } from '../storage/db.ts';
import { findMembership, ROLE_RANK as RANK } from '../storage/members.ts';
import type { MembershipRow } from '../storage/rows.ts';

const NOT_FOUND = 'no such conversation';

/**
 * The caller's membership in a conversation, or NOT_FOUND: a non-member cannot tell a
 * conversation they may not see from one that does not exist.
 */
export async function requireMember(db: Queryable, conversationId: string, userId: string, opts: { lock?: boolean } = {}): Promise<MembershipRow> {
  const row = await findMembership(db, conversationId, userId, opts);
  if (!row) throw new ConfabError('NOT_FOUND', NOT_FOUND);
  return row;
}

export const roleRank = (role: Role) => RANK[role];
export const isAdmin = (role: Role) => RANK[role] >= RANK.admin;
export const isModerator = (role: Role) => RANK[role] >= RANK.moderator;

export function requireRole(member: MembershipRow, atLeast: Role, action: string): void {
  if (RANK[member.role] < RANK[atLeast]) throw new ConfabError('FORBIDDEN', `only ${atLeast}s and above can ${action}`);
}
