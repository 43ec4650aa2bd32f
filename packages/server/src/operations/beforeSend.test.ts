import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Message } from '@confab/protocol';
import { io as connectClient, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';

/**
 * The before-send hook (docs/platform.md) against a real local hook server: what it is sent and how
 * it is signed, and its answers (allow, block, replace) and failures (too slow, garbage, 500)
 * deciding sends over REST and the socket, and edits; once failing open, once closed.
 */

const SECRET = 'hook-secret-for-tests';

interface Call {
  body: any;
  signatureValid: boolean;
  eventId: string | undefined;
}

/** Answers by the content's first word. */
async function startHookServer(): Promise<{ url: string; calls: Call[]; close: () => Promise<void> }> {
  const calls: Call[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(req.headers['confab-signature'] ?? ''));
      const expected = match ? createHmac('sha256', SECRET).update(`${match[1]}.${raw}`).digest() : undefined;
      const signatureValid = !!match && !!expected && timingSafeEqual(expected, Buffer.from(match[2]!, 'hex')) && Math.abs(Date.now() / 1000 - Number(match[1])) < 300;
      const body = JSON.parse(raw);
      calls.push({ body, signatureValid, eventId: req.headers['confab-event-id'] as string | undefined });
      const word = String(body.content).split(' ')[0];
      const answer = (status: number, payload: string) => res.writeHead(status, { 'content-type': 'application/json' }).end(payload);
      if (!signatureValid) return answer(401, '{}');
      if (word === 'block') return answer(200, JSON.stringify({ action: 'block', reason: 'no shouting here' }));
      if (word === 'replace') return answer(200, JSON.stringify({ action: 'replace', content: 'replaced by the hook' }));
      if (word === 'huge') return answer(200, JSON.stringify({ action: 'replace', content: 'x'.repeat(70 * 1024) }));
      if (word === 'garbage') return answer(200, 'this is not json');
      if (word === 'wrongshape') return answer(200, JSON.stringify({ action: 'maybe' }));
      if (word === 'error') return answer(500, JSON.stringify({ action: 'allow' }));
      if (word === 'slow') return void setTimeout(() => answer(200, JSON.stringify({ action: 'block', reason: 'too late' })), 600);
      return answer(200, JSON.stringify({ action: 'allow' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/check`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let hook: Awaited<ReturnType<typeof startHookServer>>;
let open: TestServer;
let closed: TestServer;
const sockets: Socket[] = [];

beforeAll(async () => {
  hook = await startHookServer();
  open = await startTestServer({ beforeSend: { url: hook.url, secret: SECRET, timeoutMs: 250, failClosed: false } });
  closed = await startTestServer({ beforeSend: { url: hook.url, secret: SECRET, timeoutMs: 250, failClosed: true } });
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await open?.close();
  await closed?.close();
  await hook?.close();
});

async function group(owner: TestUser, members: TestUser[]): Promise<string> {
  const res = await owner.api.post('/api/conversations/group', { title: 'Team', participantIds: members.map((m) => m.id) });
  expect(res.status).toBe(201);
  return res.body.id;
}

let n = 0;
const send = (user: TestUser, conversationId: string, content: string) =>
  user.api.post<any>('/api/messages', { conversationId, content, clientId: `bs-${++n}` });

async function connect(server: TestServer, user: TestUser): Promise<{ socket: Socket; received: Message[] }> {
  const socket = connectClient(server.url, { auth: { token: user.accessToken }, transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(socket);
  const received: Message[] = [];
  socket.on('chat:message_received', (m: Message) => received.push(m));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, received };
}

const callsFor = (content: string) => hook.calls.filter((c) => c.body.content === content);

describe('the before-send hook, failing open', () => {
  let alice: TestUser;
  let bob: TestUser;
  let conv: string;
  beforeAll(async () => {
    alice = await registerUser(open, 'alice');
    bob = await registerUser(open, 'bob');
    conv = await group(alice, [bob]);
  });

  it('is sent the message as written, signed, and an allow stores it', async () => {
    const res = await send(alice, conv, `allowed @${bob.user.handle} hello`);
    expect(res.status).toBe(201);
    expect(res.body.content).toBe(`allowed @${bob.user.handle} hello`);
    const [call] = callsFor(`allowed @${bob.user.handle} hello`);
    expect(call).toBeDefined();
    expect(call!.signatureValid).toBe(true);
    expect(call!.eventId).toMatch(/\S+/);
    expect(call!.body).toMatchObject({
      event: 'message.send',
      conversationId: conv,
      authorId: alice.id,
      kind: 'text',
      clientId: `bs-${n}`,
      replyToId: null,
      threadRootId: null,
      attachmentIds: [],
      mentions: [bob.user.handle.toLowerCase()],
    });
    expect(res.body.mentions).toEqual([bob.id]);
  });

  it('a block fails the send with 403 and the reason, over REST and in the socket ack; nothing is stored', async () => {
    const res = await send(alice, conv, 'block this one');
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', message: 'no shouting here' });

    const { socket } = await connect(open, alice);
    const ack = await new Promise<any>((resolve) => socket.emit('chat:message_send', { conversationId: conv, content: 'block over the socket', clientId: 'sock-block' }, resolve));
    expect(ack).toMatchObject({ ok: false, error: { code: 'FORBIDDEN', message: 'no shouting here' } });
    const allowed = await new Promise<any>((resolve) => socket.emit('chat:message_send', { conversationId: conv, content: 'fine over the socket', clientId: 'sock-ok' }, resolve));
    expect(allowed).toMatchObject({ ok: true, data: { content: 'fine over the socket' } });

    const stored = (await bob.api.get(`/api/messages/${conv}?limit=100`)).body.messages.map((m: Message) => m.content);
    expect(stored).toContain('fine over the socket');
    expect(stored.filter((c: string) => c.startsWith('block'))).toEqual([]);
  });

  it('a replace stores and broadcasts the replacement', async () => {
    const live = await connect(open, bob);
    const res = await send(alice, conv, 'replace my words');
    expect(res.status).toBe(201);
    expect(res.body.content).toBe('replaced by the hook');
    const stored = (await bob.api.get(`/api/messages/${conv}?limit=100`)).body.messages.find((m: Message) => m.id === res.body.id);
    expect(stored.content).toBe('replaced by the hook');
    await expect.poll(() => live.received.find((m) => m.id === res.body.id)?.content).toBe('replaced by the hook');
    // Searching finds the replacement, not what was written.
    const found = (await bob.api.get(`/api/search?query=${encodeURIComponent('replaced hook')}`)).body.messages.map((m: Message) => m.id);
    expect(found).toContain(res.body.id);
    expect((await bob.api.get('/api/search?query=words')).body.messages.map((m: Message) => m.id)).not.toContain(res.body.id);
  });

  it('a replacement over the content limit is refused with 413', async () => {
    const res = await send(alice, conv, 'huge please');
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('edits are asked about too', async () => {
    const sent = await send(alice, conv, 'an edit target');
    expect(sent.status).toBe(201);
    const blocked = await alice.api.patch(`/api/messages/${sent.body.id}`, { content: 'block the edit' });
    expect(blocked.status).toBe(403);
    expect(blocked.body.error.message).toBe('no shouting here');
    expect(callsFor('block the edit')[0]!.body).toMatchObject({ event: 'message.edit', messageId: sent.body.id, conversationId: conv });
    const replaced = await alice.api.patch(`/api/messages/${sent.body.id}`, { content: 'replace the edit' });
    expect(replaced.status).toBe(200);
    expect(replaced.body.content).toBe('replaced by the hook');
  });

  it('no answer in time, garbage, a wrong shape or a 500 allow the message', async () => {
    for (const content of ['slow but fine', 'garbage answer', 'wrongshape answer', 'error answer']) {
      const started = Date.now();
      const res = await send(alice, conv, content);
      expect(res.status, content).toBe(201);
      expect(res.body.content).toBe(content);
      if (content.startsWith('slow')) expect(Date.now() - started).toBeLessThan(600);
    }
  });

  it('a non-member’s send is not shown to the hook', async () => {
    const eve = await registerUser(open, 'eve');
    const res = await send(eve, conv, 'outsider words');
    expect(res.status).toBe(404);
    expect(callsFor('outsider words')).toEqual([]);
  });

  it('asks about concurrent sends concurrently', async () => {
    // Each slow call takes 600 ms past a 250 ms timeout: one after another, 8 would take 2 s.
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => send(alice, conv, `slow ${i}`)));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe('the before-send hook, failing closed', () => {
  let alice: TestUser;
  let conv: string;
  beforeAll(async () => {
    alice = await registerUser(closed, 'alice');
    const bob = await registerUser(closed, 'bob');
    conv = await group(alice, [bob]);
  });

  it('refuses with 503 when the hook is too slow, answers garbage or fails', async () => {
    for (const content of ['slow and refused', 'garbage refused', 'error refused']) {
      const res = await send(alice, conv, content);
      expect(res.status, content).toBe(503);
      expect(res.body.error.code).toBe('UNAVAILABLE');
    }
    const { socket } = await connect(closed, alice);
    const ack = await new Promise<any>((resolve) => socket.emit('chat:message_send', { conversationId: conv, content: 'slow on the socket', clientId: 'closed-1' }, resolve));
    expect(ack).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
    const stored = (await alice.api.get(`/api/messages/${conv}?limit=100`)).body.messages.filter((m: Message) => m.kind !== 'system');
    expect(stored).toEqual([]);
  });

  it('still stores what the hook allows', async () => {
    const res = await send(alice, conv, 'allowed while closed');
    expect(res.status).toBe(201);
  });
});
