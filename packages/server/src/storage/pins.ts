// Queries on pinned messages (the pinned_at / pinned_by columns of messages, migration 9).
// operations/pins.ts keeps the rules (who may pin, the cap, events).
import type { Queryable } from './db.ts';
import { MESSAGE_COLUMNS } from './messages.ts';
import type { MessageRow } from './rows.ts';

/** A conversation's pinned messages, the most recently pinned first. */
export function findPinnedMessages(db: Queryable, conversationId: string, limit: number): Promise<MessageRow[]> {
  return db.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m
      WHERE m.conversation_id = $1 AND m.pinned_at IS NOT NULL
      ORDER BY m.pinned_at DESC, m.seq DESC LIMIT $2`,
    [conversationId, limit],
  );
}

/** How many messages of the conversation are pinned. */
export async function countPinned(tx: Queryable, conversationId: string): Promise<number> {
  const [row] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1 AND pinned_at IS NOT NULL', [conversationId]);
  return row?.n ?? 0;
}

/** Pins the message (by `userId`) or, with null, unpins it; the change took the seq `seq`. */
export async function setPin(tx: Queryable, messageId: string, userId: string | null, seq: number): Promise<void> {
  await tx.query(
    `UPDATE messages SET pinned_at = CASE WHEN $2::text IS NULL THEN NULL ELSE now() END, pinned_by = $2::text, updated_seq = $3 WHERE id = $1`,
    [messageId, userId, seq],
  );
}
