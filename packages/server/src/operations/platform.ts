import { randomBytes } from 'node:crypto';
import { ConfabError, Email, ExternalId, type AuthResult, type MintTokensBody, type PlatformUser, type PutPlatformUserBody, type TokenPair } from '@confab/protocol';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import type { Queryable } from '../storage/db.ts';
import { emailTaken, findUserByExternalId, handleTaken, insertPlatformUser, releaseExternalId, updatePlatformUser } from '../storage/platformUsers.ts';
import type { UserRow } from '../storage/rows.ts';
import { startSession, type ClientInfo } from './auth.ts';
import { recordAudit } from './instance.ts';
import { iso, toMe } from './users.ts';

// Platform users: Confab users tied to a developer's own ids (docs/platform.md). They have no
// password: they sign in only through tokens the developer's backend mints with an API key, or by
// exchanging the developer's own signed JWT. The instance's registration mode does not apply: the
// developer's backend decides who has an account.

export function toPlatformUser(row: UserRow): PlatformUser {
  return {
    id: row.id,
    externalId: row.external_id ?? '',
    handle: row.handle,
    displayName: row.display_name,
    email: row.email,
    avatarUrl: row.avatar_url,
    status: row.status,
    createdAt: iso(row.created_at)!,
  };
}

/** A handle from a display name: letters, digits, _ . - only, 2 to 24 characters ("user" when nothing is left). */
function handleStem(displayName: string): string {
  const stem = displayName
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/\s+/g, '_')
    .replace(/[^a-z0-9_.-]/g, '')
    .slice(0, 24);
  return stem.length >= 2 && !['here', 'channel'].includes(stem) ? stem : 'user';
}

interface Profile {
  handle?: string | undefined;
  displayName: string;
  email?: string | null | undefined;
  avatarUrl?: string | null | undefined;
}

/**
 * Creates the user with this external id, or updates them; `created` says which. A given handle or
 * email someone else has is a CONFLICT; a derived handle is made unique with a random suffix.
 */
async function upsertPlatformUser(ctx: Context, externalId: string, profile: Profile, via: string): Promise<{ user: UserRow; created: boolean }> {
  return ctx.db.transaction(async (tx) => {
    let existing = await findUserByExternalId(tx, externalId);
    // A deleted account keeps nothing of the person: the id may name a new account.
    if (existing?.status === 'deleted') {
      await releaseExternalId(tx, existing.id);
      existing = undefined;
    }
    if (profile.handle && (await handleTaken(tx, profile.handle, existing?.id ?? null))) throw new ConfabError('CONFLICT', 'this handle is taken');
    if (profile.email && (await emailTaken(tx, profile.email, existing?.id ?? null))) throw new ConfabError('CONFLICT', 'this email belongs to another account');
    const user = existing ? undefined : await insertNew(tx, externalId, profile);
    if (!user) {
      // Known already, or created by a concurrent request (two first sign-ins at once) since we looked.
      const id = existing?.id ?? (await findUserByExternalId(tx, externalId))!.id;
      return { user: (await updatePlatformUser(tx, id, profile))!, created: false };
    }
    await recordAudit(tx, null, 'user.create', { type: 'user', id: user.id }, { via, externalId, handle: user.handle });
    ctx.log.info({ event: 'platform_user_created', userId: user.id, via }, 'platform user created');
    return { user, created: true };
  });
}

/** The new user; undefined when another request created the user with this external id meanwhile. */
async function insertNew(tx: Queryable, externalId: string, profile: Profile): Promise<UserRow | undefined> {
  const stem = profile.handle ?? handleStem(profile.displayName);
  for (let attempt = 0; attempt < 8; attempt++) {
    const handle = attempt === 0 && (profile.handle || !(await handleTaken(tx, stem))) ? stem : `${stem}_${randomBytes(3).toString('hex')}`;
    const row = await insertPlatformUser(tx, { id: newId(), externalId, handle, displayName: profile.displayName, email: profile.email ?? null, avatarUrl: profile.avatarUrl ?? null });
    if (row) return row;
    // Someone else took the handle (or the external id) in the meantime.
    if (await findUserByExternalId(tx, externalId)) return undefined;
    if (profile.handle) throw new ConfabError('CONFLICT', 'this handle is taken');
  }
  throw new ConfabError('CONFLICT', 'could not find a free handle; give one');
}

/** PUT /api/platform/users/:externalId (an API key with the `users` scope). */
export async function putPlatformUser(ctx: Context, externalId: string, body: PutPlatformUserBody): Promise<{ user: PlatformUser; created: boolean }> {
  const { user, created } = await upsertPlatformUser(ctx, externalId, body, 'platform');
  return { user: toPlatformUser(user), created };
}

function requireActive(user: UserRow | undefined): UserRow {
  if (!user || user.status === 'deleted') throw new ConfabError('NOT_FOUND', 'no platform user with this externalId');
  if (user.status !== 'active') throw new ConfabError('FORBIDDEN', 'this account is deactivated');
  return user;
}

/** POST /api/platform/tokens (an API key with the `tokens` scope): a new session for the user. */
export async function mintTokens(ctx: Context, body: MintTokensBody, client: ClientInfo): Promise<TokenPair> {
  const user = requireActive(await findUserByExternalId(ctx.db, body.externalId));
  return ctx.db.transaction((tx) => startSession(ctx, tx, user.id, client, body.ttlSeconds));
}

/** The active platform user an API key acts as (`Confab-Act-As`); FORBIDDEN when there is none. */
export async function platformUserToActAs(ctx: Context, externalId: string): Promise<string> {
  const user = await findUserByExternalId(ctx.db, externalId);
  if (!user || user.status !== 'active') throw new ConfabError('FORBIDDEN', 'Confab-Act-As must name an active platform user (PUT /api/platform/users/:externalId)');
  return user.id;
}

// ---- your own sign-in: external JWTs ----

/** How long fetching the JWKS may take; then the exchange fails (503) instead of hanging. */
const JWKS_TIMEOUT_MS = 3_000;
/**
 * After a fetch, a token with an unknown `kid` refetches the JWKS only after this long: key
 * rotation is picked up within seconds, and tokens with made-up kids cannot make Confab hammer the
 * developer's JWKS endpoint (at most one fetch per this period per node).
 */
const JWKS_COOLDOWN_MS = 2_000;
const ASYMMETRIC = ['RS256', 'ES256', 'EdDSA'];

const jwksSets = new WeakMap<Context, { url: string; get: JWTVerifyGetKey }>();

function jwksOf(ctx: Context, url: string): JWTVerifyGetKey {
  const known = jwksSets.get(ctx);
  if (known?.url === url) return known.get;
  const get = createRemoteJWKSet(new URL(url), { timeoutDuration: JWKS_TIMEOUT_MS, cooldownDuration: JWKS_COOLDOWN_MS });
  jwksSets.set(ctx, { url, get });
  return get;
}

async function verifyExternal(ctx: Context, token: string): Promise<JWTPayload> {
  const conf = ctx.config.externalJwt;
  if (!conf) throw new ConfabError('NOT_FOUND', 'your own sign-in is not configured on this server');
  const options = { issuer: conf.issuer, audience: conf.audience, requiredClaims: ['sub', 'exp'], clockTolerance: 30 };
  try {
    const { payload } = conf.secret
      ? await jwtVerify(token, new TextEncoder().encode(conf.secret), { ...options, algorithms: ['HS256'] })
      : await jwtVerify(token, jwksOf(ctx, conf.jwksUrl!), { ...options, algorithms: ASYMMETRIC });
    return payload;
  } catch (error) {
    // The JWKS endpoint timed out, could not be reached (fetch's own TypeError) or did not answer a key set.
    const unreachable = error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid || !(error instanceof joseErrors.JOSEError) || (error.code === 'ERR_JOSE_GENERIC' && /JSON Web Key Set/.test(error.message));
    if (!conf.secret && unreachable) {
      ctx.log.warn({ event: 'external_jwks_unavailable', err: { name: (error as Error).name, message: (error as Error).message } }, 'could not fetch the JWKS of external JWTs');
      throw new ConfabError('UNAVAILABLE', 'the keys that sign this token could not be fetched; try again');
    }
    throw new ConfabError('UNAUTHENTICATED', `invalid token: ${reason(error)}`);
  }
}

/** Why a token was refused, in words that help the developer (never the token). */
function reason(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'it has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `the "${error.claim}" claim is wrong or missing (${error.reason})`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'its algorithm is not accepted (RS256, ES256 or EdDSA with a JWKS; HS256 with a shared secret)';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the JWKS matches its "kid"';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (error instanceof joseErrors.JOSEError) return 'it is malformed or not signed as expected';
  return 'it could not be verified';
}

/**
 * POST /api/auth/external: the developer's JWT (`sub` = externalId, `name`, `email`) for Confab
 * tokens. The user is created on first sight and their name and email updated on later sight.
 */
export async function exchangeExternalToken(ctx: Context, token: string, client: ClientInfo): Promise<AuthResult> {
  if (!ctx.config.externalJwt) throw new ConfabError('NOT_FOUND', 'your own sign-in is not configured on this server');
  await ctx.limits.consume('loginPerIp', client.ip);
  const claims = await verifyExternal(ctx, token);
  const externalId = ExternalId.safeParse(claims.sub);
  if (!externalId.success) throw new ConfabError('UNAUTHENTICATED', 'invalid token: "sub" must be printable ASCII, at most 255 characters');
  const name = typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim().slice(0, 64) : undefined;
  const email = Email.safeParse(claims.email);
  const existing = await findUserByExternalId(ctx.db, externalId.data);
  // An email another account has is not taken over (nor linked): the user signs in without it.
  const usableEmail = email.success && !(await emailTaken(ctx.db, email.data, existing?.id ?? null)) ? email.data : undefined;
  const profile: Profile = {
    displayName: name ?? existing?.display_name ?? externalId.data.slice(0, 64),
    ...(usableEmail && { email: usableEmail }),
  };
  const { user } = await upsertPlatformUser(ctx, externalId.data, profile, 'external_jwt');
  const active = requireActive(user);
  return ctx.db.transaction(async (tx) => ({ user: toMe(active), ...(await startSession(ctx, tx, active.id, client)) }));
}
