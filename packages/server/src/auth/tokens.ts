import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { LRUCache } from 'lru-cache';
import { ConfabError } from '@confab/protocol';

export interface AccessClaims {
  userId: string;
  sessionId: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

const ISSUER = 'confab';

export async function signAccessToken(key: Uint8Array, userId: string, sessionId: string, ttlSeconds: number): Promise<string> {
  return new SignJWT({ sid: sessionId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(key);
}

/**
 * Tokens verified already, per key. Verifying is pure (signature, issuer, expiry), and a client
 * presents the same token on every REST call and on every reconnect of every tab until it refreshes,
 * while each WebCrypto HMAC verification holds the event loop (in a reconnect storm, a visible share
 * of the server's CPU; figures in docs/benchmarks.md). A cached entry is used only until the token expires. Whether the token's
 * session is still live is not cached: callers check that every time.
 */
const verified = new WeakMap<Uint8Array, LRUCache<string, AccessClaims>>();

/** Verifies signature (HS256 only: `alg: none` and others are refused), issuer and expiry. */
export async function verifyAccessToken(key: Uint8Array, token: string): Promise<AccessClaims> {
  let cache = verified.get(key);
  if (!cache) verified.set(key, (cache = new LRUCache({ max: 10_000 })));
  const known = cache.get(token);
  if (known && known.exp > Date.now() / 1000) return known;
  const claims = await verifyUncached(key, token);
  cache.set(token, claims);
  return claims;
}

async function verifyUncached(key: Uint8Array, token: string): Promise<AccessClaims> {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer: ISSUER });
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.exp !== 'number') {
      throw new ConfabError('UNAUTHENTICATED', 'malformed access token');
    }
    return { userId: payload.sub, sessionId: payload.sid, exp: payload.exp };
  } catch (error) {
    if (error instanceof ConfabError) throw error;
    if (error instanceof joseErrors.JWTExpired) throw new ConfabError('UNAUTHENTICATED', 'access token expired');
    throw new ConfabError('UNAUTHENTICATED', 'invalid access token');
  }
}

export function newRefreshToken(): string {
  return randomBytes(32).toString('base64url');
}
