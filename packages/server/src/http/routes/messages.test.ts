import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '@confab/protocol';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

let server: TestServer;
let alice: TestUser, bob: TestUser, carol: TestUser, mallory: TestUser;
let groupId: string;

async function createGroup(owner: TestUser, members: TestUser[], title = 'Team'): Promise<string> {
  const res = await owner.api.post('/api/conversations/group', { title, participantIds: members.map((m) => m.id) });
  expect(res.status).toBe(201);
  return res.body.id;
}

let n = 0;
const send = (user: TestUser, conversationId: string, content: string, extra: Record<string, unknown> = {}) =>
  user.api.post('/api/messages', { conversationId, content, clientId: `c-${++n}-${Math.random()}`, ...extra });

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, carol, mallory] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob'), registerUser(server, 'carol'), registerUser(server, 'mallory')]);
  groupId = await createGroup(alice, [bob, carol]);
});
afterAll(() => server?.close());

describe('sending', () => {
  it('stores a message and returns it with its seq', async () => {
    const res = await send(alice, groupId, 'hello **team**');
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ conversationId: groupId, authorId: alice.id, content: 'hello **team**', kind: 'text', status: 'complete', deletedAt: null, editedAt: null });
    expect(res.body.seq).toBeGreaterThan(0);
    expect(res.body.updatedSeq).toBe(res.body.seq);
  });

  it('returns the first message (200) when a clientId is sent again, never a second one', async () => {
    const first = await alice.api.post('/api/messages', { conversationId: groupId, content: 'once', clientId: 'same-client-id' });
    const again = await alice.api.post('/api/messages', { conversationId: groupId, content: 'once (retry)', clientId: 'same-client-id' });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.content).toBe('once');
  });

  it('threads replies, only to messages of the same conversation', async () => {
    const parent = await send(alice, groupId, 'parent');
    const reply = await send(bob, groupId, 'child', { replyToId: parent.body.id });
    expect(reply.status).toBe(201);
    expect(reply.body.replyToId).toBe(parent.body.id);
    const other = await createGroup(bob, [carol], 'Other');
    const elsewhere = await send(bob, other, 'cross', { replyToId: parent.body.id });
    expect(elsewhere.status).toBe(404);
  });

  it('refuses bad input with the contract codes and stores nothing', async () => {
    const before = (await alice.api.get(`/api/messages/${groupId}?limit=1`)).body.messages[0].seq;
    expect((await send(alice, groupId, '   ')).status).toBe(400);
    const big = await send(alice, groupId, 'x'.repeat(64 * 1024 + 1));
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await send(alice, groupId, 'é'.repeat(32 * 1024 + 1))).status).toBe(413); // bytes, not characters
    expect((await send(alice, groupId, 'x'.repeat(64 * 1024))).status).toBe(201);
    expect((await send(alice, groupId, 'hi', { kind: 'system' })).status).toBe(400);
    expect((await send(alice, groupId, 'hi', { sneaky: true })).status).toBe(400);
    expect((await alice.api.post('/api/messages', { conversationId: groupId, content: 'no client id' })).status).toBe(400);
    const malformed = await alice.api.request('POST', '/api/messages', '{"conversationId":', { 'content-type': 'application/json' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('VALIDATION_ERROR');
    const huge = await alice.api.request('POST', '/api/messages', JSON.stringify({ conversationId: groupId, clientId: 'h', content: 'x'.repeat(1100 * 1024) }));
    expect(huge.status).toBe(413);
    const after = (await alice.api.get(`/api/messages/${groupId}?limit=1`)).body.messages[0].seq;
    expect(after).toBe(before + 1); // only the exactly-64-KB message
  });
});

describe('history', () => {
  it('pages by seq both ways, oldest first', async () => {
    const conv = await createGroup(alice, [bob], 'History');
    for (let i = 0; i < 30; i++) await send(i % 2 ? bob : alice, conv, `m${i}`);
    const latest = await bob.api.get(`/api/messages/${conv}?limit=10`);
    expect(latest.body.hasMore).toBe(true);
    expect(latest.body.messages.map((m: any) => m.content)).toEqual(Array.from({ length: 10 }, (_, i) => `m${20 + i}`));
    const older = await bob.api.get(`/api/messages/${conv}?limit=10&before=${latest.body.messages[0].seq}`);
    expect(older.body.messages.map((m: any) => m.content)).toEqual(Array.from({ length: 10 }, (_, i) => `m${10 + i}`));
    const newer = await bob.api.get(`/api/messages/${conv}?limit=100&after=${older.body.messages[9].seq}`);
    expect(newer.body.hasMore).toBe(false);
    expect(newer.body.messages.map((m: any) => m.content)).toEqual(Array.from({ length: 10 }, (_, i) => `m${20 + i}`));
    expect((await bob.api.get(`/api/messages/${conv}?before=1&after=2`)).status).toBe(400);
    expect((await bob.api.get(`/api/messages/${conv}?limit=100000`)).status).toBe(400);
  });
});

describe('edit, delete, reactions, receipts', () => {
  it('lets only the author edit, keeps previous versions encrypted', async () => {
    const msg = (await send(alice, groupId, 'first draft')).body;
    const edited = await alice.api.patch(`/api/messages/${msg.id}`, { content: 'second draft' });
    expect(edited.status).toBe(200);
    expect(edited.body.content).toBe('second draft');
    expect(edited.body.editedAt).not.toBeNull();
    expect(edited.body.updatedSeq).toBeGreaterThan(msg.seq);
    expect(edited.body.seq).toBe(msg.seq);
    await alice.api.patch(`/api/messages/${msg.id}`, { content: 'third draft' });
    const versions = await server.ctx.db.query<{ content_enc: string }>('SELECT content_enc FROM message_versions WHERE message_id = $1 ORDER BY version', [msg.id]);
    expect(versions.map((v) => server.ctx.keys.decrypt(v.content_enc))).toEqual(['first draft', 'second draft']);
    expect(versions.every((v) => !v.content_enc.includes('draft'))).toBe(true);
    const byBob = await bob.api.patch(`/api/messages/${msg.id}`, { content: 'hijack' });
    expect(byBob.status).toBe(403);
    expect(byBob.body.error.code).toBe('FORBIDDEN');
    expect((await alice.api.patch(`/api/messages/${msg.id}`, { content: '' })).status).toBe(400);
  });

  it('keeps only the last LIMITS.messageVersionsKept versions of a message edited over and over', async () => {
    const msg = (await send(alice, groupId, 'v0')).body;
    for (let i = 1; i <= LIMITS.messageVersionsKept + 5; i++) expect((await alice.api.patch(`/api/messages/${msg.id}`, { content: `v${i}` })).status).toBe(200);
    const versions = await server.ctx.db.query<{ content_enc: string }>('SELECT content_enc FROM message_versions WHERE message_id = $1 ORDER BY version', [msg.id]);
    expect(versions).toHaveLength(LIMITS.messageVersionsKept);
    // The newest previous versions stay; the oldest went.
    expect(server.ctx.keys.decrypt(versions[0]!.content_enc)).toBe('v5');
    expect(server.ctx.keys.decrypt(versions.at(-1)!.content_enc)).toBe(`v${LIMITS.messageVersionsKept + 4}`);
  });

  it('deletes to a tombstone: the author, or a moderator of the group; not other members', async () => {
    const msg = (await send(bob, groupId, 'regret this')).body;
    expect((await carol.api.delete(`/api/messages/${msg.id}`)).status).toBe(403);
    await bob.api.patch(`/api/messages/${msg.id}`, { content: 'regret this more' });
    await carol.api.post(`/api/messages/${msg.id}/reactions`, { emoji: '👍' });
    const del = await bob.api.delete(`/api/messages/${msg.id}`);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ id: msg.id, seq: msg.seq, content: '', deletedAt: expect.any(String), reactions: [] });
    expect(await server.ctx.db.query('SELECT 1 FROM message_versions WHERE message_id = $1', [msg.id])).toHaveLength(0);
    const list = (await carol.api.get(`/api/messages/${groupId}?after=${msg.seq - 1}&limit=1`)).body.messages;
    expect(list[0]).toMatchObject({ id: msg.id, content: '', deletedAt: expect.any(String) });
    expect((await bob.api.patch(`/api/messages/${msg.id}`, { content: 'undo' })).status).toBe(404);
    // The owner (an admin) may moderate.
    const other = (await send(carol, groupId, 'off topic')).body;
    expect((await alice.api.delete(`/api/messages/${other.id}`)).status).toBe(200);
  });

  it('toggles reactions, each change taking a new updatedSeq', async () => {
    const msg = (await send(alice, groupId, 'react to me')).body;
    const on = await bob.api.post(`/api/messages/${msg.id}/reactions`, { emoji: '🎉' });
    expect(on.body.reactions).toEqual([{ emoji: '🎉', count: 1, userIds: [bob.id] }]);
    const again = await bob.api.post(`/api/messages/${msg.id}/reactions`, { emoji: '🎉' });
    expect(again.body.updatedSeq).toBe(on.body.updatedSeq);
    const carolOn = await carol.api.post(`/api/messages/${msg.id}/reactions`, { emoji: '🎉' });
    expect(carolOn.body.reactions[0]).toMatchObject({ count: 2 });
    const off = await bob.api.delete(`/api/messages/${msg.id}/reactions/${encodeURIComponent('🎉')}`);
    expect(off.body.reactions).toEqual([{ emoji: '🎉', count: 1, userIds: [carol.id] }]);
    expect(off.body.updatedSeq).toBeGreaterThan(carolOn.body.updatedSeq);
  });

  it('moves read and delivered watermarks forward only, and unread counts follow', async () => {
    const conv = await createGroup(alice, [bob], 'Receipts');
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push((await send(alice, conv, `r${i}`)).body);
    const unread = async () => (await bob.api.get(`/api/conversations/${conv}`)).body.unreadCount;
    expect(await unread()).toBe(5);
    expect((await bob.api.post(`/api/messages/${sent[2].id}/status`, { status: 'read' })).body).toEqual({ seq: sent[2].seq });
    expect(await unread()).toBe(2);
    await bob.api.post(`/api/messages/${sent[0].id}/status`, { status: 'read' });
    expect(await unread()).toBe(2);
    await bob.api.post(`/api/messages/${sent[4].id}/status`, { status: 'delivered' });
    const me = (await bob.api.get(`/api/conversations/${conv}`)).body;
    expect(me.lastReadSeq).toBe(sent[2].seq);
    expect(me.lastDeliveredSeq).toBe(sent[4].seq);
    expect((await bob.api.post(`/api/messages/${sent[4].id}/status`, { status: 'seen' })).status).toBe(400);
  });
});

describe('encryption at rest and search', () => {
  it('stores content encrypted', async () => {
    const msg = (await send(alice, groupId, 'the secret plan is pineapples')).body;
    const [row] = await server.ctx.db.query<{ content_enc: string }>('SELECT content_enc FROM messages WHERE id = $1', [msg.id]);
    expect(row!.content_enc).not.toContain('pineapple');
    expect(row!.content_enc.startsWith(`v1.${server.ctx.keys.currentKeyId}.`)).toBe(true);
  });

  it('finds messages by word and prefix, only where the caller is a member', async () => {
    const msg = (await send(alice, groupId, 'Deploying Zanzibar tomorrow, café opens late')).body;
    const byWord = await bob.api.get('/api/search?query=zanzibar');
    expect(byWord.status).toBe(200);
    expect(byWord.body.messages.map((m: any) => m.id)).toContain(msg.id);
    expect((await bob.api.get('/api/search?query=zanzi%20deploy')).body.messages.map((m: any) => m.id)).toContain(msg.id);
    expect((await bob.api.get('/api/search?query=cafe')).body.messages.map((m: any) => m.id)).toContain(msg.id);
    expect((await bob.api.get('/api/search?query=zanzibarx')).body.messages).toHaveLength(0);
    expect((await mallory.api.get('/api/search?query=zanzibar')).body.messages).toHaveLength(0);
    await alice.api.patch(`/api/messages/${msg.id}`, { content: 'Deploying Madagascar instead' });
    expect((await bob.api.get('/api/search?query=zanzibar')).body.messages).toHaveLength(0);
    expect((await bob.api.get('/api/search?query=madagascar')).body.messages.map((m: any) => m.id)).toContain(msg.id);
    await alice.api.delete(`/api/messages/${msg.id}`);
    expect((await bob.api.get('/api/search?query=madagascar')).body.messages).toHaveLength(0);
  });

  it('finds conversations by title, only the caller\'s', async () => {
    const conv = await createGroup(carol, [bob], 'Quarterly Xylophone Review');
    expect((await bob.api.get('/api/search?query=xylophone')).body.conversations.map((c: any) => c.id)).toEqual([conv]);
    expect((await mallory.api.get('/api/search?query=xylophone')).body.conversations).toEqual([]);
    expect((await bob.api.get('/api/search?query=')).status).toBe(400);
  });
});

describe('access matrix for message routes', () => {
  it('tells a non-member nothing about a conversation or its messages', async () => {
    const msg = (await send(alice, groupId, 'members only: falcon')).body;
    const attempts = [
      () => mallory.api.get(`/api/messages/${groupId}`),
      () => mallory.api.get(`/api/messages/${groupId}?after=0`),
      () => mallory.api.post('/api/messages', { conversationId: groupId, content: 'let me in', clientId: 'x1' }),
      () => mallory.api.patch(`/api/messages/${msg.id}`, { content: 'edited' }),
      () => mallory.api.delete(`/api/messages/${msg.id}`),
      () => mallory.api.post(`/api/messages/${msg.id}/status`, { status: 'read' }),
      () => mallory.api.post(`/api/messages/${msg.id}/reactions`, { emoji: '👀' }),
      () => mallory.api.delete(`/api/messages/${msg.id}/reactions/${encodeURIComponent('👀')}`),
    ];
    for (const attempt of attempts) {
      const res = await attempt();
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
      const text = JSON.stringify(res.body);
      expect(text).not.toContain('falcon');
      expect(text).not.toContain(alice.id);
    }
    // A missing id and an invisible one look the same.
    const missing = await mallory.api.get('/api/messages/does-not-exist');
    const hidden = await mallory.api.get(`/api/messages/${groupId}`);
    expect(missing.body).toEqual({ error: { ...hidden.body.error, message: missing.body.error.message } });
    expect(missing.body.error.message).toBe(hidden.body.error.message);
    // Nothing changed.
    const after = (await alice.api.get(`/api/messages/${groupId}?limit=1`)).body.messages[0];
    expect(after).toMatchObject({ id: msg.id, content: 'members only: falcon', reactions: [] });
  });

  it('requires a token on every route', async () => {
    const anon = alice.api.as(undefined);
    for (const res of await Promise.all([anon.get(`/api/messages/${groupId}`), anon.post('/api/messages', {}), anon.get('/api/search?query=x')])) {
      expect(res.status).toBe(401);
    }
  });
});

describe('concurrency', () => {
  it('2 writers × 500 messages in parallel: seq 1..N without gaps or repeats', async () => {
    const conv = (await alice.api.post('/api/conversations/direct', { userId: bob.id })).body.id as string;
    const writer = async (user: TestUser, tag: string) => {
      const inFlight = 20;
      let next = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < 500) {
            const i = next++;
            const res = await user.api.post('/api/messages', { conversationId: conv, content: `${tag}${i}`, clientId: `${tag}-${i}` });
            if (res.status !== 201) throw new Error(`send failed ${res.status} ${JSON.stringify(res.body)}`);
          }
        }),
      );
    };
    await Promise.all([writer(alice, 'a'), writer(bob, 'b')]);
    const rows = await server.ctx.db.query<{ seq: number; kind: string }>('SELECT seq, kind FROM messages WHERE conversation_id = $1 ORDER BY seq', [conv]);
    const text = rows.filter((r) => r.kind === 'text');
    expect(text).toHaveLength(1000);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));
    const [c] = await server.ctx.db.query<{ last_seq: number }>('SELECT last_seq FROM conversations WHERE id = $1', [conv]);
    expect(c!.last_seq).toBe(rows.length);
  });

  it('50 concurrent sends with one clientId: exactly one row, every answer carries its id', async () => {
    const conv = await createGroup(alice, [bob], 'Idempotent');
    const results = await Promise.all(
      Array.from({ length: 50 }, () => alice.api.post('/api/messages', { conversationId: conv, content: 'only once', clientId: 'dup-42' })),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(49);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    const rows = await server.ctx.db.query('SELECT id FROM messages WHERE conversation_id = $1 AND client_id = $2', [conv, 'dup-42']);
    expect(rows).toHaveLength(1);
  });
});
