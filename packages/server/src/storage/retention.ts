import type { Queryable } from './db.ts';

// Retention's SQL (operations/retention.ts holds the rules): each conversation's own setting, and
// deleting the messages older than their conversation's retention, oldest first, a batch at a time.

export async function setConversationRetention(db: Queryable, conversationId: string, days: number | null): Promise<boolean> {
  const rows = await db.query('UPDATE conversations SET retention_days = $2 WHERE id = $1 RETURNING id', [conversationId, days]);
  return rows.length > 0;
}

export async function findConversationRetention(db: Queryable, conversationId: string): Promise<{ retention_days: number | null } | undefined> {
  return (await db.query<{ retention_days: number | null }>('SELECT retention_days FROM conversations WHERE id = $1', [conversationId]))[0];
}

/**
 * Deletes up to `limit` of the oldest messages past their conversation's retention (its own days,
 * else `instanceDays`; neither: kept). Their reactions, versions, mentions, pins and attachments go
 * with them (ON DELETE CASCADE; the attachments' trigger queues their files' deletion). Returns how
 * many went, per conversation.
 */
export async function deleteExpiredMessages(db: Queryable, instanceDays: number | null, limit: number): Promise<{ conversation_id: string; deleted: number }[]> {
  return db.query<{ conversation_id: string; deleted: number }>(
    `WITH expired AS (
       SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id
       WHERE coalesce(c.retention_days, $1::int) IS NOT NULL
         AND m.created_at < now() - make_interval(days => coalesce(c.retention_days, $1::int))
       ORDER BY m.created_at LIMIT $2
       FOR UPDATE OF m SKIP LOCKED
     ), gone AS (
       DELETE FROM messages d USING expired WHERE d.id = expired.id RETURNING d.conversation_id
     )
     SELECT conversation_id, count(*)::int AS deleted FROM gone GROUP BY conversation_id ORDER BY conversation_id`,
    [instanceDays, limit],
  );
}

/**
 * Whether a retention sweep is waiting to start (then another is not needed: it will read the
 * settings when it starts). One that is running may have read older settings: it does not count.
 */
export async function retentionSweepWaiting(db: Queryable, kind: string): Promise<boolean> {
  return (await db.query(`SELECT 1 FROM jobs WHERE kind = $1 AND status = 'pending' LIMIT 1`, [kind])).length > 0;
}
