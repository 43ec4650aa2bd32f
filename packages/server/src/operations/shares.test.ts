import type { Conversation, ConversationShare, Message, SharedSnapshot } from '@confab/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../realtime/test/kit.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { Api, registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';
import { BRANCH_LIMITS } from './branches.ts';
import { SHARE_LIMITS } from './shares.ts';

/**
 * Branches and shared snapshots of AI conversations (API.md, "AI conversations"; docs/ai.md), on
 * the embedded database and on PostgreSQL alike, with the local fake OpenAI-compatible provider.
 */

const MODEL = 'openai:test-model';
const PASSWORD = 'correct horse battery';

let fake: FakeOpenAI;
let server: TestServer;
let alice: TestUser, bob: TestUser, carol: TestUser, outsider: TestUser;
const anonymous = () => new Api(server.url);

beforeAll(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 1 });
  server = await startTestServer({ ai: testAiConfig(fake.url, [MODEL]) });
  [alice, bob, carol, outsider] = [await registerUser(server, 'alice'), await registerUser(server, 'bob'), await registerUser(server, 'carol'), await registerUser(server, 'outsider')];
}, 60_000);
afterAll(async () => {
  await server?.close();
  await fake?.close();
});

let n = 0;
const clientId = () => `s-${++n}-${Math.random().toString(36).slice(2)}`;

async function assistantConversation(user: TestUser): Promise<string> {
  const res = await user.api.post<Conversation>('/api/conversations/assistant', { model: MODEL, title: 'Trip planning' });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function send(user: TestUser, conversationId: string, content: string): Promise<Message> {
  const res = await user.api.post<Message>('/api/messages', { conversationId, content, clientId: clientId() });
  expect(res.status).toBe(201);
  return res.body;
}

async function messagesOf(user: TestUser, conversationId: string): Promise<Message[]> {
  const res = await user.api.get<{ messages: Message[] }>(`/api/messages/${conversationId}?limit=200`);
  expect(res.status).toBe(200);
  return res.body.messages;
}

/** Asks in an assistant conversation and waits for the whole answer. */
async function ask(user: TestUser, conversationId: string, content: string, extra: Record<string, unknown> = {}): Promise<{ question: Message; answer: Message }> {
  const sent = await user.api.post<Message>('/api/messages', { conversationId, content, clientId: clientId(), ...extra });
  expect(sent.status).toBe(201);
  const question = sent.body;
  let answer: Message | undefined;
  await until(
    async () => {
      answer = (await messagesOf(user, conversationId)).find((m) => m.authorId === 'assistant' && m.seq > question.seq);
      return answer?.status === 'complete';
    },
    15_000,
    'the answer',
  );
  return { question, answer: answer! };
}

const shape = (list: Message[]) => list.map((m) => ({ authorId: m.authorId, content: m.content, kind: m.kind, status: m.status }));

async function group(owner: TestUser, members: TestUser[], title = 'Team'): Promise<string> {
  const res = await owner.api.post<Conversation>('/api/conversations/group', { title, participantIds: members.map((m) => m.id) });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function uploadText(user: TestUser, conversationId: string, name: string, text: string): Promise<string> {
  const ticket = await user.api.post('/api/attachments', { conversationId, name, type: 'text/plain', size: Buffer.byteLength(text) });
  expect(ticket.status).toBe(201);
  const put = await fetch(server.url + ticket.body.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'text/plain' }, body: text });
  expect(put.status).toBe(200);
  return ticket.body.attachmentId;
}

async function download(user: TestUser, attachmentId: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${server.url}/api/attachments/${attachmentId}`, { headers: { authorization: `Bearer ${user.accessToken}` } });
  return { status: res.status, text: await res.text() };
}

describe('branches', () => {
  afterEach(() => {
    BRANCH_LIMITS.maxMessages = 5000;
    BRANCH_LIMITS.batch = 500;
  });

  it('copy exactly the messages up to the chosen one, in order, readable and searchable in the new conversation', async () => {
    const source = await assistantConversation(alice);
    // The system prompt is the conversation's; a branch takes it along.
    expect((await alice.api.patch(`/api/conversations/${source}`, { systemPrompt: 'Answer like a pirate.' })).status).toBe(200);
    await ask(alice, source, 'first question about quokkas');
    const { answer: chosen } = await ask(alice, source, 'second question about wombats');
    await ask(alice, source, 'third question about platypuses');
    // The system line that says the prompt was set is not copied (system lines never are).
    const before = (await messagesOf(alice, source)).filter((m) => m.kind !== 'system');
    expect(before).toHaveLength(6);

    const res = await alice.api.post<Conversation>(`/api/conversations/${source}/branch`, { messageId: chosen.id });
    expect(res.status).toBe(201);
    const branch = res.body;
    expect(branch).toMatchObject({ type: 'assistant', model: MODEL, title: 'Trip planning (branch)', role: 'owner', lastSeq: 4 });
    expect(branch.id).not.toBe(source);
    expect(branch.members.map((m) => m.userId).sort()).toEqual([alice.id, 'assistant'].sort());
    // Copies are history the caller has read: no unread badge.
    expect(branch.unreadCount).toBe(0);
    expect(branch.lastMessage?.content).toBe(chosen.content);

    const copies = await messagesOf(alice, branch.id);
    const upToChosen = before.filter((m) => m.seq <= chosen.seq);
    expect(shape(copies)).toEqual(shape(upToChosen));
    expect(copies.map((m) => m.authorId)).toEqual([alice.id, 'assistant', alice.id, 'assistant']);
    expect(copies[2]!.content).toBe('second question about wombats');
    expect(copies.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(copies.every((m) => m.conversationId === branch.id && !before.some((b) => b.id === m.id))).toBe(true);
    expect(copies.map((m) => m.createdAt)).toEqual(upToChosen.map((m) => m.createdAt));
    expect(copies.filter((m) => m.authorId === 'assistant').map((m) => m.model)).toEqual([MODEL, MODEL]);
    expect((await alice.api.get(`/api/conversations/${branch.id}`)).body.systemPrompt).toBe('Answer like a pirate.');

    // The source is unchanged.
    expect(shape((await messagesOf(alice, source)).filter((m) => m.kind !== 'system'))).toEqual(shape(before));

    // Stored encrypted, with search terms keyed by the branch: search finds the copy there too.
    const stored = await server.ctx.db.query<{ content_enc: string; search_terms: string[] }>('SELECT content_enc, search_terms FROM messages WHERE id = $1', [copies[0]!.id]);
    expect(stored[0]!.content_enc).not.toContain('quokkas');
    const original = await server.ctx.db.query<{ content_enc: string; search_terms: string[] }>('SELECT content_enc, search_terms FROM messages WHERE id = $1', [before[0]!.id]);
    expect(stored[0]!.search_terms).not.toEqual(original[0]!.search_terms);
    const found = await alice.api.get<{ messages: Message[] }>('/api/search?query=quokkas');
    expect(found.status).toBe(200);
    const hits = new Set(found.body.messages.map((m) => m.conversationId));
    expect(hits.has(branch.id) && hits.has(source)).toBe(true);
    // Nothing after the chosen message was copied.
    const platypus = await alice.api.get<{ messages: Message[] }>('/api/search?query=platypuses');
    expect(platypus.body.messages.some((m) => m.conversationId === branch.id)).toBe(false);
    expect(platypus.body.messages.some((m) => m.conversationId === source)).toBe(true);

    // The branch goes on its own way: the next question is answered with the copied history.
    const asked = fake.requests.length;
    await ask(alice, branch.id, 'fourth question in the branch');
    const request = fake.requests.slice(asked).find((r) => JSON.stringify(r.body).includes('fourth question in the branch'));
    const sent = JSON.stringify(request?.body.messages);
    expect(sent).toContain('second question about wombats');
    expect(sent).not.toContain('platypuses');
    expect(JSON.stringify(request?.body)).toContain('Answer like a pirate.');
    expect((await messagesOf(alice, source)).filter((m) => m.kind !== 'system')).toHaveLength(6);
  });

  it('refuses non-members (404), messages of another conversation (404) and bad input (400, 401)', async () => {
    const source = await assistantConversation(alice);
    const m = await send(alice, source, 'hello there');
    const other = await assistantConversation(bob);
    const theirs = await send(bob, other, 'not yours');
    const refused = await outsider.api.post(`/api/conversations/${source}/branch`, { messageId: m.id });
    expect(refused.status).toBe(404);
    expect(refused.body.error.code).toBe('NOT_FOUND');
    // A message of a conversation the caller is in, but not this one.
    const wrong = await alice.api.post(`/api/conversations/${source}/branch`, { messageId: theirs.id });
    expect(wrong.status).toBe(404);
    // The outsider cannot use their own message to reach alice's conversation either.
    expect((await bob.api.post(`/api/conversations/${source}/branch`, { messageId: theirs.id })).status).toBe(404);
    expect((await alice.api.post(`/api/conversations/${source}/branch`, { messageId: 'no-such-message' })).status).toBe(404);
    expect((await alice.api.post(`/api/conversations/${source}/branch`, {})).status).toBe(400);
    expect((await alice.api.post(`/api/conversations/${source}/branch`, { messageId: m.id, extra: 1 })).status).toBe(400);
    expect((await anonymous().post(`/api/conversations/${source}/branch`, { messageId: m.id })).status).toBe(401);
    // None of the refusals made a conversation.
    const list = await outsider.api.get<{ conversations: Conversation[] }>('/api/conversations');
    expect(list.body.conversations).toHaveLength(0);
  });

  it('copy in batches within one transaction, and refuse above the limit', async () => {
    const team = await group(alice, [bob]);
    const sent: Message[] = [];
    for (let i = 0; i < 7; i++) sent.push(await send(i % 2 ? bob : alice, team, `note ${i}`));
    const chosen = sent[5]!;
    const expected = (await messagesOf(alice, team)).filter((m) => m.seq <= chosen.seq && m.kind !== 'system');
    expect(expected.map((m) => m.content)).toEqual(['note 0', 'note 1', 'note 2', 'note 3', 'note 4', 'note 5']);
    // Three batches of two, and one more read that finds nothing.
    BRANCH_LIMITS.batch = 2;
    const res = await alice.api.post<Conversation>(`/api/conversations/${team}/branch`, { messageId: chosen.id });
    expect(res.status).toBe(201);
    expect(shape(await messagesOf(alice, res.body.id))).toEqual(shape(expected));

    BRANCH_LIMITS.maxMessages = 5;
    const tooMany = await alice.api.post(`/api/conversations/${team}/branch`, { messageId: chosen.id });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(tooMany.body.error.message).toMatch(/earlier message/);
    // Up to the limit is fine.
    expect((await alice.api.post(`/api/conversations/${team}/branch`, { messageId: sent[4]!.id })).status).toBe(201);
  });

  it('copy files, which the branch keeps when the source goes', async () => {
    const source = await assistantConversation(alice);
    const fileId = await uploadText(alice, source, 'notes.txt', 'packing list: hat, map');
    const { question: withFile } = await ask(alice, source, 'see the file', { attachmentIds: [fileId] });

    const branch = (await alice.api.post<Conversation>(`/api/conversations/${source}/branch`, { messageId: withFile.id })).body;
    const [copy] = await messagesOf(alice, branch.id);
    expect(copy?.content).toBe('see the file');
    expect(copy?.attachments).toHaveLength(1);
    const copiedId = copy!.attachments[0]!.id;
    expect(copiedId).not.toBe(fileId);
    expect(copy!.attachments[0]).toMatchObject({ name: 'notes.txt', type: withFile.attachments[0]!.type, size: withFile.attachments[0]!.size });
    expect(await download(alice, copiedId)).toEqual({ status: 200, text: 'packing list: hat, map' });
    expect((await download(outsider, copiedId)).status).toBe(404);
    // The extracted text came along (what the assistant reads of the file).
    const text = await alice.api.get(`/api/attachments/${copiedId}/text`);
    expect(text.status).toBe(200);
    expect(text.body.text).toBe('packing list: hat, map');

    expect((await alice.api.delete(`/api/conversations/${source}`)).status).toBe(204);
    await until(async () => (await download(alice, fileId)).status === 404, 10_000, 'the source file to go');
    expect(await download(alice, copiedId)).toEqual({ status: 200, text: 'packing list: hat, map' });
  });

  it('of a group: a conversation of the caller and the assistant, other people’s messages still theirs', async () => {
    const team = await group(alice, [bob, carol]);
    await send(alice, team, 'alice proposes lisbon');
    const chosen = await send(carol, team, 'carol prefers porto');
    await send(bob, team, 'bob says after the branch point');
    const res = await bob.api.post<Conversation>(`/api/conversations/${team}/branch`, { messageId: chosen.id });
    expect(res.status).toBe(201);
    const branch = res.body;
    expect(branch).toMatchObject({ type: 'assistant', title: 'Team (branch)' });
    expect(branch.members.map((m) => m.userId).sort()).toEqual([bob.id, 'assistant'].sort());
    const copies = await messagesOf(bob, branch.id);
    // System lines of the group (who joined) are not copied.
    expect(copies.map((m) => [m.authorId, m.content])).toEqual([
      [alice.id, 'alice proposes lisbon'],
      [carol.id, 'carol prefers porto'],
    ]);
    // It is bob's alone.
    expect((await alice.api.get(`/api/conversations/${branch.id}`)).status).toBe(404);
    expect((await alice.api.get(`/api/messages/${branch.id}`)).status).toBe(404);

    // The assistant is told who said what.
    const asked = fake.requests.length;
    await ask(bob, branch.id, 'which city wins');
    const request = fake.requests.slice(asked).find((r) => JSON.stringify(r.body).includes('which city wins'));
    const sent = JSON.stringify(request?.body.messages);
    expect(sent).toContain('alice: alice proposes lisbon');
    expect(sent).toContain('carol: carol prefers porto');
    expect(sent).not.toContain('bob: which city wins');
  });

  it('from a thread reply: the main line up to it and that thread’s earlier replies', async () => {
    const team = await group(alice, [bob]);
    const root = await send(alice, team, 'root message');
    const reply1 = (await bob.api.post<Message>('/api/messages', { conversationId: team, content: 'first reply', clientId: clientId(), threadRootId: root.id })).body;
    await send(alice, team, 'main line after the root');
    const reply2 = (await alice.api.post<Message>('/api/messages', { conversationId: team, content: 'second reply', clientId: clientId(), threadRootId: root.id })).body;
    expect(reply1.threadRootId).toBe(root.id);
    const branch = (await bob.api.post<Conversation>(`/api/conversations/${team}/branch`, { messageId: reply2.id })).body;
    const copies = await messagesOf(bob, branch.id);
    expect(copies.map((m) => m.content)).toEqual(['root message', 'first reply', 'main line after the root', 'second reply']);
    expect(copies.every((m) => m.threadRootId === null)).toBe(true);
  });
});

describe('shares', () => {
  /** The body is the share, or an error answer. */
  async function share(user: TestUser, conversationId: string) {
    return user.api.post<ConversationShare & { error: { code: string } }>(`/api/conversations/${conversationId}/shares`);
  }

  it('only the owner of an assistant conversation, or a group’s owners and admins, may share', async () => {
    const mine = await assistantConversation(alice);
    await send(alice, mine, 'something');
    expect((await share(outsider, mine)).status).toBe(404);
    const created = await share(alice, mine);
    expect(created.status).toBe(201);
    expect(created.body.url).toBe(`${server.url}/shared/${created.body.id}`);
    // 192 random bits.
    expect(created.body.id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect((await share(alice, mine)).body.id).not.toBe(created.body.id);

    const team = await group(alice, [bob, carol]);
    expect((await alice.api.patch(`/api/conversations/${team}/participants/${bob.id}`, { role: 'admin' })).status).toBe(200);
    const asMember = await share(carol, team);
    expect(asMember.status).toBe(403);
    expect(asMember.body.error.code).toBe('FORBIDDEN');
    expect((await carol.api.get(`/api/conversations/${team}/shares`)).status).toBe(403);
    expect((await share(bob, team)).status).toBe(201);
    expect((await share(alice, team)).status).toBe(201);
    expect((await share(outsider, team)).status).toBe(404);
    expect((await anonymous().post(`/api/conversations/${team}/shares`)).status).toBe(401);

    const direct = (await alice.api.post<Conversation>('/api/conversations/direct', { userId: bob.id })).body.id;
    expect((await share(alice, direct)).status).toBe(403);
  });

  it('a snapshot is readable without signing in, shows nothing private, and does not change with the conversation', async () => {
    const team = await group(alice, [bob], 'Offsite');
    const a = await send(alice, team, 'alice: **budget** is 500');
    const b = await send(bob, team, 'bob agrees');
    const created = await share(alice, team);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ conversationId: team, title: 'Offsite', messageCount: 2, createdBy: alice.id });

    const read = await anonymous().get<SharedSnapshot>(`/api/shared/${created.body.id}`);
    expect(read.status).toBe(200);
    expect(read.headers.get('cache-control')).toBe('no-store');
    expect(read.body.title).toBe('Offsite');
    expect(read.body.messages).toEqual([
      { author: { name: 'alice', assistant: false }, content: 'alice: **budget** is 500', createdAt: a.createdAt, model: null, attachments: [] },
      { author: { name: 'bob', assistant: false }, content: 'bob agrees', createdAt: b.createdAt, model: null, attachments: [] },
    ]);
    // Nothing that identifies people or objects beyond what the messages say.
    const text = JSON.stringify(read.body);
    for (const secret of [alice.id, bob.id, alice.user.email!, bob.user.email!, alice.user.handle, bob.user.handle, team, a.id, b.id]) {
      expect(text).not.toContain(secret);
    }
    // Stored encrypted; the URL's id only as a hash.
    const [row] = await server.ctx.db.query<{ snapshot_enc: string; id_hash: string; id_enc: string }>('SELECT snapshot_enc, id_hash, id_enc FROM conversation_shares WHERE conversation_id = $1', [team]);
    expect(row!.snapshot_enc).not.toContain('budget');
    expect(`${row!.id_hash}${row!.id_enc}`).not.toContain(created.body.id);

    // Edits, deletions and new messages change the conversation, not the snapshot.
    expect((await alice.api.patch(`/api/messages/${a.id}`, { content: 'edited later' })).status).toBe(200);
    expect((await bob.api.delete(`/api/messages/${b.id}`)).status).toBe(200);
    await send(bob, team, 'a message after the snapshot');
    expect((await alice.api.patch(`/api/conversations/${team}`, { title: 'Renamed' })).status).toBe(200);
    const again = await anonymous().get<SharedSnapshot>(`/api/shared/${created.body.id}`);
    expect(again.body).toEqual(read.body);
    expect(JSON.stringify(again.body)).not.toContain('after the snapshot');

    // A new snapshot shows the conversation as it is now.
    const later = await share(alice, team);
    const now = (await anonymous().get<SharedSnapshot>(`/api/shared/${later.body.id}`)).body;
    expect(now.title).toBe('Renamed');
    expect(now.messages.map((m) => m.content)).toEqual(['edited later', 'a message after the snapshot']);
  });

  it('an AI conversation’s snapshot names the assistant and its model, and lists files without publishing them', async () => {
    const conv = await assistantConversation(alice);
    const fileId = await uploadText(alice, conv, 'itinerary.txt', 'day one: lisbon');
    const { question: q } = await ask(alice, conv, 'plan my trip', { attachmentIds: [fileId] });
    const created = await share(alice, conv);
    const snap = (await anonymous().get<SharedSnapshot>(`/api/shared/${created.body.id}`)).body;
    expect(snap.messages.map((m) => m.author)).toEqual([
      { name: 'alice', assistant: false },
      { name: 'Assistant', assistant: true },
    ]);
    expect(snap.messages[1]!.model).toBe(MODEL);
    expect(snap.messages[0]!.attachments).toEqual([{ name: 'itinerary.txt', type: q.attachments[0]!.type, size: q.attachments[0]!.size }]);
    expect(JSON.stringify(snap)).not.toContain(fileId);
    // The file itself stays members-only.
    expect((await anonymous().get(`/api/attachments/${fileId}`)).status).toBe(401);
  });

  it('are listed for the owner and gone (404) once removed', async () => {
    const conv = await assistantConversation(alice);
    await send(alice, conv, 'share me');
    const first = (await share(alice, conv)).body;
    const second = (await share(alice, conv)).body;
    const listed = await alice.api.get<{ shares: ConversationShare[] }>(`/api/conversations/${conv}/shares`);
    expect(listed.status).toBe(200);
    expect(listed.body.shares.map((s) => s.id).sort()).toEqual([first.id, second.id].sort());
    expect(listed.body.shares.find((s) => s.id === first.id)).toEqual(first);
    expect((await outsider.api.get(`/api/conversations/${conv}/shares`)).status).toBe(404);

    // Another conversation's id does not reach it; outsiders get 404.
    const other = await assistantConversation(alice);
    expect((await alice.api.delete(`/api/conversations/${other}/shares/${first.id}`)).status).toBe(404);
    expect((await outsider.api.delete(`/api/conversations/${conv}/shares/${first.id}`)).status).toBe(404);
    expect((await anonymous().get(`/api/shared/${first.id}`)).status).toBe(200);

    expect((await alice.api.delete(`/api/conversations/${conv}/shares/${first.id}`)).status).toBe(204);
    const gone = await anonymous().get(`/api/shared/${first.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('NOT_FOUND');
    expect((await alice.api.delete(`/api/conversations/${conv}/shares/${first.id}`)).status).toBe(404);
    expect((await anonymous().get(`/api/shared/${second.id}`)).status).toBe(200);
    expect((await alice.api.get<{ shares: ConversationShare[] }>(`/api/conversations/${conv}/shares`)).body.shares.map((s) => s.id)).toEqual([second.id]);

    // Deleting the conversation takes its shares with it.
    expect((await alice.api.delete(`/api/conversations/${conv}`)).status).toBe(204);
    expect((await anonymous().get(`/api/shared/${second.id}`)).status).toBe(404);
  });

  it('answer 404 for anything that is not a share', async () => {
    // Too long for a route parameter (over 100 characters) is 404 too: no route matches.
    for (const id of ['x', 'A'.repeat(32), 'A'.repeat(100), 'A'.repeat(101), '..%2F..%2Fetc']) {
      const res = await anonymous().get(`/api/shared/${id}`);
      expect(res.status, id).toBe(404);
      expect(res.body.error.code, id).toBe('NOT_FOUND');
    }
  });

  it('go when an author deletes their account', async () => {
    const dana = await registerUser(server, 'dana');
    const team = await group(alice, [dana]);
    await send(dana, team, 'dana was here');
    const withDana = (await share(alice, team)).body;
    const other = await group(alice, [bob]);
    await send(alice, other, 'no dana here');
    const withoutDana = (await share(alice, other)).body;
    expect((await dana.api.request('DELETE', '/api/users/me', { password: PASSWORD })).status).toBe(204);
    expect((await anonymous().get(`/api/shared/${withDana.id}`)).status).toBe(404);
    expect((await anonymous().get(`/api/shared/${withoutDana.id}`)).status).toBe(200);
  });

  it('refuse a conversation over the snapshot limit', async () => {
    const conv = await group(alice, [bob]);
    for (let i = 0; i < 4; i++) await send(alice, conv, `line ${i}`);
    const saved = SHARE_LIMITS.maxMessages;
    SHARE_LIMITS.maxMessages = 3;
    try {
      const res = await share(alice, conv);
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    } finally {
      SHARE_LIMITS.maxMessages = saved;
    }
    expect((await alice.api.get<{ shares: unknown[] }>(`/api/conversations/${conv}/shares`)).body.shares).toHaveLength(0);
  });
});

describe('the public shared page', () => {
  let limited: TestServer | undefined;
  afterAll(async () => {
    await limited?.close();
  });

  it('is rate limited per address like other public routes', async () => {
    limited = await startTestServer({ rateLimits: true });
    const owner = await registerUser(limited, 'owner');
    const conv = (await owner.api.post<Conversation>('/api/conversations/group', { title: 'Limits', participantIds: [] })).body.id;
    expect((await owner.api.post('/api/messages', { conversationId: conv, content: 'hi', clientId: 'one' })).status).toBe(201);
    const created = await owner.api.post<ConversationShare>(`/api/conversations/${conv}/shares`);
    expect(created.status).toBe(201);
    const api = new Api(limited.url);
    let status = 200;
    let retryAfter: string | null = null;
    for (let i = 0; i < 200 && status === 200; i++) {
      const res = await api.get(`/api/shared/${created.body.id}`);
      status = res.status;
      retryAfter = res.headers.get('retry-after');
    }
    expect(status).toBe(429);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });
});
