import { AdminSettings, AuditList, InstanceInfo, PageQuery, PatchAdminSettingsBody } from '@confab/protocol';
import type { Context } from '../../context.ts';
import * as instance from '../../operations/instance.ts';
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
  app.patch('/api/admin/settings', { schema: { tags, security, body: PatchAdminSettingsBody, response: { 200: AdminSettings } } }, async (req) =>
    instance.patchAdminSettings(ctx, await requireUser(ctx, req), req.body),
  );
  app.get('/api/admin/audit', { schema: { tags, security, querystring: PageQuery, response: { 200: AuditList } } }, async (req) =>
    instance.listAudit(ctx, await requireUser(ctx, req), req.query),
  );
  // ---- invites, users, password reset links (issue 20, admin slice) ----
}
