import type { Message, SyncResult } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNC_MAX_CONVERSATIONS, syncBatchStats } from '../operations/sync.ts';
import { registerUser, startTestServer, type TestServer } from '../test/harness.ts';
import { connect, createGroup, ok, socketPool, type Client } from './test/kit.ts';

let server: TestServer;
const pool = socketPool();
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  pool.closeAll();
  await server?.close();
});

async function setup(groups = 1) {
  const [alice, bob] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob')]);
  const ids: string[] = [];
  for (let i = 0; i < groups; i++) ids.push(await createGroup(server, server.ctx.db, alice!, [bob!], `g${i}`));
  const a = await connect(server.url, alice!.accessToken);
  const b = await connect(server.url, bob!.accessToken);
  pool.track(a, b);
  return { alice: alice!, bob: bob!, a, b, ids };
}

const send = (s: Client, conversationId: string, content: string) => ok<Message>(s, 'chat:message_send', { conversationId, content, clientId: `${content}-${Math.random()}` });

/** Pages through sync the way a client does; returns every page. */
async function syncAll(s: Client, cursors: Record<string, number>, limit?: number) {
  const pages: SyncResult[] = [];
  const state = { ...cursors };
  for (;;) {
    const page = await ok<SyncResult>(s, 'sync', { cursors: state, ...(limit ? { limit } : {}) });
    pages.push(page);
    for (const id of page.removedConversationIds) delete state[id];
    Object.assign(state, page.cursors);
    if (!page.hasMore) return { pages, cursors: state };
    if (pages.length > 100) throw new Error('sync does not converge');
  }
}

describe('sync', () => {
  it('gives a new device every conversation and message, in seq order, and the cursors to continue from', async () => {
    const { a, b, ids } = await setup(2);
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await send(a, ids[0]!, `one-${i}`));
    sent.push(await send(b, ids[1]!, 'two-0'));
    const result = await ok<SyncResult>(b, 'sync', { cursors: {} });
    expect(result.hasMore).toBe(false);
    expect(result.removedConversationIds).toEqual([]);
    expect(result.conversations.map((c) => c.id).sort()).toEqual([...ids].sort());
    expect(result.messages.filter((m) => m.conversationId === ids[0]).map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(result.messages.map((m) => m.id).sort()).toEqual(sent.map((m) => m.id).sort());
    expect(result.cursors).toEqual({ [ids[0]!]: 3, [ids[1]!]: 1 });
    // Nothing changed since: nothing to say.
    expect(await ok(b, 'sync', { cursors: result.cursors })).toEqual({ conversations: [], messages: [], removedConversationIds: [], hasMore: false, cursors: {} });
  });

  it('returns only what changed after the cursor, in its latest state, tombstones included', async () => {
    const { a, b, ids } = await setup(1);
    const id = ids[0]!;
    const m1 = await send(a, id, 'm1');
    const m2 = await send(a, id, 'm2');
    const m3 = await send(a, id, 'm3');
    const cursor = m3.seq;
    await ok(a, 'chat:message_edit', { messageId: m1.id, content: 'm1 edited' });
    await ok(a, 'chat:message_delete', { messageId: m2.id });
    await ok(b, 'chat:reaction', { messageId: m1.id, emoji: '🎉', on: true });
    const m4 = await send(b, id, 'm4');
    const result = await ok<SyncResult>(b, 'sync', { cursors: { [id]: cursor } });
    expect(result.messages.map((m) => [m.id, m.seq])).toEqual([
      [m1.id, 1],
      [m2.id, 2],
      [m4.id, m4.seq],
    ]);
    const [e1, e2] = result.messages as [Message, Message];
    expect(e1).toMatchObject({ content: 'm1 edited', reactions: [{ emoji: '🎉', count: 1 }], updatedSeq: cursor + 3 });
    expect(e2).toMatchObject({ content: '', deletedAt: expect.any(String), updatedSeq: cursor + 2 });
    expect(result.conversations).toHaveLength(1);
    expect(result.conversations[0]!.lastSeq).toBe(m4.seq);
    expect(result.cursors).toEqual({ [id]: m4.seq });
  });

  it('pages with a limit, cutting where the cursors stay exact, and converges to the full state', async () => {
    const { a, b, ids } = await setup(3);
    for (let i = 0; i < 7; i++) await send(a, ids[0]!, `a${i}`);
    for (let i = 0; i < 5; i++) await send(a, ids[1]!, `b${i}`);
    for (let i = 0; i < 4; i++) await send(a, ids[2]!, `c${i}`);
    const first = await syncAll(b, {});
    // Changes that reorder updatedSeq against seq: old messages edited after newer ones.
    const all = first.pages.flatMap((p) => p.messages);
    const byContent = new Map(all.map((m) => [m.content, m]));
    await ok(a, 'chat:message_edit', { messageId: byContent.get('a0')!.id, content: 'a0 edited' });
    for (let i = 7; i < 10; i++) await send(a, ids[0]!, `a${i}`);
    await ok(a, 'chat:message_edit', { messageId: byContent.get('a1')!.id, content: 'a1 edited' });
    await ok(a, 'chat:message_delete', { messageId: byContent.get('b2')!.id });
    for (let i = 4; i < 6; i++) await send(a, ids[2]!, `c${i}`);

    const paged = await syncAll(b, first.cursors, 2);
    expect(paged.pages.length).toBeGreaterThan(3);
    for (const p of paged.pages.slice(0, -1)) {
      expect(p.hasMore).toBe(true);
      expect(p.messages.length).toBeLessThanOrEqual(2);
    }
    // Every page lists its messages by conversation, then seq.
    for (const p of paged.pages) {
      for (let i = 1; i < p.messages.length; i++) {
        const [x, y] = [p.messages[i - 1]!, p.messages[i]!];
        if (x.conversationId === y.conversationId) expect(x.seq).toBeLessThan(y.seq);
      }
    }
    // Applying the pages in order gives exactly what the database holds.
    const state = new Map(all.map((m) => [m.id, m]));
    for (const p of paged.pages) for (const m of p.messages) if ((state.get(m.id)?.updatedSeq ?? -1) < m.updatedSeq) state.set(m.id, m);
    for (const id of ids) {
      const db = await ok<SyncResult>(b, 'sync', { cursors: { [id]: 0 } });
      const mine = [...state.values()].filter((m) => m.conversationId === id).sort((x, y) => x.seq - y.seq);
      expect(mine).toEqual(db.messages.filter((m) => m.conversationId === id));
      expect(paged.cursors[id]).toBe(db.conversations.find((c) => c.id === id)?.lastSeq);
    }
    // The final cursors are exact: nothing more to fetch.
    expect((await ok<SyncResult>(b, 'sync', { cursors: paged.cursors })).messages).toEqual([]);
  });

  it('reports conversations the caller left, and pages through many quiet conversations', async () => {
    const { alice, bob, b, ids } = await setup(1);
    const res = await bob.api.delete(`/api/conversations/${ids[0]}/participants/${bob.id}`);
    expect(res.status).toBe(204);
    const afterLeave = await ok<SyncResult>(b, 'sync', { cursors: { [ids[0]!]: 0 } });
    expect(afterLeave.removedConversationIds).toEqual([ids[0]]);
    expect(afterLeave.messages).toEqual([]);
    expect(afterLeave.conversations).toEqual([]);

    // Many conversations without messages: they come in pages of at most SYNC_MAX_CONVERSATIONS.
    const count = SYNC_MAX_CONVERSATIONS + 5;
    const values = Array.from({ length: count }, (_, i) => `('quiet-${bob.id}-${i}', 'group', 'quiet', '${alice.id}')`).join(',');
    await server.ctx.db.query(`INSERT INTO conversations (id, type, title, created_by) VALUES ${values}`);
    await server.ctx.db.query(
      `INSERT INTO conversation_members (conversation_id, user_id, role) SELECT id, $1, 'member' FROM conversations WHERE id LIKE $2`,
      [bob.id, `quiet-${bob.id}-%`],
    );
    const { pages, cursors } = await syncAll(b, {});
    expect(pages).toHaveLength(2);
    expect(pages[0]!.conversations).toHaveLength(SYNC_MAX_CONVERSATIONS);
    expect(pages[1]!.conversations).toHaveLength(5);
    expect(Object.keys(cursors)).toHaveLength(count);
  });

  it('serves many clients syncing at once together, each exactly as it would be served alone', async () => {
    const { alice, a, b, ids } = await setup(3);
    for (let i = 0; i < 4; i++) await send(a, ids[0]!, `x${i}`);
    for (let i = 0; i < 3; i++) await send(b, ids[1]!, `y${i}`);
    await send(a, ids[2]!, 'z0');
    const left = await createGroup(server, server.ctx.db, alice, [], 'left');
    const more = await Promise.all(Array.from({ length: 5 }, () => connect(server.url, alice.accessToken)));
    pool.track(...more);
    const clients = [a, b, ...more];
    // Different cursors, limits and users; some requests identical (one user's devices).
    const requests = clients.flatMap((client, i) => [
      { client, input: { cursors: {} } },
      { client, input: { cursors: { [ids[0]!]: i % 4, [ids[1]!]: 1 }, limit: 1 + (i % 3) } },
      { client, input: { cursors: { [ids[0]!]: 4, [ids[1]!]: 3, [ids[2]!]: 1, ...(client === b ? {} : { [left]: 0 }) } } },
      { client, input: { cursors: { [ids[2]!]: 0, nope: 5 } } },
    ]);
    await ok(a, 'chat:message_send', { conversationId: left, content: 'only alice', clientId: 'left-0' });
    const alone: SyncResult[] = [];
    for (const r of requests) alone.push(await ok<SyncResult>(r.client, 'sync', r.input));
    const before = { ...syncBatchStats(server.ctx) };
    const together = await Promise.all(requests.map((r) => ok<SyncResult>(r.client, 'sync', r.input)));
    expect(together).toEqual(alone);
    // They were served in fewer batches than requests.
    expect(syncBatchStats(server.ctx).batches - before.batches).toBeLessThan(requests.length);
    expect(syncBatchStats(server.ctx).largest).toBeGreaterThan(1);
    // Sanity: the answers differ between requests (the comparison above is not trivially true).
    expect(new Set(alone.map((r) => JSON.stringify(r))).size).toBeGreaterThan(5);
  });
});
