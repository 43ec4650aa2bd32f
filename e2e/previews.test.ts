import type { AuthResult } from '@confab/protocol';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { isPublicAddress } from '../packages/server/src/previews/address.ts';
import { ogPage, startSite, type Site } from '../packages/server/src/previews/test/sites.ts';
import { Api, startTestServer } from '../packages/server/src/test/harness.ts';
import { bubble, send, startDirect, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * Link previews in the web app (Debian's Chromium): the card appears under the message for both
 * people, with its image served by Confab; the list stays pinned to the bottom when the card
 * arrives; only the sender has the × that removes it, for everyone. The linked site is a local
 * server on 127.0.0.2 that the server's test hook counts as public (tests reach only loopback).
 */
const PUBLIC_TEST_ADDRESS = '127.0.0.2';

let site: Site;

const app = webApp(async () => {
  const cover = await sharp({ create: { width: 1200, height: 630, channels: 3, background: '#1d4ed8' } }).jpeg().toBuffer();
  site = await startSite((req, res) => {
    if (req.url === '/cover.jpg') return res.writeHead(200, { 'content-type': 'image/jpeg' }).end(cover);
    // A wait, as a real site takes: the message shows (and settles) first, the card after.
    setTimeout(
      () =>
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end(ogPage({ title: 'Confab ships threads and channels', description: 'A team chat you can host yourself, now with threads.', siteName: 'Example News', image: '/cover.jpg' })),
      1500,
    );
  }, PUBLIC_TEST_ADDRESS);
  return startTestServer(
    {},
    {
      previews: {
        lookup: async (hostname) => (hostname === 'news.test' ? [{ address: PUBLIC_TEST_ADDRESS, family: 4 }] : []),
        isPublic: (address) => address === PUBLIC_TEST_ADDRESS || isPublicAddress(address),
      },
    },
  );
});
const person = app.person;

afterAll(async () => {
  await site?.close();
});

async function tokenOf(u: WebUser): Promise<string> {
  const res = await new Api(app.server.url).post<AuthResult>('/api/auth/login', { email: u.email, password: 'correct horse battery' });
  return res.body.accessToken;
}

/** How far the message list is from its bottom, in pixels. */
function gapToBottom(u: WebUser): Promise<number> {
  return u.page.locator('.message-list .virtuoso').evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight);
}

describe('link previews in the web app', () => {
  it('shows a card under the message for both people, keeps the list at the bottom, and lets the sender remove it', async () => {
    const alice = await person('Alice');
    // Bob on a phone, in the dark theme.
    const bob = await person('Bob', { width: 390, height: 780 });
    await bob.page.emulateMedia({ colorScheme: 'dark' });
    const direct = await startDirect(alice.page, bob);

    // Enough history that the list scrolls.
    const api = new Api(app.server.url, await tokenOf(alice));
    for (let i = 1; i <= 14; i++) await api.post('/api/messages', { conversationId: direct, content: `filler message ${i}`, clientId: `filler-${i}` });
    await bob.page.goto(`/c/${encodeURIComponent(direct)}`);
    await bubble(bob.page, 'filler message 14').waitFor();
    await bubble(alice.page, 'filler message 14').waitFor();
    // Bob reads at the very bottom (landing there on open is the list's own business, tested elsewhere).
    await bob.page.locator('.message-list .virtuoso').evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
    await expect.poll(() => gapToBottom(bob)).toBeLessThan(2);

    const text = `Look: http://news.test:${site.port}/article`;
    await send(alice.page, text);
    await bubble(bob.page, text).waitFor();
    // At the very bottom again under the new message, before its card comes.
    await bob.page.locator('.message-list .virtuoso').evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
    await expect.poll(() => gapToBottom(bob)).toBeLessThan(2);
    expect(await bob.page.locator('.link-preview').count()).toBe(0);
    for (const u of [alice, bob]) {
      const card = u.page.locator('.msg', { hasText: text }).locator('.link-preview');
      await card.waitFor({ timeout: 15_000 });
      await expect.poll(() => card.locator('.lp-title').textContent()).toBe('Confab ships threads and channels');
      expect(await card.locator('.lp-site').textContent()).toBe('Example News');
      expect(await card.locator('.lp-desc').textContent()).toContain('host yourself');
      // The image comes from Confab (fetched with the session, shown from a blob: URL), never from the site.
      await expect.poll(() => card.locator('.lp-thumb img').getAttribute('src')).toMatch(/^blob:/);
      await expect.poll(() => card.locator('.lp-thumb img').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
      expect(await card.locator('a.lp-main').getAttribute('href')).toBe(`http://news.test:${site.port}/article`);
      expect(await card.locator('a.lp-main').getAttribute('rel')).toContain('noopener');
    }
    // Bob was at the bottom: the card arriving did not push the newest message out of view.
    await expect.poll(() => gapToBottom(bob)).toBeLessThan(2);
    const cardBox = await bob.page.locator('.link-preview').boundingBox();
    expect(cardBox!.x + cardBox!.width).toBeLessThanOrEqual(390);

    // Only the sender has the ×; removing it takes the card away for both.
    expect(await bob.page.locator('.link-preview .lp-remove').count()).toBe(0);
    await alice.page.getByRole('button', { name: 'Remove link preview' }).click();
    await expect.poll(() => alice.page.locator('.link-preview').count()).toBe(0);
    await expect.poll(() => bob.page.locator('.link-preview').count()).toBe(0);
    // It stays removed after a reload.
    await alice.page.reload();
    await bubble(alice.page, text).waitFor();
    expect(await alice.page.locator('.link-preview').count()).toBe(0);

    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  }, 90_000);
});
