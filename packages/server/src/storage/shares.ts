// Shared snapshots of conversations (operations/shares.ts; migration 16). A share is found by the
// SHA-256 of its id, the secret of its public URL; the id itself is kept only encrypted.
import type { Queryable } from './db.ts';
import { MAIN_LINE, MESSAGE_COLUMNS } from './messages.ts';
import type { MessageRow } from './rows.ts';

export interface ShareRow {
  id_hash: string;
  id_enc: string;
  conversation_id: string;
  created_by: string | null;
  created_at: Date;
  title_enc: string | null;
  message_count: number;
}

/** Every column but the snapshot itself and the author list. */
const COLUMNS = 'id_hash, id_enc, conversation_id, created_by, created_at, title_enc, message_count';

export async function insertShare(
  db: Queryable,
  share: { idHash: string; idEnc: string; conversationId: string; createdBy: string; titleEnc: string | null; messageCount: number; authorIds: string[]; snapshotEnc: string },
): Promise<ShareRow> {
  const [row] = await db.query<ShareRow>(
    `INSERT INTO conversation_shares (id_hash, id_enc, conversation_id, created_by, title_enc, message_count, author_ids, snapshot_enc)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
    [share.idHash, share.idEnc, share.conversationId, share.createdBy, share.titleEnc, share.messageCount, share.authorIds, share.snapshotEnc],
  );
  return row!;
}

/** The snapshot of a share (encrypted) and when it was taken; undefined for no such share. */
export async function findSnapshot(db: Queryable, idHash: string): Promise<{ snapshot_enc: string; created_at: Date } | undefined> {
  const [row] = await db.query<{ snapshot_enc: string; created_at: Date }>('SELECT snapshot_enc, created_at FROM conversation_shares WHERE id_hash = $1', [idHash]);
  return row;
}

export function listShares(db: Queryable, conversationId: string): Promise<ShareRow[]> {
  return db.query<ShareRow>(`SELECT ${COLUMNS} FROM conversation_shares WHERE conversation_id = $1 ORDER BY created_at DESC, id_hash`, [conversationId]);
}

/** Removes a share of this conversation; false when there was none. */
export async function deleteShare(db: Queryable, conversationId: string, idHash: string): Promise<boolean> {
  const rows = await db.query('DELETE FROM conversation_shares WHERE id_hash = $1 AND conversation_id = $2 RETURNING id_hash', [idHash, conversationId]);
  return rows.length > 0;
}

/** Account deletion: the shares that hold any message of this user go (their pages answer 404). */
export async function deleteSharesWithAuthor(tx: Queryable, userId: string): Promise<number> {
  const rows = await tx.query('DELETE FROM conversation_shares WHERE author_ids @> ARRAY[$1]::text[] RETURNING id_hash', [userId]);
  return rows.length;
}

/** A message of a snapshot with its author's display name and whether the author is a bot. */
export type SnapshotMessageRow = MessageRow & { display_name: string; is_bot: boolean; author_status: string };

/**
 * Up to `limit` messages of a conversation's main line after `afterSeq`, in seq order, for a
 * snapshot: no system lines, tombstones or failed answers; with their authors' names.
 */
export function listSnapshotPage(db: Queryable, conversationId: string, afterSeq: number, limit: number): Promise<SnapshotMessageRow[]> {
  return db.query<SnapshotMessageRow>(
    `SELECT ${MESSAGE_COLUMNS}, u.display_name, u.is_bot, u.status AS author_status
       FROM messages m JOIN users u ON u.id = m.author_id
      WHERE m.conversation_id = $1 AND m.seq > $2 AND ${MAIN_LINE}
        AND m.deleted_at IS NULL AND m.kind <> 'system' AND m.status <> 'error'
      ORDER BY m.seq LIMIT $3`,
    [conversationId, afterSeq, limit],
  );
}
