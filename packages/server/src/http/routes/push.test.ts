import { importJWK, jwtVerify } from 'jose';
import { io as connectClient, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifyAiAnswerReady } from '../../operations/notifications.ts';
import { browserSubscription, FakePushService, type BrowserSubscription } from '../../push/test/fakePushService.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

let server: TestServer;
let pushService: FakePushService;
let alice: TestUser, bob: TestUser, carol: TestUser, dave: TestUser;
const sockets: Socket[] = [];

beforeAll(async () => {
  pushService = await new FakePushService().start();
  server = await startTestServer({}, { jobs: { pollIntervalMs: 20, backoffBaseMs: 40, backoffMaxMs: 1000 }, push: { allowInsecureEndpoints: true, subject: 'mailto:ops@confab.test', maxAttempts: 6 } });
  [alice, bob, carol, dave] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob'), registerUser(server, 'carol'), registerUser(server, 'dave')]);
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  await pushService?.close();
});

let endpoints = 0;
async function subscribe(user: TestUser): Promise<BrowserSubscription & { path: string }> {
  const path = `/push/${user.user.handle}/${++endpoints}`;
  const sub = browserSubscription(pushService.endpoint(path));
  const res = await user.api.post('/api/push/subscriptions', { endpoint: sub.endpoint, expirationTime: null, keys: sub.keys });
  expect(res.status).toBe(201);
  return { ...sub, path };
}

async function group(owner: TestUser, members: TestUser[], title = 'Team'): Promise<string> {
  const res = await owner.api.post('/api/conversations/group', { title, participantIds: members.map((m) => m.id) });
  expect(res.status).toBe(201);
  return res.body.id;
}

let n = 0;
async function send(user: TestUser, conversationId: string, content: string): Promise<any> {
  const res = await user.api.post('/api/messages', { conversationId, content, clientId: `p-${++n}` });
  expect(res.status).toBe(201);
  return res.body;
}

async function connect(user: TestUser): Promise<{ socket: Socket; notifications: any[] }> {
  const socket = connectClient(server.url, { auth: { token: user.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(socket);
  const notifications: any[] = [];
  socket.on('notification', (event: unknown) => notifications.push(event));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  // Counted as online once the gateway registered the socket.
  await until(async () => (await server.ctx.presence!.online([user.id])).has(user.id));
  return { socket, notifications };
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const settle = async () => {
  await new Promise((r) => setTimeout(r, 150));
  await server.ctx.jobs.drain();
};

describe('subscriptions', () => {
  it('gives out the VAPID key, and registers, lists and removes devices', async () => {
    const key = await bob.api.get('/api/push/vapid-public-key');
    expect(key.status).toBe(200);
    expect(Buffer.from(key.body.publicKey, 'base64url')).toHaveLength(65);
    expect((await new (bob.api.constructor as any)(server.url).get('/api/push/vapid-public-key')).status).toBe(401);

    const sub = await subscribe(bob);
    const list = await bob.api.get('/api/push/subscriptions');
    expect(list.body.subscriptions.map((s: any) => s.endpoint)).toEqual([sub.endpoint]);
    // The same browser again: still one.
    expect((await bob.api.post('/api/push/subscriptions', { endpoint: sub.endpoint, keys: sub.keys })).status).toBe(201);
    expect((await bob.api.get('/api/push/subscriptions')).body.subscriptions).toHaveLength(1);
    // Someone else cannot take it over without its keys.
    const other = browserSubscription(sub.endpoint);
    expect((await carol.api.post('/api/push/subscriptions', { endpoint: sub.endpoint, keys: other.keys })).status).toBe(409);
    // Unsubscribing someone else's endpoint does nothing.
    expect((await carol.api.request('DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint })).status).toBe(204);
    expect((await bob.api.get('/api/push/subscriptions')).body.subscriptions).toHaveLength(1);
    expect((await bob.api.request('DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint })).status).toBe(204);
    expect((await bob.api.get('/api/push/subscriptions')).body.subscriptions).toHaveLength(0);
  });

  it('refuses keys a browser would not have', async () => {
    const sub = browserSubscription(pushService.endpoint('/push/bad'));
    const bad = [
      { endpoint: sub.endpoint, keys: { p256dh: 'short', auth: sub.keys.auth } },
      { endpoint: sub.endpoint, keys: { p256dh: sub.keys.p256dh, auth: 'AAAA' } },
      { endpoint: 'not a url', keys: sub.keys },
      { endpoint: 'ftp://push.example/x', keys: sub.keys },
      { endpoint: sub.endpoint },
    ];
    for (const body of bad) expect((await bob.api.post('/api/push/subscriptions', body)).status).toBe(400);
  });

  it('keeps notification settings per user', async () => {
    expect((await dave.api.get('/api/users/me/notifications')).body).toEqual({ level: 'all', preview: true });
    expect((await dave.api.put('/api/users/me/notifications', { level: 'mentions' })).body).toEqual({ level: 'mentions', preview: true });
    expect((await dave.api.put('/api/users/me/notifications', { preview: false })).body).toEqual({ level: 'mentions', preview: false });
    expect((await dave.api.get('/api/users/me/notifications')).body).toEqual({ level: 'mentions', preview: false });
    expect((await dave.api.put('/api/users/me/notifications', { level: 'loud' })).status).toBe(400);
    await dave.api.put('/api/users/me/notifications', { level: 'all', preview: true });
  });
});

describe('web push', () => {
  it('an offline member gets an encrypted push signed with the VAPID key', async () => {
    const conv = await group(alice, [carol], 'Launch');
    const sub = await subscribe(carol);
    const message = await send(alice, conv, 'The launch is at noon');
    const [push] = await pushService.waitFor(sub.path);
    expect(push!.headers['content-encoding']).toBe('aes128gcm');
    expect(push!.headers['content-type']).toBe('application/octet-stream');
    expect(Number(push!.headers.ttl)).toBeGreaterThan(0);
    expect(push!.headers.urgency).toBe('normal');
    expect(push!.headers.topic).toBe(conv);
    // The body is encrypted for this browser only; the browser can read it.
    expect(push!.body.includes(Buffer.from('launch'))).toBe(false);
    expect(JSON.parse(sub.decrypt(push!.body))).toEqual({ kind: 'message', conversationId: conv, messageId: message.id, title: `alice in Launch`, body: 'The launch is at noon' });
    // VAPID: a JWT for the push service's origin, signed with the key browsers subscribed with.
    const match = /^vapid t=([^,]+), k=(.+)$/.exec(String(push!.headers.authorization));
    expect(match).not.toBeNull();
    const publicKey = (await carol.api.get('/api/push/vapid-public-key')).body.publicKey as string;
    expect(match![2]).toBe(publicKey);
    const raw = Buffer.from(publicKey, 'base64url');
    const key = await importJWK({ kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') }, 'ES256');
    const { payload } = await jwtVerify(match![1]!, key, { audience: new URL(sub.endpoint).origin });
    expect(payload.sub).toBe('mailto:ops@confab.test');
    await settle();
    await carol.api.request('DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint });
  });

  it('a connected member gets an in-app notification for a mention, and no push', async () => {
    const conv = await group(alice, [bob, dave], 'Online');
    const bobSub = await subscribe(bob);
    const daveSub = await subscribe(dave);
    const { socket, notifications } = await connect(bob);
    const content = `hello @${bob.user.handle}`;
    const message = await send(alice, conv, content);
    await until(() => notifications.length > 0);
    expect(notifications).toEqual([{ kind: 'mention', conversationId: conv, messageId: message.id, title: 'alice mentioned you in Online', body: content }]);
    // Dave (offline) is pushed; bob is not.
    await pushService.waitFor(daveSub.path);
    await settle();
    expect(pushService.to(bobSub.path)).toHaveLength(0);
    // A plain group message reaches connected bob as chat:message_received only: no second event, no push.
    await send(alice, conv, 'plain news');
    await pushService.waitFor(daveSub.path, 2);
    await settle();
    expect(notifications).toHaveLength(1);
    expect(pushService.to(bobSub.path)).toHaveLength(0);
    // The author is never notified of their own message.
    const aliceSocket = await connect(alice);
    await send(alice, conv, `me again @${alice.user.handle}`);
    await pushService.waitFor(daveSub.path, 3);
    await settle();
    expect(aliceSocket.notifications).toHaveLength(0);
    // Away (app in the background) counts as not connected: pushed.
    socket.emit('presence:offline', {}, () => {});
    await until(async () => !(await server.ctx.presence!.online([bob.id])).has(bob.id));
    await send(alice, conv, 'are you there?');
    await pushService.waitFor(bobSub.path);
    socket.close();
    aliceSocket.socket.close();
    for (const s of [bobSub, daveSub]) await (s === bobSub ? bob : dave).api.request('DELETE', '/api/push/subscriptions', { endpoint: s.endpoint });
  });

  it('a muted conversation sends nothing', async () => {
    const conv = await group(alice, [bob, carol], 'Noisy');
    const bobSub = await subscribe(bob);
    const carolSub = await subscribe(carol);
    const bobLive = await connect(bob);
    expect((await carol.api.patch(`/api/conversations/${conv}`, { muted: true })).body.muted).toBe(true);
    expect((await bob.api.patch(`/api/conversations/${conv}`, { muted: true })).body.muted).toBe(true);
    // A control: dave, in the same kind of conversation but not muted, is told at once.
    const control = await group(alice, [dave], 'Control');
    const daveSub = await subscribe(dave);
    await send(alice, conv, 'spam spam spam @' + carol.user.handle);
    await send(alice, control, 'control');
    await pushService.waitFor(daveSub.path);
    await settle();
    expect(pushService.to(carolSub.path)).toHaveLength(0);
    expect(pushService.to(bobSub.path)).toHaveLength(0);
    expect(bobLive.notifications).toHaveLength(0);
    // Unmuted, it speaks again.
    await carol.api.patch(`/api/conversations/${conv}`, { muted: false });
    await send(alice, conv, 'now you hear me');
    await pushService.waitFor(carolSub.path);
    bobLive.socket.close();
    for (const [u, s] of [[bob, bobSub], [carol, carolSub], [dave, daveSub]] as const) await u.api.request('DELETE', '/api/push/subscriptions', { endpoint: s.endpoint });
  });

  it('respects the level: mentions only, none; a direct conversation counts as a mention', async () => {
    const conv = await group(alice, [carol, dave], 'Levels');
    const carolSub = await subscribe(carol);
    const daveSub = await subscribe(dave);
    await carol.api.put('/api/users/me/notifications', { level: 'mentions' });
    await dave.api.put('/api/users/me/notifications', { level: 'none' });
    await send(alice, conv, 'nothing for carol here');
    const mention = await send(alice, conv, `@${carol.user.handle.toUpperCase()}, look at this`);
    const [push] = await pushService.waitFor(carolSub.path);
    expect(JSON.parse(carolSub.decrypt(push!.body))).toMatchObject({ kind: 'mention', messageId: mention.id, title: 'alice mentioned you in Levels' });
    expect(push!.headers.urgency).toBe('high');
    // "@carolX" is someone else, and an e-mail address is not a mention.
    await send(alice, conv, `@${carol.user.handle}x and me@${carol.user.handle}`);
    const direct = await alice.api.post('/api/conversations/direct', { userId: carol.id });
    const dm = await send(alice, direct.body.id, 'just between us');
    const pushes = await pushService.waitFor(carolSub.path, 2);
    expect(JSON.parse(carolSub.decrypt(pushes[1]!.body))).toMatchObject({ kind: 'message', messageId: dm.id, title: 'alice', body: 'just between us' });
    await settle();
    expect(pushService.to(carolSub.path)).toHaveLength(2);
    expect(pushService.to(daveSub.path)).toHaveLength(0);
    await carol.api.put('/api/users/me/notifications', { level: 'all', preview: false });
    await dave.api.put('/api/users/me/notifications', { level: 'all' });
    await send(alice, conv, 'secret plans');
    const [hidden] = (await pushService.waitFor(carolSub.path, 3)).slice(2);
    expect(JSON.parse(carolSub.decrypt(hidden!.body))).toMatchObject({ title: 'alice in Levels', body: 'New message' });
    await carol.api.put('/api/users/me/notifications', { preview: true });
    for (const [u, s] of [[carol, carolSub], [dave, daveSub]] as const) await u.api.request('DELETE', '/api/push/subscriptions', { endpoint: s.endpoint });
  });

  it('removes a subscription the push service says is gone (410)', async () => {
    const conv = await group(alice, [carol], 'Gone');
    const sub = await subscribe(carol);
    pushService.script(sub.path, 201, 410);
    await send(alice, conv, 'first');
    await pushService.waitFor(sub.path, 1);
    await settle();
    expect((await carol.api.get('/api/push/subscriptions')).body.subscriptions).toHaveLength(1);
    await send(alice, conv, 'second');
    await pushService.waitFor(sub.path, 2);
    await until(async () => (await carol.api.get('/api/push/subscriptions')).body.subscriptions.length === 0);
    // Gone is gone: no retries, no dead letter, nothing more sent.
    await send(alice, conv, 'third');
    await settle();
    expect(pushService.to(sub.path)).toHaveLength(2);
    expect(await server.ctx.db.query(`SELECT * FROM jobs WHERE kind = 'push.send'`)).toHaveLength(0);
  });

  it('retries with exponential backoff while the push service fails, then delivers', async () => {
    const conv = await group(alice, [dave], 'Flaky');
    const sub = await subscribe(dave);
    pushService.script(sub.path, 500, 503, 500);
    const message = await send(alice, conv, 'eventually');
    const attempts = await pushService.waitFor(sub.path, 4, 10_000);
    expect(attempts.map((a) => JSON.parse(sub.decrypt(a.body)).messageId)).toEqual([message.id, message.id, message.id, message.id]);
    // Each wait roughly twice the one before (40 ms base, ±20 % jitter, plus polling).
    const gaps = attempts.slice(1).map((a, i) => a.at - attempts[i]!.at);
    expect(gaps[0]!).toBeGreaterThanOrEqual(30);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
    await settle();
    expect(await server.ctx.db.query(`SELECT * FROM jobs WHERE kind = 'push.send'`)).toHaveLength(0);
    expect((await dave.api.get('/api/push/subscriptions')).body.subscriptions).toHaveLength(1);
    await dave.api.request('DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint });
  });

  it('dead-letters a push after its last attempt, keeping the subscription', async () => {
    const conv = await group(alice, [dave], 'Down');
    const sub = await subscribe(dave);
    pushService.script(sub.path, ...Array<number>(6).fill(500));
    await send(alice, conv, 'into the void');
    await pushService.waitFor(sub.path, 6, 15_000);
    await until(async () => (await server.ctx.db.query(`SELECT 1 FROM jobs WHERE kind = 'push.send' AND status = 'dead'`)).length === 1, 5000);
    const [dead] = await server.ctx.db.query<any>(`SELECT attempts, last_error FROM jobs WHERE kind = 'push.send'`);
    expect(dead.attempts).toBe(6);
    expect(dead.last_error).toContain('500');
    await settle();
    expect(pushService.to(sub.path)).toHaveLength(6);
    expect((await dave.api.get('/api/push/subscriptions')).body.subscriptions).toHaveLength(1);
    await server.ctx.db.query(`DELETE FROM jobs WHERE kind = 'push.send'`);
    await dave.api.request('DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint });
  });

  it('a send retried with the same clientId notifies once', async () => {
    const conv = await group(alice, [carol], 'Retry');
    const sub = await subscribe(carol);
    const aliceSocket = connectClient(server.url, { auth: { token: alice.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(aliceSocket);
    const payload = { conversationId: conv, content: 'only once', clientId: 'same-client-id' };
    const first = await aliceSocket.timeout(5000).emitWithAck('chat:message_send', payload);
    const again = await aliceSocket.timeout(5000).emitWithAck('chat:message_send', payload);
    expect(again.data.id).toBe(first.data.id);
    const overRest = await alice.api.post('/api/messages', payload);
    expect(overRest.status).toBe(200);
    expect(overRest.body.id).toBe(first.data.id);
    await pushService.waitFor(sub.path);
    await settle();
    expect(pushService.to(sub.path)).toHaveLength(1);
    aliceSocket.close();
    await carol.api.request('DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint });
  });

  it('tells whoever asked that their AI answer is ready', async () => {
    const conv = await group(alice, [carol], 'Research');
    const sub = await subscribe(carol);
    const question = await send(carol, conv, 'what is the airspeed of a swallow?');
    const answer = { ...question, id: 'answer-1', authorId: 'assistant', replyToId: question.id, content: 'About 11 m/s, for an African one.' };
    await notifyAiAnswerReady(server.ctx, answer);
    const [push] = await pushService.waitFor(sub.path);
    expect(JSON.parse(sub.decrypt(push!.body))).toEqual({
      kind: 'ai_answer',
      conversationId: conv,
      messageId: 'answer-1',
      title: 'Your AI answer is ready: Research',
      body: 'About 11 m/s, for an African one.',
    });
    expect(push!.headers.urgency).toBe('high');
    await carol.api.request('DELETE', '/api/push/subscriptions', { endpoint: sub.endpoint });
  });
});
