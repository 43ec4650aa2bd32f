import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';
import { totpCode, totpStep } from '../../test/totp.ts';

const PASSWORD = 'correct horse battery';

let server: TestServer;
beforeAll(async () => {
  // trustProxy: the rate-limit test signs in "from" two addresses (X-Forwarded-For).
  server = await startTestServer({ trustProxy: true, instanceName: 'Confab Test' });
});
afterAll(() => server?.close());

const login = (user: TestUser, body: { password?: string; totpCode?: string } = {}, ip?: string) =>
  new Api(server.url).request('POST', '/api/auth/login', { email: user.user.email, password: PASSWORD, ...body }, ip ? { 'x-forwarded-for': ip } : {});

/** Sets up and enables the second factor; the enabling code is of step `step`. */
async function enable(user: TestUser): Promise<{ secret: string; recoveryCodes: string[]; step: number }> {
  const setup = await user.api.post('/api/auth/totp/setup');
  expect(setup.status).toBe(200);
  const step = totpStep();
  const enabled = await user.api.post('/api/auth/totp/enable', { code: totpCode(setup.body.secret, step) });
  expect(enabled.status).toBe(200);
  return { secret: setup.body.secret, recoveryCodes: enabled.body.recoveryCodes, step };
}

describe('the independent RFC 6238 helper', () => {
  it('gives the RFC test vector (T = 59 s, SHA-1)', () => {
    // RFC 6238 appendix B: secret "12345678901234567890", time 59 → 94287082; six digits: 287082.
    expect(totpCode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1)).toBe('287082');
  });
});

describe('second factor', () => {
  it('sets up with a base32 secret and an otpauth URL, stored encrypted and never shown again', async () => {
    const alice = await registerUser(server, 'alice');
    const setup = await alice.api.post('/api/auth/totp/setup');
    expect(setup.status).toBe(200);
    const { secret, otpauthUrl } = setup.body as { secret: string; otpauthUrl: string };
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const url = new URL(otpauthUrl);
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(decodeURIComponent(url.pathname)).toBe(`/Confab Test:${alice.user.email}`);
    expect(url.searchParams.get('secret')).toBe(secret);
    expect(url.searchParams.get('issuer')).toBe('Confab Test');
    const [row] = await server.ctx.db.query<{ totp_secret_enc: string; totp_enabled_at: Date | null }>('SELECT totp_secret_enc, totp_enabled_at FROM users WHERE id = $1', [alice.id]);
    expect(row!.totp_secret_enc).toBeTruthy();
    expect(row!.totp_secret_enc).not.toContain(secret);
    expect(server.ctx.keys.decrypt(row!.totp_secret_enc)).toBe(secret);
    expect(row!.totp_enabled_at).toBeNull();
    // Not on yet: signing in needs no code.
    expect((await login(alice)).status).toBe(200);
    // A second setup replaces the secret; the first one's codes no longer enable.
    const again = await alice.api.post('/api/auth/totp/setup');
    expect(again.body.secret).not.toBe(secret);
    const stale = await alice.api.post('/api/auth/totp/enable', { code: totpCode(secret) });
    expect(stale.status).toBe(400);
    const me = await alice.api.get('/api/auth/me');
    expect(me.body.totpEnabled).toBe(false);
    expect(JSON.stringify(me.body)).not.toContain(again.body.secret);
  });

  it('enables only with a current code, and returns ten recovery codes stored as hashes', async () => {
    const bob = await registerUser(server, 'bob');
    expect((await bob.api.post('/api/auth/totp/enable', { code: '123456' })).status).toBe(409);
    const setup = await bob.api.post('/api/auth/totp/setup');
    const secret = setup.body.secret as string;
    const wrong = await bob.api.post('/api/auth/totp/enable', { code: totpCode(secret, totpStep() - 5) });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.code).toBe('VALIDATION_ERROR');
    expect((await bob.api.post('/api/auth/totp/enable', { code: 'abcdef' })).status).toBe(400);
    const ok = await bob.api.post('/api/auth/totp/enable', { code: totpCode(secret) });
    expect(ok.status).toBe(200);
    const codes = ok.body.recoveryCodes as string[];
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
    const stored = await server.ctx.db.query<{ code_hash: string }>('SELECT code_hash FROM recovery_codes WHERE user_id = $1', [bob.id]);
    expect(stored).toHaveLength(10);
    const hashes = stored.map((r) => r.code_hash).join(' ');
    for (const code of codes) expect(hashes).not.toContain(code.replace(/-/g, ''));
    // On: setting up (or enabling) again is a conflict, and the secret stays out of /me.
    const again = await bob.api.post('/api/auth/totp/setup');
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe('two-factor sign-in is already on');
    expect((await bob.api.post('/api/auth/totp/enable', { code: totpCode(secret) })).status).toBe(409);
    const me = await bob.api.get('/api/auth/me');
    expect(me.body.totpEnabled).toBe(true);
    expect(JSON.stringify(me.body)).not.toContain(secret);
  });

  it('asks for a code at sign-in, takes a current one once, and refuses replays', async () => {
    const carol = await registerUser(server, 'carol');
    const { secret, step } = await enable(carol);
    // A wrong password stays the plain wrong-password answer: it does not tell that a code is on.
    const wrongPassword = await login(carol, { password: 'wrong password' });
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body.error).toEqual({ code: 'UNAUTHENTICATED', message: 'wrong email or password' });
    const noCode = await login(carol);
    expect(noCode.status).toBe(401);
    expect(noCode.body.error.code).toBe('UNAUTHENTICATED');
    expect(noCode.body.error.details).toEqual({ totpRequired: true });
    expect(noCode.body).not.toHaveProperty('accessToken');
    const wrongCode = await login(carol, { totpCode: totpCode(secret, step - 10) });
    expect(wrongCode.status).toBe(401);
    expect(wrongCode.body.error.details).toEqual({ totpRequired: true });
    // The code that enabled it was used once already.
    expect((await login(carol, { totpCode: totpCode(secret, step) })).status).toBe(401);
    // The next step's code (within the ±1 step window) signs in, once.
    const next = totpCode(secret, step + 1);
    const ok = await login(carol, { totpCode: next });
    expect(ok.status).toBe(200);
    expect(ok.body.user.id).toBe(carol.id);
    expect(ok.body.user.totpEnabled).toBe(true);
    expect((await new Api(server.url, ok.body.accessToken).get('/api/auth/me')).status).toBe(200);
    const replay = await login(carol, { totpCode: next });
    expect(replay.status).toBe(401);
    expect(replay.body.error.details).toEqual({ totpRequired: true });
  });

  it('takes each recovery code once, in any case and with or without dashes', async () => {
    const dave = await registerUser(server, 'dave');
    const { recoveryCodes } = await enable(dave);
    const [first, second] = recoveryCodes as [string, string];
    expect((await login(dave, { totpCode: first })).status).toBe(200);
    const again = await login(dave, { totpCode: first });
    expect(again.status).toBe(401);
    expect(again.body.error.details).toEqual({ totpRequired: true });
    expect((await login(dave, { totpCode: second.replace(/-/g, '').toUpperCase() })).status).toBe(200);
    expect((await login(dave, { totpCode: 'aaaa-bbbb-cccc-dddd' })).status).toBe(401);
    // Another user's code is no good here.
    const erin = await registerUser(server, 'erin');
    const theirs = await enable(erin);
    expect((await login(dave, { totpCode: theirs.recoveryCodes[0]! })).status).toBe(401);
  });

  it('turns off with the password only, and then sign-in needs no code', async () => {
    const frank = await registerUser(server, 'frank');
    const { secret, recoveryCodes } = await enable(frank);
    const wrong = await frank.api.request('DELETE', '/api/auth/totp', { password: 'not my password' });
    expect(wrong.status).toBe(403);
    expect((await frank.api.get('/api/auth/me')).body.totpEnabled).toBe(true);
    expect((await login(frank)).status).toBe(401);
    const off = await frank.api.request('DELETE', '/api/auth/totp', { password: PASSWORD });
    expect(off.status).toBe(204);
    expect((await frank.api.get('/api/auth/me')).body.totpEnabled).toBe(false);
    const plain = await login(frank);
    expect(plain.status).toBe(200);
    const [row] = await server.ctx.db.query<{ totp_secret_enc: string | null }>('SELECT totp_secret_enc FROM users WHERE id = $1', [frank.id]);
    expect(row!.totp_secret_enc).toBeNull();
    expect(await server.ctx.db.query('SELECT 1 FROM recovery_codes WHERE user_id = $1', [frank.id])).toHaveLength(0);
    // Set up again: a new secret, and the old recovery codes are gone for good.
    const setup = await frank.api.post('/api/auth/totp/setup');
    expect(setup.body.secret).not.toBe(secret);
    expect((await frank.api.post('/api/auth/totp/enable', { code: totpCode(setup.body.secret) })).status).toBe(200);
    expect((await login(frank, { totpCode: recoveryCodes[0]! })).status).toBe(401);
  });

  it('counts wrong codes against the login lockout and against the account from any address', async () => {
    const gina = await registerUser(server, 'gina');
    const { secret, step } = await enable(gina);
    for (let i = 0; i < 10; i++) expect((await login(gina, { totpCode: String(100000 + i) }, '203.0.113.5')).status).toBe(401);
    // That address is locked out, even with a right code.
    expect((await login(gina, { totpCode: totpCode(secret, step + 1) }, '203.0.113.5')).status).toBe(429);
    // Elsewhere the password is still good, but the account has had its ten guesses for the hour.
    const elsewhere = await login(gina, { totpCode: totpCode(secret, step + 1) }, '192.0.2.8');
    expect(elsewhere.status).toBe(429);
    expect(elsewhere.body.error.code).toBe('RATE_LIMITED');
  });
});

describe('sign-in gate', () => {
  it('refuses a deactivated account with 403, but only to someone who knows the password', async () => {
    const hank = await registerUser(server, 'hank');
    await server.ctx.db.query(`UPDATE users SET status = 'deactivated' WHERE id = $1`, [hank.id]);
    const wrong = await login(hank, { password: 'wrong password' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toEqual({ code: 'UNAUTHENTICATED', message: 'wrong email or password' });
    const right = await login(hank);
    expect(right.status).toBe(403);
    expect(right.body.error).toEqual({ code: 'FORBIDDEN', message: 'this account is deactivated; ask an admin' });
    await server.ctx.db.query(`UPDATE users SET status = 'active' WHERE id = $1`, [hank.id]);
    expect((await login(hank)).status).toBe(200);
  });

  it('answers for a deleted account exactly as for a wrong password', async () => {
    const ivy = await registerUser(server, 'ivy');
    await server.ctx.db.query(`UPDATE users SET status = 'deleted', deleted_at = now() WHERE id = $1`, [ivy.id]);
    const right = await login(ivy);
    const wrong = await login(ivy, { password: 'wrong password' });
    expect(right.status).toBe(401);
    expect(right.body).toEqual(wrong.body);
    expect(right.body).toEqual((await new Api(server.url).post('/api/auth/login', { email: 'nobody@example.test', password: PASSWORD })).body);
  });
});
