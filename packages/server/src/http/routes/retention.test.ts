/**
 * Retention (docs/admin.md, "Retention"): messages older than the instance's or their
 * conversation's number of days are deleted by the job queue, with their files, and each deletion
 * is in the audit log; only instance admins set it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETENTION_JOB, sweepExpiredMessages } from '../../operations/retention.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

let server: TestServer;
let admin: TestUser;
let member: TestUser;

beforeAll(async () => {
  server = await startTestServer();
  admin = await registerUser(server, 'admin'); // the first account: the instance's owner
  member = await registerUser(server, 'member');
});
afterAll(() => server?.close());

/** A group with messages sent now, then dated `ages` days back (the newest stays now). */
async function groupWithHistory(title: string, ages: number[]): Promise<{ id: string; messages: Message[] }> {
  const id = (await admin.api.post('/api/conversations/group', { title, participantIds: [member.id] })).body.id as string;
  const messages: Message[] = [];
  for (const [i, age] of ages.entries()) {
    const sent = await admin.api.post('/api/messages', { conversationId: id, content: `${title} ${age}d`, clientId: `${title}-${i}` });
    expect(sent.status).toBe(201);
    messages.push(sent.body);
    await server.ctx.db.query(`UPDATE messages SET created_at = now() - make_interval(days => $2) WHERE id = $1`, [sent.body.id, age]);
  }
  return { id, messages };
}

/** Until no job waits or runs (the queue also runs in the background: drain alone does not wait for those). */
async function settle(): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    await server.ctx.jobs.drain();
    const busy = await server.ctx.db.query(`SELECT 1 FROM jobs WHERE status IN ('pending', 'running') AND run_at <= now()`);
    if (busy.length === 0) return;
    if (Date.now() > deadline) throw new Error('jobs did not settle');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const contents = async (conversationId: string) =>
  ((await member.api.get(`/api/conversations/${conversationId}/messages?limit=100`)).body.messages as Message[]).filter((m) => m.kind !== 'system').map((m) => m.content);

describe('retention', () => {
  it('only instance admins set it; the settings say it', async () => {
    expect((await member.api.patch('/api/admin/settings', { retention: { days: 30 } })).status).toBe(403);
    expect((await admin.api.patch('/api/admin/settings', { retention: { days: 0 } })).status).toBe(400);
    expect((await admin.api.get('/api/admin/settings')).body.retention).toEqual({ days: null });
    const group = (await admin.api.post('/api/conversations/group', { title: 'Nope', participantIds: [member.id] })).body.id as string;
    expect((await member.api.put(`/api/admin/conversations/${group}/retention`, { days: 5 })).status).toBe(403);
    expect((await admin.api.put('/api/admin/conversations/nope/retention', { days: 5 })).status).toBe(404);
  });

  it('deletes what is older than the instance\'s days or the conversation\'s own, with files; audit-logged', async () => {
    const plain = await groupWithHistory('plain', [400, 40, 10, 0]);
    const short = await groupWithHistory('short', [40, 10, 3, 0]);
    const kept = await groupWithHistory('kept', [400, 40, 0]);
    // A file on an old message of the plain group.
    const t = await admin.api.post('/api/attachments', { conversationId: plain.id, name: 'old.txt', type: 'text/plain', size: 5 });
    const put = await fetch(server.url + t.body.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${admin.accessToken}`, 'content-type': 'text/plain' }, body: 'hello' });
    expect(put.status).toBeLessThan(300);
    const withFile = await admin.api.post('/api/messages', { conversationId: plain.id, content: 'file', clientId: 'file-1', attachmentIds: [t.body.attachmentId] });
    expect(withFile.status).toBe(201);
    await server.ctx.db.query(`UPDATE messages SET created_at = now() - interval '100 days' WHERE id = $1`, [withFile.body.id]);
    const file = path.join(server.config.dataDir, 'files', plain.id, t.body.attachmentId, 'original');
    expect(existsSync(file)).toBe(true);

    expect((await admin.api.put(`/api/admin/conversations/${short.id}/retention`, { days: 7 })).body).toEqual({ conversationId: short.id, days: 7, instanceDays: null });
    expect((await admin.api.put(`/api/admin/conversations/${kept.id}/retention`, { days: 36_500 })).status).toBe(200);
    const settings = await admin.api.patch('/api/admin/settings', { retention: { days: 30 } });
    expect(settings.status).toBe(200);
    expect(settings.body.retention).toEqual({ days: 30 });
    // The change queued a sweep; the queue runs it (and then the files' deletion).
    expect((await server.ctx.db.query(`SELECT 1 FROM jobs WHERE kind = $1`, [RETENTION_JOB])).length).toBeGreaterThan(0);
    await settle();

    expect(await contents(plain.id)).toEqual(['plain 10d', 'plain 0d']);
    expect(await contents(short.id)).toEqual(['short 3d', 'short 0d']);
    expect(await contents(kept.id)).toEqual(['kept 400d', 'kept 40d', 'kept 0d']);
    expect(existsSync(file)).toBe(false);
    expect((await admin.api.get(`/api/attachments/${t.body.attachmentId}`)).status).toBe(404);

    const audit = (await admin.api.get('/api/admin/audit?limit=200')).body.entries as { action: string; actorId: string | null; targetId: string; details: { messages?: number; days?: number } }[];
    const deletions = audit.filter((e) => e.action === 'retention.delete');
    expect(Object.fromEntries(deletions.map((e) => [e.targetId, e.details.messages]))).toEqual({ [plain.id]: 3, [short.id]: 2 });
    expect(deletions.every((e) => e.actorId === null)).toBe(true);
    expect(audit.filter((e) => e.action === 'conversation.retention').map((e) => e.details.days)).toEqual(expect.arrayContaining([7, 36_500]));
    expect(audit.some((e) => e.action === 'settings.update')).toBe(true);

    // Nothing more to do: a sweep now deletes nothing and logs nothing.
    expect(await sweepExpiredMessages(server.ctx)).toBe(0);
    // Back to keeping everything.
    expect((await admin.api.patch('/api/admin/settings', { retention: { days: null } })).body.retention).toEqual({ days: null });
    expect((await admin.api.put(`/api/admin/conversations/${short.id}/retention`, { days: null })).body.days).toBeNull();
  });
});
