import { LIMITS } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

let server: TestServer;
let ada: TestUser, grace: TestUser;
beforeAll(async () => {
  server = await startTestServer();
  ada = await registerUser(server, 'ada');
  grace = await registerUser(server, 'grace');
});
afterAll(() => server?.close());

describe('users', () => {
  it('searches by handle or display name, without the caller', async () => {
    const res = await ada.api.get('/api/users?query=grac');
    expect(res.status).toBe(200);
    expect(res.body.users.map((u: any) => u.id)).toEqual([grace.id]);
    expect(res.body.users[0]).toEqual({ id: grace.id, handle: grace.user.handle, displayName: 'grace', avatarUrl: null, isBot: false, lastSeenAt: null });
    expect((await ada.api.get('/api/users?query=ada')).body.users.map((u: any) => u.id)).not.toContain(ada.id);
    // LIKE wildcards are literal.
    expect((await ada.api.get('/api/users?query=%25')).body.users).toEqual([]);
  });

  it('shows a public profile and never private fields', async () => {
    const res = await grace.api.get(`/api/users/${ada.id}`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['avatarUrl', 'displayName', 'handle', 'id', 'isBot', 'lastSeenAt']);
    expect((await grace.api.get('/api/users/nobody')).status).toBe(404);
  });

  it('updates the own profile', async () => {
    const res = await ada.api.patch('/api/users/me', { displayName: 'Ada L.', avatarUrl: 'https://example.test/a.png' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ displayName: 'Ada L.', avatarUrl: 'https://example.test/a.png' });
    expect((await ada.api.patch('/api/users/me', { avatarUrl: null })).body.avatarUrl).toBeNull();
    expect((await ada.api.patch('/api/users/me', { avatarUrl: 'javascript:alert(1)' })).status).toBe(400);
    expect((await ada.api.patch('/api/users/me', { handle: 'newhandle' })).status).toBe(400);
    expect((await grace.api.get(`/api/users/${ada.id}`)).body.displayName).toBe('Ada L.');
  });

  it('keeps a settings document per user, bounded in size', async () => {
    expect((await ada.api.get('/api/users/me/settings')).body).toEqual({});
    const settings = { theme: 'dark', font: { size: 15 }, defaultModel: 'gpt' };
    expect((await ada.api.put('/api/users/me/settings', settings)).body).toEqual(settings);
    expect((await ada.api.get('/api/users/me/settings')).body).toEqual(settings);
    expect((await grace.api.get('/api/users/me/settings')).body).toEqual({});
    const big = await ada.api.put('/api/users/me/settings', { blob: 'x'.repeat(70 * 1024) });
    expect(big.status).toBe(413);
    expect((await ada.api.get('/api/users/me/settings')).body).toEqual(settings);
    expect((await ada.api.put('/api/users/me/settings', [1, 2])).status).toBe(400);
  });

  it('refuses settings nested too deep with VALIDATION_ERROR, at any depth', async () => {
    const settings = { theme: 'light' };
    expect((await ada.api.put('/api/users/me/settings', settings)).status).toBe(200);
    // Deep enough for JSON.stringify (and PostgreSQL's jsonb parser) to recurse out of stack, and
    // just over the limit.
    for (const depth of [LIMITS.jsonDepth + 1, 5_000, 100_000]) {
      for (const body of ['{"a":'.repeat(depth) + '1' + '}'.repeat(depth), `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`]) {
        const res = await ada.api.request('PUT', '/api/users/me/settings', body);
        expect(res.status, `depth ${depth}`).toBe(400);
        expect(res.body.error.code).toBe('VALIDATION_ERROR');
      }
    }
    // At the limit it is stored.
    const atLimit = JSON.parse('{"a":'.repeat(LIMITS.jsonDepth) + '1' + '}'.repeat(LIMITS.jsonDepth));
    expect((await ada.api.put('/api/users/me/settings', atLimit)).status).toBe(200);
    expect((await ada.api.get('/api/users/me/settings')).body).toEqual(atLimit);
  });

  it('refuses other deep JSON bodies with VALIDATION_ERROR, prototype keys included', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    for (const body of [
      `{"conversationId":"c","content":"x","clientId":"k","extra":${deep}}`,
      `{"conversationId":"c","content":${deep},"clientId":"k"}`,
      `{"conversationId":"c","content":"x","clientId":"k","extra":${'{"__proto__":'.repeat(50_000)}1${'}'.repeat(50_000)}}`,
    ]) {
      const res = await ada.api.request('POST', '/api/messages', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    const profile = await ada.api.request('PATCH', '/api/users/me', `{"displayName":${deep}}`);
    expect(profile.status).toBe(400);
  });

  it('requires a token', async () => {
    expect((await ada.api.as(undefined).get('/api/users?query=a')).status).toBe(401);
    expect((await ada.api.as(undefined).get('/api/users/me/settings')).status).toBe(401);
  });
});
