import {
  ConversationIdParams,
  CreatedIncomingHook,
  CreateIncomingHookBody,
  IncomingHookList,
  IncomingHookParams,
  IncomingHookPostBody,
  IncomingHookPostParams,
  Message,
} from '@confab/protocol';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.ts';
import * as hooks from '../../operations/incomingHooks.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** Incoming webhooks: a URL that posts into one conversation. */
export function incomingHookRoutes(app: App, ctx: Context) {
  const tags = ['incoming hooks'];
  const security = [{ bearer: [] }];
  // The origin the request came to, for the hook's URL when CONFAB_PUBLIC_URL is not set.
  const origin = (req: FastifyRequest) => `${req.protocol}://${req.host}`;
  app.post(
    '/api/conversations/:id/hooks',
    { schema: { tags, security, params: ConversationIdParams, body: CreateIncomingHookBody, response: { 201: CreatedIncomingHook } } },
    async (req, reply) => reply.status(201).send(await hooks.createIncomingHook(ctx, await requireUser(ctx, req), req.params.id, req.body.name, origin(req))),
  );
  app.get('/api/conversations/:id/hooks', { schema: { tags, security, params: ConversationIdParams, response: { 200: IncomingHookList } } }, async (req) =>
    hooks.listIncomingHooks(ctx, await requireUser(ctx, req), req.params.id),
  );
  app.delete('/api/conversations/:id/hooks/:hookId', { schema: { tags, security, params: IncomingHookParams } }, async (req, reply) => {
    await hooks.deleteIncomingHook(ctx, await requireUser(ctx, req), req.params.id, req.params.hookId);
    return reply.status(204).send();
  });
  // No authentication but the URL's token (http/auth.ts, PUBLIC_ROUTES).
  app.post(
    '/api/hooks/:hookId/:token',
    { schema: { tags, params: IncomingHookPostParams, body: IncomingHookPostBody, response: { 201: Message } } },
    async (req, reply) => reply.status(201).send(await hooks.postToIncomingHook(ctx, req.params.hookId, req.params.token, req.body.content)),
  );
}
