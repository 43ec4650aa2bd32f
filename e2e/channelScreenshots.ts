/**
 * `node --import tsx e2e/channelScreenshots.ts`: screenshots of channels and pins (issue #18) at
 * desktop (1280×800) and phone (390×844) sizes, light and dark, to docs/screenshots/: the channel
 * directory, a channel with its topic, a pinned message and the pinned-messages panel, and the join
 * screen of a channel one is not in.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
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
    const say = async (u: TestUser, conversationId: string, content: string) => {
      const r = await u.api.post('/api/messages', { conversationId, content, clientId: `${u.id}-${Math.random()}` });
      if (r.status >= 300) throw new Error(`send failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body as { id: string };
    };
    const channel = async (owner: TestUser, title: string, topic: string, joiners: TestUser[]) => {
      const c = (await owner.api.post('/api/conversations/group', { title, visibility: 'public', topic })).body as { id: string };
      for (const u of joiners) await u.api.post(`/api/channels/${c.id}/join`);
      return c;
    };

    const design = await channel(sam, 'Design', 'Screens, critique and the design system', [maya, priya, leo]);
    await channel(priya, 'Release train', 'What ships on Thursday, and what does not', [sam]);
    await channel(leo, 'Random', 'Lunch spots, pets and weekend plans', [sam, priya]);
    const research = await channel(priya, 'User research', 'Interview notes and findings; summaries pinned', [leo]);
    await channel(sam, 'Frontend', 'React, the SDK and the web app', []);
    await say(priya, research.id, 'Summary of this week: search is the top request.');

    await say(sam, design.id, 'The new onboarding screens are up for review 🎨');
    const decision = await say(leo, design.id, 'Decision: two-step onboarding. It tested 18% better than three steps.');
    await say(priya, design.id, 'Notes from the interviews are in #user-research if you want the details.');
    await say(maya, design.id, 'Great, I will update the spec today.');
    await sam.api.post(`/api/messages/${decision.id}/pin`);
    const tokens = await say(sam, design.id, 'Reminder: colour tokens live in `tokens.ts`, never hex in components.');
    await sam.api.post(`/api/messages/${tokens.id}/pin`);

    const shots: string[] = [];
    const session = { accessToken: maya.accessToken, refreshToken: maya.refreshToken };
    async function open(viewport: { width: number; height: number }, theme: 'light' | 'dark'): Promise<{ context: BrowserContext; page: Page }> {
      const context = await chrome.browser.newContext({ viewport, baseURL: server.url, colorScheme: theme, deviceScaleFactor: viewport === PHONE ? 2 : 1 });
      await context.addInitScript(
        ([s, m, t]) => {
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
    }
    const snap = async (page: Page, name: string) => {
      await page.waitForTimeout(400);
      const file = path.join(OUT, `${name}.png`);
      await page.screenshot({ path: file });
      shots.push(file);
    };

    for (const theme of ['light', 'dark'] as const) {
      for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
        const { context, page } = await open(viewport, theme);
        try {
          await page.goto('/channels');
          await page.locator('.channel-item').nth(4).waitFor();
          await snap(page, `${size}-channels-${theme}`);
          await page.goto(`/c/${design.id}`);
          await page.locator('.msg .pinned-mark').first().waitFor();
          await page.locator('.msg a.channel-link').waitFor();
          await snap(page, `${size}-channel-${theme}`);
          await page.getByRole('button', { name: 'Pinned messages' }).click();
          await page.locator('.pin-item').nth(1).waitFor();
          await snap(page, `${size}-channel-pins-${theme}`);
          await page.keyboard.press('Escape');
          await page.locator('.msg a.channel-link').click();
          await page.getByRole('button', { name: 'Join channel' }).waitFor();
          await snap(page, `${size}-channel-join-${theme}`);
        } finally {
          await context.close();
        }
      }
    }
    console.log(`saved ${shots.length} screenshots to ${path.relative(ROOT, OUT)}/`);
  } finally {
    await chrome.close();
    await server.close();
  }
}

await main();
