import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

/** A real endpoint on 127.0.0.1: records what arrives; `answer` decides the status (and may sleep). */
class Receiver {
  received: { headers: http.IncomingHttpHeaders; body: string; at: number; status: number }[] = [];
  answer: (body: string) => number | Promise<number> = () => 200;
  /** Requests that arrived, answered or not. */
  requests = 0;
  private server = http.createServer((req, res) => {
    this.requests++;
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      void Promise.resolve(this.answer(body)).then((status) => {
        this.received.push({ headers: req.headers, body, at: Date.now(), status });
        res.writeHead(status).end();
      });
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
  /** Events answered 2xx, parsed. */
  delivered(): { id: string; type: string; createdAt: string; data: any }[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300).map((r) => JSON.parse(r.body));
  }
}

/** Recomputes the signature the way a receiver would. */
function verify(secret: string, header: string, body: string): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function until<T>(what: () => T | Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await what();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; last: ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ALL = ['message.created', 'message.updated', 'message.deleted', 'reaction.changed', 'conversation.created', 'conversation.updated', 'conversation.deleted', 'member.added', 'member.removed', 'ai.answer.completed', 'user.created'];

describe('outgoing webhooks', () => {
  let server: TestServer;
  let owner: TestUser;
  let receiver: Receiver;

  beforeAll(async () => {
    server = await startTestServer({ webhooksAllowPrivate: true }, { webhooks: { pollMs: 50, backoffMs: [100, 200], refreshMs: 200, timeoutMs: 3_000 } });
    owner = await registerUser(server, 'owner');
  });
  afterAll(async () => {
    await server?.close();
  });
  let hooks: string[] = [];
  beforeAll(async () => {
    receiver = new Receiver();
    await receiver.start();
  });
  afterEach(async () => {
    // Each test's webhooks go: the next one starts with none.
    for (const id of hooks) await owner.api.delete(`/api/admin/webhooks/${id}`);
    hooks = [];
    receiver.received = [];
    receiver.answer = () => 200;
  });
  afterAll(() => receiver.close());

  async function hook(events = ALL, url = receiver.url, secret?: string) {
    const res = await owner.api.post('/api/admin/webhooks', { url, events, ...(secret ? { secret } : {}) });
    expect(res.status).toBe(201);
    hooks.push(res.body.id);
    return res.body as { id: string; secret: string; enabled: boolean; url: string; events: string[] };
  }

  it('with no webhook no trigger runs on the send path; a webhook enables only the triggers of its events', async () => {
    const triggers = async () =>
      Object.fromEntries((await server.ctx.db.query<{ tgname: string; tgenabled: string }>(`SELECT tgname, tgenabled FROM pg_trigger WHERE tgname LIKE 'confab_webhook_%'`)).map((t) => [t.tgname, t.tgenabled !== 'D']));
    const none = await triggers();
    expect(Object.keys(none)).toHaveLength(6);
    expect(Object.values(none).every((on) => !on)).toBe(true);
    const created = await hook(['message.created']);
    const some = await triggers();
    expect(Object.entries(some).filter(([, on]) => on).map(([name]) => name)).toEqual(['confab_webhook_messages']);
    await owner.api.patch(`/api/admin/webhooks/${created.id}`, { enabled: false });
    expect(Object.values(await triggers()).every((on) => !on)).toBe(true);
    await owner.api.patch(`/api/admin/webhooks/${created.id}`, { enabled: true });
    expect((await triggers()).confab_webhook_messages).toBe(true);
    expect((await owner.api.delete(`/api/admin/webhooks/${created.id}`)).status).toBe(204);
    hooks = [];
    expect(Object.values(await triggers()).every((on) => !on)).toBe(true);
  });

  it('signs each event; the payloads of messages, reactions, conversations, members and users', async () => {
    const created = await hook();
    expect(created.secret.length).toBeGreaterThanOrEqual(32);
    expect(created).toMatchObject({ url: receiver.url, events: ALL, enabled: true });
    // Admins see it, without the secret.
    const got = await owner.api.get(`/api/admin/webhooks/${created.id}`);
    expect(got.status).toBe(200);
    expect(got.body.secret).toBeUndefined();
    expect((await owner.api.get('/api/admin/webhooks')).body.webhooks.map((w: { id: string }) => w.id)).toContain(created.id);

    const bob = await registerUser(server, 'bob');
    const group = await owner.api.post('/api/conversations/group', { title: 'Hooks', participantIds: [] });
    expect(group.status).toBe(201);
    const conversationId = group.body.id as string;
    await owner.api.post(`/api/conversations/${conversationId}/participants`, { userIds: [bob.id] });
    const sent = await owner.api.post('/api/messages', { conversationId, content: 'hello hooks', clientId: 'c1' });
    expect(sent.status).toBe(201);
    const messageId = sent.body.id as string;
    await owner.api.post(`/api/messages/${messageId}/reactions`, { emoji: '👍' });
    await owner.api.patch(`/api/messages/${messageId}`, { content: 'hello again' });
    await owner.api.patch(`/api/conversations/${conversationId}`, { title: 'Renamed' });
    await owner.api.delete(`/api/messages/${messageId}`);
    await owner.api.delete(`/api/conversations/${conversationId}/participants/${bob.id}`);

    const want = ['user.created', 'conversation.created', 'member.added', 'message.created', 'reaction.changed', 'message.updated', 'conversation.updated', 'message.deleted', 'member.removed'];
    const events = await until(
      () => receiver.delivered(),
      (e) => want.every((t) => e.some((x) => x.type === t)) && e.some((x) => x.type === 'message.deleted' && x.data.message.id === messageId),
    );
    for (const r of receiver.received) {
      expect(verify(created.secret, r.headers['confab-signature'] as string, r.body)).toBe(true);
      expect(verify('another secret entirely', r.headers['confab-signature'] as string, r.body)).toBe(false);
      expect(r.headers['confab-event-id']).toBe(JSON.parse(r.body).id);
      expect(r.headers['content-type']).toBe('application/json');
    }
    // Adding a member also stores a system message: the one sent here is picked by id.
    const of = (type: string) => events.find((e) => e.type === type && (!e.data.message || e.data.message.id === messageId))!;
    expect(of('user.created').data.user).toMatchObject({ id: bob.id });
    expect(of('message.created').data.message).toMatchObject({ id: messageId, conversationId, content: 'hello hooks', authorId: owner.id });
    expect(of('message.updated').data.message).toMatchObject({ id: messageId, content: 'hello again' });
    expect(of('message.deleted').data.message).toMatchObject({ id: messageId, content: '' });
    expect(of('message.deleted').data.message.deletedAt).toBeTruthy();
    expect(of('reaction.changed').data).toMatchObject({ messageId, userId: owner.id, emoji: '👍', added: true });
    expect(of('conversation.created').data.conversation).toMatchObject({ id: conversationId, type: 'group', title: 'Hooks' });
    expect(of('conversation.updated').data.conversation).toMatchObject({ id: conversationId, title: 'Renamed' });
    expect(events.filter((e) => e.type === 'member.added').map((e) => e.data.userId)).toEqual(expect.arrayContaining([owner.id, bob.id]));
    expect(of('member.removed').data).toMatchObject({ conversationId, userId: bob.id });
    // Ids are unique, createdAt is a time.
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    for (const e of events) expect(Number.isNaN(Date.parse(e.createdAt))).toBe(false);

    await owner.api.delete(`/api/conversations/${conversationId}`);
    const deleted = await until(
      () => receiver.delivered().find((e) => e.type === 'conversation.deleted'),
      (e) => e !== undefined,
    );
    expect(deleted!.data.conversation).toMatchObject({ id: conversationId });
  });

  it('only the events asked for; a disabled webhook gets nothing', async () => {
    const created = await hook(['message.created']);
    const group = await owner.api.post('/api/conversations/group', { title: 'Only sends', participantIds: [] });
    await owner.api.post('/api/messages', { conversationId: group.body.id, content: 'one', clientId: 'o1' });
    await until(
      () => receiver.delivered(),
      (e) => e.length >= 1,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.delivered().map((e) => e.type)).toEqual(['message.created']);

    expect((await owner.api.patch(`/api/admin/webhooks/${created.id}`, { enabled: false })).body).toMatchObject({ enabled: false });
    await owner.api.post('/api/messages', { conversationId: group.body.id, content: 'two', clientId: 'o2' });
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.delivered()).toHaveLength(1);
  });

  it("delivers a conversation's events in seq order, once each when all goes well", async () => {
    await hook(['message.created']);
    const group = await owner.api.post('/api/conversations/group', { title: 'Order', participantIds: [] });
    const conversationId = group.body.id as string;
    const sends = await Promise.all(Array.from({ length: 50 }, (_, i) => owner.api.post('/api/messages', { conversationId, content: `m${i}`, clientId: `order-${i}` })));
    for (const s of sends) expect(s.status).toBe(201);
    const events = await until(
      () => receiver.delivered(),
      (e) => e.length >= 50,
      30_000,
    );
    const seqs = events.map((e) => e.data.message.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(50);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received).toHaveLength(50);
  });

  it('retries with backoff on anything but 2xx; the delivery log shows each attempt; a manual retry sends again', async () => {
    const created = await hook(['message.created']);
    let failures = 3;
    receiver.answer = () => (failures-- > 0 ? 500 : 200);
    const group = await owner.api.post('/api/conversations/group', { title: 'Retries', participantIds: [] });
    await owner.api.post('/api/messages', { conversationId: group.body.id, content: 'again', clientId: 'r1' });
    await until(
      () => receiver.delivered(),
      (e) => e.length === 1,
    );
    expect(receiver.received.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    // The same event each time (receivers de-duplicate by id).
    expect(new Set(receiver.received.map((r) => JSON.parse(r.body).id)).size).toBe(1);
    const log = await until(
      () => owner.api.get(`/api/admin/webhooks/${created.id}/deliveries`),
      (r) => r.body.deliveries?.[0]?.status === 'delivered',
    );
    expect(log.body.deliveries).toHaveLength(1);
    const delivery = log.body.deliveries[0];
    expect(delivery).toMatchObject({ type: 'message.created', status: 'delivered', conversationId: group.body.id });
    expect(delivery.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 500, 200]);
    expect(delivery.attempts[0].error).toContain('500');

    const retried = await owner.api.post(`/api/admin/webhooks/${created.id}/deliveries/${delivery.id}/retry`);
    expect(retried.status).toBe(204);
    await until(
      () => receiver.delivered(),
      (e) => e.length === 2,
    );
    expect(receiver.delivered()[1]!.id).toBe(delivery.eventId);
    expect((await owner.api.post(`/api/admin/webhooks/${created.id}/deliveries/nope/retry`)).status).toBe(404);
    // Paged, newest first.
    await owner.api.post('/api/messages', { conversationId: group.body.id, content: 'later', clientId: 'r2' });
    await until(
      () => receiver.delivered(),
      (e) => e.length === 3,
    );
    const page1 = await owner.api.get(`/api/admin/webhooks/${created.id}/deliveries?limit=1`);
    expect(page1.body.deliveries).toHaveLength(1);
    expect(page1.body.deliveries[0].id).not.toBe(delivery.id);
    const page2 = await owner.api.get(`/api/admin/webhooks/${created.id}/deliveries?limit=1&cursor=${page1.body.nextCursor}`);
    expect(page2.body.deliveries[0].id).toBe(delivery.id);
    expect(page2.body.nextCursor).toBeNull();
  });

  it('the delivery log is newest first across a change in the number of digits of its order (a number, not text), page by page', async () => {
    const created = await hook(['message.created']);
    // The next deliveries are numbered 95, 96 … 106: as text, "99" would sort above "106".
    await server.ctx.db.query(`ALTER TABLE webhook_deliveries ALTER COLUMN n RESTART WITH 95`);
    const group = await owner.api.post('/api/conversations/group', { title: 'Many', participantIds: [] });
    const sent: string[] = [];
    for (let i = 0; i < 12; i++) sent.push((await owner.api.post('/api/messages', { conversationId: group.body.id, content: `m${i}`, clientId: `order-${i}` })).body.id);
    await until(
      () => receiver.delivered(),
      (e) => e.length === 12,
    );
    const newestFirst = [...sent].reverse();
    const all = await owner.api.get(`/api/admin/webhooks/${created.id}/deliveries`);
    expect(all.body.deliveries.map((d: { type: string }) => d.type)).toEqual(Array(12).fill('message.created'));
    const messageOf = new Map(receiver.delivered().map((e) => [e.id, e.data.message.id as string]));
    expect(all.body.deliveries.map((d: { eventId: string }) => messageOf.get(d.eventId))).toEqual(newestFirst);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { deliveries: { eventId: string }[]; nextCursor: string | null } = (await owner.api.get(`/api/admin/webhooks/${created.id}/deliveries?limit=5${cursor ? `&cursor=${cursor}` : ''}`)).body;
      paged.push(...page.deliveries.map((d) => messageOf.get(d.eventId)!));
      cursor = page.nextCursor;
    } while (cursor);
    expect(paged).toEqual(newestFirst);
  });

  it('a delivery older than a day fails; an endpoint failing for a day is disabled, and admins see why; enabling clears it', async () => {
    const created = await hook(['message.created']);
    receiver.answer = () => 503;
    const group = await owner.api.post('/api/conversations/group', { title: 'Dead end', participantIds: [] });
    await owner.api.post('/api/messages', { conversationId: group.body.id, content: 'x', clientId: 'd1' });
    await until(
      () => owner.api.get(`/api/admin/webhooks/${created.id}`),
      (r) => r.body.failingSince !== null,
    );
    // A day later (timestamps moved back in the database).
    await server.ctx.db.query(`UPDATE webhooks SET failing_since = failing_since - interval '25 hours' WHERE id = $1`, [created.id]);
    await server.ctx.db.query(`UPDATE webhook_deliveries SET created_at = created_at - interval '25 hours' WHERE webhook_id = $1`, [created.id]);
    const disabled = await until(
      () => owner.api.get(`/api/admin/webhooks/${created.id}`),
      (r) => r.body.enabled === false,
    );
    expect(disabled.body.disabledReason).toMatch(/failed since/);
    const log = await until(
      () => owner.api.get(`/api/admin/webhooks/${created.id}/deliveries`),
      (r) => r.body.deliveries[0].status === 'failed',
    );
    expect(log.body.deliveries[0].attempts.every((a: { statusCode: number }) => a.statusCode === 503)).toBe(true);
    const enabled = await owner.api.patch(`/api/admin/webhooks/${created.id}`, { enabled: true });
    expect(enabled.body).toMatchObject({ enabled: true, disabledReason: null, failingSince: null });
  });

  it('a slow endpoint does not slow sends', async () => {
    await hook(['message.created']);
    receiver.answer = () => new Promise((r) => setTimeout(() => r(200), 5_000));
    const group = await owner.api.post('/api/conversations/group', { title: 'Slow', participantIds: [] });
    await owner.api.post('/api/messages', { conversationId: group.body.id, content: 'warm', clientId: 's0' });
    await new Promise((r) => setTimeout(r, 200)); // the endpoint now holds a delivery
    const started = Date.now();
    const sent = await owner.api.post('/api/messages', { conversationId: group.body.id, content: 'fast', clientId: 's1' });
    const took = Date.now() - started;
    expect(sent.status).toBe(201);
    expect(took).toBeLessThan(1_000);
    await until(
      () => receiver.received.length,
      (n) => n >= 2,
    );
  }, 30_000);

  it("one endpoint's backlog does not hold up another's", async () => {
    // Its own server, whose requests wait a minute before they time out: the stuck endpoint's
    // requests are all still open when the other endpoint's event must arrive.
    const own = await startTestServer({ webhooksAllowPrivate: true }, { webhooks: { pollMs: 50, refreshMs: 200, timeoutMs: 60_000 } });
    const stuck = new Receiver();
    const healthy = new Receiver();
    await stuck.start();
    await healthy.start();
    stuck.answer = () => new Promise(() => {});
    try {
      const admin = await registerUser(own, 'admin');
      const stuckHook = await admin.api.post('/api/admin/webhooks', { url: stuck.url, events: ['message.created'] });
      expect(stuckHook.status).toBe(201);
      // A backlog older than anything the other endpoint gets, in more conversations (streams)
      // than the deliverer looks at in one poll.
      for (let i = 0; i < 40; i++) {
        const group = await admin.api.post('/api/conversations/group', { title: `Backlog ${i}`, participantIds: [] });
        expect((await admin.api.post('/api/messages', { conversationId: group.body.id, content: `old ${i}`, clientId: `backlog-${i}` })).status).toBe(201);
      }
      await until(
        () => stuck.requests,
        (n) => n >= 8,
      );
      expect((await admin.api.post('/api/admin/webhooks', { url: healthy.url, events: ['message.created'] })).status).toBe(201);
      const group = await admin.api.post('/api/conversations/group', { title: 'Fresh', participantIds: [] });
      await admin.api.post('/api/messages', { conversationId: group.body.id, content: 'fresh', clientId: 'fresh-0' });
      const events = await until(
        () => healthy.delivered(),
        (e) => e.length >= 1,
      );
      expect(events.map((e) => e.data.message.content)).toEqual(['fresh']);
      // The stuck endpoint still holds its first requests (none ended) and got no more than its share.
      expect(stuck.received).toEqual([]);
      expect(stuck.requests).toBe(8);
    } finally {
      await own.close();
      await stuck.close();
      await healthy.close();
    }
  }, 60_000);

  it('refuses private addresses unless allowed, and plain http; only admins manage webhooks', async () => {
    const strict = await startTestServer({ webhooksAllowPrivate: false });
    try {
      const admin = await registerUser(strict, 'strict');
      for (const url of ['https://127.0.0.1/hook', 'https://10.1.2.3/x', 'https://169.254.169.254/latest', 'https://[::1]/x', 'https://localhost/x', 'http://example.com/x']) {
        const res = await admin.api.post('/api/admin/webhooks', { url, events: ['message.created'] });
        expect(res.status, url).toBe(400);
        expect(res.body.error.code).toBe('VALIDATION_ERROR');
      }
    } finally {
      await strict.close();
    }
    const someone = await registerUser(server, 'someone');
    expect((await someone.api.post('/api/admin/webhooks', { url: receiver.url, events: ['message.created'] })).status).toBe(403);
    expect((await someone.api.get('/api/admin/webhooks')).status).toBe(403);
    const created = await hook(['user.created']);
    expect((await someone.api.get(`/api/admin/webhooks/${created.id}`)).status).toBe(403);
    expect((await someone.api.get(`/api/admin/webhooks/${created.id}/deliveries`)).status).toBe(403);
    expect((await someone.api.delete(`/api/admin/webhooks/${created.id}`)).status).toBe(403);
    expect((await owner.api.post('/api/admin/webhooks', { url: receiver.url, events: ['nope'] })).status).toBe(400);
    // Audited, without the secret.
    const audit = await owner.api.get('/api/admin/audit');
    const entry = audit.body.entries.find((e: { action: string; targetId: string }) => e.action === 'webhook.create' && e.targetId === created.id);
    expect(entry).toBeDefined();
    expect(JSON.stringify(entry)).not.toContain(created.secret);
  });
});
