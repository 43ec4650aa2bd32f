import type { SyncResult, ToolCall } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ok, record, until, waitFor, type Client } from '../realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { startFakeSearch, type FakeSearch } from '../test/fakeSearch.ts';
import { registerUser, startTestNodes, type TestServer } from '../test/harness.ts';

// Two nodes share one database and Redis: PostgreSQL pass only (vitest.config.ts leaves
// *.multinode.test.ts out of the embedded pass). The tool calls of an answer running on node A
// reach node B's sockets live (ai:tool through the Socket.IO adapter), and a tab that joins on node
// B mid-call reads the running call from the stream registry in Redis; a stop from node B aborts it.

const MODEL = 'openai:test-model';

describe('tool calls across two nodes (PostgreSQL + Redis)', () => {
  let fake: FakeOpenAI;
  let search: FakeSearch;
  let cluster: Awaited<ReturnType<typeof startTestNodes>>;
  const sockets: Client[] = [];
  beforeAll(async () => {
    fake = await startFakeOpenAI({ defaultDelayMs: 5 });
    search = await startFakeSearch();
    cluster = await startTestNodes(2, {
      ai: testAiConfig(fake.url, [MODEL], { tools: { searchUrl: search.url, searchResults: 3, imageModel: undefined, mcpServers: [], maxSteps: 5, callTimeoutMs: 10_000, answerBudgetMs: 30_000 } }),
    });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await cluster?.close();
    await Promise.all([fake?.close(), search?.close()]);
  });

  it('a member on the other node sees the call live, a late tab there sees it running, and can stop it', async () => {
    const [nodeA, nodeB] = cluster.nodes as [TestServer, TestServer];
    const alice = await registerUser(nodeA, 'alice');
    const bob = await registerUser(nodeA, 'bob');
    const group = (await alice.api.post('/api/conversations/group', { title: 'Nodes', participantIds: [bob.id, 'assistant'] })).body.id;
    const a = await connect(nodeA.url, alice.accessToken);
    const b = await connect(nodeB.url, bob.accessToken);
    sockets.push(a, b);

    // A quick one: Bob, on node B, sees the call start and end, then the text.
    const eb = record(b);
    const bobDone = waitFor<{ messageId: string; status: string; content: string }>(b, 'ai:done', (e: any) => e.conversationId === group, 20_000);
    await ok(a, 'chat:message_send', { conversationId: group, content: '@assistant [tool=web_search:quick]', clientId: 'q1' });
    const first = await bobDone;
    expect(first.status).toBe('complete');
    expect(first.content).toContain('Result 1 about quick');
    const calls = eb.filter((e) => e.event === 'ai:tool' && e.payload.messageId === first.messageId).map((e) => e.payload.call as ToolCall);
    expect(calls.map((c) => c.status)).toEqual(['running', 'done']);

    // A slow one: a late tab on node B sees the call running (Redis), then stops it from there.
    const ea = record(a);
    await ok(a, 'chat:message_send', { conversationId: group, content: '@assistant [tool=web_search:{"query":"slow [delay=8000]"}]', clientId: 'q2' });
    await until(() => ea.some((e) => e.event === 'ai:tool' && e.payload.call.status === 'running'), 15_000, 'the call to start');
    const b2 = await connect(nodeB.url, bob.accessToken);
    sockets.push(b2);
    const page = await ok<SyncResult>(b2, 'sync', { cursors: {} });
    const live = page.messages.find((m) => m.conversationId === group && m.status === 'streaming')!;
    expect(live.toolCalls).toEqual([expect.objectContaining({ name: 'web_search', input: { query: 'slow [delay=8000]' }, status: 'running' })]);
    const stopped = waitFor<{ messageId: string; status: string }>(a, 'ai:done', (e: any) => e.messageId === live.id, 10_000);
    const seenByLate = record(b2);
    await ok(b2, 'ai:stop', { messageId: live.id });
    expect((await stopped).status).toBe('stopped');
    await until(() => search.aborted.includes('slow [delay=8000]'), 5000, 'the search request to be aborted');
    await until(() => seenByLate.some((e) => e.event === 'ai:tool' && e.payload.call.status === 'stopped'), 5000, 'the stopped call on node B');
  });
});
