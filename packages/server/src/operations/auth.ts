import { ConfabError, type AuthResult, type LoginBody, type RegisterBody, type TokenPair } from '@confab/protocol';
import type { Context } from '../context.ts';
import { dummyPasswordHash, hashPassword, verifyPassword } from '../auth/passwords.ts';
import { newRefreshToken, signAccessToken, verifyAccessToken, type AccessClaims } from '../auth/tokens.ts';
import { sha256 } from '../crypto/keyring.ts';
import { newId } from '../ids.ts';
import { touchSession } from '../storage/accounts.ts';
import { Batcher, getOrCreate, RECONNECT_GATHER_MS } from '../storage/batcher.ts';
import type { Queryable } from '../storage/db.ts';
import { findRefreshToken, insertRefreshToken, insertSession, isSessionLive, liveSocketSessions, revokeLiveSessions, spendRefreshToken } from '../storage/sessions.ts';
import type { UserRow } from '../storage/rows.ts';
import { findUserByLoginEmail, findUsersWithEmailOrHandle, insertUser } from '../storage/users.ts';
import { admitRegistration, recordInviteUse } from './invites.ts';
import { checkSecondFactor } from './totp.ts';
import { toMe } from './users.ts';

/** Who is calling, as the transports know it. */
export interface ClientInfo {
  ip: string;
  /** The User-Agent header (at most 512 characters), kept with a new session. */
  userAgent?: string | undefined;
}

async function issueTokens(ctx: Context, db: Queryable, userId: string, sessionId: string): Promise<TokenPair> {
  const refreshToken = newRefreshToken();
  const expiresAt = new Date(Date.now() + ctx.config.refreshTokenTtlDays * 86_400_000);
  await insertRefreshToken(db, sha256(refreshToken), sessionId, expiresAt);
  const accessToken = await signAccessToken(ctx.keys.jwtKey, userId, sessionId, ctx.config.accessTokenTtlSeconds);
  return { accessToken, refreshToken };
}

async function startSession(ctx: Context, db: Queryable, userId: string, client: ClientInfo): Promise<TokenPair> {
  const sessionId = newId();
  await insertSession(db, sessionId, userId, client);
  return issueTokens(ctx, db, userId, sessionId);
}

export async function register(ctx: Context, body: RegisterBody, client: ClientInfo): Promise<AuthResult> {
  await ctx.limits.consume('registerPerIp', client.ip);
  const passwordHash = await hashPassword(body.password, ctx.config.fastPasswordHashing);
  return ctx.db.transaction(async (tx) => {
    // Registration mode and invite (operations/invites.ts); the first person becomes the owner.
    const admitted = await admitRegistration(ctx, tx, body.inviteToken);
    // The unique indexes decide; a pre-check only gives the nicer message for the common case.
    const taken = await findUsersWithEmailOrHandle(tx, body.email, body.handle);
    if (taken.some((u) => u.email?.toLowerCase() === body.email.toLowerCase())) throw new ConfabError('CONFLICT', 'this email is already registered');
    if (taken.length > 0) throw new ConfabError('CONFLICT', 'this handle is taken');
    const user = await insertUser(tx, { id: newId(), email: body.email, handle: body.handle, displayName: body.displayName, passwordHash, role: admitted.role });
    if (!user) throw new ConfabError('CONFLICT', 'this email or handle is taken');
    if (admitted.inviteId) await recordInviteUse(tx, user.id, admitted.inviteId, admitted.role);
    return { user: toMe(user), ...(await startSession(ctx, tx, user.id, client)) };
  });
}

export async function login(ctx: Context, body: LoginBody, client: ClientInfo): Promise<AuthResult> {
  await ctx.limits.consume('loginPerIp', client.ip);
  let user: UserRow | undefined;
  /** Why a sign-in whose password was right is refused anyway. */
  let refusal: ConfabError | undefined;
  // The attempt is counted before the password is verified (see guardLogin), never after. Only a
  // sign-in that goes through is a success: a missing or wrong second factor counts as a failed
  // attempt, so codes cannot be guessed faster than passwords.
  const ok = await ctx.limits.guardLogin(body.email, client.ip, async () => {
    user = await findUserByLoginEmail(ctx.db, body.email);
    // Verify against a dummy hash for unknown accounts so response time does not reveal which exist.
    const passwordOk = await verifyPassword(user?.password_hash ?? (await dummyPasswordHash(ctx.config.fastPasswordHashing)), body.password);
    // A deleted account answers as a wrong password does: it does not exist any more.
    if (!user || !passwordOk || user.status === 'deleted') return false;
    // Said only to someone who knows the password.
    if (user.status !== 'active') {
      refusal = new ConfabError('FORBIDDEN', 'this account is deactivated; ask an admin');
      return false;
    }
    const second = await checkSecondFactor(ctx, user, body.totpCode);
    if (second === 'ok') return true;
    refusal = new ConfabError(
      'UNAUTHENTICATED',
      second === 'missing' ? 'enter the code from your authenticator app, or a recovery code' : 'wrong or already used code',
      { totpRequired: true },
    );
    return false;
  });
  if (refusal) throw refusal;
  if (!user || !ok) throw new ConfabError('UNAUTHENTICATED', 'wrong email or password');
  const found = user;
  return ctx.db.transaction(async (tx) => ({ user: toMe(found), ...(await startSession(ctx, tx, found.id, client)) }));
}

/**
 * Rotates a refresh token. A token is spent by an atomic UPDATE ... WHERE used_at IS NULL, so two
 * concurrent refreshes with one token cannot both win. Presenting a spent token means it was
 * copied: the whole session is revoked, for the thief and the owner alike.
 */
export async function refresh(ctx: Context, refreshToken: string, client: ClientInfo): Promise<TokenPair> {
  await ctx.limits.consume('refreshPerIp', client.ip);
  const hash = sha256(refreshToken);
  const outcome = await ctx.db.transaction(async (tx) => {
    const spent = await spendRefreshToken(tx, hash);
    if (spent) {
      await touchSession(tx, spent.session_id);
      return { tokens: await issueTokens(ctx, tx, spent.user_id, spent.session_id) };
    }
    const known = await findRefreshToken(tx, hash);
    if (known?.used_at) {
      const ended = await revokeSessions(tx, { sessionIds: [known.session_id] });
      return { reused: ended };
    }
    return {};
  });
  if (outcome.tokens) return outcome.tokens;
  if (outcome.reused) {
    announceEndedSessions(ctx, outcome.reused);
    ctx.log.warn({ event: 'refresh_token_reuse' }, 'a spent refresh token was presented; its session is revoked');
    throw new ConfabError('UNAUTHENTICATED', 'this refresh token was already used; the session has been signed out');
  }
  throw new ConfabError('UNAUTHENTICATED', 'invalid or expired refresh token');
}

/** Ends the session the refresh token belongs to. Unknown tokens are accepted silently (idempotent). */
export async function logout(ctx: Context, refreshToken: string): Promise<void> {
  await endSessions(ctx, { refreshTokenHash: sha256(refreshToken) });
}

/**
 * Which sessions to end: those of one user (all, or the listed ones, or all but one), or the
 * session a refresh token belongs to, or the listed sessions of whoever owns them.
 */
export type SessionSelector =
  | { userId: string; sessionIds?: string[] | undefined; exceptSessionId?: string | undefined }
  | { sessionIds: string[] }
  | { refreshTokenHash: string };

/** Revoked sessions, grouped by user. */
export type EndedSessions = Array<{ userId: string; sessionIds: string[] }>;

async function revokeSessions(db: Queryable, which: SessionSelector): Promise<EndedSessions> {
  const by = 'refreshTokenHash' in which ? { hash: which.refreshTokenHash } : which;
  // A selector that names nothing must not end every session there is.
  if (!('userId' in by && by.userId) && !('hash' in by && by.hash) && !('sessionIds' in by && by.sessionIds)) return [];
  const rows = await revokeLiveSessions(db, {
    userId: 'userId' in by ? by.userId : null,
    sessionIds: 'sessionIds' in by ? (by.sessionIds ?? null) : null,
    exceptSessionId: 'exceptSessionId' in by ? (by.exceptSessionId ?? null) : null,
    refreshTokenHash: 'hash' in by ? by.hash : null,
  });
  const byUser = new Map<string, string[]>();
  for (const r of rows) byUser.set(r.user_id, [...(byUser.get(r.user_id) ?? []), r.id]);
  return [...byUser].map(([userId, sessionIds]) => ({ userId, sessionIds }));
}

function announceEndedSessions(ctx: Context, ended: EndedSessions): void {
  for (const e of ended) ctx.bus.publish({ type: 'sessions_ended', userId: e.userId, sessionIds: e.sessionIds });
}

/**
 * THE way sessions end (logout, refresh-token reuse; deactivating a user, deleting a session,
 * a password change): revoked in the database, which REST checks on every request, and their live
 * sockets closed on every node: on this one at once, on the others by a Redis broadcast, and if
 * that is lost, by each node's check of recent revocations once a second (realtime/gateway.ts).
 * Returns what was ended (sessions already ended are not repeated). Runs on its own, after any
 * transaction that decided it: the sockets must not be closed before the revocation is committed
 * (a client reconnecting at once would be let in again).
 */
export async function endSessions(ctx: Context, which: SessionSelector): Promise<EndedSessions> {
  const ended = await revokeSessions(ctx.db, which);
  announceEndedSessions(ctx, ended);
  return ended;
}

/**
 * Checks an access token: signature, expiry, and that its session is still live (logout and
 * refresh-token reuse revoke at once, not only when the token expires).
 */
export async function authenticate(ctx: Context, token: string | undefined): Promise<AccessClaims> {
  if (!token) throw new ConfabError('UNAUTHENTICATED', 'missing access token');
  const claims = await verifyAccessToken(ctx.keys.jwtKey, token);
  if (!(await isSessionLive(ctx.db, claims.sessionId, claims.userId))) throw new ConfabError('UNAUTHENTICATED', 'this session has ended; sign in again');
  return claims;
}

/** What a socket's handshake needs beyond its token: see socketSession. */
export interface SocketSession {
  displayName: string;
  conversationIds: string[];
  /** The user hides their presence (privacy's showLastSeen false): their online changes are not announced. */
  hidden: boolean;
}

const socketSessionBatchers = new WeakMap<Context, Batcher<AccessClaims, SocketSession | undefined>>();

/**
 * The rest of a socket's handshake once its token's signature checked out: the session is still
 * live (as in authenticate), plus the user's display name (for typing events) and every
 * conversation of the user (its rooms). Undefined when the session has ended or the user is gone.
 * Batched: after a restart thousands of sockets reconnect within seconds, and one statement
 * answers every handshake waiting (many of them the same user's tabs and devices).
 */
export function socketSession(ctx: Context, claims: AccessClaims): Promise<SocketSession | undefined> {
  const batcher = getOrCreate(socketSessionBatchers, ctx, () => new Batcher((batch: AccessClaims[]) => loadSocketSessions(ctx, batch), { maxConcurrent: ctx.db.kind === 'embedded' ? 1 : 2, maxBatch: 500, spareAfterMs: 25, gatherMs: RECONNECT_GATHER_MS }));
  return batcher.load(claims);
}

async function loadSocketSessions(ctx: Context, batch: AccessClaims[]): Promise<Array<SocketSession | undefined>> {
  const key = (c: AccessClaims) => `${c.userId} ${c.sessionId}`;
  const distinct = [...new Map(batch.map((c) => [key(c), c])).values()];
  const rows = await liveSocketSessions(
    ctx.db,
    distinct.map((c) => c.userId),
    distinct.map((c) => c.sessionId),
  );
  const found = new Map(rows.map((r) => [`${r.user_id} ${r.session_id}`, { displayName: r.display_name, conversationIds: r.conversation_ids, hidden: !r.show_last_seen }]));
  return batch.map((c) => found.get(key(c)));
}
