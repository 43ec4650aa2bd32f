import type { InstanceRole } from '@confab/protocol';
import type { Queryable } from './db.ts';
import type { UserRow } from './rows.ts';

// Single sign-on's SQL: which provider account is which Confab user (oidc_identities) and the
// one-time codes that carry a finished sign-in to the web app (oidc_codes). operations/sso.ts
// holds the rules.

/** The user a provider's subject is linked to, if any. */
export async function findLinkedUser(db: Queryable, providerId: string, subject: string): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>(
    'SELECT u.* FROM oidc_identities i JOIN users u ON u.id = i.user_id WHERE i.provider_id = $1 AND i.subject = $2',
    [providerId, subject],
  );
  return row;
}

/** Links a provider's subject to a user; false when that subject is already linked (to anyone). */
export async function insertIdentity(db: Queryable, link: { providerId: string; subject: string; userId: string; email: string | null }): Promise<boolean> {
  const rows = await db.query(
    'INSERT INTO oidc_identities (provider_id, subject, user_id, email) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING user_id',
    [link.providerId, link.subject, link.userId, link.email],
  );
  return rows.length > 0;
}

/** Whether a handle is in use (compared without case, as the unique index does). */
export async function handleInUse(db: Queryable, handle: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM users WHERE lower(handle) = lower($1)', [handle]);
  return rows.length > 0;
}

/** A person registered through a provider: no password, and an e-mail only where the provider verified one. Undefined if a unique index refused them. */
export async function insertSsoUser(db: Queryable, user: { id: string; email: string | null; handle: string; displayName: string; role: InstanceRole }): Promise<UserRow | undefined> {
  const [row] = await db.query<UserRow>(
    `INSERT INTO users (id, email, handle, display_name, password_hash, role) VALUES ($1, $2, $3, $4, NULL, $5)
       ON CONFLICT DO NOTHING RETURNING *`,
    [user.id, user.email, user.handle, user.displayName, user.role],
  );
  return row;
}

export async function insertSsoCode(db: Queryable, codeHash: string, userId: string, expiresAt: Date): Promise<void> {
  await db.query('INSERT INTO oidc_codes (code_hash, user_id, expires_at) VALUES ($1, $2, $3)', [codeHash, userId, expiresAt]);
}

/** Spends a one-time code: atomically, so two exchanges of one code cannot both win. The user id, or undefined (unknown, spent or expired). */
export async function spendSsoCode(db: Queryable, codeHash: string): Promise<string | undefined> {
  const [row] = await db.query<{ user_id: string }>(
    'UPDATE oidc_codes SET used_at = now() WHERE code_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id',
    [codeHash],
  );
  return row?.user_id;
}

/** Codes are kept a day after they expire (a replay then still finds a spent code), then removed. */
export async function deleteOldSsoCodes(db: Queryable): Promise<void> {
  await db.query("DELETE FROM oidc_codes WHERE expires_at < now() - interval '1 day'");
}

/** A user's links to providers, oldest first. */
export function listIdentities(db: Queryable, userId: string): Promise<{ provider_id: string; email: string | null; created_at: Date }[]> {
  return db.query('SELECT provider_id, email, created_at FROM oidc_identities WHERE user_id = $1 ORDER BY created_at, provider_id', [userId]);
}

/** Removes a user's links to one provider; how many went. */
export async function deleteIdentities(db: Queryable, userId: string, providerId: string): Promise<number> {
  return (await db.query('DELETE FROM oidc_identities WHERE user_id = $1 AND provider_id = $2 RETURNING subject', [userId, providerId])).length;
}
