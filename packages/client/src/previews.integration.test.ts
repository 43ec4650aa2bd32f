/**
 * Link previews through the SDK, against a real server and a real local web site: the preview
 * arrives in a live query, its image downloads through `client.api`, and `client.removePreview`
 * removes it (at once locally, rolled back when the server refuses).
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress } from '../../server/src/previews/address.ts';
import { ogPage, startSite, type Site } from '../../server/src/previews/test/sites.ts';
import { registerUser, startTestServer, type TestServer } from '../../server/src/test/harness.ts';
import { createClient, type ConfabClient } from './client.ts';
import { memoryStorage } from './storage/memory.ts';
import type { ChatMessage } from './types.ts';

const PUBLIC_TEST_ADDRESS = '127.0.0.2';
let server: TestServer;
let site: Site;
const clients: ConfabClient[] = [];

beforeAll(async () => {
  const cover = await sharp({ create: { width: 800, height: 400, channels: 3, background: '#884400' } }).png().toBuffer();
  site = await startSite((req, res) => {
    if (req.url === '/cover.png') return res.writeHead(200, { 'content-type': 'image/png' }).end(cover);
    res.writeHead(200, { 'content-type': 'text/html' }).end(ogPage({ title: 'SDK page', description: 'About the SDK', siteName: 'Docs', image: '/cover.png' }));
  }, PUBLIC_TEST_ADDRESS);
  server = await startTestServer(
    {},
    {
      previews: {
        lookup: async (hostname) => (hostname === 'docs.test' ? [{ address: PUBLIC_TEST_ADDRESS, family: 4 }] : []),
        isPublic: (address) => address === PUBLIC_TEST_ADDRESS || isPublicAddress(address),
      },
    },
  );
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.close();
  await site?.close();
});

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('link previews in the SDK', () => {
  it('arrive in a live query; the image downloads; removePreview removes them, the sender only', async () => {
    const alice = await registerUser(server, 'alice');
    const bob = await registerUser(server, 'bob');
    const conv = (await alice.api.post('/api/conversations/group', { title: 'docs', participantIds: [bob.id] })).body.id as string;
    const [a, b] = [alice, bob].map((u) => {
      const c = createClient({ url: server.url, storage: memoryStorage() });
      c.setSession({ accessToken: u.accessToken, refreshToken: u.refreshToken });
      clients.push(c);
      return c;
    }) as [ConfabClient, ConfabClient];
    let seenByBob: ChatMessage[] = [];
    b.watchMessages(conv, (list) => (seenByBob = list));
    await Promise.all([a.idle(), b.idle()]);

    const sent = await a.send(conv, { content: `the docs: http://docs.test:${site.port}/sdk` }).settled;
    await until('the preview reaches Bob', () => Boolean(seenByBob.find((m) => m.id === sent.id)?.linkPreview));
    const preview = seenByBob.find((m) => m.id === sent.id)!.linkPreview!;
    expect(preview).toMatchObject({ url: `http://docs.test:${site.port}/sdk`, title: 'SDK page', description: 'About the SDK', siteName: 'Docs' });

    const blob = await b.api.downloadPreviewImage(preview.imageUrl!);
    expect(blob.type).toBe('image/webp');
    expect((await sharp(Buffer.from(await blob.arrayBuffer())).metadata()).width).toBe(480);
    await expect(b.api.downloadPreviewImage('https://elsewhere.example/x.png')).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });

    // Bob may not remove Alice's preview: refused, and his view keeps it.
    await expect(b.removePreview(sent.id!)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(seenByBob.find((m) => m.id === sent.id)?.linkPreview).toEqual(preview);

    const removed = await a.removePreview(sent.id!);
    expect(removed.linkPreview).toBeUndefined();
    await until('Bob sees it removed', () => seenByBob.find((m) => m.id === sent.id)?.linkPreview === undefined);
    await expect(b.api.downloadPreviewImage(preview.imageUrl!)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
