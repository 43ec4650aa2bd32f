import { AuthResult, LoginBody, LogoutBody, Me, RefreshBody, RegisterBody, TokenPair } from '@confab/protocol';
import type { Context } from '../../context.ts';
import * as auth from '../../operations/auth.ts';
import { getMe } from '../../operations/users.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

export function authRoutes(app: App, ctx: Context) {
  const tags = ['auth'];
  app.post('/api/auth/register', { schema: { tags, body: RegisterBody, response: { 201: AuthResult } } }, async (req, reply) =>
    reply.status(201).send(await auth.register(ctx, req.body, { ip: req.ip })),
  );
  app.post('/api/auth/login', { schema: { tags, body: LoginBody, response: { 200: AuthResult } } }, async (req) =>
    auth.login(ctx, req.body, { ip: req.ip }),
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
