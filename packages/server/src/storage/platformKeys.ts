// Queries on api_keys: a developer's backend's keys (docs/platform.md), stored as SHA-256 hashes
// with a short prefix for the list. operations/apiKeys.ts keeps the rules (who may create them,
// scopes, the audit); http/apiKeys.ts authenticates requests with them.
import type { Queryable } from './db.ts';

export interface PlatformKeyRow {
  id: string;
  name: string;
  key_prefix: string;
  scopes: string[];
  created_by: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = 'id, name, key_prefix, scopes, created_by, created_at, last_used_at, revoked_at';

export async function insertPlatformKey(
  db: Queryable,
  key: { id: string; name: string; keyHash: string; keyPrefix: string; scopes: string[]; createdBy: string | null },
): Promise<PlatformKeyRow> {
  const [row] = await db.query<PlatformKeyRow>(
    `INSERT INTO api_keys (id, name, key_hash, key_prefix, scopes, created_by) VALUES ($1, $2, $3, $4, $5::text[], $6) RETURNING ${COLUMNS}`,
    [key.id, key.name, key.keyHash, key.keyPrefix, key.scopes, key.createdBy],
  );
  return row!;
}

/** Keys not revoked, newest first. */
export async function listLivePlatformKeys(db: Queryable): Promise<PlatformKeyRow[]> {
  return db.query<PlatformKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at DESC, id`);
}

/** The live key with this hash, if any. */
export async function findLivePlatformKey(db: Queryable, keyHash: string): Promise<PlatformKeyRow | undefined> {
  const [row] = await db.query<PlatformKeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, [keyHash]);
  return row;
}

/** Revokes a live key; undefined when there is no such live key. */
export async function revokePlatformKey(db: Queryable, id: string): Promise<PlatformKeyRow | undefined> {
  const [row] = await db.query<PlatformKeyRow>(`UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING ${COLUMNS}`, [id]);
  return row;
}

export async function touchPlatformKey(db: Queryable, id: string): Promise<void> {
  await db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [id]);
}
