import { Message, MessageIdParams } from '@confab/protocol';
import type { Context } from '../../context.ts';
import * as previews from '../../operations/previews.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** Link previews (operations/previews.ts): the sender removes one; members get its image. */
export function previewRoutes(app: App, ctx: Context) {
  const tags = ['messages'];
  const security = [{ bearer: [] }];
  app.delete('/api/messages/:id/preview', { schema: { tags, security, params: MessageIdParams, response: { 200: Message } } }, async (req) =>
    previews.removeLinkPreview(ctx, await requireUser(ctx, req), req.params.id),
  );
  // The image Confab made of the page's (re-encoded WebP), never the outside site's file. Headers
  // as for attachments: no sniffing, a sandbox if opened as a page, revalidated every time so a
  // member who left stops getting it from a cache.
  app.get('/api/messages/:id/preview/image', { schema: { tags, security, params: MessageIdParams } }, async (req, reply) => {
    const image = await previews.readPreviewImage(ctx, await requireUser(ctx, req), req.params.id);
    reply
      .header('content-type', image.contentType)
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cache-control', 'private, no-cache')
      .header('etag', image.etag);
    if (req.headers['if-none-match'] === image.etag) return reply.status(304).send();
    return reply.send(image.bytes);
  });
}
