import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordVerifications } from '../../auth/passwords.ts';
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

  it('locks an account after repeated failed logins from one address, with Retry-After', async () => {
    const victim = await registerUser(limited, 'victim');
    const api = new Api(limited.url);
    let last;
    for (let i = 0; i < 11; i++) last = await api.post('/api/auth/login', { email: victim.user.email, password: 'wrong guess' });
    expect(last!.status).toBe(429);
    expect(last!.body.error.code).toBe('RATE_LIMITED');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    // From that address, even the right password waits for the lockout to end.
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

describe('login protection', () => {
  let guarded: TestServer;
  beforeAll(async () => {
    // Real password hashing, so verifications overlap in a burst as they would in production.
    guarded = await startTestServer({ rateLimits: true, trustProxy: true, fastPasswordHashing: false });
  });
  afterAll(() => guarded?.close());

  const loginFrom = (ip: string, email: string, password: string) =>
    new Api(guarded.url).request('POST', '/api/auth/login', { email, password }, { 'x-forwarded-for': ip });

  it('verifies no more passwords than the limit in a parallel burst, then refuses the right one', async () => {
    const owner = await registerUser(guarded, 'burst');
    const before = passwordVerifications();
    const answers = await Promise.all(Array.from({ length: 25 }, () => loginFrom('198.51.100.7', owner.user.email, 'wrong guess')));
    expect(passwordVerifications() - before).toBeLessThanOrEqual(10);
    expect(answers.filter((a) => a.status === 401).length).toBeLessThanOrEqual(10);
    expect(answers.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(15);
    const right = await loginFrom('198.51.100.7', owner.user.email, 'correct horse battery');
    expect(right.status).toBe(429);
    expect(passwordVerifications() - before).toBeLessThanOrEqual(10);
    // The first lockout: a minute.
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(right.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  });

  it('lets the owner in from a clean address while a stranger is locked out', async () => {
    const owner = await registerUser(guarded, 'owner');
    for (let i = 0; i < 10; i++) expect((await loginFrom('203.0.113.9', owner.user.email, `guess ${i}`)).status).toBe(401);
    const locked = await loginFrom('203.0.113.9', owner.user.email, 'guess 10');
    expect(locked.status).toBe(429);
    expect(locked.body.error.details.retryAfterMs).toBeGreaterThan(0);
    // The stranger's lockout is theirs: the owner, elsewhere, signs in.
    const home = await loginFrom('192.0.2.44', owner.user.email, 'correct horse battery');
    expect(home.status).toBe(200);
    expect(home.body.user.id).toBe(owner.id);
    // And the stranger stays locked out, right password or not.
    expect((await loginFrom('203.0.113.9', owner.user.email, 'correct horse battery')).status).toBe(429);
  });

  it('holds even with CONFAB_RATE_LIMITS=off', async () => {
    const owner = await registerUser(server, 'unlimited');
    const statuses = [];
    for (let i = 0; i < 11; i++) statuses.push((await anon.post('/api/auth/login', { email: owner.user.email, password: `guess ${i}` })).status);
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses[10]).toBe(429);
  });
});
