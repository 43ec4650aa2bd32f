import { AuthResult, LoginBody, LogoutBody, Me, RefreshBody, RegisterBody, TokenPair } from '@confab/protocol';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.ts';
import * as auth from '../../operations/auth.ts';
import { getMe } from '../../operations/users.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** Who is signing in, for the session's "signed-in devices" entry. */
export function clientInfo(req: FastifyRequest): auth.ClientInfo {
  const agent = req.headers['user-agent'];
  return { ip: req.ip, ...(agent ? { userAgent: agent.slice(0, 512) } : {}) };
}

export function authRoutes(app: App, ctx: Context) {
  const tags = ['auth'];
  app.post('/api/auth/register', { schema: { tags, body: RegisterBody, response: { 201: AuthResult } } }, async (req, reply) =>
    reply.status(201).send(await auth.register(ctx, req.body, clientInfo(req))),
  );
  app.post('/api/auth/login', { schema: { tags, body: LoginBody, response: { 200: AuthResult } } }, async (req) =>
    auth.login(ctx, req.body, clientInfo(req)),
  );
  app.post('/api/auth/refresh', { schema: { tags, body: RefreshBody, response: { 200: TokenPair } } }, async (req) =>
    auth.refresh(ctx, req.body.refreshToken, { ip: req.ip }),
  );
  app.post('/api/auth/logout', { schema: { tags, body: LogoutBody } }, async (req, reply) => {
    await auth.logout(ctx, req.body.refreshToken);
    return reply.status(204).send();
  });
  app.get('/api/auth/me', { schema: { tags, security: [{ bearer: [] }], response: { 200: Me } } }, async (req) =>
    getMe(ctx, await requireUser(ctx, req)),
  );
}
