/**
 * Transports, with the fake server: a WebSocket first, HTTP long-polling where no WebSocket gets
 * through, and a WebSocket again when it becomes possible, with a reconnect's guarantees (sync, each
 * message once). polling.integration.test.ts runs the same behind a real nginx and server.
 */
import { describe, expect, it } from 'vitest';
import { createClient } from './client.ts';
import { MAX_WEBSOCKET_RETRY_MS } from './connection.ts';
import { memoryStorage } from './storage/memory.ts';
import { FakeClock, FakeServer, conversation, fakeJwt, settle, type FakeSocket } from './test/fakes.ts';
import type { ChatMessage } from './types.ts';

const ME = 'u-me';
const RETRY_MS = 1000;

async function online(server: FakeServer, opts: { transport?: 'auto' | 'websocket' } = {}) {
  const clock = new FakeClock();
  const client = createClient({
    url: 'http://fake',
    fetch: server.fetch,
    socketFactory: server.socketFactory,
    clock,
    random: () => 0.5,
    storage: memoryStorage(),
    websocketRetryMs: RETRY_MS,
    ...opts,
  });
  const accessToken = fakeJwt(ME, Math.floor(clock.now() / 1000) + 3600);
  server.validTokens.add(accessToken);
  client.setSession({ accessToken, refreshToken: `${ME}:r0` });
  return { client, clock };
}

function blockedServer() {
  const server = new FakeServer();
  server.addConversation(conversation({ id: 'c1' }));
  server.store('c1', 'u-other', 'old 1');
  server.webSocketBlocked = true;
  return server;
}

const syncsOn = (socket: FakeSocket) => socket.sent.filter((s) => s.event === 'sync').length;

describe('client: transports', () => {
  it('asks for a WebSocket first, with long-polling as the fallback, and sends cookies (sticky sessions)', async () => {
    const server = new FakeServer();
    const { client } = await online(server);
    await client.idle();
    expect(server.created[0]!.options).toMatchObject({ transports: ['websocket', 'polling'], tryAllTransports: true, withCredentials: true });
    expect(client.connection.transport).toBe('websocket');
    client.connection.goOffline();
    expect(client.connection.transport).toBeNull();
    await client.close();
  });

  it('works over long-polling where no WebSocket gets through, and tries a WebSocket again later, less often each time', async () => {
    const server = blockedServer();
    const { client, clock } = await online(server);
    await client.idle();
    expect(client.connection.transport).toBe('polling');
    const m = client.send('c1', { content: 'over polling' });
    expect((await m.settled).sendState).toBe('sent');

    // WebSocket-only attempts after 1 s, 2 s, 4 s…, each failing; the polling socket stays.
    const polling = server.created[0]!;
    await clock.advance(RETRY_MS);
    expect(server.created.length).toBe(2);
    expect(server.created[1]!.options).toMatchObject({ transports: ['websocket'], tryAllTransports: false });
    await clock.advance(RETRY_MS);
    expect(server.created.length).toBe(2);
    await clock.advance(RETRY_MS);
    expect(server.created.length).toBe(3);
    await clock.advance(4 * RETRY_MS);
    expect(server.created.length).toBe(4);
    expect(polling.connected).toBe(true);
    expect(client.connection.transport).toBe('polling');
    expect(client.connection.state).toBe('online');
    await client.close();
  });

  it('never waits longer than 5 minutes between WebSocket attempts', async () => {
    const server = blockedServer();
    const { client, clock } = await online(server);
    await client.idle();
    for (let i = 0; i < 12; i++) await clock.advance(MAX_WEBSOCKET_RETRY_MS);
    const attempts = server.created.length - 1;
    await clock.advance(MAX_WEBSOCKET_RETRY_MS);
    expect(server.created.length - 1).toBe(attempts + 1);
    await client.close();
  });

  it('moves to a WebSocket once one gets through: syncs on it, ignores the polling socket from then on, shows every message once', async () => {
    const server = blockedServer();
    const { client, clock } = await online(server);
    await client.idle();
    const seen: ChatMessage[][] = [];
    client.watchMessages('c1', (l) => seen.push(l));
    await settle();
    const polling = server.created[0]!;

    // Stored while nobody hears of it (as if announced before the WebSocket joined the rooms).
    server.store('c1', 'u-other', 'unannounced', null, { broadcast: false });
    server.webSocketBlocked = false;
    await clock.advance(RETRY_MS);
    await client.idle();
    const ws = server.created[1]!;
    expect(client.connection.transport).toBe('websocket');
    expect(client.connection.state).toBe('online');
    // The polling socket is closed (nothing was waiting on it), and the new socket synced.
    expect(polling.connected).toBe(false);
    expect(syncsOn(ws)).toBe(1);
    expect(seen.at(-1)!.map((m) => m.content)).toEqual(['old 1', 'unannounced']);
    // The screen's interest went to the new socket.
    expect(ws.sent.some((s) => s.event === 'subscribe')).toBe(true);

    // A late event on the old socket is ignored; the new one carries the rest, each once.
    polling.fire('chat:message_received', server.store('c1', 'u-other', 'live', null, { broadcast: false }));
    await settle();
    expect(seen.at(-1)!.map((m) => m.content)).toEqual(['old 1', 'unannounced']);
    server.broadcast('chat:message_received', server.messages.get('c1')!.at(-1));
    server.store('c1', 'u-other', 'after');
    await settle();
    expect(seen.at(-1)!.map((m) => m.content)).toEqual(['old 1', 'unannounced', 'live', 'after']);
    // No more attempts once on a WebSocket.
    await clock.advance(10 * RETRY_MS);
    expect(server.created.length).toBe(2);
    await client.close();
  });

  it('lets requests sent on the polling socket finish before closing it', async () => {
    const server = blockedServer();
    const { client, clock } = await online(server);
    await client.idle();
    const polling = server.created[0]!;
    server.holdAcks = true;
    const m = client.send('c1', { content: 'in flight during the switch' });
    await settle();
    server.webSocketBlocked = false;
    await clock.advance(RETRY_MS);
    expect(client.connection.transport).toBe('websocket');
    // Waiting for its answer: still open.
    expect(polling.connected).toBe(true);
    server.holdAcks = false;
    server.release();
    expect((await m.settled).sendState).toBe('sent');
    await settle();
    expect(polling.connected).toBe(false);
    await client.idle();
    expect(server.messages.get('c1')!.filter((x) => x.content === 'in flight during the switch').length).toBe(1);
    await client.close();
  });

  it('stops trying a WebSocket when the connection drops, and the reconnect tries one first', async () => {
    const server = blockedServer();
    const { client, clock } = await online(server);
    await client.idle();
    client.connection.goOffline();
    await clock.advance(10 * RETRY_MS);
    expect(server.created.length).toBe(1);
    server.webSocketBlocked = false;
    client.connection.goOnline();
    await client.idle();
    expect(server.created.length).toBe(2);
    expect(client.connection.transport).toBe('websocket');
    await client.close();
  });

  it("transport: 'websocket' never polls", async () => {
    const server = blockedServer();
    const { client, clock } = await online(server, { transport: 'websocket' });
    await clock.advance(5000);
    expect(client.connection.state).toBe('connecting');
    expect(server.created.length).toBeGreaterThan(1);
    for (const s of server.created) expect(s.options.transports).toEqual(['websocket']);
    await client.close();
  });
});
