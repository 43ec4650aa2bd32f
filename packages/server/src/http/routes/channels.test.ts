import { LIMITS, type Channel, type Conversation, type Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendMessage } from '../../operations/messages.ts';
import { call, connect, ok, record, sleep, until, waitFor, type Client } from '../../realtime/test/kit.ts';
import { Api, registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

// Channels (public groups, topics, the directory, joining) and pins, on the database under test
// (embedded by default, PostgreSQL with CONFAB_TEST_DATABASE_URL).

let server: TestServer;
const sockets: Client[] = [];
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
});

const users = <N extends string[]>(...names: N) => Promise.all(names.map((n) => registerUser(server, n))) as Promise<{ [K in keyof N]: TestUser }>;
const socketOf = async (u: TestUser) => {
  const s = await connect(server.url, u.accessToken);
  sockets.push(s);
  return s;
};

let titles = 0;
/** A unique title, so directory searches in one test see only their own channels. */
const uniqueTitle = (base: string) => `${base} ${++titles}-${Math.random().toString(36).slice(2, 8)}`;

async function channel(owner: TestUser, body: Record<string, unknown> = {}, members: TestUser[] = []): Promise<Conversation> {
  const res = await owner.api.post('/api/conversations/group', { title: uniqueTitle('chan'), participantIds: members.map((m) => m.id), visibility: 'public', ...body });
  expect(res.status).toBe(201);
  return res.body;
}

let clientSeq = 0;
async function say(user: TestUser, conversationId: string, content = 'hello'): Promise<Message> {
  return (await sendMessage(server.ctx, user.id, { conversationId, content, clientId: `ch${++clientSeq}` })).message;
}
const messagesOf = async (u: TestUser, id: string) => (await u.api.get(`/api/messages/${id}?limit=200`)).body.messages as Message[];
const expectCode = (res: { status: number; body: any }, status: number, code: string) => {
  expect(res.status).toBe(status);
  expect(res.body.error.code).toBe(code);
};

describe('channel fields', () => {
  it('a group is private without a topic by default; direct and assistant conversations are private', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const g = await alice.api.post('/api/conversations/group', { title: 'Plain' });
    expect(g.body).toMatchObject({ visibility: 'private', topic: null });
    const d = await alice.api.post('/api/conversations/direct', { userId: bob.id });
    expect(d.body).toMatchObject({ visibility: 'private', topic: null });
    const list = (await alice.api.get('/api/conversations')).body.conversations as Conversation[];
    expect(list.every((c) => c.visibility === 'private' && c.topic === null)).toBe(true);
  });

  it('creates a public channel with a topic (trimmed; an empty one is none)', async () => {
    const [alice] = await users('alice');
    const c = await channel(alice, { topic: '  Release planning  ' });
    expect(c).toMatchObject({ type: 'group', visibility: 'public', topic: 'Release planning', role: 'owner' });
    expect((await alice.api.get(`/api/conversations/${c.id}`)).body).toMatchObject({ visibility: 'public', topic: 'Release planning' });
    const blank = await channel(alice, { topic: '   ' });
    expect(blank.topic).toBeNull();
  });

  it('refuses a bad visibility or an overlong topic', async () => {
    const [alice] = await users('alice');
    expectCode(await alice.api.post('/api/conversations/group', { title: 'x', visibility: 'secret' }), 400, 'VALIDATION_ERROR');
    expectCode(await alice.api.post('/api/conversations/group', { title: 'x', topic: 'a'.repeat(LIMITS.topicChars + 1) }), 400, 'VALIDATION_ERROR');
    expectCode(await alice.api.post('/api/conversations/group', { title: 'x', topic: 42 }), 400, 'VALIDATION_ERROR');
  });
});

describe('PATCH visibility and topic', () => {
  it('admins change them; each change is a system message and a conversation:update to members', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const c = await channel(alice, {}, [bob]);
    await alice.api.patch(`/api/conversations/${c.id}/participants/${bob.id}`, { role: 'admin' });
    const b = await socketOf(bob);
    const update = waitFor<any>(b, 'conversation:update', (u) => u.id === c.id && u.topic === 'Q3 goals');
    const res = await bob.api.patch(`/api/conversations/${c.id}`, { topic: 'Q3 goals' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ topic: 'Q3 goals', visibility: 'public' });
    expect((await update).topic).toBe('Q3 goals');
    const priv = await alice.api.patch(`/api/conversations/${c.id}`, { visibility: 'private', topic: '' });
    expect(priv.body).toMatchObject({ visibility: 'private', topic: null });
    const system = (await messagesOf(alice, c.id)).filter((m) => m.kind === 'system').map((m) => m.content);
    expect(system).toEqual(expect.arrayContaining(['bob set the topic to "Q3 goals"', 'alice made this channel private', 'alice removed the topic']));
    // Setting what is set changes nothing.
    const before = (await messagesOf(alice, c.id)).length;
    await alice.api.patch(`/api/conversations/${c.id}`, { visibility: 'private', topic: null });
    expect((await messagesOf(alice, c.id)).length).toBe(before);
    const pub = await alice.api.patch(`/api/conversations/${c.id}`, { visibility: 'public' });
    expect(pub.body.visibility).toBe('public');
    expect((await messagesOf(alice, c.id)).at(-1)!.content).toBe('alice made this group a public channel');
  });

  it('members and moderators get FORBIDDEN, non-members NOT_FOUND, direct chats FORBIDDEN', async () => {
    const [alice, bob, carol, mallory] = await users('alice', 'bob', 'carol', 'mallory');
    const c = await channel(alice, { topic: 'kept' }, [bob, carol]);
    await alice.api.patch(`/api/conversations/${c.id}/participants/${carol.id}`, { role: 'moderator' });
    expectCode(await bob.api.patch(`/api/conversations/${c.id}`, { topic: 'mine' }), 403, 'FORBIDDEN');
    expectCode(await carol.api.patch(`/api/conversations/${c.id}`, { visibility: 'private' }), 403, 'FORBIDDEN');
    expectCode(await mallory.api.patch(`/api/conversations/${c.id}`, { topic: 'hijack' }), 404, 'NOT_FOUND');
    expectCode(await mallory.api.patch(`/api/conversations/no-such-id`, { topic: 'x' }), 404, 'NOT_FOUND');
    const d = await alice.api.post('/api/conversations/direct', { userId: bob.id });
    expectCode(await alice.api.patch(`/api/conversations/${d.body.id}`, { visibility: 'public' }), 403, 'FORBIDDEN');
    const assistant = await alice.api.post('/api/conversations/assistant', {});
    expectCode(await alice.api.patch(`/api/conversations/${assistant.body.id}`, { topic: 'x' }), 403, 'FORBIDDEN');
    expect((await alice.api.get(`/api/conversations/${c.id}`)).body).toMatchObject({ topic: 'kept', visibility: 'public' });
  });
});

describe('GET /api/channels', () => {
  it('lists public channels only, with member counts and whether the caller is a member', async () => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol');
    const tag = `dir${Math.random().toString(36).slice(2, 8)}`;
    const pub = await channel(alice, { title: `${tag} public`, topic: 'all welcome' }, [bob]);
    await alice.api.post('/api/conversations/group', { title: `${tag} private`, participantIds: [bob.id] });
    const res = await carol.api.get(`/api/channels?query=${tag}`);
    expect(res.status).toBe(200);
    expect(res.body.channels).toEqual([
      { id: pub.id, title: `${tag} public`, topic: 'all welcome', memberCount: 2, isMember: false, createdAt: pub.createdAt, lastActivityAt: expect.any(String) },
    ]);
    expect(res.body.nextCursor).toBeNull();
    // Nothing of the inside: no members, no messages.
    expect(Object.keys(res.body.channels[0]).sort()).toEqual(['createdAt', 'id', 'isMember', 'lastActivityAt', 'memberCount', 'title', 'topic']);
    expect((await bob.api.get(`/api/channels?query=${tag}`)).body.channels[0].isMember).toBe(true);
    // The topic matches too.
    const byTopic = (await carol.api.get(`/api/channels?query=${encodeURIComponent('all welcome')}`)).body.channels as Channel[];
    expect(byTopic.map((c) => c.id)).toContain(pub.id);
  });

  it('pages by title with a cursor, neither skipping nor repeating', async () => {
    const [alice] = await users('alice');
    const tag = `pg${Math.random().toString(36).slice(2, 8)}`;
    const made = [];
    for (const t of ['delta', 'Alpha', 'charlie', 'Bravo', 'echo']) made.push(await channel(alice, { title: `${tag} ${t}` }));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { channels: Channel[]; nextCursor: string | null } } = await alice.api.get(`/api/channels?query=${tag}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...res.body.channels.map((c) => c.title));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['Alpha', 'Bravo', 'charlie', 'delta', 'echo'].map((t) => `${tag} ${t}`));
  });

  it('treats hostile queries and cursors as data', async () => {
    const [alice] = await users('alice');
    await channel(alice, { title: uniqueTitle('pct') });
    for (const q of ['%', '_', '\\', "' OR 1=1 --"]) {
      const res = await alice.api.get(`/api/channels?query=${encodeURIComponent(q)}`);
      expect(res.status).toBe(200);
      expect((res.body.channels as Channel[]).every((c) => c.title.includes(q) || (c.topic ?? '').includes(q))).toBe(true);
    }
    expectCode(await alice.api.get('/api/channels?cursor=not-a-cursor!'), 400, 'VALIDATION_ERROR');
    expectCode(await alice.api.get(`/api/channels?cursor=${Buffer.from('{"a":1}').toString('base64url')}`), 400, 'VALIDATION_ERROR');
    expectCode(await alice.api.get('/api/channels?limit=0'), 400, 'VALIDATION_ERROR');
    expectCode(await alice.api.get('/api/channels?limit=9999'), 400, 'VALIDATION_ERROR');
    expectCode(await alice.api.get('/api/channels?unknown=1'), 400, 'VALIDATION_ERROR');
    expect((await new Api(server.url).get('/api/channels')).status).toBe(401);
  });

  it('GET /api/channels/:id shows a public channel to anyone, and nothing else', async () => {
    const [alice, bob, mallory] = await users('alice', 'bob', 'mallory');
    const pub = await channel(alice, { topic: 'hi' });
    const res = await mallory.api.get(`/api/channels/${pub.id}`);
    expect(res.body).toMatchObject({ id: pub.id, title: pub.title, topic: 'hi', memberCount: 1, isMember: false });
    const priv = await alice.api.post('/api/conversations/group', { title: 'secret' });
    const direct = await alice.api.post('/api/conversations/direct', { userId: bob.id });
    for (const id of [priv.body.id, direct.body.id, 'no-such-id', 'x'.repeat(64)]) expectCode(await mallory.api.get(`/api/channels/${id}`), 404, 'NOT_FOUND');
    // Even a member of the private group: it is not a channel.
    expectCode(await alice.api.get(`/api/channels/${priv.body.id}`), 404, 'NOT_FOUND');
    expectCode(await mallory.api.get(`/api/channels/${'x'.repeat(65)}`), 400, 'VALIDATION_ERROR');
  });
});

describe('POST /api/channels/:id/join', () => {
  it('joins: 200 the conversation, a system message, read up to the join; twice is harmless', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const c = await channel(alice);
    await say(alice, c.id, 'before bob');
    const res = await bob.api.post(`/api/channels/${c.id}/join`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: c.id, role: 'member', visibility: 'public', unreadCount: 0 });
    expect(res.body.members.map((m: any) => m.userId).sort()).toEqual([alice.id, bob.id].sort());
    const msgs = await messagesOf(bob, c.id);
    expect(msgs.map((m) => m.content)).toEqual(['before bob', 'bob joined the channel']);
    expect(res.body.lastReadSeq).toBe(msgs.at(-1)!.seq);
    const again = await bob.api.post(`/api/channels/${c.id}/join`);
    expect(again.status).toBe(200);
    expect((await messagesOf(bob, c.id)).length).toBe(2);
    // Concurrent joins by one user: one system message.
    const [carol] = await users('carol');
    await Promise.all([1, 2, 3].map(() => carol.api.post(`/api/channels/${c.id}/join`)));
    expect((await messagesOf(carol, c.id)).filter((m) => m.content === 'carol joined the channel')).toHaveLength(1);
  });

  it('a private group, a direct chat, an assistant conversation or an unknown id answers NOT_FOUND', async () => {
    const [alice, bob, mallory] = await users('alice', 'bob', 'mallory');
    const priv = await alice.api.post('/api/conversations/group', { title: 'private', participantIds: [bob.id] });
    const direct = await alice.api.post('/api/conversations/direct', { userId: bob.id });
    const assistant = await alice.api.post('/api/conversations/assistant', {});
    for (const id of [priv.body.id, direct.body.id, assistant.body.id, 'nope']) expectCode(await mallory.api.post(`/api/channels/${id}/join`), 404, 'NOT_FOUND');
    // A channel made private cannot be joined any more.
    const c = await channel(alice);
    await alice.api.patch(`/api/conversations/${c.id}`, { visibility: 'private' });
    expectCode(await mallory.api.post(`/api/channels/${c.id}/join`), 404, 'NOT_FOUND');
    expectCode(await mallory.api.get(`/api/conversations/${c.id}`), 404, 'NOT_FOUND');
  });

  it('a non-member reads nothing of a public channel until joined: every path refuses', async () => {
    const [alice, mallory] = await users('alice', 'mallory');
    const c = await channel(alice, { topic: 'open to all' });
    const secret = await say(alice, c.id, 'channel secret zebra');
    const m = await socketOf(mallory);
    const seen = record(m);

    expectCode(await mallory.api.get(`/api/messages/${c.id}`), 404, 'NOT_FOUND');
    expectCode(await mallory.api.get(`/api/conversations/${c.id}`), 404, 'NOT_FOUND');
    expectCode(await mallory.api.get(`/api/conversations/${c.id}/pins`), 404, 'NOT_FOUND');
    expectCode(await mallory.api.post('/api/messages', { conversationId: c.id, content: 'hi', clientId: 'm1' }), 404, 'NOT_FOUND');
    expectCode(await mallory.api.post(`/api/messages/${secret.id}/status`, { status: 'read' }), 404, 'NOT_FOUND');
    expectCode(await mallory.api.post(`/api/messages/${secret.id}/reactions`, { emoji: '👍' }), 404, 'NOT_FOUND');
    expectCode(await mallory.api.post(`/api/messages/${secret.id}/pin`), 404, 'NOT_FOUND');
    expectCode(await mallory.api.patch(`/api/messages/${secret.id}`, { content: 'x' }), 404, 'NOT_FOUND');
    expectCode(await mallory.api.post('/api/attachments', { conversationId: c.id, name: 'a.txt', type: 'text/plain', size: 3 }), 404, 'NOT_FOUND');
    const search = await mallory.api.get(`/api/search?query=zebra`);
    expect(search.status).toBe(200);
    expect(search.body.messages).toEqual([]);
    expect(search.body.conversations).toEqual([]);
    const scoped = await mallory.api.get(`/api/search?query=zebra&conversationId=${c.id}`);
    expect(scoped.body.messages ?? []).toEqual([]);

    const synced = await ok<any>(m, 'sync', { cursors: { [c.id]: 0 } });
    expect(synced.messages).toEqual([]);
    expect(synced.conversations.map((x: Conversation) => x.id)).not.toContain(c.id);
    expect(synced.removedConversationIds).toEqual([c.id]);
    for (const [event, payload] of [
      ['subscribe', { conversationId: c.id }],
      ['chat:typing', { conversationId: c.id, isTyping: true }],
      ['chat:message_read', { messageId: secret.id }],
      ['chat:message_send', { conversationId: c.id, content: 'x', clientId: 'm2' }],
      ['chat:reaction', { messageId: secret.id, emoji: '👍', on: true }],
    ] as const) {
      const ack = await call(m, event, payload);
      expect(ack.ok, event).toBe(false);
      if (!ack.ok) expect(ack.error.code, event).toBe('NOT_FOUND');
    }
    // Live traffic of the channel does not reach a non-member's socket.
    await say(alice, c.id, 'still secret');
    await sleep(200);
    expect(JSON.stringify(seen)).not.toContain('secret');

    // Joining opens it at once, on the socket that is already connected.
    const live = waitFor<Message>(m, 'chat:message_received', (x) => x.content === 'after the join');
    expect((await mallory.api.post(`/api/channels/${c.id}/join`)).status).toBe(200);
    await until(async () => (await call(m, 'chat:typing', { conversationId: c.id, isTyping: false })).ok, 5000, 'socket in the room');
    await say(alice, c.id, 'after the join');
    expect((await live).conversationId).toBe(c.id);
    expect((await messagesOf(mallory, c.id)).map((x) => x.content)).toContain('channel secret zebra');
    expect((await ok<any>(m, 'subscribe', { conversationId: c.id }))).toBeNull();
  });

  it('the members see the join live: a system message and the new member list', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const c = await channel(alice);
    const a = await socketOf(alice);
    const joined = waitFor<Message>(a, 'chat:message_received', (x) => x.conversationId === c.id && x.kind === 'system');
    const update = waitFor<any>(a, 'conversation:update', (u) => u.id === c.id && Array.isArray(u.members) && u.members.length === 2);
    await bob.api.post(`/api/channels/${c.id}/join`);
    expect((await joined).content).toBe('bob joined the channel');
    await update;
  });
});

describe('pins', () => {
  it('a moderator pins and unpins: the change takes the next seq, goes out live and in sync', async () => {
    const [alice, bob, carol] = await users('alice', 'bob', 'carol');
    const c = await channel(alice, {}, [bob, carol]);
    await alice.api.patch(`/api/conversations/${c.id}/participants/${carol.id}`, { role: 'moderator' });
    const msg = await say(bob, c.id, 'pin me');
    const b = await socketOf(bob);
    const cursor = (await alice.api.get(`/api/conversations/${c.id}`)).body.lastSeq as number;
    const live = waitFor<Message>(b, 'chat:message_updated', (m) => m.id === msg.id);
    const res = await carol.api.post(`/api/messages/${msg.id}/pin`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: msg.id, pinnedBy: carol.id, updatedSeq: cursor + 1, content: 'pin me' });
    expect(Date.parse(res.body.pinnedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await live).toEqual(res.body);
    // Sync from before the pin carries it.
    const synced = await ok<any>(b, 'sync', { cursors: { [c.id]: cursor } });
    expect(synced.messages).toEqual([res.body]);
    // Pinning again changes nothing.
    const again = await carol.api.post(`/api/messages/${msg.id}/pin`);
    expect(again.body.updatedSeq).toBe(cursor + 1);
    expect((await alice.api.get(`/api/conversations/${c.id}/pins`)).body.messages).toEqual([res.body]);
    // The list carries the pin too.
    expect((await messagesOf(bob, c.id)).find((m) => m.id === msg.id)!.pinnedBy).toBe(carol.id);

    const unpinned = waitFor<Message>(b, 'chat:message_updated', (m) => m.id === msg.id && m.pinnedAt === null);
    const off = await alice.api.delete(`/api/messages/${msg.id}/pin`);
    expect(off.body).toMatchObject({ pinnedAt: null, pinnedBy: null, updatedSeq: cursor + 2 });
    await unpinned;
    expect((await alice.api.get(`/api/conversations/${c.id}/pins`)).body.messages).toEqual([]);
    expect((await alice.api.delete(`/api/messages/${msg.id}/pin`)).body.updatedSeq).toBe(cursor + 2);
  });

  it('lists pins most recently pinned first; a deleted message leaves the list', async () => {
    const [alice] = await users('alice');
    const c = await channel(alice);
    const [m1, m2, m3] = [await say(alice, c.id, 'one'), await say(alice, c.id, 'two'), await say(alice, c.id, 'three')];
    for (const m of [m2, m1, m3]) {
      await alice.api.post(`/api/messages/${m.id}/pin`);
      await sleep(5);
    }
    const pins = async () => ((await alice.api.get(`/api/conversations/${c.id}/pins`)).body.messages as Message[]).map((m) => m.content);
    expect(await pins()).toEqual(['three', 'one', 'two']);
    const deleted = await alice.api.delete(`/api/messages/${m1.id}`);
    expect(deleted.body).toMatchObject({ pinnedAt: null, deletedAt: expect.any(String) });
    expect(await pins()).toEqual(['three', 'two']);
    expectCode(await alice.api.post(`/api/messages/${m1.id}/pin`), 404, 'NOT_FOUND');
  });

  it('in a group only moderators and up; in a direct chat either person; others FORBIDDEN, outsiders NOT_FOUND', async () => {
    const [alice, bob, mallory] = await users('alice', 'bob', 'mallory');
    const g = await alice.api.post('/api/conversations/group', { title: 'g', participantIds: [bob.id] });
    const inGroup = await say(alice, g.body.id, 'group msg');
    expectCode(await bob.api.post(`/api/messages/${inGroup.id}/pin`), 403, 'FORBIDDEN');
    expectCode(await bob.api.delete(`/api/messages/${inGroup.id}/pin`), 403, 'FORBIDDEN');
    expectCode(await mallory.api.post(`/api/messages/${inGroup.id}/pin`), 404, 'NOT_FOUND');
    expectCode(await mallory.api.delete(`/api/messages/${inGroup.id}/pin`), 404, 'NOT_FOUND');
    expectCode(await mallory.api.get(`/api/conversations/${g.body.id}/pins`), 404, 'NOT_FOUND');
    expect((await alice.api.post(`/api/messages/${inGroup.id}/pin`)).status).toBe(200);

    const d = await alice.api.post('/api/conversations/direct', { userId: bob.id });
    const inDirect = await say(alice, d.body.id, 'direct msg');
    expect((await bob.api.post(`/api/messages/${inDirect.id}/pin`)).body.pinnedBy).toBe(bob.id);
    expect((await alice.api.delete(`/api/messages/${inDirect.id}/pin`)).body.pinnedAt).toBeNull();
    expectCode(await mallory.api.post(`/api/messages/${inDirect.id}/pin`), 404, 'NOT_FOUND');

    for (const id of ['no-such-message', "'; DROP TABLE messages; --", '%']) {
      expectCode(await alice.api.post(`/api/messages/${encodeURIComponent(id)}/pin`), 404, 'NOT_FOUND');
      expectCode(await alice.api.get(`/api/conversations/${encodeURIComponent(id)}/pins`), 404, 'NOT_FOUND');
    }
    expectCode(await alice.api.post(`/api/messages/${'x'.repeat(65)}/pin`), 400, 'VALIDATION_ERROR');
  });

  it('refuses system messages and more than LIMITS.maxPins pins', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const c = await channel(alice);
    await bob.api.post(`/api/channels/${c.id}/join`);
    const system = (await messagesOf(alice, c.id)).find((m) => m.kind === 'system')!;
    expectCode(await alice.api.post(`/api/messages/${system.id}/pin`), 400, 'VALIDATION_ERROR');
    const many: Message[] = [];
    for (let i = 0; i <= LIMITS.maxPins; i++) many.push(await say(alice, c.id, `m${i}`));
    for (const m of many.slice(0, LIMITS.maxPins)) expect((await alice.api.post(`/api/messages/${m.id}/pin`)).status).toBe(200);
    expectCode(await alice.api.post(`/api/messages/${many.at(-1)!.id}/pin`), 400, 'VALIDATION_ERROR');
    expect((await alice.api.get(`/api/conversations/${c.id}/pins`)).body.messages).toHaveLength(LIMITS.maxPins);
  });
});
