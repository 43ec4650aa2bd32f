import type { LookupAddress } from 'node:dns';
import type { Message, SyncResult } from '@confab/protocol';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { isPublicAddress } from '../previews/address.ts';
import { ogPage, startSite, writeMany, type Site } from '../previews/test/sites.ts';
import { connect, ok, sleep, waitFor, type Client } from '../realtime/test/kit.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';

/**
 * Link previews end to end (both databases: `npm run test:postgres` runs this file too): a real
 * server, real sockets, and real local web sites. Tests reach only loopback, so the server is
 * given a resolver that maps `news.test` to 127.0.0.2 and an address check that counts 127.0.0.2
 * (and only it) as public (ServerOptions.previews); 127.0.0.1 plays the private network.
 */
const PUBLIC_TEST_ADDRESS = '127.0.0.2';
const HTML = { 'content-type': 'text/html; charset=utf-8' };

let server: TestServer;
let news: Site;
let intranet: Site;
let cover: Buffer;
let alice: TestUser, bob: TestUser, mallory: TestUser;
const pathHits = new Map<string, number>();
let group: string;
let bobSocket: Client;
let aliceSocket: Client;
const sockets: Client[] = [];

const previewOptions = () => ({
  lookup: async (hostname: string): Promise<LookupAddress[]> => {
    if (hostname === 'news.test') return [{ address: PUBLIC_TEST_ADDRESS, family: 4 }];
    if (hostname === 'intranet.test') return [{ address: '127.0.0.1', family: 4 }];
    throw new Error('no such host');
  },
  isPublic: (address: string) => address === PUBLIC_TEST_ADDRESS || isPublicAddress(address),
});

const link = (path: string) => `http://news.test:${news.port}${path}`;
let n = 0;

async function send(content: string): Promise<Message> {
  return ok<Message>(aliceSocket, 'chat:message_send', { conversationId: group, content, clientId: `p-${++n}` });
}

async function current(id: string): Promise<Message> {
  const page = await alice.api.get<{ messages: Message[] }>(`/api/messages/${group}?limit=100`);
  return page.body.messages.find((m) => m.id === id)!;
}

async function image(user: TestUser | undefined, path: string) {
  const res = await fetch(server.url + path, user ? { headers: { authorization: `Bearer ${user.accessToken}` } } : {});
  return { status: res.status, type: res.headers.get('content-type'), body: Buffer.from(await res.arrayBuffer()) };
}

beforeAll(async () => {
  cover = await sharp({ create: { width: 1200, height: 630, channels: 3, background: '#2255aa' } })
    .jpeg()
    .withExif({ IFD0: { Copyright: 'exif-secret-owner' } })
    .toBuffer();
  intranet = await startSite((_req, res) => res.writeHead(200, HTML).end(ogPage({ title: 'Internal admin' })));
  news = await startSite((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    pathHits.set(url.pathname, (pathHits.get(url.pathname) ?? 0) + 1);
    switch (url.pathname) {
      case '/huge': {
        // 10 MB: a title at the start, a description only after the first megabyte.
        res.writeHead(200, HTML);
        res.write('<html><head><meta property="og:title" content="Huge page">');
        void writeMany(res, Buffer.alloc(64 * 1024, ' '), 10 * 1024 * 1024, '<meta property="og:description" content="after the cut"></head>');
        return;
      }
      case '/shared':
        return res.writeHead(200, HTML).end(ogPage({ title: 'Shared page', image: '/cover.jpg' }));
      case '/article':
        return res.writeHead(200, HTML).end(ogPage({ title: 'Confab 2.0 released', description: 'Threads, channels & more.', siteName: 'Example News', image: '/cover.jpg' }));
      case '/cover.jpg':
        return res.writeHead(200, { 'content-type': 'image/jpeg' }).end(cover);
      case '/other':
        return res.writeHead(200, HTML).end(ogPage({ title: 'Another page' }));
      case '/to-private':
        return res.writeHead(302, { location: `http://127.0.0.1:${intranet.port}/` }).end();
      case '/to-metadata':
        return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      case '/image-private':
        return res.writeHead(200, HTML).end(ogPage({ title: 'Image elsewhere', image: `http://127.0.0.1:${intranet.port}/secret.png` }));
      case '/slow': {
        // The head after 1.5 s: the send must have been acknowledged long before.
        const timer = setTimeout(() => res.writeHead(200, HTML).end(ogPage({ title: 'Slow page' })), 1500);
        res.once('close', () => clearTimeout(timer));
        return;
      }
      default:
        return res.writeHead(404).end();
    }
  }, PUBLIC_TEST_ADDRESS);
  server = await startTestServer({}, { previews: previewOptions() });
  [alice, bob, mallory] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob'), registerUser(server, 'mallory')]);
  group = (await alice.api.post('/api/conversations/group', { title: 'Links', participantIds: [bob.id] })).body.id;
  aliceSocket = await connect(server.url, alice.accessToken);
  bobSocket = await connect(server.url, bob.accessToken);
  sockets.push(aliceSocket, bobSocket);
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  await news?.close();
  await intranet?.close();
});

describe('link previews', () => {
  it('attaches the preview after the ack, live on a real socket, and sync carries it', async () => {
    const live = waitFor<Message>(bobSocket, 'chat:message_updated', (m) => Boolean(m.linkPreview), 10_000);
    const sent = await send(`Have you seen ${link('/article')}? And ${link('/other')}`);
    // The ack did not wait for the fetch.
    expect(sent.linkPreview).toBeUndefined();
    const updated = await live;
    expect(updated.id).toBe(sent.id);
    expect(updated.linkPreview).toEqual({
      url: link('/article'),
      title: 'Confab 2.0 released',
      description: 'Threads, channels & more.',
      siteName: 'Example News',
      imageUrl: expect.stringMatching(new RegExp(`^/api/messages/${sent.id}/preview/image\\?v=[\\w-]+$`)),
    });
    // The change took the conversation's next seq, like an edit.
    expect(updated.updatedSeq).toBeGreaterThan(sent.seq);

    const page = await ok<SyncResult>(bobSocket, 'sync', { cursors: { [group]: sent.seq } });
    expect(page.messages.find((m) => m.id === sent.id)?.linkPreview).toEqual(updated.linkPreview);
    expect((await current(sent.id)).linkPreview).toEqual(updated.linkPreview);
  });

  it('serves the re-encoded image from Confab to members only, without the original metadata', async () => {
    const sent = await send(`cover: ${link('/article')}`);
    await server.previews.idle();
    const preview = (await current(sent.id)).linkPreview!;
    expect(preview.imageUrl).not.toContain('news.test');
    const got = await image(bob, preview.imageUrl!);
    expect(got.status).toBe(200);
    expect(got.type).toBe('image/webp');
    const meta = await sharp(got.body).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 480, height: 252 });
    expect(meta.exif).toBeUndefined();
    expect(got.body.includes(Buffer.from('exif-secret-owner'))).toBe(false);

    expect((await image(mallory, preview.imageUrl!)).status).toBe(404);
    expect((await image(undefined, preview.imageUrl!)).status).toBe(401);
    expect((await image(bob, `/api/messages/no-such-message/preview/image`)).status).toBe(404);
  });

  it('lets only the sender remove a preview; it is not fetched again on edit', async () => {
    const sent = await send(`read ${link('/article')}`);
    await server.previews.idle();
    const before = await current(sent.id);
    expect(before.linkPreview?.title).toBe('Confab 2.0 released');

    const byOther = await bob.api.delete(`/api/messages/${sent.id}/preview`);
    expect(byOther.status).toBe(403);
    expect(byOther.body.error.code).toBe('FORBIDDEN');
    const byStranger = await mallory.api.delete(`/api/messages/${sent.id}/preview`);
    expect(byStranger.status).toBe(404);
    expect(byStranger.body.error.code).toBe('NOT_FOUND');
    expect((await mallory.api.delete('/api/messages/no-such-message/preview')).body.error.code).toBe('NOT_FOUND');

    const live = waitFor<Message>(bobSocket, 'chat:message_updated', (m) => m.id === sent.id && !m.linkPreview);
    const removed = await alice.api.delete<Message>(`/api/messages/${sent.id}/preview`);
    expect(removed.status).toBe(200);
    expect(removed.body.linkPreview).toBeUndefined();
    expect(removed.body.updatedSeq).toBeGreaterThan(before.updatedSeq);
    await live;
    expect((await image(bob, before.linkPreview!.imageUrl!)).status).toBe(404);
    // Again: nothing changes.
    expect((await alice.api.delete<Message>(`/api/messages/${sent.id}/preview`)).body.updatedSeq).toBe(removed.body.updatedSeq);

    const hits = news.hits;
    await ok(aliceSocket, 'chat:message_edit', { messageId: sent.id, content: `read ${link('/other')} instead` });
    await server.previews.idle();
    expect((await current(sent.id)).linkPreview).toBeUndefined();
    expect(news.hits).toBe(hits);
  });

  it('an edit to another link replaces the preview; an edit without a link drops it', async () => {
    const sent = await send(`one ${link('/article')}`);
    await server.previews.idle();
    expect((await current(sent.id)).linkPreview?.url).toBe(link('/article'));

    const edited = await ok<Message>(aliceSocket, 'chat:message_edit', { messageId: sent.id, content: `two ${link('/other')}` });
    // The old preview went with the edit itself.
    expect(edited.linkPreview).toBeUndefined();
    await server.previews.idle();
    expect((await current(sent.id)).linkPreview).toMatchObject({ url: link('/other'), title: 'Another page', imageUrl: null });

    // Editing around the same link keeps its preview (nothing is fetched again).
    const hits = news.hits;
    const kept = await ok<Message>(aliceSocket, 'chat:message_edit', { messageId: sent.id, content: `still ${link('/other')}!` });
    expect(kept.linkPreview?.title).toBe('Another page');
    await server.previews.idle();
    expect(news.hits).toBe(hits);

    const plain = await ok<Message>(aliceSocket, 'chat:message_edit', { messageId: sent.id, content: 'no link any more' });
    expect(plain.linkPreview).toBeUndefined();
  });

  it('a deleted message loses its preview and its image', async () => {
    const sent = await send(`bye ${link('/article')}`);
    await server.previews.idle();
    const { imageUrl } = (await current(sent.id)).linkPreview!;
    await ok(aliceSocket, 'chat:message_delete', { messageId: sent.id });
    expect((await current(sent.id)).linkPreview).toBeUndefined();
    expect((await image(alice, imageUrl!)).status).toBe(404);
  });

  it('refuses private addresses: in the link, after DNS, and through a redirect', async () => {
    const failedBefore = server.previews.counts.failed;
    const sent = await Promise.all([
      send(`http://127.0.0.1:${intranet.port}/`),
      send(`http://intranet.test:${intranet.port}/`),
      send(`http://localhost:${intranet.port}/`),
      send(link('/to-private')),
      send(link('/to-metadata')),
    ]);
    await server.previews.idle();
    for (const m of sent) expect((await current(m.id)).linkPreview, m.content).toBeUndefined();
    expect(server.previews.counts.failed - failedBefore).toBe(sent.length);
    expect(intranet.hits).toBe(0);
  });

  it('leaves out an image on a private address, keeping the rest of the preview', async () => {
    const sent = await send(link('/image-private'));
    await server.previews.idle();
    expect((await current(sent.id)).linkPreview).toMatchObject({ title: 'Image elsewhere', imageUrl: null });
    expect(intranet.hits).toBe(0);
  });

  it('reads a 10 MB page only up to 1 MB', async () => {
    const started = Date.now();
    const sent = await send(link('/huge'));
    await server.previews.idle();
    expect((await current(sent.id)).linkPreview).toMatchObject({ title: 'Huge page', description: null });
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('does not make the send wait for a slow site', async () => {
    const started = Date.now();
    const sent = await send(`slow ${link('/slow')}`);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(sent.linkPreview).toBeUndefined();
    await server.previews.idle();
    expect((await current(sent.id)).linkPreview?.title).toBe('Slow page');
  });

  it('fetches a link posted in several messages once, each message getting its own preview and image', async () => {
    const covers = pathHits.get('/cover.jpg') ?? 0;
    const sent = await Promise.all([1, 2, 3].map((i) => send(`${i}: ${link('/shared')}`)));
    const later = await send(`again ${link('/shared')}`);
    await server.previews.idle();
    const previews = await Promise.all([...sent, later].map(async (m) => (await current(m.id)).linkPreview!));
    for (const p of previews) expect(p.title).toBe('Shared page');
    expect(pathHits.get('/shared')).toBe(1);
    expect(pathHits.get('/cover.jpg')).toBe(covers + 1);
    // Each message has its own copy of the image (it goes when that message, or its preview, goes).
    expect(new Set(previews.map((p) => p.imageUrl)).size).toBe(4);
    for (const p of previews) expect((await image(bob, p.imageUrl!)).status).toBe(200);
  });

  it('previews REST sends too', async () => {
    const res = await alice.api.post<Message>('/api/messages', { conversationId: group, content: link('/other'), clientId: `rest-${++n}` });
    expect(res.status).toBe(201);
    await server.previews.idle();
    expect((await current(res.body.id)).linkPreview?.title).toBe('Another page');
  });
});

describe('CONFAB_LINK_PREVIEWS=off', () => {
  it('is read from the environment, with CONFAB_PREVIEWS_ALLOW_PRIVATE', () => {
    expect(loadConfig({}).previews).toMatchObject({ enabled: true, allowPrivate: false, maxBytes: 1024 * 1024, timeoutMs: 5000 });
    expect(loadConfig({ CONFAB_LINK_PREVIEWS: 'off', CONFAB_PREVIEWS_ALLOW_PRIVATE: 'true' }).previews).toMatchObject({ enabled: false, allowPrivate: true });
    expect(() => loadConfig({ CONFAB_LINK_PREVIEWS: 'maybe' })).toThrow(/CONFAB_LINK_PREVIEWS must be on or off/);
  });

  it('fetches nothing', async () => {
    const off = await startTestServer({ previews: { ...loadConfig({ CONFAB_LINK_PREVIEWS: 'off' }).previews } }, { previews: previewOptions() });
    try {
      const [carol, dave] = await Promise.all([registerUser(off, 'carol'), registerUser(off, 'dave')]);
      const conv = (await carol.api.post('/api/conversations/group', { title: 'Off', participantIds: [dave.id] })).body.id;
      const socket = await connect(off.url, dave.accessToken);
      sockets.push(socket);
      const updates: Message[] = [];
      socket.on('chat:message_updated', (m: Message) => updates.push(m));
      const hits = news.hits;
      const sent = await carol.api.post<Message>('/api/messages', { conversationId: conv, content: link('/article'), clientId: 'off-1' });
      await sleep(300);
      await off.previews.idle();
      expect(off.previews.counts.scheduled).toBe(0);
      expect(news.hits).toBe(hits);
      expect(updates).toEqual([]);
      const page = await carol.api.get<{ messages: Message[] }>(`/api/messages/${conv}`);
      expect(page.body.messages.find((m) => m.id === sent.body.id)?.linkPreview).toBeUndefined();
    } finally {
      await off.close();
    }
  });
});
