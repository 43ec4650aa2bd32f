import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Message } from '@confab/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../storage/db.ts';
import { createPostgresDatabase, newRedisPrefix, registerUser, testRedisUrl, type TestUser } from '../test/harness.ts';
import { deleteKeys } from '../redis/redis.ts';
import { call, connect, createGroup, Mirror, ok, until, type Client } from './test/kit.ts';

// PostgreSQL pass only (vitest.config.ts): several processes share the database.
const postgres = process.env.CONFAB_TEST_DATABASE_URL;
const main = fileURLToPath(new URL('../main.ts', import.meta.url));

interface Node {
  child: ChildProcess;
  url: string;
  dataDir: string;
}

/** A real server process, as `npm start` runs it; resolves once it prints its URL. */
async function startNode(env: Record<string, string>): Promise<Node> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'confab-node-'));
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn', CONFAB_RATE_LIMITS: 'off', CONFAB_REGISTRATION: 'open', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not start: ${err}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /Confab listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code}: ${err}`));
    });
  });
  return { child, url, dataDir };
}

describe('a node killed during a burst (real processes, PostgreSQL + Redis)', () => {
  const nodes: Node[] = [];
  const open: Client[] = [];
  let dropDb: () => Promise<void>;
  let db: Database;
  let env: Record<string, string>;

  beforeAll(async () => {
    if (!postgres) throw new Error('this test needs PostgreSQL: set CONFAB_TEST_DATABASE_URL');
    const created = await createPostgresDatabase(postgres);
    dropDb = created.drop;
    db = await openPostgres(created.url, { poolSize: 2 });
    env = { DATABASE_URL: created.url, REDIS_URL: testRedisUrl, CONFAB_REDIS_PREFIX: newRedisPrefix(), CONFAB_SECRET: randomBytes(32).toString('base64url') };
    // One after the other: the first migrates the database.
    nodes.push(await startNode(env));
    nodes.push(await startNode(env));
  });
  afterAll(async () => {
    for (const s of open) s.close();
    for (const n of nodes) {
      if (n.child.exitCode === null && n.child.signalCode === null) {
        const exited = new Promise((resolve) => n.child.once('exit', resolve));
        n.child.kill('SIGTERM');
        await exited;
      }
      rmSync(n.dataDir, { recursive: true, force: true });
    }
    await db?.close();
    const redis = new Redis(testRedisUrl);
    await deleteKeys(redis, env.CONFAB_REDIS_PREFIX!).finally(() => redis.disconnect());
    await dropDb?.();
  });

  it('every acknowledged message reaches every surviving client after reconnect and sync', async () => {
    const [one, two] = nodes as [Node, Node];
    const server = { url: one.url };
    const users: TestUser[] = [];
    for (const name of ['alice', 'bob', 'carol', 'dave']) users.push(await registerUser(server, name));
    const [alice, bob, carol, dave] = users as [TestUser, TestUser, TestUser, TestUser];
    const conversationId = await createGroup(server, db, alice, [bob, carol, dave]);

    // Alice and Carol on node one; Bob and Dave on node two.
    const home = new Map<TestUser, Node>([
      [alice, one],
      [bob, two],
      [carol, one],
      [dave, two],
    ]);
    const sockets = new Map<TestUser, Client>();
    const mirrors = new Map<TestUser, Mirror>();
    for (const u of users) {
      const s = await connect(home.get(u)!.url, u.accessToken);
      open.push(s);
      const m = new Mirror();
      m.attach(s);
      await m.sync();
      sockets.set(u, s);
      mirrors.set(u, m);
    }

    const acked = new Map<string, Message>();
    const unacked = new Map<string, string>(); // clientId -> content, sends whose fate is unknown
    let killed = false;
    const burst = async (u: TestUser, tag: string, count: number) => {
      const socket = sockets.get(u)!;
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const i = next++;
          const body = { conversationId, content: `${tag} ${i}`, clientId: `${tag}-${i}` };
          const ack = await call<Message>(socket, 'chat:message_send', body, 3000).catch(() => undefined);
          if (ack?.ok) acked.set(ack.data.id, ack.data);
          else unacked.set(body.clientId, body.content);
          if (!socket.connected) {
            // The node went away under us: the rest are not sent.
            while (next < count) {
              const j = next++;
              unacked.set(`${tag}-${j}`, `${tag} ${j}`);
            }
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
    };
    const killer = (async () => {
      await until(() => acked.size >= 150, 30_000, '150 acks before the kill');
      two.child.kill('SIGKILL');
      killed = true;
    })();
    await Promise.all([burst(alice, 'alice', 300), burst(bob, 'bob', 300), killer]);
    expect(killed).toBe(true);
    expect(unacked.size).toBeGreaterThan(0);

    // Bob and Dave reconnect (to the surviving node, as a load balancer would send them) and sync.
    for (const u of [bob, dave]) {
      const s = await connect(one.url, u.accessToken);
      open.push(s);
      sockets.set(u, s);
      mirrors.get(u)!.attach(s);
      await mirrors.get(u)!.sync();
    }
    // The outboxes retry what was never acknowledged, with the same clientIds: stored once, even
    // when the first attempt had committed on the dead node before its ack was lost.
    for (const [clientId, content] of unacked) {
      const author = clientId.startsWith('bob-') ? bob : alice;
      const m = await ok<Message>(sockets.get(author)!, 'chat:message_send', { conversationId, content, clientId });
      acked.set(m.id, m);
    }

    const stored = await db.query<{ id: string; seq: number }>('SELECT id, seq FROM messages WHERE conversation_id = $1 ORDER BY seq', [conversationId]);
    expect(stored.map((r) => r.seq)).toEqual(stored.map((_, i) => i + 1));
    // Everything acknowledged is stored; every stored message is acknowledged (after the retries).
    expect(new Set(stored.map((r) => r.id))).toEqual(new Set(acked.keys()));
    expect(stored.length).toBe(600);

    for (const u of users) {
      const mirror = mirrors.get(u)!;
      await until(() => mirror.list(conversationId).length === stored.length, 15_000, `${u.user.displayName} to hold every message`);
      expect(mirror.list(conversationId).map((m) => m.id)).toEqual(stored.map((r) => r.id));
      mirror.close();
    }
  });
});
