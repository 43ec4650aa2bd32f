/**
 * Confab through Debian's PgBouncer, in session mode and in transaction mode, where named prepared
 * statements break (PgBouncer 1.18: a statement prepared on one server connection is missing on the
 * next). Sends over REST and Socket.IO, the live fan-out and the message list must all work; in
 * transaction mode, with CONFAB_DATABASE_PREPARED_STATEMENTS=off, and without it, by detection.
 */
import { Writable } from 'node:stream';
import type { Message } from '@confab/protocol';
import { pino } from 'pino';
import { io as connectClient } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, registerUser, startTestServer } from '../test/harness.ts';
import { hasPgBouncer, startPgBouncer, type PgBouncer } from '../test/pgbouncer.ts';

const adminUrl = process.env.CONFAB_TEST_DATABASE_URL!;

describe.skipIf(!hasPgBouncer() && !process.env.CONFAB_TEST_NO_SKIPS)('through PgBouncer', () => {
  const bouncers: Partial<Record<'session' | 'transaction', PgBouncer>> = {};
  beforeAll(async () => {
    // Session mode gives each client connection a server connection of its own for as long as it
    // lasts: its pool holds the node's whole pool. Transaction mode shares a few.
    bouncers.session = await startPgBouncer({ mode: 'session', poolSize: 8, target: new URL(adminUrl) });
    bouncers.transaction = await startPgBouncer({ mode: 'transaction', poolSize: 3, target: new URL(adminUrl) });
  });
  afterAll(async () => {
    for (const b of Object.values(bouncers)) await b?.close();
  });

  /** A server on a fresh database through the pooler; 120 concurrent sends (REST and socket) and what it logged. */
  async function exercise(mode: 'session' | 'transaction', preparedStatements: boolean): Promise<string[]> {
    const created = await createPostgresDatabase(adminUrl);
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const databaseUrl = bouncers[mode]!.url(new URL(created.url).pathname.slice(1));
    const server = await startTestServer({ databaseUrl, databasePoolSize: 8, databasePreparedStatements: preparedStatements }, { logger: pino({ level: 'warn' }, sink) });
    try {
      const ann = await registerUser(server, 'ann');
      const bob = await registerUser(server, 'bob');
      const group = (await ann.api.post('/api/conversations/group', { title: 'Pooled', participantIds: [bob.id] })).body.id as string;
      const socket = connectClient(server.url, { auth: { token: bob.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
      const live: Message[] = [];
      socket.on('chat:message_received', (m: Message) => live.push(m));
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
      try {
        const rest = Array.from({ length: 80 }, (_, i) => ann.api.post('/api/messages', { conversationId: group, content: `rest ${i}`, clientId: `r${i}` }));
        const viaSocket = Array.from(
          { length: 40 },
          (_, i) => new Promise<{ ok: boolean }>((resolve) => socket.emit('chat:message_send', { conversationId: group, content: `socket ${i}`, clientId: `s${i}` }, resolve)),
        );
        for (const r of await Promise.all(rest)) expect(r.status).toBe(201);
        for (const a of await Promise.all(viaSocket)) expect(a.ok).toBe(true);
        const listed = await ann.api.get(`/api/conversations/${group}/messages?limit=200`);
        expect(listed.status).toBe(200);
        const messages = (listed.body.messages as Message[]).filter((m) => m.kind !== 'system');
        expect(messages).toHaveLength(120);
        const seqs = messages.map((m) => m.seq);
        expect(new Set(seqs).size).toBe(120);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        // Bob's socket heard every one of Ann's 80 (his own 40 come back to him too).
        const deadline = Date.now() + 10_000;
        while (live.length < 120 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(new Set(live.map((m) => m.id)).size).toBe(120);
      } finally {
        socket.close();
      }
    } finally {
      await server.close();
      await created.drop();
    }
    return lines;
  }

  const refusals = (lines: string[]) => lines.filter((l) => l.includes('refused a named prepared statement'));

  it('works in session mode with prepared statements', async () => {
    expect(refusals(await exercise('session', true))).toEqual([]);
  }, 60_000);

  it('works in transaction mode with CONFAB_DATABASE_PREPARED_STATEMENTS=off', async () => {
    expect(refusals(await exercise('transaction', false))).toEqual([]);
  }, 60_000);

  it('works in transaction mode left on: the first refusal turns prepared statements off, and nothing fails', async () => {
    const found = refusals(await exercise('transaction', true));
    expect(found).toHaveLength(1);
  }, 60_000);
});
