import { DeletePushSubscriptionBody, NotificationSettings, PushSubscriptionBody, PushSubscriptionInfo, PushSubscriptionList, UpdateNotificationSettingsBody, VapidPublicKey } from '@confab/protocol';
import type { Context } from '../../context.ts';
import * as notifications from '../../operations/notifications.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** Web push subscriptions (one per device) and the caller's notification settings. */
export function pushRoutes(app: App, ctx: Context) {
  const tags = ['notifications'];
  const security = [{ bearer: [] }];
  app.get('/api/push/vapid-public-key', { schema: { tags, security, response: { 200: VapidPublicKey } } }, async (req) => {
    await requireUser(ctx, req);
    return { publicKey: ctx.push.publicKey };
  });
  app.get('/api/push/subscriptions', { schema: { tags, security, response: { 200: PushSubscriptionList } } }, async (req) => ({
    subscriptions: await notifications.listPushSubscriptions(ctx, await requireUser(ctx, req)),
  }));
  app.post('/api/push/subscriptions', { schema: { tags, security, body: PushSubscriptionBody, response: { 201: PushSubscriptionInfo } } }, async (req, reply) =>
    reply.status(201).send(await notifications.subscribePush(ctx, await requireUser(ctx, req), req.body)),
  );
  app.delete('/api/push/subscriptions', { schema: { tags, security, body: DeletePushSubscriptionBody } }, async (req, reply) => {
    await notifications.unsubscribePush(ctx, await requireUser(ctx, req), req.body.endpoint);
    return reply.status(204).send();
  });
  app.get('/api/users/me/notifications', { schema: { tags, security, response: { 200: NotificationSettings } } }, async (req) =>
    notifications.getNotificationSettings(ctx, await requireUser(ctx, req)),
  );
  app.put('/api/users/me/notifications', { schema: { tags, security, body: UpdateNotificationSettingsBody, response: { 200: NotificationSettings } } }, async (req) =>
    notifications.updateNotificationSettings(ctx, await requireUser(ctx, req), req.body),
  );
}
