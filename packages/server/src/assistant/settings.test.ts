import { LIMITS, type Conversation, type Message, type MessageVersionList } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ok, until, waitFor, type Client } from '../realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';

// AI conversations (API.md, "AI conversations: model, prompt, branches, shares, history"): the
// model and the system prompt of a conversation, switched mid-conversation and used by the next
// answer, and a message's versions (edits, regenerated answers).

const [A, B] = ['openai:model-a', 'openai:model-b'];

describe('AI conversation settings and message versions', () => {
  let fake: FakeOpenAI;
  let server: TestServer;
  let alice: TestUser & { socket: Client };
  let bob: TestUser & { socket: Client };
  let carol: TestUser & { socket: Client };
  const sockets: Client[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAI({ defaultDelayMs: 2 });
    server = await startTestServer({ ai: testAiConfig(fake.url, [A, B]) });
    [alice, bob, carol] = [await user('alice'), await user('bob'), await user('carol')];
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await server?.close();
    await fake?.close();
  });

  async function user(name: string): Promise<TestUser & { socket: Client }> {
    const u = await registerUser(server, name);
    const socket = await connect(server.url, u.accessToken);
    sockets.push(socket);
    return { ...u, socket };
  }

  /** A titled assistant conversation (no title is generated: only answers reach the provider). */
  async function conversation(u: TestUser, model = A): Promise<string> {
    const res = await u.api.post<Conversation>('/api/conversations/assistant', { title: 'settings', model });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  /** The answer requests the provider got since `from` (titles ask without streaming). */
  const answerRequests = (from: number) => fake.requests.slice(from).filter((r) => r.path === '/v1/chat/completions' && r.body.stream);
  const systemOf = (request: { body: any }): string => request.body.messages.find((m: { role: string }) => m.role === 'system')?.content ?? '';

  /** Sends, and resolves with the answer as stored once it ended, and the provider's request for it. */
  async function ask(u: { socket: Client; api: TestUser['api'] }, conversationId: string, content: string) {
    const before = fake.requests.length;
    const ended = waitFor<{ conversationId: string; messageId: string }>(u.socket, 'ai:done', (e) => e.conversationId === conversationId, 15_000);
    const question = await ok<Message>(u.socket, 'chat:message_send', { conversationId, content, clientId: `c-${Math.random()}` });
    const { messageId } = await ended;
    const requests = answerRequests(before);
    expect(requests).toHaveLength(1);
    return { question, answer: await message(u, conversationId, messageId), request: requests[0]! };
  }

  async function message(u: { api: TestUser['api'] }, conversationId: string, id: string): Promise<Message> {
    const messages: Message[] = (await u.api.get(`/api/messages/${conversationId}`)).body.messages;
    return messages.find((m) => m.id === id)!;
  }

  /** Regenerates an answer (or the one after a question) over the socket and waits for it to end. */
  async function regenerate(u: { socket: Client }, conversationId: string, messageId: string) {
    const ended = waitFor(u.socket, 'ai:done', (e: { conversationId: string }) => e.conversationId === conversationId, 15_000);
    await ok<Message>(u.socket, 'ai:regenerate', { messageId });
    await ended;
  }

  it('switches the model and sets the system prompt mid-conversation: the next answer uses both, members hear of it live', async () => {
    const conv = await conversation(alice, A);
    const first = await ask(alice, conv, 'hello there');
    expect(first.request.body.model).toBe('model-a');
    expect(first.answer).toMatchObject({ status: 'complete', model: A });
    expect(systemOf(first.request)).not.toContain('pirate');

    const updated = waitFor<Partial<Conversation>>(alice.socket, 'conversation:update', (c) => c.id === conv && c.model === B && typeof c.systemPrompt === 'string');
    const announced: Message[] = [];
    const onMessage = (m: Message) => m.conversationId === conv && m.kind === 'system' && announced.push(m);
    alice.socket.on('chat:message_received', onMessage);
    const res = await alice.api.patch<Conversation>(`/api/conversations/${conv}`, { model: B, systemPrompt: '  Always answer like a pirate.  ' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: B, systemPrompt: 'Always answer like a pirate.' });
    expect((await updated).systemPrompt).toBe('Always answer like a pirate.');
    await until(() => announced.length >= 2, 5000, 'the system messages');
    alice.socket.off('chat:message_received', onMessage);
    expect(announced.map((m) => m.content)).toEqual(['alice switched the model to model-b', 'alice set a system prompt']);
    // At rest the prompt is encrypted like the messages it steers.
    const [row] = await server.ctx.db.query<{ system_prompt: string }>('SELECT system_prompt FROM conversations WHERE id = $1', [conv]);
    expect(row!.system_prompt).not.toContain('pirate');
    expect((await alice.api.get<Conversation>(`/api/conversations/${conv}`)).body.systemPrompt).toBe('Always answer like a pirate.');

    const second = await ask(alice, conv, 'and again');
    expect(second.request.body.model).toBe('model-b');
    expect(systemOf(second.request)).toContain('Always answer like a pirate.');
    expect(second.answer).toMatchObject({ status: 'complete', model: B });
    // Each answer keeps the model that wrote it.
    expect((await message(alice, conv, first.answer.id)).model).toBe(A);

    // Setting what is set changes nothing: no system message, no new seq.
    const lastSeq = (await alice.api.get<Conversation>(`/api/conversations/${conv}`)).body.lastSeq;
    expect((await alice.api.patch(`/api/conversations/${conv}`, { model: B, systemPrompt: 'Always answer like a pirate.' })).status).toBe(200);
    expect((await alice.api.get<Conversation>(`/api/conversations/${conv}`)).body.lastSeq).toBe(lastSeq);

    // Cleared with null (or ""): the next answer goes without it.
    const cleared = await alice.api.patch<Conversation>(`/api/conversations/${conv}`, { systemPrompt: null });
    expect(cleared.body.systemPrompt).toBeNull();
    const messages: Message[] = (await alice.api.get(`/api/messages/${conv}`)).body.messages;
    expect(messages.at(-1)).toMatchObject({ kind: 'system', content: 'alice removed the system prompt' });
    const third = await ask(alice, conv, 'once more');
    expect(systemOf(third.request)).not.toContain('pirate');
    expect(third.request.body.model).toBe('model-b');

    // A branch (POST …/branch) keeps the conversation's prompt, readable there (the same key encrypts it).
    expect((await alice.api.patch(`/api/conversations/${conv}`, { systemPrompt: 'Be brief.' })).status).toBe(200);
    const branch = await alice.api.post<Conversation>(`/api/conversations/${conv}/branch`, { messageId: third.answer.id });
    expect(branch.status).toBe(201);
    expect(branch.body).toMatchObject({ model: B, systemPrompt: 'Be brief.' });
  });

  it('bounds the system prompt and refuses a model GET /api/models does not list (400)', async () => {
    const conv = await conversation(alice);
    const long = await alice.api.patch(`/api/conversations/${conv}`, { systemPrompt: 'x'.repeat(LIMITS.systemPromptChars + 1) });
    expect(long.status).toBe(400);
    expect(long.body.error.code).toBe('VALIDATION_ERROR');
    expect((await alice.api.patch(`/api/conversations/${conv}`, { systemPrompt: 'x'.repeat(LIMITS.systemPromptChars) })).status).toBe(200);
    expect((await alice.api.patch(`/api/conversations/${conv}`, { systemPrompt: 42 })).status).toBe(400);

    const listed = (await alice.api.get<{ models: { id: string }[] }>('/api/models')).body.models.map((m) => m.id);
    expect(listed).toEqual([A, B]);
    for (const model of ['openai:not-offered', 'anthropic:claude-test', 'model-a']) {
      const res = await alice.api.patch(`/api/conversations/${conv}`, { model });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    expect((await alice.api.get<Conversation>(`/api/conversations/${conv}`)).body.model).toBe(A);
  });

  it('only the owner of an assistant conversation, and only admins of a group, change them', async () => {
    const conv = await conversation(alice);
    // Someone else's assistant conversation does not exist for them.
    for (const body of [{ model: B }, { systemPrompt: 'mine now' }]) {
      const res = await bob.api.patch(`/api/conversations/${conv}`, body);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
    }

    const group = (await alice.api.post<Conversation>('/api/conversations/group', { title: 'team', participantIds: [bob.id, carol.id] })).body.id;
    expect((await alice.api.post(`/api/conversations/${group}/participants`, { userIds: ['assistant'] })).status).toBe(200);
    expect((await alice.api.patch(`/api/conversations/${group}/participants/${carol.id}`, { role: 'admin' })).status).toBe(200);
    for (const body of [{ model: B }, { systemPrompt: 'Be terse.' }]) {
      const res = await bob.api.patch(`/api/conversations/${group}`, body);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    const byAdmin = await carol.api.patch<Conversation>(`/api/conversations/${group}`, { systemPrompt: 'Be terse.', model: B });
    expect(byAdmin.status).toBe(200);
    // Every member sees what the assistant is told.
    expect((await bob.api.get<Conversation>(`/api/conversations/${group}`)).body).toMatchObject({ systemPrompt: 'Be terse.', model: B });
    const asked = await ask(bob, group, '@assistant what now?');
    expect(asked.request.body.model).toBe('model-b');
    expect(systemOf(asked.request)).toContain('Be terse.');

    // A direct conversation has no assistant to instruct.
    const direct = (await alice.api.post<Conversation>('/api/conversations/direct', { userId: bob.id })).body.id;
    const res = await alice.api.patch(`/api/conversations/${direct}`, { systemPrompt: 'hi' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
  });

  it('lists versions after an edit and two regenerates, oldest first, the current one last, to members only', async () => {
    const conv = await conversation(alice, A);
    const { question, answer } = await ask(alice, conv, 'first question');
    expect(answer.content).toBe('first question');
    const plain = await alice.api.get<MessageVersionList>(`/api/messages/${question.id}/versions`);
    expect(plain.status).toBe(200);
    expect(plain.body.versions.map((v) => v.content)).toEqual(['first question']);

    // Edit the question, regenerate from it; switch the model, regenerate the answer again.
    expect((await alice.api.patch(`/api/messages/${question.id}`, { content: 'second question' })).status).toBe(200);
    await regenerate(alice, conv, question.id);
    expect((await alice.api.patch(`/api/conversations/${conv}`, { model: B })).status).toBe(200);
    await regenerate(alice, conv, answer.id);
    const current = await message(alice, conv, answer.id);
    expect(current).toMatchObject({ content: 'second question', model: B, status: 'complete' });

    const versions = (await alice.api.get<MessageVersionList>(`/api/messages/${answer.id}/versions`)).body.versions;
    expect(versions.map((v) => [v.content, v.model])).toEqual([
      ['first question', A],
      ['second question', A],
      ['second question', B],
    ]);
    const times = versions.map((v) => Date.parse(v.editedAt));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(versions.at(-1)!.editedAt).toBe(current.editedAt);
    const edits = (await alice.api.get<MessageVersionList>(`/api/messages/${question.id}/versions`)).body.versions;
    expect(edits.map((v) => [v.content, v.model])).toEqual([
      ['first question', null],
      ['second question', null],
    ]);
    expect(edits[0]!.editedAt).toBe(question.createdAt);

    // Not a member, or no such message: NOT_FOUND, nothing said about the text.
    for (const res of [await bob.api.get(`/api/messages/${answer.id}/versions`), await alice.api.get('/api/messages/no-such-message/versions')]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
      expect(JSON.stringify(res.body)).not.toContain('question');
    }
    // Deleting erases the versions with the text.
    expect((await alice.api.delete(`/api/messages/${question.id}`)).status).toBe(200);
    expect((await alice.api.get<MessageVersionList>(`/api/messages/${question.id}/versions`)).body).toEqual({ versions: [] });
  });
});
