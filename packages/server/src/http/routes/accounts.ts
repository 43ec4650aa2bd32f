import { ChangePasswordBody, Id, PasswordBody, PasswordResetBody, PasswordResetLink, PasswordResetRequestBody, SessionList } from '@confab/protocol';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Context } from '../../context.ts';
import * as accounts from '../../operations/accounts.ts';
import { exportData } from '../../operations/exportData.ts';
import type { App } from '../app.ts';
import { requireSession, requireUser } from '../auth.ts';

const IdParams = z.strictObject({ id: Id });

/** Where links in e-mails and admin answers point when CONFAB_PUBLIC_URL is unset: the origin the request came to. */
const requestOrigin = (req: FastifyRequest) => `${req.protocol}://${req.host}`;

/** A user's own account: password, sessions, deletion, export (API.md, "Accounts"); admins' reset links and deletion. */
export function accountRoutes(app: App, ctx: Context) {
  const tags = ['accounts'];
  const security = [{ bearer: [] }];

  app.post('/api/auth/password', { schema: { tags, security, body: ChangePasswordBody } }, async (req, reply) => {
    const { userId, sessionId } = await requireSession(ctx, req);
    await accounts.changePassword(ctx, userId, sessionId, req.body, req.ip);
    return reply.status(204).send();
  });
  app.post('/api/auth/password-reset', { schema: { tags, body: PasswordResetBody } }, async (req, reply) => {
    await accounts.resetPassword(ctx, req.body, req.ip);
    return reply.status(204).send();
  });
  app.post('/api/auth/password-reset/request', { schema: { tags, body: PasswordResetRequestBody } }, async (req, reply) => {
    await accounts.requestPasswordReset(ctx, req.body.email, requestOrigin(req), req.ip);
    return reply.status(204).send();
  });

  app.get('/api/auth/sessions', { schema: { tags, security, response: { 200: SessionList } } }, async (req) => {
    const { userId, sessionId } = await requireSession(ctx, req);
    return accounts.listSessions(ctx, userId, sessionId);
  });
  app.delete('/api/auth/sessions/:id', { schema: { tags, security, params: IdParams } }, async (req, reply) => {
    await accounts.endSession(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });
  app.delete('/api/auth/sessions', { schema: { tags, security } }, async (req, reply) => {
    const { userId, sessionId } = await requireSession(ctx, req);
    await accounts.endOtherSessions(ctx, userId, sessionId);
    return reply.status(204).send();
  });

  app.delete('/api/users/me', { schema: { tags, security, body: PasswordBody } }, async (req, reply) => {
    await accounts.deleteOwnAccount(ctx, await requireUser(ctx, req), req.body.password, req.ip);
    return reply.status(204).send();
  });
  app.get('/api/users/me/export', { schema: { tags, security } }, async (req, reply) => {
    const doc = await exportData(ctx, await requireUser(ctx, req));
    return reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('content-disposition', `attachment; filename="${doc.filename}"`)
      .header('cache-control', 'no-store')
      .send(doc.body);
  });

  const admin = ['admin'];
  app.post('/api/admin/users/:id/password-reset', { schema: { tags: admin, security, params: IdParams, response: { 200: PasswordResetLink } } }, async (req) =>
    accounts.createPasswordResetLink(ctx, req.params.id, requestOrigin(req), await requireUser(ctx, req)),
  );
  app.delete('/api/admin/users/:id', { schema: { tags: admin, security, params: IdParams } }, async (req, reply) => {
    await accounts.deleteUserAsAdmin(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });
}
