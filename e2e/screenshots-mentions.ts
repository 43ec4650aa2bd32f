/**
 * `node --import tsx e2e/screenshots-mentions.ts`: the mention screens (issue #18) at desktop
 * (1280×800) and phone (390×844) sizes, light and dark, to docs/screenshots/mentions-*.png: the
 * composer's @ autocomplete, highlighted mentions with the sidebar's @ badges, and the Mentions view.
 * Kept apart from e2e/screenshots.ts so the two can be run (and merged) separately.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { registerUser, startTestServer, type TestUser } from '../packages/server/src/test/harness.ts';
import { ensureBuilt, launchBrowser, ROOT } from './helpers.ts';

const OUT = path.join(ROOT, 'docs/screenshots');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

async function named(server: { url: string }, displayName: string, handle: string): Promise<TestUser> {
  const u = await registerUser(server, handle);
  await u.api.patch('/api/users/me', { displayName });
  return u;
}

async function main() {
  ensureBuilt();
  mkdirSync(OUT, { recursive: true });
  const server = await startTestServer();
  const chrome = await launchBrowser();
  try {
    const maya = await named(server, 'Maya Lin', 'maya');
    const sam = await named(server, 'Sam Carter', 'sam');
    const priya = await named(server, 'Priya Shah', 'priya');
    const leo = await named(server, 'Leo Martin', 'leo');
    let n = 0;
    const say = async (u: TestUser, conversationId: string, content: string) => {
      const r = await u.api.post('/api/messages', { conversationId, content, clientId: `s-${++n}` });
      if (r.status >= 300) throw new Error(`send failed: ${r.status} ${JSON.stringify(r.body)}`);
    };
    const team = (await sam.api.post('/api/conversations/group', { title: 'Design team', participantIds: [maya.id, priya.id, leo.id] })).body as { id: string };
    const launch = (await priya.api.post('/api/conversations/group', { title: 'Launch', participantIds: [maya.id, sam.id] })).body as { id: string };
    await sam.api.post(`/api/conversations/${team.id}/participants`, { userIds: ['assistant'] });
    await say(sam, team.id, 'The onboarding screens are up for review 🎨');
    await say(priya, team.id, `@${maya.user.handle} can you check the copy on step two before 3 pm?`);
    await say(leo, team.id, `Two steps tested better last week. @${priya.user.handle} has the numbers.`);
    await say(sam, team.id, '@channel review moved to 3:30, same room');
    await say(priya, launch.id, `@${maya.user.handle} the press kit is ready for a last look`);
    await say(sam, launch.id, 'Shipping on Thursday 🚀');

    const session = { accessToken: maya.accessToken, refreshToken: maya.refreshToken };
    const open = async (viewport: { width: number; height: number }, theme: 'light' | 'dark') => {
      const context = await chrome.browser.newContext({ viewport, baseURL: server.url, colorScheme: theme, deviceScaleFactor: viewport === PHONE ? 2 : 1 });
      await context.addInitScript(
        ([s, m, t]) => {
          // Once per tab: the app rotates the tokens afterwards, and a reload must keep the new ones.
          if (!sessionStorage.getItem('seeded')) {
            localStorage.setItem('confab.session', s as string);
            localStorage.setItem('confab.me', m as string);
            sessionStorage.setItem('seeded', '1');
          }
          localStorage.setItem('confab.appearance', JSON.stringify({ theme: t }));
        },
        [JSON.stringify(session), JSON.stringify({ ...maya.user, displayName: 'Maya Lin' }), theme] as const,
      );
      return { context, page: await context.newPage() };
    };
    const snap = async (page: Page, name: string) => {
      await page.waitForTimeout(400);
      await page.screenshot({ path: path.join(OUT, `${name}.png`) });
    };

    for (const theme of ['light', 'dark'] as const) {
      for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
        const { context, page } = await open(viewport, theme);
        // The list: @ badges on the conversations that mention Maya, and the Mentions link.
        await page.goto('/');
        await page.locator('.conv-row .mention-badge').first().waitFor();
        if (size === 'phone') await snap(page, `mentions-${size}-list-${theme}`);
        // The Mentions view.
        await page.goto('/mentions');
        await page.locator('.mention-item').nth(2).waitFor();
        await snap(page, `mentions-${size}-view-${theme}`);
        // A conversation with highlighted mentions, and the composer's autocomplete open.
        await page.goto(`/c/${team.id}`);
        await page.locator('.msg .mention-me').first().waitFor();
        const box = page.getByRole('textbox', { name: 'Message', exact: true });
        await box.pressSequentially('Thanks! @', { delay: 10 });
        await page.getByRole('listbox', { name: 'Mention someone' }).waitFor();
        await snap(page, `mentions-${size}-autocomplete-${theme}`);
        await context.close();
      }
    }
  } finally {
    await chrome.close();
    await server.close();
  }
}

await main();
