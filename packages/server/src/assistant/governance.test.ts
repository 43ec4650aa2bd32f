import type { AdminUsage, Message, Usage } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ok, waitFor, type Client } from '../realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';

// AI governance (API.md): the admins' allow-list of models, the daily allowance on the server's
// keys, who pays in a group, and the usage ledger with its reports. The fake provider reports 10
// prompt tokens and one completion token per piece.

const [A, B, C] = ['openai:model-a', 'openai:model-b', 'openai:model-c'];

describe('AI governance', () => {
  let fake: FakeOpenAI;
  let server: TestServer;
  let owner: TestUser;
  const sockets: Client[] = [];

  beforeAll(async () => {
    fake = await startFakeOpenAI();
    server = await startTestServer({ ai: testAiConfig(fake.url, [A, B, C]) });
    owner = await registerUser(server, 'owner');
    // The first account becomes the owner with issue 20's registration; said here so this test does not depend on it.
    await server.ctx.db.query(`UPDATE users SET role = 'owner' WHERE id = $1`, [owner.id]);
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await server?.close();
    await fake?.close();
  });

  const settings = async (ai: object) => {
    const res = await owner.api.patch('/api/admin/settings', { ai });
    expect(res.status).toBe(200);
  };

  async function user(name: string): Promise<TestUser & { socket: Client }> {
    const u = await registerUser(server, name);
    const socket = await connect(server.url, u.accessToken);
    sockets.push(socket);
    return { ...u, socket };
  }

  /** A titled assistant conversation (so no title is generated: only answers reach the provider). */
  async function conversation(u: TestUser, model?: string): Promise<string> {
    const res = await u.api.post('/api/conversations/assistant', { title: 'governed', ...(model && { model }) });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  /** Sends, and resolves with the answer as stored once it ended. */
  async function ask(u: { socket: Client; api: TestUser['api'] }, conversationId: string, content: string): Promise<{ question: Message; answer: Message }> {
    const ended = waitFor<{ conversationId: string; messageId: string }>(u.socket, 'ai:done', (e) => e.conversationId === conversationId, 15_000);
    const question = await ok<Message>(u.socket, 'chat:message_send', { conversationId, content, clientId: `c-${Math.random()}` });
    const { messageId } = await ended;
    const messages: Message[] = (await u.api.get(`/api/messages/${conversationId}`)).body.messages;
    return { question: messages.find((m) => m.id === question.id)!, answer: messages.find((m) => m.id === messageId)! };
  }

  const usageRows = (userId: string) =>
    server.ctx.db.query<{ message_id: string | null; conversation_id: string; model: string; key_source: string; input_tokens: number; output_tokens: number }>(
      'SELECT message_id, conversation_id, model, key_source, input_tokens, output_tokens FROM ai_usage WHERE user_id = $1 ORDER BY at',
      [userId],
    );

  it('offers only allow-listed models, with their default, and refuses others at create and at switch', async () => {
    await settings({ models: [A, B], defaultModel: B, quota: { answersPerDay: 0, tokensPerDay: 0 } });
    const alice = await user('alice');
    const models = (await alice.api.get('/api/models')).body;
    expect(models.models.map((m: { id: string }) => m.id)).toEqual([A, B]);
    expect(models.defaultModel).toBe(B);
    const refused = await alice.api.post('/api/conversations/assistant', { model: C });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('VALIDATION_ERROR');
    const conv = await conversation(alice, A);
    const switched = await alice.api.patch(`/api/conversations/${conv}`, { model: C });
    expect(switched.status).toBe(400);
    expect(switched.body.error.code).toBe('VALIDATION_ERROR');
    const ok2 = await alice.api.patch(`/api/conversations/${conv}`, { model: B });
    expect(ok2.status).toBe(200);
    expect(ok2.body.model).toBe(B);
    // Someone else's conversation cannot be switched.
    const bob = await user('bob');
    expect((await bob.api.patch(`/api/conversations/${conv}`, { model: A })).status).toBe(404);
    // A conversation that names no model answers with the allow-list's default.
    const plain = await conversation(alice);
    const { answer } = await ask(alice, plain, '[tokens=2] hello');
    expect(answer).toMatchObject({ status: 'complete', model: B });
    expect(fake.requests.at(-1)!.body.model).toBe('model-b');
    // A user's own key does not widen the list.
    expect((await bob.api.put('/api/users/me/keys/openai', { apiKey: 'sk-bob-own-key' })).status).toBe(204);
    const own = (await bob.api.get('/api/models')).body.models;
    expect(own.map((m: { id: string; keySource: string }) => [m.id, m.keySource])).toEqual([
      [A, 'user'],
      [B, 'user'],
    ]);
    expect((await bob.api.post('/api/conversations/assistant', { model: C })).status).toBe(400);
  });

  it('ends the next answer in error, keeping the question, once its model is taken off the list', async () => {
    await settings({ models: [A, B], defaultModel: A, quota: { answersPerDay: 0, tokensPerDay: 0 } });
    const carol = await user('carol');
    const conv = await conversation(carol, A);
    expect((await ask(carol, conv, '[tokens=2] first')).answer.status).toBe('complete');
    await settings({ models: [B], defaultModel: B });
    const requests = fake.requests.length;
    const { question, answer } = await ask(carol, conv, '[tokens=2] second');
    expect(question.content).toBe('[tokens=2] second');
    expect(answer.status).toBe('error');
    expect(answer.statusReason).toMatch(/not offered on this server/);
    // Refused before any request to the provider, and not counted.
    expect(fake.requests.length).toBe(requests);
    expect(await usageRows(carol.id)).toHaveLength(1);
  });

  it('refuses answers on the server key past answersPerDay, with the reason, keeping the question; own keys are not limited', async () => {
    await settings({ models: [A, B, C], defaultModel: A, quota: { answersPerDay: 1, tokensPerDay: 0 } });
    const dave = await user('dave');
    const conv = await conversation(dave);
    const first = await ask(dave, conv, '[tokens=5] one');
    expect(first.answer.status).toBe('complete');
    const requests = fake.requests.length;
    const second = await ask(dave, conv, '[tokens=5] two');
    expect(second.question.content).toBe('[tokens=5] two');
    expect(second.answer.status).toBe('error');
    expect(second.answer.statusReason).toBe(
      'Your daily AI allowance on this server is used up (1 answer). It resets at midnight UTC; ask an admin for more, or add your own API key.',
    );
    expect(fake.requests.length).toBe(requests);
    expect(await usageRows(dave.id)).toEqual([{ message_id: first.answer.id, conversation_id: conv, model: A, key_source: 'server', input_tokens: 10, output_tokens: 5 }]);
    const usage: Usage = (await dave.api.get('/api/users/me/usage?days=3')).body;
    const today = new Date().toISOString().slice(0, 10);
    expect(usage.days).toHaveLength(3);
    expect(usage.days.map((d) => d.date).sort()).toEqual(usage.days.map((d) => d.date));
    expect(usage.days.at(-1)).toEqual({ date: today, answers: 1, inputTokens: 10, outputTokens: 5 });
    expect(usage.days[0]).toMatchObject({ answers: 0, inputTokens: 0, outputTokens: 0 });
    expect(usage.today).toEqual({ answersLeft: 0, tokensLeft: null, quota: { answersPerDay: 1, tokensPerDay: 0 } });

    // With their own key: answered every time, counted as theirs, not as the server's.
    const erin = await user('erin');
    expect((await erin.api.put('/api/users/me/keys/openai', { apiKey: 'sk-erin-own-key' })).status).toBe(204);
    const own = await conversation(erin);
    for (const text of ['[tokens=3] a', '[tokens=3] b']) expect((await ask(erin, own, text)).answer.status).toBe('complete');
    expect(fake.requests.at(-1)!.authorization).toBe('Bearer sk-erin-own-key');
    const rows = await usageRows(erin.id);
    expect(rows.map((r) => [r.key_source, r.input_tokens, r.output_tokens])).toEqual([
      ['user', 10, 3],
      ['user', 10, 3],
    ]);
    const erinUsage: Usage = (await erin.api.get('/api/users/me/usage')).body;
    expect(erinUsage.days).toHaveLength(30);
    expect(erinUsage.days.every((d) => d.answers === 0)).toBe(true);
    expect(erinUsage.today.answersLeft).toBe(1);
  });

  it("counts tokensPerDay from the provider's reported usage, and reports it to admins only", async () => {
    await settings({ models: [A, B, C], defaultModel: A, quota: { answersPerDay: 0, tokensPerDay: 50 } });
    const frank = await user('frank');
    const conv = await conversation(frank);
    expect((await ask(frank, conv, '[tokens=30] one')).answer.status).toBe('complete'); // 40 tokens
    expect((await frank.api.get('/api/users/me/usage')).body.today).toMatchObject({ answersLeft: null, tokensLeft: 10 });
    expect((await ask(frank, conv, '[tokens=30] two')).answer.status).toBe('complete'); // 80: under the limit when it started
    const third = await ask(frank, conv, '[tokens=30] three');
    expect(third.answer).toMatchObject({ status: 'error' });
    expect(third.answer.statusReason).toMatch(/daily AI allowance on this server is used up \(50 tokens\)/);
    const usage: Usage = (await frank.api.get('/api/users/me/usage?days=1')).body;
    expect(usage.days).toEqual([{ date: new Date().toISOString().slice(0, 10), answers: 2, inputTokens: 20, outputTokens: 60 }]);
    expect(usage.today.tokensLeft).toBe(0);

    const report = await owner.api.get('/api/admin/usage?days=7');
    expect(report.status).toBe(200);
    const mine = (report.body as AdminUsage).users.find((u) => u.userId === frank.id);
    expect(mine).toMatchObject({ handle: frank.user.handle, displayName: 'frank', days: [{ answers: 2, inputTokens: 20, outputTokens: 60 }] });
    const denied = await frank.api.get('/api/admin/usage');
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');
    expect((await frank.api.get('/api/users/me/usage?days=0')).status).toBe(400);
  });

  it('in a group, the member who asked pays: with their own key when they have one, else the server key', async () => {
    await settings({ models: [A, B, C], defaultModel: A, quota: { answersPerDay: 0, tokensPerDay: 0 } });
    const [gina, hal, ivy] = [await user('gina'), await user('hal'), await user('ivy')];
    expect((await ivy.api.put('/api/users/me/keys/openai', { apiKey: 'sk-ivy-own-key' })).status).toBe(204);
    const group = (await gina.api.post('/api/conversations/group', { title: 'team', participantIds: [hal.id, ivy.id] })).body.id;
    // Not a member yet: no answer (hal's only usage row below is the later one).
    await ok<Message>(hal.socket, 'chat:message_send', { conversationId: group, content: '@assistant anyone?', clientId: 'c-none' });
    expect((await gina.api.post(`/api/conversations/${group}/participants`, { userIds: ['assistant'] })).status).toBe(200);
    const byHal = await ask(hal, group, '@assistant [tokens=4] help');
    expect(byHal.answer.status).toBe('complete');
    expect(fake.requests.at(-1)!.authorization).not.toBe('Bearer sk-ivy-own-key');
    const byIvy = await ask(ivy, group, '@assistant [tokens=2] me too');
    expect(byIvy.answer.status).toBe('complete');
    expect(fake.requests.at(-1)!.authorization).toBe('Bearer sk-ivy-own-key');
    expect(await usageRows(gina.id)).toEqual([]);
    expect(await usageRows(hal.id)).toEqual([{ message_id: byHal.answer.id, conversation_id: group, model: A, key_source: 'server', input_tokens: 10, output_tokens: 4 }]);
    expect(await usageRows(ivy.id)).toEqual([{ message_id: byIvy.answer.id, conversation_id: group, model: A, key_source: 'user', input_tokens: 10, output_tokens: 2 }]);
  });

  it('records titles on the payer, as tokens and not as answers', async () => {
    await settings({ models: [A, B, C], defaultModel: A, quota: { answersPerDay: 0, tokensPerDay: 0 } });
    const jo = await user('jo');
    const conv = (await jo.api.post('/api/conversations/assistant', {})).body.id;
    const titled = waitFor(jo.socket, 'conversation:update', (c) => c.id === conv && typeof c.title === 'string');
    await ask(jo, conv, 'Lisbon in spring');
    await titled;
    const rows = await usageRows(jo.id);
    expect(rows.map((r) => [r.message_id === null, r.key_source])).toEqual([
      [false, 'server'],
      [true, 'server'],
    ]);
    const usage: Usage = (await jo.api.get('/api/users/me/usage?days=1')).body;
    expect(usage.days[0]).toMatchObject({ answers: 1, inputTokens: 20 });
  });
});
