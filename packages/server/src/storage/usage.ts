// Queries on ai_usage: the usage ledger, one row per AI answer (message_id set) or title
// (message_id null), with the provider's reported tokens and whose key paid. operations/usage.ts
// holds the rules (quotas, the days of a report).
import type { Queryable } from './db.ts';

export type KeySource = 'user' | 'server';

export interface UsageEntry {
  id: string;
  userId: string;
  conversationId: string | null;
  /** The answer; null for a title. */
  messageId: string | null;
  model: string;
  keySource: KeySource;
  inputTokens: number;
  outputTokens: number;
}

export async function insertUsage(db: Queryable, e: UsageEntry): Promise<void> {
  await db.query(
    `INSERT INTO ai_usage (id, user_id, conversation_id, message_id, model, key_source, input_tokens, output_tokens)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [e.id, e.userId, e.conversationId, e.messageId, e.model, e.keySource, e.inputTokens, e.outputTokens],
  );
}

/** What `userId` used on the server's keys since `since`: answers (titles are not answers) and tokens (titles' included). */
export async function serverUsageSince(db: Queryable, userId: string, since: Date): Promise<{ answers: number; tokens: number }> {
  const [row] = await db.query<{ answers: number; tokens: number }>(
    `SELECT count(message_id)::float8 AS answers, coalesce(sum(input_tokens + output_tokens), 0)::float8 AS tokens
       FROM ai_usage WHERE user_id = $1 AND key_source = 'server' AND at >= $2::timestamptz`,
    [userId, since.toISOString()],
  );
  return { answers: Number(row?.answers ?? 0), tokens: Number(row?.tokens ?? 0) };
}

export interface UsageDayRow {
  user_id: string;
  handle: string;
  display_name: string;
  /** The UTC day, YYYY-MM-DD. */
  date: string;
  answers: number;
  input_tokens: number;
  output_tokens: number;
}

/**
 * Usage on the server's keys per user and UTC day since `since` (the start of a UTC day), of one
 * user or (userId null) of everyone, ordered by user then day.
 */
export async function serverUsageByDay(db: Queryable, userId: string | null, since: Date): Promise<UsageDayRow[]> {
  const rows = await db.query<UsageDayRow>(
    `SELECT u.user_id, us.handle, us.display_name, u.date, u.answers, u.input_tokens, u.output_tokens
       FROM (SELECT user_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS date, count(message_id)::float8 AS answers,
                    sum(input_tokens)::float8 AS input_tokens, sum(output_tokens)::float8 AS output_tokens
               FROM ai_usage
              WHERE key_source = 'server' AND at >= $2::timestamptz AND ($1::text IS NULL OR user_id = $1)
              GROUP BY user_id, 2) u
       JOIN users us ON us.id = u.user_id
      ORDER BY u.user_id, u.date`,
    [userId, since.toISOString()],
  );
  return rows.map((r) => ({ ...r, answers: Number(r.answers), input_tokens: Number(r.input_tokens), output_tokens: Number(r.output_tokens) }));
}
