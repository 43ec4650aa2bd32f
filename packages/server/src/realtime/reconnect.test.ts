import type { Message, SyncResult } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastSeenBatchStats, memberListBatchStats } from '../operations/presence.ts';
import { syncBatchStats } from '../operations/sync.ts';
import type { Database, Queryable } from '../storage/db.ts';
import { registerUser, startTestServer, type TestServer } from '../test/harness.ts';
import { call, connect, createGroup, ok, record, sleep, socketPool, waitFor, type Client } from './test/kit.ts';

/**
 * What a client costs the database when it reconnects: on every (re)connect the SDK sends `subscribe`
 * (the conversation on screen) and `sync` (its cursors). After a restart thousands do it within
 * seconds, so each is served in batches, one statement a batch; an up-to-date client's `sync` takes
 * the fast path, that one statement and nothing else. Counted on the real database, with every
 * answer checked: a batch must answer each request as if it had been served alone.
 */

let server: TestServer;
const pool = socketPool();
beforeAll(async () => {
  // The periodic work (reconcile, sweeps, job polling) would add its statements to those counted.
  const hour = 3_600_000;
  server = await startTestServer({}, { realtime: { sweepIntervalMs: hour, reconcileIntervalMs: hour }, jobs: { pollIntervalMs: hour } });
});
afterAll(async () => {
  pool.closeAll();
  await server?.close();
});

/** Counts every statement sent to the database while installed: queries, and a transaction's BEGIN, statements and COMMIT. */
function statementCounter(db: Database) {
  let count = 0;
  const { query, exec, transaction } = db;
  const counted = (q: Queryable): Queryable => ({
    query: (sql, params, opts) => (count++, q.query(sql, params, opts)),
    exec: (sql) => (count++, q.exec(sql)),
  });
  db.query = (sql, params, opts) => (count++, query(sql, params, opts));
  db.exec = (sql) => (count++, exec(sql));
  db.transaction = (fn, opts) => ((count += 2), transaction((tx) => fn(counted(tx)), opts));
  return {
    get count() {
      return count;
    },
    restore() {
      Object.assign(db, { query, exec, transaction });
    },
  };
}

/**
 * Statements run during `fn` beyond `allowed()` (read after it): the least over a few attempts, so
 * a statement of the server's own that happens to fall in the window (an AI orphan sweep) cannot fail
 * the test, while a request that costs one statement too many does every time.
 */
async function extraStatements<T, S = undefined>(fn: (state: S) => Promise<T>, allowed: (result: T) => number, setup?: () => Promise<S>): Promise<number> {
  let least = Infinity;
  for (let attempt = 0; attempt < 3 && least > 0; attempt++) {
    const state = (await setup?.()) as S;
    const counter = statementCounter(server.ctx.db);
    try {
      const result = await fn(state);
      least = Math.min(least, counter.count - allowed(result));
    } finally {
      counter.restore();
    }
  }
  return least;
}

const send = (s: Client, conversationId: string, content: string) => ok<Message>(s, 'chat:message_send', { conversationId, content, clientId: `${content}-${Math.random()}` });

async function setup() {
  const [alice, bob, carol] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob'), registerUser(server, 'carol')]);
  const groups = [await createGroup(server, server.ctx.db, alice!, [bob!, carol!], 'g0'), await createGroup(server, server.ctx.db, alice!, [bob!], 'g1')];
  const a = await connect(server.url, alice!.accessToken);
  const b = await connect(server.url, bob!.accessToken);
  pool.track(a, b);
  for (const [i, id] of groups.entries()) for (let k = 0; k < 3; k++) await send(a, id, `m${i}-${k}`);
  return { alice: alice!, bob: bob!, carol: carol!, a, b, groups };
}

describe('reconnecting clients', () => {
  it("serves an up-to-date client's sync with one statement, and a batch of them with one", async () => {
    const { alice, bob, b, groups } = await setup();
    const first = await ok<SyncResult>(b, 'sync', { cursors: {} });
    expect(first.hasMore).toBe(false);
    const cursors = first.cursors ?? {};
    expect(Object.keys(cursors).sort()).toEqual([...groups].sort());

    const nothing = { conversations: [], messages: [], removedConversationIds: [], hasMore: false, cursors: {} };
    // Alone: one statement.
    expect(await extraStatements(() => ok<SyncResult>(b, 'sync', { cursors }), (r) => (expect(r).toEqual(nothing), 1))).toBe(0);

    // Many sockets of two users at once (a reconnect storm in small): one statement per batch served.
    const more = await Promise.all([...Array.from({ length: 6 }, () => connect(server.url, bob.accessToken)), ...Array.from({ length: 6 }, () => connect(server.url, alice.accessToken))]);
    pool.track(...more);
    const aliceCursors = (await ok<SyncResult>(more[6]!, 'sync', { cursors: {} })).cursors;
    const together = async () => {
      const before = syncBatchStats(server.ctx).batches;
      const results = await Promise.all(more.map((s, i) => ok<SyncResult>(s, 'sync', { cursors: i < 6 ? cursors : aliceCursors })));
      return { results, batches: syncBatchStats(server.ctx).batches - before };
    };
    const extra = await extraStatements(together, ({ results, batches }) => {
      for (const r of results) expect(r).toEqual(nothing);
      expect(batches).toBeLessThan(more.length);
      return batches;
    });
    expect(extra).toBe(0);
  });

  it('still brings a stale client everything it missed when up-to-date ones are served beside it', async () => {
    const { alice, bob, a, b, groups } = await setup();
    const old = (await ok<SyncResult>(b, 'sync', { cursors: {} })).cursors;
    // Missed meanwhile: new messages, an edit and a delete of older ones, a new conversation, one left.
    // (A sync lists every conversation missing from its cursors whole: keep the first group's.)
    const before = (await ok<SyncResult>(b, 'sync', { cursors: { [groups[0]!]: 0 } })).messages.filter((m) => m.conversationId === groups[0]);
    expect(before).toHaveLength(3);
    const edited = await ok<Message>(a, 'chat:message_edit', { messageId: before[0]!.id, content: 'edited' });
    await ok(a, 'chat:message_delete', { messageId: before[1]!.id });
    const fresh = await send(a, groups[0]!, 'fresh');
    const added = await createGroup(server, server.ctx.db, alice, [bob], 'new');
    const addedMessage = await send(a, added, 'in the new one');
    expect((await bob.api.delete(`/api/conversations/${groups[1]}/participants/${bob.id}`)).status).toBe(204);

    // What it missed, as a sync of its own answers it.
    const b2 = await connect(server.url, bob.accessToken);
    pool.track(b2);
    const alone = await ok<SyncResult>(b2, 'sync', { cursors: old });
    expect(alone.removedConversationIds).toEqual([groups[1]]);
    expect(alone.conversations.map((c) => c.id).sort()).toEqual([groups[0], added].sort());
    const byId = new Map(alone.messages.map((m) => [m.id, m]));
    expect(byId.get(edited.id)).toMatchObject({ content: 'edited' });
    expect(byId.get(before[1]!.id)).toMatchObject({ content: '', deletedAt: expect.any(String) });
    expect(byId.get(fresh.id)).toEqual(fresh);
    expect(byId.get(addedMessage.id)).toEqual(addedMessage);
    // Nothing it held already, unchanged since.
    expect(byId.has(before[2]!.id)).toBe(false);

    // The same among up-to-date clients served in the same batches.
    const upToDate = await Promise.all(Array.from({ length: 6 }, () => connect(server.url, alice.accessToken)));
    pool.track(...upToDate);
    const current = (await ok<SyncResult>(upToDate[0]!, 'sync', { cursors: {} })).cursors;
    const [stale, ...others] = await Promise.all([ok<SyncResult>(b, 'sync', { cursors: old }), ...upToDate.map((s) => ok<SyncResult>(s, 'sync', { cursors: current }))]);
    expect(stale).toEqual(alone);
    for (const r of others) expect(r).toMatchObject({ messages: [], conversations: [], hasMore: false });
  });

  it('checks membership and reads the member list of a batch of subscribes in one statement, each answered by its own membership', async () => {
    const { alice, bob, carol, groups } = await setup();
    const eve = (await registerUser(server, 'eve'))!;
    const alone = await createGroup(server, server.ctx.db, carol, [], 'alone');
    const sockets = await Promise.all([connect(server.url, bob.accessToken), connect(server.url, bob.accessToken), connect(server.url, carol.accessToken), connect(server.url, eve.accessToken)]);
    pool.track(...sockets);
    const [b1, b2, c, e] = sockets as [Client, Client, Client, Client];
    const seen = sockets.map((s) => record(s));
    const subscribeAll = async () => {
      const before = memberListBatchStats(server.ctx).batches;
      const acks = await Promise.all([
        call(b1, 'subscribe', { conversationId: groups[0] }),
        call(b2, 'subscribe', { conversationId: groups[0] }),
        call(b2, 'subscribe', { conversationId: groups[1] }),
        call(c, 'subscribe', { conversationId: groups[1] }), // not carol's
        call(c, 'subscribe', { conversationId: alone }),
        call(e, 'subscribe', { conversationId: groups[0] }),
        call(e, 'subscribe', { conversationId: 'no-such-conversation' }),
      ]);
      return { acks, batches: memberListBatchStats(server.ctx).batches - before };
    };
    const extra = await extraStatements(subscribeAll, ({ acks, batches }) => {
      const notFound = { ok: false, error: { code: 'NOT_FOUND', message: 'no such conversation' } };
      expect(acks).toEqual([{ ok: true, data: null }, { ok: true, data: null }, { ok: true, data: null }, notFound, { ok: true, data: null }, notFound, notFound]);
      expect(batches).toBeLessThan(acks.length);
      return batches;
    });
    expect(extra).toBe(0);

    // Each subscriber heard the status of the other members of its conversation, and no one else's.
    await sleep(50);
    const statusesOf = (i: number) => new Set(seen[i]!.filter((x) => x.event === 'user:status_changed').map((x) => (x.payload as { userId: string }).userId));
    expect(statusesOf(0)).toEqual(new Set([alice.id, carol.id]));
    expect(statusesOf(1)).toEqual(new Set([alice.id, carol.id]));
    expect(statusesOf(2)).toEqual(new Set());
    expect(statusesOf(3)).toEqual(new Set());
    const online = seen[0]!.find((x) => x.event === 'user:status_changed' && (x.payload as { userId: string }).userId === alice.id)!.payload;
    expect(online).toMatchObject({ status: 'online' });
  });

  it('stamps the last seen time of users who go offline together in one statement, and tells each one\'s conversations', async () => {
    const { alice, a } = await setup();
    const others = await Promise.all(Array.from({ length: 4 }, (_, i) => registerUser(server, `leaver${i}`)));
    await createGroup(server, server.ctx.db, alice, [others[0]!, others[1]!], 'first two');
    await createGroup(server, server.ctx.db, alice, [others[2]!, others[3]!], 'last two');
    const connectAll = async () => {
      const sockets = await Promise.all(others.map((u) => connect(server.url, u!.accessToken)));
      pool.track(...sockets);
      // Their coming online is announced; let that pass before they leave.
      await sleep(50);
      return sockets;
    };
    const leaveTogether = async (sockets: Client[]) => {
      const before = lastSeenBatchStats(server.ctx).batches;
      const told = others.map((u) => waitFor<{ userId: string; status: string; lastSeenAt: string }>(a, 'user:status_changed', (e) => e.userId === u!.id && e.status === 'offline'));
      for (const s of sockets) s.close();
      return { told: await Promise.all(told), batches: lastSeenBatchStats(server.ctx).batches - before };
    };
    let announced: Array<{ userId: string; lastSeenAt: string }> = [];
    const extra = await extraStatements(
      leaveTogether,
      ({ told, batches }) => {
        announced = told;
        expect(batches).toBeLessThan(others.length);
        return batches;
      },
      connectAll,
    );
    expect(extra).toBe(0);
    // What was announced is what the database holds.
    for (const e of announced) {
      const [row] = await server.ctx.db.query<{ last_seen_at: Date }>('SELECT last_seen_at FROM users WHERE id = $1', [e.userId]);
      expect(new Date(row!.last_seen_at).toISOString()).toBe(e.lastSeenAt);
    }
  });
});
