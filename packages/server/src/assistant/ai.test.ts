import type { Message, SyncResult } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AiConfig } from '../config.ts';
import { call, connect, ok, record, until, waitFor, type Client } from '../realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';

const MODEL = 'openai:test-model';

const aiConfig = (fake: FakeOpenAI, extra: Partial<AiConfig> = {}): AiConfig => testAiConfig(fake.url, [MODEL, 'anthropic:claude-test'], extra);

const tokens = (n: number, from = 0) => Array.from({ length: n - from }, (_, i) => `t${i + from} `).join('');

/** The pieces a socket saw for one answer, checked to be exactly 0..n-1 once each, in order. */
function piecesOf(events: { event: string; payload: any }[], messageId: string): string[] {
  const deltas = events.filter((e) => e.event === 'ai:delta' && e.payload.messageId === messageId).map((e) => e.payload);
  expect(deltas.map((d) => d.index)).toEqual(deltas.map((_, i) => i));
  return deltas.map((d) => d.text);
}

async function assistantConversation(user: TestUser, model = MODEL): Promise<string> {
  const res = await user.api.post('/api/conversations/assistant', { model });
  expect(res.status).toBe(201);
  return res.body.id;
}

const send = (socket: Client, conversationId: string, content: string) =>
  ok<Message>(socket, 'chat:message_send', { conversationId, content, clientId: `c-${Math.random()}` });

/** Sends, and resolves with the answer's ai:done (listening before sending: short answers end fast). */
async function ask(socket: Client, conversationId: string, content: string) {
  const ended = done(socket, conversationId);
  await send(socket, conversationId, content);
  return ended;
}

const done = (socket: Client, conversationId: string, timeoutMs = 15_000) =>
  waitFor<{ conversationId: string; messageId: string; status: string; content: string }>(socket, 'ai:done', (e) => e.conversationId === conversationId, timeoutMs);

describe('AI answers on one node', () => {
  let fake: FakeOpenAI;
  let server: TestServer;
  let alice: TestUser, bob: TestUser, mallory: TestUser;
  let a1: Client, a2: Client | undefined, b1: Client, m1: Client;

  beforeAll(async () => {
    fake = await startFakeOpenAI({ defaultDelayMs: 2 });
    server = await startTestServer({ ai: aiConfig(fake) });
    [alice, bob, mallory] = [await registerUser(server, 'alice'), await registerUser(server, 'bob'), await registerUser(server, 'mallory')];
    [a1, b1, m1] = [await connect(server.url, alice.accessToken), await connect(server.url, bob.accessToken), await connect(server.url, mallory.accessToken)];
  });
  afterAll(async () => {
    for (const s of [a1, a2, b1, m1]) s?.close();
    await server?.close();
    await fake?.close();
  });

  it('streams an answer to every member of a group when mentioned, with few database writes', async () => {
    const group = (await alice.api.post('/api/conversations/group', { title: 'AI group', participantIds: [bob.id] })).body.id;
    expect((await alice.api.post(`/api/conversations/${group}/participants`, { userIds: ['assistant'] })).status).toBe(200);
    const [ea, eb] = [record(a1), record(b1)];
    await send(a1, group, 'no mention, no answer');
    const ends = Promise.all([done(a1, group), done(b1, group)]);
    const started = Date.now();
    const question = await send(a1, group, '@assistant [tokens=40][delay=25] please');
    const [da, db] = await ends;
    const seconds = (Date.now() - started) / 1000;
    expect(da).toMatchObject({ status: 'complete', content: tokens(40) });
    expect(db).toEqual(da);
    expect(piecesOf(ea, da.messageId).join('')).toBe(tokens(40));
    expect(piecesOf(eb, da.messageId).join('')).toBe(tokens(40));
    // Every member saw the answer appear (streaming) and the conversation flag go on and off.
    const created = eb.find((e) => e.event === 'chat:message_received' && e.payload.id === da.messageId)!.payload;
    expect(created).toMatchObject({ authorId: 'assistant', status: 'streaming', model: MODEL });
    expect(created.seq).toBeGreaterThan(question.seq);
    // (The updates of the assistant joining may come after the REST answer that added it, as they
    // do through Redis: REST answers and socket events travel on different connections.)
    const flags = eb.filter((e) => e.event === 'conversation:update' && e.payload.id === group && 'generating' in e.payload).map((e) => e.payload.generating);
    expect(flags.slice(flags.indexOf(true))).toEqual([true, false]);
    const [row] = await server.ctx.db.query<{ status: string; content_enc: string }>('SELECT status, content_enc FROM messages WHERE id = $1', [da.messageId]);
    expect(row!.status).toBe('complete');
    expect(server.ctx.keys.decrypt(row!.content_enc)).toBe(tokens(40));
    // Only one answer was started (the unmentioned message started none).
    expect(server.assistant.stats.answers).toBe(1);
    // At most one checkpoint per 500 ms, plus the final write: never one per token.
    expect(server.assistant.stats.textWrites).toBeLessThanOrEqual(Math.ceil(seconds / 0.5) + 1);
    expect(server.assistant.stats.textWrites).toBeLessThan(40);
  });

  it('gives a second tab that opens mid-answer the text so far, then the rest, each piece once', async () => {
    const conv = await assistantConversation(alice);
    const events = record(a1);
    const ended = done(a1, conv);
    await send(a1, conv, '[tokens=60][delay=20] go');
    await until(() => events.filter((e) => e.event === 'ai:delta').length >= 20, 10_000, '20 pieces');
    a2 = await connect(server.url, alice.accessToken);
    const late = record(a2);
    const page = await ok<SyncResult>(a2, 'sync', { cursors: {} });
    const answer = page.messages.find((m) => m.conversationId === conv && m.authorId === 'assistant')!;
    expect(answer.status).toBe('streaming');
    expect(answer.streamIndex).toBeGreaterThanOrEqual(20);
    expect(answer.content).toBe(tokens(answer.streamIndex!));
    const final = await ended;
    await until(() => late.some((e) => e.event === 'ai:done' && e.payload.messageId === answer.id), 5000, 'ai:done on the second tab');
    const tail = late.filter((e) => e.event === 'ai:delta' && e.payload.messageId === answer.id && e.payload.index >= answer.streamIndex!).map((e) => e.payload);
    expect(tail.map((d) => d.index)).toEqual(Array.from({ length: 60 - answer.streamIndex! }, (_, i) => answer.streamIndex! + i));
    expect(answer.content + tail.map((d) => d.text).join('')).toBe(final.content);
    expect(final.content).toBe(tokens(60));
    // A REST reader mid-answer would have had the same view; afterwards, the stored text.
    const stored = (await alice.api.get(`/api/messages/${conv}`)).body.messages.at(-1);
    expect(stored).toMatchObject({ id: answer.id, status: 'complete', content: tokens(60) });
  });

  it('titles a new assistant conversation from its first exchange', async () => {
    const conv = await assistantConversation(alice);
    const titled = waitFor(a1, 'conversation:update', (c) => c.id === conv && typeof c.title === 'string');
    await ask(a1, conv, 'Planning a trip to Lisbon in spring');
    // The fake provider echoes the prompt: the title model saw the first message.
    expect((await titled).title).toBe('Planning a trip to Lisbon in spring');
    expect((await alice.api.get(`/api/conversations/${conv}`)).body.title).toBe('Planning a trip to Lisbon in spring');
    const titleRequest = fake.requests.filter((r) => !r.body.stream).at(-1)!;
    expect(JSON.stringify(titleRequest.body.messages)).toContain('title');
  });

  it('stops from another tab, keeping the text so far', async () => {
    const conv = await assistantConversation(alice);
    const events = record(a1);
    const other = a2!;
    await send(a1, conv, '[tokens=300][delay=15] long');
    await until(() => events.filter((e) => e.event === 'ai:delta').length >= 10, 10_000, '10 pieces');
    const messageId = events.find((e) => e.event === 'ai:delta')!.payload.messageId;
    expect((await call(m1, 'ai:stop', { messageId })).ok).toBe(false); // not a member
    const ended = done(a1, conv);
    await ok(other, 'ai:stop', { messageId });
    const final = await ended;
    expect(final.status).toBe('stopped');
    const seen = piecesOf(events, messageId);
    expect(seen.length).toBeGreaterThanOrEqual(10);
    expect(seen.length).toBeLessThan(300);
    expect(final.content).toBe(seen.join(''));
    const conversation = (await alice.api.get(`/api/conversations/${conv}`)).body;
    expect(conversation.generating).toBe(false);
  });

  it('regenerates an answer as a new version, keeping the previous one', async () => {
    const conv = await assistantConversation(alice);
    const first = await ask(a1, conv, 'first [tokens=5]');
    const secondDone = done(a1, conv);
    const regen = await ok<Message>(a1, 'ai:regenerate', { messageId: first.messageId });
    expect(regen).toMatchObject({ id: first.messageId, status: 'streaming', content: '' });
    const second = await secondDone;
    expect(second).toMatchObject({ messageId: first.messageId, status: 'complete', content: tokens(5) });
    const versions = await server.ctx.db.query<{ content_enc: string }>('SELECT content_enc FROM message_versions WHERE message_id = $1', [first.messageId]);
    expect(versions.map((v) => server.ctx.keys.decrypt(v.content_enc))).toEqual([tokens(5)]);
    // Edit-and-resend: edit the question, then regenerate from it.
    const question = (await alice.api.get(`/api/messages/${conv}`)).body.messages.find((m: Message) => m.authorId === alice.id);
    await alice.api.patch(`/api/messages/${question.id}`, { content: 'second [tokens=3]' });
    const thirdDone = done(a1, conv);
    const again = await ok<Message>(a1, 'ai:regenerate', { messageId: question.id });
    expect(again.id).toBe(first.messageId);
    expect((await thirdDone).content).toBe(tokens(3));
    expect((await call(m1, 'ai:regenerate', { messageId: first.messageId })).ok).toBe(false);
  });

  it('the orphan sweep leaves alone an answer whose row is stored but whose stream has not started', async () => {
    const conv = await assistantConversation(alice);
    const id = `fresh-${Date.now()}`;
    // What createAnswer does before launch() puts the answer among the running ones.
    await server.ctx.streams.begin(id);
    await server.ctx.db.query(
      `INSERT INTO messages (id, conversation_id, seq, updated_seq, author_id, kind, content_enc, status)
       SELECT $1, id, last_seq + 1, last_seq + 1, 'assistant', 'text', $3, 'streaming' FROM conversations WHERE id = $2`,
      [id, conv, server.ctx.keys.encrypt('')],
    );
    await server.ctx.db.query('UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1', [conv]);
    const status = async () => (await server.ctx.db.query<{ status: string }>('SELECT status FROM messages WHERE id = $1', [id]))[0]!.status;
    const sweep = () => (server.assistant as unknown as { closeOrphans(): Promise<void> }).closeOrphans();
    await sweep();
    expect(await status()).toBe('streaming');
    // Once it is in neither the registry nor the running answers, it is an orphan.
    await server.ctx.streams.end(id);
    await sweep();
    expect(await status()).toBe('error');
  });

  it('tells the asker that the answer is ready', async () => {
    const conv = await assistantConversation(alice);
    const ready = waitFor(a1, 'notification', (n) => n.kind === 'ai_answer' && n.conversationId === conv);
    const final = await ask(a1, conv, 'notify me [tokens=3]');
    expect(await ready).toMatchObject({ kind: 'ai_answer', messageId: final.messageId, body: tokens(3).trim() });
  });

  it('answers a retried send (same clientId) once, though the retry is announced again', async () => {
    const conv = await assistantConversation(alice);
    const events = record(a1);
    const ended = done(a1, conv);
    const payload = { conversationId: conv, content: 'retry me [tokens=3]', clientId: 'retry-once' };
    const first = await ok<Message>(a1, 'chat:message_send', payload);
    await ended;
    const again = await ok<Message>(a1, 'chat:message_send', payload);
    expect(again.id).toBe(first.id);
    await until(() => events.filter((e) => e.event === 'chat:message_received' && e.payload.id === first.id).length === 2, 5000, 'the repeat announcement');
    await new Promise((r) => setTimeout(r, 300));
    const messages: Message[] = (await alice.api.get(`/api/messages/${conv}`)).body.messages;
    expect(messages.filter((m) => m.authorId === 'assistant')).toHaveLength(1);
  });

  it('answers with the conversation history, the system prompt and the user\'s custom instructions', async () => {
    await alice.api.put('/api/users/me/settings', { customInstructions: 'Always answer in haiku.' });
    const conv = await assistantConversation(alice);
    await ask(a1, conv, 'one [tokens=2]');
    await ask(a1, conv, 'two [tokens=2]');
    const request = fake.requests.filter((r) => r.body.stream === true).at(-1)!;
    const messages = request.body.messages as { role: string; content: string }[];
    expect(messages[0]!.role).toBe('system');
    expect(messages[0]!.content).toContain('Always answer in haiku.');
    expect(messages.slice(1).map((m) => [m.role, m.content])).toEqual([
      ['user', 'one [tokens=2]'],
      ['assistant', tokens(2)],
      ['user', 'two [tokens=2]'],
    ]);
  });
});

describe('AI failures end the answer with a reason, keep the question, and allow regenerate', () => {
  let fake: FakeOpenAI;
  const servers: TestServer[] = [];
  const sockets: Client[] = [];
  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: 'server-key' });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await Promise.all(servers.map((s) => s.close()));
    await fake?.close();
  });

  async function setup(ai: Partial<AiConfig>, model: string | null = MODEL) {
    const server = await startTestServer({ ai: aiConfig(fake, { keys: { openai: 'server-key' }, ...ai }) });
    servers.push(server);
    const user = await registerUser(server, 'user');
    const socket = await connect(server.url, user.accessToken);
    sockets.push(socket);
    const conv = model ? await assistantConversation(user, model) : (await user.api.post('/api/conversations/assistant', {})).body.id;
    return { server, user, socket, conv };
  }

  /** Streaming requests (answers, not titles) whose last message was `content`. */
  const answerRequests = (content: string) =>
    fake.requests.filter((r) => r.body?.stream === true && r.body.messages?.at(-1)?.content === content).length;

  async function expectError(s: Awaited<ReturnType<typeof setup>>, content: string, reason: RegExp) {
    // Listen first: a fast failure can end the answer before the send's ack arrives.
    const ended = done(s.socket, s.conv);
    await send(s.socket, s.conv, content);
    const final = await ended;
    expect(final.status).toBe('error');
    const messages: Message[] = (await s.user.api.get(`/api/messages/${s.conv}`)).body.messages;
    const answer = messages.find((m) => m.id === final.messageId)!;
    expect(answer.statusReason).toMatch(reason);
    expect(answer.statusReason).not.toMatch(/server-key|stack|Error:/);
    expect(messages.filter((m) => m.authorId === s.user.id).map((m) => m.content)).toContain(content);
    expect(messages.filter((m) => m.authorId === 'assistant')).toHaveLength(1);
    return { final, answer };
  }

  it('no key', async () => {
    // No model is offered then, so only a conversation with the default one can be created.
    const s = await setup({ keys: {}, openaiBaseUrl: undefined }, null);
    await expectError(s, 'hello', /No API key is set up for OpenAI/);
  });

  it('bad key (401)', async () => {
    const s = await setup({ keys: { openai: 'wrong-key' } });
    await expectError(s, 'hello', /refused the API key \(401\)/);
  });

  it('rate limited (429), then regenerate works', async () => {
    const s = await setup({});
    fake.mode = { status: 429 };
    const { final } = await expectError(s, 'hello there', /rate limiting/);
    fake.mode = undefined;
    const again = done(s.socket, s.conv);
    await ok(s.socket, 'ai:regenerate', { messageId: final.messageId });
    expect(await again).toMatchObject({ status: 'complete', content: 'hello there' });
  });

  it('provider down', async () => {
    const s = await setup({ openaiBaseUrl: 'http://127.0.0.1:9/v1' });
    await expectError(s, 'hello', /could not be reached/);
  });

  it('a connection closed before any answer is tried once more: the answer completes', async () => {
    const s = await setup({});
    const ended = done(s.socket, s.conv);
    await send(s.socket, s.conv, '[drop=1] hello again');
    expect(await ended).toMatchObject({ status: 'complete', content: 'hello again' });
    expect(answerRequests('[drop=1] hello again')).toBe(2);
  });

  it('a provider that keeps closing the connection ends the answer after the second try', async () => {
    const s = await setup({});
    await expectError(s, '[drop=5] hello', /could not be reached/);
    expect(answerRequests('[drop=5] hello')).toBe(2);
  });

  it('timeout', async () => {
    const s = await setup({ idleTimeoutMs: 400 });
    await expectError(s, '[hang] hello', /took too long/);
    expect((await s.user.api.get(`/api/conversations/${s.conv}`)).body.generating).toBe(false);
  });

  it('stream cut mid-answer keeps the text so far', async () => {
    const s = await setup({});
    const { answer } = await expectError(s, '[tokens=20][cut=5][delay=5] x', /cut the answer off|unexpected/);
    expect(answer.content).toBe(tokens(5));
  });
});

describe('models and users\' own keys', () => {
  let fake: FakeOpenAI;
  let server: TestServer;
  let user: TestUser;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
    server = await startTestServer({ ai: aiConfig(fake, { keys: { openai: 'server-key' } }) });
    user = await registerUser(server, 'byok');
  });
  afterAll(async () => {
    await server?.close();
    await fake?.close();
  });

  it('lists what the caller can use and prefers their own key', async () => {
    const before = (await user.api.get('/api/models')).body;
    expect(before).toEqual({ models: [{ id: MODEL, provider: 'openai', name: 'test-model', keySource: 'server', capabilities: { vision: false } }], defaultModel: MODEL });
    expect((await user.api.put('/api/users/me/keys/anthropic', { apiKey: 'sk-ant-user-123456' })).status).toBe(204);
    expect((await user.api.put('/api/users/me/keys/openai', { apiKey: 'sk-user-openai-42' })).status).toBe(204);
    const after = (await user.api.get('/api/models')).body.models;
    expect(after.map((m: any) => [m.id, m.keySource])).toEqual([
      [MODEL, 'user'],
      ['anthropic:claude-test', 'user'],
    ]);
    const keys = await user.api.get('/api/users/me/keys');
    expect(keys.body.providers.map((p: any) => p.provider)).toEqual(['anthropic', 'openai']);
    expect(JSON.stringify(keys.body)).not.toContain('sk-');
    const rows = await server.ctx.db.query<{ key_enc: string }>('SELECT key_enc FROM user_api_keys');
    expect(rows.every((r) => !r.key_enc.includes('sk-'))).toBe(true);
    // The answer is paid with the user's key.
    const socket = await connect(server.url, user.accessToken);
    try {
      const conv = await assistantConversation(user);
      await ask(socket, conv, 'whose key [tokens=1]');
      expect(fake.requests.filter((r) => r.body.stream).at(-1)!.authorization).toBe('Bearer sk-user-openai-42');
    } finally {
      socket.close();
    }
    expect((await user.api.delete('/api/users/me/keys/google')).status).toBe(404);
    expect((await user.api.delete('/api/users/me/keys/anthropic')).status).toBe(204);
    expect((await user.api.put('/api/users/me/keys/nope', { apiKey: 'whatever-key' })).status).toBe(400);
  });
});

describe('who may use which model, where the assistant acts, and who pays', () => {
  // The server's key goes to one fake provider, users' own OpenAI keys to another: each request
  // shows which key paid for it.
  let serverFake: FakeOpenAI, byokFake: FakeOpenAI;
  let server: TestServer;
  let alice: TestUser, bob: TestUser;
  let a: Client, b: Client;
  const OTHER = 'openai:other-model';
  const answers = (fake: FakeOpenAI) => fake.requests.filter((r) => r.body?.stream === true);

  beforeAll(async () => {
    [serverFake, byokFake] = [await startFakeOpenAI({ defaultDelayMs: 2 }), await startFakeOpenAI({ defaultDelayMs: 2 })];
    server = await startTestServer({
      ai: testAiConfig(serverFake.url, [MODEL, OTHER, 'anthropic:claude-test'], { keys: { openai: 'server-key' }, byokOpenaiBaseUrl: byokFake.url, maxOutputTokens: 321 }),
    });
    [alice, bob] = [await registerUser(server, 'alice'), await registerUser(server, 'bob')];
    [a, b] = [await connect(server.url, alice.accessToken), await connect(server.url, bob.accessToken)];
  });
  afterAll(async () => {
    for (const s of [a, b]) s?.close();
    await server?.close();
    await serverFake?.close();
    await byokFake?.close();
  });

  it('creates an assistant conversation only with a model GET /api/models lists for the caller', async () => {
    const listed = (await alice.api.get('/api/models')).body.models.map((m: { id: string }) => m.id);
    expect(listed).toEqual([MODEL, OTHER]);
    for (const model of ['openai:gpt-4.5-preview', 'anthropic:claude-test', 'gpt-4o-mini', 'default']) {
      const res = await alice.api.post('/api/conversations/assistant', { model });
      expect(res.status, model).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    expect((await alice.api.post('/api/conversations/assistant', { model: MODEL })).status).toBe(201);
    expect((await alice.api.post('/api/conversations/assistant', {})).status).toBe(201);
    // A user's own key makes that provider's models theirs to use.
    await alice.api.put('/api/users/me/keys/anthropic', { apiKey: 'sk-ant-alice-1' });
    expect((await alice.api.post('/api/conversations/assistant', { model: 'anthropic:claude-test' })).status).toBe(201);
    await alice.api.delete('/api/users/me/keys/anthropic');
    const count = await server.ctx.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM conversations WHERE type = 'assistant' AND model NOT IN ($1, $2, 'default')`, [MODEL, 'anthropic:claude-test']);
    expect(count[0]!.n).toBe(0);
  });

  it('checks the model again when an answer starts: one no longer offered ends the answer without a provider request', async () => {
    const conv = await assistantConversation(alice, OTHER);
    expect((await ask(a, conv, 'first [tokens=2]')).status).toBe('complete');
    const before = serverFake.requests.length + byokFake.requests.length;
    const models = server.ctx.config.ai.models;
    server.ctx.config.ai.models = [MODEL]; // the admin took the model off the list
    try {
      const final = await ask(a, conv, 'second [tokens=2]');
      expect(final.status).toBe('error');
      const answer = (await alice.api.get(`/api/messages/${conv}`)).body.messages.find((m: Message) => m.id === final.messageId);
      expect(answer.statusReason).toMatch(/"openai:other-model" is not offered on this server/);
    } finally {
      server.ctx.config.ai.models = models;
    }
    expect(serverFake.requests.length + byokFake.requests.length).toBe(before);
  });

  it('a user whose own key paid for a model can no longer use it once the key is removed', async () => {
    // Only users' own keys can reach OpenAI on this server.
    const ai = server.ctx.config.ai;
    const saved = { keys: ai.keys, openaiBaseUrl: ai.openaiBaseUrl };
    Object.assign(ai, { keys: {}, openaiBaseUrl: undefined });
    try {
      expect((await alice.api.post('/api/conversations/assistant', { model: MODEL })).status).toBe(400);
      await alice.api.put('/api/users/me/keys/openai', { apiKey: 'sk-alice-own' });
      const conv = await assistantConversation(alice, MODEL);
      expect((await ask(a, conv, 'mine [tokens=2]')).status).toBe('complete');
      expect(answers(byokFake).at(-1)!.authorization).toBe('Bearer sk-alice-own');
      await alice.api.delete('/api/users/me/keys/openai');
      // Answer requests only: the first answer's title is asked for in the background and may land later.
      const before = answers(serverFake).length + answers(byokFake).length;
      const final = await ask(a, conv, 'gone [tokens=2]');
      expect(final.status).toBe('error');
      const answer = (await alice.api.get(`/api/messages/${conv}`)).body.messages.find((m: Message) => m.id === final.messageId);
      expect(answer.statusReason).toMatch(/No API key is set up for OpenAI/);
      expect(answers(serverFake).length + answers(byokFake).length).toBe(before);
    } finally {
      Object.assign(ai, saved);
      await alice.api.delete('/api/users/me/keys/openai');
    }
  });

  it('caps the output of answers and titles (maxOutputTokens reaches the provider)', async () => {
    const conv = await assistantConversation(alice);
    const titled = waitFor(a, 'conversation:update', (c) => c.id === conv && typeof c.title === 'string', 15_000);
    await ask(a, conv, 'capped [tokens=2]');
    await titled;
    const requests = serverFake.requests.filter((r) => JSON.stringify(r.body.messages).includes('capped'));
    expect(requests.map((r) => r.body.stream === true).sort()).toEqual([false, true]); // the answer and the title
    for (const r of requests) expect(r.body.max_tokens ?? r.body.max_completion_tokens).toBe(321);
  });

  it('refuses ai:regenerate where the assistant is not a member, without a provider request', async () => {
    const direct = (await alice.api.post('/api/conversations/direct', { userId: bob.id })).body.id;
    const hello = await send(a, direct, 'hello bob');
    const before = serverFake.requests.length + byokFake.requests.length;
    const ack = await call(a, 'ai:regenerate', { messageId: hello.id });
    expect(ack.ok).toBe(false);
    expect(!ack.ok && ack.error.code).toBe('FORBIDDEN');
    const messages: Message[] = (await alice.api.get(`/api/messages/${direct}`)).body.messages;
    expect(messages.filter((m) => m.authorId === 'assistant')).toHaveLength(0);
    expect((await alice.api.get(`/api/conversations/${direct}`)).body.generating).toBe(false);
    expect(serverFake.requests.length + byokFake.requests.length).toBe(before);

    // A group that removed the assistant: no answers to mentions, no regenerating its old answers.
    const group = (await alice.api.post('/api/conversations/group', { title: 'was AI', participantIds: [bob.id, 'assistant'] })).body.id;
    const old = await ask(a, group, '@assistant early [tokens=2]');
    expect(old.status).toBe('complete');
    expect((await alice.api.delete(`/api/conversations/${group}/participants/assistant`)).status).toBeLessThan(300);
    const after = serverFake.requests.length + byokFake.requests.length;
    await send(a, group, '@assistant are you there [tokens=2]');
    const again = await call(a, 'ai:regenerate', { messageId: old.messageId });
    expect(!again.ok && again.error.code).toBe('FORBIDDEN');
    await new Promise((r) => setTimeout(r, 300));
    expect(serverFake.requests.length + byokFake.requests.length).toBe(after);
    const groupMessages: Message[] = (await alice.api.get(`/api/messages/${group}`)).body.messages;
    expect(groupMessages.filter((m) => m.authorId === 'assistant')).toHaveLength(1);
  });

  it('stops an answer when the assistant is removed from the conversation', async () => {
    const group = (await alice.api.post('/api/conversations/group', { title: 'removing AI', participantIds: [bob.id, 'assistant'] })).body.id;
    const events = record(a);
    const ended = done(a, group, 30_000);
    await send(a, group, '@assistant [tokens=400][delay=20] long');
    await until(() => events.some((e) => e.event === 'ai:delta'), 15_000, 'the first piece');
    expect((await alice.api.delete(`/api/conversations/${group}/participants/assistant`)).status).toBeLessThan(300);
    const final = await ended;
    expect(final.status).toBe('stopped');
    expect(final.content.length).toBeLessThan(tokens(400).length);
  });

  it('in a group, the member whose message triggered a queued answer pays, whoever wrote last', async () => {
    await alice.api.put('/api/users/me/keys/openai', { apiKey: 'sk-alice-group' });
    try {
      const group = (await bob.api.post('/api/conversations/group', { title: 'Who pays', participantIds: [alice.id, 'assistant'] })).body.id;
      const eb = record(b);
      // Bob (no key of his own) starts a long answer: the server pays for it.
      await send(b, group, '@assistant [tokens=400][delay=20] bob asks');
      await until(() => eb.some((e) => e.event === 'ai:delta' && e.payload.conversationId === group), 15_000, 'the first piece');
      const first = eb.find((e) => e.event === 'ai:delta' && e.payload.conversationId === group)!.payload.messageId;
      expect(answers(serverFake).at(-1)!.authorization).toBe('Bearer server-key');
      const byokBefore = answers(byokFake).length;
      const serverBefore = answers(serverFake).length;
      // While it streams, Alice asks (queued), then Bob writes the last message.
      await send(a, group, '@assistant alice asks [tokens=3]');
      await send(b, group, 'just chatting');
      const second = waitFor<{ conversationId: string; messageId: string; status: string }>(b, 'ai:done', (e) => e.conversationId === group && e.messageId !== first, 30_000);
      await ok(b, 'ai:stop', { messageId: first });
      expect((await second).status).toBe('complete');
      expect(answers(serverFake).length).toBe(serverBefore);
      expect(answers(byokFake).slice(byokBefore).map((r) => r.authorization)).toEqual(['Bearer sk-alice-group']);
    } finally {
      await alice.api.delete('/api/users/me/keys/openai');
    }
  });
});
