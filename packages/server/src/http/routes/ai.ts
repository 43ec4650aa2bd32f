import { ApiKeyList, ModelList, ProviderParams, PutApiKeyBody } from '@confab/protocol';
import type { Context } from '../../context.ts';
import { deleteApiKey, listApiKeys, listModels, putApiKey } from '../../operations/ai.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** Models the caller can use, and their own provider keys (BYOK: write-only). */
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
}
