import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

/** Incoming webhooks (docs/platform.md): who may create them, posting to their URL, and removal. */

let server: TestServer;
let owner: TestUser;
let admin: TestUser;
let member: TestUser;
let outsider: TestUser;
let conv: string;

beforeAll(async () => {
  server = await startTestServer();
  owner = await registerUser(server, 'owner');
  admin = await registerUser(server, 'admin');
  member = await registerUser(server, 'member');
  outsider = await registerUser(server, 'outsider');
  const res = await owner.api.post('/api/conversations/group', { title: 'Deploys', participantIds: [admin.id, member.id] });
  expect(res.status).toBe(201);
  conv = res.body.id;
  expect((await owner.api.patch(`/api/conversations/${conv}/participants/${admin.id}`, { role: 'admin' })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await server?.close();
});

/** The path of a hook URL (the test server has no CONFAB_PUBLIC_URL: the URL is on its own origin). */
function hookPath(url: string): string {
  expect(url.startsWith(server.url)).toBe(true);
  return url.slice(server.url.length);
}

const anonymous = () => new Api(server.url);

describe('incoming webhooks', () => {
  it('conversation admins create them; plain members get 403 and outsiders 404', async () => {
    expect((await member.api.post(`/api/conversations/${conv}/hooks`, { name: 'CI' })).status).toBe(403);
    expect((await outsider.api.post(`/api/conversations/${conv}/hooks`, { name: 'CI' })).status).toBe(404);
    expect((await member.api.get(`/api/conversations/${conv}/hooks`)).status).toBe(403);
    const created = await admin.api.post(`/api/conversations/${conv}/hooks`, { name: 'CI' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'CI', conversationId: conv, createdBy: admin.id });
    expect(created.body.url).toMatch(new RegExp(`/api/hooks/${created.body.id}/[A-Za-z0-9_-]{40,}$`));
    const listed = await owner.api.get(`/api/conversations/${conv}/hooks`);
    expect(listed.status).toBe(200);
    expect(listed.body.hooks.map((h: any) => h.id)).toEqual([created.body.id]);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.url.split('/').pop());
    // Its bot is a member with the hook's name.
    const bot = await member.api.get(`/api/users/${created.body.botUserId}`);
    expect(bot.body).toMatchObject({ displayName: 'CI', isBot: true });
  });

  it('a post to the URL stores a message by the hook’s bot that members read; wrong tokens are 404', async () => {
    const created = await owner.api.post(`/api/conversations/${conv}/hooks`, { name: 'Alerts' });
    const path = hookPath(created.body.url);
    const posted = await anonymous().post(path, { content: 'deploy 42 finished' });
    expect(posted.status).toBe(201);
    expect(posted.body).toMatchObject({ authorId: created.body.botUserId, conversationId: conv, content: 'deploy 42 finished' });
    const messages = (await member.api.get(`/api/messages/${conv}?limit=100`)).body.messages as Message[];
    expect(messages.find((m) => m.content === 'deploy 42 finished')?.authorId).toBe(created.body.botUserId);

    const wrongToken = path.replace(/[^/]+$/, 'A'.repeat(43));
    const wrong = await anonymous().post(wrongToken, { content: 'sneaky' });
    expect(wrong.status).toBe(404);
    expect(wrong.body.error.code).toBe('NOT_FOUND');
    expect((await anonymous().post(`/api/hooks/nosuchhook/${'B'.repeat(43)}`, { content: 'sneaky' })).status).toBe(404);
    // A bearer token is neither needed nor a substitute for the URL's token.
    expect((await member.api.post(wrongToken, { content: 'sneaky' })).status).toBe(404);
    const after = (await member.api.get(`/api/messages/${conv}?limit=100`)).body.messages as Message[];
    expect(after.some((m) => m.content === 'sneaky')).toBe(false);
  });

  it('refuses hostile content as any send would', async () => {
    const created = await owner.api.post(`/api/conversations/${conv}/hooks`, { name: 'Limits' });
    const path = hookPath(created.body.url);
    const tooLong = await anonymous().post(path, { content: 'x'.repeat(64 * 1024 + 1) });
    expect(tooLong.status).toBe(413);
    expect(tooLong.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await anonymous().post(path, { content: '   ' })).status).toBe(400);
    expect((await anonymous().post(path, { content: 5 })).status).toBe(400);
    expect((await anonymous().post(path, { content: 'hi', authorId: owner.id })).status).toBe(400);
  });

  it('after DELETE the URL is 404 and the bot has left; only admins delete', async () => {
    const created = await admin.api.post(`/api/conversations/${conv}/hooks`, { name: 'Temporary' });
    const path = hookPath(created.body.url);
    expect((await anonymous().post(path, { content: 'before removal' })).status).toBe(201);
    expect((await member.api.delete(`/api/conversations/${conv}/hooks/${created.body.id}`)).status).toBe(403);
    expect((await admin.api.delete(`/api/conversations/${conv}/hooks/${created.body.id}`)).status).toBe(204);
    expect((await anonymous().post(path, { content: 'after removal' })).status).toBe(404);
    expect((await admin.api.delete(`/api/conversations/${conv}/hooks/${created.body.id}`)).status).toBe(404);
    const members = (await member.api.get(`/api/conversations/${conv}`)).body.members as Array<{ userId?: string; id?: string }>;
    expect(members.map((p) => p.userId ?? p.id)).not.toContain(created.body.botUserId);
    // Its messages stay.
    const messages = (await member.api.get(`/api/messages/${conv}?limit=100`)).body.messages as Message[];
    expect(messages.some((m) => m.content === 'before removal')).toBe(true);
  });

  it('only group conversations have them', async () => {
    const direct = await owner.api.post('/api/conversations/direct', { userId: member.id });
    expect([200, 201]).toContain(direct.status);
    expect((await owner.api.post(`/api/conversations/${direct.body.id}/hooks`, { name: 'No' })).status).toBe(403);
  });
});
