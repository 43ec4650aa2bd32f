import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfabError, type AuthResult, type InstanceRole, type LinkedSignIns } from '@confab/protocol';
import * as oidc from 'openid-client';
import type { OidcProviderConfig } from '../config.ts';
import type { Context } from '../context.ts';
import { sha256 } from '../crypto/keyring.ts';
import { newId } from '../ids.ts';
import type { Queryable } from '../storage/db.ts';
import type { UserRow } from '../storage/rows.ts';
import { deleteIdentities, deleteOldSsoCodes, findLinkedUser, handleInUse, insertIdentity, insertSsoCode, insertSsoUser, listIdentities, spendSsoCode } from '../storage/sso.ts';
import { findUser, findUserByLoginEmail } from '../storage/users.ts';
import { startSession, type ClientInfo } from './auth.ts';
import { admitRegistration, publicOrigin, recordInviteUse } from './invites.ts';
import { recordAudit } from './instance.ts';
import { toMe } from './users.ts';

// Single sign-on with OpenID Connect (API.md, "Single sign-on"; docs/sso.md says it for people).
// start: a redirect to the provider (authorization code with PKCE S256, state and nonce, kept in
// a signed short-lived cookie); callback: the code exchanged with the provider, the ID token's
// nonce checked, the person found, linked or registered, and a one-time Confab code handed to the
// web app (/sso?code=…), which POST /api/auth/oidc/exchange turns into a session.

/** How long a sign-in may take at the provider. */
const FLOW_TTL_MS = 10 * 60_000;
/** How long the web app has to exchange its one-time code. */
const CODE_TTL_MS = 60_000;
const COOKIE = 'confab_oidc';
const COOKIE_PATH = '/api/auth/oidc/';

/** The web app's page that exchanges a code or shows an error. */
export const WEB_SSO_PATH = '/sso';

function provider(ctx: Context, id: string): OidcProviderConfig {
  const found = ctx.config.oidc.find((p) => p.id === id);
  if (!found) throw new ConfabError('NOT_FOUND', 'no such sign-in provider');
  return found;
}

// ---- the provider's metadata, discovered once per server (again after a failure)

const discovered = new WeakMap<Context, Map<string, Promise<oidc.Configuration>>>();

function configuration(ctx: Context, p: OidcProviderConfig): Promise<oidc.Configuration> {
  let byId = discovered.get(ctx);
  if (!byId) discovered.set(ctx, (byId = new Map()));
  let found = byId.get(p.id);
  if (!found) {
    // http: only for a loopback issuer (config.ts allows no other).
    const insecure = new URL(p.issuer).protocol === 'http:';
    found = oidc.discovery(new URL(p.issuer), p.clientId, p.clientSecret, undefined, insecure ? { execute: [oidc.allowInsecureRequests], timeout: 10 } : { timeout: 10 }).then((seen) => {
      // The client authenticates as the provider says it can: client_secret_basic (the standard's
      // default, where the provider lists nothing), else client_secret_post.
      const metadata = seen.serverMetadata();
      const methods = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
      const auth = methods.includes('client_secret_basic') ? oidc.ClientSecretBasic(p.clientSecret) : oidc.ClientSecretPost(p.clientSecret);
      const config = new oidc.Configuration(metadata, p.clientId, p.clientSecret, auth);
      config.timeout = 10;
      if (insecure) oidc.allowInsecureRequests(config);
      return config;
    });
    byId.set(p.id, found);
    found.catch(() => byId.delete(p.id));
  }
  return found.catch((error: unknown) => {
    ctx.log.warn({ event: 'sso_discovery_failed', provider: p.id, reason: String(error) }, 'single sign-on: the provider could not be reached');
    throw new ConfabError('UNAVAILABLE', `${p.name} cannot be reached right now; try again later`);
  });
}

const redirectUri = (ctx: Context, id: string, requestOrigin: string) => `${publicOrigin(ctx, requestOrigin)}/api/auth/oidc/${id}/callback`;

// ---- the flow's cookie: what the callback must check, signed so it cannot be forged

interface Flow {
  /** Provider id. */
  p: string;
  /** state, nonce, PKCE code verifier. */
  s: string;
  n: string;
  v: string;
  /** An invite link's token, for registration by invite. */
  i?: string;
  /** Expiry, ms since the epoch. */
  e: number;
}

function cookieKey(ctx: Context): Buffer {
  return Buffer.from(hkdfSync('sha256', ctx.keys.jwtKey, Buffer.from('confab'), Buffer.from('oidc-flow-cookie'), 32));
}

function signFlow(ctx: Context, flow: Flow): string {
  const payload = Buffer.from(JSON.stringify(flow)).toString('base64url');
  return `${payload}.${createHmac('sha256', cookieKey(ctx)).update(payload).digest('base64url')}`;
}

function readFlow(ctx: Context, cookieHeader: string | undefined): Flow | undefined {
  const raw = cookieHeader
    ?.split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${COOKIE}=`))
    ?.slice(COOKIE.length + 1);
  const [payload, mac] = raw?.split('.') ?? [];
  if (!payload || !mac) return undefined;
  const expected = createHmac('sha256', cookieKey(ctx)).update(payload).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const flow = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Flow;
    return flow.e > Date.now() ? flow : undefined;
  } catch {
    return undefined;
  }
}

function flowCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${COOKIE}=${value}; Path=${COOKIE_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

// ---- the routes' operations

export interface Redirect {
  location: string;
  setCookie: string;
}

/** GET /api/auth/oidc/:id/start: where to send the browser, and the cookie the callback will check. */
export async function startSso(ctx: Context, id: string, invite: string | undefined, requestOrigin: string): Promise<Redirect> {
  const p = provider(ctx, id);
  const config = await configuration(ctx, p);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const location = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri(ctx, id, requestOrigin),
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const flow: Flow = { p: id, s: state, n: nonce, v: verifier, ...(invite ? { i: invite } : {}), e: Date.now() + FLOW_TTL_MS };
  const secure = publicOrigin(ctx, requestOrigin).startsWith('https:');
  return { location: location.href, setCookie: flowCookie(signFlow(ctx, flow), FLOW_TTL_MS / 1000, secure) };
}

/** The cookie that ends a flow (sent with every callback answer). */
export function clearFlowCookie(ctx: Context, requestOrigin: string): string {
  return flowCookie('', 0, publicOrigin(ctx, requestOrigin).startsWith('https:'));
}

/** Where the web app shows a single sign-on error. */
export function ssoErrorLocation(ctx: Context, requestOrigin: string, error: unknown): string {
  const message = error instanceof ConfabError ? error.message : 'single sign-on failed; try again';
  if (!(error instanceof ConfabError)) ctx.log.error({ event: 'sso_failed', err: error }, 'single sign-on failed');
  return `${publicOrigin(ctx, requestOrigin)}${WEB_SSO_PATH}?error=${encodeURIComponent(message)}`;
}

/**
 * GET /api/auth/oidc/:id/callback: checks the flow (state against the signed cookie), exchanges
 * the provider's code (with the PKCE verifier; the ID token's nonce is checked), finds or links or
 * registers the person, and returns where the web app takes over with a one-time code.
 */
export async function finishSso(ctx: Context, id: string, query: Record<string, unknown>, cookieHeader: string | undefined, requestOrigin: string): Promise<string> {
  const p = provider(ctx, id);
  const flow = readFlow(ctx, cookieHeader);
  if (!flow || flow.p !== id || typeof query.state !== 'string' || query.state !== flow.s) {
    throw new ConfabError('FORBIDDEN', 'this sign-in is not valid or has expired (it must finish in the browser that started it, within 10 minutes); start again');
  }
  if (typeof query.error === 'string') {
    const why = typeof query.error_description === 'string' ? query.error_description : query.error;
    throw new ConfabError('UNAUTHENTICATED', `${p.name} did not sign you in: ${why.slice(0, 200)}`);
  }
  const config = await configuration(ctx, p);
  const current = new URL(redirectUri(ctx, id, requestOrigin));
  for (const [key, value] of Object.entries(query)) if (typeof value === 'string') current.searchParams.set(key, value);
  let claims: Record<string, unknown>;
  try {
    const tokens = await oidc.authorizationCodeGrant(config, current, { pkceCodeVerifier: flow.v, expectedState: flow.s, expectedNonce: flow.n, idTokenExpected: true });
    const idClaims = tokens.claims()!;
    claims = { ...idClaims };
    // Many providers (and the standard, for scope-requested claims) put e-mail and profile in userinfo only.
    if (config.serverMetadata().userinfo_endpoint) {
      const info = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      claims = { ...info, ...idClaims, ...pick(info, ['email', 'email_verified', 'name', 'preferred_username']) };
    }
  } catch (error) {
    // A replayed or expired code, a wrong nonce or signature: nothing secret is in the message.
    ctx.log.warn({ event: 'sso_code_refused', provider: id, reason: error instanceof Error ? error.message : String(error) }, 'single sign-on: the provider did not confirm a sign-in');
    throw new ConfabError('UNAUTHENTICATED', `${p.name} did not confirm this sign-in (it may have been used already or expired); start again`);
  }
  const user = await signedInPerson(ctx, p, claims, flow.i);
  const code = randomBytes(32).toString('base64url');
  await insertSsoCode(ctx.db, sha256(code), user.id, new Date(Date.now() + CODE_TTL_MS));
  void deleteOldSsoCodes(ctx.db).catch(() => {});
  return `${publicOrigin(ctx, requestOrigin)}${WEB_SSO_PATH}?code=${encodeURIComponent(code)}`;
}

function pick(from: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => from[k] !== undefined).map((k) => [k, from[k]]));
}

function refuseInactive(user: UserRow): UserRow {
  if (user.status === 'deleted') throw new ConfabError('FORBIDDEN', 'this account was deleted');
  if (user.status !== 'active') throw new ConfabError('FORBIDDEN', 'this account is deactivated; ask an admin');
  return user;
}

/**
 * Who the provider's person is here: the account linked to their subject; else the account with
 * their e-mail address, linked now, but only where the provider says it verified the address
 * (otherwise anyone could claim an address at a lax provider and take over the account); else a
 * new account, as registration allows (open, an invite, the first account).
 */
async function signedInPerson(ctx: Context, p: OidcProviderConfig, claims: Record<string, unknown>, invite: string | undefined): Promise<UserRow> {
  const subject = String(claims.sub);
  const email = typeof claims.email === 'string' && claims.email.includes('@') ? claims.email.trim().toLowerCase() : null;
  const verified = claims.email_verified === true || claims.email_verified === 'true';
  return ctx.db.transaction(async (tx) => {
    const linked = await findLinkedUser(tx, p.id, subject);
    if (linked) return refuseInactive(linked);
    const existing = email ? await findUserByLoginEmail(tx, email) : undefined;
    if (existing) {
      if (!verified) {
        throw new ConfabError('FORBIDDEN', `an account with this e-mail address exists, but ${p.name} has not verified that the address is yours, so it is not linked: sign in with your password`);
      }
      refuseInactive(existing);
      if (!(await insertIdentity(tx, { providerId: p.id, subject, userId: existing.id, email }))) throw new ConfabError('CONFLICT', 'this sign-in is being linked already; try again');
      await recordAudit(tx, existing.id, 'sso.link', { type: 'user', id: existing.id }, { provider: p.id });
      return existing;
    }
    const admitted = await admitRegistration(ctx, tx, invite);
    const user = await insertSsoUser(tx, {
      id: newId(),
      // An unverified address is not kept: it would hold the address against its real owner.
      email: verified ? email : null,
      handle: await freeHandle(tx, claims, email),
      displayName: displayNameOf(claims, email),
      role: admitted.role satisfies InstanceRole,
    });
    if (!user) throw new ConfabError('CONFLICT', 'this e-mail address or handle was just taken; try again');
    if (!(await insertIdentity(tx, { providerId: p.id, subject, userId: user.id, email }))) throw new ConfabError('CONFLICT', 'this sign-in is being registered already; try again');
    if (admitted.inviteId) await recordInviteUse(tx, user.id, admitted.inviteId, admitted.role);
    return user;
  });
}

const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

function displayNameOf(claims: Record<string, unknown>, email: string | null): string {
  return (str(claims.name) ?? str(claims.preferred_username) ?? email?.split('@')[0] ?? 'New user').slice(0, 64);
}

/** A handle from the provider's username or e-mail (the rules of protocol's Handle), with a suffix where taken. */
async function freeHandle(db: Queryable, claims: Record<string, unknown>, email: string | null): Promise<string> {
  let base = (str(claims.preferred_username) ?? email?.split('@')[0] ?? str(claims.name) ?? 'user').replace(/[^a-zA-Z0-9_.-]/g, '').slice(0, 24);
  if (base.length < 2 || ['here', 'channel'].includes(base.toLowerCase())) base = `user${base}`;
  if (!(await handleInUse(db, base))) return base;
  for (let i = 0; i < 5; i++) {
    const candidate = `${base}-${randomBytes(3).toString('hex')}`;
    if (!(await handleInUse(db, candidate))) return candidate;
  }
  throw new ConfabError('CONFLICT', 'could not find a free handle; try again');
}

/** POST /api/auth/oidc/exchange: a one-time code, once, within a minute, for a session. */
export async function exchangeSsoCode(ctx: Context, code: string, client: ClientInfo): Promise<AuthResult> {
  await ctx.limits.consume('loginPerIp', client.ip);
  return ctx.db.transaction(async (tx) => {
    const userId = await spendSsoCode(tx, sha256(code));
    const user = userId ? await findUser(tx, userId) : undefined;
    if (!user) throw new ConfabError('UNAUTHENTICATED', 'this sign-in code is not valid: it was used already or has expired; sign in again');
    refuseInactive(user);
    return { user: toMe(user), ...(await startSession(ctx, tx, user.id, client)) };
  });
}

// ---- a person's own links (account settings)

/** GET /api/users/me/sso: the providers the caller signs in with. */
export async function listLinkedSignIns(ctx: Context, userId: string): Promise<LinkedSignIns> {
  const rows = await listIdentities(ctx.db, userId);
  return {
    links: rows.map((r) => ({
      provider: r.provider_id,
      name: ctx.config.oidc.find((p) => p.id === r.provider_id)?.name ?? r.provider_id,
      email: r.email,
      linkedAt: r.created_at.toISOString(),
    })),
  };
}

/**
 * DELETE /api/users/me/sso/:id: the caller stops signing in with that provider. Refused while it is
 * their only way in (no password, no other provider): they would lock themselves out. Signing in
 * with the provider again later links again only as a first sign-in would (a verified address).
 */
export async function unlinkSignIn(ctx: Context, userId: string, providerId: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const user = await findUser(tx, userId);
    if (!user) throw new ConfabError('NOT_FOUND', 'no such user');
    const links = await listIdentities(tx, userId);
    if (!links.some((l) => l.provider_id === providerId)) throw new ConfabError('NOT_FOUND', 'this account is not linked to that provider');
    const others = links.filter((l) => l.provider_id !== providerId).length;
    if (!user.password_hash && others === 0) {
      throw new ConfabError('CONFLICT', 'this is the only way you sign in: set a password first (a reset link by e-mail), then unlink it');
    }
    await deleteIdentities(tx, userId, providerId);
    await recordAudit(tx, userId, 'sso.unlink', { type: 'user', id: userId }, { provider: providerId });
  });
}
