import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestNodes, type TestNodes, type TestServer } from '../test/harness.ts';
import { call, createGroup, Mirror, ok, record, sleep, socketPool, until, waitFor } from './test/kit.ts';

// Several nodes share one database, so this needs PostgreSQL (the embedded database is one process):
// it runs in the PostgreSQL pass only (vitest.config.ts), and startTestNodes fails without it.

describe('two nodes (PostgreSQL + Redis)', () => {
  let cluster: TestNodes;
  let A: TestServer;
  let B: TestServer;
  const sockets = socketPool();
  const on = sockets.on;

  beforeAll(async () => {
    cluster = await startTestNodes(2);
    [A, B] = cluster.nodes as [TestServer, TestServer];
  });
  afterAll(async () => {
    sockets.closeAll();
    await cluster?.close();
  });

  async function pair() {
    const [alice, bob] = await Promise.all([registerUser(A, 'alice'), registerUser(B, 'bob')]);
    const conversationId = await createGroup(A, A.ctx.db, alice!, [bob!]);
    return { alice: alice!, bob: bob!, conversationId };
  }

  it('tokens from one node work on the other, and /readyz checks Redis', async () => {
    const { alice } = await pair();
    expect((await alice.api.as(alice.accessToken).get('/api/auth/me')).status).toBe(200);
    const s = await on(B, alice.accessToken);
    expect(s.connected).toBe(true);
    expect((await fetch(`${A.url}/readyz`)).status).toBe(200);
  });

  it('delivers messages, typing, presence and receipts between clients on different nodes', async () => {
    const { alice, bob, conversationId } = await pair();
    const b = await on(B, bob.accessToken);
    const online = waitFor<any>(b, 'user:status_changed', (e) => e.userId === alice.id && e.status === 'online');
    const a = await on(A, alice.accessToken);
    await online;

    const got = waitFor<Message>(b, 'chat:message_received');
    const sent = await ok<Message>(a, 'chat:message_send', { conversationId, content: 'from A', clientId: 'x1' });
    expect(await got).toEqual(sent);
    const back = waitFor<Message>(a, 'chat:message_received', (m) => m.content === 'from B');
    await ok(b, 'chat:message_send', { conversationId, content: 'from B', clientId: 'y1' });
    await back;

    const typing = waitFor<any>(a, 'chat:user_typing');
    await ok(b, 'chat:typing', { conversationId, isTyping: true });
    expect(await typing).toEqual({ conversationId, userId: bob.id, displayName: 'bob', isTyping: true });

    // (Bob's own send moved his watermarks past `sent`: receipts are for a newer message.)
    const newer = await ok<Message>(a, 'chat:message_send', { conversationId, content: 'read me', clientId: 'x2' });
    const delivered = waitFor<any>(a, 'chat:message_status_updated', (e) => e.status === 'delivered');
    await ok(b, 'chat:message_delivered', { messageId: newer.id });
    expect(await delivered).toEqual({ conversationId, userId: bob.id, status: 'delivered', seq: newer.seq });
    const receipt = waitFor<any>(a, 'chat:message_status_updated', (e) => e.status === 'read');
    await ok(b, 'chat:message_read', { messageId: newer.id });
    expect(await receipt).toEqual({ conversationId, userId: bob.id, status: 'read', seq: newer.seq });

    const edited = waitFor<Message>(b, 'chat:message_updated');
    await ok(a, 'chat:message_edit', { messageId: sent.id, content: 'from A, edited' });
    expect((await edited).content).toBe('from A, edited');

    // Bob's subscribe on B sees Alice (connected to A) online.
    const statuses: any[] = [];
    b.on('user:status_changed', (e) => statuses.push(e));
    await ok(b, 'subscribe', { conversationId });
    expect(statuses).toContainEqual(expect.objectContaining({ userId: alice.id, status: 'online' }));

    const offline = waitFor<any>(b, 'user:status_changed', (e) => e.userId === alice.id && e.status === 'offline');
    a.close();
    expect((await offline).lastSeenAt).toEqual(expect.any(String));
  });

  it('a client that moves from A to B after a drop catches up with nothing lost', async () => {
    const { alice, bob, conversationId } = await pair();
    const a = await on(A, alice.accessToken);
    const mirror = new Mirror();
    const first = await on(A, bob.accessToken);
    mirror.attach(first);
    await mirror.sync();
    for (let i = 0; i < 20; i++) await ok(a, 'chat:message_send', { conversationId, content: `before ${i}`, clientId: `b${i}` });
    await until(() => mirror.list(conversationId).length === 20, 5000, 'live messages on A');
    first.close();
    // While Bob is away: new messages, an edit and a delete.
    const later: Message[] = [];
    for (let i = 0; i < 30; i++) later.push(await ok<Message>(a, 'chat:message_send', { conversationId, content: `during ${i}`, clientId: `d${i}` }));
    await ok(a, 'chat:message_edit', { messageId: later[0]!.id, content: 'during 0, edited' });
    await ok(a, 'chat:message_delete', { messageId: later[1]!.id });
    const second = await on(B, bob.accessToken);
    mirror.attach(second);
    await mirror.sync();
    // And live again, now through B.
    await ok(a, 'chat:message_send', { conversationId, content: 'after', clientId: 'after' });
    await until(() => mirror.list(conversationId).length === 51, 5000, 'catch-up plus live');
    const stored = await A.ctx.db.query<{ id: string; updated_seq: number }>('SELECT id, updated_seq FROM messages WHERE conversation_id = $1 ORDER BY seq', [conversationId]);
    expect(mirror.list(conversationId).map((m) => [m.id, m.updatedSeq])).toEqual(stored.map((r) => [r.id, r.updated_seq]));
    expect(mirror.list(conversationId).find((m) => m.id === later[0]!.id)?.content).toBe('during 0, edited');
    expect(mirror.list(conversationId).find((m) => m.id === later[1]!.id)?.deletedAt).not.toBeNull();
    mirror.close();
  });

  it('the same clientId sent through both nodes at once makes one message; both acks carry its id', async () => {
    const { alice, bob, conversationId } = await pair();
    const [a1, a2, b] = [await on(A, alice.accessToken), await on(B, alice.accessToken), await on(A, bob.accessToken)];
    const received = record(b);
    for (let i = 0; i < 10; i++) {
      const body = { conversationId, content: `twice ${i}`, clientId: `dup-${i}` };
      const [x, y] = await Promise.all([call<Message>(a1, 'chat:message_send', body), call<Message>(a2, 'chat:message_send', body)]);
      expect(x.ok && y.ok).toBe(true);
      if (x.ok && y.ok) expect(x.data.id).toBe(y.data.id);
    }
    const [{ n }] = (await A.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM messages WHERE conversation_id = $1', [conversationId])) as [{ n: number }];
    expect(n).toBe(10);
    await sleep(200);
    // Bob sees 10 distinct messages (a repeat may be announced twice; clients de-duplicate by id).
    expect(new Set(received.filter((e) => e.event === 'chat:message_received').map((e) => e.payload.id)).size).toBe(10);
  });

  it('a member removed through one node stops receiving on the other at once', async () => {
    const { alice, bob, conversationId } = await pair();
    const carol = await registerUser(A, 'carol');
    expect((await alice.api.post(`/api/conversations/${conversationId}/participants`, { userIds: [carol.id] })).status).toBe(200);
    const [a, b, c] = [await on(A, alice.accessToken), await on(B, bob.accessToken), await on(B, carol.accessToken)];
    const bobSaw = record(b);
    expect((await alice.api.delete(`/api/conversations/${conversationId}/participants/${bob.id}`)).status).toBe(204);
    const carolGot = waitFor<Message>(c, 'chat:message_received', (m) => m.content === 'bob is gone');
    await ok(a, 'chat:message_send', { conversationId, content: 'bob is gone', clientId: 'gone' });
    await ok(a, 'chat:typing', { conversationId, isTyping: true });
    await carolGot;
    await sleep(300);
    expect(bobSaw.filter((e) => e.event === 'chat:message_received' || e.event === 'chat:user_typing')).toEqual([]);
    expect(bobSaw).toContainEqual({ event: 'conversation:update', payload: { id: conversationId, removed: true } });
    expect(await call(b, 'chat:typing', { conversationId, isTyping: true })).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });
});
