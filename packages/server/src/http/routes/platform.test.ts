import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ok, sleep, until } from '../../realtime/test/kit.ts';
import { Api, registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

// API.md, "Building on Confab": API keys (scoped, hashed, audited), platform users and minted
// tokens, a key acting as a platform user (Confab-Act-As), and your own sign-in (external JWTs).

async function audit(admin: TestUser, action: string): Promise<any[]> {
  const res = await admin.api.get('/api/admin/audit?limit=200');
  expect(res.status).toBe(200);
  return res.body.entries.filter((e: any) => e.action === action);
}

describe('API keys, platform users and tokens', () => {
  let server: TestServer;
  let owner: TestUser;
  let person: TestUser;
  const newKey = async (scopes: string[], name = 'backend') => {
    const res = await owner.api.post('/api/admin/api-keys', { name, scopes });
    expect(res.status).toBe(201);
    return res.body as { id: string; key: string; scopes: string[]; prefix: string };
  };
  const withKey = (key: string) => new Api(server.url, key);

  beforeAll(async () => {
    server = await startTestServer();
    owner = await registerUser(server, 'owner');
    person = await registerUser(server, 'person');
  });
  afterAll(() => server?.close());

  it('lets instance admins create, list and revoke keys; the key is shown once and stored hashed; audited without it', async () => {
    expect((await person.api.post('/api/admin/api-keys', { name: 'mine', scopes: ['users'] })).status).toBe(403);
    expect((await owner.api.post('/api/admin/api-keys', { name: 'bad', scopes: ['admin'] })).status).toBe(400);

    const created = await newKey(['users', 'tokens'], 'shop backend');
    expect(created.key).toMatch(/^cfk_[\w-]{43}$/);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created.scopes).toEqual(['users', 'tokens']);

    const [row] = await server.ctx.db.query<{ key_hash: string; key_prefix: string }>('SELECT key_hash, key_prefix FROM api_keys WHERE id = $1', [created.id]);
    expect(row!.key_hash).toBe(createHash('sha256').update(created.key).digest('base64url'));
    expect(row!.key_prefix.length).toBeLessThan(12);
    const dump = JSON.stringify(await server.ctx.db.query('SELECT * FROM api_keys'));
    expect(dump).not.toContain(created.key);

    const list = await owner.api.get('/api/admin/api-keys');
    expect(list.status).toBe(200);
    expect(list.body.keys.map((k: any) => k.id)).toContain(created.id);
    expect(JSON.stringify(list.body)).not.toContain(created.key);
    expect((await person.api.get('/api/admin/api-keys')).status).toBe(403);

    const [entry] = (await audit(owner, 'api_key.create')).filter((e) => e.targetId === created.id);
    expect(entry).toMatchObject({ actorId: owner.id, details: { name: 'shop backend', scopes: ['users', 'tokens'] } });
    expect(JSON.stringify(entry)).not.toContain(created.key);

    expect((await withKey(created.key).put('/api/platform/users/rev-1', { displayName: 'Before revoke' })).status).toBe(201);
    expect((await person.api.delete(`/api/admin/api-keys/${created.id}`)).status).toBe(403);
    expect((await owner.api.delete(`/api/admin/api-keys/${created.id}`)).status).toBe(204);
    expect((await owner.api.delete(`/api/admin/api-keys/${created.id}`)).status).toBe(404);
    const revoked = await withKey(created.key).put('/api/platform/users/rev-1', { displayName: 'After revoke' });
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.code).toBe('UNAUTHENTICATED');
    expect((await owner.api.get('/api/admin/api-keys')).body.keys.map((k: any) => k.id)).not.toContain(created.id);
    expect((await audit(owner, 'api_key.revoke')).some((e) => e.targetId === created.id && e.actorId === owner.id)).toBe(true);
  });

  it('allows each platform route only with its scope; a user token, no token or a made-up key is refused', async () => {
    const users = await newKey(['users']);
    const tokens = await newKey(['tokens']);
    expect((await withKey(users.key).put('/api/platform/users/scope-1', { displayName: 'Scoped' })).status).toBe(201);
    const noUsers = await withKey(tokens.key).put('/api/platform/users/scope-1', { displayName: 'Scoped' });
    expect(noUsers.status).toBe(403);
    expect(noUsers.body.error.code).toBe('FORBIDDEN');
    expect((await withKey(users.key).post('/api/platform/tokens', { externalId: 'scope-1' })).status).toBe(403);
    expect((await withKey(tokens.key).post('/api/platform/tokens', { externalId: 'scope-1' })).status).toBe(200);

    // A user's access token (even the owner's) is not a key; nor is nothing, or a key never issued.
    expect((await owner.api.put('/api/platform/users/scope-1', { displayName: 'X' })).status).toBe(401);
    expect((await owner.api.post('/api/platform/tokens', { externalId: 'scope-1' })).status).toBe(401);
    expect((await new Api(server.url).put('/api/platform/users/scope-1', { displayName: 'X' })).status).toBe(401);
    expect((await withKey(`cfk_${randomBytes(32).toString('base64url')}`).put('/api/platform/users/scope-1', { displayName: 'X' })).status).toBe(401);
    // A key is not a user: not on user routes, nor on the admin routes (a key cannot make keys).
    expect((await withKey(users.key).get('/api/auth/me')).status).toBe(403);
    expect((await withKey(users.key).post('/api/admin/api-keys', { name: 'k', scopes: ['users'] })).status).toBe(403);

    // Its use is noted (at most once a minute).
    await until(async () => {
      const [row] = await server.ctx.db.query<{ last_used_at: Date | null }>('SELECT last_used_at FROM api_keys WHERE id = $1', [users.id]);
      return row?.last_used_at != null;
    }, 5000, 'last_used_at');
  });

  it('creates a platform user once (audited, derived unique handle, no password) and updates them later', async () => {
    const { key } = await newKey(['users']);
    const externalId = `shop-${randomBytes(4).toString('hex')}`;
    const created = await withKey(key).put(`/api/platform/users/${externalId}`, { displayName: 'Ada Lovelace', email: `${externalId}@shop.test` });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ externalId, displayName: 'Ada Lovelace', email: `${externalId}@shop.test`, status: 'active', avatarUrl: null });
    expect(created.body.handle).toMatch(/^ada_lovelace/);

    const again = await withKey(key).put(`/api/platform/users/${externalId}`, { displayName: 'Ada King', avatarUrl: 'https://shop.test/ada.png' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: created.body.id, displayName: 'Ada King', handle: created.body.handle, email: `${externalId}@shop.test`, avatarUrl: 'https://shop.test/ada.png' });

    // Another with the same name gets another handle; a handle someone has is a conflict.
    const twin = await withKey(key).put(`/api/platform/users/${externalId}-twin`, { displayName: 'Ada Lovelace' });
    expect(twin.status).toBe(201);
    expect(twin.body.handle).not.toBe(created.body.handle);
    expect((await withKey(key).put(`/api/platform/users/${externalId}-3`, { displayName: 'C', handle: person.user.handle })).status).toBe(409);
    expect((await withKey(key).put(`/api/platform/users/${externalId}-3`, { displayName: 'C', email: person.user.email })).status).toBe(409);

    const entries = (await audit(owner, 'user.create')).filter((e) => e.targetId === created.body.id);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ actorId: null, details: { via: 'platform', externalId } });

    // Several first sights at once (two tabs, retries) make one user.
    const racing = await Promise.all(Array.from({ length: 5 }, () => withKey(key).put(`/api/platform/users/${externalId}-race`, { displayName: 'Racer' })));
    expect(racing.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 201]);
    expect(new Set(racing.map((r) => r.body.id)).size).toBe(1);

    // Once the account is deleted, the external id names a new account.
    expect((await owner.api.delete(`/api/admin/users/${twin.body.id}`)).status).toBeLessThan(300);
    const reborn = await withKey(key).put(`/api/platform/users/${externalId}-twin`, { displayName: 'Ada Again' });
    expect(reborn.status).toBe(201);
    expect(reborn.body.id).not.toBe(twin.body.id);

    const [row] = await server.ctx.db.query<{ password_hash: string | null; external_id: string }>('SELECT password_hash, external_id FROM users WHERE id = $1', [created.body.id]);
    expect(row).toEqual({ password_hash: null, external_id: externalId });
    // Registration mode does not apply: the developer's backend decides.
    expect((await owner.api.patch('/api/admin/settings', { registration: 'closed' })).status).toBe(200);
    try {
      expect((await withKey(key).put(`/api/platform/users/${externalId}-closed`, { displayName: 'Closed' })).status).toBe(201);
    } finally {
      await owner.api.patch('/api/admin/settings', { registration: 'open' });
    }
  });

  it('mints a session whose tokens work on REST and on a socket; ttlSeconds shortens the access token', async () => {
    const key = (await newKey(['users', 'tokens'])).key;
    const externalId = `mint-${randomBytes(4).toString('hex')}`;
    const user = (await withKey(key).put(`/api/platform/users/${externalId}`, { displayName: 'Minted' })).body;
    expect((await withKey(key).post('/api/platform/tokens', { externalId: 'nobody-here' })).status).toBe(404);

    const minted = await withKey(key).post('/api/platform/tokens', { externalId, ttlSeconds: 60 });
    expect(minted.status).toBe(200);
    const claims = decodeJwt(minted.body.accessToken);
    expect(claims.exp! - claims.iat!).toBe(60);
    const me = await new Api(server.url, minted.body.accessToken).get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: user.id, displayName: 'Minted' });

    // ttlSeconds never lengthens it beyond the configured life.
    const long = await withKey(key).post('/api/platform/tokens', { externalId, ttlSeconds: 86_400 });
    const longClaims = decodeJwt(long.body.accessToken);
    expect(longClaims.exp! - longClaims.iat!).toBe(server.config.accessTokenTtlSeconds);

    const refreshed = await new Api(server.url).post('/api/auth/refresh', { refreshToken: minted.body.refreshToken });
    expect(refreshed.status).toBe(200);

    const socket = await connect(server.url, minted.body.accessToken);
    try {
      const group = await new Api(server.url, minted.body.accessToken).post('/api/conversations/group', { title: 'minted room' });
      expect(group.status).toBe(201);
      const sent = await ok(socket, 'chat:message_send', { conversationId: group.body.id, content: 'hello from a minted session', clientId: 'm1' });
      expect(sent.message ?? sent).toMatchObject({ authorId: user.id });
    } finally {
      socket.close();
    }

    // A deactivated platform user gets no tokens.
    expect((await owner.api.patch(`/api/admin/users/${user.id}`, { status: 'deactivated' })).status).toBe(200);
    expect((await withKey(key).post('/api/platform/tokens', { externalId })).status).toBe(403);
  });

  it('lets a key with the messages / conversations scope act as a platform user named by Confab-Act-As, and no one else', async () => {
    const users = (await newKey(['users'])).key;
    const both = (await newKey(['messages', 'conversations'])).key;
    const onlyConversations = (await newKey(['conversations'])).key;
    const a = (await withKey(users).put(`/api/platform/users/act-a-${randomBytes(3).toString('hex')}`, { displayName: 'Acting A' })).body;
    const b = (await withKey(users).put(`/api/platform/users/act-b-${randomBytes(3).toString('hex')}`, { displayName: 'Acting B' })).body;
    const as = (key: string, externalId?: string) => ({
      post: (url: string, body: unknown) => withKey(key).request('POST', url, body, externalId ? { 'confab-act-as': externalId } : {}),
      get: (url: string) => withKey(key).request('GET', url, undefined, externalId ? { 'confab-act-as': externalId } : {}),
    });

    const group = await as(both, a.externalId).post('/api/conversations/group', { title: 'backend room', participantIds: [b.id] });
    expect(group.status).toBe(201);
    const sent = await as(both, a.externalId).post('/api/messages', { conversationId: group.body.id, content: 'from the backend', clientId: 'k1' });
    expect(sent.status).toBe(201);
    expect(sent.body.authorId).toBe(a.id);
    const listed = await as(both, b.externalId).get(`/api/messages/${group.body.id}`);
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).toContain(sent.body.id);

    // The conversations scope alone does not send messages.
    expect((await as(onlyConversations, a.externalId).get('/api/conversations')).status).toBe(200);
    expect((await as(onlyConversations, a.externalId).post('/api/messages', { conversationId: group.body.id, content: 'x', clientId: 'k2' })).status).toBe(403);
    // Without the header, or naming no platform user, or with a key of other scopes: refused.
    expect((await as(both).post('/api/messages', { conversationId: group.body.id, content: 'x', clientId: 'k3' })).status).toBe(403);
    expect((await as(both, 'no-such-user').get('/api/conversations')).status).toBe(403);
    expect((await as(users, a.externalId).get('/api/conversations')).status).toBe(403);
    // Only on message and conversation routes.
    expect((await as(both, a.externalId).get('/api/auth/me')).status).toBe(403);
  });

  it('answers 404 for POST /api/auth/external when your own sign-in is not configured', async () => {
    const res = await new Api(server.url).post('/api/auth/external', { token: 'x.y.z' });
    expect(res.status).toBe(404);
  });
});

/** A JWKS endpoint on a local port: its keys can be changed, its fetches counted, and it can hang. */
async function startJwks() {
  const state = { keys: [] as JWK[], fetches: 0, hang: false };
  const httpServer: Server = createServer((req, res) => {
    state.fetches++;
    if (state.hang) return; // never answers
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/.well-known/jwks.json`;
  return {
    state,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
  };
}

async function signingKey(alg: 'RS256' | 'ES256' | 'EdDSA', kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, jwk };
}

const ISSUER = 'https://shop.test';
const AUDIENCE = 'confab';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('your own sign-in: external JWTs from a JWKS', () => {
  let server: TestServer;
  let jwks: Awaited<ReturnType<typeof startJwks>>;
  let first: Awaited<ReturnType<typeof signingKey>>;
  let admin: TestUser;
  const sign = (key: Awaited<ReturnType<typeof signingKey>>, claims: Record<string, unknown> = {}, opts: { iss?: string; aud?: string; exp?: number } = {}) =>
    new SignJWT({ name: 'Grace Hopper', ...claims })
      .setProtectedHeader({ alg: key.alg, kid: key.kid })
      .setSubject((claims.sub as string | undefined) ?? 'grace')
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(opts.exp ?? Math.floor(Date.now() / 1000) + 300)
      .sign(key.privateKey);
  const exchange = (token: string) => new Api(server.url).post('/api/auth/external', { token });

  beforeAll(async () => {
    jwks = await startJwks();
    first = await signingKey('RS256', 'k1');
    jwks.state.keys = [first.jwk];
    server = await startTestServer({ externalJwt: { jwksUrl: jwks.url, secret: undefined, issuer: ISSUER, audience: AUDIENCE } });
    admin = await registerUser(server, 'admin');
  });
  afterAll(async () => {
    await server?.close();
    await jwks?.close();
  });

  it('exchanges a token for a session, creating the user once and updating their name and email later', async () => {
    const res = await exchange(await sign(first, { sub: 'grace', email: 'grace@shop.test' }));
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ displayName: 'Grace Hopper', email: 'grace@shop.test', role: 'user' });
    const me = await new Api(server.url, res.body.accessToken).get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(res.body.user.id);

    const later = await exchange(await sign(first, { sub: 'grace', name: 'Rear Admiral Hopper', email: 'admiral@shop.test' }));
    expect(later.status).toBe(200);
    expect(later.body.user).toMatchObject({ id: res.body.user.id, displayName: 'Rear Admiral Hopper', email: 'admiral@shop.test' });

    const created = (await audit(admin, 'user.create')).filter((e) => e.targetId === res.body.user.id);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ actorId: null, details: { via: 'external_jwt', externalId: 'grace' } });
  });

  it('refuses expired tokens, the wrong issuer or audience, alg none and HS256 (algorithm confusion), with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const refused = [
      await sign(first, {}, { exp: now - 3600 }),
      await sign(first, {}, { iss: 'https://evil.test' }),
      await sign(first, {}, { aud: 'someone-else' }),
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'grace', iss: ISSUER, aud: AUDIENCE, exp: now + 300, name: 'None' })}.`,
      // Signed with HMAC over the public key: a server that took the algorithm from the token would accept it.
      await new SignJWT({ name: 'Confused' })
        .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .setSubject('grace')
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime(now + 300)
        .sign(new TextEncoder().encode(JSON.stringify(first.jwk))),
      // Signed by a key the JWKS does not hold, under a kid it does.
      await sign({ ...(await signingKey('RS256', 'k1')) }),
      'not a token',
    ];
    for (const token of refused) {
      const res = await exchange(token);
      expect(res.status, token).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHENTICATED');
      expect(res.body.error.message).toMatch(/^invalid token/);
      expect(res.body.error.message).not.toContain(token);
    }
    const [row] = await server.ctx.db.query<{ display_name: string }>("SELECT display_name FROM users WHERE external_id = 'grace'");
    expect(row?.display_name).not.toMatch(/None|Confused/);
  });

  it('picks up a rotated key: a token whose kid it has not seen makes it fetch the JWKS again', async () => {
    const second = await signingKey('ES256', 'k2');
    jwks.state.keys = [first.jwk, second.jwk];
    const before = jwks.state.fetches;
    await sleep(2_100); // the cooldown after the last fetch (operations/platform.ts)
    const res = await exchange(await sign(second, { sub: 'rotated', name: 'Rotated' }));
    expect(res.status).toBe(200);
    expect(jwks.state.fetches).toBeGreaterThan(before);
    const third = await signingKey('EdDSA', 'k3');
    jwks.state.keys = [second.jwk, third.jwk];
    await sleep(2_100);
    expect((await exchange(await sign(third, { sub: 'rotated' }))).status).toBe(200);
  });

  it('does not hang when the JWKS endpoint hangs: 503 within the fetch timeout', async () => {
    jwks.state.hang = true;
    try {
      await sleep(2_100);
      const started = Date.now();
      const res = await exchange(await sign(await signingKey('RS256', 'k-unknown')));
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('UNAVAILABLE');
      expect(Date.now() - started).toBeLessThan(6_000);
    } finally {
      jwks.state.hang = false;
    }
  });
});

describe('your own sign-in: external JWTs with a shared secret', () => {
  let server: TestServer;
  const secret = randomBytes(32).toString('base64url');
  const hs256 = (key: string, sub: string) =>
    new SignJWT({ name: 'Shared Secret' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(key));

  beforeAll(async () => {
    server = await startTestServer({ externalJwt: { secret, issuer: ISSUER, audience: AUDIENCE, jwksUrl: undefined } });
  });
  afterAll(() => server?.close());

  it('accepts HS256 signed with the secret, and nothing else', async () => {
    const res = await new Api(server.url).post('/api/auth/external', { token: await hs256(secret, 'shared-1') });
    expect(res.status).toBe(200);
    expect(res.body.user.displayName).toBe('Shared Secret');
    expect((await new Api(server.url, res.body.accessToken).get('/api/auth/me')).status).toBe(200);

    expect((await new Api(server.url).post('/api/auth/external', { token: await hs256('another secret entirely', 'shared-1') })).status).toBe(401);
    const rsa = await signingKey('RS256', 'k1');
    const rs256 = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('shared-2').setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').sign(rsa.privateKey);
    expect((await new Api(server.url).post('/api/auth/external', { token: rs256 })).status).toBe(401);
  });
});
