// Queries on user_api_keys: users' own AI provider keys (BYOK), stored encrypted (issue #17, item
// 2: the query layer). The SQL moved here as it was from ai/models.ts; operations/ai.ts keeps the
// rules (who may use which model, what a missing key means) and does the encrypting.
import type { AiProvider } from '@confab/protocol';
import type { Queryable } from './db.ts';

/** Every key the user stored, still encrypted. */
export async function findUserKeys(db: Queryable, userId: string): Promise<{ provider: AiProvider; key_enc: string }[]> {
  return db.query<{ provider: AiProvider; key_enc: string }>('SELECT provider, key_enc FROM user_api_keys WHERE user_id = $1', [userId]);
}

/** Stores the user's key for a provider, replacing the one stored before. */
export async function upsertUserKey(db: Queryable, userId: string, provider: AiProvider, keyEnc: string): Promise<void> {
  await db.query(
    `INSERT INTO user_api_keys (user_id, provider, key_enc) VALUES ($1, $2, $3)
     ON CONFLICT (user_id, provider) DO UPDATE SET key_enc = EXCLUDED.key_enc, created_at = now()`,
    [userId, provider, keyEnc],
  );
}

/** Whether a key was there to delete. */
export async function deleteUserKey(db: Queryable, userId: string, provider: AiProvider): Promise<boolean> {
  const rows = await db.query('DELETE FROM user_api_keys WHERE user_id = $1 AND provider = $2 RETURNING 1', [userId, provider]);
  return rows.length > 0;
}

/** Which providers the user stored a key for, and when (never the keys). */
export async function listUserKeyProviders(db: Queryable, userId: string): Promise<{ provider: AiProvider; created_at: Date }[]> {
  return db.query<{ provider: AiProvider; created_at: Date }>('SELECT provider, created_at FROM user_api_keys WHERE user_id = $1 ORDER BY provider', [userId]);
}
