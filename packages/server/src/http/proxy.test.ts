/**
 * Confab behind the reverse proxies of docs/operations.md ("Behind a reverse proxy"): Debian's nginx
 * and Caddy run the recipes in docs/proxy/ as they are (test/proxies.ts fills in ports, certificate
 * and nodes), terminating TLS with a certificate made here, in front of one node. Two nodes (sticky
 * sessions) are in realtime/proxy.multinode.test.ts; no WebSocket on the path in
 * packages/client/src/polling.integration.test.ts.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY_OPTIONS } from '../realtime/gateway.ts';
import { connect, connectError, ok, waitFor, type Client } from '../realtime/test/kit.ts';
import { RATE_LIMITS } from '../rateLimits.ts';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';
import {
  caddySite,
  clientFetch,
  clientSocketOptions,
  directive,
  freePort,
  nginxSite,
  proxyDir,
  readDoc,
  readRecipe,
  replaceIn,
  selfSignedCertificate,
  startCaddy,
  startNginx,
  upstreamOf,
  type Certificate,
  type ProxyProcess,
} from '../test/proxies.ts';

const MODEL = 'openai:test-model';
/** The trusted node pings every 300 ms (Socket.IO's default is 25 s): the timeout test relies on it. */
const PING_MS = 300;
/** The read timeout of the "short" nginx: the recipe's 120 s, cut to 1 s so the test takes seconds. */
const SHORT_TIMEOUT = '1s';

let dir: string;
let cert: Certificate;
let fake: FakeOpenAI;
/** CONFAB_TRUST_PROXY=true, and the one without it. */
let trusted: TestServer;
let untrusted: TestServer;
let nginx: ProxyProcess, caddy: ProxyProcess, nginxUntrusted: ProxyProcess, nginxShort: ProxyProcess, nginxShortUntrusted: ProxyProcess;
let alice: TestUser, bob: TestUser;
let group: string;
const sockets: Client[] = [];

/** Socket.IO options for a client that trusts the test certificate (and connects from `localAddress`). */
const through = (proxy: ProxyProcess, localAddress?: string) => ({
  ...clientSocketOptions({ ca: cert.ca, ...(localAddress ? { localAddress } : {}) }),
  // What a browser on the proxy's address sends; CONFAB_ORIGINS lists it.
  extraHeaders: { origin: proxy.url },
});

async function connectThrough(proxy: ProxyProcess, token: string): Promise<Client> {
  const socket = await connect(proxy.url, token, through(proxy));
  sockets.push(socket);
  return socket;
}

const send = (socket: Client, conversationId: string, content: string) => ok(socket, 'chat:message_send', { conversationId, content, clientId: randomUUID() });

/** Asks for a password reset link, a limit per client address (RATE_LIMITS.passwordResetPerIp); the status. */
async function askReset(proxy: ProxyProcess, localAddress: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await clientFetch({ ca: cert.ca, localAddress })(`${proxy.url}/api/auth/password-reset/request`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email: 'nobody@example.test' }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** An incoming hook's URL, made by Confab from the request when CONFAB_PUBLIC_URL is not set. */
async function hookUrl(proxy: ProxyProcess, user: TestUser, conversationId: string): Promise<string> {
  const res = await clientFetch({ ca: cert.ca })(`${proxy.url}/api/conversations/${conversationId}/hooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${user.accessToken}` },
    body: JSON.stringify({ name: 'ci' }),
  });
  const body = (await res.json()) as { url: string };
  expect(res.status).toBe(201);
  return body.url;
}

beforeAll(async () => {
  dir = proxyDir('confab-proxy-test-');
  cert = selfSignedCertificate(dir);
  fake = await startFakeOpenAI();
  const [pNginx, pCaddy, pUntrusted, pShort, pShortUntrusted] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  trusted = await startTestServer(
    {
      trustProxy: true,
      rateLimits: true,
      origins: [`https://127.0.0.1:${pNginx}`, `https://127.0.0.1:${pCaddy}`, `https://127.0.0.1:${pShort}`],
      ai: testAiConfig(fake.url, [MODEL]),
    },
    { realtime: { pingIntervalMs: PING_MS } },
  );
  untrusted = await startTestServer({ trustProxy: false, rateLimits: true, origins: [`https://127.0.0.1:${pUntrusted}`, `https://127.0.0.1:${pShortUntrusted}`] });
  const site = (port: number, server: TestServer, edit?: (s: string) => string) => nginxSite({ port, upstreams: [upstreamOf(server.url)], cert, ...(edit ? { edit } : {}) });
  const short = (s: string) =>
    replaceIn(replaceIn(s, 'proxy_read_timeout 120s;', `proxy_read_timeout ${SHORT_TIMEOUT};`), 'proxy_send_timeout 120s;', `proxy_send_timeout ${SHORT_TIMEOUT};`);
  [nginx, caddy, nginxUntrusted, nginxShort, nginxShortUntrusted] = await Promise.all([
    startNginx(site(pNginx, trusted), pNginx),
    startCaddy(caddySite({ port: pCaddy, upstreams: [upstreamOf(trusted.url)], cert }), pCaddy),
    startNginx(site(pUntrusted, untrusted), pUntrusted),
    startNginx(site(pShort, trusted, short), pShort),
    startNginx(site(pShortUntrusted, untrusted, short), pShortUntrusted),
  ]);
  // Registered on the node itself, from 127.0.0.1: the rate-limit tests use other addresses.
  [alice, bob] = [await registerUser(trusted, 'alice'), await registerUser(trusted, 'bob')];
  group = (await alice.api.post('/api/conversations/group', { title: 'proxied', participantIds: [bob.id] })).body.id;
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await Promise.allSettled([nginx, caddy, nginxUntrusted, nginxShort, nginxShortUntrusted].map((p) => p?.close()));
  await Promise.allSettled([trusted?.close(), untrusted?.close(), fake?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.each([
  { name: 'nginx', proxy: () => nginx, sources: ['127.0.0.2', '127.0.0.3'] },
  { name: 'Caddy', proxy: () => caddy, sources: ['127.0.0.4', '127.0.0.5'] },
])('through $name (the recipe in docs/proxy/, one node)', ({ name, proxy, sources }) => {
  it('carries WebSockets over TLS: a Socket.IO client sends, another receives; the page origin is checked as without a proxy', async () => {
    const [a, b] = [await connectThrough(proxy(), alice.accessToken), await connectThrough(proxy(), bob.accessToken)];
    expect(a.io.engine.transport.name).toBe('websocket');
    expect(b.io.engine.transport.name).toBe('websocket');
    const content = `hello through ${name}`;
    const heard = waitFor(b, 'chat:message_received', (m: { content: string }) => m.content === content);
    await send(a, group, content);
    await heard;
    // A page of another site is refused: the proxy passes Origin on untouched.
    await connectError(proxy().url, { token: alice.accessToken }, { ...through(proxy()), extraHeaders: { origin: 'https://evil.example' } });
  });

  it('gives each client address its own rate limits (CONFAB_TRUST_PROXY=true), and believes no X-Forwarded-For a client sends', async () => {
    const [first, second] = sources as [string, string];
    const limit = RATE_LIMITS.passwordResetPerIp.points;
    for (let i = 0; i < limit; i++) expect(await askReset(proxy(), first)).toBe(204);
    expect(await askReset(proxy(), first)).toBe(429);
    // A forged header would give a fresh limit per request if the proxy appended to it.
    expect(await askReset(proxy(), first, { 'x-forwarded-for': '203.0.113.7' })).toBe(429);
    expect(await askReset(proxy(), second)).toBe(204);
  });

  it('makes links (here an incoming hook) that point back at the proxy: https, its host and port', async () => {
    expect(await hookUrl(proxy(), alice, group)).toMatch(new RegExp(`^${proxy().url.replace(/\./g, '\\.')}/api/hooks/`));
  });

  it("passes an upload of Confab's largest file size, and the download back", async () => {
    const size = trusted.ctx.files.options.maxFileBytes;
    const bytes = randomBytes(size);
    const f = clientFetch({ ca: cert.ca });
    const auth = { authorization: `Bearer ${alice.accessToken}` };
    const ticket = await f(`${proxy().url}/api/attachments`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ conversationId: group, name: 'big.bin', type: 'application/octet-stream', size }),
    });
    expect(ticket.status).toBe(201);
    const { attachmentId, uploadUrl } = (await ticket.json()) as { attachmentId: string; uploadUrl: string };
    const put = await f(`${proxy().url}${uploadUrl}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: bytes });
    expect(put.status, await put.clone().text()).toBe(200);
    const got = Buffer.from(await (await f(`${proxy().url}/api/attachments/${attachmentId}`, { headers: auth })).arrayBuffer());
    expect(got.length).toBe(size);
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('streams an AI answer piece by piece as it is written (not held back by the proxy), to the end', async () => {
    const conv = (await alice.api.post('/api/conversations/assistant', { model: MODEL })).body.id as string;
    const socket = await connectThrough(proxy(), alice.accessToken);
    const deltas: { at: number; index: number; text: string }[] = [];
    socket.on('ai:delta', (e: { conversationId: string; index: number; text: string }) => {
      if (e.conversationId === conv) deltas.push({ at: Date.now(), index: e.index, text: e.text });
    });
    const done = waitFor<{ conversationId: string; status: string; content: string }>(socket, 'ai:done', (e) => e.conversationId === conv, 20_000);
    await send(socket, conv, '[tokens=30] [delay=40]');
    const end = await done;
    const expected = Array.from({ length: 30 }, (_, i) => `t${i} `).join('');
    expect(end).toMatchObject({ status: 'complete', content: expected });
    expect(deltas.map((d) => d.index)).toEqual(deltas.map((_, i) => i));
    expect(deltas.map((d) => d.text).join('')).toBe(expected);
    // 30 pieces 40 ms apart arrived over about a second, not in one lump at the end.
    expect(deltas.at(-1)!.at - deltas[0]!.at).toBeGreaterThan(600);
  });
});

describe('timeouts (nginx)', () => {
  it("the recipe's read timeout is longer than Socket.IO's ping interval, the most an idle connection waits for a byte", () => {
    const timeout = directive(readRecipe('nginx.conf'), 'proxy_read_timeout');
    const seconds = Number(/^(\d+)s$/.exec(timeout)?.[1]);
    expect(seconds * 1000).toBeGreaterThan(DEFAULT_GATEWAY_OPTIONS.pingIntervalMs);
    expect(untrusted.gateway.io.engine.opts.pingInterval).toBe(DEFAULT_GATEWAY_OPTIONS.pingIntervalMs);
  });

  it(`an answer that pauses longer than the read timeout (cut to ${SHORT_TIMEOUT} here) is not cut: the pings keep the connection busy`, async () => {
    const conv = (await alice.api.post('/api/conversations/assistant', { model: MODEL })).body.id as string;
    const socket = await connectThrough(nginxShort, alice.accessToken);
    let disconnected = '';
    socket.on('disconnect', (reason) => (disconnected = reason));
    const done = waitFor<{ conversationId: string; status: string; content: string }>(socket, 'ai:done', (e) => e.conversationId === conv, 20_000);
    const started = Date.now();
    // Three pieces 1.5 s apart: each pause is longer than the proxy's 1 s read timeout.
    await send(socket, conv, '[tokens=3] [delay=1500]');
    expect(await done).toMatchObject({ status: 'complete', content: 't0 t1 t2 ' });
    expect(Date.now() - started).toBeGreaterThan(3000);
    expect(disconnected).toBe('');
    expect(socket.connected).toBe(true);
  });

  it('where the pings are further apart than the read timeout, the proxy cuts an idle connection (what the recipe’s 120 s prevents)', async () => {
    const carol = await registerUser(untrusted, 'carol');
    const socket = await connect(nginxShortUntrusted.url, carol.accessToken, through(nginxShortUntrusted));
    sockets.push(socket);
    const cut = await new Promise<number>((resolve) => {
      const started = Date.now();
      socket.once('disconnect', () => resolve(Date.now() - started));
    });
    expect(cut).toBeLessThan(5000);
  });
});

describe('without CONFAB_TRUST_PROXY (nginx)', () => {
  it("counts every client as the proxy's own address, and makes http:// links", async () => {
    const limit = RATE_LIMITS.passwordResetPerIp.points;
    for (let i = 0; i < limit; i++) expect(await askReset(nginxUntrusted, '127.0.0.6')).toBe(204);
    // Another client, another address: the same limit, used up.
    expect(await askReset(nginxUntrusted, '127.0.0.7')).toBe(429);
    const dave = await registerUser(untrusted, 'dave');
    const conv = (await dave.api.post('/api/conversations/group', { title: 'links', participantIds: [] })).body.id as string;
    // X-Forwarded-Proto is not believed either: the link says http although the client used https.
    expect(await hookUrl(nginxUntrusted, dave, conv)).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${nginxUntrusted.port}/api/hooks/`));
  });
});

describe('TLS', () => {
  it('is terminated by the proxy with the certificate made here: a client that does not trust it is refused', async () => {
    for (const proxy of [nginx, caddy]) {
      await expect(fetch(`${proxy.url}/healthz`)).rejects.toThrow();
      const res = await clientFetch({ ca: cert.ca })(`${proxy.url}/healthz`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      await connectError(proxy.url, { token: alice.accessToken }, { extraHeaders: { origin: proxy.url } });
    }
  });
});

describe('the docs', () => {
  it('docs/operations.md shows the recipes exactly as docs/proxy/ has them (the files these tests run)', () => {
    const doc = readDoc('operations.md');
    expect(doc).toContain(`\`\`\`nginx\n${readRecipe('nginx.conf')}\`\`\``);
    expect(doc).toContain(`\`\`\`caddyfile\n${readRecipe('Caddyfile')}\`\`\``);
  });
});
