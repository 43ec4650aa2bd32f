import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, registerUser } from '../test/harness.ts';
import { startServerProcess, type ServerProcess } from '../test/processes.ts';

// PostgreSQL pass only (vitest.config.ts, *.multinode.test.ts): two processes share the database.
const postgres = process.env.CONFAB_TEST_DATABASE_URL;

describe('outgoing webhooks when a node is killed (real processes, PostgreSQL)', () => {
  const cleanup: (() => unknown)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('every event committed before SIGKILL is delivered (at least once, in seq order) by the next process', async () => {
    if (!postgres) throw new Error('this test needs PostgreSQL: set CONFAB_TEST_DATABASE_URL');
    const created = await createPostgresDatabase(postgres);
    cleanup.push(() => created.drop());
    // A slow receiver (100 ms per event), so the node dies with deliveries pending and one in flight.
    const arrivals: { id: string; seq: number; content: string }[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const event = JSON.parse(body) as { id: string; data: { message: { seq: number; content: string } } };
        arrivals.push({ id: event.id, seq: event.data.message.seq, content: event.data.message.content });
        setTimeout(() => res.writeHead(200).end(), 100);
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    cleanup.push(() => {
      receiver.closeAllConnections();
      return new Promise((r) => receiver.close(r));
    });
    const env = { DATABASE_URL: created.url, CONFAB_SECRET: randomBytes(32).toString('base64url'), CONFAB_WEBHOOKS_ALLOW_PRIVATE: 'true', CONFAB_RATE_LIMITS: 'off', LOG_LEVEL: 'warn' };
    const start = (): ServerProcess => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'confab-hooks-'));
      const p = startServerProcess({ ...env, DATA_DIR: dataDir });
      cleanup.push(async () => {
        await p.stop();
        rmSync(dataDir, { recursive: true, force: true });
      });
      return p;
    };

    const first = start();
    const server = { url: await first.url };
    const owner = await registerUser(server, 'owner');
    const hook = await owner.api.post('/api/admin/webhooks', { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, events: ['message.created'] });
    expect(hook.status).toBe(201);
    const group = await owner.api.post('/api/conversations/group', { title: 'Crash', participantIds: [] });
    const conversationId = group.body.id as string;
    const contents: string[] = [];
    for (let i = 0; i < 30; i++) {
      const sent = await owner.api.post('/api/messages', { conversationId, content: `m${i}`, clientId: `c${i}` });
      expect(sent.status).toBe(201);
      contents.push(`m${i}`);
    }
    // Killed right after the last send committed, while the receiver is still working through them.
    first.child.kill('SIGKILL');
    await first.exited;
    const before = new Set(arrivals.map((a) => a.content)).size;
    expect(before).toBeLessThan(30);

    const second = start();
    await second.url;
    // The delivery that was in flight is taken over once its lease (timeout + 5 s) runs out.
    const deadline = Date.now() + 45_000;
    while (new Set(arrivals.map((a) => a.content)).size < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(new Set(arrivals.map((a) => a.content))).toEqual(new Set(contents));
    // First arrivals in seq order (a repeat of the one in flight may come again later: at least once).
    const firstSeqs: number[] = [];
    const seen = new Set<string>();
    for (const a of arrivals) {
      if (seen.has(a.id)) continue;
      seen.add(a.id);
      firstSeqs.push(a.seq);
    }
    expect(firstSeqs).toEqual([...firstSeqs].sort((a, b) => a - b));
  }, 120_000);
});
