import http from 'node:http';
import { connect as netConnect, type Socket as TcpSocket } from 'node:net';
import { LIMITS, type Message, type SyncResult } from '@confab/protocol';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userRoom } from '../bus/bus.ts';
import { Api, registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';
import { call, connect, connectError, createGroup, ok, sleep, until, waitFor, type Client } from './test/kit.ts';

let server: TestServer;
/** Rate limits on, short-lived tokens, fast sweeps. */
let strict: TestServer;
const open: Client[] = [];
const track = (s: Client) => (open.push(s), s);

beforeAll(async () => {
  [server, strict] = await Promise.all([
    startTestServer(),
    startTestServer({ rateLimits: true, accessTokenTtlSeconds: 3 }, { realtime: { sweepIntervalMs: 100, reconcileIntervalMs: 200 } }),
  ]);
});
afterAll(async () => {
  for (const s of open) s.close();
  await Promise.all([server?.close(), strict?.close()]);
});

/** A raw engine.io handshake, to look at what the HTTP layer answers. */
function handshake(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/socket.io/?EIO=4&transport=polling`, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

describe('handshake', () => {
  it('refuses missing, malformed, forged, alg-none, expired and revoked tokens with UNAUTHENTICATED', async () => {
    const gus = await registerUser(server, 'gus');
    const [header, payload] = gus.accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    const forged = await new SignJWT({ sid: claims.sid }).setProtectedHeader({ alg: 'HS256' }).setSubject(gus.id).setIssuer('confab').setExpirationTime('1h').sign(new TextEncoder().encode('not the server key'));
    const expired = await new SignJWT({ sid: claims.sid }).setProtectedHeader({ alg: 'HS256' }).setSubject(gus.id).setIssuer('confab').setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(server.ctx.keys.jwtKey);
    const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${gus.accessToken.split('.')[2]}`;
    for (const auth of [{}, { token: '' }, { token: 42 }, { token: 'garbage' }, { token: none }, { token: forged }, { token: expired }, { token: tampered }, { token: 'x'.repeat(5000) }]) {
      const error = await connectError(server.url, auth);
      expect(error.message, JSON.stringify(auth).slice(0, 40)).toBe('UNAUTHENTICATED');
    }
    // A token of a signed-out session is refused too.
    const hal = await registerUser(server, 'hal');
    expect((await new Api(server.url).post('/api/auth/logout', { refreshToken: hal.refreshToken })).status).toBe(204);
    expect((await connectError(server.url, { token: hal.accessToken })).message).toBe('UNAUTHENTICATED');
    // The server carries on.
    const fine = track(await connect(server.url, gus.accessToken));
    expect(fine.connected).toBe(true);
  });

  it('keeps no bearer token on an accepted socket, and still answers its events', async () => {
    const lee = await registerUser(server, 'lee');
    const client = track(await connect(server.url, lee.accessToken));
    const [socket] = [...server.gateway.io.of('/').sockets.values()].filter((s) => s.data.userId === lee.id);
    expect(socket!.handshake.auth).toEqual({});
    expect(JSON.stringify(socket!.handshake)).not.toContain(lee.accessToken);
    // Events reach the one shared listener with this socket as the caller.
    expect((await ok<SyncResult>(client, 'sync', { cursors: {} })).conversations).toEqual([]);
  });

  it('refuses browser origins other than its own, lets non-browser clients in', async () => {
    const host = new URL(server.url).host;
    expect(await handshake(server.url, {})).toBe(200);
    expect(await handshake(server.url, { origin: `http://${host}` })).toBe(200);
    expect(await handshake(server.url, { origin: 'https://evil.example' })).toBe(403);
    expect(await handshake(server.url, { origin: 'null' })).toBe(403);
  });

  describe('origins (DNS rebinding)', () => {
    let sam: TestUser;
    let configured: TestServer;
    beforeAll(async () => {
      sam = await registerUser(server, 'sam');
      configured = await startTestServer({ publicUrl: 'https://chat.example', origins: ['https://app.example'] });
    });
    afterAll(() => configured?.close());

    /** A real socket.io client whose handshake carries these headers, as a browser's would. */
    const opens = async (s: TestServer, token: string, headers: Record<string, string>): Promise<boolean> => {
      try {
        track(await connect(s.url, token, { extraHeaders: headers }));
        return true;
      } catch (error) {
        expect((error as Error).message).toMatch(/websocket error|origin not allowed/);
        return false;
      }
    };

    it('without configuration: loopback and IP-literal pages of this server, never a host name that resolves here', async () => {
      const port = new URL(server.url).port;
      // A rebinding page: its host name resolves to this server, so Origin and Host agree.
      expect(await opens(server, sam.accessToken, { origin: `http://evil.example:${port}`, host: `evil.example:${port}` })).toBe(false);
      expect(await opens(server, sam.accessToken, { origin: 'http://evil.example', host: 'evil.example' })).toBe(false);
      // npm start at http://localhost:3000, the dev server's page on :5173, the server's address.
      expect(await opens(server, sam.accessToken, { origin: `http://localhost:${port}`, host: `localhost:${port}` })).toBe(true);
      expect(await opens(server, sam.accessToken, { origin: 'http://localhost:5173', host: `localhost:${port}` })).toBe(true);
      expect(await opens(server, sam.accessToken, { origin: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` })).toBe(true);
      // An address is this server only if it is the one the request was sent to.
      expect(await opens(server, sam.accessToken, { origin: `http://192.0.2.77:${port}`, host: `127.0.0.1:${port}` })).toBe(false);
      // No Origin: not a browser.
      expect(await opens(server, sam.accessToken, { host: `evil.example:${port}` })).toBe(true);
      // A browser's same-origin polling GET carries no Origin but Sec-Fetch-Site; its Host is the page's.
      expect(await handshake(server.url, { host: `evil.example:${port}`, 'sec-fetch-site': 'same-origin' })).toBe(403);
      expect(await handshake(server.url, { host: `127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' })).toBe(200);
    });

    it('with CONFAB_PUBLIC_URL and CONFAB_ORIGINS: exactly those origins', async () => {
      const port = new URL(configured.url).port;
      const kim = await registerUser(configured, 'kim');
      expect(await opens(configured, kim.accessToken, { origin: 'https://chat.example', host: 'chat.example' })).toBe(true);
      expect(await opens(configured, kim.accessToken, { origin: 'https://app.example', host: 'chat.example' })).toBe(true);
      expect(await opens(configured, kim.accessToken, { origin: 'http://chat.example', host: 'chat.example' })).toBe(false);
      expect(await opens(configured, kim.accessToken, { origin: 'https://chat.example.evil', host: 'chat.example.evil' })).toBe(false);
      expect(await opens(configured, kim.accessToken, { origin: 'https://evil.example', host: 'evil.example' })).toBe(false);
      expect(await opens(configured, kim.accessToken, { origin: `http://localhost:${port}`, host: `localhost:${port}` })).toBe(false);
      expect(await handshake(configured.url, { host: 'evil.example', 'sec-fetch-site': 'same-origin' })).toBe(403);
      expect(await handshake(configured.url, { host: 'chat.example', 'sec-fetch-site': 'same-origin' })).toBe(200);
      // Cross-origin polling from a configured origin gets its CORS answer.
      expect(await handshake(configured.url, { origin: 'https://app.example' })).toBe(200);
    });
  });

  it('extends a socket with auth:refresh and disconnects one whose token expired', async () => {
    const ivy = await registerUser(strict, 'ivy');
    const other = await registerUser(strict, 'other');
    const stale = track(await connect(strict.url, ivy.accessToken));
    const fresh = track(await connect(strict.url, ivy.accessToken));
    const staleGone = new Promise<string>((resolve) => stale.once('disconnect', resolve));
    await sleep(1200);
    const rotated = await new Api(strict.url).post('/api/auth/refresh', { refreshToken: ivy.refreshToken });
    expect(rotated.status).toBe(200);
    const ack = await ok<{ expiresAt: string }>(fresh, 'auth:refresh', { token: rotated.body.accessToken });
    expect(Date.parse(ack.expiresAt)).toBeGreaterThan(Date.now());
    // Someone else's token does not turn this socket into theirs; garbage is refused.
    expect(await call(fresh, 'auth:refresh', { token: other.accessToken })).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await call(fresh, 'auth:refresh', { token: 'garbage' })).toMatchObject({ ok: false, error: { code: 'UNAUTHENTICATED' } });

    expect(await staleGone).toBe('io server disconnect');
    expect(fresh.connected).toBe(true);
    await until(() => !fresh.connected, 5000, 'the refreshed socket to expire too');
  });

  it('disconnects the sockets of a session that signs out', async () => {
    const jo = await registerUser(strict, 'jo');
    const s = track(await connect(strict.url, jo.accessToken));
    const gone = new Promise<string>((resolve) => s.once('disconnect', resolve));
    expect((await new Api(strict.url).post('/api/auth/logout', { refreshToken: jo.refreshToken })).status).toBe(204);
    expect(await gone).toBe('io server disconnect');
  });
});

describe('bad input', () => {
  let alice: TestUser;
  let bob: TestUser;
  let a: Client;
  let b: Client;
  let conversationId: string;
  beforeAll(async () => {
    [alice, bob] = (await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob')])) as [TestUser, TestUser];
    conversationId = await createGroup(server, server.ctx.db, alice, [bob]);
    a = track(await connect(server.url, alice.accessToken));
    b = track(await connect(server.url, bob.accessToken));
  });

  it('answers malformed payloads with VALIDATION_ERROR and a readable message', async () => {
    const missing = await call(a, 'chat:message_send', { conversationId, content: 'x' });
    expect(missing).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR', message: expect.stringContaining('clientId') } });
    expect(await call(a, 'chat:message_send', { conversationId, content: 'x', clientId: 'k', admin: true })).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR' } });
    expect(await call(a, 'chat:message_send', 'just a string')).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR' } });
    expect(await call(a, 'chat:message_send')).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR' } });
    expect(await call(a, 'chat:typing', { conversationId, isTyping: 'yes' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR', message: expect.stringContaining('isTyping') } });
    expect(await call(a, 'sync', { cursors: { [conversationId]: -1 } })).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR' } });
    expect(await call(a, 'chat:reaction', { messageId: 'm', emoji: '', on: true })).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR' } });
    expect(await call(a, 'chat:message_send', { conversationId, content: '   ', clientId: 'blank' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR' } });
    // Two payloads.
    const two = await a.timeout(5000).emitWithAck('chat:typing', { conversationId, isTyping: true }, { extra: 1 });
    expect(two).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR' } });
  });

  it('answers oversized payloads with PAYLOAD_TOO_LARGE', async () => {
    expect(await call(a, 'chat:typing', { conversationId, isTyping: true, pad: 'x'.repeat(2000) })).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
    // Within the event's ceiling but over the content limit: the operation says so.
    const content = 'é'.repeat(LIMITS.messageContentBytes / 2 + 1);
    expect(await call(a, 'chat:message_send', { conversationId, content, clientId: 'big' })).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect(await call(a, 'chat:message_edit', { messageId: 'whatever', content })).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
    const cursors = Object.fromEntries(Array.from({ length: 12_000 }, (_, i) => [`conversation-${i}`, i]));
    expect(await call(a, 'sync', { cursors })).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
    const fits = 'y'.repeat(LIMITS.messageContentBytes);
    expect(await call(a, 'chat:message_send', { conversationId, content: fits, clientId: 'fits' })).toMatchObject({ ok: true });
  });

  it('answers a payload nested too deep to serialize with VALIDATION_ERROR, and carries on', async () => {
    // Written as a raw Socket.IO packet: a client's own encoder would overflow its stack first.
    const c = track(await connect(server.url, alice.accessToken));
    const engine = c.io.engine;
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const answered = new Promise<string>((resolve) => engine.on('message', (data) => typeof data === 'string' && data.startsWith('3777') && resolve(data)));
    // A Socket.IO event (2) with ack id 777 (engine.io adds its message type); the ack is 3777[...].
    engine.send(`2777["chat:message_send",{"conversationId":"${conversationId}","content":"x","clientId":"deep","nested":${deep}}]`);
    const [ack] = JSON.parse((await answered).slice('3777'.length)) as [unknown];
    expect(ack).toMatchObject({ ok: false, error: { code: 'VALIDATION_ERROR' } });
    expect(await call(c, 'chat:message_send', { conversationId, content: 'after deep', clientId: 'after-deep' })).toMatchObject({ ok: true });
  });

  it('drops a connection whose frame exceeds the body limit; others carry on', async () => {
    const c = track(await connect(server.url, alice.accessToken));
    const closed = new Promise<string>((resolve) => c.once('disconnect', resolve));
    c.emit('chat:message_send', { conversationId, content: 'z'.repeat(LIMITS.bodyBytes + 10), clientId: 'huge' });
    expect(await closed).toBe('transport close');
    const got = waitFor<Message>(b, 'chat:message_received', (m) => m.clientId === 'after-huge');
    await ok(a, 'chat:message_send', { conversationId, content: 'still here', clientId: 'after-huge' });
    await got;
  });

  it('ignores and counts unknown events, answers them if asked, and processes events sent without an ack', async () => {
    const before = await metric(server, 'confab_socket_events_total{event="unknown",outcome="unknown"}');
    expect(await call(a, 'chat:launch_missiles', { now: true })).toEqual({ ok: false, error: { code: 'VALIDATION_ERROR', message: 'unknown event "chat:launch_missiles"' } });
    a.emit('toString');
    a.emit('__proto__', {});
    a.emit('constructor');
    expect(await metric(server, 'confab_socket_events_total{event="unknown",outcome="unknown"}')).toBe(before + 4);

    const got = waitFor<Message>(b, 'chat:message_received', (m) => m.clientId === 'no-ack');
    a.emit('chat:message_send', { conversationId, content: 'fire and forget', clientId: 'no-ack' });
    await got;
    a.emit('chat:message_send', { nonsense: true });
    a.emit('sync');
    // Still alive and answering.
    expect(await call(a, 'chat:typing', { conversationId, isTyping: false })).toEqual({ ok: true, data: null });
    expect(await metric(server, 'confab_socket_events_total{event="chat:message_send",outcome="error"}')).toBeGreaterThan(0);
  });
});

describe('rate limits', () => {
  it('limits client events per user with RATE_LIMITED and retryAfterMs', async () => {
    const kim = await registerUser(strict, 'kim');
    const lee = await registerUser(strict, 'lee');
    const conversationId = await createGroup(strict, strict.ctx.db, kim, [lee]);
    const [k1, k2] = [track(await connect(strict.url, kim.accessToken)), track(await connect(strict.url, kim.accessToken))];
    // Both of the user's sockets draw from one budget.
    const acks = await Promise.all(Array.from({ length: 140 }, (_, i) => call(i % 2 ? k1 : k2, 'chat:typing', { conversationId, isTyping: true })));
    const limited = acks.filter((x) => !x.ok);
    expect(acks.filter((x) => x.ok).length).toBeLessThanOrEqual(100);
    expect(limited.length).toBeGreaterThanOrEqual(40);
    expect(limited[0]).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED', details: { retryAfterMs: expect.any(Number) } } });
    // Another user is not affected.
    const l = track(await connect(strict.url, lee.accessToken));
    expect(await call(l, 'chat:typing', { conversationId, isTyping: true })).toEqual({ ok: true, data: null });
  });
});

async function metric(s: TestServer, series: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

describe('shutdown', () => {
  it('refuses new connections at once, then drops every connection, so that a stock socket.io-client reconnects by itself', async () => {
    const own = await startTestServer();
    const ann = await registerUser(own, 'ann');
    const sockets = await Promise.all([connect(own.url, ann.accessToken), connect(own.url, ann.accessToken)]);
    // "io server disconnect" would leave socket.io-client offline until the app reconnects it by hand.
    const reasons = sockets.map((s) => new Promise<string>((resolve) => s.once('disconnect', resolve)));
    const closing = own.close();
    // New connections are refused from the start of the shutdown, not let in to be reset.
    const port = Number(new URL(own.url).port);
    const refused = await new Promise<string>((resolve) => {
      const tcp = netConnect(port, '127.0.0.1', () => resolve('accepted'));
      tcp.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    await closing;
    expect(await Promise.all(reasons)).toEqual(['transport close', 'transport close']);
    for (const s of sockets) s.close();
  });
});

describe('writes', () => {
  it('sends the packets of one turn for a socket in one write, not one per packet', async () => {
    const kim = await registerUser(server, 'kim');
    const client = track(await connect(server.url, kim.accessToken));
    const received: number[] = [];
    client.on('notification' as never, (n: { i: number }) => {
      received.push(n.i);
    });
    const [socket] = [...server.gateway.io.of('/').sockets.values()].filter((s) => s.data.userId === kim.id);
    const tcp = (socket!.conn as unknown as { transport: { socket: { _socket: TcpSocket } } }).transport.socket._socket;
    // Writable's two implementation methods: every system call for this socket goes through one.
    const writable = tcp as unknown as { _write: (...a: unknown[]) => unknown; _writev: (...a: unknown[]) => unknown };
    let writes = 0;
    for (const name of ['_write', '_writev'] as const) {
      const original = writable[name].bind(tcp);
      writable[name] = (...args: unknown[]) => (writes++, original(...args));
    }
    // Ten events in one turn: flushed together at the end of the turn, in one corked write.
    const room = server.gateway.io.to(userRoom(kim.id)) as unknown as { emit(event: string, payload: unknown): void };
    for (let i = 0; i < 10; i++) room.emit('notification', { i });
    await until(() => received.length === 10, 5000, 'the ten events');
    expect(received).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(writes).toBe(1);
  });
});
