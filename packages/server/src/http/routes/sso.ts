import { AuthResult, LinkedSignIns, SsoCallbackQuery, SsoExchangeBody, SsoProviderParams, SsoStartQuery } from '@confab/protocol';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.ts';
import * as sso from '../../operations/sso.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';
import { clientInfo } from './auth.ts';

const requestOrigin = (req: FastifyRequest) => `${req.protocol}://${req.host}`;

/**
 * Single sign-on with OpenID Connect (operations/sso.ts). start and callback are browser
 * navigations: whatever goes wrong there is shown by the web app (/sso?error=…), not as JSON.
 */
export function ssoRoutes(app: App, ctx: Context) {
  const tags = ['auth'];
  app.get('/api/auth/oidc/:id/start', { schema: { tags, params: SsoProviderParams, querystring: SsoStartQuery } }, async (req, reply) => {
    try {
      const { location, setCookie } = await sso.startSso(ctx, req.params.id, req.query.invite, requestOrigin(req));
      return reply.header('set-cookie', setCookie).header('cache-control', 'no-store').redirect(location, 302);
    } catch (error) {
      return reply.header('cache-control', 'no-store').redirect(sso.ssoErrorLocation(ctx, requestOrigin(req), error), 302);
    }
  });
  app.get('/api/auth/oidc/:id/callback', { schema: { tags, params: SsoProviderParams, querystring: SsoCallbackQuery } }, async (req, reply) => {
    reply.header('set-cookie', sso.clearFlowCookie(ctx, requestOrigin(req))).header('cache-control', 'no-store');
    try {
      return reply.redirect(await sso.finishSso(ctx, req.params.id, req.query, req.headers.cookie, requestOrigin(req)), 302);
    } catch (error) {
      return reply.redirect(sso.ssoErrorLocation(ctx, requestOrigin(req), error), 302);
    }
  });
  app.post('/api/auth/oidc/exchange', { schema: { tags, body: SsoExchangeBody, response: { 200: AuthResult } } }, async (req) =>
    sso.exchangeSsoCode(ctx, req.body.code, clientInfo(req)),
  );
  // The caller's own links (account settings): which providers they sign in with, and unlinking one.
  const security = [{ bearer: [] }];
  app.get('/api/users/me/sso', { schema: { tags, security, response: { 200: LinkedSignIns } } }, async (req) => sso.listLinkedSignIns(ctx, await requireUser(ctx, req)));
  app.delete('/api/users/me/sso/:id', { schema: { tags, security, params: SsoProviderParams } }, async (req, reply) => {
    await sso.unlinkSignIn(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });
}
