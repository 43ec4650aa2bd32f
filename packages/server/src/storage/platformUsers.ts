// Queries on platform users: users tied to a developer's own id (users.external_id; docs/platform.md).
// operations/platform.ts keeps the rules (handles, conflicts, the audit).
import type { Queryable } from './db.ts';
import type { UserRow } from './rows.ts';

export async function findUserByExternalId(db: Queryable, externalId: string): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>('SELECT * FROM users WHERE external_id = $1', [externalId]);
  return row;
}

/** Inserts a platform user (no password); undefined if a unique index (external id, email, handle) refused them. */
export async function insertPlatformUser(
  db: Queryable,
  user: { id: string; externalId: string; handle: string; displayName: string; email: string | null; avatarUrl: string | null },
): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>(
    `INSERT INTO users (id, external_id, email, handle, display_name, avatar_url, password_hash, role) VALUES ($1, $2, $3, $4, $5, $6, NULL, 'user')
       ON CONFLICT DO NOTHING RETURNING *`,
    [user.id, user.externalId, user.email, user.handle, user.displayName, user.avatarUrl],
  );
  return row;
}

/** Whether anyone has this handle (without case). */
export async function handleTaken(db: Queryable, handle: string, exceptUserId: string | null = null): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM users WHERE lower(handle) = lower($1) AND id IS DISTINCT FROM $2', [handle, exceptUserId]);
  return rows.length > 0;
}

/** Whether anyone else has this email (without case). */
export async function emailTaken(db: Queryable, email: string, exceptUserId: string | null = null): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM users WHERE lower(email) = lower($1) AND id IS DISTINCT FROM $2', [email, exceptUserId]);
  return rows.length > 0;
}

/** Applies a platform profile change: absent (undefined) fields stay as they are, null clears. */
export async function updatePlatformUser(
  db: Queryable,
  userId: string,
  patch: { handle?: string | undefined; displayName: string; email?: string | null | undefined; avatarUrl?: string | null | undefined },
): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>(
    `UPDATE users SET
       handle = COALESCE($2, handle),
       display_name = $3,
       email = CASE WHEN $4::boolean THEN $5 ELSE email END,
       avatar_url = CASE WHEN $6::boolean THEN $7 ELSE avatar_url END
     WHERE id = $1 RETURNING *`,
    [userId, patch.handle ?? null, patch.displayName, patch.email !== undefined, patch.email ?? null, patch.avatarUrl !== undefined, patch.avatarUrl ?? null],
  );
  return row;
}

/** Unties a (deleted) user from the developer's id, so that the id may name a new account. */
export async function releaseExternalId(db: Queryable, userId: string): Promise<void> {
  await db.query('UPDATE users SET external_id = NULL WHERE id = $1', [userId]);
}
