/**
 * REST send throughput: two users send into one direct conversation with a fixed number of
 * requests in flight; every send is committed before it is answered.
 *   node --import tsx bench/rest-send.ts [--messages 4000] [--concurrency 32] [--db embedded|postgres|both]
 */
import { parseArgs } from 'node:util';
import { registerUser, startTestServer } from '../packages/server/src/test/harness.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '32' },
    db: { type: 'string', default: 'both' },
  },
});
const total = Number(values.messages);
const concurrency = Number(values.concurrency);
const pgUrl = process.env.CONFAB_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function run(db: 'embedded' | 'postgres') {
  if (db === 'postgres') process.env.CONFAB_TEST_DATABASE_URL = pgUrl;
  else delete process.env.CONFAB_TEST_DATABASE_URL;
  const server = await startTestServer();
  try {
    const [a, b] = await Promise.all([registerUser(server, 'a'), registerUser(server, 'b')]);
    const conv = (await a!.api.post('/api/conversations/direct', { userId: b!.id })).body.id as string;
    let next = 0;
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, w) => {
        const user = w % 2 ? b! : a!;
        while (next < total) {
          const i = next++;
          const t = performance.now();
          const res = await user.api.post('/api/messages', { conversationId: conv, content: `message ${i}`, clientId: `bench-${i}` });
          if (res.status !== 201) throw new Error(`send failed: ${res.status}`);
          latencies.push(performance.now() - t);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((x, y) => x - y);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1);
    console.log(`${db.padEnd(9)} ${total} sends, ${concurrency} in flight: ${(total / seconds).toFixed(0)} msgs/s, p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
  } finally {
    await server.close();
  }
}

for (const db of values.db === 'both' ? (['embedded', 'postgres'] as const) : [values.db as 'embedded' | 'postgres']) await run(db);
