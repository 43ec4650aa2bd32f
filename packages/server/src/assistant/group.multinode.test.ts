import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, record, sleep, until, waitFor, type Client } from '../realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { Api, registerUser, startTestNodes, type TestServer } from '../test/harness.ts';

// The assistant in a group across two nodes (issue 22): its "answering" presence and the asker's
// "answer ready" reach sockets on the node that does not run the answer. PostgreSQL pass only
// (vitest.config.ts leaves *.multinode.test.ts out of the embedded pass).

const MODEL = 'openai:test-model';

describe('the assistant in a group, across two nodes (PostgreSQL + Redis)', () => {
  let fake: FakeOpenAI;
  let cluster: Awaited<ReturnType<typeof startTestNodes>>;
  const sockets: Client[] = [];
  beforeAll(async () => {
    fake = await startFakeOpenAI({ defaultDelayMs: 10 });
    cluster = await startTestNodes(2, { ai: testAiConfig(fake.url, [MODEL]) });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await cluster?.close();
    await fake?.close();
  });

  it("shows the assistant answering on the other node, and tells the asker there, not the others", async () => {
    const [nodeA, nodeB] = cluster.nodes as [TestServer, TestServer];
    const alice = await registerUser(nodeA, 'alice');
    const bob = await registerUser(nodeA, 'bob');
    const group = (await alice.api.post('/api/conversations/group', { title: 'Nodes', participantIds: [bob.id, 'assistant'] })).body.id as string;
    // Both are connected to node B only; Alice asks over REST on node A, which runs the answer.
    const a = await connect(nodeB.url, alice.accessToken);
    const b = await connect(nodeB.url, bob.accessToken);
    sockets.push(a, b);
    await until(async () => (await nodeA.ctx.presence!.online([alice.id, bob.id])).size === 2, 5000, 'both online');
    const [ea, eb] = [record(a), record(b)];
    type Done = { conversationId: string; messageId: string };
    const ended = Promise.all([a, b].map((s) => waitFor<Done>(s, 'ai:done', (e) => e.conversationId === group, 15_000)));
    const res = await alice.api.post('/api/messages', { conversationId: group, content: '@assistant [tokens=20][delay=30] across nodes', clientId: 'x-1' });
    expect(res.status).toBe(201);
    const [final] = await ended;
    const answering = (events: typeof eb) => events.filter((e) => e.event === 'chat:user_typing' && e.payload.userId === 'assistant').map((e) => e.payload.isTyping as boolean);
    await until(() => answering(eb).at(-1) === false && answering(ea).at(-1) === false, 5000, 'answering ended on node B');
    expect(answering(eb)[0]).toBe(true);
    expect(answering(ea)[0]).toBe(true);
    await until(() => ea.some((e) => e.event === 'notification' && e.payload.kind === 'ai_answer'), 5000, "Alice's notification on node B");
    expect(ea.find((e) => e.event === 'notification' && e.payload.kind === 'ai_answer')!.payload).toMatchObject({ conversationId: group, messageId: final!.messageId });
    await sleep(300);
    expect(eb.filter((e) => e.event === 'notification' && e.payload.kind === 'ai_answer')).toEqual([]);
    // Bob's count on either node: the question and the answer.
    for (const node of [nodeA, nodeB]) {
      const conv = (await new Api(node.url, bob.accessToken).get(`/api/conversations/${group}`)).body as { unreadCount: number };
      expect(conv.unreadCount, node.url).toBe(2);
    }
  });
});
