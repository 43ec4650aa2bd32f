import {
  AdminSettings,
  AdminUser,
  AdminUserList,
  AdminUserQuery,
  AuditList,
  ConversationIdParams,
  ConversationRetention,
  ConversationRetentionAnswer,
  CreateInviteBody,
  Id,
  InstanceInfo,
  Invite,
  InviteList,
  PageQuery,
  PatchAdminSettingsBody,
  PatchAdminUserBody,
} from '@confab/protocol';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Context } from '../../context.ts';
import * as admin from '../../operations/admin.ts';
import * as instance from '../../operations/instance.ts';
import * as invites from '../../operations/invites.ts';
import * as retention from '../../operations/retention.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** The instance (public facts for a sign-in page) and its administration (instance admins only). */
export function adminRoutes(app: App, ctx: Context) {
  const security = [{ bearer: [] }];
  app.get('/api/instance', { schema: { tags: ['instance'], response: { 200: InstanceInfo } } }, async () => instance.getInstanceInfo(ctx));

  const tags = ['admin'];
  app.get('/api/admin/settings', { schema: { tags, security, response: { 200: AdminSettings } } }, async (req) =>
    instance.getAdminSettings(ctx, await requireUser(ctx, req)),
  );
  app.patch('/api/admin/settings', { schema: { tags, security, body: PatchAdminSettingsBody, response: { 200: AdminSettings } } }, async (req) => {
    const settings = await instance.patchAdminSettings(ctx, await requireUser(ctx, req), req.body);
    // A shorter retention applies now, not at the next maintenance round.
    if (req.body.retention) await retention.queueSweep(ctx);
    return settings;
  });
  app.get('/api/admin/conversations/:id/retention', { schema: { tags, security, params: ConversationIdParams, response: { 200: ConversationRetentionAnswer } } }, async (req) =>
    retention.getRetentionOfConversation(ctx, await requireUser(ctx, req), req.params.id),
  );
  app.put(
    '/api/admin/conversations/:id/retention',
    { schema: { tags, security, params: ConversationIdParams, body: ConversationRetention, response: { 200: ConversationRetentionAnswer } } },
    async (req) => retention.setRetentionOfConversation(ctx, await requireUser(ctx, req), req.params.id, req.body.days),
  );
  app.get('/api/admin/audit', { schema: { tags, security, querystring: PageQuery, response: { 200: AuditList } } }, async (req) =>
    instance.listAudit(ctx, await requireUser(ctx, req), req.query),
  );
  // ---- invites, users, password reset links (issue 20, admin slice) ----
  // The origin the request came to, for links when CONFAB_PUBLIC_URL is not set.
  const origin = (req: FastifyRequest) => `${req.protocol}://${req.host}`;
  const params = z.strictObject({ id: Id });
  app.post('/api/admin/invites', { schema: { tags, security, body: CreateInviteBody, response: { 201: Invite } } }, async (req, reply) =>
    reply.status(201).send(await invites.createInvite(ctx, await requireUser(ctx, req), req.body, origin(req))),
  );
  app.get('/api/admin/invites', { schema: { tags, security, response: { 200: InviteList } } }, async (req) =>
    invites.listInvites(ctx, await requireUser(ctx, req), origin(req)),
  );
  app.delete('/api/admin/invites/:id', { schema: { tags, security, params } }, async (req, reply) => {
    await invites.revokeInvite(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });
  app.get('/api/admin/users', { schema: { tags, security, querystring: AdminUserQuery, response: { 200: AdminUserList } } }, async (req) =>
    admin.listAdminUsers(ctx, await requireUser(ctx, req), req.query),
  );
  app.patch('/api/admin/users/:id', { schema: { tags, security, params, body: PatchAdminUserBody, response: { 200: AdminUser } } }, async (req) =>
    admin.patchAdminUser(ctx, await requireUser(ctx, req), req.params.id, req.body),
  );
}
