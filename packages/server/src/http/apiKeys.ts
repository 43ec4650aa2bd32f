import { ConfabError, type PlatformKeyScope } from '@confab/protocol';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.ts';
import { authenticateKey, isApiKey, requireScope, type KeyCaller } from '../operations/apiKeys.ts';
import { platformUserToActAs } from '../operations/platform.ts';

// Requests from a developer's backend with an API key (`Authorization: Bearer cfk_…`; docs/platform.md).
// The platform routes (/api/platform/…) take only keys. Message and conversation routes take a key
// with the `messages` / `conversations` scope too, acting as the platform user `Confab-Act-As` names.

/** The header naming the platform user (their externalId) a key acts as. */
export const ACT_AS_HEADER = 'confab-act-as';

/** Routes that take an API key instead of a user's token: the hook authenticates the key for them. */
export function isKeyRoute(url: string | undefined): boolean {
  return url !== undefined && url.startsWith('/api/platform/');
}

const keys = new WeakMap<FastifyRequest, KeyCaller>();

/** The bearer token when it is an API key. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  return match && isApiKey(match[1]!) ? match[1] : undefined;
}

async function keyCaller(ctx: Context, request: FastifyRequest, key: string): Promise<KeyCaller> {
  const known = keys.get(request);
  if (known) return known;
  const caller = await authenticateKey(ctx, key);
  await ctx.limits.consume('apiPerUser', `api-key:${caller.id}`);
  keys.set(request, caller);
  return caller;
}

/**
 * The API key of the request: UNAUTHENTICATED without one (a user's access token is not a key) or
 * for an unknown or revoked one; FORBIDDEN when it lacks `scope`.
 */
export async function requireApiKey(ctx: Context, request: FastifyRequest, scope?: PlatformKeyScope): Promise<KeyCaller> {
  const key = presentedKey(request);
  if (!key) throw new ConfabError('UNAUTHENTICATED', 'this route takes an API key: "Authorization: Bearer cfk_…"');
  const caller = await keyCaller(ctx, request, key);
  if (scope) requireScope(caller, scope);
  return caller;
}

/** Which scope lets a key act as a user on this route; undefined where keys may not act as users. */
function actAsScope(url: string | undefined): PlatformKeyScope | undefined {
  if (!url) return undefined;
  if (url.startsWith('/api/messages') || /^\/api\/conversations\/[^/]+\/messages/.test(url)) return 'messages';
  if (url.startsWith('/api/conversations')) return 'conversations';
  return undefined;
}

/**
 * An API key on a user's route (called by requireUser): with the route's scope, the key acts as
 * the active platform user named by `Confab-Act-As`. Such a request has no session.
 */
export async function userForKey(ctx: Context, request: FastifyRequest, key: string): Promise<string> {
  const caller = await keyCaller(ctx, request, key);
  const scope = actAsScope(request.routeOptions.url);
  if (!scope) throw new ConfabError('FORBIDDEN', 'an API key may only call /api/platform/… routes, and message and conversation routes as a platform user (Confab-Act-As)');
  requireScope(caller, scope);
  const externalId = request.headers[ACT_AS_HEADER];
  if (typeof externalId !== 'string' || !externalId) throw new ConfabError('FORBIDDEN', 'name the platform user this key acts as: "Confab-Act-As: <externalId>"');
  const userId = await platformUserToActAs(ctx, externalId);
  await ctx.limits.consume('apiPerUser', userId);
  request.userId = userId;
  request.sessionId = undefined;
  return userId;
}
