import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ok, record, until, waitFor, type Client } from '../../realtime/test/kit.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

// Threads over REST (and the notifications they cause): routes, fields, access, hostile input.

let server: TestServer;
let alice: TestUser, bob: TestUser, carol: TestUser, mallory: TestUser;
let groupId: string;
const sockets: Client[] = [];

async function createGroup(owner: TestUser, members: TestUser[], title = 'Team'): Promise<string> {
  const res = await owner.api.post('/api/conversations/group', { title, participantIds: members.map((m) => m.id) });
  expect(res.status).toBe(201);
  return res.body.id;
}

let n = 0;
const send = (user: TestUser, conversationId: string, content: string, extra: Record<string, unknown> = {}) =>
  user.api.post('/api/messages', { conversationId, content, clientId: `t-${++n}-${Math.random()}`, ...extra });

async function root(user: TestUser, conversationId = groupId, content = 'a root'): Promise<Message> {
  const res = await send(user, conversationId, content);
  expect(res.status).toBe(201);
  return res.body;
}

const thread = (user: TestUser, conversationId: string, rootId: string, q = '') => user.api.get(`/api/messages/${conversationId}?threadRootId=${encodeURIComponent(rootId)}${q}`);
const threads = async (user: TestUser) => (await user.api.get('/api/threads')).body.threads as { conversationId: string; root: Message; unreadCount: number }[];

beforeAll(async () => {
  server = await startTestServer();
  [alice, bob, carol, mallory] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob'), registerUser(server, 'carol'), registerUser(server, 'mallory')]);
  groupId = await createGroup(alice, [bob, carol]);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
});

describe('replies in a thread', () => {
  it('take the conversation’s seq; the root carries the summary and takes the next seq', async () => {
    const r = await root(alice);
    const reply = await send(bob, groupId, 'first reply', { threadRootId: r.id });
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ threadRootId: r.id, alsoToChannel: false, seq: r.seq + 1 });
    const listed = await thread(carol, groupId, r.id);
    expect(listed.status).toBe(200);
    expect(listed.body.messages.map((m: Message) => m.id)).toEqual([reply.body.id]);
    expect(listed.body.root).toMatchObject({
      id: r.id,
      seq: r.seq,
      updatedSeq: reply.body.seq + 1,
      thread: { replyCount: 1, lastReplyAt: reply.body.createdAt, participantIds: [bob.id] },
    });
    const conv = await carol.api.get(`/api/conversations/${groupId}`);
    expect(conv.body.lastSeq).toBe(reply.body.seq + 1);
    // The same clientId again returns the first reply, and touches the root no more.
    const again = await bob.api.post('/api/messages', { conversationId: groupId, content: 'x', clientId: reply.body.clientId, threadRootId: r.id });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(reply.body.id);
    expect((await thread(carol, groupId, r.id)).body.root.thread.replyCount).toBe(1);
  });

  it('the main line lists roots and ordinary messages, and replies only when sent alsoToChannel', async () => {
    const conv = await createGroup(alice, [bob], 'Main line');
    const r = await root(alice, conv, 'root');
    const hidden = (await send(bob, conv, 'in thread', { threadRootId: r.id })).body;
    const shown = (await send(bob, conv, 'also here', { threadRootId: r.id, alsoToChannel: true })).body;
    const plain = (await send(alice, conv, 'plain')).body;
    const main = await bob.api.get(`/api/messages/${conv}`);
    const ids = main.body.messages.map((m: Message) => m.id);
    expect(ids).toEqual(expect.arrayContaining([r.id, shown.id, plain.id]));
    expect(ids).not.toContain(hidden.id);
    expect(main.body.messages.find((m: Message) => m.id === r.id).thread).toMatchObject({ replyCount: 2, participantIds: [bob.id] });
    expect(shown).toMatchObject({ threadRootId: r.id, alsoToChannel: true });
    // Paging the main line by seq leaves the thread out too.
    const after = await bob.api.get(`/api/messages/${conv}?after=${r.seq}`);
    expect(after.body.messages.map((m: Message) => m.id)).not.toContain(hidden.id);
    const t = await thread(alice, conv, r.id);
    expect(t.body.messages.map((m: Message) => m.content)).toEqual(['in thread', 'also here']);
    // A thread reply is neither the conversation's last message nor unread in it.
    const last = await send(bob, conv, 'late thread reply', { threadRootId: r.id });
    const seen = await alice.api.get(`/api/conversations/${conv}`);
    expect(seen.body.lastMessage.id).toBe(plain.id);
    // Alice read up to her "plain"; Bob's later reply in the thread does not make the conversation unread.
    expect(seen.body.unreadCount).toBe(0);
    expect(seen.body.lastSeq).toBe(last.body.seq + 1);
  });

  it('a thread pages oldest first, by seq', async () => {
    const r = await root(alice);
    for (let i = 0; i < 7; i++) await send(i % 2 ? alice : bob, groupId, `r${i}`, { threadRootId: r.id });
    const latest = await thread(bob, groupId, r.id, '&limit=3');
    expect(latest.body.messages.map((m: Message) => m.content)).toEqual(['r4', 'r5', 'r6']);
    expect(latest.body.hasMore).toBe(true);
    const older = await thread(bob, groupId, r.id, `&limit=3&before=${latest.body.messages[0].seq}`);
    expect(older.body.messages.map((m: Message) => m.content)).toEqual(['r1', 'r2', 'r3']);
    const first = await thread(bob, groupId, r.id, `&limit=3&before=${older.body.messages[0].seq}`);
    expect(first.body).toMatchObject({ hasMore: false });
    expect(first.body.messages.map((m: Message) => m.content)).toEqual(['r0']);
    const forward = await thread(bob, groupId, r.id, `&after=${older.body.messages[2].seq}`);
    expect(forward.body.messages.map((m: Message) => m.content)).toEqual(['r4', 'r5', 'r6']);
    expect(latest.body.root.thread).toMatchObject({ replyCount: 7, participantIds: [bob.id, alice.id] });
  });

  it('over the socket too (chat:message_send), with the root’s change announced after the reply', async () => {
    const r = await root(alice);
    const s = await connect(server.url, carol.accessToken);
    sockets.push(s);
    const b = await connect(server.url, bob.accessToken);
    sockets.push(b);
    const seen = record(s);
    const reply = await ok<Message>(b, 'chat:message_send', { conversationId: groupId, content: 'socket reply', clientId: `s-${++n}`, threadRootId: r.id, alsoToChannel: true });
    expect(reply).toMatchObject({ threadRootId: r.id, alsoToChannel: true });
    await until(() => seen.some((e) => e.event === 'chat:message_updated' && e.payload.id === r.id));
    const mine = seen.filter((e) => e.payload?.id === reply.id || e.payload?.id === r.id);
    expect(mine.map((e) => [e.event, e.payload.updatedSeq])).toEqual([
      ['chat:message_received', reply.seq],
      ['chat:message_updated', reply.seq + 1],
    ]);
    expect(mine[1]!.payload.thread).toMatchObject({ replyCount: 1, participantIds: [bob.id] });
  });

  it('deleting a reply counts it out; the root takes a seq for that', async () => {
    const r = await root(alice);
    const one = (await send(bob, groupId, 'one', { threadRootId: r.id })).body;
    await send(carol, groupId, 'two', { threadRootId: r.id });
    const deleted = await bob.api.delete(`/api/messages/${one.id}`);
    expect(deleted.status).toBe(200);
    const t = await thread(alice, groupId, r.id);
    expect(t.body.root.thread).toMatchObject({ replyCount: 1, participantIds: [bob.id, carol.id] });
    expect(t.body.root.updatedSeq).toBe(deleted.body.updatedSeq + 1);
    expect(t.body.messages.map((m: Message) => m.deletedAt !== null)).toEqual([true, false]);
  });
});

describe('refusals and access', () => {
  it('refuses a root of another conversation (NOT_FOUND), a reply as root and alsoToChannel alone (VALIDATION_ERROR)', async () => {
    const other = await createGroup(bob, [carol], 'Other');
    const foreign = await root(bob, other);
    const r = await root(alice);
    const reply = (await send(bob, groupId, 'reply', { threadRootId: r.id })).body;
    const before = (await alice.api.get(`/api/conversations/${groupId}`)).body.lastSeq;
    const cross = await send(bob, groupId, 'x', { threadRootId: foreign.id });
    expect(cross.status).toBe(404);
    expect(cross.body.error.code).toBe('NOT_FOUND');
    const nested = await send(bob, groupId, 'x', { threadRootId: reply.id });
    expect(nested.status).toBe(400);
    expect(nested.body.error.code).toBe('VALIDATION_ERROR');
    expect((await send(bob, groupId, 'x', { alsoToChannel: true })).status).toBe(400);
    expect((await alice.api.get(`/api/conversations/${groupId}`)).body.lastSeq).toBe(before);
    // Listing the thread of a reply, or of a message of another conversation: no such thread.
    expect((await thread(alice, groupId, reply.id)).status).toBe(404);
    expect((await thread(carol, groupId, foreign.id)).status).toBe(404);
    expect((await bob.api.put(`/api/messages/${reply.id}/follow`, { following: true })).status).toBe(400);
  });

  it('a non-member cannot read a thread, follow it or reply: NOT_FOUND, as for ids that do not exist', async () => {
    const r = await root(alice);
    await send(bob, groupId, 'secret reply', { threadRootId: r.id });
    const read = await thread(mallory, groupId, r.id);
    expect(read.status).toBe(404);
    expect(JSON.stringify(read.body)).not.toContain('secret');
    const follow = await mallory.api.put(`/api/messages/${r.id}/follow`, { following: true });
    expect(follow.status).toBe(404);
    const ghost = await mallory.api.put('/api/messages/no-such-message/follow', { following: true });
    expect(ghost.status).toBe(404);
    expect(follow.body.error.message).toBe(ghost.body.error.message);
    const reply = await send(mallory, groupId, 'let me in', { threadRootId: r.id });
    expect(reply.status).toBe(404);
    const nothing = await send(mallory, groupId, 'let me in', { threadRootId: 'no-such-message' });
    expect(nothing.status).toBe(404);
    expect(reply.body.error.message).toBe(nothing.body.error.message);
    // Into a conversation of their own, with someone else's root: the root is not there.
    const own = await createGroup(mallory, [], 'Mine');
    expect((await send(mallory, own, 'steal', { threadRootId: r.id })).status).toBe(404);
    expect((await thread(mallory, own, r.id)).status).toBe(404);
    expect(await threads(mallory)).toEqual([]);
  });

  it('hostile ids and input get the contract’s codes', async () => {
    const r = await root(alice);
    for (const id of ["' OR 1=1 --", '../../etc/passwd', '%00', 'x'.repeat(64)]) {
      expect((await send(bob, groupId, 'x', { threadRootId: id })).status).toBe(404);
      expect((await thread(bob, groupId, id)).status).toBe(404);
    }
    expect((await send(bob, groupId, 'x', { threadRootId: 'x'.repeat(65) })).status).toBe(400);
    expect((await thread(bob, groupId, 'x'.repeat(65))).status).toBe(400);
    expect((await send(bob, groupId, 'x', { threadRootId: 42 })).status).toBe(400);
    expect((await send(bob, groupId, 'x', { threadRootId: r.id, alsoToChannel: 'yes' })).status).toBe(400);
    expect((await bob.api.put(`/api/messages/${r.id}/follow`, { following: 'yes' })).status).toBe(400);
    expect((await bob.api.put(`/api/messages/${r.id}/follow`, { following: true, extra: 1 })).status).toBe(400);
    expect((await bob.api.get('/api/threads?cursor=not-a-cursor')).status).toBe(400);
    expect((await bob.api.get('/api/threads?limit=0')).status).toBe(400);
    expect((await bob.api.as(undefined).get('/api/threads')).status).toBe(401);
  });
});

describe('following', () => {
  it('the root’s author and repliers follow; the list counts replies of others after each one’s watermark', async () => {
    const conv = await createGroup(alice, [bob, carol], 'Follow');
    const r = await root(alice, conv);
    const b1 = (await send(bob, conv, 'b1', { threadRootId: r.id })).body;
    let a = (await threads(alice)).find((t) => t.root.id === r.id);
    expect(a).toMatchObject({ conversationId: conv, unreadCount: 1, root: { thread: { replyCount: 1 } } });
    expect((await threads(bob)).find((t) => t.root.id === r.id)).toMatchObject({ unreadCount: 0 });
    expect((await threads(carol)).find((t) => t.root.id === r.id)).toBeUndefined();

    // Carol follows: what was there is not news; later replies are.
    const f = await carol.api.put(`/api/messages/${r.id}/follow`, { following: true });
    expect(f.status).toBe(200);
    expect(f.body).toMatchObject({ rootId: r.id, conversationId: conv, following: true });
    expect((await threads(carol)).find((t) => t.root.id === r.id)).toMatchObject({ unreadCount: 0 });
    const b2 = (await send(bob, conv, 'b2', { threadRootId: r.id })).body;
    expect((await threads(carol)).find((t) => t.root.id === r.id)).toMatchObject({ unreadCount: 1 });
    a = (await threads(alice)).find((t) => t.root.id === r.id);
    expect(a?.unreadCount).toBe(2);

    // Reading a reply moves the thread's watermark, not the conversation's.
    const convBefore = (await alice.api.get(`/api/conversations/${conv}`)).body.lastReadSeq;
    expect((await alice.api.post(`/api/messages/${b1.id}/status`, { status: 'read' })).status).toBe(200);
    expect((await threads(alice)).find((t) => t.root.id === r.id)?.unreadCount).toBe(1);
    await alice.api.post(`/api/messages/${b2.id}/status`, { status: 'read' });
    expect((await threads(alice)).find((t) => t.root.id === r.id)?.unreadCount).toBe(0);
    expect((await alice.api.get(`/api/conversations/${conv}`)).body.lastReadSeq).toBe(convBefore);

    // Unfollowing takes it off the list; replying follows again.
    expect((await alice.api.put(`/api/messages/${r.id}/follow`, { following: false })).body.following).toBe(false);
    expect((await threads(alice)).find((t) => t.root.id === r.id)).toBeUndefined();
    await send(alice, conv, 'back', { threadRootId: r.id });
    expect((await threads(alice)).find((t) => t.root.id === r.id)).toMatchObject({ unreadCount: 0 });

    // Leaving the conversation leaves its threads out of the list.
    expect((await carol.api.delete(`/api/conversations/${conv}/participants/${carol.id}`)).status).toBeLessThan(300);
    expect((await threads(carol)).find((t) => t.root.id === r.id)).toBeUndefined();
  });

  it('lists the latest reply first, and pages with a cursor', async () => {
    const dave = await registerUser(server, 'dave');
    const conv = await createGroup(dave, [bob], 'Pages');
    const roots: Message[] = [];
    for (let i = 0; i < 5; i++) roots.push(await root(dave, conv, `p${i}`));
    for (const r of [...roots].reverse()) await send(bob, conv, `on ${r.content}`, { threadRootId: r.id });
    await send(bob, conv, 'again', { threadRootId: roots[2]!.id });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { threads: { root: Message }[]; nextCursor: string | null } } = await dave.api.get(`/api/threads?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.threads.map((t) => t.root.content));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['p2', 'p0', 'p1', 'p3', 'p4']);
  });
});

describe('notifications', () => {
  it('a reply notifies the thread’s followers instead of the whole conversation', async () => {
    // In a direct conversation every message notifies in app; a thread reply only its followers.
    const direct = await alice.api.post('/api/conversations/direct', { userId: bob.id });
    const conv = direct.body.id as string;
    const s = await connect(server.url, alice.accessToken);
    sockets.push(s);
    const r = await root(alice, conv, 'direct root');
    const told = waitFor<any>(s, 'notification', (e) => e.conversationId === conv);
    const reply = (await send(bob, conv, 'in your thread', { threadRootId: r.id })).body;
    expect(await told).toMatchObject({ messageId: reply.id, threadRootId: r.id, title: expect.stringContaining('thread') });

    await alice.api.put(`/api/messages/${r.id}/follow`, { following: false });
    const seen = record(s);
    await send(bob, conv, 'nobody follows', { threadRootId: r.id });
    const plain = (await send(bob, conv, 'main line')).body;
    await until(() => seen.some((e) => e.event === 'notification' && e.payload.messageId === plain.id));
    expect(seen.filter((e) => e.event === 'notification').map((e) => e.payload.messageId)).toEqual([plain.id]);
  });

  it('a member mentioned in a thread is told, follower or not', async () => {
    const conv = await createGroup(alice, [bob, carol], 'Mentions');
    const s = await connect(server.url, carol.accessToken);
    sockets.push(s);
    const r = await root(alice, conv);
    const told = waitFor<any>(s, 'notification', (e) => e.conversationId === conv);
    const reply = (await send(bob, conv, `@${carol.user.handle} look`, { threadRootId: r.id })).body;
    expect(await told).toMatchObject({ kind: 'mention', messageId: reply.id, threadRootId: r.id });
  });
});
