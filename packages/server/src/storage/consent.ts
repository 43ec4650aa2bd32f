// Blocks and privacy settings (API.md, "Consent and privacy"). The rules are in operations/consent.ts.
import type { Queryable } from './db.ts';

export interface BlockRow {
  id: string;
  handle: string;
  display_name: string;
  created_at: Date;
}

/** Records the block; true if it is new (a repeat changes nothing). */
export async function insertBlock(db: Queryable, blockerId: string, blockedId: string): Promise<boolean> {
  const rows = await db.query('INSERT INTO user_blocks (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING blocker_id', [blockerId, blockedId]);
  return rows.length > 0;
}

export async function deleteBlock(db: Queryable, blockerId: string, blockedId: string): Promise<void> {
  await db.query('DELETE FROM user_blocks WHERE blocker_id = $1 AND blocked_id = $2', [blockerId, blockedId]);
}

/** The users this one blocked, newest block first. */
export function listBlocks(db: Queryable, blockerId: string): Promise<BlockRow[]> {
  return db.query<BlockRow>(
    `SELECT u.id, u.handle, u.display_name, b.created_at FROM user_blocks b JOIN users u ON u.id = b.blocked_id
      WHERE b.blocker_id = $1 ORDER BY b.created_at DESC, u.id`,
    [blockerId],
  );
}

/** Which of `candidateIds` blocked `blockedId`. */
export async function findBlockersAmong(db: Queryable, blockedId: string, candidateIds: string[]): Promise<string[]> {
  if (candidateIds.length === 0) return [];
  const rows = await db.query<{ blocker_id: string }>('SELECT blocker_id FROM user_blocks WHERE blocked_id = $1 AND blocker_id = ANY($2::text[])', [blockedId, candidateIds]);
  return rows.map((r) => r.blocker_id);
}

/** Whether `blockerId` blocked `blockedId`. */
export async function isBlockedBy(db: Queryable, blockerId: string, blockedId: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM user_blocks WHERE blocker_id = $1 AND blocked_id = $2', [blockerId, blockedId]);
  return rows.length > 0;
}

/**
 * What starting a direct conversation from `userId` with `peerId` depends on: whether the peer
 * blocked the caller, the peer's `direct_messages_from`, and whether the two share a conversation.
 * Undefined if there is no such peer. One statement.
 */
export async function findDirectConsent(db: Queryable, userId: string, peerId: string): Promise<{ blocked: boolean; direct_messages_from: 'everyone' | 'shared'; shared: boolean } | undefined> {
  const [row] = await db.query<{ blocked: boolean; direct_messages_from: 'everyone' | 'shared'; shared: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM user_blocks WHERE blocker_id = u.id AND blocked_id = $1) AS blocked,
            u.direct_messages_from,
            EXISTS (SELECT 1 FROM conversation_members a JOIN conversation_members b ON b.conversation_id = a.conversation_id
                     WHERE a.user_id = u.id AND b.user_id = $1) AS shared
       FROM users u WHERE u.id = $2`,
    [userId, peerId],
  );
  return row;
}

/** A conversation's type and direct key (both never change); undefined if there is no such conversation. */
export async function findConversationKind(db: Queryable, conversationId: string): Promise<{ type: string; direct_key: string | null } | undefined> {
  const [row] = await db.query<{ type: string; direct_key: string | null }>('SELECT type, direct_key FROM conversations WHERE id = $1', [conversationId], { prepare: true });
  return row;
}

export interface PrivacyRow {
  discoverable: boolean;
  show_last_seen: boolean;
  direct_messages_from: 'everyone' | 'shared';
}

export async function findPrivacy(db: Queryable, userId: string): Promise<PrivacyRow | undefined> {
  const [row] = await db.query<PrivacyRow>('SELECT discoverable, show_last_seen, direct_messages_from FROM users WHERE id = $1', [userId]);
  return row;
}

export async function updatePrivacy(db: Queryable, userId: string, p: PrivacyRow): Promise<PrivacyRow | undefined> {
  const [row] = await db.query<PrivacyRow>(
    `UPDATE users SET discoverable = $2, show_last_seen = $3, direct_messages_from = $4 WHERE id = $1
      RETURNING discoverable, show_last_seen, direct_messages_from`,
    [userId, p.discoverable, p.show_last_seen, p.direct_messages_from],
  );
  return row;
}

/** Which of these users hide their presence and last-seen time. */
export async function findHiddenUsers(db: Queryable, userIds: string[]): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await db.query<{ id: string }>('SELECT id FROM users WHERE id = ANY($1::text[]) AND NOT show_last_seen', [userIds]);
  return new Set(rows.map((r) => r.id));
}
