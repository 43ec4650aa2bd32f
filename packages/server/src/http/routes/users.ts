import { Id, Me, PublicUser, Settings, UpdateMeBody, UserList, UserSearchQuery } from '@confab/protocol';
import { z } from 'zod';
import type { Context } from '../../context.ts';
import * as users from '../../operations/users.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

export function userRoutes(app: App, ctx: Context) {
  const tags = ['users'];
  const security = [{ bearer: [] }];
  app.get('/api/users', { schema: { tags, security, querystring: UserSearchQuery, response: { 200: UserList } } }, async (req) => ({
    users: await users.searchUsers(ctx, await requireUser(ctx, req), req.query.query, req.query.limit),
  }));
  // Registered before /api/users/:id so "me" is never taken for an id.
  app.patch('/api/users/me', { schema: { tags, security, body: UpdateMeBody, response: { 200: Me } } }, async (req) =>
    users.updateMe(ctx, await requireUser(ctx, req), req.body),
  );
  app.get('/api/users/me/settings', { schema: { tags, security, response: { 200: Settings } } }, async (req) =>
    users.getSettings(ctx, await requireUser(ctx, req)),
  );
  app.put('/api/users/me/settings', { schema: { tags, security, body: Settings, response: { 200: Settings } } }, async (req) =>
    users.putSettings(ctx, await requireUser(ctx, req), req.body),
  );
  app.get('/api/users/:id', { schema: { tags, security, params: z.strictObject({ id: Id }), response: { 200: PublicUser } } }, async (req) => {
    return users.getUser(ctx, req.params.id, await requireUser(ctx, req));
  });
}
