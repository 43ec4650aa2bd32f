// Queries on read and delivery receipts (issue #17, item 2: the query layer): a receipt is a
// watermark per member per conversation (conversation_members.last_read_seq / last_delivered_seq),
// not a row per message. The SQL moved as it was from operations/messages.ts (markStatus).
import type { Queryable } from './db.ts';

/** A message's conversation and seq (and thread, if it is a reply in one), if `userId` is a member of that conversation. */
export async function findMessageSeqForMember(
  db: Queryable,
  messageId: string,
  userId: string,
): Promise<{ conversation_id: string; seq: number; thread_root_id: string | null; also_to_channel: boolean } | undefined> {
  const [row] = await db.query<{ conversation_id: string; seq: number; thread_root_id: string | null; also_to_channel: boolean }>(
    `SELECT m.conversation_id, m.seq, m.thread_root_id, m.also_to_channel FROM messages m
       JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2
      WHERE m.id = $1`,
    [messageId, userId],
    { prepare: true },
  );
  return row;
}

/**
 * Moves the member's read watermark (and the delivered one with it) or delivered watermark up to
 * `seq`; only forward. Returns whether it moved.
 */
export async function moveWatermark(db: Queryable, conversationId: string, userId: string, status: 'delivered' | 'read', seq: number): Promise<boolean> {
  const moved = await db.query<{ last_read_seq: number; last_delivered_seq: number }>(
    status === 'read'
      ? `UPDATE conversation_members SET last_read_seq = $3, last_delivered_seq = GREATEST(last_delivered_seq, $3)
          WHERE conversation_id = $1 AND user_id = $2 AND last_read_seq < $3 RETURNING last_read_seq, last_delivered_seq`
      : `UPDATE conversation_members SET last_delivered_seq = $3
          WHERE conversation_id = $1 AND user_id = $2 AND last_delivered_seq < $3 RETURNING last_read_seq, last_delivered_seq`,
    [conversationId, userId, seq],
    { prepare: true },
  );
  return moved.length > 0;
}
