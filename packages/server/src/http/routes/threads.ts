import { FollowThreadBody, MessageIdParams, ThreadFollow, ThreadList, ThreadListQuery } from '@confab/protocol';
import type { Context } from '../../context.ts';
import { followThread, listThreads } from '../../operations/threads.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** Threads (docs/threads.md). A thread's replies are `GET /api/messages/:conversationId?threadRootId=`. */
export function threadRoutes(app: App, ctx: Context) {
  const tags = ['threads'];
  const security = [{ bearer: [] }];
  app.put(
    '/api/messages/:id/follow',
    { schema: { tags, security, params: MessageIdParams, body: FollowThreadBody, response: { 200: ThreadFollow } } },
    async (req) => followThread(ctx, await requireUser(ctx, req), req.params.id, req.body.following),
  );
  app.get('/api/threads', { schema: { tags, security, querystring: ThreadListQuery, response: { 200: ThreadList } } }, async (req) =>
    listThreads(ctx, await requireUser(ctx, req), req.query),
  );
}
