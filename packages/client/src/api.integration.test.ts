/**
 * The SDK's REST calls against a real Confab server: every route the server publishes has an SDK
 * method (REST_ROUTES), and each `client.api` method works once end to end.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../../server/src/test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../server/src/test/harness.ts';
import { REST_ROUTES, RestApi } from './api.ts';
import { createClient, type ConfabClient } from './client.ts';
import { refused } from './test/live.ts';

const MODEL = 'openai:test-model';
let fake: FakeOpenAI;
let server: TestServer;
const clients: ConfabClient[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI();
  server = await startTestServer(
    { ai: testAiConfig(fake.url, [MODEL]) },
    { push: { allowInsecureEndpoints: true, subject: 'mailto:ops@confab.test', maxAttempts: 1 } },
  );
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
  await fake?.close();
});

/** A client for REST only (no socket), signed in as `user`. */
function sdk(user: TestUser): ConfabClient {
  const client = createClient({ url: server.url, autoConnect: false });
  clients.push(client);
  client.setSession({ accessToken: user.accessToken, refreshToken: user.refreshToken });
  return client;
}


describe('REST_ROUTES', () => {
  it('lists exactly the routes the server publishes, each with an SDK method that exists', async () => {
    const docs = (await (await fetch(`${server.url}/api/docs`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const published = Object.entries(docs.paths)
      .flatMap(([route, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${route.replace(/\{(\w+)\}/g, ':$1')}`))
      .sort();
    const listed = REST_ROUTES.map((r) => `${r.method} ${r.path}`).sort();
    expect(listed).toEqual(published);
    expect(published.length).toBeGreaterThanOrEqual(47);

    const client = createClient({ url: server.url, autoConnect: false });
    clients.push(client);
    for (const route of REST_ROUTES) {
      const [owner, name] = route.sdk.startsWith('api.') ? [client.api, route.sdk.slice(4)] : [client, route.sdk];
      expect(typeof (owner as unknown as Record<string, unknown>)[name], `${route.method} ${route.path}: ${route.sdk}`).toBe('function');
    }
    // The table and the class agree both ways: no api method without a route.
    const methods = Object.getOwnPropertyNames(RestApi.prototype).filter((n) => n !== 'constructor');
    const named = new Set(REST_ROUTES.filter((r) => r.sdk.startsWith('api.')).map((r) => r.sdk.slice(4)));
    expect(methods.filter((m) => !named.has(m))).toEqual([]);
  });
});

describe('client.api against a real server', () => {
  let alice: TestUser;
  let bob: TestUser;
  let a: ConfabClient;
  let b: ConfabClient;
  beforeAll(async () => {
    alice = await registerUser(server, 'alice');
    bob = await registerUser(server, 'bob');
    a = sdk(alice);
    b = sdk(bob);
  });

  it('users, profile, settings and notification settings', async () => {
    const found = await a.api.searchUsers({ query: bob.user.handle, limit: 5 });
    expect(found.users.map((u) => u.id)).toEqual([bob.id]);
    expect((await a.api.getUser(bob.id)).handle).toBe(bob.user.handle);
    expect(await refused(a.api.getUser('nobody-at-all'))).toBe('NOT_FOUND');

    expect((await a.api.updateMe({ displayName: 'Alice A.' })).displayName).toBe('Alice A.');
    expect(await refused(a.api.updateMe({ displayName: '' }))).toBe('VALIDATION_ERROR');

    expect(await a.api.getSettings()).toEqual({});
    expect(await a.api.putSettings({ theme: 'dark', nested: { a: [1, 2] } })).toEqual({ theme: 'dark', nested: { a: [1, 2] } });
    expect(await a.api.getSettings()).toEqual({ theme: 'dark', nested: { a: [1, 2] } });

    const prefs = await a.api.getNotificationSettings();
    expect(prefs).toMatchObject({ level: expect.any(String), preview: expect.any(Boolean) });
    expect(await a.api.updateNotificationSettings({ level: 'none' })).toEqual({ ...prefs, level: 'none' });
    expect(await a.api.getNotificationSettings()).toEqual({ ...prefs, level: 'none' });
  });

  it('refreshes a token pair held elsewhere', async () => {
    const other = await registerUser(server, 'carol');
    const pair = await a.api.refreshTokens(other.refreshToken);
    expect(pair).toEqual({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    expect(pair.refreshToken).not.toBe(other.refreshToken);
    expect(await refused(a.api.refreshTokens('not-a-token'))).toBe('UNAUTHENTICATED');
  });

  it('invites and the admin’s users', async () => {
    // Alice administers (she is the first account, and this keeps it so whatever registered before).
    await server.ctx.db.query(`UPDATE users SET role = 'owner' WHERE id = $1`, [alice.id]);
    const invite = await a.api.createInvite({ maxUses: 1 });
    expect(invite.url).toBe(`${server.url}/invite/${invite.token}`);
    expect((await a.api.listInvites()).invites.map((i) => i.id)).toContain(invite.id);
    await a.api.revokeInvite(invite.id);
    expect((await a.api.listInvites()).invites.map((i) => i.id)).not.toContain(invite.id);
    expect((await a.api.listAdminUsers({ query: bob.user.handle })).users.map((u) => u.id)).toEqual([bob.id]);
    expect((await a.api.updateAdminUser(bob.id, { role: 'admin' })).role).toBe('admin');
    expect((await a.api.updateAdminUser(bob.id, { role: 'user' })).role).toBe('user');
    expect(await refused(b.api.listAdminUsers())).toBe('FORBIDDEN');
  });

  it('platform: API keys, a platform user, minted tokens for a client of its own', async () => {
    await server.ctx.db.query(`UPDATE users SET role = 'owner' WHERE id = $1`, [alice.id]);
    const created = await a.api.createPlatformKey({ name: 'sdk backend', scopes: ['users', 'tokens'] });
    expect((await a.api.listPlatformKeys()).keys.map((k) => k.id)).toContain(created.id);
    // A backend's client needs no session: the key goes with each platform call.
    const backend = createClient({ url: server.url, autoConnect: false });
    clients.push(backend);
    const user = await backend.api.putPlatformUser(created.key, 'sdk-user-1', { displayName: 'SDK User' });
    expect(user.externalId).toBe('sdk-user-1');
    const tokens = await backend.api.mintTokens(created.key, { externalId: 'sdk-user-1' });
    const front = createClient({ url: server.url, autoConnect: false });
    clients.push(front);
    front.setSession(tokens);
    expect((await front.fetchMe()).id).toBe(user.id);
    await a.api.revokePlatformKey(created.id);
    expect(await refused(backend.api.mintTokens(created.key, { externalId: 'sdk-user-1' }))).toBe('UNAUTHENTICATED');
    expect(await refused(backend.api.exchangeExternalToken('not.configured.here'))).toBe('NOT_FOUND');
  });

  it('models and the caller’s own keys', async () => {
    expect(await a.api.listModels()).toEqual({ models: [expect.objectContaining({ id: MODEL })], defaultModel: MODEL });
    expect(await a.api.listApiKeys()).toEqual({ providers: [] });
    await a.api.putApiKey('openai', 'sk-alice-own-key');
    expect((await a.api.listApiKeys()).providers.map((p) => p.provider)).toEqual(['openai']);
    await a.api.deleteApiKey('openai');
    expect(await a.api.listApiKeys()).toEqual({ providers: [] });
    const usage = await a.api.getUsage({ days: 2 });
    expect(usage.days.map((d) => d.answers)).toEqual([0, 0]);
    expect(usage.today.answersLeft).toBeNull();
  });

  it('conversations, members and projects', async () => {
    const group = await a.api.createGroup({ title: 'Team' });
    expect(group).toMatchObject({ type: 'group', title: 'Team', role: 'owner' });
    expect((await a.api.createDirect(bob.id)).type).toBe('direct');
    expect((await a.api.createAssistant({ title: 'Helper' })).type).toBe('assistant');

    const added = await a.api.addParticipants(group.id, { userIds: [bob.id] });
    expect(added.members.map((m) => m.userId).sort()).toEqual([alice.id, bob.id].sort());
    const promoted = await a.api.changeRole(group.id, bob.id, 'admin');
    expect(promoted.members.find((m) => m.userId === bob.id)?.role).toBe('admin');
    await a.api.removeParticipant(group.id, bob.id);
    expect(await refused(b.api.getConversation(group.id))).toMatch(/NOT_FOUND|FORBIDDEN/);

    const project = await a.api.createProject('Work');
    expect((await a.api.renameProject(project.id, 'Job')).name).toBe('Job');
    expect((await a.api.listProjects()).projects.map((p) => p.name)).toEqual(['Job']);
    const moved = await a.api.updateConversation(group.id, { projectId: project.id, pinned: true });
    expect(moved).toMatchObject({ projectId: project.id, pinned: true });
    expect((await a.api.getConversation(group.id)).pinned).toBe(true);
    await a.api.deleteProject(project.id);
    expect(await a.api.listProjects()).toEqual({ projects: [] });

    const page = await a.api.listConversations({ limit: 2 });
    expect(page.conversations).toHaveLength(2);
    expect(page.nextCursor).not.toBeNull();
    const rest = await a.api.listConversations({ limit: 2, cursor: page.nextCursor! });
    expect(rest.conversations.map((c) => c.id)).not.toContain(page.conversations[0]!.id);

    await a.api.deleteConversation(group.id);
    expect(await refused(a.api.getConversation(group.id))).toBe('NOT_FOUND');
  });

  it('messages, receipts, reactions and search', async () => {
    const group = await a.api.createGroup({ title: 'Chat', participantIds: [bob.id] });
    const first = await a.api.sendMessage({ conversationId: group.id, content: 'hello brave world', clientId: 'api-1' });
    expect(first).toMatchObject({ content: 'hello brave world', authorId: alice.id });
    expect((await a.api.sendMessage({ conversationId: group.id, content: 'hello brave world', clientId: 'api-1' })).id).toBe(first.id);
    const second = await b.api.sendMessage({ conversationId: group.id, content: 'second', clientId: 'api-2' });

    expect((await a.api.editMessage(first.id, 'hello edited world')).editedAt).not.toBeNull();
    expect((await b.api.markMessage(second.id, 'read')).seq).toBe(second.seq);
    expect((await b.api.addReaction(first.id, '👍')).reactions).toEqual([{ emoji: '👍', count: 1, userIds: [bob.id] }]);
    expect((await b.api.removeReaction(first.id, '👍')).reactions).toEqual([]);

    const latest = await a.api.listMessages(group.id, { limit: 50 });
    expect(latest.messages.filter((m) => m.kind !== 'system').map((m) => m.id)).toEqual([first.id, second.id]);
    const older = await a.api.listMessages(group.id, { before: second.seq, limit: 50 });
    expect(older.messages.map((m) => m.id)).not.toContain(second.id);

    const hits = await a.api.search({ query: 'edited world', limit: 5 });
    expect(hits.messages.map((m) => m.id)).toEqual([first.id]);
    expect((await a.api.search({ query: 'edited', conversationId: group.id })).messages).toHaveLength(1);

    const mention = await b.api.sendMessage({ conversationId: group.id, content: `@${alice.user.handle} look`, clientId: 'api-3' });
    expect(mention.mentions).toEqual([alice.id]);
    expect(await a.api.listMentions({ limit: 5 })).toEqual({ messages: [mention], nextCursor: null });

    expect(await refused(b.api.deleteMessage(first.id))).toBe('FORBIDDEN');
    expect((await a.api.deleteMessage(first.id)).deletedAt).not.toBeNull();
  });

  it('attachments: ticket, upload, download (original and preview), delete', async () => {
    const group = await a.api.createGroup({ title: 'Files', participantIds: [bob.id] });
    const image = await sharp({ create: { width: 320, height: 200, channels: 3, background: { r: 10, g: 120, b: 200 } } })
      .jpeg()
      .toBuffer();
    const ticket = await a.api.createAttachment({ conversationId: group.id, name: 'photo.jpg', type: 'image/jpeg', size: image.length });
    const stored = await a.api.uploadAttachment(ticket, new Uint8Array(image), 'image/jpeg');
    expect(stored).toMatchObject({ id: ticket.attachmentId, type: 'image/jpeg', width: 320, height: 200, hasPreview: true });
    await a.api.sendMessage({ conversationId: group.id, content: '', kind: 'image', clientId: 'img-1', attachmentIds: [stored.id] });

    const original = await b.api.downloadAttachment(stored.id);
    expect(Buffer.from(await original.arrayBuffer()).length).toBeGreaterThan(0);
    expect(original.type).toBe('image/jpeg');
    const preview = await b.api.downloadAttachment(stored.id, 'preview');
    expect(preview.type).toBe('image/webp');

    const spare = await a.api.createAttachment({ conversationId: group.id, name: 'note.txt', type: 'text/plain', size: 5 });
    await a.api.uploadAttachment(spare, 'hello', 'text/plain');
    await a.api.deleteAttachment(spare.attachmentId);
    expect(await refused(a.api.downloadAttachment(spare.attachmentId))).toBe('NOT_FOUND');
    expect(await refused(a.api.uploadAttachment({ uploadUrl: 'https://elsewhere.example/x' }, 'x', 'text/plain'))).toBe('VALIDATION_ERROR');
  });

  it('incoming hooks: create, list, post, delete', async () => {
    const group = await a.api.createGroup({ title: 'Hooked', participantIds: [bob.id] });
    const hook = await a.api.createIncomingHook(group.id, 'CI');
    expect((await a.api.listIncomingHooks(group.id)).hooks.map((h) => h.id)).toEqual([hook.id]);
    expect(await refused(b.api.createIncomingHook(group.id, 'No'))).toBe('FORBIDDEN');
    const token = hook.url.split('/').pop()!;
    const posted = await b.api.postToIncomingHook(hook.id, token, 'build green');
    expect(posted).toMatchObject({ authorId: hook.botUserId, content: 'build green' });
    await a.api.deleteIncomingHook(group.id, hook.id);
    expect(await refused(b.api.postToIncomingHook(hook.id, token, 'again'))).toBe('NOT_FOUND');
  });

  it('branches and shares: branch, share, read signed out, list, remove', async () => {
    const group = await a.api.createGroup({ title: 'Branch me', participantIds: [bob.id] });
    const first = await a.api.sendMessage({ conversationId: group.id, content: 'first', clientId: 'branch-1' });
    await b.api.sendMessage({ conversationId: group.id, content: 'second', clientId: 'branch-2' });
    // Through the client: the branch is in the local store at once.
    const branch = await b.branchConversation(group.id, first.id);
    expect(branch).toMatchObject({ type: 'assistant', title: 'Branch me (branch)' });
    expect(b.getConversation(branch.id)?.id).toBe(branch.id);
    expect((await b.api.listMessages(branch.id)).messages.map((m) => m.content)).toEqual(['first']);
    expect((await a.api.branchConversation(group.id, first.id)).id).not.toBe(branch.id);

    const share = await a.api.createShare(group.id);
    expect(await refused(b.api.createShare(group.id))).toBe('FORBIDDEN');
    expect((await a.api.listShares(group.id)).shares.map((s) => s.id)).toEqual([share.id]);
    // Anyone reads it, signed in or not.
    const signedOut = createClient({ url: server.url, autoConnect: false });
    clients.push(signedOut);
    const snapshot = await signedOut.api.getShared(share.id);
    expect(snapshot).toMatchObject({ title: 'Branch me', messages: [{ content: 'first' }, { content: 'second' }] });
    await a.api.deleteShare(group.id, share.id);
    expect(await refused(signedOut.api.getShared(share.id))).toBe('NOT_FOUND');
  });

  it('push subscriptions', async () => {
    expect((await a.api.vapidPublicKey()).publicKey).toMatch(/^[\w-]+$/);
    const endpoint = 'http://127.0.0.1:9/push/alice';
    const info = await a.api.addPushSubscription({ endpoint, keys: { p256dh: 'BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM', auth: 'tBHItJI5svbpez7KI4CCXg' } });
    expect(info.endpoint).toBe(endpoint);
    expect((await a.api.listPushSubscriptions()).subscriptions.map((s) => s.endpoint)).toEqual([endpoint]);
    await a.api.deletePushSubscription(endpoint);
    expect(await a.api.listPushSubscriptions()).toEqual({ subscriptions: [] });
  });

  it('accounts: sessions, password, reset links, export, deletion', async () => {
    const [dee, admin] = [await registerUser(server, 'dee'), await registerUser(server, 'boss')];
    await server.ctx.db.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [admin.id]);
    const d = sdk(dee);
    const second = await registerUser(server, 'gone');
    const sessions = await d.api.listSessions();
    expect(sessions.sessions).toEqual([expect.objectContaining({ current: true })]);
    await d.api.endOtherSessions();
    expect(await refused(d.api.endSession('no-such-session'))).toBe('NOT_FOUND');
    expect(await refused(d.api.changePassword({ currentPassword: 'wrong one', newPassword: 'a new secret here' }))).toBe('FORBIDDEN');
    await d.api.changePassword({ currentPassword: 'correct horse battery', newPassword: 'a new secret here' });
    await d.api.requestPasswordReset('nobody@example.test');
    const link = await sdk(admin).api.createPasswordResetLink(dee.id);
    await d.api.resetPassword({ token: link.token, newPassword: 'reset from the link' });
    expect(await refused(d.api.resetPassword({ token: link.token, newPassword: 'reset from the link' }))).toBe('VALIDATION_ERROR');

    const s = sdk(second);
    const doc = JSON.parse(await (await s.api.exportData()).text());
    expect(doc.profile.id).toBe(second.id);
    await s.api.deleteAccount('correct horse battery');
    expect((await a.api.getUser(second.id)).displayName).toBe('Deleted user');
    const third = await registerUser(server, 'third');
    await sdk(admin).api.deleteUser(third.id);
    expect((await a.api.getUser(third.id)).displayName).toBe('Deleted user');
  });
});
