import { ConfabError } from '@confab/protocol';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../context.ts';
import { authenticate } from '../operations/auth.ts';

declare module 'fastify' {
  interface FastifyRequest {
    userId: string | undefined;
  }
}

/** Reads the bearer token, checks it and the per-user request rate; returns the caller's user id. */
export async function requireUser(ctx: Context, request: FastifyRequest): Promise<string> {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (header && !match) throw new ConfabError('UNAUTHENTICATED', 'Authorization must be "Bearer <accessToken>"');
  const claims = await authenticate(ctx, match?.[1]);
  await ctx.limits.consume('apiPerUser', claims.userId);
  request.userId = claims.userId;
  return claims.userId;
}
