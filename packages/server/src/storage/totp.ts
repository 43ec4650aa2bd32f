// Queries for the second factor (TOTP): the user's secret and last accepted time step (columns of
// users), and recovery codes (recovery_codes, hashes only). Each change that a race could spoil is
// one conditional statement, so two requests at once cannot both win.
import type { Queryable } from './db.ts';

/**
 * Stores a new (encrypted) secret, not yet enabled, replacing an earlier one that was never
 * enabled. False when the second factor is already on (the secret in use stays).
 */
export async function storeTotpSecret(db: Queryable, userId: string, secretEnc: string): Promise<boolean> {
  const rows = await db.query('UPDATE users SET totp_secret_enc = $2, totp_last_step = NULL WHERE id = $1 AND totp_enabled_at IS NULL RETURNING id', [userId, secretEnc]);
  return rows.length > 0;
}

/**
 * Turns the second factor on with the secret the caller verified a code against (`secretEnc`, as
 * read), recording that code's step as used. False when it is on already or the secret changed
 * meanwhile (a second setup).
 */
export async function enableTotp(db: Queryable, userId: string, secretEnc: string, step: number): Promise<boolean> {
  const rows = await db.query(
    `UPDATE users SET totp_enabled_at = now(), totp_last_step = $3
      WHERE id = $1 AND totp_enabled_at IS NULL AND totp_secret_enc = $2 RETURNING id`,
    [userId, secretEnc, step],
  );
  return rows.length > 0;
}

/**
 * Claims a time step for a sign-in: true only if it is later than every step used before (a code
 * is good once; replaying it, or an older one, is refused), and the second factor is still on.
 */
export async function claimTotpStep(db: Queryable, userId: string, step: number): Promise<boolean> {
  const rows = await db.query(
    `UPDATE users SET totp_last_step = $2
      WHERE id = $1 AND totp_enabled_at IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < $2) RETURNING id`,
    [userId, step],
  );
  return rows.length > 0;
}

/** Replaces the user's recovery codes with these hashes (all unused). */
export async function replaceRecoveryCodes(db: Queryable, userId: string, codeHashes: string[]): Promise<void> {
  await db.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
  await db.query('INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, h FROM unnest($2::text[]) AS h', [userId, codeHashes]);
}

/** Marks an unused recovery code used; true only for the one request that spent it. */
export async function spendRecoveryCode(db: Queryable, userId: string, codeHash: string): Promise<boolean> {
  const rows = await db.query('UPDATE recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING user_id', [
    userId,
    codeHash,
  ]);
  return rows.length > 0;
}

/** Turns the second factor off: the secret, its last step and the recovery codes go. */
export async function clearTotp(db: Queryable, userId: string): Promise<void> {
  await db.query('UPDATE users SET totp_secret_enc = NULL, totp_enabled_at = NULL, totp_last_step = NULL WHERE id = $1', [userId]);
  await db.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
}
