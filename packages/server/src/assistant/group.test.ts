import type { Conversation, Message, SyncResult } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserSubscription, FakePushService } from '../push/test/fakePushService.ts';
import { connect, ok, record, sleep, until, waitFor, type Client } from '../realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';
import { ANSWERING_REFRESH_MS } from './presence.ts';

// The assistant in a group of people (issue 22): "your answer is ready" goes to the member who
// asked only; the answer counts as unread when it is finished, not when it starts (REST, list and
// sync agree); the assistant shows as typing ("answering") while it writes; the group's stored
// model and system prompt are what the answer uses. Real sockets, a real push service, the fake
// OpenAI-compatible provider.

const MODEL = 'openai:test-model';
const OTHER = 'openai:other-model';
const tokens = (n: number) => Array.from({ length: n }, (_, i) => `t${i} `).join('');

type Done = { conversationId: string; messageId: string; status: string; content: string };
type Notification = { kind: string; conversationId: string; messageId: string; title: string; body: string };
type Typing = { conversationId: string; userId: string; displayName: string; isTyping: boolean };

let fake: FakeOpenAI;
let pushService: FakePushService;
let server: TestServer;
const sockets: Client[] = [];

beforeAll(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 2 });
  pushService = await new FakePushService().start();
  server = await startTestServer(
    { ai: testAiConfig(fake.url, [MODEL, OTHER]) },
    { jobs: { pollIntervalMs: 20, backoffBaseMs: 40, backoffMaxMs: 1000 }, push: { allowInsecureEndpoints: true, subject: 'mailto:ops@confab.test', maxAttempts: 3 } },
  );
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  await pushService?.close();
  await fake?.close();
});

async function online(user: TestUser): Promise<Client> {
  const socket = await connect(server.url, user.accessToken);
  sockets.push(socket);
  // Counted as online (in-app notifications, not push) once the gateway registered the socket.
  await until(async () => (await server.ctx.presence!.online([user.id])).has(user.id), 5000, 'online');
  return socket;
}

/** A group of these people with the assistant in it. */
async function groupWithAssistant(owner: TestUser, others: TestUser[], title: string): Promise<string> {
  const res = await owner.api.post('/api/conversations/group', { title, participantIds: others.map((u) => u.id) });
  expect(res.status).toBe(201);
  expect((await owner.api.post(`/api/conversations/${res.body.id}/participants`, { userIds: ['assistant'] })).status).toBe(200);
  return res.body.id;
}

const send = (socket: Client, conversationId: string, content: string) =>
  ok<Message>(socket, 'chat:message_send', { conversationId, content, clientId: `g-${Math.random()}` });

let restSends = 0;
async function sendRest(user: TestUser, conversationId: string, content: string): Promise<Message> {
  const res = await user.api.post('/api/messages', { conversationId, content, clientId: `r-${++restSends}` });
  expect(res.status).toBe(201);
  return res.body;
}

const done = (socket: Client, conversationId: string, timeoutMs = 15_000) => waitFor<Done>(socket, 'ai:done', (e) => e.conversationId === conversationId, timeoutMs);

/**
 * The next answer's end as every one of these sockets sees it (each socket gets each ai:done at its
 * own moment: waiting on one only, the next wait on another could catch this answer's end).
 */
const doneOnAll = async (sockets: Client[], conversationId: string): Promise<Done> => {
  const ends = await Promise.all(sockets.map((s) => done(s, conversationId)));
  for (const end of ends) expect(end).toEqual(ends[0]);
  return ends[0]!;
};

/** The assistant's answer in the conversation after `afterSeq`, as stored. */
async function answerAfter(user: TestUser, conversationId: string, afterSeq: number): Promise<Message | undefined> {
  const page = (await user.api.get(`/api/messages/${conversationId}`)).body as { messages: Message[] };
  return page.messages.find((m) => m.authorId === 'assistant' && m.seq > afterSeq);
}

const conversationOf = async (user: TestUser, id: string): Promise<Conversation> => {
  const res = await user.api.get(`/api/conversations/${id}`);
  expect(res.status).toBe(200);
  return res.body;
};

const aiReady = (events: { event: string; payload: any }[]) => events.filter((e) => e.event === 'notification' && e.payload.kind === 'ai_answer').map((e) => e.payload as Notification);

/** Lets notifications and push jobs of what just happened go out. */
async function settle(): Promise<void> {
  await sleep(300);
  await server.ctx.jobs.drain();
}

describe('"your answer is ready" in a group', () => {
  it('goes to the member who asked, in app, each in turn; a regenerate goes to whoever asked for it', async () => {
    const [alice, bob] = [await registerUser(server, 'alice'), await registerUser(server, 'bob')];
    const group = await groupWithAssistant(alice, [bob], 'Research');
    const [a, b] = [await online(alice), await online(bob)];
    const [ea, eb] = [record(a), record(b)];

    // Alice asks: she is told, Bob is not (he sees the answer arrive, as every member does).
    const first = doneOnAll([a, b], group);
    await send(a, group, '@assistant first question [tokens=3]');
    const answer1 = await first;
    expect(answer1).toMatchObject({ status: 'complete', content: tokens(3) });
    await until(() => aiReady(ea).length === 1, 5000, "Alice's notification");
    expect(aiReady(ea)[0]).toMatchObject({ kind: 'ai_answer', conversationId: group, messageId: answer1.messageId, title: 'Your AI answer is ready: Research', body: tokens(3).trim() });
    await settle();
    expect(aiReady(eb)).toEqual([]);

    // Then Bob asks: he is told, Alice is not (again).
    const second = doneOnAll([a, b], group);
    await send(b, group, '@assistant second question [tokens=4]');
    const answer2 = await second;
    await until(() => aiReady(eb).length === 1, 5000, "Bob's notification");
    expect(aiReady(eb)[0]).toMatchObject({ messageId: answer2.messageId, body: tokens(4).trim() });
    await settle();
    expect(aiReady(ea).map((n) => n.messageId)).toEqual([answer1.messageId]);

    // Alice regenerates Bob's answer: this time she asked for it.
    const third = doneOnAll([a, b], group);
    await ok<Message>(a, 'ai:regenerate', { messageId: answer2.messageId });
    expect((await third).messageId).toBe(answer2.messageId);
    await until(() => aiReady(ea).length === 2, 5000, "Alice's second notification");
    expect(aiReady(ea)[1]!.messageId).toBe(answer2.messageId);
    await settle();
    expect(aiReady(eb).map((n) => n.messageId)).toEqual([answer2.messageId]);
  });

  it('goes by web push to the asker only when they are offline', async () => {
    const [carol, dave] = [await registerUser(server, 'carol'), await registerUser(server, 'dave')];
    const group = await groupWithAssistant(carol, [dave], 'Offline');
    const subscribe = async (user: TestUser) => {
      const path = `/push/${user.id}`;
      const sub = browserSubscription(pushService.endpoint(path));
      expect((await user.api.post('/api/push/subscriptions', { endpoint: sub.endpoint, keys: sub.keys })).status).toBe(201);
      return { ...sub, path };
    };
    const [carolPush, davePush] = [await subscribe(carol), await subscribe(dave)];
    const pushed = (sub: typeof carolPush) => pushService.to(sub.path).map((p) => JSON.parse(sub.decrypt(p.body)) as Notification);

    // Carol asks (neither has a socket): her device is told the answer is ready; Dave's device is
    // told of her question (a message, as any), not of the answer.
    const question = await sendRest(carol, group, '@assistant offline question [tokens=3]');
    await until(async () => (await answerAfter(carol, group, question.seq))?.status === 'complete', 10_000, 'the answer');
    const answer = (await answerAfter(carol, group, question.seq))!;
    await until(() => pushed(carolPush).some((n) => n.kind === 'ai_answer'), 5000, "Carol's push");
    await settle();
    expect(pushed(carolPush)).toEqual([{ kind: 'ai_answer', conversationId: group, messageId: answer.id, title: 'Your AI answer is ready: Offline', body: tokens(3).trim() }]);
    expect(pushed(davePush).map((n) => [n.kind, n.messageId])).toEqual([['message', question.id]]);

    // Dave asks: now his device is told, Carol's only of his question.
    const question2 = await sendRest(dave, group, '@assistant his turn [tokens=2]');
    await until(async () => (await answerAfter(dave, group, question2.seq))?.status === 'complete', 10_000, 'the second answer');
    const answer2 = (await answerAfter(dave, group, question2.seq))!;
    await until(() => pushed(davePush).some((n) => n.kind === 'ai_answer'), 5000, "Dave's push");
    await settle();
    expect(pushed(davePush).map((n) => [n.kind, n.messageId])).toEqual([
      ['message', question.id],
      ['ai_answer', answer2.id],
    ]);
    expect(pushed(carolPush).map((n) => [n.kind, n.messageId])).toEqual([
      ['ai_answer', answer.id],
      ['message', question2.id],
    ]);
  });
});

describe('unread counts', () => {
  it('leave a streaming answer out and count it once it is finished: REST, the list and sync agree', async () => {
    const [erin, frank] = [await registerUser(server, 'erin'), await registerUser(server, 'frank')];
    const group = await groupWithAssistant(erin, [frank], 'Counting');
    const [e, f] = [await online(erin), await online(frank)];
    const ef = record(f);
    // Frank has read everything so far.
    const before = await conversationOf(frank, group);
    const syncBefore = await ok<SyncResult>(f, 'sync', { cursors: {} });
    const cursor = syncBefore.cursors![group]!;
    expect(before.unreadCount).toBe(0);

    const finished = done(f, group);
    const question = await send(e, group, '@assistant count me [tokens=30][delay=60]');
    await until(() => ef.some((x) => x.event === 'chat:message_received' && x.payload.authorId === 'assistant' && x.payload.status === 'streaming'), 5000, 'the answer to start');
    const streaming = ef.find((x) => x.event === 'chat:message_received' && x.payload.authorId === 'assistant')!.payload as Message;
    expect(streaming.seq).toBeGreaterThan(question.seq);

    // While it streams: Frank's unread is the question alone, the conversation's activity is the
    // question's, everywhere he could look.
    const during = await conversationOf(frank, group);
    expect(during.generating).toBe(true);
    expect(during.unreadCount).toBe(1);
    expect(during.lastActivityAt).toBe(question.createdAt);
    const listed = (await frank.api.get('/api/conversations')).body.conversations.find((c: Conversation) => c.id === group);
    expect(listed).toMatchObject({ unreadCount: 1, lastActivityAt: question.createdAt });
    // A reconnect's sync from where he was, and a new device's from nothing: the same.
    const f2 = await connect(server.url, frank.accessToken);
    sockets.push(f2);
    for (const cursors of [{ [group]: cursor }, {}]) {
      const page = await ok<SyncResult>(f2, 'sync', { cursors });
      expect(page.conversations.find((c) => c.id === group)).toMatchObject({ unreadCount: 1, lastActivityAt: question.createdAt });
      // The streaming answer itself is there (to show it live), just not counted.
      expect(page.messages.find((m) => m.id === streaming.id)?.status).toBe('streaming');
    }
    // Erin, who asked, has nothing unread yet either.
    expect((await conversationOf(erin, group)).unreadCount).toBe(0);

    const final = await finished;
    expect(final).toMatchObject({ messageId: streaming.id, status: 'complete' });
    // Finished: one more unread for each member, once; the activity moved, and every member was
    // told the new activity with the end of generating.
    const updated = () => ef.find((x) => x.event === 'conversation:update' && x.payload.id === group && x.payload.generating === false && typeof x.payload.lastActivityAt === 'string');
    await until(() => updated() !== undefined, 5000, 'the new activity');
    const update = updated()!.payload as Conversation;
    const after = await conversationOf(frank, group);
    expect(after).toMatchObject({ generating: false, unreadCount: 2, lastActivityAt: update.lastActivityAt });
    expect(Date.parse(after.lastActivityAt)).toBeGreaterThan(Date.parse(streaming.createdAt));
    expect((await conversationOf(erin, group)).unreadCount).toBe(1);
    const listedAfter = (await frank.api.get('/api/conversations')).body.conversations.find((c: Conversation) => c.id === group);
    expect(listedAfter).toMatchObject({ unreadCount: 2, lastActivityAt: after.lastActivityAt });
    for (const cursors of [{ [group]: cursor }, {}]) {
      const page = await ok<SyncResult>(f2, 'sync', { cursors });
      expect(page.conversations.find((c) => c.id === group)).toMatchObject({ unreadCount: 2, lastActivityAt: after.lastActivityAt });
    }
    // Read: nothing left.
    expect((await frank.api.post(`/api/messages/${streaming.id}/status`, { status: 'read' })).status).toBeLessThan(300);
    expect((await conversationOf(frank, group)).unreadCount).toBe(0);
  });

  it('a regenerated answer leaves the count while it streams again and comes back once', async () => {
    const [gina, hal] = [await registerUser(server, 'gina'), await registerUser(server, 'hal')];
    const group = await groupWithAssistant(gina, [hal], 'Again');
    const [g, h] = [await online(gina), await online(hal)];
    const first = done(h, group);
    await send(g, group, '@assistant once [tokens=20][delay=50]');
    const answer = await first;
    // Hal has read nothing: the question and the answer.
    expect((await conversationOf(hal, group)).unreadCount).toBe(2);
    const eh = record(h);
    const again = done(h, group);
    await ok(g, 'ai:regenerate', { messageId: answer.messageId });
    await until(() => eh.some((x) => x.event === 'chat:message_updated' && x.payload.id === answer.messageId && x.payload.status === 'streaming'), 5000, 'the regenerate to start');
    expect((await conversationOf(hal, group)).unreadCount).toBe(1);
    expect((await again).status).toBe('complete');
    expect((await conversationOf(hal, group)).unreadCount).toBe(2);
  });
});

describe("the assistant's presence", () => {
  it('shows as answering (typing) while it writes, refreshed, and stops at the end', async () => {
    const [ivy, jon] = [await registerUser(server, 'ivy'), await registerUser(server, 'jon')];
    const group = await groupWithAssistant(ivy, [jon], 'Presence');
    const [i, j] = [await online(ivy), await online(jon)];
    const [ei, ej] = [record(i), record(j)];
    const assistantTyping = (events: typeof ej) =>
      events.filter((x) => x.event === 'chat:user_typing' && x.payload.conversationId === group && x.payload.userId === 'assistant').map((x) => x.payload as Typing);
    const finished = done(j, group);
    // Long enough for a refresh: answers outlast the clients' 10 s typing TTL only because of them.
    const pieces = Math.ceil((ANSWERING_REFRESH_MS + 1000) / 50);
    await send(i, group, `@assistant presence please [tokens=${pieces}][delay=50]`);
    await until(() => assistantTyping(ej).length > 0, 5000, 'answering');
    expect(assistantTyping(ej)[0]).toEqual({ conversationId: group, userId: 'assistant', displayName: 'Assistant', isTyping: true });
    // Every member sees it, the asker too.
    await until(() => assistantTyping(ei).some((t) => t.isTyping), 5000, 'answering, for the asker');
    await finished;
    await until(() => assistantTyping(ej).some((t) => !t.isTyping), 5000, 'no longer answering');
    const seen = assistantTyping(ej);
    // Refreshed while it streamed (at least once more), then ended once, after the answer's end.
    expect(seen.filter((t) => t.isTyping).length).toBeGreaterThanOrEqual(2);
    const endAt = ej.findIndex((x) => x.event === 'chat:user_typing' && x.payload.userId === 'assistant' && !x.payload.isTyping);
    const doneAt = ej.findIndex((x) => x.event === 'ai:done');
    expect(endAt).toBeGreaterThan(doneAt);
    // No refresh comes after the end (the timer is gone).
    await sleep(ANSWERING_REFRESH_MS + 500);
    expect(assistantTyping(ej).at(-1)).toMatchObject({ isTyping: false });
    expect(assistantTyping(ej).filter((t) => !t.isTyping)).toHaveLength(1);
  });

  it('stops answering when the answer is stopped, fails, or its node died', async () => {
    const [kim, lee] = [await registerUser(server, 'kim'), await registerUser(server, 'lee')];
    const group = await groupWithAssistant(kim, [lee], 'Endings');
    const [k, l] = [await online(kim), await online(lee)];
    const el = record(l);
    const typingOf = () => el.filter((x) => x.event === 'chat:user_typing' && x.payload.userId === 'assistant').map((x) => (x.payload as Typing).isTyping);

    // Stopped by a member.
    await send(k, group, '@assistant [tokens=400][delay=20] long');
    await until(() => typingOf().includes(true), 5000, 'answering');
    const delta = await waitFor<{ messageId: string }>(l, 'ai:delta', () => true, 5000);
    const stopped = done(l, group);
    await ok(l, 'ai:stop', { messageId: delta.messageId });
    expect((await stopped).status).toBe('stopped');
    await until(() => typingOf().at(-1) === false, 5000, 'not answering after a stop');

    // Failed at the provider.
    el.length = 0;
    const failed = done(l, group);
    await send(k, group, '@assistant [status=500] fail');
    expect((await failed).status).toBe('error');
    await until(() => typingOf().at(-1) === false, 5000, 'not answering after an error');
    expect(typingOf()[0]).toBe(true);

    // Its node died: the sweep that closes the answer says it too (as in ai.test's orphan case).
    el.length = 0;
    const id = `orphan-${Date.now()}`;
    await server.ctx.db.query(
      `INSERT INTO messages (id, conversation_id, seq, updated_seq, author_id, kind, content_enc, status)
       SELECT $1, id, last_seq + 1, last_seq + 1, 'assistant', 'text', $3, 'streaming' FROM conversations WHERE id = $2`,
      [id, group, server.ctx.keys.encrypt('half')],
    );
    await server.ctx.db.query('UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1', [group]);
    await (server.assistant as unknown as { closeOrphans(): Promise<void> }).closeOrphans();
    await until(() => typingOf().at(-1) === false, 5000, 'not answering after the sweep');
    expect(el.find((x) => x.event === 'ai:done')?.payload).toMatchObject({ messageId: id, status: 'error' });
  });
});

describe("the group's model and system prompt", () => {
  it("answers with the conversation's stored model and system prompt, whoever asks", async () => {
    const [max, nia] = [await registerUser(server, 'max'), await registerUser(server, 'nia')];
    const group = await groupWithAssistant(max, [nia], 'Pirates');
    const [m, n] = [await online(max), await online(nia)];
    // The owner (a group admin) sets the model and the system prompt.
    expect((await max.api.patch(`/api/conversations/${group}`, { model: OTHER, systemPrompt: 'Answer like a pirate.' })).status).toBe(200);
    const streamed = () => fake.requests.filter((r) => r.body.stream);
    for (const [asker, socket] of [
      [max, m],
      [nia, n],
    ] as const) {
      const before = streamed().length;
      const finished = doneOnAll([m, n], group);
      await send(socket, group, `@assistant ahoy from ${asker.user.handle} [tokens=2]`);
      expect((await finished).status).toBe('complete');
      const request = streamed().slice(before).at(-1)!;
      expect(request.body.model).toBe('other-model');
      const system = request.body.messages.find((x: { role: string }) => x.role === 'system');
      expect(system.content).toContain('This is a group chat');
      expect(system.content).toContain('Answer like a pirate.');
      expect(JSON.stringify(request.body.messages)).toContain(`ahoy from ${asker.user.handle}`);
    }
  });
});
