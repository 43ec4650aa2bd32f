import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

let server: TestServer;
let admin: TestUser;
beforeAll(async () => {
  server = await startTestServer();
  // The first person on a fresh instance is its owner.
  admin = await registerUser(server, 'owner');
});
afterAll(() => server?.close());

let n = 0;
const handle = () => `bot${++n}_${Math.random().toString(36).slice(2, 8)}`;
const send = (api: Api, conversationId: string, content: string) => api.post('/api/messages', { conversationId, content, clientId: `c-${++n}-${Math.random()}` });

async function createBot(owner: TestUser, displayName = 'Helper'): Promise<{ bot: { id: string; handle: string; isBot: boolean }; token: string; api: Api }> {
  const res = await owner.api.post('/api/bots', { handle: handle(), displayName });
  expect(res.status).toBe(201);
  return { ...res.body, api: new Api(server.url, res.body.token) };
}

describe('bots', () => {
  it('creates a bot whose token works on REST: it is a bot, joins a group and sends into it', async () => {
    const alice = await registerUser(server, 'alice');
    const { bot, token, api } = await createBot(alice, 'Deploy bot');
    expect(bot.isBot).toBe(true);
    expect(token).toMatch(/^cfb_[A-Za-z0-9_-]{43}$/);

    const me = await api.get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: bot.id, isBot: true, displayName: 'Deploy bot' });

    const group = await alice.api.post('/api/conversations/group', { title: 'ops', participantIds: [bot.id] });
    expect(group.status).toBe(201);
    const sent = await send(api, group.body.id, 'deployed');
    expect(sent.status).toBe(201);
    expect(sent.body.authorId).toBe(bot.id);
    const page = await alice.api.get(`/api/messages/${group.body.id}`);
    expect(page.body.messages.map((m: { content: string }) => m.content)).toContain('deployed');

    // A direct conversation with a person's bot works too (the assistant keeps its own kind).
    const direct = await alice.api.post('/api/conversations/direct', { userId: bot.id });
    expect(direct.status).toBe(201);
    expect((await send(api, direct.body.id, 'hello in private')).status).toBe(201);

    const mine = await alice.api.get('/api/bots');
    expect(mine.status).toBe(200);
    expect(mine.body.bots.map((b: { id: string }) => b.id)).toEqual([bot.id]);
  });

  it('stores tokens hashed, with no password or e-mail for the bot', async () => {
    const alice = await registerUser(server, 'alice');
    const { bot, token } = await createBot(alice);
    const rows = await server.ctx.db.query<{ token_hash: string }>('SELECT token_hash FROM bot_tokens WHERE bot_id = $1', [bot.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).not.toContain(token.slice(4, 20));
    expect(rows[0]!.token_hash).toBe(createHash('sha256').update(token).digest('base64url'));
    const [user] = await server.ctx.db.query<{ email: string | null; password_hash: string | null; bot_owner_id: string; is_bot: boolean }>(
      'SELECT email, password_hash, bot_owner_id, is_bot FROM users WHERE id = $1',
      [bot.id],
    );
    expect(user).toEqual({ email: null, password_hash: null, bot_owner_id: alice.id, is_bot: true });
  });

  it('rotating the token makes the old one 401 and the new one work', async () => {
    const alice = await registerUser(server, 'alice');
    const { bot, api: oldApi } = await createBot(alice);
    expect((await oldApi.get('/api/auth/me')).status).toBe(200);
    const rotated = await alice.api.post(`/api/bots/${bot.id}/token`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.bot.id).toBe(bot.id);
    expect((await oldApi.get('/api/auth/me')).status).toBe(401);
    const newApi = new Api(server.url, rotated.body.token);
    expect((await newApi.get('/api/auth/me')).body.id).toBe(bot.id);
    // An instance admin may rotate anyone's bot's token.
    const byAdmin = await admin.api.post(`/api/bots/${bot.id}/token`);
    expect(byAdmin.status).toBe(200);
    expect((await newApi.get('/api/auth/me')).status).toBe(401);
  });

  it('refuses another person rotating or deleting a bot that is not theirs', async () => {
    const alice = await registerUser(server, 'alice');
    const mallory = await registerUser(server, 'mallory');
    const { bot, api } = await createBot(alice);
    expect((await mallory.api.post(`/api/bots/${bot.id}/token`)).status).toBe(404);
    expect((await mallory.api.delete(`/api/bots/${bot.id}`)).status).toBe(404);
    expect((await mallory.api.get('/api/bots')).body.bots).toEqual([]);
    // Nothing happened to the bot.
    expect((await api.get('/api/auth/me')).status).toBe(200);
    // An id that names a person, not a bot, is no bot to rotate, even for an admin.
    expect((await admin.api.post(`/api/bots/${alice.id}/token`)).status).toBe(404);
  });

  it('deleting a bot ends its token; its messages stay; its handle is free again', async () => {
    const alice = await registerUser(server, 'alice');
    const { bot, api } = await createBot(alice, 'Short-lived');
    const group = await alice.api.post('/api/conversations/group', { title: 'g', participantIds: [bot.id] });
    expect((await send(api, group.body.id, 'before deletion')).status).toBe(201);
    expect((await alice.api.delete(`/api/bots/${bot.id}`)).status).toBe(204);
    expect((await api.get('/api/auth/me')).status).toBe(401);
    expect((await alice.api.get('/api/bots')).body.bots).toEqual([]);
    expect((await alice.api.delete(`/api/bots/${bot.id}`)).status).toBe(404);
    const page = await alice.api.get(`/api/messages/${group.body.id}`);
    expect(page.body.messages.map((m: { content: string }) => m.content)).toContain('before deletion');
    const again = await alice.api.post('/api/bots', { handle: bot.handle, displayName: 'Reborn' });
    expect(again.status).toBe(201);
    const [row] = await server.ctx.db.query<{ status: string; display_name: string }>('SELECT status, display_name FROM users WHERE id = $1', [bot.id]);
    expect(row).toEqual({ status: 'deleted', display_name: 'Short-lived' });
  });

  it("a deactivated or deleted person's bots are signed out with them", async () => {
    const carol = await registerUser(server, 'carol');
    const { bot, api } = await createBot(carol);
    expect((await admin.api.patch(`/api/admin/users/${carol.id}`, { status: 'deactivated' })).status).toBe(200);
    expect((await api.get('/api/auth/me')).status).toBe(401);
    expect((await admin.api.patch(`/api/admin/users/${carol.id}`, { status: 'active' })).status).toBe(200);
    // Still signed out after the reactivation: the owner rotates the token to use the bot again.
    expect((await api.get('/api/auth/me')).status).toBe(401);
    const carolAgain = new Api(server.url, (await new Api(server.url).post('/api/auth/login', { email: carol.user.email, password: 'correct horse battery' })).body.accessToken);
    const rotated = await carolAgain.post(`/api/bots/${bot.id}/token`);
    expect(rotated.status).toBe(200);
    const fresh = new Api(server.url, rotated.body.token);
    expect((await fresh.get('/api/auth/me')).status).toBe(200);
    expect((await carolAgain.request('DELETE', '/api/users/me', { password: 'correct horse battery' })).status).toBe(204);
    expect((await fresh.get('/api/auth/me')).status).toBe(401);
  });

  it('bots cannot create bots; handles are unique; the body is checked', async () => {
    const alice = await registerUser(server, 'alice');
    const { api, bot } = await createBot(alice);
    expect((await api.post('/api/bots', { handle: handle(), displayName: 'child' })).status).toBe(403);
    expect((await alice.api.post('/api/bots', { handle: bot.handle.toUpperCase(), displayName: 'dup' })).status).toBe(409);
    expect((await alice.api.post('/api/bots', { handle: alice.user.handle, displayName: 'dup' })).status).toBe(409);
    expect((await alice.api.post('/api/bots', { handle: 'no spaces', displayName: 'x' })).status).toBe(400);
    expect((await new Api(server.url).post('/api/bots', { handle: handle(), displayName: 'x' })).status).toBe(401);
    expect((await new Api(server.url, 'cfb_not-a-real-token').get('/api/auth/me')).status).toBe(401);
  });

  it('limits how many bots a person creates', async () => {
    const limited = await startTestServer({ rateLimits: true });
    try {
      const bob = await registerUser(limited, 'bob');
      const statuses: number[] = [];
      for (let i = 0; i < 21; i++) statuses.push((await bob.api.post('/api/bots', { handle: handle(), displayName: 'b' })).status);
      expect(statuses.slice(0, 20).every((s) => s === 201)).toBe(true);
      expect(statuses[20]).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
