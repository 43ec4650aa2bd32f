import { AdminUsage, ApiKeyList, ModelList, ProviderParams, PutApiKeyBody, Usage, UsageQuery } from '@confab/protocol';
import type { Context } from '../../context.ts';
import { deleteApiKey, listApiKeys, listModels, putApiKey } from '../../operations/ai.ts';
import { getAdminUsage, getUsage } from '../../operations/usage.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** Models the caller can use, their own provider keys (BYOK: write-only), and AI usage. */
export function aiRoutes(app: App, ctx: Context) {
  const tags = ['ai'];
  const security = [{ bearer: [] }];
  app.get('/api/models', { schema: { tags, security, response: { 200: ModelList } } }, async (req) => listModels(ctx, await requireUser(ctx, req)));
  app.get('/api/users/me/keys', { schema: { tags, security, response: { 200: ApiKeyList } } }, async (req) => listApiKeys(ctx, await requireUser(ctx, req)));
  app.put('/api/users/me/keys/:provider', { schema: { tags, security, params: ProviderParams, body: PutApiKeyBody } }, async (req, reply) => {
    await putApiKey(ctx, await requireUser(ctx, req), req.params.provider, req.body.apiKey);
    return reply.status(204).send();
  });
  app.delete('/api/users/me/keys/:provider', { schema: { tags, security, params: ProviderParams } }, async (req, reply) => {
    await deleteApiKey(ctx, await requireUser(ctx, req), req.params.provider);
    return reply.status(204).send();
  });
  // Usage of the server's keys per UTC day (API.md, "AI governance").
  app.get('/api/users/me/usage', { schema: { tags, security, querystring: UsageQuery, response: { 200: Usage } } }, async (req) =>
    getUsage(ctx, await requireUser(ctx, req), req.query.days),
  );
  app.get('/api/admin/usage', { schema: { tags, security, querystring: UsageQuery, response: { 200: AdminUsage } } }, async (req) =>
    getAdminUsage(ctx, await requireUser(ctx, req), req.query.days),
  );
}
