import { existsSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../ids.ts';
import { connect, waitFor, type Client } from '../../realtime/test/kit.ts';
import { storeSends, type PlainSend } from '../../storage/messages.ts';
import { Api, registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

const PASSWORD = 'correct horse battery';
let server: TestServer;
let owner: TestUser;
const sockets: Client[] = [];

beforeAll(async () => {
  server = await startTestServer({}, { jobs: { pollIntervalMs: 20, backoffBaseMs: 20 } });
  // The first account on a fresh instance is its owner (set here too, so these tests do not depend on registration's rule).
  owner = await registerUser(server, 'owner');
  await server.ctx.db.query(`UPDATE users SET role = 'owner' WHERE id = $1`, [owner.id]);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
});

const anon = () => new Api(server.url);
const login = (user: TestUser, password = PASSWORD, headers: Record<string, string> = {}) =>
  anon().request('POST', '/api/auth/login', { email: user.user.email, password }, headers);
const refresh = (refreshToken: string) => anon().post('/api/auth/refresh', { refreshToken });
const me = (token: string) => anon().as(token).get('/api/auth/me');

async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('signed-in sessions', () => {
  it('lists the live sessions with their user agent, address and which one is current', async () => {
    const ann = await registerUser(server, 'ann');
    const phone = await login(ann, PASSWORD, { 'user-agent': 'ConfabPhone/1.0 (test)' });
    expect(phone.status).toBe(200);
    const before = await ann.api.get('/api/auth/sessions');
    expect(before.status).toBe(200);
    expect(before.body.sessions).toHaveLength(2);
    const current = before.body.sessions.filter((s: any) => s.current);
    expect(current).toHaveLength(1);
    const other = before.body.sessions.find((s: any) => !s.current);
    expect(other).toMatchObject({ userAgent: 'ConfabPhone/1.0 (test)', ip: '127.0.0.1' });
    // The registration's session got the fetch client's user agent.
    expect(current[0].userAgent).toBeTruthy();

    // A refresh marks the session used.
    await new Promise((r) => setTimeout(r, 20));
    expect((await refresh(phone.body.refreshToken)).status).toBe(200);
    const after = (await anon().as(phone.body.accessToken).get('/api/auth/sessions')).body.sessions;
    const used = after.find((s: any) => s.id === other.id);
    expect(Date.parse(used.lastUsedAt)).toBeGreaterThan(Date.parse(other.lastUsedAt));
    // Seen from the phone, the phone's session is the current one.
    expect(used.current).toBe(true);
  });

  it('DELETE /api/auth/sessions/:id ends that session only, and only the caller may', async () => {
    const bea = await registerUser(server, 'bea');
    const stranger = await registerUser(server, 'stranger');
    const laptop = await login(bea);
    const list = (await bea.api.get('/api/auth/sessions')).body.sessions;
    const laptopId = list.find((s: any) => !s.current).id;

    expect((await stranger.api.delete(`/api/auth/sessions/${laptopId}`)).status).toBe(404);
    expect((await me(laptop.body.accessToken)).status).toBe(200);

    expect((await bea.api.delete(`/api/auth/sessions/${laptopId}`)).status).toBe(204);
    expect((await me(laptop.body.accessToken)).status).toBe(401);
    expect((await refresh(laptop.body.refreshToken)).status).toBe(401);
    expect((await bea.api.delete(`/api/auth/sessions/${laptopId}`)).status).toBe(404);
    expect((await me(bea.accessToken)).status).toBe(200);
    expect((await bea.api.get('/api/auth/sessions')).body.sessions.map((s: any) => s.id)).not.toContain(laptopId);
  });

  it('DELETE /api/auth/sessions ends every session but the current one', async () => {
    const cat = await registerUser(server, 'cat');
    const others = [await login(cat), await login(cat)];
    expect((await cat.api.delete('/api/auth/sessions')).status).toBe(204);
    for (const o of others) {
      expect((await me(o.body.accessToken)).status).toBe(401);
      expect((await refresh(o.body.refreshToken)).status).toBe(401);
    }
    expect((await me(cat.accessToken)).status).toBe(200);
    expect((await cat.api.get('/api/auth/sessions')).body.sessions).toHaveLength(1);
  });
});

describe('changing the password', () => {
  it('needs the current password, keeps this session and ends every other one', async () => {
    const dan = await registerUser(server, 'dan');
    const other = await login(dan);
    const wrong = await dan.api.post('/api/auth/password', { currentPassword: 'not it at all', newPassword: 'a brand new secret' });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.message).toBe('the current password is wrong');
    expect((await me(other.body.accessToken)).status).toBe(200);

    expect((await dan.api.post('/api/auth/password', { currentPassword: PASSWORD, newPassword: 'a brand new secret' })).status).toBe(204);
    expect((await me(dan.accessToken)).status).toBe(200);
    expect((await refresh(dan.refreshToken)).status).toBe(200);
    expect((await me(other.body.accessToken)).status).toBe(401);
    expect((await refresh(other.body.refreshToken)).status).toBe(401);
    expect((await login(dan)).status).toBe(401);
    expect((await login(dan, 'a brand new secret')).status).toBe(200);
  });
});

describe('password reset links', () => {
  it('an admin makes one; it works once, ends every session, and is audited without the token', async () => {
    const eve = await registerUser(server, 'eve');
    const made = await owner.api.post(`/api/admin/users/${eve.id}/password-reset`);
    expect(made.status).toBe(200);
    expect(made.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(made.body.url).toBe(`${server.url}/reset-password/${made.body.token}`);
    expect(Date.parse(made.body.expiresAt) - Date.now()).toBeGreaterThan(23.9 * 3600_000);
    expect(Date.parse(made.body.expiresAt) - Date.now()).toBeLessThanOrEqual(24 * 3600_000);

    const used = await anon().post('/api/auth/password-reset', { token: made.body.token, newPassword: 'chosen after reset' });
    expect(used.status).toBe(204);
    expect((await me(eve.accessToken)).status).toBe(401);
    expect((await refresh(eve.refreshToken)).status).toBe(401);
    expect((await login(eve)).status).toBe(401);
    expect((await login(eve, 'chosen after reset')).status).toBe(200);

    const again = await anon().post('/api/auth/password-reset', { token: made.body.token, newPassword: 'and once more please' });
    expect(again.status).toBe(400);
    expect(again.body.error).toMatchObject({ code: 'VALIDATION_ERROR', message: 'this reset link is invalid or has expired' });
    expect((await anon().post('/api/auth/password-reset', { token: 'made-up', newPassword: 'and once more please' })).status).toBe(400);

    const audit = await owner.api.get('/api/admin/audit?limit=50');
    const entry = audit.body.entries.find((e: any) => e.action === 'user.password_reset_link' && e.targetId === eve.id);
    expect(entry).toMatchObject({ actorId: owner.id, targetType: 'user' });
    expect(JSON.stringify(audit.body)).not.toContain(made.body.token);
  });

  it('an expired link is refused, and so is a link for a deleted account', async () => {
    const fay = await registerUser(server, 'fay');
    const made = (await owner.api.post(`/api/admin/users/${fay.id}/password-reset`)).body;
    await server.ctx.db.query(`UPDATE password_resets SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [fay.id]);
    expect((await anon().post('/api/auth/password-reset', { token: made.token, newPassword: 'too late for this' })).status).toBe(400);
    expect((await login(fay)).status).toBe(200);

    const live = (await owner.api.post(`/api/admin/users/${fay.id}/password-reset`)).body;
    expect((await fay.api.request('DELETE', '/api/users/me', { password: PASSWORD })).status).toBe(204);
    expect((await anon().post('/api/auth/password-reset', { token: live.token, newPassword: 'back from the dead' })).status).toBe(400);
    expect((await owner.api.post(`/api/admin/users/${fay.id}/password-reset`)).status).toBe(404);
    expect((await owner.api.post('/api/admin/users/assistant/password-reset')).status).toBe(404);
    expect((await owner.api.post('/api/admin/users/nobody/password-reset')).status).toBe(404);
  });

  it('a user who is not an admin cannot make one', async () => {
    const [gil, hal] = [await registerUser(server, 'gil'), await registerUser(server, 'hal')];
    expect((await gil.api.post(`/api/admin/users/${hal.id}/password-reset`)).status).toBe(403);
    expect(await server.ctx.db.query('SELECT 1 FROM password_resets WHERE user_id = $1', [hal.id])).toHaveLength(0);
  });

  it('asking for a reset e-mail without SMTP answers 204 and sends nothing', async () => {
    const ivy = await registerUser(server, 'ivy');
    expect((await anon().post('/api/auth/password-reset/request', { email: ivy.user.email })).status).toBe(204);
    expect((await anon().post('/api/auth/password-reset/request', { email: 'nobody@example.test' })).status).toBe(204);
    expect(await server.ctx.db.query('SELECT 1 FROM password_resets WHERE user_id = $1', [ivy.id])).toHaveLength(0);
  });
});

describe('deleting an account', () => {
  async function upload(user: TestUser, conversationId: string, text: string) {
    const t = await user.api.post('/api/attachments', { conversationId, name: 'notes.txt', type: 'text/plain', size: Buffer.byteLength(text) });
    expect(t.status).toBe(201);
    const put = await fetch(server.url + t.body.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'text/plain' }, body: text });
    expect(put.status).toBe(200);
    return t.body.attachmentId as string;
  }
  const send = (user: TestUser, conversationId: string, content: string, extra: Record<string, unknown> = {}) =>
    user.api.post<Message>('/api/messages', { conversationId, content, clientId: newId(), ...extra });

  it("erases the user's messages to tombstones with the same seqs, deletes their files, and keeps the conversations for the others", async () => {
    const [jo, kim] = [await registerUser(server, 'jo'), await registerUser(server, 'kim')];
    const group = (await jo.api.post('/api/conversations/group', { title: 'Team', participantIds: [kim.id] })).body.id as string;
    const direct = (await kim.api.post('/api/conversations/direct', { userId: jo.id })).body.id as string;
    const fileId = await upload(jo, group, 'secret notes');
    const withFile = (await send(jo, group, 'see the file', { attachmentIds: [fileId] })).body;
    const root = (await send(kim, group, 'a question')).body;
    const reply = (await send(jo, group, 'my answer in the thread', { threadRootId: root.id })).body;
    const edited = (await send(jo, group, 'first version')).body;
    expect((await jo.api.patch(`/api/messages/${edited.id}`, { content: 'second version' })).status).toBe(200);
    expect((await kim.api.post(`/api/messages/${edited.id}/reactions`, { emoji: '👍' })).status).toBe(200);
    const inDirect = (await send(jo, direct, 'just between us')).body;
    const kimsOwn = (await send(kim, direct, 'hi jo')).body;
    const filePath = path.join(server.config.dataDir, 'files', group, fileId, 'original');
    await eventually(() => existsSync(filePath));
    const joWithSecondSession = await login(jo);

    const kimSocket = await connect(server.url, kim.accessToken);
    sockets.push(kimSocket);
    const live = waitFor<Message>(kimSocket, 'chat:message_updated', (m) => m.id === inDirect.id && m.deletedAt !== null);

    expect((await jo.api.request('DELETE', '/api/users/me', { password: 'wrong password' })).status).toBe(403);
    expect((await jo.api.request('DELETE', '/api/users/me', { password: PASSWORD })).status).toBe(204);

    // Members see the erasure live...
    expect((await live).content).toBe('');
    // ...and whoever fetches the conversation sees tombstones where the messages were.
    const seen = (await kim.api.get(`/api/messages/${group}?limit=100`)).body.messages as Message[];
    const byId = new Map(seen.map((m) => [m.id, m]));
    for (const original of [withFile, edited]) {
      const now = byId.get(original.id)!;
      expect(now).toMatchObject({ seq: original.seq, content: '', attachments: [], reactions: [], authorId: jo.id });
      expect(now.deletedAt).not.toBeNull();
      expect(now.updatedSeq).toBeGreaterThan(original.seq);
    }
    expect(byId.get(root.id)).toMatchObject({ content: 'a question', thread: { replyCount: 0 } });
    const thread = (await kim.api.get(`/api/messages/${group}?threadRootId=${root.id}`)).body.messages as Message[];
    expect(thread.find((m) => m.id === reply.id)).toMatchObject({ seq: reply.seq, content: '' });
    // Nothing of the content is left in the database.
    const stored = await server.ctx.db.query<{ content_enc: string }>('SELECT content_enc FROM messages WHERE author_id = $1 AND kind <> $2', [jo.id, 'system']);
    expect(stored.length).toBeGreaterThanOrEqual(4);
    expect(stored.every((r) => r.content_enc === '')).toBe(true);
    expect(await server.ctx.db.query('SELECT 1 FROM message_versions WHERE message_id = $1', [edited.id])).toHaveLength(0);

    // The direct conversation stays readable for the other person.
    const directNow = (await kim.api.get(`/api/messages/${direct}`)).body.messages as Message[];
    expect(directNow.find((m) => m.id === kimsOwn.id)?.content).toBe('hi jo');
    expect(directNow.find((m) => m.id === inDirect.id)).toMatchObject({ seq: inDirect.seq, content: '' });

    // The files are gone.
    expect((await fetch(`${server.url}/api/attachments/${fileId}`, { headers: { authorization: `Bearer ${kim.accessToken}` } })).status).toBe(404);
    await eventually(() => !existsSync(filePath));

    // The profile is "Deleted user"; the account cannot be used or signed into.
    const profile = (await kim.api.get(`/api/users/${jo.id}`)).body;
    expect(profile).toMatchObject({ displayName: 'Deleted user', avatarUrl: null });
    expect(profile.handle).toMatch(/^deleted-/);
    expect((await me(jo.accessToken)).status).toBe(401);
    expect((await me(joWithSecondSession.body.accessToken)).status).toBe(401);
    expect((await refresh(jo.refreshToken)).status).toBe(401);
    expect((await login(jo)).status).toBe(401);
    const [row] = await server.ctx.db.query<any>('SELECT status, email, password_hash, deleted_at FROM users WHERE id = $1', [jo.id]);
    expect(row).toMatchObject({ status: 'deleted', email: null, password_hash: null });
    expect(row.deleted_at).not.toBeNull();
  });

  it('admins delete users; only an owner deletes an owner; the last owner cannot be deleted', async () => {
    const [lou, max, ned] = [await registerUser(server, 'lou'), await registerUser(server, 'max'), await registerUser(server, 'ned')];
    expect((await lou.api.delete(`/api/admin/users/${max.id}`)).status).toBe(403);
    await server.ctx.db.query(`UPDATE users SET role = 'admin' WHERE id = $1`, [lou.id]);
    expect((await lou.api.delete(`/api/admin/users/${owner.id}`)).status).toBe(403);
    expect((await lou.api.delete(`/api/admin/users/${max.id}`)).status).toBe(204);
    expect((await me(max.accessToken)).status).toBe(401);
    expect((await lou.api.delete(`/api/admin/users/${max.id}`)).status).toBe(404);
    const audit = (await owner.api.get('/api/admin/audit?limit=50')).body.entries;
    expect(audit.find((e: any) => e.action === 'user.delete' && e.targetId === max.id)).toMatchObject({ actorId: lou.id });

    // The only owner: neither they nor anyone else can delete the account.
    const last = await owner.api.request('DELETE', '/api/users/me', { password: PASSWORD });
    expect(last.status).toBe(409);
    expect(last.body.error.code).toBe('CONFLICT');
    // With a second owner, one owner deletes the other.
    await server.ctx.db.query(`UPDATE users SET role = 'owner' WHERE id = $1`, [ned.id]);
    expect((await ned.api.delete(`/api/admin/users/${owner.id}`)).status).toBe(204);
    expect((await me(owner.accessToken)).status).toBe(401);
    // ned is now the last owner.
    expect((await ned.api.request('DELETE', '/api/users/me', { password: PASSWORD })).status).toBe(409);
    owner = ned;
  });
});

/** A full garbage collection on demand (the flag can be set at run time; `gc` then exists in a new context). */
function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('export', () => {
  it('streams every conversation with all its messages, decrypted and in seq order, without holding it in memory', async () => {
    const [pat, quinn] = [await registerUser(server, 'pat'), await registerUser(server, 'quinn')];
    const group = (await pat.api.post('/api/conversations/group', { title: 'Big history', participantIds: [quinn.id] })).body.id as string;
    await pat.api.put('/api/users/me/settings', { theme: 'dark' });
    const COUNT = 10_000;
    const filler = 'lorem ipsum dolor sit amet '.repeat(30);
    const content = (i: number) => `message ${i}: ${filler}`;
    for (let start = 0; start < COUNT; start += 500) {
      const batch: PlainSend[] = [];
      for (let i = start; i < start + 500; i++) {
        batch.push({ id: newId(), conversationId: group, authorId: i % 2 ? quinn.id : pat.id, clientId: `seed-${i}`, kind: 'text', contentEnc: server.ctx.keys.encrypt(content(i)), terms: '{}', threadRootId: null, alsoToChannel: false });
      }
      await storeSends(server.ctx.db, batch);
    }
    const direct = (await quinn.api.post('/api/conversations/direct', { userId: pat.id })).body.id as string;
    await quinn.api.post('/api/messages', { conversationId: direct, content: 'a direct one', clientId: 'd1' });

    // Live memory, not garbage waiting for a collection: collect before each sample.
    const gc = collector();
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    let samples = 0;
    const sampler = setInterval(() => {
      gc();
      samples++;
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 10);
    const res = await fetch(`${server.url}/api/users/me/export`, { headers: { authorization: `Bearer ${pat.accessToken}` } });
    const chunks: Buffer[] = [];
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk));
    clearInterval(sampler);
    const growthMb = (peak - before) / 1024 / 1024;
    const bytes = chunks.reduce((n, c) => n + c.length, 0);
    console.log(`export of ${COUNT} messages: ${(bytes / 1024 / 1024).toFixed(1)} MB streamed, peak heap growth ${growthMb.toFixed(1)} MB (${samples} samples)`);

    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="confab-export-${pat.user.handle}.json"`);
    const doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    expect(Date.parse(doc.exportedAt)).not.toBeNaN();
    expect(doc.profile).toMatchObject({ id: pat.id, email: pat.user.email, handle: pat.user.handle });
    expect(doc.settings).toMatchObject({ theme: 'dark', privacy: { discoverable: true } });
    expect(doc.conversations.map((c: any) => c.id).sort()).toEqual([group, direct].sort());
    const big = doc.conversations.find((c: any) => c.id === group);
    expect(big).toMatchObject({ type: 'group', title: 'Big history' });
    expect(big.members.map((m: any) => m.id).sort()).toEqual([pat.id, quinn.id].sort());
    const texts = big.messages.filter((m: any) => m.kind === 'text');
    expect(texts).toHaveLength(COUNT);
    texts.forEach((m: any, i: number) => expect(m.content).toBe(content(i)));
    const seqs = big.messages.map((m: any) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(doc.conversations.find((c: any) => c.id === direct).messages.map((m: any) => m.content)).toEqual(['a direct one']);
    // The document is 10 MB; streamed a page at a time the live heap grows by about a page (~2 MB
    // measured), while a server that built the document first holds all of it (~14 MB measured).
    expect(growthMb).toBeLessThan(Math.min(64, bytes / 1024 / 1024 / 2));

    // Somebody else's export has none of it.
    const other = await registerUser(server, 'other');
    const theirs = JSON.parse(await (await fetch(`${server.url}/api/users/me/export`, { headers: { authorization: `Bearer ${other.accessToken}` } })).text());
    expect(theirs.conversations).toEqual([]);
    expect((await fetch(`${server.url}/api/users/me/export`)).status).toBe(401);
  }, 120_000);
});
