/**
 * The SDK where no WebSocket gets through: a real server behind Debian's nginx running the recipe of
 * docs/proxy/nginx.conf without the two lines that pass the upgrade on (what a plain `proxy_pass`
 * does). The SDK falls back to HTTP long-polling, everything works over it, and when the proxy is
 * fixed (nginx reloaded with the recipe as it is) the SDK moves to a WebSocket by itself.
 * transport.test.ts checks the same logic with the fake server, step by step.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../../server/src/test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../server/src/test/harness.ts';
import {
  clientFetch,
  clientSocketOptions,
  freePort,
  nginxSite,
  proxyDir,
  replaceIn,
  selfSignedCertificate,
  startNginx,
  upstreamOf,
  type Certificate,
  type ProxyProcess,
} from '../../server/src/test/proxies.ts';
import { createClient, type ClientOptions, type ConfabClient } from './client.ts';
import type { SocketLike } from './connection.ts';
import type { FetchLike } from './rest.ts';
import type { ChatMessage } from './types.ts';

const MODEL = 'openai:test-model';

let dir: string;
let cert: Certificate;
let fake: FakeOpenAI;
let server: TestServer;
let proxy: ProxyProcess;
let fullRecipe: string;
let alice: TestUser, bob: TestUser;
let group: string;
const clients: ConfabClient[] = [];

/** The recipe without `proxy_set_header Upgrade …` and `… Connection …`: upgrades never reach Confab. */
const withoutUpgrades = (site: string) => replaceIn(replaceIn(site, /^ *proxy_set_header Upgrade .*\n/m, ''), /^ *proxy_set_header Connection .*\n/m, '');

function sdk(user: TestUser, options: Partial<ClientOptions> = {}): ConfabClient {
  const client = createClient({
    url: proxy.url,
    // The SDK's own socket.io-client, given the test certificate to trust.
    socketFactory: (url, opts) => io(url, { ...opts, ...clientSocketOptions({ ca: cert.ca }) }) as unknown as SocketLike,
    fetch: clientFetch({ ca: cert.ca }) as unknown as FetchLike,
    ...options,
  });
  clients.push(client);
  client.setSession({ accessToken: user.accessToken, refreshToken: user.refreshToken });
  return client;
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The transport of each of the server's sockets of `userId`. */
const serverTransports = (userId: string) =>
  [...server.gateway.io.sockets.sockets.values()].filter((s) => s.data.userId === userId).map((s) => s.conn.transport.name);

beforeAll(async () => {
  dir = proxyDir('confab-polling-');
  cert = selfSignedCertificate(dir);
  fake = await startFakeOpenAI();
  const port = await freePort();
  server = await startTestServer({ ai: testAiConfig(fake.url, [MODEL], { checkpointMs: 100 }), origins: [`https://127.0.0.1:${port}`] });
  fullRecipe = nginxSite({ port, upstreams: [upstreamOf(server.url)], cert });
  proxy = await startNginx(withoutUpgrades(fullRecipe), port);
  [alice, bob] = [await registerUser(server, 'alice'), await registerUser(server, 'bob')];
  group = (await alice.api.post('/api/conversations/group', { title: 'no websocket', participantIds: [bob.id] })).body.id;
});

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await proxy?.close();
  await server?.close();
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the SDK behind a proxy that lets no WebSocket through', () => {
  it('the proxy really refuses upgrades: a WebSocket-only client cannot connect', async () => {
    const socket = io(proxy.url, { ...clientSocketOptions({ ca: cert.ca }), transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: alice.accessToken } });
    const error = await new Promise<Error>((resolve, reject) => {
      socket.once('connect', () => reject(new Error('connected over a WebSocket')));
      socket.once('connect_error', resolve);
    });
    socket.close();
    expect(error.message).toMatch(/websocket/i);
  });

  it('connects over long-polling: sends, and live events reach the other member, each once, in order', async () => {
    const [a, b] = [sdk(alice), sdk(bob)];
    await Promise.all([a.idle(), b.idle()]);
    expect([a.connection.transport, b.connection.transport]).toEqual(['polling', 'polling']);
    expect(serverTransports(alice.id)).toEqual(['polling']);
    const seen: ChatMessage[][] = [];
    b.watchMessages(group, (l) => seen.push(l));
    const contents = Array.from({ length: 5 }, (_, i) => `polled ${i}`);
    for (const content of contents) expect((await a.send(group, { content }).settled).sendState).toBe('sent');
    await until('bob sees them', () => contents.every((c) => seen.at(-1)?.some((m) => m.content === c)));
    const shown = seen.at(-1)!.filter((m) => contents.includes(m.content));
    expect(shown.map((m) => m.content)).toEqual(contents);
    expect(new Set(shown.map((m) => m.id)).size).toBe(contents.length);
    await Promise.all([a.close(), b.close()]);
  });

  it('streams an AI answer (ai:delta) over long-polling, piece by piece, to the end', async () => {
    const a = sdk(alice);
    await a.idle();
    expect(a.connection.transport).toBe('polling');
    const conv = await a.createAssistant({ model: MODEL });
    const texts: string[] = [];
    let status = '';
    a.watchMessages(conv.id, (l) => {
      const answer = l.find((m) => m.authorId === 'assistant');
      if (answer) {
        if (texts.at(-1) !== answer.content) texts.push(answer.content);
        status = answer.status;
      }
    });
    await a.send(conv.id, { content: '[tokens=40] [delay=25]' }).settled;
    await until('the answer completes', () => status === 'complete');
    const full = Array.from({ length: 40 }, (_, i) => `t${i} `).join('');
    expect(texts.at(-1)).toBe(full);
    // It grew in several steps (streamed, not only the final text), each a prefix of the answer.
    expect(texts.length).toBeGreaterThan(3);
    for (const t of texts) expect(full.startsWith(t)).toBe(true);
    await a.close();
  });

  it('syncs after a reconnect over long-polling: what was sent meanwhile arrives, each once', async () => {
    const [a, b] = [sdk(alice), sdk(bob)];
    await Promise.all([a.idle(), b.idle()]);
    const seen: ChatMessage[][] = [];
    b.watchMessages(group, (l) => seen.push(l));
    b.connection.goOffline();
    const missed = Array.from({ length: 4 }, (_, i) => `while away ${i} ${randomUUID()}`);
    for (const content of missed) await a.send(group, { content }).settled;
    b.connection.goOnline();
    await b.idle();
    expect(b.connection.transport).toBe('polling');
    await until('the missed messages', () => missed.every((c) => seen.at(-1)?.some((m) => m.content === c)));
    const list = seen.at(-1)!;
    expect(list.filter((m) => missed.includes(m.content)).map((m) => m.content)).toEqual(missed);
    // Every stored message of the conversation, in seq order, without gaps or repeats.
    const seqs = list.map((m) => m.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
    await Promise.all([a.close(), b.close()]);
  });

  it('moves to a WebSocket by itself once the proxy passes upgrades, and misses nothing on the way', async () => {
    const [a, b] = [sdk(alice), sdk(bob, { websocketRetryMs: 300 })];
    await Promise.all([a.idle(), b.idle()]);
    expect(b.connection.transport).toBe('polling');
    const received = new Map<string, number>();
    b.on('message', (m) => received.set(m.content, (received.get(m.content) ?? 0) + 1));
    // Messages keep coming while the proxy is fixed and the SDK switches.
    const sent: string[] = [];
    let sending = true;
    const sender = (async () => {
      for (let i = 0; sending && i < 200; i++) {
        const content = `switch ${i} ${randomUUID()}`;
        sent.push(content);
        await a.send(group, { content }).settled;
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    await proxy.reload(fullRecipe);
    await until('the WebSocket', () => b.connection.transport === 'websocket');
    await until('the server sees it', () => serverTransports(bob.id).includes('websocket'));
    await new Promise((r) => setTimeout(r, 300));
    sending = false;
    await sender;
    await b.idle();
    await until('every message', () => sent.every((c) => received.has(c)));
    for (const content of sent) expect(received.get(content)).toBe(1);
    // The polling connection was closed once the WebSocket took over.
    await until('the polling socket closes', () => !serverTransports(bob.id).includes('polling'));
    expect(b.connection.state).toBe('online');
  });
});
