import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';

/** node:http, not fetch: fetch will not send a Host header of the caller's choosing. */
function request(baseUrl: string, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(`${baseUrl}${path}`, { method, headers: { ...headers, ...(payload ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text.startsWith('{') ? JSON.parse(text) : text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * The REST half of the origin check (the socket half is in realtime/gateway.test.ts): a page at a
 * host name that resolves to this server (DNS rebinding) is same-origin to the browser, so it reads
 * every answer; the server has to refuse it.
 */
let server: TestServer;
let configured: TestServer;
let ann: TestUser;
let port: string;
beforeAll(async () => {
  [server, configured] = await Promise.all([startTestServer(), startTestServer({ publicUrl: 'https://chat.example' })]);
  ann = await registerUser(server, 'ann');
  port = new URL(server.url).port;
});
afterAll(async () => {
  await Promise.all([server?.close(), configured?.close()]);
});

describe('REST origins', () => {
  it('refuses a rebinding page, with or without Origin, and lets other clients in', async () => {
    const rebound = { host: `evil.example:${port}` };
    // A POST carries Origin; a same-origin GET only Sec-Fetch-Site.
    const auth = { authorization: `Bearer ${ann.accessToken}` };
    const get = (path: string, headers: Record<string, string>) => request(server.url, 'GET', path, { ...auth, ...headers });
    const post = await request(server.url, 'POST', '/api/auth/login', { ...rebound, origin: `http://evil.example:${port}` }, { email: 'x@example.test', password: 'whatever1' });
    expect(post.status).toBe(403);
    expect(post.body.error.code).toBe('FORBIDDEN');
    expect((await get('/api/auth/me', { ...rebound, 'sec-fetch-site': 'same-origin' })).status).toBe(403);
    expect((await get('/metrics', { ...rebound, 'sec-fetch-site': 'same-origin' })).status).toBe(403);
    // The app's own pages, a tool without a browser, a user typing the address.
    expect((await get('/api/auth/me', { origin: `http://localhost:${port}`, host: `localhost:${port}` })).status).toBe(200);
    expect((await get('/api/auth/me', { 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await get('/api/auth/me', rebound)).status).toBe(200);
    expect((await get('/api/docs', { ...rebound, 'sec-fetch-site': 'none' })).status).toBe(200);
    expect((await get('/healthz', { ...rebound, origin: 'http://evil.example' })).status).toBe(200);
  });

  it('with CONFAB_PUBLIC_URL, takes pages of that origin only', async () => {
    const call = async (headers: Record<string, string>) => (await request(configured.url, 'GET', '/api/auth/me', headers)).status;
    // No token: 401 means the origin check let the request through.
    expect(await call({ origin: 'https://chat.example', host: 'chat.example' })).toBe(401);
    expect(await call({ 'sec-fetch-site': 'same-origin', host: 'chat.example' })).toBe(401);
    expect(await call({ origin: 'https://evil.example', host: 'evil.example' })).toBe(403);
    expect(await call({ origin: `http://localhost:${port}` })).toBe(403);
  });
});
