import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
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

/** Verifies signature (HS256 only: `alg: none` and others are refused), issuer and expiry. */
export async function verifyAccessToken(key: Uint8Array, token: string): Promise<AccessClaims> {
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
