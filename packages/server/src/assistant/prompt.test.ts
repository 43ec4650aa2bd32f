import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ok, waitFor, type Client } from '../realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';

/**
 * What the provider is asked after a failed answer (issue 18): the failed answer's question must
 * not ride along with the next question (it would make every later question fail too), and Retry
 * (regenerate) asks it again on its own. Checked on the requests the local provider received.
 */
const MODEL = 'openai:test-model';

let fake: FakeOpenAI;
let server: TestServer;
let alice: TestUser;
let bob: TestUser;
let socket: Client;

beforeAll(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 1 });
  server = await startTestServer({ ai: testAiConfig(fake.url, [MODEL]) });
  [alice, bob] = [await registerUser(server, 'alice'), await registerUser(server, 'bob')];
  socket = await connect(server.url, alice.accessToken);
});
afterAll(async () => {
  socket?.close();
  await server?.close();
  await fake?.close();
});

const done = (conversationId: string) =>
  waitFor<{ conversationId: string; messageId: string; status: string; content: string }>(socket, 'ai:done', (e) => e.conversationId === conversationId, 15_000);

async function ask(conversationId: string, content: string) {
  const ended = done(conversationId);
  await ok<Message>(socket, 'chat:message_send', { conversationId, content, clientId: `c-${Math.random()}` });
  return ended;
}

/** The chat messages (system prompt left out) of the latest answer request, as [role, content]. */
function lastPrompt(): [string, string][] {
  const request = fake.requests.filter((r) => r.body?.stream === true).at(-1)!;
  return (request.body.messages as { role: string; content: string }[]).filter((m) => m.role !== 'system').map((m) => [m.role, m.content]);
}

describe('a failed AI answer', () => {
  it('leaves its question out of the next request; Retry asks it again, and then it is history', async () => {
    const conv = (await alice.api.post('/api/conversations/assistant', { model: MODEL })).body.id as string;
    fake.mode = { status: 500 };
    const failed = await ask(conv, 'first question');
    fake.mode = undefined;
    expect(failed.status).toBe('error');

    // Before the fix the provider got "first question\n\nsecond question" as one user message.
    const second = await ask(conv, 'second question');
    expect(second).toMatchObject({ status: 'complete', content: 'second question' });
    expect(lastPrompt()).toEqual([['user', 'second question']]);

    // Retry = regenerate the failed answer: only its own question (and what came before it).
    const retried = done(conv);
    await ok(socket, 'ai:regenerate', { messageId: failed.messageId });
    expect(await retried).toMatchObject({ messageId: failed.messageId, status: 'complete', content: 'first question' });
    expect(lastPrompt()).toEqual([['user', 'first question']]);

    // Answered now, so both exchanges are history for the next question, in order.
    await ask(conv, 'third');
    expect(lastPrompt()).toEqual([
      ['user', 'first question'],
      ['assistant', 'first question'],
      ['user', 'second question'],
      ['assistant', 'second question'],
      ['user', 'third'],
    ]);
  });

  it('in a group, leaves out the mention that failed but keeps the talk around it', async () => {
    const group = (await alice.api.post('/api/conversations/group', { title: 'AI group', participantIds: [bob.id] })).body.id as string;
    expect((await alice.api.post(`/api/conversations/${group}/participants`, { userIds: ['assistant'] })).status).toBe(200);
    await ok<Message>(socket, 'chat:message_send', { conversationId: group, content: 'morning all', clientId: `c-${Math.random()}` });
    fake.mode = { status: 500 };
    expect((await ask(group, '@assistant what broke?')).status).toBe('error');
    fake.mode = undefined;
    expect((await ask(group, '@assistant what is new?')).status).toBe('complete');
    const prompt = lastPrompt();
    expect(prompt).toHaveLength(1);
    expect(prompt[0]![1]).toContain('morning all');
    expect(prompt[0]![1]).toContain('what is new?');
    expect(prompt[0]![1]).not.toContain('what broke?');
  });
});

describe('AI answers in search', () => {
  it('indexes the final text of an answer, and a regenerated answer by its new text only', async () => {
    const conv = (await alice.api.post('/api/conversations/assistant', { model: MODEL })).body.id as string;
    const answer = await ask(conv, 'tell me about zanzibar');
    expect(answer.status).toBe('complete');
    const found = async (q: string) => ((await alice.api.get(`/api/search?query=${encodeURIComponent(q)}`)).body.messages as Message[]).filter((m) => m.authorId === 'assistant');
    // The fake provider echoes the question: the answer holds the same words.
    expect((await found('zanzibar')).map((m) => m.id)).toEqual([answer.messageId]);
    // Someone else's answers stay theirs.
    expect((await bob.api.get('/api/search?query=zanzibar')).body.messages).toEqual([]);
    // A regenerated answer is found by its new text, not the old one.
    const question = ((await alice.api.get(`/api/messages/${conv}`)).body.messages as Message[]).find((m) => m.authorId === alice.id)!;
    expect((await alice.api.patch(`/api/messages/${question.id}`, { content: 'and quokkas' })).status).toBe(200);
    const again = done(conv);
    await ok(socket, 'ai:regenerate', { messageId: answer.messageId });
    expect((await again).content).toBe('and quokkas');
    expect((await found('quokkas')).map((m) => m.id)).toEqual([answer.messageId]);
    expect(await found('zanzibar')).toEqual([]);
  });
});
