import type { Message, SyncResult } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ok, record, until, waitFor, type Client } from '../realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { registerUser, startTestNodes, type TestServer } from '../test/harness.ts';

// Two nodes share one database: PostgreSQL pass only (vitest.config.ts leaves *.multinode.test.ts
// out of the embedded pass), and startTestNodes fails without PostgreSQL.

const MODEL = 'openai:test-model';

const tokens = (n: number, from = 0) => Array.from({ length: n - from }, (_, i) => `t${i + from} `).join('');

/** The pieces a socket saw for one answer, checked to be exactly 0..n-1 once each, in order. */
function piecesOf(events: { event: string; payload: any }[], messageId: string): string[] {
  const deltas = events.filter((e) => e.event === 'ai:delta' && e.payload.messageId === messageId).map((e) => e.payload);
  expect(deltas.map((d) => d.index)).toEqual(deltas.map((_, i) => i));
  return deltas.map((d) => d.text);
}

const send = (socket: Client, conversationId: string, content: string) =>
  ok<Message>(socket, 'chat:message_send', { conversationId, content, clientId: `c-${Math.random()}` });

const done = (socket: Client, conversationId: string, timeoutMs = 15_000) =>
  waitFor<{ conversationId: string; messageId: string; status: string; content: string }>(socket, 'ai:done', (e) => e.conversationId === conversationId, timeoutMs);

describe('AI answers across two nodes (PostgreSQL + Redis)', () => {
  let fake: FakeOpenAI;
  let cluster: Awaited<ReturnType<typeof startTestNodes>>;
  const sockets: Client[] = [];
  beforeAll(async () => {
    fake = await startFakeOpenAI({ defaultDelayMs: 10 });
    cluster = await startTestNodes(2, { ai: testAiConfig(fake.url, [MODEL, 'anthropic:claude-test']) });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await cluster?.close();
    await fake?.close();
  });

  it('streams to a member on the other node, lets it join late and stop the answer there', async () => {
    const [nodeA, nodeB] = cluster.nodes as [TestServer, TestServer];
    const alice = await registerUser(nodeA, 'alice');
    const bob = await registerUser(nodeA, 'bob');
    const group = (await alice.api.post('/api/conversations/group', { title: 'Nodes', participantIds: [bob.id, 'assistant'] })).body.id;
    const a = await connect(nodeA.url, alice.accessToken);
    const b = await connect(nodeB.url, bob.accessToken);
    sockets.push(a, b);
    const eb = record(b);
    const bobDone = done(b, group);
    await send(a, group, '@assistant [tokens=30] across');
    const final = await bobDone;
    expect(final).toMatchObject({ status: 'complete', content: tokens(30) });
    expect(piecesOf(eb, final.messageId).join('')).toBe(tokens(30));

    // A long answer runs on node A; Bob joins late on node B and stops it from there.
    const ea = record(a);
    await send(a, group, '@assistant [tokens=400][delay=20] long');
    await until(() => ea.filter((e) => e.event === 'ai:delta' && e.payload.messageId !== final.messageId).length >= 15, 10_000, 'pieces');
    const b2 = await connect(nodeB.url, bob.accessToken);
    sockets.push(b2);
    const page = await ok<SyncResult>(b2, 'sync', { cursors: {} });
    const live = page.messages.find((m) => m.status === 'streaming')!;
    expect(live.streamIndex).toBeGreaterThanOrEqual(15);
    expect(live.content).toBe(tokens(live.streamIndex!));
    const stoppedDone = done(a, group);
    await ok(b2, 'ai:stop', { messageId: live.id });
    const stopped = await stoppedDone;
    expect(stopped).toMatchObject({ messageId: live.id, status: 'stopped' });
    expect(stopped.content.startsWith(live.content)).toBe(true);
  });

  it('answers a mention queued on the other node once the answer ends, paid by its author', async () => {
    const [nodeA, nodeB] = cluster.nodes as [TestServer, TestServer];
    const alice = await registerUser(nodeA, 'alice2');
    const bob = await registerUser(nodeB, 'bob2');
    expect((await bob.api.put('/api/users/me/keys/openai', { apiKey: 'sk-bob-own' })).status).toBe(204);
    const group = (await alice.api.post('/api/conversations/group', { title: 'Queued', participantIds: [bob.id, 'assistant'] })).body.id;
    const a = await connect(nodeA.url, alice.accessToken);
    const b = await connect(nodeB.url, bob.accessToken);
    sockets.push(a, b);
    const ea = record(a);
    // Alice's long answer runs on node A; Bob's mention, stored on node B meanwhile, waits there.
    await send(a, group, '@assistant [tokens=400][delay=20] alice first');
    await until(() => ea.some((e) => e.event === 'ai:delta' && e.payload.conversationId === group), 15_000, 'the first piece');
    const first = ea.find((e) => e.event === 'ai:delta' && e.payload.conversationId === group)!.payload.messageId;
    await send(b, group, '@assistant bob next [tokens=3]');
    const second = waitFor<{ conversationId: string; messageId: string; status: string }>(b, 'ai:done', (e) => e.conversationId === group && e.messageId !== first, 20_000);
    await ok(a, 'ai:stop', { messageId: first });
    expect((await second).status).toBe('complete');
    expect(fake.requests.filter((r) => r.body?.stream === true).at(-1)!.authorization).toBe('Bearer sk-bob-own');
  });
});
