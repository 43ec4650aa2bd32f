/**
 * A rolling restart as an operator does it (docs/operations.md, "Upgrade"): two Confab server
 * processes on one PostgreSQL database and one Redis, behind Debian's nginx running the recipe of
 * docs/proxy/nginx.conf, with SDK clients sending all the while. Node A is stopped (SIGTERM), started
 * again on its port and waited for (/readyz), then node B likewise. What must hold: nothing the
 * clients sent is lost or stored twice, and every client's view of its conversations is the stored
 * log. How long each client was away is printed (p50/max); the figures are in docs/operations.md.
 * Several server processes share one database: this runs in the PostgreSQL pass only.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, newRedisPrefix, registerUser, testRedisUrl, type TestUser } from '../../server/src/test/harness.ts';
import { startServerProcess, type ServerProcess } from '../../server/src/test/processes.ts';
import { clientFetch, clientSocketOptions, freePort, nginxSite, proxyDir, selfSignedCertificate, startNginx, type Certificate, type ProxyProcess } from '../../server/src/test/proxies.ts';
import { createClient, type ConfabClient } from './client.ts';
import type { SocketLike } from './connection.ts';
import type { FetchLike } from './rest.ts';

const USERS = 6;
/** Two devices per user, each from its own loopback address, so nginx's sticky hash spreads them over both nodes. */
const DEVICES = 2;
const SEND_EVERY_MS = 100;

interface Node {
  port: number;
  dataDir: string;
  process: ServerProcess;
}

interface Device {
  user: number;
  client: ConfabClient;
  conversations: string[];
  /** When the connection was last lost, until the client is back (online, synced and sending). */
  lostAt: number | null;
  /** Each outage: [ms until online again, ms until the first send acknowledged after it (synced, draining)]. */
  outages: Array<{ online: number | null; back: number | null }>;
}

let dir: string;
let cert: Certificate;
let database: { url: string; drop: () => Promise<void> };
let proxy: ProxyProcess;
let env: Record<string, string>;
const nodes: Node[] = [];
const devices: Device[] = [];

async function ready(port: number, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() - start > timeoutMs) throw new Error(`node on ${port} never became ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startNode(node: Pick<Node, 'port' | 'dataDir'>): ServerProcess {
  return startServerProcess({ ...env, PORT: String(node.port), DATA_DIR: node.dataDir });
}

/** SIGTERM, wait for the exit, start again on the same port, wait for /readyz: one step of a rolling restart. */
async function restart(node: Node): Promise<{ stoppedMs: number; readyMs: number }> {
  const start = Date.now();
  const code = await node.process.stop();
  expect(code, 'a node stops cleanly on SIGTERM').toBe(0);
  const stoppedMs = Date.now() - start;
  node.process = startNode(node);
  await node.process.url;
  await ready(node.port);
  return { stoppedMs, readyMs: Date.now() - start };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

beforeAll(async () => {
  const adminUrl = process.env.CONFAB_TEST_DATABASE_URL;
  if (!adminUrl) throw new Error('the rolling restart needs CONFAB_TEST_DATABASE_URL (PostgreSQL)');
  dir = proxyDir('confab-rolling-');
  cert = selfSignedCertificate(dir);
  database = await createPostgresDatabase(adminUrl);
  const proxyPort = await freePort();
  // What every node of a deployment shares (compose.cluster.yaml sets the same).
  env = {
    DATABASE_URL: database.url,
    REDIS_URL: testRedisUrl,
    CONFAB_REDIS_PREFIX: newRedisPrefix(),
    CONFAB_SECRET: randomBytes(32).toString('base64url'),
    CONFAB_TRUST_PROXY: 'true',
    CONFAB_PUBLIC_URL: `https://127.0.0.1:${proxyPort}`,
    // Twelve devices sending ten messages a second each are above a person's limits.
    CONFAB_RATE_LIMITS: 'off',
    LOG_LEVEL: 'warn',
  };
  for (let i = 0; i < 2; i++) nodes.push({ port: await freePort(), dataDir: mkdtempSync(path.join(tmpdir(), 'confab-rolling-node-')), process: undefined as never });
  // Both at once: the migrations serialize on their advisory lock.
  for (const node of nodes) node.process = startNode(node);
  await Promise.all(nodes.map(async (n) => (await n.process.url, await ready(n.port))));
  proxy = await startNginx(nginxSite({ port: proxyPort, upstreams: nodes.map((n) => `127.0.0.1:${n.port}`), cert }), proxyPort);

  const node0 = { url: `http://127.0.0.1:${nodes[0]!.port}` };
  const users: TestUser[] = [];
  for (let i = 0; i < USERS; i++) users.push(await registerUser(node0, `roller${i}`));
  // Three groups, overlapping: every user is in one or two of them.
  const groups: string[] = [];
  for (const members of [
    [0, 1, 2],
    [2, 3, 4],
    [4, 5, 0],
  ]) {
    const [owner, ...others] = members.map((i) => users[i]!);
    const res = await owner!.api.post('/api/conversations/group', { title: `rolling ${groups.length}`, participantIds: others.map((u) => u.id) });
    expect(res.status).toBe(201);
    groups.push(res.body.id);
  }
  const memberOf = (u: number) => groups.filter((_, g) => [[0, 1, 2], [2, 3, 4], [4, 5, 0]][g]!.includes(u));
  for (let u = 0; u < USERS; u++) {
    for (let d = 0; d < DEVICES; d++) {
      const side = { ca: cert.ca, localAddress: `127.0.0.${2 + u * DEVICES + d}` };
      const client = createClient({
        url: proxy.url,
        socketFactory: (url, opts) => io(url, { ...opts, ...clientSocketOptions(side) }) as unknown as SocketLike,
        fetch: clientFetch(side) as unknown as FetchLike,
      });
      client.setSession({ accessToken: users[u]!.accessToken, refreshToken: users[u]!.refreshToken });
      const device: Device = { user: u, client, conversations: memberOf(u), lostAt: null, outages: [] };
      // Watched from the start: the client keeps each conversation's messages live and syncs them after a reconnect.
      for (const c of device.conversations) client.watchMessages(c, () => {});
      devices.push(device);
    }
  }
  await Promise.all(devices.map((d) => d.client.idle()));
  // From here on, every time a client leaves 'online' is an outage.
  for (const device of devices) {
    device.client.connection.subscribe((state) => {
      if (state !== 'online' && device.lostAt === null) {
        device.lostAt = Date.now();
        device.outages.push({ online: null, back: null });
      } else if (state === 'online' && device.lostAt !== null) device.outages.at(-1)!.online = Date.now() - device.lostAt;
    });
  }
}, 90_000);

afterAll(async () => {
  await Promise.allSettled(devices.map((d) => d.client.close()));
  await proxy?.close();
  await Promise.allSettled(nodes.map((n) => n.process?.stop()));
  for (const n of nodes) rmSync(n.dataDir, { recursive: true, force: true });
  await database?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a rolling restart of two nodes behind nginx, with clients sending throughout', () => {
  it('loses nothing, stores nothing twice, and every client ends with the stored log', async () => {
    const sent = new Map<string, { conversationId: string; content: string; device: number }>();
    const acked = new Set<string>();
    const failed: string[] = [];
    let sending = true;
    const senders = devices.map(async (device, index) => {
      for (let i = 0; sending; i++) {
        const conversationId = device.conversations[i % device.conversations.length]!;
        const content = `device ${index} message ${i}`;
        const handle = device.client.send(conversationId, { content });
        sent.set(handle.clientId!, { conversationId, content, device: index });
        void handle.settled.then((m) => {
          if (m.sendState !== 'sent') return failed.push(`${content}: ${m.error?.code}`);
          acked.add(m.clientId!);
          // The first acknowledgement after an outage: back online, synced, and the outbox draining.
          if (device.lostAt !== null && device.client.connection.state === 'online') {
            device.outages.at(-1)!.back = Date.now() - device.lostAt;
            device.lostAt = null;
          }
        });
        await new Promise((r) => setTimeout(r, SEND_EVERY_MS));
      }
    });

    const started = Date.now();
    const at = (what: string) => console.log(`${Date.now() - started} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 1500));
    const steps = [];
    for (const node of nodes) {
      at(`restarting node ${nodes.indexOf(node)}`);
      steps.push(await restart(node));
      at(`node ${nodes.indexOf(node)} ready`);
      // Clients that moved come back over; sends keep flowing to the restarted node.
      await new Promise((r) => setTimeout(r, 1500));
    }
    sending = false;
    await Promise.all(senders);
    at('sending stopped');
    const sendingMs = Date.now() - started;
    // Every outbox empties and every client is synced.
    await Promise.all(devices.map((d) => d.client.idle()));
    at('every client idle');
    await new Promise((r) => setTimeout(r, 200));

    expect(failed).toEqual([]);
    // Everything queued was acknowledged (the outbox is empty), so acknowledged = sent.
    expect(acked.size).toBe(sent.size);

    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    let stored: Array<{ id: string; conversation_id: string; seq: number; client_id: string | null }>;
    try {
      stored = (await db.query(`SELECT id, conversation_id, seq, client_id FROM messages ORDER BY conversation_id, seq`)).rows;
    } finally {
      await db.end();
    }
    const byClientId = new Map<string, number>();
    for (const m of stored) if (m.client_id) byClientId.set(m.client_id, (byClientId.get(m.client_id) ?? 0) + 1);
    const lost = [...sent.keys()].filter((id) => !byClientId.has(id));
    const doubled = [...byClientId].filter(([, n]) => n > 1);
    expect(lost, '0 lost').toEqual([]);
    expect(doubled, '0 doubled').toEqual([]);

    // Each client's live view of each of its conversations is the stored log: same messages, same order, own contents intact.
    for (const device of devices) {
      for (const c of device.conversations) {
        const log = stored.filter((m) => m.conversation_id === c);
        const view = device.client.getMessages(c);
        expect(view.map((m) => [m.id, m.seq])).toEqual(log.map((m) => [m.id, m.seq]));
        for (const m of view) {
          const mine = m.clientId ? sent.get(m.clientId) : undefined;
          if (mine) expect(m.content).toBe(mine.content);
        }
      }
    }

    const online = devices.flatMap((d) => d.outages.map((o) => o.online ?? Infinity));
    const back = devices.flatMap((d) => d.outages.map((o) => o.back ?? Infinity));
    console.log(
      [
        `rolling restart: ${sent.size} messages from ${devices.length} clients over ${(sendingMs / 1000).toFixed(1)} s, 0 lost, 0 doubled`,
        `  node restarts (SIGTERM → exited, → /readyz 200): ${steps.map((s) => `${s.stoppedMs} ms / ${s.readyMs} ms`).join(', ')}`,
        `  ${back.length} outages; online again p50 ${percentile(online, 50)} ms, max ${Math.max(...online)} ms;` +
          ` synced and sending again p50 ${percentile(back, 50)} ms, max ${Math.max(...back)} ms`,
      ].join('\n'),
    );
    // Every client lost its connection at least once (both nodes restarted) and came back.
    for (const device of devices) {
      expect(device.outages.length).toBeGreaterThanOrEqual(1);
      for (const o of device.outages) {
        expect(o.online).not.toBeNull();
        expect(o.back).not.toBeNull();
        expect(o.back!).toBeLessThan(30_000);
      }
    }
  }, 120_000);
});
