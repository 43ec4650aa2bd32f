import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, registerUser, startTestServer, type TestServer } from '../../test/harness.ts';

let server: TestServer;
let anon: Api;
beforeAll(async () => {
  server = await startTestServer();
  anon = new Api(server.url);
});
afterAll(() => server?.close());

describe('auth', () => {
  it('registers, reads me, logs in', async () => {
    const alice = await registerUser(server, 'alice');
    expect(alice.user.email).toMatch(/@example\.test$/);
    expect(alice.accessToken).toBeTruthy();
    expect(alice.refreshToken).toBeTruthy();
    const me = await alice.api.get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(alice.id);
    expect(me.body).not.toHaveProperty('passwordHash');
    const login = await anon.post('/api/auth/login', { email: alice.user.email.toUpperCase(), password: 'correct horse battery' });
    expect(login.status).toBe(200);
    expect(login.body.user.id).toBe(alice.id);
  });

  it('refuses a taken email or handle with CONFLICT', async () => {
    const bob = await registerUser(server, 'bob');
    const again = await anon.post('/api/auth/register', { email: bob.user.email, password: 'another password', handle: 'someoneelse1', displayName: 'X' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT');
    const handle = await anon.post('/api/auth/register', { email: 'new@example.test', password: 'another password', handle: bob.user.handle.toUpperCase(), displayName: 'X' });
    expect(handle.status).toBe(409);
  });

  it('answers a wrong password and an unknown account alike', async () => {
    const carol = await registerUser(server, 'carol');
    const wrong = await anon.post('/api/auth/login', { email: carol.user.email, password: 'wrong password' });
    const unknown = await anon.post('/api/auth/login', { email: 'nobody@example.test', password: 'wrong password' });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.body).toEqual(unknown.body);
  });

  it('rotates refresh tokens and revokes the session when a spent one is reused', async () => {
    const dave = await registerUser(server, 'dave');
    const first = await anon.post('/api/auth/refresh', { refreshToken: dave.refreshToken });
    expect(first.status).toBe(200);
    expect(first.body.refreshToken).not.toBe(dave.refreshToken);
    // The new access token works.
    expect((await anon.as(first.body.accessToken).get('/api/auth/me')).status).toBe(200);
    // Re-using the spent token is theft: the whole session ends.
    const reuse = await anon.post('/api/auth/refresh', { refreshToken: dave.refreshToken });
    expect(reuse.status).toBe(401);
    expect((await anon.post('/api/auth/refresh', { refreshToken: first.body.refreshToken })).status).toBe(401);
    expect((await anon.as(first.body.accessToken).get('/api/auth/me')).status).toBe(401);
  });

  it('lets exactly one of two concurrent refreshes with one token win', async () => {
    const erin = await registerUser(server, 'erin');
    const results = await Promise.all([1, 2].map(() => anon.post('/api/auth/refresh', { refreshToken: erin.refreshToken })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
  });

  it('logs out: the refresh token and access token stop working', async () => {
    const fay = await registerUser(server, 'fay');
    const out = await anon.post('/api/auth/logout', { refreshToken: fay.refreshToken });
    expect(out.status).toBe(204);
    expect((await anon.post('/api/auth/refresh', { refreshToken: fay.refreshToken })).status).toBe(401);
    expect((await fay.api.get('/api/auth/me')).status).toBe(401);
  });

  it('refuses bad tokens: missing, garbage, wrong signature, alg none, expired', async () => {
    const gus = await registerUser(server, 'gus');
    expect((await anon.get('/api/auth/me')).status).toBe(401);
    expect((await anon.as('garbage').get('/api/auth/me')).body.error.code).toBe('UNAUTHENTICATED');
    const [header, payload] = gus.accessToken.split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    expect((await anon.as(none).get('/api/auth/me')).status).toBe(401);
    const forged = await new SignJWT({ sid: 'x' }).setProtectedHeader({ alg: 'HS256' }).setSubject(gus.id).setIssuer('confab').setExpirationTime('1h').sign(new TextEncoder().encode('not the server key'));
    expect((await anon.as(forged).get('/api/auth/me')).status).toBe(401);
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), sub: 'someone' })).toString('base64url')}.${gus.accessToken.split('.')[2]}`;
    expect((await anon.as(tampered).get('/api/auth/me')).status).toBe(401);
    const expired = await new SignJWT({ sid: 'x' }).setProtectedHeader({ alg: 'HS256' }).setSubject(gus.id).setIssuer('confab').setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(server.ctx.keys.jwtKey);
    const res = await anon.as(expired).get('/api/auth/me');
    expect(res.status).toBe(401);
    expect(res.body.error.message).toMatch(/expired/);
  });

  it('validates input with clear errors', async () => {
    const bad = await anon.post('/api/auth/register', { email: 'not-an-email', password: 'short', handle: 'x', displayName: '' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_ERROR');
    const unknownField = await anon.post('/api/auth/login', { email: 'a@b.test', password: 'whatever', admin: true });
    expect(unknownField.status).toBe(400);
    const malformed = await anon.request('POST', '/api/auth/login', '{"email": ', { 'content-type': 'application/json' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('VALIDATION_ERROR');
    const huge = await anon.request('POST', '/api/auth/login', JSON.stringify({ email: 'a@b.test', password: 'x'.repeat(1024 * 1024 + 10) }));
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe('rate limits', () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startTestServer({ rateLimits: true });
  });
  afterAll(() => limited?.close());

  it('locks an account after repeated failed logins, with Retry-After', async () => {
    const victim = await registerUser(limited, 'victim');
    const api = new Api(limited.url);
    let last;
    for (let i = 0; i < 11; i++) last = await api.post('/api/auth/login', { email: victim.user.email, password: 'wrong guess' });
    expect(last!.status).toBe(429);
    expect(last!.body.error.code).toBe('RATE_LIMITED');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    // Even the right password waits for the window now.
    expect((await api.post('/api/auth/login', { email: victim.user.email, password: 'correct horse battery' })).status).toBe(429);
  });

  it('limits registrations per address', async () => {
    const api = new Api(limited.url);
    const statuses = [];
    for (let i = 0; i < 12; i++) {
      statuses.push((await api.post('/api/auth/register', { email: `r${i}@example.test`, password: 'long enough pw', handle: `reg${i}`, displayName: 'R' })).status);
    }
    expect(statuses).toContain(429);
  });
});
