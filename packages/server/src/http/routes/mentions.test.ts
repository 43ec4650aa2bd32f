import { randomBytes } from 'node:crypto';
import type { AuthResult, Message } from '@confab/protocol';
import { io as connectClient, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, startTestServer, testDatabase, type TestServer, type TestUser } from '../../test/harness.ts';

/**
 * Mentions (docs/mentions.md) over REST and the socket, on the database under test: what a message
 * stores as mentioned (the parser's edge cases, resolved against the members), @here and @channel
 * and who may use them, unread mention counts, GET /api/mentions and its access rules, and the
 * notifications and AI trigger that read the stored mentions.
 */

let server: TestServer;
const sockets: Socket[] = [];
const tag = randomBytes(3).toString('hex');

async function register(handle: string, displayName = handle): Promise<TestUser> {
  const res = await new Api(server.url).post<AuthResult>('/api/auth/register', { email: `${handle}@example.test`, password: 'correct horse battery', handle, displayName });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...res.body, id: res.body.user.id, api: new Api(server.url, res.body.accessToken) };
}

let alice: TestUser, bob: TestUser, carol: TestUser, carolyn: TestUser, dave: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  // carolyn's handle starts with carol's: "@carolyn" must not mention carol, nor carolyn unless a member.
  [alice, bob, carol, carolyn, dave] = await Promise.all([
    register(`alice_${tag}`, 'Alice'),
    register(`Bob_${tag}`, 'Bob'),
    register(`carol_${tag}`, 'Carol'),
    register(`carol_${tag}yn`, 'Carolyn'),
    register(`dave_${tag}`, 'Dave'),
  ]);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
});

async function group(owner: TestUser, members: TestUser[], title = 'Team'): Promise<string> {
  const res = await owner.api.post('/api/conversations/group', { title, participantIds: members.map((m) => m.id) });
  expect(res.status).toBe(201);
  return res.body.id;
}

let n = 0;
async function send(user: TestUser, conversationId: string, content: string): Promise<Message> {
  const res = await user.api.post<Message>('/api/messages', { conversationId, content, clientId: `m-${++n}` });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function connect(user: TestUser): Promise<{ socket: Socket; notifications: any[]; received: Message[] }> {
  const socket = connectClient(server.url, { auth: { token: user.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(socket);
  const notifications: any[] = [];
  const received: Message[] = [];
  socket.on('notification', (event: unknown) => notifications.push(event));
  socket.on('chat:message_received', (m: Message) => received.push(m));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  await until(async () => (await server.ctx.presence!.online([user.id])).has(user.id));
  return { socket, notifications, received };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const mentionIds = async (user: TestUser, query = '') => ((await user.api.get(`/api/mentions${query}`)).body.messages as Message[]).map((m) => m.id);
const unreadMentions = async (user: TestUser, conversationId: string) => (await user.api.get(`/api/conversations/${conversationId}`)).body.unreadMentionCount as number;

describe(`mentions (${testDatabase})`, () => {
  it('stores whom a message mentions: members by handle, case-insensitively, as words of their own', async () => {
    const conv = await group(alice, [bob, carol], 'Parsing');
    const c = carol.user.handle;
    const cases: [string, string[]][] = [
      [`@${c}, look`, [carol.id]],
      [`(@${c})`, [carol.id]],
      [`thanks @${c}.`, [carol.id]],
      [`@${c.toUpperCase()} and @${bob.user.handle.toLowerCase()}`, [bob.id, carol.id].sort()],
      [`hi @${c}: @${c}!`, [carol.id]],
      // Not mentions: inside an address, a longer handle, a domain, a path, code.
      [`write to a@b.c`, []],
      [`email@${c}.com`, []],
      [`@${c}.com`, []],
      [`@${c}yn`, []],
      [`@${c}-bot`, []],
      [`https://social.example/@${c}`, []],
      ['`@' + c + '` is a handle', []],
      ['```\nping @' + c + '\n```', []],
      // A user who is not a member is not mentioned (dave exists, but is not in this group).
      [`@${dave.user.handle}`, []],
      ['@nobody_at_all', []],
    ];
    for (const [content, expected] of cases) {
      const m = await send(alice, conv, content);
      expect([content, m.mentions]).toEqual([content, expected]);
      expect(m).toMatchObject({ mentionsHere: false, mentionsChannel: false });
    }
    // As stored: the list the conversation's messages page returns says the same.
    const page = (await bob.api.get(`/api/messages/${conv}?limit=50`)).body.messages as Message[];
    expect(page.filter((m) => m.kind === 'text').map((m) => m.mentions)).toEqual(cases.map(([, e]) => e));
  });

  it('mentions a member by a handle that is a prefix of a non-member\'s, and the longer one once they join', async () => {
    const conv = await group(alice, [carol], 'Prefixes');
    expect((await send(alice, conv, `@${carolyn.user.handle} hi`)).mentions).toEqual([]);
    await alice.api.post(`/api/conversations/${conv}/participants`, { userIds: [carolyn.id] });
    expect((await send(alice, conv, `@${carolyn.user.handle} hi`)).mentions).toEqual([carolyn.id]);
  });

  it('mentions the assistant with @assistant only while it is a member, and not by @assistant-bot', async () => {
    const conv = await group(alice, [bob], 'AI');
    expect((await send(bob, conv, '@assistant what is this?')).mentions).toEqual([]);
    expect((await alice.api.post(`/api/conversations/${conv}/participants`, { userIds: ['assistant'] })).status).toBe(200);
    expect((await send(bob, conv, '@assistant-bot is not you')).mentions).toEqual([]);
    // (No AI provider is configured: the trigger's answer fails, which is not what is tested here.)
    expect((await send(bob, conv, 'hey @Assistant, sum this up')).mentions).toEqual(['assistant']);
  });

  it('gives plain messages empty mentions over the socket too, and resolves mentions sent over it', async () => {
    const conv = await group(alice, [bob], 'Socket');
    const { socket } = await connect(alice);
    const ack = (content: string, clientId: string) =>
      new Promise<any>((resolve) => socket.emit('chat:message_send', { conversationId: conv, content, clientId }, resolve));
    const plain = await ack('no one in particular', `s-${++n}`);
    expect(plain.data).toMatchObject({ mentions: [], mentionsHere: false, mentionsChannel: false });
    const mention = await ack(`@${bob.user.handle} ping`, `s-${++n}`);
    expect(mention.data).toMatchObject({ mentions: [bob.id] });
    socket.close();
  });

  it('@channel mentions every member; @here the members online when it was sent', async () => {
    const conv = await group(alice, [bob, carol, dave], 'Everyone');
    const bobLive = await connect(bob);
    const channel = await send(alice, conv, 'heads up @channel');
    expect(channel).toMatchObject({ mentions: [], mentionsChannel: true, mentionsHere: false });
    const here = await send(alice, conv, '@here who is around?');
    expect(here).toMatchObject({ mentionsHere: true, mentionsChannel: false });
    // bob was online: both mention him; carol and dave were not: only @channel does.
    expect((await mentionIds(bob)).slice(0, 2)).toEqual([here.id, channel.id]);
    expect(await mentionIds(carol)).toContain(channel.id);
    expect(await mentionIds(carol)).not.toContain(here.id);
    expect(await unreadMentions(bob, conv)).toBe(2);
    expect(await unreadMentions(carol, conv)).toBe(1);
    // The author is not mentioned by their own message.
    expect(await mentionIds(alice)).not.toContain(channel.id);
    expect(await unreadMentions(alice, conv)).toBe(0);
    // A connected member is told in app, as a mention.
    // (Only this conversation's: a notification of an earlier test's message may still arrive.)
    const told = () => bobLive.notifications.filter((e) => e.conversationId === conv);
    await until(() => told().length >= 2);
    expect(told().map((e) => [e.kind, e.messageId])).toEqual([
      ['mention', channel.id],
      ['mention', here.id],
    ]);
    bobLive.socket.close();
  });

  it('lets admins restrict @channel and @here: a member\'s then sends but mentions no one', async () => {
    const conv = await group(alice, [bob, carol], 'Restricted');
    await alice.api.patch(`/api/conversations/${conv}/participants/${carol.id}`, { role: 'admin' });
    expect((await alice.api.get(`/api/conversations/${conv}`)).body.mentionChannel).toBe('everyone');
    // Only owners and admins change it; a non-member is told nothing; bad values are refused.
    expect((await bob.api.patch(`/api/conversations/${conv}`, { mentionChannel: 'admins' })).body.error.code).toBe('FORBIDDEN');
    expect((await dave.api.patch(`/api/conversations/${conv}`, { mentionChannel: 'admins' })).body.error.code).toBe('NOT_FOUND');
    expect((await alice.api.patch(`/api/conversations/${conv}`, { mentionChannel: 'nobody' })).status).toBe(400);
    const changed = await carol.api.patch(`/api/conversations/${conv}`, { mentionChannel: 'admins' });
    expect(changed.status).toBe(200);
    expect(changed.body.mentionChannel).toBe('admins');
    expect((await bob.api.get(`/api/conversations/${conv}`)).body.mentionChannel).toBe('admins');

    const aliceLive = await connect(alice);
    const fromMember = await send(bob, conv, '@channel @here free pizza');
    expect(fromMember).toMatchObject({ mentionsChannel: false, mentionsHere: false, content: '@channel @here free pizza' });
    // ...but a member's @handle still works.
    expect((await send(bob, conv, `@${carol.user.handle} and @channel`)).mentions).toEqual([carol.id]);
    const fromAdmin = await send(carol, conv, '@channel meeting now');
    expect(fromAdmin.mentionsChannel).toBe(true);
    expect(await mentionIds(alice)).not.toContain(fromMember.id);
    expect((await mentionIds(alice))[0]).toBe(fromAdmin.id);
    // alice (online) was told of the admin's @channel only.
    await until(() => aliceLive.notifications.length >= 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(aliceLive.notifications.map((e) => e.messageId)).toEqual([fromAdmin.id]);
    aliceLive.socket.close();
    // A direct conversation has no such setting.
    const dm = (await alice.api.post('/api/conversations/direct', { userId: bob.id })).body.id;
    expect((await alice.api.patch(`/api/conversations/${dm}`, { mentionChannel: 'admins' })).body.error.code).toBe('FORBIDDEN');
  });

  it('counts unread mentions after the read watermark, moving with reads', async () => {
    const conv = await group(alice, [bob], 'Counting');
    const first = await send(alice, conv, `@${bob.user.handle} one`);
    await send(alice, conv, 'not a mention');
    const second = await send(alice, conv, `two @${bob.user.handle}`);
    const list = (await bob.api.get('/api/conversations')).body.conversations as any[];
    expect(list.find((c) => c.id === conv)).toMatchObject({ unreadCount: 3, unreadMentionCount: 2 });
    await bob.api.post(`/api/messages/${first.id}/status`, { status: 'read' });
    expect(await unreadMentions(bob, conv)).toBe(1);
    await bob.api.post(`/api/messages/${second.id}/status`, { status: 'read' });
    expect(await unreadMentions(bob, conv)).toBe(0);
    // Bob's own reply reads everything; an own mention never counts.
    await send(alice, conv, `@${bob.user.handle} three`);
    await send(bob, conv, `noted @${bob.user.handle}`);
    expect(await unreadMentions(bob, conv)).toBe(0);
  });

  it('edits re-resolve mentions; deleting a message takes its mention away', async () => {
    const conv = await group(alice, [bob, carol], 'Edits');
    const m = await send(alice, conv, 'hello all');
    expect(m.mentions).toEqual([]);
    const edited = await alice.api.patch<Message>(`/api/messages/${m.id}`, { content: `hello @${carol.user.handle}` });
    expect(edited.body.mentions).toEqual([carol.id]);
    expect(await mentionIds(carol)).toContain(m.id);
    expect(await unreadMentions(carol, conv)).toBe(1);
    const again = await alice.api.patch<Message>(`/api/messages/${m.id}`, { content: `hello @${bob.user.handle}` });
    expect(again.body.mentions).toEqual([bob.id]);
    expect(await mentionIds(carol)).not.toContain(m.id);
    expect(await unreadMentions(carol, conv)).toBe(0);
    expect(await mentionIds(bob)).toContain(m.id);
    const deleted = await alice.api.delete<Message>(`/api/messages/${m.id}`);
    expect(deleted.body).toMatchObject({ mentions: [], content: '' });
    expect(await mentionIds(bob)).not.toContain(m.id);
  });

  it('lists mentions newest first, a page at a time, only from conversations the caller is in now', async () => {
    const erin = await register(`erin_${tag}`, 'Erin');
    const conv = await group(alice, [erin], 'Paging');
    const other = await group(bob, [erin], 'Other');
    const sent = [await send(alice, conv, `@${erin.user.handle} 1`), await send(bob, other, `@${erin.user.handle} 2`), await send(alice, conv, `@channel 3`)];
    const first = await erin.api.get('/api/mentions?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.messages.map((m: Message) => m.id)).toEqual([sent[2]!.id, sent[1]!.id]);
    expect(first.body.messages[0].content).toBe('@channel 3');
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await erin.api.get(`/api/mentions?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`);
    expect(second.body).toEqual({ messages: [expect.objectContaining({ id: sent[0]!.id })], nextCursor: null });
    expect((await erin.api.get('/api/mentions?cursor=bogus')).body.error.code).toBe('VALIDATION_ERROR');
    expect((await erin.api.get('/api/mentions?limit=0')).status).toBe(400);
    expect((await new Api(server.url).get('/api/mentions')).status).toBe(401);

    // Removed from a conversation, erin no longer sees its mentions (nor counts them)...
    expect((await alice.api.delete(`/api/conversations/${conv}/participants/${erin.id}`)).status).toBeLessThan(300);
    expect(await mentionIds(erin)).toEqual([sent[1]!.id]);
    // ...and added back, sees only what mentions her from then on, not the old ones.
    await alice.api.post(`/api/conversations/${conv}/participants`, { userIds: [erin.id] });
    expect(await mentionIds(erin)).toEqual([sent[1]!.id]);
    const fresh = await send(alice, conv, `welcome back @${erin.user.handle}`);
    expect(await mentionIds(erin)).toEqual([fresh.id, sent[1]!.id]);
    // Someone else's mentions are never listed.
    const daves = await mentionIds(dave);
    for (const m of [...sent, fresh]) expect(daves).not.toContain(m.id);
  });

  it('notifies a member whose level is "mentions" of @channel, by the stored mentions', async () => {
    const conv = await group(alice, [dave], 'Levels');
    await dave.api.put('/api/users/me/notifications', { level: 'mentions' });
    const live = await connect(dave);
    await send(alice, conv, 'plain');
    const channel = await send(alice, conv, '@channel look');
    // Mentions of dave by e-mail text are not mentions.
    await send(alice, conv, `mail me@${dave.user.handle}.example`);
    const direct = await send(alice, conv, `@${dave.user.handle}`);
    await until(() => live.notifications.length >= 2);
    await new Promise((r) => setTimeout(r, 150));
    expect(live.notifications.map((e) => [e.kind, e.messageId])).toEqual([
      ['mention', channel.id],
      ['mention', direct.id],
    ]);
    live.socket.close();
    await dave.api.put('/api/users/me/notifications', { level: 'all' });
  });

  it('reserves the handles here and channel', async () => {
    for (const handle of ['here', 'Channel']) {
      const res = await new Api(server.url).post('/api/auth/register', { email: `${handle}-${tag}@example.test`, password: 'correct horse battery', handle, displayName: 'x' });
      expect(res.status).toBe(400);
    }
  });
});
