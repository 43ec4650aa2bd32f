import type { Message } from '@confab/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call, connect, record, sleep, waitFor, type Client } from '../../realtime/test/kit.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

let server: TestServer;
let admin: TestUser;
beforeAll(async () => {
  server = await startTestServer();
  admin = await registerUser(server, 'admin');
  // The first user of a fresh server becomes its owner at registration (the accounts work of issue
  // 20); set here too, so this file does not depend on that.
  await server.ctx.db.query(`UPDATE users SET role = 'owner' WHERE id = $1`, [admin.id]);
});
afterAll(() => server?.close());

const sockets: Client[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.disconnect();
});
const track = (s: Client) => (sockets.push(s), s);

async function group(owner: TestUser, members: TestUser[]): Promise<string> {
  const res = await owner.api.post('/api/conversations/group', { title: 'g', participantIds: members.map((m) => m.id) });
  expect(res.status).toBe(201);
  return res.body.id;
}

async function direct(a: TestUser, b: TestUser): Promise<string> {
  const res = await a.api.post('/api/conversations/direct', { userId: b.id });
  expect([200, 201]).toContain(res.status);
  return res.body.id;
}

let n = 0;
const send = (u: TestUser, conversationId: string, content = 'hi') => u.api.post('/api/messages', { conversationId, content, clientId: `c${++n}` });

describe('blocks', () => {
  it('are idempotent, listed, and never of oneself', async () => {
    const ann = await registerUser(server, 'ann');
    const bob = await registerUser(server, 'bob');
    expect((await ann.api.post(`/api/users/${bob.id}/block`)).status).toBe(204);
    expect((await ann.api.post(`/api/users/${bob.id}/block`)).status).toBe(204);
    const list = await ann.api.get('/api/users/me/blocks');
    expect(list.status).toBe(200);
    expect(list.body.blocks).toEqual([{ id: bob.id, handle: bob.user.handle, displayName: 'bob', blockedAt: expect.any(String) }]);
    expect((await bob.api.get('/api/users/me/blocks')).body.blocks).toEqual([]);
    const self = await ann.api.post(`/api/users/${ann.id}/block`);
    expect(self.status).toBe(400);
    expect(self.body.error.code).toBe('VALIDATION_ERROR');
    expect((await ann.api.post('/api/users/nobody/block')).status).toBe(404);
    expect((await ann.api.delete(`/api/users/${bob.id}/block`)).status).toBe(204);
    expect((await ann.api.delete(`/api/users/${bob.id}/block`)).status).toBe(204);
    expect((await ann.api.get('/api/users/me/blocks')).body.blocks).toEqual([]);
    // "me" in /api/users/me/… is never taken for an id, and the profile route still answers.
    expect((await ann.api.get(`/api/users/${bob.id}`)).status).toBe(200);
  });

  it('keep the blocked user from starting a direct conversation with the blocker, until lifted', async () => {
    const ann = await registerUser(server, 'ann');
    const bob = await registerUser(server, 'bob');
    await ann.api.post(`/api/users/${bob.id}/block`);
    const refused = await bob.api.post('/api/conversations/direct', { userId: ann.id });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    await ann.api.delete(`/api/users/${bob.id}/block`);
    expect((await bob.api.post('/api/conversations/direct', { userId: ann.id })).status).toBe(201);
  });

  it('keep the blocked user from sending into a direct conversation with the blocker, over REST and socket', async () => {
    const ann = await registerUser(server, 'ann');
    const bob = await registerUser(server, 'bob');
    const cal = await registerUser(server, 'cal');
    const id = await direct(ann, bob);
    const groupId = await group(bob, [ann, cal]);
    expect((await send(bob, id)).status).toBe(201);
    const socket = track(await connect(server.url, bob.accessToken));

    await ann.api.post(`/api/users/${bob.id}/block`);
    const refused = await send(bob, id);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    const ack = await call<Message>(socket, 'chat:message_send', { conversationId: id, content: 'over the socket', clientId: `s${++n}` });
    expect(ack.ok).toBe(false);
    if (!ack.ok) expect(ack.error.code).toBe('FORBIDDEN');
    // The blocker may still write; groups they share are not affected; strangers still get NOT_FOUND.
    expect((await send(ann, id)).status).toBe(201);
    expect((await send(bob, groupId)).status).toBe(201);
    expect((await send(cal, id)).status).toBe(404);
    expect((await ann.api.get(`/api/messages/${id}`)).body.messages.map((m: Message) => m.content)).not.toContain('over the socket');

    await ann.api.delete(`/api/users/${bob.id}/block`);
    expect((await send(bob, id)).status).toBe(201);
    const sent = await call<Message>(socket, 'chat:message_send', { conversationId: id, content: 'back again', clientId: `s${++n}` });
    expect(sent.ok).toBe(true);
  });

  it('keep the blocked user from adding the blocker to a group, at creation or later', async () => {
    const ann = await registerUser(server, 'ann');
    const bob = await registerUser(server, 'bob');
    const cal = await registerUser(server, 'cal');
    await ann.api.post(`/api/users/${bob.id}/block`);
    const created = await bob.api.post('/api/conversations/group', { title: 'g', participantIds: [cal.id, ann.id] });
    expect(created.status).toBe(403);
    expect(created.body.error.code).toBe('FORBIDDEN');
    const groupId = await group(bob, [cal]);
    const added = await bob.api.post(`/api/conversations/${groupId}/participants`, { userIds: [ann.id] });
    expect(added.status).toBe(403);
    expect(added.body.error.code).toBe('FORBIDDEN');
    // Someone not blocked adds ann fine; lifting the block lets bob add her.
    expect((await ann.api.post('/api/conversations/group', { title: 'g', participantIds: [bob.id] })).status).toBe(201);
    await ann.api.delete(`/api/users/${bob.id}/block`);
    expect((await bob.api.post(`/api/conversations/${groupId}/participants`, { userIds: [ann.id] })).status).toBe(200);
  });
});

describe('privacy', () => {
  it('reads and replaces the settings', async () => {
    const ann = await registerUser(server, 'ann');
    expect((await ann.api.get('/api/users/me/privacy')).body).toEqual({ discoverable: true, showLastSeen: true, directMessagesFrom: 'everyone' });
    const next = { discoverable: false, showLastSeen: false, directMessagesFrom: 'shared' };
    expect((await ann.api.put('/api/users/me/privacy', next)).body).toEqual(next);
    expect((await ann.api.get('/api/users/me/privacy')).body).toEqual(next);
    expect((await ann.api.put('/api/users/me/privacy', { discoverable: false })).status).toBe(400);
    expect((await ann.api.put('/api/users/me/privacy', { ...next, directMessagesFrom: 'nobody' })).status).toBe(400);
  });

  it('leaves a user who is not discoverable out of searches by strangers, not by people who share a conversation', async () => {
    const hidden = await registerUser(server, 'zed');
    const friend = await registerUser(server, 'fay');
    const stranger = await registerUser(server, 'sam');
    await group(friend, [hidden]);
    const find = async (u: TestUser) => (await u.api.get(`/api/users?query=${hidden.user.handle}`)).body.users.map((x: any) => x.id);
    expect(await find(stranger)).toEqual([hidden.id]);
    await hidden.api.put('/api/users/me/privacy', { discoverable: false, showLastSeen: true, directMessagesFrom: 'everyone' });
    expect(await find(stranger)).toEqual([]);
    expect(await find(friend)).toEqual([hidden.id]);
  });

  it('leaves deactivated and deleted accounts out of searches', async () => {
    const gone = await registerUser(server, 'gus');
    const left = await registerUser(server, 'gil');
    const searcher = await registerUser(server, 'sue');
    const find = async (u: TestUser) => (await searcher.api.get(`/api/users?query=${u.user.handle}`)).body.users.map((x: any) => x.id);
    expect(await find(gone)).toEqual([gone.id]);
    // The account states are set by the admin and account routes (other parts of issue 20); here directly.
    await server.ctx.db.query(`UPDATE users SET status = 'deactivated' WHERE id = $1`, [gone.id]);
    await server.ctx.db.query(`UPDATE users SET status = 'deleted', deleted_at = now() WHERE id = $1`, [left.id]);
    expect(await find(gone)).toEqual([]);
    expect(await find(left)).toEqual([]);
  });

  it('hides lastSeenAt from others, not from the user themself', async () => {
    const ann = await registerUser(server, 'ann');
    const bob = await registerUser(server, 'bob');
    const groupId = await group(bob, [ann]);
    // A socket that comes and goes stamps last_seen_at.
    const s = await connect(server.url, ann.accessToken);
    s.disconnect();
    const seen = async () => (await bob.api.get(`/api/users/${ann.id}`)).body.lastSeenAt;
    for (let i = 0; i < 100 && (await seen()) === null; i++) await sleep(50);
    expect(await seen()).not.toBeNull();

    await ann.api.put('/api/users/me/privacy', { discoverable: true, showLastSeen: false, directMessagesFrom: 'everyone' });
    expect(await seen()).toBeNull();
    expect((await bob.api.get(`/api/users?query=${ann.user.handle}`)).body.users[0].lastSeenAt).toBeNull();
    const members = (await bob.api.get(`/api/conversations/${groupId}`)).body.members;
    expect(members.find((m: any) => m.userId === ann.id).user.lastSeenAt).toBeNull();
    expect((await ann.api.get(`/api/users/${ann.id}`)).body.lastSeenAt).not.toBeNull();
    expect((await ann.api.get('/api/auth/me')).body.lastSeenAt).not.toBeNull();
  });

  it('never shows a hidden user online to others', async () => {
    const ann = await registerUser(server, 'ann');
    const bob = await registerUser(server, 'bob');
    const cal = await registerUser(server, 'cal');
    const groupId = await group(bob, [ann, cal]);
    await ann.api.put('/api/users/me/privacy', { discoverable: true, showLastSeen: false, directMessagesFrom: 'everyone' });
    const watcher = track(await connect(server.url, bob.accessToken));
    const events = record(watcher);
    track(await connect(server.url, ann.accessToken));
    // cal is visible: their coming online is announced, and ann's (earlier) is not.
    const calOnline = waitFor<any>(watcher, 'user:status_changed', (e) => e.userId === cal.id && e.status === 'online');
    track(await connect(server.url, cal.accessToken));
    await calOnline;
    expect(events.filter((e) => e.event === 'user:status_changed' && e.payload.userId === ann.id)).toEqual([]);
    // The snapshot of a conversation shows ann offline without a time, cal online.
    const snapshot = waitFor<any>(watcher, 'user:status_changed', (e) => e.userId === ann.id);
    expect((await call(watcher, 'subscribe', { conversationId: groupId })).ok).toBe(true);
    expect(await snapshot).toEqual({ userId: ann.id, status: 'offline', lastSeenAt: null });
    expect(events.filter((e) => e.event === 'user:status_changed' && e.payload.userId === cal.id).at(-1)?.payload.status).toBe('online');
  });

  it('with directMessagesFrom shared, refuses a stranger a new direct conversation and allows a co-member', async () => {
    const ann = await registerUser(server, 'ann');
    const friend = await registerUser(server, 'fay');
    const stranger = await registerUser(server, 'sam');
    await group(friend, [ann]);
    await ann.api.put('/api/users/me/privacy', { discoverable: true, showLastSeen: true, directMessagesFrom: 'shared' });
    const refused = await stranger.api.post('/api/conversations/direct', { userId: ann.id });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    expect((await friend.api.post('/api/conversations/direct', { userId: ann.id })).status).toBe(201);
    // ann herself may still start one with the stranger.
    expect((await ann.api.post('/api/conversations/direct', { userId: stranger.id })).status).toBe(201);
  });
});

describe('reports', () => {
  it('members report, admins read them with the content, close them (audited) and may delete the message', async () => {
    const ann = await registerUser(server, 'ann');
    const bob = await registerUser(server, 'bob');
    const outsider = await registerUser(server, 'out');
    const groupId = await group(ann, [bob]);
    const msg = (await send(bob, groupId, 'something nasty')).body as Message;

    const report = await ann.api.post(`/api/messages/${msg.id}/report`, { reason: 'abusive' });
    expect(report.status).toBe(201);
    expect(report.body).toMatchObject({ messageId: msg.id, conversationId: groupId, reporterId: ann.id, reason: 'abusive', status: 'open', closedBy: null });
    // One open report per reporter and message: a repeat returns it.
    const again = await ann.api.post(`/api/messages/${msg.id}/report`, { reason: 'still abusive' });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(report.body.id);
    const outside = await outsider.api.post(`/api/messages/${msg.id}/report`, { reason: 'x' });
    expect(outside.status).toBe(404);
    expect(outside.body.error.code).toBe('NOT_FOUND');
    expect((await ann.api.post('/api/messages/nosuchmessage/report', { reason: 'x' })).status).toBe(404);
    expect((await ann.api.post(`/api/messages/${msg.id}/report`, { reason: ' ' })).status).toBe(400);

    const denied = await ann.api.get('/api/admin/reports');
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');
    expect((await ann.api.patch(`/api/admin/reports/${report.body.id}`, { status: 'resolved' })).status).toBe(403);

    const list = await admin.api.get('/api/admin/reports?status=open');
    expect(list.status).toBe(200);
    const listed = list.body.reports.find((r: any) => r.id === report.body.id);
    expect(listed.message).toMatchObject({ id: msg.id, content: 'something nasty' });

    // The admin is no member: they cannot delete a message nobody reported…
    const other = (await send(bob, groupId, 'harmless')).body as Message;
    expect((await admin.api.delete(`/api/messages/${other.id}`)).status).toBe(404);
    // …but may delete the reported one; someone neither admin nor member may not.
    expect((await outsider.api.delete(`/api/messages/${msg.id}`)).status).toBe(404);
    const deleted = await admin.api.delete(`/api/messages/${msg.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.deletedAt).not.toBeNull();
    const closed = await admin.api.patch(`/api/admin/reports/${report.body.id}`, { status: 'resolved' });
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ status: 'resolved', closedBy: admin.id });
    expect(closed.body.closedAt).not.toBeNull();
    expect((await admin.api.get('/api/admin/reports?status=open')).body.reports.map((r: any) => r.id)).not.toContain(report.body.id);
    expect((await admin.api.patch('/api/admin/reports/nosuchreport', { status: 'dismissed' })).status).toBe(404);

    const audit = (await admin.api.get('/api/admin/audit?limit=50')).body.entries;
    expect(audit).toContainEqual(expect.objectContaining({ action: 'report.resolve', targetType: 'report', targetId: report.body.id, actorId: admin.id }));
    expect(audit).toContainEqual(expect.objectContaining({ action: 'message.delete', targetType: 'message', targetId: msg.id, actorId: admin.id }));
  });

  it('pages through reports with a cursor', async () => {
    const ann = await registerUser(server, 'ann');
    const groupId = await group(ann, [admin]);
    for (let i = 0; i < 3; i++) {
      const m = (await send(ann, groupId, `m${i}`)).body as Message;
      expect((await admin.api.post(`/api/messages/${m.id}/report`, { reason: `r${i}` })).status).toBe(201);
    }
    const first = await admin.api.get('/api/admin/reports?limit=2');
    expect(first.body.reports).toHaveLength(2);
    expect(first.body.nextCursor).not.toBeNull();
    const second = await admin.api.get(`/api/admin/reports?limit=2&cursor=${first.body.nextCursor}`);
    const ids = [...first.body.reports, ...second.body.reports].map((r: any) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect((await admin.api.get('/api/admin/reports?cursor=garbage')).status).toBe(400);
  });
});
