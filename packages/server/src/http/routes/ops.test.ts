import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, startTestServer, type TestServer } from '../../test/harness.ts';

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
