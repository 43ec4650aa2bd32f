import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

// API.md, "Instance roles, registration, invites": registration modes, invites, the admin's view of
// users and the role rules, and the audit entry of each admin action.

/** Registers a fresh account, with an invite token when given; the raw answer. */
async function register(server: TestServer, name: string, inviteToken?: string, handle = `${name}_${randomBytes(4).toString('hex')}`) {
  return new Api(server.url).post('/api/auth/register', {
    email: `${handle}@example.test`,
    password: 'correct horse battery',
    handle,
    displayName: name,
    ...(inviteToken !== undefined && { inviteToken }),
  });
}

async function audit(user: TestUser, action: string): Promise<any[]> {
  const res = await user.api.get('/api/admin/audit?limit=200');
  expect(res.status).toBe(200);
  return res.body.entries.filter((e: any) => e.action === action);
}

describe('registration and invites', () => {
  let server: TestServer;
  let owner: TestUser;
  const setRegistration = async (registration: string) => expect((await owner.api.patch('/api/admin/settings', { registration })).status).toBe(200);

  beforeAll(async () => {
    server = await startTestServer();
    owner = await registerUser(server, 'owner');
  });
  afterAll(() => server?.close());

  it('makes the first account the owner and later ones users; GET /api/instance tells a sign-in page the mode', async () => {
    expect(owner.user.role).toBe('owner');
    const second = await register(server, 'second');
    expect(second.status).toBe(201);
    expect(second.body.user.role).toBe('user');
    const info = await new Api(server.url).get('/api/instance');
    expect(info.status).toBe(200);
    expect(Object.keys(info.body).sort()).toEqual(['email', 'name', 'registration', 'sso', 'version']);
    expect(info.body).toMatchObject({ registration: 'open', sso: [], email: false });
  });

  it('in invite mode refuses an account without a valid invite; an invite works maxUses times', async () => {
    await setRegistration('invite');
    try {
      expect((await new Api(server.url).get('/api/instance')).body.registration).toBe('invite');
      const refused = await register(server, 'uninvited');
      expect(refused.status).toBe(403);
      expect(refused.body.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/invitation/) });
      expect((await register(server, 'guesser', 'not-a-token')).status).toBe(403);

      const created = await owner.api.post('/api/admin/invites', { maxUses: 2 });
      expect(created.status).toBe(201);
      const invite = created.body;
      expect(invite).toMatchObject({ maxUses: 2, uses: 0, role: 'user', createdBy: owner.id });
      expect(invite.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(invite.url).toBe(`${server.url}/invite/${invite.token}`);
      // Seven days by default.
      expect(Math.abs(Date.parse(invite.expiresAt) - Date.now() - 7 * 86_400_000)).toBeLessThan(60_000);

      const first = await register(server, 'invited', invite.token);
      expect(first.status).toBe(201);
      expect(first.body.user.role).toBe('user');
      const second = await register(server, 'invited', invite.token);
      expect(second.status).toBe(201);
      const third = await register(server, 'invited', invite.token);
      expect(third.status).toBe(403);
      expect(third.body.error.message).toMatch(/invite/);

      const listed = (await owner.api.get('/api/admin/invites')).body.invites.find((i: any) => i.id === invite.id);
      expect(listed).toMatchObject({ uses: 2, token: invite.token, url: invite.url });

      const uses = (await audit(owner, 'invite.use')).filter((e) => e.targetId === invite.id);
      expect(uses.map((e) => e.actorId).sort()).toEqual([first.body.user.id, second.body.user.id].sort());
      expect(uses[0]).toMatchObject({ targetType: 'invite', details: { role: 'user' } });
      const creation = (await audit(owner, 'invite.create')).find((e) => e.targetId === invite.id);
      expect(creation).toMatchObject({ actorId: owner.id, targetType: 'invite', details: { role: 'user', maxUses: 2 } });
      // Nothing secret in the audit log.
      expect(JSON.stringify((await owner.api.get('/api/admin/audit?limit=200')).body)).not.toContain(invite.token);
    } finally {
      await setRegistration('open');
    }
  });

  it('refuses an expired invite and a revoked one, and gives back a use when the registration fails', async () => {
    await setRegistration('invite');
    try {
      const expiring = (await owner.api.post('/api/admin/invites', { expiresInHours: 1 })).body;
      expect(Math.abs(Date.parse(expiring.expiresAt) - Date.now() - 3_600_000)).toBeLessThan(60_000);
      await server.ctx.db.query(`UPDATE invites SET expires_at = now() - interval '1 minute' WHERE id = $1`, [expiring.id]);
      expect((await register(server, 'late', expiring.token)).status).toBe(403);

      const revoked = (await owner.api.post('/api/admin/invites', {})).body;
      expect((await owner.api.delete(`/api/admin/invites/${revoked.id}`)).status).toBe(204);
      expect((await register(server, 'revoked', revoked.token)).status).toBe(403);
      expect((await owner.api.get('/api/admin/invites')).body.invites.map((i: any) => i.id)).not.toContain(revoked.id);
      expect((await audit(owner, 'invite.revoke')).map((e) => e.targetId)).toContain(revoked.id);
      expect((await owner.api.delete(`/api/admin/invites/${revoked.id}`)).status).toBe(204);
      expect((await owner.api.delete('/api/admin/invites/nosuchinvite')).status).toBe(404);

      // A registration refused for a taken handle does not spend the invite's only use.
      const single = (await owner.api.post('/api/admin/invites', { maxUses: 1 })).body;
      expect((await register(server, 'taken', single.token, owner.user.handle)).status).toBe(409);
      expect((await register(server, 'single', single.token)).status).toBe(201);
      expect((await register(server, 'single', single.token)).status).toBe(403);
    } finally {
      await setRegistration('open');
    }
  });

  it('gives an account the role of its invite (in open mode too); only an owner invites admins', async () => {
    const adminInvite = await owner.api.post('/api/admin/invites', { role: 'admin', maxUses: 1 });
    expect(adminInvite.status).toBe(201);
    const made = await register(server, 'newadmin', adminInvite.body.token);
    expect(made.status).toBe(201);
    expect(made.body.user.role).toBe('admin');
    expect((await register(server, 'again', adminInvite.body.token)).status).toBe(403);
    const admin = new Api(server.url, made.body.accessToken);
    expect((await admin.post('/api/admin/invites', { role: 'admin' })).status).toBe(403);
    const byAdmin = await admin.post('/api/admin/invites', { email: 'friend@example.test' });
    expect(byAdmin.status).toBe(201);
    expect(byAdmin.body.role).toBe('user');
  });

  it('in closed mode nobody registers, not even with an invite', async () => {
    const invite = (await owner.api.post('/api/admin/invites', {})).body;
    await setRegistration('closed');
    try {
      expect((await new Api(server.url).get('/api/instance')).body.registration).toBe('closed');
      expect((await register(server, 'closed')).status).toBe(403);
      expect((await register(server, 'closed', invite.token)).status).toBe(403);
    } finally {
      await setRegistration('open');
    }
    expect((await register(server, 'reopened', invite.token)).status).toBe(201);
  });

  it('on an empty instance the first account registers whatever the mode; links use CONFAB_PUBLIC_URL when set', async () => {
    const fresh = await startTestServer({ registration: 'closed', publicUrl: 'https://chat.example/' });
    try {
      const first = await register(fresh, 'founder');
      expect(first.status).toBe(201);
      expect(first.body.user.role).toBe('owner');
      expect((await register(fresh, 'follower')).status).toBe(403);
      const founder = new Api(fresh.url, first.body.accessToken);
      const invite = (await founder.post('/api/admin/invites', {})).body;
      expect(invite.url).toBe(`https://chat.example/invite/${invite.token}`);
    } finally {
      await fresh.close();
    }
  });

  it('makes exactly one owner when several people register on an empty instance at the same moment', async () => {
    const fresh = await startTestServer({ registration: 'open' });
    try {
      const results = await Promise.all(['ann', 'ben', 'cat', 'dan', 'eve', 'fay'].map((name) => register(fresh, name)));
      expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201]);
      expect(results.filter((r) => r.body.user.role === 'owner')).toHaveLength(1);
    } finally {
      await fresh.close();
    }
  });
});

describe('admin users and role rules', () => {
  let server: TestServer;
  let owner: TestUser, alice: TestUser, bob: TestUser, carol: TestUser;

  beforeAll(async () => {
    server = await startTestServer();
    owner = await registerUser(server, 'owner');
    alice = await registerUser(server, 'alice');
    bob = await registerUser(server, 'bob');
    carol = await registerUser(server, 'carol');
  });
  afterAll(() => server?.close());

  it('refuses every admin route to a plain user', async () => {
    const calls: Array<[string, string, unknown?]> = [
      ['GET', '/api/admin/settings'],
      ['PATCH', '/api/admin/settings', { registration: 'open' }],
      ['GET', '/api/admin/audit'],
      ['POST', '/api/admin/invites', {}],
      ['GET', '/api/admin/invites'],
      ['DELETE', '/api/admin/invites/someinvite'],
      ['GET', '/api/admin/users'],
      ['PATCH', `/api/admin/users/${bob.id}`, { status: 'deactivated' }],
    ];
    for (const [method, url, body] of calls) {
      const res = await carol.api.request(method, url, body);
      expect({ method, url, status: res.status }).toEqual({ method, url, status: 403 });
    }
    expect((await new Api(server.url).get('/api/admin/users')).status).toBe(401);
  });

  it('lists accounts with search and a keyset cursor, bots included', async () => {
    await server.ctx.db.query(`INSERT INTO users (id, handle, display_name, is_bot) VALUES ('botid1', 'helperbot', 'Helper', true)`);
    const all = await owner.api.get('/api/admin/users');
    expect(all.status).toBe(200);
    // The people, and the bots: the assistant and the one inserted above.
    expect(all.body.users.filter((u: any) => !u.isBot).map((u: any) => u.id).sort()).toEqual([owner.id, alice.id, bob.id, carol.id].sort());
    expect(all.body.users.filter((u: any) => u.isBot)).toHaveLength(2);
    expect(all.body.nextCursor).toBeNull();
    expect(all.body.users.find((u: any) => u.id === 'botid1')).toMatchObject({ isBot: true, role: 'user', status: 'active', email: null });
    expect(all.body.users.find((u: any) => u.id === owner.id)).toEqual({
      id: owner.id,
      handle: owner.user.handle,
      displayName: 'owner',
      email: owner.user.email,
      role: 'owner',
      status: 'active',
      isBot: false,
      createdAt: expect.any(String),
      lastSeenAt: null,
    });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await owner.api.get(`/api/admin/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.users.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.users.map((u: any) => u.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.users.map((u: any) => u.id));

    expect((await owner.api.get(`/api/admin/users?query=${alice.user.handle.slice(0, 8)}`)).body.users.map((u: any) => u.id)).toEqual([alice.id]);
    expect((await owner.api.get(`/api/admin/users?query=${encodeURIComponent(bob.user.email)}`)).body.users.map((u: any) => u.id)).toEqual([bob.id]);
    expect((await owner.api.get('/api/admin/users?query=Helper')).body.users.map((u: any) => u.id)).toEqual(['botid1']);
    expect((await owner.api.get('/api/admin/users?query=%25')).body.users).toEqual([]);
    expect((await owner.api.get('/api/admin/users?cursor=garbage')).status).toBe(400);
  });

  it('lets only an owner make admins; an admin deactivates and reactivates plain users only; each change is audited', async () => {
    const made = await owner.api.patch(`/api/admin/users/${alice.id}`, { role: 'admin' });
    expect(made.status).toBe(200);
    expect(made.body).toMatchObject({ id: alice.id, role: 'admin', status: 'active' });
    expect((await alice.api.get('/api/auth/me')).body.role).toBe('admin');
    expect((await audit(owner, 'user.role')).find((e) => e.targetId === alice.id)).toMatchObject({
      actorId: owner.id,
      targetType: 'user',
      details: { before: 'user', after: 'admin' },
    });

    expect((await alice.api.patch(`/api/admin/users/${bob.id}`, { role: 'admin' })).status).toBe(403);
    expect((await alice.api.patch(`/api/admin/users/${owner.id}`, { status: 'deactivated' })).status).toBe(403);
    expect((await alice.api.patch(`/api/admin/users/${owner.id}`, { role: 'user' })).status).toBe(403);
    expect((await alice.api.patch('/api/admin/users/nosuchuser', { status: 'deactivated' })).status).toBe(404);
    expect((await owner.api.patch('/api/admin/users/botid1', { role: 'admin' })).status).toBe(400);

    const off = await alice.api.patch(`/api/admin/users/${bob.id}`, { status: 'deactivated' });
    expect(off.status).toBe(200);
    expect(off.body.status).toBe('deactivated');
    // Signed out everywhere: REST and the refresh token.
    expect((await bob.api.get('/api/auth/me')).status).toBe(401);
    expect((await new Api(server.url).post('/api/auth/refresh', { refreshToken: bob.refreshToken })).status).toBe(401);
    expect((await audit(owner, 'user.deactivate')).find((e) => e.targetId === bob.id)).toMatchObject({
      actorId: alice.id,
      details: { before: 'active', after: 'deactivated' },
    });

    const on = await alice.api.patch(`/api/admin/users/${bob.id}`, { status: 'active' });
    expect(on.status).toBe(200);
    expect(on.body.status).toBe('active');
    expect((await audit(owner, 'user.reactivate')).find((e) => e.targetId === bob.id)).toMatchObject({
      actorId: alice.id,
      details: { before: 'deactivated', after: 'active' },
    });
  });

  it('a deactivated admin can no longer administer', async () => {
    const dave = await registerUser(server, 'dave');
    expect((await owner.api.patch(`/api/admin/users/${dave.id}`, { role: 'admin' })).status).toBe(200);
    expect((await dave.api.get('/api/admin/users')).status).toBe(200);
    expect((await owner.api.patch(`/api/admin/users/${dave.id}`, { status: 'deactivated' })).status).toBe(200);
    expect((await dave.api.get('/api/admin/users')).status).toBe(401);
  });

  it('keeps the last active owner, and changes no deleted account', async () => {
    expect((await owner.api.patch(`/api/admin/users/${owner.id}`, { role: 'admin' })).status).toBe(409);
    expect((await owner.api.patch(`/api/admin/users/${owner.id}`, { status: 'deactivated' })).status).toBe(409);

    // Two owners demoting each other at once: at most one wins, an owner remains.
    expect((await owner.api.patch(`/api/admin/users/${carol.id}`, { role: 'owner' })).status).toBe(200);
    const statuses = (
      await Promise.all([owner.api.patch(`/api/admin/users/${carol.id}`, { role: 'user' }), carol.api.patch(`/api/admin/users/${owner.id}`, { role: 'user' })])
    ).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    const owners = (await server.ctx.db.query<{ id: string }>(`SELECT id FROM users WHERE role = 'owner' AND status = 'active'`)).map((r) => r.id);
    expect(owners).toHaveLength(1);
    const [remaining] = owners;
    const theOwner = remaining === owner.id ? owner : carol;
    expect((await theOwner.api.patch(`/api/admin/users/${remaining}`, { role: 'user' })).status).toBe(409);

    await server.ctx.db.query(`UPDATE users SET status = 'deleted' WHERE id = $1`, [bob.id]);
    expect((await theOwner.api.patch(`/api/admin/users/${bob.id}`, { status: 'active' })).status).toBe(409);
  });
});
