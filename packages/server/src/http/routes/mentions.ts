import { MentionList, MentionListQuery } from '@confab/protocol';
import type { Context } from '../../context.ts';
import { listMentions } from '../../operations/mentions.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** GET /api/mentions: the messages that mention the caller, newest first (docs/mentions.md). */
export function mentionRoutes(app: App, ctx: Context) {
  app.get('/api/mentions', { schema: { tags: ['messages'], security: [{ bearer: [] }], querystring: MentionListQuery, response: { 200: MentionList } } }, async (req) =>
    listMentions(ctx, await requireUser(ctx, req), req.query),
  );
}
