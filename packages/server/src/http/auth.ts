import { ConfabError } from '@confab/protocol';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.ts';
import { authenticate } from '../operations/auth.ts';
import { presentedKey, userForKey } from './apiKeys.ts';

declare module 'fastify' {
  interface FastifyRequest {
    userId: string | undefined;
    /** The session of the access token, set with userId. */
    sessionId: string | undefined;
  }
}

/** Routes anyone may call; every other route authenticates before its input is even parsed. */
const PUBLIC_ROUTES = new Set([
  '/api/instance',
  '/api/auth/password-reset',
  '/api/auth/password-reset/request',
  '/api/auth/external',
  // Single sign-on (route patterns: the hook is given the route's pattern, not the path).
  '/api/auth/oidc/:id/start', '/api/auth/oidc/:id/callback', '/api/auth/oidc/exchange',
  '/api/auth/register', '/api/auth/login', '/api/auth/refresh', '/api/auth/logout', '/api/docs', '/healthz', '/readyz', '/metrics',
  // An incoming webhook's URL: its token is the authentication (operations/incomingHooks.ts).
  // These are route patterns (routeOptions.url), so this one entry covers every hook and nothing else.
  '/api/hooks/:hookId/:token',
  // A shared snapshot: its unguessable id is the key (operations/shares.ts).
  '/api/shared/:id']);

export function isPublicRoute(url: string | undefined): boolean {
  return url === undefined || PUBLIC_ROUTES.has(url) || !url.startsWith('/api/');
}

/**
 * Reads the bearer token, checks it and the per-user request rate; returns the caller's user id.
 * Runs in an onRequest hook for non-public routes (so an anonymous caller gets 401, never a
 * validation error that describes the route); handlers call it again for the id, which is cached.
 */
export async function requireUser(ctx: Context, request: FastifyRequest): Promise<string> {
  if (request.userId) return request.userId;
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (header && !match) throw new ConfabError('UNAUTHENTICATED', 'Authorization must be "Bearer <accessToken>"');
  // A developer's backend with an API key, acting as one of its users (http/apiKeys.ts).
  const apiKey = presentedKey(request);
  if (apiKey) return userForKey(ctx, request, apiKey);
  const claims = await authenticate(ctx, match?.[1]);
  await ctx.limits.consume('apiPerUser', claims.userId);
  request.userId = claims.userId;
  request.sessionId = claims.sessionId;
  return claims.userId;
}

/** As requireUser, with the session the access token belongs to (signed-in devices: "this one"). */
export async function requireSession(ctx: Context, request: FastifyRequest): Promise<{ userId: string; sessionId: string }> {
  const userId = await requireUser(ctx, request);
  if (!request.sessionId) throw new ConfabError('UNAUTHENTICATED', 'this needs a signed-in session');
  return { userId, sessionId: request.sessionId };
}
