import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { Attachment, AttachmentIdParams, AttachmentText, AttachmentTicket, ConfabError, CreateAttachmentBody, UploadQuery } from '@confab/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Context } from '../../context.ts';
import { contentDisposition, parseRange } from '../../files/http.ts';
import type { Variant } from '../../files/store.ts';
import * as attachments from '../../operations/attachments.ts';
import type { App } from '../app.ts';
import { requireUser } from '../auth.ts';

/** How much of an attachment's text `GET /api/attachments/:id/text` gives. */
const TEXT_PREVIEW_CHARS = 2000;
/** After refusing an upload, what is still in flight is read (and dropped) for this long at most… */
const LINGER_MS = 2000;
/** …and this much at most. */
const LINGER_BYTES = 1024 * 1024;

/**
 * A refusal sent while the client may still be sending its body (413 as soon as it passes its
 * size, or 403/404 before reading it): the answer says `Connection: close`, and the body is not
 * read to its end. Node ends such a response by destroying the socket as soon as the answer is
 * written; with the client's bytes still arriving, the kernel then answers with a reset, and a
 * client busy writing typically fails with EPIPE before it ever reads our 413. So this closes
 * like nginx's lingering close: our side is half-closed after the answer (the client sees it and
 * our FIN), what still arrives is dropped for a bounded time and size, then the socket goes.
 */
function closeAfterReply(request: FastifyRequest, reply: FastifyReply): void {
  reply.header('connection', 'close');
  const socket = request.raw.socket as Socket & { destroySoon?: () => void };
  socket.destroySoon = () => socket.end();
  reply.raw.once('finish', () => {
    const hardStop = setTimeout(() => socket.destroy(), LINGER_MS);
    hardStop.unref();
    socket.once('close', () => clearTimeout(hardStop));
    let dropped = 0;
    request.raw.on('data', (chunk: Buffer) => {
      dropped += chunk.length;
      if (dropped > LINGER_BYTES) socket.destroy();
    });
    request.raw.once('end', () => socket.destroy());
    request.raw.resume();
  });
}

/**
 * Files: tickets, the upload itself, downloads and previews. Every download carries headers that
 * keep a file from acting as a page of this site: nosniff, a sandboxing CSP, and
 * `Content-Disposition: attachment` for anything but raster images, audio and video.
 */
export function attachmentRoutes(app: App, ctx: Context) {
  const tags = ['attachments'];
  const security = [{ bearer: [] }];

  app.post('/api/attachments', { schema: { tags, security, body: CreateAttachmentBody, response: { 201: AttachmentTicket } } }, async (req, reply) =>
    reply.status(201).send(await attachments.createAttachment(ctx, await requireUser(ctx, req), req.body)),
  );

  const serve = async (req: FastifyRequest, reply: FastifyReply, id: string, variant: Variant) => {
    const download = await attachments.openDownload(ctx, await requireUser(ctx, req), id, variant);
    reply
      .header('content-type', download.contentType)
      .header('content-disposition', contentDisposition(download.inline ? 'inline' : 'attachment', download.name))
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('accept-ranges', 'bytes')
      // Revalidated every time (cheap, by ETag), so a member who left stops getting it from cache.
      .header('cache-control', 'private, no-cache')
      .header('etag', download.etag);
    if (req.headers['if-none-match'] === download.etag) return reply.status(304).send();
    const ifRange = req.headers['if-range'];
    const range = ifRange !== undefined && ifRange !== download.etag ? ({ kind: 'full' } as const) : parseRange(req.headers.range, download.size);
    if (range.kind === 'unsatisfiable') return reply.status(416).header('content-range', `bytes */${download.size}`).send();
    const partial = range.kind === 'partial' ? { start: range.start, end: range.end } : undefined;
    if (partial) reply.status(206).header('content-range', `bytes ${partial.start}-${partial.end}/${download.size}`);
    reply.header('content-length', partial ? partial.end - partial.start + 1 : download.size);
    // Fastify's HEAD handling keeps Content-Length only for a stream body; an empty one reads nothing.
    if (req.method === 'HEAD') return reply.send(Readable.from([]));
    return reply.send(await attachments.readDownload(ctx, download, partial));
  };
  app.get('/api/attachments/:id', { schema: { tags, security, params: AttachmentIdParams } }, (req, reply) => serve(req, reply, req.params.id, 'original'));
  app.get('/api/attachments/:id/preview', { schema: { tags, security, params: AttachmentIdParams } }, (req, reply) => serve(req, reply, req.params.id, 'preview'));
  // The beginning of a text or PDF attachment's extracted text (members only), for a preview.
  app.get('/api/attachments/:id/text', { schema: { tags, security, params: AttachmentIdParams, response: { 200: AttachmentText } } }, async (req) => {
    const text = await attachments.getAttachmentText(ctx, req.params.id, { userId: await requireUser(ctx, req) });
    return { text: text === null ? null : text.slice(0, TEXT_PREVIEW_CHARS), truncated: text !== null && text.length > TEXT_PREVIEW_CHARS };
  });

  app.delete('/api/attachments/:id', { schema: { tags, security, params: AttachmentIdParams } }, async (req, reply) => {
    await attachments.deleteAttachment(ctx, await requireUser(ctx, req), req.params.id);
    return reply.status(204).send();
  });

  // The upload takes raw bytes of any type. Its own encapsulated plugin holds the parser that hands
  // the body over unread, as a stream, so every other route keeps parsing JSON only (with its 1 MB limit).
  void app.register(async (instance) => {
    const upload = instance.withTypeProvider<ZodTypeProvider>();
    upload.removeAllContentTypeParsers();
    upload.addContentTypeParser('*', (_request, _payload, done) => done(null));
    upload.put(
      '/api/attachments/:id/upload',
      { schema: { tags, security, params: AttachmentIdParams, querystring: UploadQuery, response: { 200: Attachment } } },
      async (req, reply) => {
        const userId = await requireUser(ctx, req);
        const header = req.headers['content-length'];
        const contentLength = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
        try {
          return await attachments.uploadAttachment(ctx, userId, req.params.id, { ...req.query, contentLength, body: req.raw });
        } catch (error) {
          if (!req.raw.readableEnded) closeAfterReply(req, reply);
          throw error instanceof Error ? error : new ConfabError('INTERNAL', String(error));
        }
      },
    );
  });
}
