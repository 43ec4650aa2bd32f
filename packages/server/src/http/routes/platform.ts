import { AuthResult, CreatedPlatformKey, CreatePlatformKeyBody, ExternalId, ExternalTokenBody, Id, MintTokensBody, PlatformKeyList, PlatformUser, PutPlatformUserBody, TokenPair } from '@confab/protocol';
import { z } from 'zod';
import type { Context } from '../../context.ts';
import * as apiKeys from '../../operations/apiKeys.ts';
import * as platform from '../../operations/platform.ts';
import type { App } from '../app.ts';
import { requireApiKey } from '../apiKeys.ts';
import { requireUser } from '../auth.ts';
import { clientInfo } from './auth.ts';

/** API keys, platform users and tokens, your own sign-in (external JWTs). */
export function platformRoutes(app: App, ctx: Context) {
  const security = [{ bearer: [] }];
  // ---- API keys (instance admins) ----
  const admin = ['admin'];
  app.post('/api/admin/api-keys', { schema: { tags: admin, security, body: CreatePlatformKeyBody, response: { 201: CreatedPlatformKey } } }, async (req, reply) =>
    reply.status(201).send(await apiKeys.createPlatformKey(ctx, await requireUser(ctx, req), req.body)),
  );
  app.get('/api/admin/api-keys', { schema: { tags: admin, security, response: { 200: PlatformKeyList } } }, async (req) =>
    apiKeys.listPlatformKeys(ctx, await requireUser(ctx, req)),
  );
  app.delete('/api/admin/api-keys/:id', { schema: { tags: admin, security, params: z.strictObject({ id: Id }) } }, async (req, reply) => {
    await apiKeys.revokePlatformKey(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });

  // ---- a developer's backend, with an API key ----
  const tags = ['platform'];
  app.put(
    '/api/platform/users/:externalId',
    { schema: { tags, security, params: z.strictObject({ externalId: ExternalId }), body: PutPlatformUserBody, response: { 200: PlatformUser, 201: PlatformUser } } },
    async (req, reply) => {
      await requireApiKey(ctx, req, 'users');
      const { user, created } = await platform.putPlatformUser(ctx, req.params.externalId, req.body);
      return reply.status(created ? 201 : 200).send(user);
    },
  );
  app.post('/api/platform/tokens', { schema: { tags, security, body: MintTokensBody, response: { 200: TokenPair } } }, async (req) => {
    await requireApiKey(ctx, req, 'tokens');
    return platform.mintTokens(ctx, req.body, clientInfo(req));
  });

  // ---- your own sign-in (public: the token is the credential) ----
  app.post('/api/auth/external', { schema: { tags: ['auth'], body: ExternalTokenBody, response: { 200: AuthResult } } }, async (req) =>
    platform.exchangeExternalToken(ctx, req.body.token, clientInfo(req)),
  );
}
