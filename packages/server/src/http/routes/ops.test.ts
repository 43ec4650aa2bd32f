import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, startTestServer, type TestServer } from '../../test/harness.ts';

/** This machine's first address that is not loopback: a caller from "elsewhere" over a real socket. */
function outsideAddress(): string {
  const found = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!found) throw new Error('these tests need a network interface with a non-loopback IPv4 address');
  return found.address;
}

let server: TestServer;
let api: Api;
beforeAll(async () => {
  server = await startTestServer();
  api = new Api(server.url);
});
afterAll(() => server?.close());

describe('operations routes', () => {
  it('answers health and readiness', async () => {
    expect((await api.get('/healthz')).status).toBe(200);
    expect((await api.get('/readyz')).body).toEqual({ status: 'ready' });
  });

  it('exposes Prometheus metrics with request timings', async () => {
    await api.get('/healthz');
    const res = await api.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    expect(res.body).toContain('confab_http_request_duration_seconds_bucket');
  });

  it('describes the REST API as OpenAPI generated from the protocol schemas', async () => {
    const res = await api.get('/api/docs');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    for (const path of ['/api/auth/register', '/api/conversations', '/api/messages', '/api/messages/{id}/reactions', '/api/search']) {
      expect(Object.keys(res.body.paths)).toContain(path);
    }
    const register = res.body.paths['/api/auth/register'].post;
    expect(JSON.stringify(register.requestBody)).toContain('displayName');
  });

  it('echoes or assigns a request id', async () => {
    expect((await api.request('GET', '/healthz', undefined, { 'x-request-id': 'trace-123' })).headers.get('x-request-id')).toBe('trace-123');
    expect((await api.get('/healthz')).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes with NOT_FOUND in the contract shape', async () => {
    const res = await api.get('/api/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
  });

  it('refuses non-JSON bodies with VALIDATION_ERROR', async () => {
    const res = await api.request('POST', '/api/auth/login', 'email=a', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_ERROR');
  });
});

describe('who may read /metrics', () => {
  const series = 'confab_http_request_duration_seconds_bucket';
  const get = (url: string, headers: Record<string, string> = {}) => new Api(url).request('GET', '/metrics', undefined, headers);

  it('without a token: loopback callers only, whatever a forwarding header claims', async () => {
    const own = await startTestServer({ host: '0.0.0.0' });
    try {
      const port = new URL(own.url).port;
      expect((await get(own.url)).status).toBe(200);
      // The same server over a real socket from a non-loopback address.
      const outside = await get(`http://${outsideAddress()}:${port}`);
      expect(outside.status).toBe(403);
      expect(outside.body.error.code).toBe('FORBIDDEN');
      expect(JSON.stringify(outside.body)).not.toContain(series);
      // Through a proxy on this host: the peer is loopback, the client is whoever the proxy names.
      // A remote caller who prepends 127.0.0.1 still has their own address appended.
      expect((await get(own.url, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(403);
      expect((await get(own.url, { 'x-forwarded-for': '127.0.0.1, 203.0.113.7' })).status).toBe(403);
      expect((await get(own.url, { 'x-real-ip': '203.0.113.7' })).status).toBe(403);
      expect((await get(own.url, { forwarded: 'for="[2001:db8::7]:4711"' })).status).toBe(403);
      expect((await get(own.url, { 'x-forwarded-for': 'garbage' })).status).toBe(403);
      expect((await get(own.url, { 'x-forwarded-for': '127.0.0.1' })).status).toBe(200);
    } finally {
      await own.close();
    }
  });

  it('does not take a forwarded address for the caller with CONFAB_TRUST_PROXY=true', async () => {
    const before = process.env.CONFAB_TRUST_PROXY;
    process.env.CONFAB_TRUST_PROXY = 'true';
    const own = await startTestServer({ host: '0.0.0.0' });
    try {
      const outside = `http://${outsideAddress()}:${new URL(own.url).port}`;
      expect((await get(outside, { 'x-forwarded-for': '127.0.0.1' })).status).toBe(403);
      expect((await get(own.url, { 'x-forwarded-for': '127.0.0.1, 203.0.113.7' })).status).toBe(403);
    } finally {
      await own.close();
      if (before === undefined) delete process.env.CONFAB_TRUST_PROXY;
      else process.env.CONFAB_TRUST_PROXY = before;
    }
  });

  it('serves the addresses of CONFAB_METRICS_ALLOW', async () => {
    const address = outsideAddress();
    const own = await startTestServer({ host: '0.0.0.0', metricsAllow: [`${address.split('.').slice(0, 3).join('.')}.0/24`] });
    try {
      const res = await get(`http://${address}:${new URL(own.url).port}`);
      expect(res.status).toBe(200);
      expect(res.body).toContain('# TYPE confab_');
    } finally {
      await own.close();
    }
  });

  it('with CONFAB_METRICS_TOKEN: the bearer of the token only, loopback included', async () => {
    const own = await startTestServer({ metricsToken: 'scrape-secret' });
    try {
      expect((await get(own.url)).status).toBe(401);
      expect((await get(own.url, { authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await get(own.url, { authorization: 'Bearer scrape-secret-and-more' })).status).toBe(401);
      const res = await get(own.url, { authorization: 'Bearer scrape-secret' });
      expect(res.status).toBe(200);
      expect(res.body).toContain(series);
    } finally {
      await own.close();
    }
  });
});
