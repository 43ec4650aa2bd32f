import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../storage/db.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { breakableProxy, startOwnRedis, type OwnRedis } from '../test/faults.ts';
import { Api, createPostgresDatabase, newRedisPrefix, registerUser, startTestNodes, startTestServer, type TestNodes, type TestServer, type TestUser } from '../test/harness.ts';
import { startServerProcess, type ServerProcess } from '../test/processes.ts';
import { call, connect, createGroup, Mirror, ok, sleep, until, waitFor, type Client } from './test/kit.ts';

// Several nodes share one database: PostgreSQL pass only (vitest.config.ts leaves *.multinode.test.ts
// out of the embedded pass).

/** What the issue allows a request or an ack to take while Redis is away. */
const BOUND_MS = 2000;

interface Outcome {
  clientId: string;
  content: string;
  ms: number;
  /** ok: acknowledged; error: answered with an error; unknown: the connection dropped under it. */
  result: 'ok' | 'error' | 'unknown' | 'hung';
  message?: Message;
  code?: string | undefined;
}

describe('Redis faults under sends through two nodes (own redis-server, PostgreSQL)', () => {
  let redis: OwnRedis;
  let cluster: TestNodes;
  let A: TestServer;
  let B: TestServer;
  const open: Client[] = [];

  beforeAll(async () => {
    redis = await startOwnRedis();
    // Rate limits on: every event and request goes through the Redis-backed limiters.
    cluster = await startTestNodes(2, { redisUrl: redis.url, rateLimits: true });
    [A, B] = cluster.nodes as [TestServer, TestServer];
  });
  afterAll(async () => {
    for (const s of open) s.close();
    await redis?.start();
    await cluster?.close();
    await redis?.stop();
  });

  /** A client that reconnects by itself (as the SDK does) and syncs after every connect. */
  async function client(node: TestServer, user: TestUser) {
    const socket = await connect(node.url, user.accessToken, { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500, randomizationFactor: 0 });
    open.push(socket);
    const mirror = new Mirror();
    mirror.attach(socket);
    socket.on('connect', () => void mirror.sync().catch(() => {}));
    await mirror.sync();
    return { socket, mirror };
  }

  /**
   * Alice sends over a socket on A, Bob over a socket on B, and Alice over REST on B, one after
   * another each, while `fault` runs; then every send whose fate is unknown is retried with its
   * clientId (as the SDK's outbox does) and everything is checked against the database.
   */
  async function sendThrough(fault: () => Promise<void>, nodes: { A: TestServer; B: TestServer; degraded: Array<'A' | 'B'> } = { A, B, degraded: ['A', 'B'] }) {
    const { A, B } = nodes;
    const [alice, bob] = [await registerUser(A, 'alice'), await registerUser(B, 'bob')];
    const conversationId = await createGroup(A, A.ctx.db, alice, [bob]);
    const a = await client(A, alice);
    const b = await client(B, bob);
    const restOnB = new Api(B.url, alice.accessToken);

    const outcomes: Outcome[] = [];
    let stop = false;
    const viaSocket = async (socket: Client, tag: string) => {
      for (let i = 0; !stop; i++) {
        if (!socket.connected) {
          await sleep(20);
          continue;
        }
        const body = { conversationId, content: `${tag} ${i}`, clientId: `${tag}-${i}` };
        const started = performance.now();
        const ack = await call<Message>(socket, 'chat:message_send', body, 10_000).catch(() => undefined);
        const ms = performance.now() - started;
        if (ack?.ok) outcomes.push({ ...body, ms, result: 'ok', message: ack.data });
        else if (ack) outcomes.push({ ...body, ms, result: 'error', code: ack.error.code });
        // No ack: either the connection dropped under it (a node bouncing its clients) or it hung.
        else outcomes.push({ ...body, ms, result: socket.connected && ms >= 10_000 ? 'hung' : 'unknown' });
        await sleep(10);
      }
    };
    const viaRest = async () => {
      for (let i = 0; !stop; i++) {
        const body = { conversationId, content: `rest ${i}`, clientId: `rest-${i}` };
        const started = performance.now();
        const res = await restOnB.post<Message>('/api/messages', body);
        const ms = performance.now() - started;
        if (res.status === 201 || res.status === 200) outcomes.push({ ...body, ms, result: 'ok', message: res.body });
        else outcomes.push({ ...body, ms, result: 'error', code: (res.body as { error?: { code: string } }).error?.code });
        await sleep(20);
      }
    };
    const readyz = { A: [] as number[], B: [] as number[] };
    const probe = async () => {
      while (!stop) {
        const [ra, rb] = await Promise.all([fetch(`${A.url}/readyz`), fetch(`${B.url}/readyz`)]);
        readyz.A.push(ra.status);
        readyz.B.push(rb.status);
        await sleep(100);
      }
    };
    const senders = [viaSocket(a.socket, 'alice'), viaSocket(b.socket, 'bob'), viaRest(), probe()];
    await until(() => outcomes.filter((o) => o.result === 'ok').length >= 30, 20_000, '30 acks before the fault');
    await fault();
    // Both nodes recover by themselves.
    await until(async () => (await fetch(`${A.url}/readyz`)).status === 200 && (await fetch(`${B.url}/readyz`)).status === 200, 30_000, 'both nodes ready again');
    await until(() => a.socket.connected && b.socket.connected, 15_000, 'clients reconnected');
    const recovered = outcomes.length;
    await until(() => outcomes.length >= recovered + 20, 20_000, 'sends after recovery');
    stop = true;
    await Promise.all(senders);

    // Every send whose fate is unknown (or that was refused) is retried with its clientId.
    const acked = new Map<string, Message>();
    for (const o of outcomes) if (o.result === 'ok') acked.set(o.message!.id, o.message!);
    for (const o of outcomes.filter((x) => x.result !== 'ok')) {
      const ack = await call<Message>(o.clientId.startsWith('bob') ? b.socket : a.socket, 'chat:message_send', { conversationId, content: o.content, clientId: o.clientId });
      if (!ack.ok) throw new Error(`retry of ${o.clientId} failed: ${ack.error.code}`);
      acked.set(ack.data.id, ack.data);
    }

    const stored = await A.ctx.db.query<{ id: string; seq: number; client_id: string }>(
      'SELECT id, seq, client_id FROM messages WHERE conversation_id = $1 AND client_id IS NOT NULL ORDER BY seq',
      [conversationId],
    );
    const all = await A.ctx.db.query<{ seq: number }>('SELECT seq FROM messages WHERE conversation_id = $1 ORDER BY seq', [conversationId]);
    // Gapless seq; every acknowledged message stored, once.
    expect(all.map((r) => r.seq)).toEqual(all.map((_, i) => i + 1));
    expect(new Set(stored.map((r) => r.client_id)).size).toBe(stored.length);
    expect(new Set(stored.map((r) => r.id))).toEqual(new Set(acked.keys()));
    expect(stored.length).toBe(outcomes.length);

    // Every client converges after sync.
    const ids = (await A.ctx.db.query<{ id: string }>('SELECT id FROM messages WHERE conversation_id = $1 ORDER BY seq', [conversationId])).map((r) => r.id);
    for (const { mirror } of [a, b]) {
      await mirror.sync();
      await until(() => mirror.list(conversationId).length === ids.length, 15_000, 'a client to hold every message');
      expect(mirror.list(conversationId).map((m) => m.id)).toEqual(ids);
      mirror.close();
    }
    a.socket.close();
    b.socket.close();

    const slowest = Math.max(...outcomes.map((o) => o.ms));
    const byResult = (r: Outcome['result']) => outcomes.filter((o) => o.result === r).length;
    console.log(
      `sends: ${outcomes.length} (ok ${byResult('ok')}, error ${byResult('error')} [${[...new Set(outcomes.filter((o) => o.code).map((o) => o.code))].join(',')}], unknown ${byResult('unknown')}, hung ${byResult('hung')}); slowest ${Math.round(slowest)} ms; readyz 503 seen: A ${readyz.A.includes(503)}, B ${readyz.B.includes(503)}`,
    );
    expect(byResult('hung')).toBe(0);
    // No request or ack took longer than the bound (answered ones: a dropped connection is not a wait).
    expect(Math.max(...outcomes.filter((o) => o.result !== 'unknown').map((o) => o.ms))).toBeLessThan(BOUND_MS);
    // /readyz says 503 on the nodes that lost Redis, and only there.
    for (const node of ['A', 'B'] as const) {
      if (nodes.degraded.includes(node)) expect(readyz[node]).toContain(503);
      else expect(readyz[node]).not.toContain(503);
    }
  }

  it('Redis killed for 3 s: no node dies, acks stay prompt, every acknowledged message is stored once and reaches every client', async () => {
    await sendThrough(async () => {
      await redis.kill();
      await sleep(3000);
      await redis.start();
    });
  });

  it('Redis paused (SIGSTOP) for 5 s: degrades like an outage instead of stalling requests and acks', async () => {
    await sendThrough(async () => {
      redis.pause();
      await sleep(5000);
      redis.resume();
    });
  });

  it("one node's Redis link cut for 3 s: the other node is unaffected, and what crossed meanwhile arrives through sync", async () => {
    const proxy = await breakableProxy(new URL(redis.url));
    // Two more nodes (a database and key prefix of their own) on the same Redis: C through the proxy, D direct.
    const more = await startTestNodes(2, { redisUrl: redis.url, rateLimits: true }, {}, [{ redisUrl: proxy.url }]);
    try {
      const [C, D] = more.nodes as [TestServer, TestServer];
      await sendThrough(
        async () => {
          proxy.cut();
          await sleep(3000);
          proxy.restore();
        },
        { A: C, B: D, degraded: ['A'] },
      );
    } finally {
      await more.close();
      await proxy.close();
    }
  });
});

describe('Redis faults with real server processes (own redis-server, PostgreSQL)', () => {
  let redis: OwnRedis;
  let dropDb: () => Promise<void>;
  let db: Database;
  let env: Record<string, string>;
  const procs: Array<{ proc: ServerProcess; dataDir: string }> = [];
  const open: Client[] = [];
  const spawnNode = async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'confab-node-'));
    const proc = startServerProcess({ ...env, DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
    procs.push({ proc, dataDir });
    return { proc, url: await proc.url };
  };

  beforeAll(async () => {
    redis = await startOwnRedis();
    const created = await createPostgresDatabase(process.env.CONFAB_TEST_DATABASE_URL!);
    dropDb = created.drop;
    db = await openPostgres(created.url, { poolSize: 2 });
    env = { DATABASE_URL: created.url, REDIS_URL: redis.url, CONFAB_REDIS_PREFIX: newRedisPrefix(), CONFAB_SECRET: randomBytes(32).toString('base64url') };
  });
  afterAll(async () => {
    for (const s of open) s.close();
    for (const { proc, dataDir } of procs) {
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    await db?.close();
    await dropDb?.();
    await redis?.stop();
  });

  it('no process exits when Redis is killed or paused; a node started while Redis is down becomes ready when it returns', async () => {
    // One after the other: the first migrates the database.
    const one = await spawnNode();
    const two = await spawnNode();
    const [alice, bob] = [await registerUser(one, 'alice'), await registerUser(two, 'bob')];
    const conversationId = await createGroup(one, db, alice, [bob]);
    const opts = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 };
    const a = await connect(one.url, alice.accessToken, opts);
    const b = await connect(two.url, bob.accessToken, opts);
    open.push(a, b);
    let n = 0;
    let sending = true;
    const sender = (async () => {
      while (sending) {
        if (a.connected) await call(a, 'chat:message_send', { conversationId, content: `m${n}`, clientId: `m${n++}` }, 5000).catch(() => {});
        await sleep(50);
      }
    })();
    const ready = async (url: string) => (await fetch(`${url}/readyz`)).status;

    await redis.kill();
    await until(async () => (await ready(one.url)) === 503 && (await ready(two.url)) === 503, 10_000, 'both nodes to report Redis down');
    // Long past the client's retries (an outage of about a second used to end every node).
    await sleep(3000);
    for (const { proc } of procs) expect(proc.child.exitCode, 'a node exited while Redis was down').toBeNull();
    // A node started while Redis is down starts, and says it is not ready.
    const three = await spawnNode();
    expect(await ready(three.url)).toBe(503);
    await redis.start();
    for (const node of [one, two, three]) await until(async () => (await ready(node.url)) === 200, 30_000, 'a node to become ready');

    redis.pause();
    await sleep(5000);
    redis.resume();
    for (const node of [one, two, three]) await until(async () => (await ready(node.url)) === 200, 30_000, 'a node to become ready');
    sending = false;
    await sender;

    for (const { proc } of procs) expect(proc.child.exitCode).toBeNull();
    // Broadcasts between the nodes flow again, including through the node that started without Redis.
    await until(() => a.connected && b.connected, 15_000, 'clients reconnected');
    const got = waitFor<Message>(b, 'chat:message_received', (m) => m.content === 'after the faults', 15_000);
    await ok(a, 'chat:message_send', { conversationId, content: 'after the faults', clientId: 'after' });
    await got;
    const c = await connect(three.url, bob.accessToken);
    open.push(c);
    const viaThree = waitFor<Message>(c, 'chat:message_received', (m) => m.content === 'to three', 15_000);
    await ok(a, 'chat:message_send', { conversationId, content: 'to three', clientId: 'three' });
    await viaThree;
  });
});

describe('AI answers while Redis is away (one node, own redis-server)', () => {
  let redis: OwnRedis;
  let fake: FakeOpenAI;
  let server: TestServer;
  beforeAll(async () => {
    redis = await startOwnRedis();
    fake = await startFakeOpenAI({ defaultDelayMs: 2 });
    server = await startTestServer({ redisUrl: redis.url, ai: testAiConfig(fake.url, ['openai:test-model']) });
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
    await redis?.stop();
  });

  it('asking for an answer needs Redis (its live text): UNAVAILABLE at once, and it works again when Redis returns', async () => {
    const alice = await registerUser(server, 'alice');
    const conversationId = (await alice.api.post('/api/conversations/assistant', { model: 'openai:test-model' })).body.id as string;
    const a = await connect(server.url, alice.accessToken, { reconnection: true, reconnectionDelay: 100 });
    try {
      const done = waitFor(a, 'ai:done', (e: { conversationId: string }) => e.conversationId === conversationId, 15_000);
      const question = await ok<Message>(a, 'chat:message_send', { conversationId, content: 'hello?', clientId: 'q1' });
      await done;

      await redis.kill();
      const started = performance.now();
      const refused = await call(a, 'ai:regenerate', { messageId: question.id });
      const ms = performance.now() - started;
      expect(refused).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
      expect(ms).toBeLessThan(2000);
      // The conversation is not left claimed by the answer that could not start.
      const [row] = await server.ctx.db.query<{ generating: boolean }>('SELECT generating FROM conversations WHERE id = $1', [conversationId]);
      expect(row?.generating).toBe(false);

      await redis.start();
      await until(async () => (await fetch(`${server.url}/readyz`)).status === 200, 15_000, '/readyz to turn 200');
      await until(() => a.connected, 15_000, 'the client to reconnect');
      const again = waitFor(a, 'ai:done', (e: { conversationId: string }) => e.conversationId === conversationId, 15_000);
      await ok(a, 'ai:regenerate', { messageId: question.id });
      await again;
    } finally {
      a.close();
    }
  });
});
