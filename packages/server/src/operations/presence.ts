import type { Context } from '../context.ts';
import { conversationsOfUsers, otherMembersLastSeen } from '../storage/members.ts';
import { stampLastSeen } from '../storage/users.ts';
import { requireMember } from './access.ts';

/**
 * What presence (realtime/presence.ts and the `subscribe` handler) reads and writes in the
 * database: when a user was last seen, and who shares a conversation with them. Realtime decides
 * when to announce and to which sockets; the SQL is in storage/.
 */

/**
 * Records that the user was seen now (they went offline): returns that moment and the
 * conversations whose members are to be told; undefined if the user no longer exists.
 */
export async function markLastSeen(ctx: Context, userId: string): Promise<{ lastSeenAt: Date; conversationIds: string[] } | undefined> {
  const row = await stampLastSeen(ctx.db, userId);
  return row && { lastSeenAt: new Date(row.last_seen_at), conversationIds: row.conversation_ids };
}

/** The conversations of each of these users; users in none are left out. */
export async function conversationsByUser(ctx: Context, userIds: string[]): Promise<Map<string, string[]>> {
  const byUser = new Map<string, string[]>();
  for (const r of await conversationsOfUsers(ctx.db, userIds)) byUser.set(r.user_id, [...(byUser.get(r.user_id) ?? []), r.conversation_id]);
  return byUser;
}

/**
 * The other members of a conversation with when each was last seen, for a member only (NOT_FOUND
 * otherwise). Checked against the database, not a socket's rooms: this answer reveals the member list.
 */
export async function otherMembersOf(ctx: Context, userId: string, conversationId: string): Promise<Array<{ id: string; lastSeenAt: Date | null }>> {
  await requireMember(ctx.db, conversationId, userId);
  const rows = await otherMembersLastSeen(ctx.db, conversationId, userId);
  return rows.map((r) => ({ id: r.id, lastSeenAt: r.last_seen_at }));
}
