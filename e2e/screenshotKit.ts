/**
 * What the screenshot scenes share (`npm run screenshots`, e2e/screenshots.ts): sizes, where the
 * files go, people with display names, sending as them, and a signed-in browser context per size
 * and theme whose screens are saved to docs/screenshots/<name>.png.
 */
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { registerUser, type TestUser } from '../packages/server/src/test/harness.ts';
import { ROOT, type BrowserHandle } from './helpers.ts';

export const OUT = path.join(ROOT, 'docs/screenshots');
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const SIZES = [['desktop', DESKTOP], ['phone', PHONE]] as const;
export const THEMES = ['light', 'dark'] as const;
export type Theme = (typeof THEMES)[number];

/** A person with a display name (the handle stays as registered). */
export async function named(server: { url: string }, displayName: string, handle: string): Promise<TestUser> {
  const u = await registerUser(server, handle);
  await u.api.patch('/api/users/me', { displayName });
  return { ...u, user: { ...u.user, displayName } };
}

let sent = 0;
/** Sends `content` as `u` over REST; `extra` adds fields of the send body (replyToId, threadRootId…). */
export async function say(u: TestUser, conversationId: string, content: string, extra: Record<string, unknown> = {}): Promise<{ id: string; seq: number }> {
  const r = await u.api.post('/api/messages', { conversationId, content, clientId: `shot-${++sent}`, ...extra });
  if (r.status >= 300) throw new Error(`send failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { id: string; seq: number };
}

/** Browser contexts signed in as `who` (or signed out), and the screenshots saved from them. */
export function camera(chrome: BrowserHandle, server: { url: string }, who: TestUser) {
  const saved: string[] = [];
  const session = { accessToken: who.accessToken, refreshToken: who.refreshToken };
  return {
    saved,
    async open(viewport: { width: number; height: number }, theme: Theme, signedIn = true): Promise<{ context: BrowserContext; page: Page }> {
      const context = await chrome.browser.newContext({ viewport, baseURL: server.url, colorScheme: theme, deviceScaleFactor: viewport === PHONE ? 2 : 1 });
      await context.addInitScript(
        ([s, m, t, signed]) => {
          // Once per tab: the app rotates the tokens afterwards, and a reload must keep the new ones.
          if (signed && !sessionStorage.getItem('seeded')) {
            localStorage.setItem('confab.session', s as string);
            localStorage.setItem('confab.me', m as string);
            sessionStorage.setItem('seeded', '1');
          }
          localStorage.setItem('confab.appearance', JSON.stringify({ theme: t }));
        },
        [JSON.stringify(session), JSON.stringify(who.user), theme, signedIn] as const,
      );
      return { context, page: await context.newPage() };
    },
    async snap(page: Page, name: string): Promise<void> {
      await page.waitForTimeout(400);
      const file = path.join(OUT, `${name}.png`);
      await page.screenshot({ path: file });
      saved.push(file);
    },
  };
}
export type Camera = ReturnType<typeof camera>;
