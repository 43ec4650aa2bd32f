import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/harness.ts';

/** The web app route, against a small fake build (CONFAB_WEB_DIR) and against none. */
describe('web app route', () => {
  const dist = mkdtempSync(path.join(tmpdir(), 'confab-web-'));
  let server: TestServer;
  let missing: TestServer;
  const page = (url: string, accept = 'text/html,application/xhtml+xml') => fetch(server.url + url, { headers: { accept } });

  beforeAll(async () => {
    mkdirSync(path.join(dist, 'assets'));
    writeFileSync(path.join(dist, 'index.html'), '<!doctype html><div id="root"></div>');
    writeFileSync(path.join(dist, 'assets', 'app-3f2a1b.js'), 'console.log(1)');
    writeFileSync(path.join(dist, 'sw.js'), 'self.addEventListener("push", () => {})');
    process.env.CONFAB_WEB_DIR = dist;
    server = await startTestServer();
    process.env.CONFAB_WEB_DIR = path.join(dist, 'nothing-here');
    missing = await startTestServer();
    delete process.env.CONFAB_WEB_DIR;
  });
  afterAll(async () => {
    await server?.close();
    await missing?.close();
    rmSync(dist, { recursive: true, force: true });
  });

  it('serves index.html with a strict CSP and no-cache', async () => {
    const res = await page('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const part of ["default-src 'self'", "connect-src 'self' ws: wss:", "img-src 'self' data: blob:", "style-src 'self' 'unsafe-inline'", "script-src 'self'"]) expect(csp).toContain(part);
    expect(await res.text()).toContain('<div id="root">');
  });

  it('caches hashed assets for good, and the service worker not at all', async () => {
    const asset = await page('/assets/app-3f2a1b.js', '*/*');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const sw = await page('/sw.js', '*/*');
    expect(sw.status).toBe(200);
    expect(sw.headers.get('cache-control')).toBe('no-cache');
  });

  it('answers page URLs with the app shell, and leaves the API and files alone', async () => {
    const deep = await page('/c/some-conversation');
    expect(deep.status).toBe(200);
    expect(await deep.text()).toContain('<div id="root">');
    const api = await page('/api/nope');
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    expect((await page('/missing.png', 'image/*')).status).toBe(404);
    expect((await page('/assets/nope.js', '*/*')).status).toBe(404);
    expect((await page('/%2e%2e/%2e%2e/package.json', '*/*')).status).toBe(404);
    // A malformed escape is the client's error (Fastify answers 400 before routing), never a 500.
    expect([400, 404]).toContain((await page('/%E0%A4%A', '*/*')).status);
    expect((await page('/healthz', '*/*')).status).toBe(200);
  });

  it('says how to build the app when there is no build', async () => {
    const res = await fetch(missing.url + '/', { headers: { accept: 'text/html' } });
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build');
  });
});
