/**
 * Webhook delivery lag: sends `--rate` messages/s for `--seconds` into `--conversations` group
 * conversations with one webhook (message.created) to a local receiver, and reports the lag of each
 * event (receive time − the message's createdAt), p50/p99/max, once every event has arrived.
 * Server, load and receiver share this process (one machine; the figures include that).
 *   node --import tsx bench/webhook-lag.ts [--rate 500] [--seconds 10] [--conversations 10] [--db embedded|postgres|both] [--warmup 5] [--timeline]
 * The first `--warmup` seconds of events (JIT, pools, the first polls) are reported apart.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { registerUser, startTestServer } from '../packages/server/src/test/harness.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    conversations: { type: 'string', default: '10' },
    db: { type: 'string', default: 'postgres' },
    timeline: { type: 'boolean', default: false },
    warmup: { type: 'string', default: '5' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const conversations = Number(values.conversations);
const pgUrl = process.env.CONFAB_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function run(db: 'embedded' | 'postgres') {
  if (db === 'postgres') process.env.CONFAB_TEST_DATABASE_URL = pgUrl;
  else delete process.env.CONFAB_TEST_DATABASE_URL;
  const lags: number[] = [];
  const bySecond = new Map<number, number[]>();
  const seen = new Set<string>();
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const at = Date.now();
      const event = JSON.parse(body) as { id: string; data: { message: { createdAt: string } } };
      if (!seen.has(event.id)) {
        seen.add(event.id);
        const createdAt = Date.parse(event.data.message.createdAt);
        lags.push(at - createdAt);
        const second = Math.floor(createdAt / 1000);
        bySecond.set(second, [...(bySecond.get(second) ?? []), at - createdAt]);
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const server = await startTestServer({ webhooksAllowPrivate: true, rateLimits: false });
  try {
    const owner = await registerUser(server, 'owner');
    const convs: string[] = [];
    for (let i = 0; i < conversations; i++) convs.push((await owner.api.post('/api/conversations/group', { title: `lag ${i}`, participantIds: [] })).body.id as string);
    const hook = await owner.api.post('/api/admin/webhooks', { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, events: ['message.created'] });
    if (hook.status !== 201) throw new Error(`webhook: ${hook.status} ${JSON.stringify(hook.body)}`);
    const total = rate * seconds;
    const tickMs = 10;
    const perTick = (rate * tickMs) / 1000;
    const started = performance.now();
    const sends: Promise<unknown>[] = [];
    let sent = 0;
    let failed = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + perTick);
      while (sent < due) {
        const i = sent++;
        sends.push(
          owner.api.post('/api/messages', { conversationId: convs[i % conversations], content: `lag ${i}`, clientId: `lag-${i}` }).then((r) => {
            if (r.status !== 201) failed++;
          }),
        );
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    await Promise.all(sends);
    const sendSeconds = (performance.now() - started) / 1000;
    const deadline = Date.now() + 120_000;
    while (seen.size < total - failed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const firstSecond = Math.min(...bySecond.keys());
    const warm = [...bySecond].filter(([second]) => second >= firstSecond + Number(values.warmup)).flatMap(([, list]) => list);
    const summary = (list: number[]) => {
      list.sort((a, b) => a - b);
      const pct = (p: number) => list[Math.min(list.length - 1, Math.floor((p / 100) * list.length))];
      return `p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${list.at(-1)} ms`;
    };
    console.log(
      `${db.padEnd(9)} ${total} messages in ${sendSeconds.toFixed(1)} s (${(total / sendSeconds).toFixed(0)}/s, ${failed} failed) into ${conversations} conversations: ` +
        `${seen.size} delivered; lag after the first ${values.warmup} s ${summary(warm)}; all events ${summary(lags)}`,
    );
    if (values.timeline) {
      for (const [second, list] of [...bySecond].sort((a, b) => a[0] - b[0])) {
        list.sort((a, b) => a - b);
        console.log(`  ${second % 1000}: ${list.length} events, p50 ${list[Math.floor(list.length / 2)]} ms, max ${list.at(-1)} ms`);
      }
    }
  } finally {
    await server.close();
    receiver.closeAllConnections();
    receiver.close();
  }
}

for (const db of values.db === 'both' ? (['embedded', 'postgres'] as const) : [values.db as 'embedded' | 'postgres']) await run(db);
