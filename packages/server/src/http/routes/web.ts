import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../app.ts';

/**
 * Where `npm run build` puts the web app (packages/web/dist); CONFAB_WEB_DIR overrides it. Found
 * through the workspace package rather than a relative path, which differs between the sources and
 * the built server (dist/main.js).
 */
const DEFAULT_DIST = path.join(path.dirname(createRequire(import.meta.url).resolve('@confab/web/package.json')), 'dist');

/**
 * The page's policy: scripts and styles from this origin only (React's style attributes need
 * 'unsafe-inline' for styles, never for scripts), sockets to this host, images from here, data: and
 * blob: (attachment previews are fetched with the token and shown as blob: URLs), media likewise.
 * Markdown in messages cannot load an outside image or script even if the sanitizer missed one.
 */
export const WEB_CSP = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "style-src 'self' 'unsafe-inline'",
  "script-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Confab</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;line-height:1.5">
<h1>Confab is running</h1>
<p>The web app is not built: run <code>npm run build</code>, then reload this page.</p>
<p>The API is at <code>/api</code> (<a href="/api/docs">OpenAPI description</a>).</p>
</body></html>`;

/** Not ours: the API, the socket endpoint and the operations routes answer for themselves. */
function isReserved(url: string): boolean {
  return url.startsWith('/api/') || url === '/api' || url.startsWith('/socket.io');
}

function acceptsHtml(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept.includes('text/html') || accept.includes('*/*');
}

/**
 * Serves the built web app at `/`. Hashed files under /assets/ are immutable (a new build has new
 * names); everything else, index.html and the service worker above all, is revalidated each time so
 * a deploy is picked up at the next load. Any other GET that asks for a page gets index.html
 * (the app routes on the client), so a reload of /c/<id> works. Registered last: every API route
 * is more specific than the wildcard.
 */
export async function webRoutes(app: App, dist = DEFAULT_DIST): Promise<void> {
  const root = path.resolve(dist);
  await app.register(fastifyStatic, { root, serve: false });

  const sendIndex = (reply: FastifyReply) => {
    if (!existsSync(path.join(root, 'index.html'))) {
      return reply.status(503).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    }
    return reply
      .header('cache-control', 'no-cache')
      .header('content-security-policy', WEB_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .sendFile('index.html', root, { cacheControl: false });
  };

  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    let url: string;
    try {
      url = decodeURIComponent((request.raw.url ?? '/').split('?')[0] ?? '/');
    } catch {
      return reply.callNotFound(); // a malformed escape: no such file, no such page
    }
    if (isReserved(url) || url.includes('\0')) return reply.callNotFound();
    if (url === '/' || url === '/index.html') return sendIndex(reply);
    const file = path.resolve(root, `.${url}`);
    // Only files inside dist; `send` also refuses traversal, this keeps the stat honest.
    const inside = file.startsWith(root + path.sep);
    const isFile = inside && existsSync(file) && statSync(file).isFile();
    if (isFile) {
      const rel = path.relative(root, file).split(path.sep).join('/');
      const hashed = rel.startsWith('assets/');
      reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache').header('x-content-type-options', 'nosniff');
      if (rel === 'sw.js') reply.header('service-worker-allowed', '/');
      return reply.sendFile(rel, root, { cacheControl: false });
    }
    // A path the client routes (no file extension), asked for as a page: the app's shell.
    if (acceptsHtml(request) && !path.extname(url)) return sendIndex(reply);
    return reply.callNotFound();
  });
}
