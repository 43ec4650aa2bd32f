import { randomBytes } from 'node:crypto';
import { ConfabError, type RecoveryCodes, type TotpEnableBody, type TotpSetup } from '@confab/protocol';
import { generateSecret, generateURI, verify } from 'otplib';
import type { Context } from '../context.ts';
import { verifyPassword } from '../auth/passwords.ts';
import { sha256 } from '../crypto/keyring.ts';
import type { UserRow } from '../storage/rows.ts';
import { claimTotpStep, clearTotp, enableTotp as storeEnabled, replaceRecoveryCodes, spendRecoveryCode, storeTotpSecret } from '../storage/totp.ts';
import { findUser } from '../storage/users.ts';
import type { ClientInfo } from './auth.ts';
import { instanceSettings } from './instance.ts';

// The second factor (API.md, "Accounts"): TOTP per RFC 6238 (SHA-1, 6 digits, 30 s steps; otplib's
// defaults, which is what authenticator apps expect) plus ten one-time recovery codes. It guards
// password sign-in only: `login` asks `checkSecondFactor` once the password was right.

/** A code of the step before or after the server's current one is accepted too (clock drift). */
const TOLERANCE_SECONDS = 30;
const RECOVERY_CODE_COUNT = 10;
/** Crockford's base32: no i, l, o, u, so what is read aloud or copied by hand is not misread. */
const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A new recovery code: 80 random bits as 16 base32 characters, `xxxx-xxxx-xxxx-xxxx`.
 * 80 bits is why a plain SHA-256 is a fine way to store it (as for refresh tokens): a slow
 * password hash protects guessable secrets, and nobody can enumerate 2^80 codes against a leaked
 * hash, whereas an 8-character code (40 bits) could be.
 */
function newRecoveryCode(): string {
  const bytes = randomBytes(10);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out.match(/.{4}/g)!.join('-');
}

/** What is hashed: case, spaces and dashes do not matter, and i/l read as 1, o as 0 (Crockford). */
function recoveryCodeHash(code: string): string {
  const normalized = code.toLowerCase().replace(/[\s-]/g, '').replace(/[il]/g, '1').replace(/o/g, '0');
  return sha256(`recovery:${normalized}`);
}

/** The time step of a current code (within the tolerance), or undefined. Never throws on malformed input. */
async function matchingStep(secret: string, code: string): Promise<number | undefined> {
  const token = code.replace(/\s/g, '');
  if (!/^\d{6}$/.test(token)) return undefined;
  const result = await verify({ secret, token, epochTolerance: TOLERANCE_SECONDS });
  return result.valid && 'timeStep' in result ? result.timeStep : undefined;
}

async function loadPasswordUser(ctx: Context, userId: string): Promise<UserRow> {
  const user = await findUser(ctx.db, userId);
  if (!user) throw new ConfabError('UNAUTHENTICATED', 'this account no longer exists');
  // The second factor guards password sign-in; bots and single-sign-on accounts have no password.
  if (user.is_bot || !user.password_hash) throw new ConfabError('FORBIDDEN', 'two-factor sign-in protects password sign-in, and this account has no password');
  return user;
}

/** POST /api/auth/totp/setup: a new secret, stored encrypted, that counts once a first code enables it. */
export async function setupTotp(ctx: Context, userId: string): Promise<TotpSetup> {
  const user = await loadPasswordUser(ctx, userId);
  if (user.totp_enabled_at) throw new ConfabError('CONFLICT', 'two-factor sign-in is already on');
  const secret = generateSecret();
  if (!(await storeTotpSecret(ctx.db, userId, ctx.keys.encrypt(secret)))) throw new ConfabError('CONFLICT', 'two-factor sign-in is already on');
  const { name } = await instanceSettings(ctx);
  return { secret, otpauthUrl: generateURI({ issuer: name, label: user.email ?? user.handle, secret }) };
}

/** POST /api/auth/totp/enable: a current code from the app proves it holds the secret; the recovery codes are shown once. */
export async function enableTotp(ctx: Context, userId: string, body: TotpEnableBody): Promise<RecoveryCodes> {
  const user = await loadPasswordUser(ctx, userId);
  if (user.totp_enabled_at) throw new ConfabError('CONFLICT', 'two-factor sign-in is already on');
  const secretEnc = user.totp_secret_enc;
  if (!secretEnc) throw new ConfabError('CONFLICT', 'set up two-factor sign-in first (POST /api/auth/totp/setup)');
  const step = await matchingStep(ctx.keys.decrypt(secretEnc), body.code);
  if (step === undefined) throw new ConfabError('VALIDATION_ERROR', 'wrong code: enter the current code from your authenticator app');
  const recoveryCodes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  const enabled = await ctx.db.transaction(async (tx) => {
    if (!(await storeEnabled(tx, userId, secretEnc, step))) return false;
    await replaceRecoveryCodes(tx, userId, recoveryCodes.map(recoveryCodeHash));
    return true;
  });
  if (!enabled) throw new ConfabError('CONFLICT', 'two-factor sign-in was turned on or set up again meanwhile');
  ctx.log.info({ event: 'totp_enabled', userId }, 'two-factor sign-in turned on');
  return { recoveryCodes };
}

/**
 * DELETE /api/auth/totp: turns the second factor off, given the password. The password check counts
 * against the same lockout as sign-in, so a stolen access token is no way to guess the password.
 */
export async function disableTotp(ctx: Context, userId: string, password: string, client: ClientInfo): Promise<void> {
  const user = await loadPasswordUser(ctx, userId);
  const hash = user.password_hash!;
  const ok = await ctx.limits.guardLogin(user.email ?? user.handle, client.ip, () => verifyPassword(hash, password));
  if (!ok) throw new ConfabError('FORBIDDEN', 'wrong password');
  await ctx.db.transaction((tx) => clearTotp(tx, userId));
  if (user.totp_enabled_at) ctx.log.info({ event: 'totp_disabled', userId }, 'two-factor sign-in turned off');
}

/**
 * The second factor of a sign-in whose password was right: `ok` without one or with a good code,
 * else `missing` or `wrong`. A current code works once (its time step must be later than the last
 * one used: replays are refused), a recovery code works once (spent atomically). Every code tried
 * counts against the account's secondFactorAttemptsPerUser limit (RATE_LIMITED once spent),
 * cleared by a good one; the caller counts it as a failed login as well.
 */
export async function checkSecondFactor(ctx: Context, user: UserRow, code: string | undefined): Promise<'ok' | 'missing' | 'wrong'> {
  if (!user.totp_enabled_at || !user.totp_secret_enc) return 'ok';
  if (!code) return 'missing';
  await ctx.limits.consume('secondFactorAttemptsPerUser', user.id);
  const step = await matchingStep(ctx.keys.decrypt(user.totp_secret_enc), code);
  const good = step !== undefined ? await claimTotpStep(ctx.db, user.id, step) : await spendRecoveryCode(ctx.db, user.id, recoveryCodeHash(code));
  if (!good) return 'wrong';
  try {
    await ctx.limits.reset('secondFactorAttemptsPerUser', user.id);
  } catch {
    // Clearing the counter is a courtesy; failing it must not fail the sign-in.
  }
  if (step === undefined) ctx.log.info({ event: 'recovery_code_used', userId: user.id }, 'a recovery code was used to sign in');
  return 'ok';
}
