/**
 * GET /metrics carries what an operator watches (docs/operations.md, "Monitor"): connections,
 * sends by transport, the send ack latency, group-commit batch sizes, room emits, AI answers and
 * tokens, the job queue and webhook backlogs, and webhook delivery lag. Each is driven here by real
 * traffic and read back from the scrape.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { Message } from '@confab/protocol';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../../test/fakeOpenAI.ts';
import { Api, registerUser, startTestServer, type TestServer } from '../../test/harness.ts';
import { connect, ok, waitFor, type Client } from '../../realtime/test/kit.ts';

const MODEL = 'openai:test-model';
let fake: FakeOpenAI;
let server: TestServer;
let receiver: http.Server;
let socket: Client | undefined;

beforeAll(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 1 });
  receiver = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  server = await startTestServer({ ai: testAiConfig(fake.url, [MODEL]), webhooksAllowPrivate: true }, { webhooks: { pollMs: 50, refreshMs: 100 }, defaultMetrics: true });
});
afterAll(async () => {
  socket?.close();
  await server?.close();
  await fake?.close();
  receiver?.closeAllConnections();
  receiver?.close();
});

/** The value of one sample of the scrape (`name{labels}`), or undefined. */
function sample(scrape: string, name: string): number | undefined {
  const line = scrape.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('GET /metrics', () => {
  it('counts what an operator watches', async () => {
    const ann = await registerUser(server, 'ann');
    const hook = await ann.api.post('/api/admin/webhooks', { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, events: ['message.created'] });
    expect(hook.status).toBe(201);
    socket = await connect(server.url, ann.accessToken);
    const group = (await ann.api.post('/api/conversations/group', { title: 'Watched', participantIds: [] })).body.id as string;
    await ok<Message>(socket, 'chat:message_send', { conversationId: group, content: 'over the socket', clientId: 'm1' });
    expect((await ann.api.post('/api/messages', { conversationId: group, content: 'over REST', clientId: 'm2' })).status).toBe(201);
    const assistant = (await ann.api.post('/api/conversations/assistant', { model: MODEL })).body.id as string;
    const answered = waitFor<{ status: string }>(socket, 'ai:done', () => true, 15_000);
    await ok<Message>(socket, 'chat:message_send', { conversationId: assistant, content: '[tokens=3]', clientId: 'm3' });
    expect((await answered).status).toBe('complete');

    const api = new Api(server.url);
    let scrape = '';
    const deadline = Date.now() + 10_000;
    // The webhook deliveries arrive in the background.
    while (!((sample(scrape, 'confab_webhook_delivery_lag_seconds_count') ?? 0) >= 3) && Date.now() < deadline) {
      scrape = (await api.get('/metrics')).body as string;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(sample(scrape, 'confab_webhook_delivery_lag_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(sample(scrape, 'confab_socket_connections')).toBe(1);
    expect(sample(scrape, 'confab_messages_sent_total{transport="socket"}')).toBe(2);
    expect(sample(scrape, 'confab_messages_sent_total{transport="rest"}')).toBe(1);
    expect(sample(scrape, 'confab_socket_event_duration_seconds_count{event="chat:message_send"}')).toBe(2);
    expect(sample(scrape, 'confab_send_batch_size_count')).toBeGreaterThanOrEqual(3);
    expect(sample(scrape, 'confab_realtime_emits_total{event="chat:message_received"}')).toBeGreaterThanOrEqual(4);
    expect(sample(scrape, 'confab_ai_answers_total{status="complete"}')).toBe(1);
    // The local provider reports 10 prompt tokens and one per piece.
    expect(sample(scrape, 'confab_ai_tokens_total{direction="input"}')).toBeGreaterThanOrEqual(10);
    expect(sample(scrape, 'confab_ai_tokens_total{direction="output"}')).toBeGreaterThanOrEqual(3);
    expect(sample(scrape, 'confab_metrics_backlog_read_ok')).toBe(1);
    expect(sample(scrape, 'confab_job_queue_depth')).toEqual(expect.any(Number));
    expect(sample(scrape, 'confab_webhook_deliveries_pending')).toBe(0);

    // The Grafana dashboard (docs/grafana) asks only for metrics the server has.
    const dashboard = JSON.parse(readFileSync(new URL('../../../../../docs/grafana/confab-dashboard.json', import.meta.url), 'utf8')) as { panels: { targets: { expr: string }[] }[] };
    const asked = new Set(dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/confab_[a-z_]+/g) ?? [])));
    expect(asked.size).toBeGreaterThan(10);
    const served = new Set(scrape.split('\n').filter((l) => l.startsWith('confab_')).map((l) => /^confab_[a-z_]+/.exec(l)![0]));
    expect([...asked].filter((name) => !served.has(name))).toEqual([]);
  }, 60_000);
});

describe('request logs', () => {
  it("carry the request id, the caller and the conversation, never the message's text", async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const own = await startTestServer({}, { logger: pino({ level: 'info' }, sink) });
    try {
      const bea = await registerUser(own, 'bea');
      const group = (await bea.api.post('/api/conversations/group', { title: 'Logged', participantIds: [] })).body.id as string;
      const sent = await bea.api.request('POST', '/api/messages', { conversationId: group, content: 'secret words', clientId: 'l1' }, { 'x-request-id': 'trace-send-1' });
      expect(sent.status).toBe(201);
      await bea.api.get(`/api/conversations/${group}/messages`);
      const done = lines.filter((l) => l.msg === 'request completed');
      expect(done.find((l) => l.reqId === 'trace-send-1')).toMatchObject({ userId: bea.id, conversationId: group });
      expect(done.filter((l) => l.conversationId === group).length).toBeGreaterThanOrEqual(2);
      expect(JSON.stringify(lines)).not.toContain('secret words');
    } finally {
      await own.close();
    }
  });
});
