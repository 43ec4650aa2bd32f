import { BlockList, CloseReportBody, Id, MessageIdParams, Privacy, PutPrivacyBody, Report, ReportBody, ReportList, ReportListQuery } from '@confab/protocol';
import { z } from 'zod';
import type { Context } from '../../context.ts';
import * as consent from '../../operations/consent.ts';
import * as reports from '../../operations/reports.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

const UserIdParams = z.strictObject({ id: Id });
const ReportIdParams = z.strictObject({ id: Id });

/**
 * Blocks, privacy settings and reports (API.md, "Consent and privacy"). The /api/users/me/… paths
 * have a static segment where /api/users/:id/block has a parameter, and Fastify matches static
 * segments first: "me" is never taken for an id.
 */
export function consentRoutes(app: App, ctx: Context) {
  const security = [{ bearer: [] }];
  let tags = ['users'];
  app.post('/api/users/:id/block', { schema: { tags, security, params: UserIdParams } }, async (req, reply) => {
    await consent.blockUser(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });
  app.delete('/api/users/:id/block', { schema: { tags, security, params: UserIdParams } }, async (req, reply) => {
    await consent.unblockUser(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });
  app.get('/api/users/me/blocks', { schema: { tags, security, response: { 200: BlockList } } }, async (req) => consent.listBlocks(ctx, await requireUser(ctx, req)));
  app.get('/api/users/me/privacy', { schema: { tags, security, response: { 200: Privacy } } }, async (req) => consent.getPrivacy(ctx, await requireUser(ctx, req)));
  app.put('/api/users/me/privacy', { schema: { tags, security, body: PutPrivacyBody, response: { 200: Privacy } } }, async (req) =>
    consent.putPrivacy(ctx, await requireUser(ctx, req), req.body),
  );

  tags = ['messages'];
  app.post('/api/messages/:id/report', { schema: { tags, security, params: MessageIdParams, body: ReportBody, response: { 200: Report, 201: Report } } }, async (req, reply) => {
    const { report, created } = await reports.reportMessage(ctx, await requireUser(ctx, req), req.params.id, req.body.reason);
    return reply.status(created ? 201 : 200).send(report);
  });

  tags = ['admin'];
  app.get('/api/admin/reports', { schema: { tags, security, querystring: ReportListQuery, response: { 200: ReportList } } }, async (req) =>
    reports.listReports(ctx, await requireUser(ctx, req), req.query),
  );
  app.patch('/api/admin/reports/:id', { schema: { tags, security, params: ReportIdParams, body: CloseReportBody, response: { 200: Report } } }, async (req) =>
    reports.closeReport(ctx, await requireUser(ctx, req), req.params.id, req.body),
  );
}
