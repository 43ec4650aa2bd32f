// Queries on messages and their conversation's sequence (issue #17, item 2: the query layer).
// The SQL moved here as it was from operations/messages.ts; more of that file's SQL follows.
import type { Queryable } from './db.ts';

/**
 * Takes the conversation's next sequence number; undefined if there is no such conversation. The
 * UPDATE holds the conversation row's lock until the transaction ends, so changes commit in `seq`
 * order: a client resuming from a cursor can never skip a change that commits late with a lower
 * number. `activity` moves the conversation up the list (new messages do; edits and reactions do not).
 */
export async function takeNextSeq(tx: Queryable, conversationId: string, activity: boolean): Promise<number | undefined> {
  const [row] = await tx.query<{ last_seq: number }>(
    `UPDATE conversations SET last_seq = last_seq + 1${activity ? ', last_activity_at = now()' : ''}
      WHERE id = $1 RETURNING last_seq`,
    [conversationId],
  );
  return row?.last_seq;
}

/** Who wrote a message of this conversation; undefined if there is no such message there. */
export async function findMessageAuthor(db: Queryable, messageId: string, conversationId: string): Promise<string | undefined> {
  const [row] = await db.query<{ author_id: string }>('SELECT author_id FROM messages WHERE id = $1 AND conversation_id = $2', [messageId, conversationId]);
  return row?.author_id;
}
