// Queries on channels: public groups, the directory that lists them, and a group's visibility and
// topic. operations/channels.ts keeps the rules (who may see, join, change what).
import type { Queryable } from './db.ts';
import type { ChannelRow } from './rows.ts';

const CHANNEL_COLUMNS = `c.id, c.title, lower(c.title) AS sort_title, c.topic, c.created_at, c.last_activity_at,
  (SELECT count(*)::int FROM conversation_members n WHERE n.conversation_id = c.id) AS member_count,
  EXISTS (SELECT 1 FROM conversation_members me WHERE me.conversation_id = c.id AND me.user_id = $1) AS is_member`;

/** Where a page of the directory starts: after this (lower(title), id). */
export interface ChannelCursor {
  title: string;
  id: string;
}

/**
 * One page of public channels by lower(title), then id (a total order: keyset pagination neither
 * skips nor repeats), `limit` rows at most. `pattern` (a LIKE pattern) keeps those whose title or
 * topic matches. `viewerId` decides `is_member`.
 */
export function listPublicChannels(
  db: Queryable,
  viewerId: string,
  q: { pattern: string | undefined; after: ChannelCursor | undefined; limit: number },
): Promise<ChannelRow[]> {
  const params: unknown[] = [viewerId];
  const param = (v: unknown) => `$${params.push(v)}`;
  const where = [`c.visibility = 'public'`];
  if (q.pattern !== undefined) {
    const p = param(q.pattern);
    where.push(`(c.title ILIKE ${p} OR c.topic ILIKE ${p})`);
  }
  if (q.after !== undefined) where.push(`(lower(c.title), c.id) > (${param(q.after.title)}::text, ${param(q.after.id)}::text)`);
  return db.query<ChannelRow>(
    `SELECT ${CHANNEL_COLUMNS} FROM conversations c
      WHERE ${where.join(' AND ')}
      ORDER BY lower(c.title), c.id
      LIMIT ${param(q.limit)}`,
    params,
  );
}

/** One public channel as the directory shows it to `viewerId`; undefined when there is no such public channel. */
export async function findPublicChannel(db: Queryable, viewerId: string, id: string): Promise<ChannelRow | undefined> {
  const [row] = await db.query<ChannelRow>(`SELECT ${CHANNEL_COLUMNS} FROM conversations c WHERE c.id = $2 AND c.visibility = 'public'`, [viewerId, id]);
  return row;
}

/** Locks a public channel's row (FOR UPDATE) until the transaction ends; false when there is no such public channel. */
export async function lockPublicChannel(tx: Queryable, id: string): Promise<boolean> {
  const rows = await tx.query(`SELECT 1 FROM conversations WHERE id = $1 AND visibility = 'public' AND type = 'group' FOR UPDATE`, [id]);
  return rows.length > 0;
}

/** A group's visibility and topic; undefined if there is no such conversation. */
export async function findChannelSettings(tx: Queryable, id: string): Promise<{ visibility: 'public' | 'private'; topic: string | null } | undefined> {
  const [row] = await tx.query<{ visibility: 'public' | 'private'; topic: string | null }>('SELECT visibility, topic FROM conversations WHERE id = $1', [id]);
  return row;
}

export async function setVisibility(tx: Queryable, id: string, visibility: 'public' | 'private'): Promise<void> {
  await tx.query('UPDATE conversations SET visibility = $2 WHERE id = $1', [id, visibility]);
}

export async function setTopic(tx: Queryable, id: string, topic: string | null): Promise<void> {
  await tx.query('UPDATE conversations SET topic = $2 WHERE id = $1', [id, topic]);
}
