import type { Conversation } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusEvent } from '../../bus/bus.ts';
import { sendMessage } from '../../operations/messages.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

/** Registers one fresh user per name; typed as a tuple so destructuring needs no `!`. */
const users = <N extends string[]>(...names: N) => Promise.all(names.map((n) => registerUser(server, n))) as Promise<{ [K in keyof N]: TestUser }>;

async function group(owner: TestUser, title: string, members: TestUser[] = []): Promise<Conversation> {
  const res = await owner.api.post('/api/conversations/group', { title, participantIds: members.map((m) => m.id) });
  expect(res.status).toBe(201);
  return res.body;
}

let clientSeq = 0;
async function say(user: TestUser, conversationId: string, content = 'hello') {
  return (await sendMessage(server.ctx, user.id, { conversationId, content, clientId: `c${++clientSeq}` })).message;
}

/** Bus events published while `fn` runs. */
async function recordBus<T>(fn: () => Promise<T>): Promise<{ result: T; events: BusEvent[] }> {
  const events: BusEvent[] = [];
  const stop = server.ctx.bus.subscribe((e) => events.push(e));
  try {
    return { result: await fn(), events };
  } finally {
    stop();
  }
}

const setRole = (by: TestUser, convId: string, who: TestUser, role: string) => by.api.patch(`/api/conversations/${convId}/participants/${who.id}`, { role });
const roleOf = (c: Conversation, u: TestUser) => c.members.find((m) => m.userId === u.id)?.role;
const list = async (u: TestUser, qs = '') => (await u.api.get(`/api/conversations${qs}`)).body as { conversations: Conversation[]; nextCursor: string | null };

describe('direct conversations', () => {
  it('creates once (201) and then returns the same one (200), from either side', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const first = await alice.api.post('/api/conversations/direct', { userId: bob.id });
    expect(first.status).toBe(201);
    expect(first.body.type).toBe('direct');
    expect(first.body.title).toBeNull();
    expect(first.body.members.map((m: any) => m.userId).sort()).toEqual([alice.id, bob.id].sort());
    expect(first.body.members.every((m: any) => m.role === 'member')).toBe(true);
    expect(first.body.members.find((m: any) => m.userId === bob.id).user.displayName).toBe('bob');
    expect(first.body).toMatchObject({ role: 'member', pinned: false, muted: false, archived: false, draft: null, projectId: null, unreadCount: 0, lastMessage: null, lastSeq: 0, generating: false });
    const again = await alice.api.post('/api/conversations/direct', { userId: bob.id });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const reverse = await bob.api.post('/api/conversations/direct', { userId: alice.id });
    expect(reverse.status).toBe(200);
    expect(reverse.body.id).toBe(first.body.id);
  });

  it('refuses yourself, unknown users and bots', async () => {
    const [carol] = await users('carol');
    const self = await carol.api.post('/api/conversations/direct', { userId: carol.id });
    expect(self.status).toBe(400);
    expect(self.body.error.code).toBe('VALIDATION_ERROR');
    const unknown = await carol.api.post('/api/conversations/direct', { userId: 'no-such-user' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    const bot = await carol.api.post('/api/conversations/direct', { userId: 'assistant' });
    expect(bot.status).toBe(400);
    expect((await list(carol)).conversations).toEqual([]);
  });

  it('10 concurrent creates make exactly one conversation', async () => {
    const [dan, eve] = await users('dan', 'eve');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? dan : eve).api.post('/api/conversations/direct', { userId: i % 2 ? eve.id : dan.id })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    const key = [dan.id, eve.id].sort().join(':');
    const rows = await server.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM conversations WHERE direct_key = $1', [key]);
    expect(rows[0]!.n).toBe(1);
    const members = await server.ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM conversation_members WHERE conversation_id = $1', [results[0]!.body.id]);
    expect(members[0]!.n).toBe(2);
  });

  it('either side may leave; asking again brings the leaver back; the last one leaving deletes it', async () => {
    const [fay, gus] = await users('fay', 'gus');
    const conv = (await fay.api.post('/api/conversations/direct', { userId: gus.id })).body;
    await say(fay, conv.id, 'before leaving');
    expect((await gus.api.delete(`/api/conversations/${conv.id}`)).status).toBe(204);
    expect((await gus.api.get(`/api/conversations/${conv.id}`)).status).toBe(404);
    const fayView = (await fay.api.get(`/api/conversations/${conv.id}`)).body;
    expect(fayView.members.map((m: any) => m.userId)).toEqual([fay.id]);
    expect(fayView.lastMessage.kind).toBe('system');
    expect(fayView.lastMessage.content).toBe('gus left');
    // Gus asks for the conversation again: same one, history kept.
    const back = await gus.api.post('/api/conversations/direct', { userId: fay.id });
    expect(back.status).toBe(200);
    expect(back.body.id).toBe(conv.id);
    expect(back.body.members).toHaveLength(2);
    expect(back.body.lastMessage.content).toBe('gus rejoined the conversation');
    // Both leave: gone, messages included.
    await gus.api.delete(`/api/conversations/${conv.id}/participants/${gus.id}`);
    await fay.api.delete(`/api/conversations/${conv.id}`);
    expect(await server.ctx.db.query('SELECT 1 FROM conversations WHERE id = $1', [conv.id])).toHaveLength(0);
    expect(await server.ctx.db.query('SELECT 1 FROM messages WHERE conversation_id = $1', [conv.id])).toHaveLength(0);
    const fresh = await fay.api.post('/api/conversations/direct', { userId: gus.id });
    expect(fresh.status).toBe(201);
    expect(fresh.body.id).not.toBe(conv.id);
  });
});

describe('group and assistant conversations', () => {
  it('creates a group: caller owner, others members, ids deduped, own id ignored', async () => {
    const [owner, a, b] = await users('owner', 'a', 'b');
    const res = await owner.api.post('/api/conversations/group', { title: '  Team  ', participantIds: [a.id, b.id, a.id, owner.id] });
    expect(res.status).toBe(201);
    expect(res.body.title).toBe('Team');
    expect(res.body.role).toBe('owner');
    expect(res.body.members).toHaveLength(3);
    expect(roleOf(res.body, owner)).toBe('owner');
    expect(roleOf(res.body, a)).toBe('member');
    expect(roleOf(res.body, b)).toBe('member');
    expect(res.body.members[0].userId).toBe(owner.id);
    // A member sees it too, with their own role.
    expect((await a.api.get(`/api/conversations/${res.body.id}`)).body.role).toBe('member');
  });

  it('creates nothing when a participant is unknown', async () => {
    const [owner, a] = await users('owner', 'a');
    const res = await owner.api.post('/api/conversations/group', { title: 'X', participantIds: [a.id, 'ghost'] });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    expect((await list(owner)).conversations).toHaveLength(0);
    expect((await list(a)).conversations).toHaveLength(0);
  });

  it('validates the body', async () => {
    const [owner] = await users('owner');
    expect((await owner.api.post('/api/conversations/group', { title: '', participantIds: [] })).status).toBe(400);
    expect((await owner.api.post('/api/conversations/group', { title: 'x', participantIds: [], extra: 1 })).status).toBe(400);
    expect((await owner.api.post('/api/conversations/group', { participantIds: [] })).status).toBe(400);
    // participantIds defaults to none: a group of one.
    const solo = await owner.api.post('/api/conversations/group', { title: 'notes' });
    expect(solo.status).toBe(201);
    expect(solo.body.members).toHaveLength(1);
  });

  it('creates assistant conversations with the assistant bot as a member', async () => {
    const [u] = await users('u');
    const plain = await u.api.post('/api/conversations/assistant', {});
    expect(plain.status).toBe(201);
    expect(plain.body).toMatchObject({ type: 'assistant', model: 'default', title: null, role: 'owner' });
    const bot = plain.body.members.find((m: any) => m.userId === 'assistant');
    expect(bot).toMatchObject({ role: 'member', user: { isBot: true, handle: 'assistant' } });
    // A named model must be one GET /api/models lists for the caller (none here: no AI configured).
    expect((await u.api.post('/api/conversations/assistant', { model: 'gpt-4o-mini', title: 'Recipes' })).status).toBe(400);
    const custom = await u.api.post('/api/conversations/assistant', { title: 'Recipes' });
    expect(custom.status).toBe(201);
    expect(custom.body).toMatchObject({ model: 'default', title: 'Recipes' });
    const stored = await server.ctx.db.query<{ model: string }>('SELECT model FROM conversations WHERE id = $1', [custom.body.id]);
    expect(stored[0]!.model).toBe('default');
    // The owner renames it; adding people to it is not a thing.
    expect((await u.api.patch(`/api/conversations/${custom.body.id}`, { title: 'Cooking' })).body.title).toBe('Cooking');
    const [other] = await users('other');
    expect((await u.api.post(`/api/conversations/${custom.body.id}/participants`, { userIds: [other.id] })).status).toBe(403);
    expect((await u.api.delete(`/api/conversations/${custom.body.id}/participants/assistant`)).status).toBe(403);
  });

  it('publishes membership, then each member’s own view, after the create commits', async () => {
    const [owner, a] = await users('owner', 'a');
    const { result, events } = await recordBus(() => group(owner, 'Announced', [a]));
    const joins = events.filter((e) => e.type === 'membership');
    expect(joins).toEqual([
      { type: 'membership', userId: owner.id, conversationId: result.id, joined: true },
      { type: 'membership', userId: a.id, conversationId: result.id, joined: true },
    ]);
    const updates = events.filter((e) => e.type === 'emit' && e.event === 'conversation:update');
    expect(updates.map((e) => e.type === 'emit' && e.room)).toEqual([`user:${owner.id}`, `user:${a.id}`]);
    expect(events.findIndex((e) => e.type === 'emit')).toBeGreaterThan(events.findIndex((e) => e.type === 'membership' && e.userId === a.id));
  });
});

describe('GET /api/conversations', () => {
  it('orders pinned first, then by last activity; counts unread; shows the last message', async () => {
    const [me, bob, carol] = await users('me', 'bob', 'carol');
    const g1 = await group(me, 'first', [bob]);
    const g2 = await group(me, 'second', [bob]);
    const d = (await me.api.post('/api/conversations/direct', { userId: carol.id })).body as Conversation;
    // Newest created first when nothing was said.
    expect((await list(me)).conversations.map((c) => c.id)).toEqual([d.id, g2.id, g1.id]);
    // Activity moves a conversation up.
    await say(bob, g1.id, 'one');
    await say(bob, g1.id, 'two');
    await say(me, g1.id, 'mine');
    await say(bob, g1.id, 'three');
    expect((await list(me)).conversations.map((c) => c.id)).toEqual([g1.id, d.id, g2.id]);
    // Pinned beats activity.
    await me.api.patch(`/api/conversations/${g2.id}`, { pinned: true });
    const view = await list(me);
    expect(view.conversations.map((c) => c.id)).toEqual([g2.id, g1.id, d.id]);
    expect(view.nextCursor).toBeNull();
    const first = view.conversations.find((c) => c.id === g1.id)!;
    // My own message and everything before my last send count as read.
    expect(first.unreadCount).toBe(1);
    expect(first.lastMessage).toMatchObject({ content: 'three', authorId: bob.id, seq: 4 });
    expect(first.lastSeq).toBe(4);
    expect(first.members).toHaveLength(2);
    // Bob wrote most of it: his unread count is just my message.
    expect((await list(bob)).conversations.find((c) => c.id === g1.id)!.unreadCount).toBe(0);
    expect((await list(bob)).conversations.map((c) => c.id)).toEqual([g1.id, g2.id]);
  });

  it('counts neither system messages, nor deleted ones, nor ones read', async () => {
    const [me, bob, carol] = await users('me', 'bob', 'carol');
    const g = await group(me, 'counts', [bob]);
    await say(bob, g.id, 'a');
    const b = await say(bob, g.id, 'b');
    await say(bob, g.id, 'c');
    await me.api.post(`/api/conversations/${g.id}/participants`, { userIds: [carol.id] });
    await me.api.patch(`/api/conversations/${g.id}`, { title: 'renamed' });
    expect((await me.api.get(`/api/conversations/${g.id}`)).body.unreadCount).toBe(3);
    await server.ctx.db.query('UPDATE messages SET deleted_at = now() WHERE id = $1', [b.id]);
    expect((await me.api.get(`/api/conversations/${g.id}`)).body.unreadCount).toBe(2);
    await server.ctx.db.query('UPDATE conversation_members SET last_read_seq = 3 WHERE conversation_id = $1 AND user_id = $2', [g.id, me.id]);
    const after = (await me.api.get(`/api/conversations/${g.id}`)).body;
    expect(after.unreadCount).toBe(0);
    expect(after.lastReadSeq).toBe(3);
    expect(after.lastMessage.kind).toBe('system');
    // Carol joined after those messages: nothing is unread for her, and her watermark is her joining.
    const carolView = (await carol.api.get(`/api/conversations/${g.id}`)).body;
    expect(carolView.unreadCount).toBe(0);
    expect(carolView.lastReadSeq).toBe(4);
  });

  it('pages through 3 pages with nextCursor, without gaps or repeats', async () => {
    const [me] = await users('pager');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await group(me, `g${i}`)).id);
    // Same activity time for several rows: the id breaks the tie, so paging must still be exact.
    await server.ctx.db.query(`UPDATE conversations SET last_activity_at = '2030-01-01T00:00:00.123456Z' WHERE id = ANY($1::text[])`, [ids.slice(2, 6)]);
    await me.api.patch(`/api/conversations/${ids[0]}`, { pinned: true });
    const seen: string[] = [];
    let cursor: string | null = null;
    const sizes: number[] = [];
    do {
      const page: { conversations: Conversation[]; nextCursor: string | null } = await list(me, `?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      sizes.push(page.conversations.length);
      seen.push(...page.conversations.map((c) => c.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(sizes).toEqual([3, 3, 1]);
    expect(seen).toEqual((await list(me, '?limit=50')).conversations.map((c) => c.id));
    expect(new Set(seen).size).toBe(7);
    expect(seen[0]).toBe(ids[0]);
  });

  it('refuses malformed cursors and limits', async () => {
    const [me] = await users('me');
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const cursor of ['garbage!', 'abc', b64({ a: 1 }), b64([true, 'yesterday', 'x']), b64([false, '2024-02-30T00:00:00.000000Z', 'x']), b64([1, '2024-01-01T00:00:00.000000Z', 'x'])]) {
      const res = await me.api.get(`/api/conversations?cursor=${encodeURIComponent(cursor)}`);
      expect(res.status, cursor).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    expect((await me.api.get('/api/conversations?limit=0')).status).toBe(400);
    expect((await me.api.get('/api/conversations?limit=201')).status).toBe(400);
    expect((await me.api.get('/api/conversations?archived=maybe')).status).toBe(400);
    expect((await me.api.get(`/api/conversations?cursor=${b64([false, '2024-01-01T00:00:00.000000Z', 'x'])}`)).status).toBe(200);
  });

  it('searches titles (escaping % and _) and direct conversations by the other person', async () => {
    const [me, zed] = await users('searcher', 'zebulon');
    await me.api.patch('/api/users/me', { displayName: 'Searcher' });
    const launch = await group(me, 'Launch plans');
    const percent = await group(me, '100% done');
    const under = await group(me, 'a_b');
    const lookalike = await group(me, 'aXb');
    const d = (await me.api.post('/api/conversations/direct', { userId: zed.id })).body;
    const ids = async (q: string) => (await list(me, `?query=${encodeURIComponent(q)}`)).conversations.map((c) => c.id);
    expect(await ids('launch')).toEqual([launch.id]);
    expect(await ids('%')).toEqual([percent.id]);
    // '_' is literal, not "any character"; the direct conversation matches through zebulon's handle (name<n>_<hex>).
    expect((await ids('_')).sort()).toEqual([under.id, d.id].sort());
    expect(await ids('_')).not.toContain(lookalike.id);
    expect(await ids('ZEBU')).toEqual([d.id]);
    expect(await ids(zed.user.handle.slice(0, 9))).toEqual([d.id]);
    // My own name does not match my direct conversations.
    expect(await ids('searcher')).toEqual([]);
  });

  it('hides archived conversations unless asked', async () => {
    const [me] = await users('archiver');
    const kept = await group(me, 'kept');
    const old = await group(me, 'old');
    await me.api.patch(`/api/conversations/${old.id}`, { archived: true });
    expect((await list(me)).conversations.map((c) => c.id)).toEqual([kept.id]);
    expect((await list(me, '?archived=true')).conversations.map((c) => c.id)).toEqual([old.id]);
    expect((await list(me, '?archived=all')).conversations.map((c) => c.id).sort()).toEqual([kept.id, old.id].sort());
  });
});

describe('PATCH /api/conversations/:id', () => {
  it('keeps each member’s own state to themself; drafts are encrypted at rest', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const g = await group(alice, 'private state', [bob]);
    const secret = 'my unsent draft about the surprise party';
    const { result: res, events } = await recordBus(() => bob.api.patch(`/api/conversations/${g.id}`, { pinned: true, muted: true, draft: secret, archived: true }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ pinned: true, muted: true, archived: true, draft: secret });
    expect((await bob.api.get(`/api/conversations/${g.id}`)).body.draft).toBe(secret);
    const aliceView = (await alice.api.get(`/api/conversations/${g.id}`)).body;
    expect(aliceView).toMatchObject({ pinned: false, muted: false, archived: false, draft: null });
    const [row] = await server.ctx.db.query<{ draft_enc: string }>('SELECT draft_enc FROM conversation_members WHERE conversation_id = $1 AND user_id = $2', [g.id, bob.id]);
    expect(row!.draft_enc).toBeTruthy();
    expect(row!.draft_enc).not.toContain('surprise');
    expect(server.ctx.keys.decrypt(row!.draft_enc)).toBe(secret);
    // Only Bob's own devices hear about it.
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'emit', room: `user:${bob.id}`, event: 'conversation:update' });
    // null and "" clear the draft.
    expect((await bob.api.patch(`/api/conversations/${g.id}`, { draft: null })).body.draft).toBeNull();
    await bob.api.patch(`/api/conversations/${g.id}`, { draft: 'x' });
    expect((await bob.api.patch(`/api/conversations/${g.id}`, { draft: '' })).body.draft).toBeNull();
    const [cleared] = await server.ctx.db.query<{ draft_enc: string | null }>('SELECT draft_enc FROM conversation_members WHERE conversation_id = $1 AND user_id = $2', [g.id, bob.id]);
    expect(cleared!.draft_enc).toBeNull();
  });

  it('renames for owners and admins with a system message; never leaks drafts to the room', async () => {
    const [alice, bob, carol] = await users('Alice', 'bob', 'carol');
    const g = await group(alice, 'Old', [bob, carol]);
    await alice.api.patch(`/api/conversations/${g.id}`, { draft: 'alice secret draft' });
    const { result: res, events } = await recordBus(() => alice.api.patch(`/api/conversations/${g.id}`, { title: 'New name' }));
    expect(res.status).toBe(200);
    expect(res.body.title).toBe('New name');
    expect(res.body.lastSeq).toBe(1);
    expect(res.body.lastMessage).toMatchObject({ kind: 'system', seq: 1, content: 'Alice renamed the conversation to "New name"', authorId: alice.id });
    const roomEvents = events.filter((e) => e.type === 'emit' && e.room === `conv:${g.id}`);
    expect(roomEvents.map((e) => e.type === 'emit' && e.event)).toEqual(['chat:message_received', 'conversation:update']);
    for (const e of roomEvents) {
      expect(JSON.stringify(e)).not.toContain('alice secret draft');
      if (e.type === 'emit' && e.event === 'conversation:update') expect(e.payload).not.toHaveProperty('draft');
    }
    expect((await carol.api.get(`/api/conversations/${g.id}`)).body.title).toBe('New name');
    // The same title again changes nothing and takes no seq.
    expect((await alice.api.patch(`/api/conversations/${g.id}`, { title: 'New name' })).body.lastSeq).toBe(1);
    // An admin may rename; a moderator or member may not.
    await setRole(alice, g.id, bob, 'admin');
    expect((await bob.api.patch(`/api/conversations/${g.id}`, { title: 'By admin' })).status).toBe(200);
    await setRole(alice, g.id, carol, 'moderator');
    const denied = await carol.api.patch(`/api/conversations/${g.id}`, { title: 'By moderator', pinned: true });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');
    // The whole request failed: the pin did not happen either.
    const carolView = (await carol.api.get(`/api/conversations/${g.id}`)).body;
    expect(carolView.pinned).toBe(false);
    expect(carolView.title).toBe('By admin');
  });

  it('refuses a title on a direct conversation', async () => {
    const [a, b] = await users('a', 'b');
    const d = (await a.api.post('/api/conversations/direct', { userId: b.id })).body;
    const res = await a.api.patch(`/api/conversations/${d.id}`, { title: 'Us' });
    expect(res.status).toBe(403);
    expect((await a.api.get(`/api/conversations/${d.id}`)).body.title).toBeNull();
  });

  it('files a conversation in one of the caller’s own projects only', async () => {
    const [alice, bob] = await users('alice', 'bob');
    const g = await group(alice, 'filed', [bob]);
    const mine = (await alice.api.post('/api/projects', { name: 'Work' })).body;
    const theirs = (await bob.api.post('/api/projects', { name: 'Bob stuff' })).body;
    expect((await alice.api.patch(`/api/conversations/${g.id}`, { projectId: theirs.id })).status).toBe(404);
    expect((await alice.api.patch(`/api/conversations/${g.id}`, { projectId: 'nope' })).status).toBe(404);
    const filed = await alice.api.patch(`/api/conversations/${g.id}`, { projectId: mine.id });
    expect(filed.body.projectId).toBe(mine.id);
    expect((await bob.api.get(`/api/conversations/${g.id}`)).body.projectId).toBeNull();
    expect((await alice.api.patch(`/api/conversations/${g.id}`, { projectId: null })).body.projectId).toBeNull();
    await alice.api.patch(`/api/conversations/${g.id}`, { projectId: mine.id });
    expect((await alice.api.delete(`/api/projects/${mine.id}`)).status).toBe(204);
    expect((await alice.api.get(`/api/conversations/${g.id}`)).body.projectId).toBeNull();
  });

  it('answers an empty patch with the conversation and rejects unknown fields', async () => {
    const [a] = await users('a');
    const g = await group(a, 'g');
    expect((await a.api.patch(`/api/conversations/${g.id}`, {})).body.id).toBe(g.id);
    expect((await a.api.patch(`/api/conversations/${g.id}`, { type: 'direct' })).status).toBe(400);
  });
});

describe('DELETE /api/conversations/:id', () => {
  it('the owner deletes a group for everyone, messages and all, and everyone is told', async () => {
    const [owner, a, b] = await users('owner', 'a', 'b');
    const g = await group(owner, 'doomed', [a, b]);
    const m = await say(a, g.id, 'soon gone');
    await server.ctx.db.query(`INSERT INTO message_reactions (message_id, user_id, emoji) VALUES ($1, $2, '👍')`, [m.id, b.id]);
    const { result: res, events } = await recordBus(() => owner.api.delete(`/api/conversations/${g.id}`));
    expect(res.status).toBe(204);
    for (const table of ['conversations WHERE id', 'messages WHERE conversation_id', 'conversation_members WHERE conversation_id']) {
      expect(await server.ctx.db.query(`SELECT 1 FROM ${table} = $1`, [g.id])).toHaveLength(0);
    }
    expect(await server.ctx.db.query('SELECT 1 FROM message_reactions WHERE message_id = $1', [m.id])).toHaveLength(0);
    for (const u of [owner, a, b]) {
      expect(events).toContainEqual({ type: 'membership', userId: u.id, conversationId: g.id, joined: false });
      expect(events).toContainEqual({ type: 'emit', room: `user:${u.id}`, event: 'conversation:update', payload: { id: g.id, deleted: true } });
      expect((await u.api.get(`/api/conversations/${g.id}`)).status).toBe(404);
    }
  });

  it('anyone else leaves instead', async () => {
    const [owner, a] = await users('owner', 'a');
    const g = await group(owner, 'stays', [a]);
    expect((await a.api.delete(`/api/conversations/${g.id}`)).status).toBe(204);
    expect((await a.api.get(`/api/conversations/${g.id}`)).status).toBe(404);
    const view = (await owner.api.get(`/api/conversations/${g.id}`)).body;
    expect(view.members.map((m: any) => m.userId)).toEqual([owner.id]);
    expect(view.lastMessage.content).toBe('a left');
  });

  it('the owner deletes an assistant conversation', async () => {
    const [u] = await users('u');
    const c = (await u.api.post('/api/conversations/assistant', {})).body;
    expect((await u.api.delete(`/api/conversations/${c.id}`)).status).toBe(204);
    expect(await server.ctx.db.query('SELECT 1 FROM conversations WHERE id = $1', [c.id])).toHaveLength(0);
  });
});

describe('participants', () => {
  it('admins add people with one system message; already-members are skipped', async () => {
    const [owner, a, b, c] = await users('Olga', 'Ann', 'Ben', 'Cid');
    const g = await group(owner, 'grow', [a]);
    const { result: res, events } = await recordBus(() => owner.api.post(`/api/conversations/${g.id}/participants`, { userIds: [b.id, c.id, a.id, b.id] }));
    expect(res.status).toBe(200);
    expect(res.body.members).toHaveLength(4);
    expect(res.body.lastSeq).toBe(1);
    expect(res.body.lastMessage).toMatchObject({ kind: 'system', content: 'Olga added Ben and Cid' });
    // Joins are published before anything is sent to the room, so the new members' sockets get it.
    const kinds = events.map((e) => (e.type === 'membership' ? `join:${e.userId}` : e.type === 'emit' ? `${e.room}:${e.event}` : e.type));
    expect(kinds.indexOf(`join:${b.id}`)).toBeLessThan(kinds.indexOf(`conv:${g.id}:conversation:update`));
    expect(kinds.indexOf(`join:${c.id}`)).toBeLessThan(kinds.indexOf(`conv:${g.id}:chat:message_received`));
    expect(kinds).toContain(`user:${b.id}:conversation:update`);
    expect((await b.api.get(`/api/conversations/${g.id}`)).body.role).toBe('member');
    // Nobody new: nothing happens.
    const again = await owner.api.post(`/api/conversations/${g.id}/participants`, { userIds: [b.id] });
    expect(again.status).toBe(200);
    expect(again.body.lastSeq).toBe(1);
  });

  it('adds with a role no higher than the adder may give', async () => {
    const [owner, admin, x, y] = await users('owner', 'admin', 'x', 'y');
    const g = await group(owner, 'roles', [admin]);
    await setRole(owner, g.id, admin, 'admin');
    expect((await admin.api.post(`/api/conversations/${g.id}/participants`, { userIds: [x.id], role: 'admin' })).status).toBe(403);
    const mod = await admin.api.post(`/api/conversations/${g.id}/participants`, { userIds: [x.id], role: 'moderator' });
    expect(roleOf(mod.body, x)).toBe('moderator');
    const adm = await owner.api.post(`/api/conversations/${g.id}/participants`, { userIds: [y.id], role: 'admin' });
    expect(roleOf(adm.body, y)).toBe('admin');
    expect((await owner.api.post(`/api/conversations/${g.id}/participants`, { userIds: [y.id], role: 'owner' })).status).toBe(400);
  });

  it('adds nobody when one id is unknown; refuses moderators, members and direct conversations', async () => {
    const [owner, mod, member, x] = await users('owner', 'mod', 'member', 'x');
    const g = await group(owner, 'strict', [mod, member]);
    await setRole(owner, g.id, mod, 'moderator');
    const unknown = await owner.api.post(`/api/conversations/${g.id}/participants`, { userIds: [x.id, 'ghost'] });
    expect(unknown.status).toBe(404);
    const view = (await owner.api.get(`/api/conversations/${g.id}`)).body;
    expect(view.members).toHaveLength(3);
    expect(view.lastSeq).toBe(1);
    expect((await mod.api.post(`/api/conversations/${g.id}/participants`, { userIds: [x.id] })).status).toBe(403);
    expect((await member.api.post(`/api/conversations/${g.id}/participants`, { userIds: [x.id] })).status).toBe(403);
    const d = (await owner.api.post('/api/conversations/direct', { userId: member.id })).body;
    expect((await owner.api.post(`/api/conversations/${d.id}/participants`, { userIds: [x.id] })).status).toBe(403);
    expect((await owner.api.post(`/api/conversations/${g.id}/participants`, { userIds: [] })).status).toBe(400);
  });

  it('can add the assistant bot to a group', async () => {
    const [owner] = await users('owner');
    const g = await group(owner, 'with ai');
    const res = await owner.api.post(`/api/conversations/${g.id}/participants`, { userIds: ['assistant'] });
    expect(res.status).toBe(200);
    expect(res.body.members.map((m: any) => m.userId)).toContain('assistant');
  });

  it('removes by rank: admins remove those below them, never peers or superiors', async () => {
    const [owner, admin, admin2, mod, member] = await users('Owner', 'Admin', 'admin2', 'mod', 'Member');
    const g = await group(owner, 'ranks', [admin, admin2, mod, member]);
    await setRole(owner, g.id, admin, 'admin');
    await setRole(owner, g.id, admin2, 'admin');
    await setRole(owner, g.id, mod, 'moderator');
    expect((await admin.api.delete(`/api/conversations/${g.id}/participants/${admin2.id}`)).status).toBe(403);
    expect((await admin.api.delete(`/api/conversations/${g.id}/participants/${owner.id}`)).status).toBe(403);
    expect((await mod.api.delete(`/api/conversations/${g.id}/participants/${member.id}`)).status).toBe(403);
    expect((await member.api.delete(`/api/conversations/${g.id}/participants/${mod.id}`)).status).toBe(403);
    expect((await admin.api.delete(`/api/conversations/${g.id}/participants/no-such-user`)).status).toBe(404);
    const { result: res, events } = await recordBus(() => admin.api.delete(`/api/conversations/${g.id}/participants/${member.id}`));
    expect(res.status).toBe(204);
    expect(events).toContainEqual({ type: 'membership', userId: member.id, conversationId: g.id, joined: false });
    expect(events).toContainEqual({ type: 'emit', room: `user:${member.id}`, event: 'conversation:update', payload: { id: g.id, removed: true } });
    expect(events.some((e) => e.type === 'emit' && e.room === `conv:${g.id}` && e.event === 'conversation:update')).toBe(true);
    expect((await member.api.get(`/api/conversations/${g.id}`)).status).toBe(404);
    const view = (await owner.api.get(`/api/conversations/${g.id}`)).body;
    expect(view.lastMessage.content).toBe('Admin removed Member');
    expect((await owner.api.delete(`/api/conversations/${g.id}/participants/${admin2.id}`)).status).toBe(204);
    expect((await admin.api.delete(`/api/conversations/${g.id}/participants/${mod.id}`)).status).toBe(204);
  });

  it('the owner leaving hands the group to the longest-standing admin, else the longest-standing member', async () => {
    const [owner, early, admin, late] = await users('owner', 'early', 'admin', 'late');
    const g = await group(owner, 'succession', [early]);
    await owner.api.post(`/api/conversations/${g.id}/participants`, { userIds: [admin.id] });
    await owner.api.post(`/api/conversations/${g.id}/participants`, { userIds: [late.id] });
    await setRole(owner, g.id, admin, 'admin');
    expect((await owner.api.delete(`/api/conversations/${g.id}/participants/${owner.id}`)).status).toBe(204);
    let view = (await early.api.get(`/api/conversations/${g.id}`)).body;
    expect(roleOf(view, admin)).toBe('owner');
    expect(roleOf(view, early)).toBe('member');
    expect(view.lastMessage.content).toBe('owner left; admin is now the owner');
    // No admin left: the longest-standing member (early joined at creation) inherits.
    await admin.api.delete(`/api/conversations/${g.id}`);
    // That was the owner deleting it for everyone, so start over with plain members.
    const g2 = await group(owner, 'succession 2', [early]);
    await owner.api.post(`/api/conversations/${g2.id}/participants`, { userIds: [late.id] });
    await owner.api.delete(`/api/conversations/${g2.id}/participants/${owner.id}`);
    view = (await late.api.get(`/api/conversations/${g2.id}`)).body;
    expect(roleOf(view, early)).toBe('owner');
    expect(roleOf(view, late)).toBe('member');
    // The last people leave: the conversation is gone.
    await late.api.delete(`/api/conversations/${g2.id}`);
    await early.api.delete(`/api/conversations/${g2.id}/participants/${early.id}`);
    expect(await server.ctx.db.query('SELECT 1 FROM conversations WHERE id = $1', [g2.id])).toHaveLength(0);
  });

  it('a group with only a bot left is deleted', async () => {
    const [owner] = await users('owner');
    const g = await group(owner, 'bot alone');
    await owner.api.post(`/api/conversations/${g.id}/participants`, { userIds: ['assistant'] });
    await owner.api.delete(`/api/conversations/${g.id}/participants/${owner.id}`);
    expect(await server.ctx.db.query('SELECT 1 FROM conversations WHERE id = $1', [g.id])).toHaveLength(0);
  });

  it('changes roles: owner any, transfer ownership; admins only below them', async () => {
    const [owner, a, b, c] = await users('Owner', 'Ann', 'Ben', 'Cid');
    const g = await group(owner, 'roles', [a, b, c]);
    const { result: made, events } = await recordBus(() => setRole(owner, g.id, a, 'admin'));
    expect(made.status).toBe(200);
    expect(roleOf(made.body, a)).toBe('admin');
    expect(made.body.lastMessage.content).toBe('Owner made Ann an admin');
    expect(events).toContainEqual(expect.objectContaining({ room: `user:${a.id}`, event: 'conversation:update', payload: expect.objectContaining({ role: 'admin' }) }));
    expect((await a.api.get(`/api/conversations/${g.id}`)).body.role).toBe('admin');
    // Admin: moderator/member for those below; not admin, not owner, not peers, not self.
    expect(roleOf((await setRole(a, g.id, b, 'moderator')).body, b)).toBe('moderator');
    expect((await setRole(a, g.id, c, 'admin')).status).toBe(403);
    expect((await setRole(a, g.id, c, 'owner')).status).toBe(403);
    expect((await setRole(a, g.id, owner, 'member')).status).toBe(403);
    expect((await setRole(a, g.id, a, 'member')).status).toBe(403);
    expect((await setRole(b, g.id, c, 'moderator')).status).toBe(403);
    expect((await setRole(c, g.id, b, 'member')).status).toBe(403);
    expect((await setRole(owner, g.id, owner, 'admin')).status).toBe(403);
    expect((await setRole(owner, g.id, { id: 'ghost' } as TestUser, 'admin')).status).toBe(404);
    expect((await setRole(owner, g.id, c, 'boss')).status).toBe(400);
    const before = (await owner.api.get(`/api/conversations/${g.id}`)).body.lastSeq;
    expect((await setRole(owner, g.id, b, 'moderator')).body.lastSeq).toBe(before);
    // Transfer.
    const transfer = await setRole(owner, g.id, c, 'owner');
    expect(transfer.status).toBe(200);
    expect(roleOf(transfer.body, c)).toBe('owner');
    expect(roleOf(transfer.body, owner)).toBe('admin');
    expect(transfer.body.role).toBe('admin');
    expect(transfer.body.members.filter((m: any) => m.role === 'owner')).toHaveLength(1);
    // The old owner can no longer delete it for everyone: it is a leave now.
    await owner.api.delete(`/api/conversations/${g.id}`);
    expect((await c.api.get(`/api/conversations/${g.id}`)).body.members).toHaveLength(3);
  });

  it('role changes are for groups only', async () => {
    const [u, v] = await users('u', 'v');
    const d = (await u.api.post('/api/conversations/direct', { userId: v.id })).body;
    expect((await setRole(u, d.id, v, 'admin')).status).toBe(403);
    expect((await u.api.delete(`/api/conversations/${d.id}/participants/${v.id}`)).status).toBe(403);
  });
});

describe('access matrix', () => {
  it('a non-member gets 404 from every route and learns nothing', async () => {
    const [owner, member, outsider, other] = await users('owner', 'member', 'outsider', 'other');
    const title = 'Top secret title 7f3a';
    const g = await group(owner, title, [member]);
    await say(member, g.id, 'secret content');
    const base = `/api/conversations/${g.id}`;
    const calls = [
      () => outsider.api.get(base),
      () => outsider.api.patch(base, { pinned: true }),
      () => outsider.api.patch(base, { title: 'hijack' }),
      () => outsider.api.delete(base),
      () => outsider.api.post(`${base}/participants`, { userIds: [outsider.id] }),
      () => outsider.api.post(`${base}/participants`, { userIds: [other.id] }),
      () => outsider.api.delete(`${base}/participants/${member.id}`),
      () => outsider.api.delete(`${base}/participants/${outsider.id}`),
      () => outsider.api.patch(`${base}/participants/${member.id}`, { role: 'admin' }),
      () => outsider.api.patch(`${base}/participants/${outsider.id}`, { role: 'owner' }),
    ];
    const missing = await outsider.api.get('/api/conversations/does-not-exist');
    for (const call of calls) {
      const res = await call();
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('NOT_FOUND');
      const text = JSON.stringify(res.body);
      for (const secret of [title, owner.id, member.id, 'secret content']) expect(text).not.toContain(secret);
      // Indistinguishable from a conversation that does not exist.
      expect(res.body.error.message).toBe(missing.body.error.message);
    }
    expect((await list(outsider)).conversations).toEqual([]);
    // Nothing changed.
    const view = (await owner.api.get(base)).body;
    expect(view.title).toBe(title);
    expect(view.members).toHaveLength(2);
    expect(view.lastSeq).toBe(1);
  });

  it('a member with the wrong role gets 403 for admin routes', async () => {
    const [owner, member, mod, other] = await users('owner', 'member', 'mod', 'other');
    const g = await group(owner, 'roles', [member, mod]);
    await setRole(owner, g.id, mod, 'moderator');
    const base = `/api/conversations/${g.id}`;
    for (const u of [member, mod]) {
      for (const res of [
        await u.api.patch(base, { title: 'nope' }),
        await u.api.post(`${base}/participants`, { userIds: [other.id] }),
        await u.api.delete(`${base}/participants/${owner.id}`),
        await u.api.patch(`${base}/participants/${owner.id}`, { role: 'member' }),
      ]) {
        expect(res.status).toBe(403);
        expect(res.body.error.code).toBe('FORBIDDEN');
      }
    }
  });

  it('requires a token on every route', async () => {
    const [owner] = await users('owner');
    const g = await group(owner, 'auth');
    const anon = owner.api.as(undefined);
    for (const res of [
      await anon.get('/api/conversations'),
      await anon.get(`/api/conversations/${g.id}`),
      await anon.post('/api/conversations/group', { title: 'x' }),
      await anon.post('/api/conversations/direct', { userId: owner.id }),
      await anon.post('/api/conversations/assistant', {}),
      await anon.patch(`/api/conversations/${g.id}`, { pinned: true }),
      await anon.delete(`/api/conversations/${g.id}`),
      await anon.post(`/api/conversations/${g.id}/participants`, { userIds: [owner.id] }),
      await anon.delete(`/api/conversations/${g.id}/participants/${owner.id}`),
      await anon.patch(`/api/conversations/${g.id}/participants/${owner.id}`, { role: 'member' }),
    ]) {
      expect(res.status).toBe(401);
    }
  });
});
