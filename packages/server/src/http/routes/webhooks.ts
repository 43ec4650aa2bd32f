import { CreatedWebhook, CreateWebhookBody, Id, PageQuery, UpdateWebhookBody, Webhook, WebhookDeliveryList, WebhookList } from '@confab/protocol';
import { z } from 'zod';
import type { Context } from '../../context.ts';
import * as webhooks from '../../operations/webhooks.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** Outgoing webhooks (admins) and their delivery log. */
export function webhookRoutes(app: App, ctx: Context) {
  const security = [{ bearer: [] }];
  const tags = ['webhooks'];
  const params = z.strictObject({ id: Id });
  app.post('/api/admin/webhooks', { schema: { tags, security, body: CreateWebhookBody, response: { 201: CreatedWebhook } } }, async (req, reply) =>
    reply.status(201).send(await webhooks.createWebhook(ctx, await requireUser(ctx, req), req.body)),
  );
  app.get('/api/admin/webhooks', { schema: { tags, security, response: { 200: WebhookList } } }, async (req) => webhooks.listWebhooks(ctx, await requireUser(ctx, req)));
  app.get('/api/admin/webhooks/:id', { schema: { tags, security, params, response: { 200: Webhook } } }, async (req) =>
    webhooks.getWebhook(ctx, await requireUser(ctx, req), req.params.id),
  );
  app.patch('/api/admin/webhooks/:id', { schema: { tags, security, params, body: UpdateWebhookBody, response: { 200: Webhook } } }, async (req) =>
    webhooks.updateWebhook(ctx, await requireUser(ctx, req), req.params.id, req.body),
  );
  app.delete('/api/admin/webhooks/:id', { schema: { tags, security, params } }, async (req, reply) => {
    await webhooks.deleteWebhook(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });
  app.get('/api/admin/webhooks/:id/deliveries', { schema: { tags, security, params, querystring: PageQuery, response: { 200: WebhookDeliveryList } } }, async (req) =>
    webhooks.listWebhookDeliveries(ctx, await requireUser(ctx, req), req.params.id, req.query),
  );
  app.post(
    '/api/admin/webhooks/:id/deliveries/:deliveryId/retry',
    { schema: { tags, security, params: z.strictObject({ id: Id, deliveryId: Id }) } },
    async (req, reply) => {
      await webhooks.retryWebhookDelivery(ctx, await requireUser(ctx, req), req.params.id, req.params.deliveryId);
      return reply.status(204).send();
    },
  );
}
