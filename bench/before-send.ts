/**
 * The before-send hook's cost on the send path: acked Socket.IO sends per second into one group
 * conversation, without a hook and with a local hook that answers `allow` after 5 ms, side by side
 * in one run on one machine (docs/platform.md, "Before-send hook").
 * The two alternate for `rounds` rounds (the machine's other load drifts); the best of each is compared.
 *   node --import tsx bench/before-send.ts [--messages 4000] [--concurrency 64] [--sockets 8] [--delay 5] [--rounds 2] [--db embedded|postgres|both]
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { io as connectClient, type Socket } from 'socket.io-client';
import { registerUser, startTestServer } from '../packages/server/src/test/harness.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '64' },
    sockets: { type: 'string', default: '8' },
    delay: { type: 'string', default: '5' },
    db: { type: 'string', default: 'postgres' },
    rounds: { type: 'string', default: '2' },
  },
});
const total = Number(values.messages);
const concurrency = Number(values.concurrency);
const socketCount = Number(values.sockets);
const delayMs = Number(values.delay);
const pgUrl = process.env.CONFAB_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A hook that reads the request and answers allow after `delayMs`. */
async function startHook(): Promise<{ url: string; calls: () => number; close: () => Promise<void> }> {
  let calls = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"action":"allow"}'), delayMs);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    calls: () => calls,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

async function run(db: 'embedded' | 'postgres', hookUrl: string | undefined): Promise<{ rate: number; p50: number; p99: number }> {
  if (db === 'postgres') process.env.CONFAB_TEST_DATABASE_URL = pgUrl;
  else delete process.env.CONFAB_TEST_DATABASE_URL;
  const server = await startTestServer(hookUrl ? { beforeSend: { url: hookUrl, secret: 'bench', timeoutMs: 1500, failClosed: false } } : {});
  const sockets: Socket[] = [];
  try {
    const users = await Promise.all([registerUser(server, 'a'), registerUser(server, 'b')]);
    const conv = (await users[0].api.post('/api/conversations/group', { title: 'bench', participantIds: [users[1].id] })).body.id as string;
    for (let i = 0; i < socketCount; i++) {
      const socket = connectClient(server.url, { auth: { token: users[i % 2]!.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
      await new Promise<void>((resolve, reject) => (socket.once('connect', () => resolve()), socket.once('connect_error', reject)));
      sockets.push(socket);
    }
    let next = 0;
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        const socket = sockets[w % sockets.length]!;
        while (next < total) {
          const i = next++;
          const t = performance.now();
          const ack = await socket.emitWithAck('chat:message_send', { conversationId: conv, content: `message ${i}`, clientId: `bench-${i}` });
          if (!ack?.ok) throw new Error(`send failed: ${JSON.stringify(ack)}`);
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((x, y) => x - y);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
    return { rate: total / seconds, p50: pct(50), p99: pct(99) };
  } finally {
    for (const s of sockets) s.close();
    await server.close();
  }
}

const hook = await startHook();
try {
  console.log(`${total} acked socket sends per run, ${concurrency} in flight over ${socketCount} sockets; hook answers allow after ${delayMs} ms`);
  for (const db of values.db === 'both' ? (['embedded', 'postgres'] as const) : [values.db as 'embedded' | 'postgres']) {
    const results: Record<'none' | 'hook', Array<Awaited<ReturnType<typeof run>>>> = { none: [], hook: [] };
    const line = (name: string, r: Awaited<ReturnType<typeof run>>) => `${db.padEnd(9)} ${name.padEnd(16)} ${r.rate.toFixed(0).padStart(6)} sends/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`;
    for (let round = 0; round < Number(values.rounds); round++) {
      results.none.push(await run(db, undefined));
      console.log(line('no hook', results.none.at(-1)!));
      const before = hook.calls();
      results.hook.push(await run(db, hook.url));
      if (hook.calls() - before < total) throw new Error(`the hook was called ${hook.calls() - before} times for ${total} sends`);
      console.log(line(`hook (${delayMs} ms)`, results.hook.at(-1)!));
    }
    const best = (rs: Array<Awaited<ReturnType<typeof run>>>) => rs.reduce((a, b) => (b.rate > a.rate ? b : a));
    const none = best(results.none);
    const hooked = best(results.hook);
    console.log(`${db.padEnd(9)} best of each: no hook ${none.rate.toFixed(0)} sends/s, hook ${hooked.rate.toFixed(0)} sends/s (${((hooked.rate / none.rate) * 100).toFixed(0)}%), p50 ${none.p50.toFixed(1)} → ${hooked.p50.toFixed(1)} ms`);
  }
} finally {
  await hook.close();
}
