// Queries on conversations (issue #17, item 2: the query layer). The SQL moved as it was from
// operations/conversations.ts and operations/search.ts; the operations keep the rules (who may
// create, rename, delete; limits; events).
import type { Queryable } from './db.ts';
import type { ConversationRow } from './rows.ts';

/** `text` as a LIKE/ILIKE pattern that matches it anywhere, its wildcards (and backslash) escaped. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function findConversations(db: Queryable, ids: string[]): Promise<ConversationRow[]> {
  return db.query<ConversationRow>(
    `SELECT id, type, title, model, created_at, last_activity_at, last_seq, generating, visibility, topic, mention_channel, system_prompt
       FROM conversations WHERE id = ANY($1::text[])`,
    [ids],
  );
}

/**
 * Inserts the direct conversation of `directKey` (the pair's ids, sorted) unless it exists: its
 * id, or undefined when a conversation of that pair was there (or committed concurrently) first.
 */
export async function insertDirectConversation(tx: Queryable, id: string, directKey: string, createdBy: string): Promise<string | undefined> {
  const [inserted] = await tx.query<{ id: string }>(
    `INSERT INTO conversations (id, type, direct_key, created_by) VALUES ($1, 'direct', $2, $3)
       ON CONFLICT (direct_key) DO NOTHING RETURNING id`,
    [id, directKey, createdBy],
  );
  return inserted?.id;
}

/** The pair's direct conversation, locked (FOR UPDATE) until the transaction ends; undefined if none. */
export async function lockDirectConversation(tx: Queryable, directKey: string): Promise<string | undefined> {
  const [existing] = await tx.query<{ id: string }>('SELECT id FROM conversations WHERE direct_key = $1 FOR UPDATE', [directKey]);
  return existing?.id;
}

export async function insertGroupConversation(
  tx: Queryable,
  id: string,
  title: string,
  createdBy: string,
  channel: { visibility: 'public' | 'private'; topic: string | null } = { visibility: 'private', topic: null },
): Promise<void> {
  await tx.query(`INSERT INTO conversations (id, type, title, created_by, visibility, topic) VALUES ($1, 'group', $2, $3, $4, $5)`, [
    id,
    title,
    createdBy,
    channel.visibility,
    channel.topic,
  ]);
}

export async function insertAssistantConversation(tx: Queryable, id: string, title: string | null, model: string, createdBy: string): Promise<void> {
  await tx.query(`INSERT INTO conversations (id, type, title, model, created_by) VALUES ($1, 'assistant', $2, $3, $4)`, [id, title, model, createdBy]);
}

/** The conversation's title; undefined if there is no such conversation. */
export async function findTitle(tx: Queryable, id: string): Promise<{ title: string | null } | undefined> {
  const [current] = await tx.query<{ title: string | null }>('SELECT title FROM conversations WHERE id = $1', [id]);
  return current;
}

export async function setTitle(tx: Queryable, id: string, title: string): Promise<void> {
  await tx.query('UPDATE conversations SET title = $2 WHERE id = $1', [id, title]);
}

/** Who may use @channel and @here (docs/mentions.md); false if it was so already. */
export async function setMentionChannel(tx: Queryable, id: string, value: ConversationRow['mention_channel']): Promise<boolean> {
  const rows = await tx.query('UPDATE conversations SET mention_channel = $2 WHERE id = $1 AND mention_channel <> $2 RETURNING 1', [id, value]);
  return rows.length > 0;
}

/** The model the conversation's answers use; whether it changed. */
export async function setConversationModel(tx: Queryable, id: string, model: string): Promise<boolean> {
  const rows = await tx.query('UPDATE conversations SET model = $2 WHERE id = $1 AND model IS DISTINCT FROM $2 RETURNING 1', [id, model]);
  return rows.length > 0;
}

/** The conversation's system prompt as stored: encrypted like messages (operations/assistantSettings.ts), or null. */
export async function findSystemPrompt(tx: Queryable, id: string): Promise<string | null> {
  const [row] = await tx.query<{ system_prompt: string | null }>('SELECT system_prompt FROM conversations WHERE id = $1', [id]);
  return row?.system_prompt ?? null;
}

/** Stores the system prompt (encrypted, or null for none). */
export async function setSystemPrompt(tx: Queryable, id: string, systemPromptEnc: string | null): Promise<void> {
  await tx.query('UPDATE conversations SET system_prompt = $2 WHERE id = $1', [id, systemPromptEnc]);
}

/** One statement: its messages, versions, reactions and members go by ON DELETE CASCADE, all or nothing. */
export async function deleteConversation(tx: Queryable, id: string): Promise<void> {
  await tx.query('DELETE FROM conversations WHERE id = $1', [id]);
}

/** Where a page of a member's conversation list starts: after this row of the sort order. */
export interface ConversationListCursor {
  pinned: boolean;
  /** last_activity_at as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, microseconds and all. */
  activity: string;
  id: string;
}

/**
 * One page of a member's conversations: pinned first, then most recent activity, then id (a total
 * order, so keyset pagination neither skips nor repeats rows that tie on time). `limit` rows at
 * most; each row carries its sort key, to make the next page's cursor from.
 * `pattern` (a LIKE pattern) keeps the conversations whose title matches, or direct ones whose
 * other person's name or handle does.
 */
export function listConversationPage(
  db: Queryable,
  userId: string,
  q: { archived: 'true' | 'false' | 'all'; pattern: string | undefined; after: ConversationListCursor | undefined; limit: number },
): Promise<{ id: string; pinned: boolean; activity: string }[]> {
  const params: unknown[] = [userId];
  const param = (v: unknown) => `$${params.push(v)}`;
  const where: string[] = ['cm.user_id = $1'];
  if (q.archived !== 'all') where.push(q.archived === 'true' ? 'cm.archived' : 'NOT cm.archived');
  if (q.pattern !== undefined) {
    const p = param(q.pattern);
    where.push(`(c.title ILIKE ${p} OR (c.type = 'direct' AND EXISTS (
      SELECT 1 FROM conversation_members o JOIN users u ON u.id = o.user_id
       WHERE o.conversation_id = c.id AND o.user_id <> $1 AND (u.display_name ILIKE ${p} OR u.handle ILIKE ${p}))))`);
  }
  if (q.after !== undefined) {
    // Every sort column is descending, so "after the cursor" is one row comparison.
    where.push(`(cm.pinned, c.last_activity_at, c.id) < (${param(q.after.pinned)}::boolean, ${param(q.after.activity)}::timestamptz, ${param(q.after.id)}::text)`);
  }
  return db.query<{ id: string; pinned: boolean; activity: string }>(
    `SELECT c.id, cm.pinned, to_char(c.last_activity_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS activity
       FROM conversation_members cm JOIN conversations c ON c.id = cm.conversation_id
      WHERE ${where.join(' AND ')}
      ORDER BY cm.pinned DESC, c.last_activity_at DESC, c.id DESC
      LIMIT ${param(q.limit)}`,
    params,
  );
}
