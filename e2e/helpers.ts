import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WEB = path.join(ROOT, 'packages/web');
const DIST_INDEX = path.join(WEB, 'dist/index.html');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds the web app when dist is missing or older than its sources, the SDK's and the protocol's included (the server serves dist). */
export function ensureBuilt(): void {
  const sources = Math.max(
    newestMtime(path.join(WEB, 'src')),
    newestMtime(path.join(WEB, 'public')),
    statSync(path.join(WEB, 'index.html')).mtimeMs,
    // The app bundles @confab/client and @confab/protocol from their sources.
    newestMtime(path.join(ROOT, 'packages/client/src')),
    newestMtime(path.join(ROOT, 'packages/protocol/src')),
  );
  if (existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= sources) return;
  // NODE_ENV is 'test' under vitest: vite would then bundle React's development build.
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: WEB, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } });
}

export const CHROMIUM = process.env.CONFAB_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface BrowserHandle {
  browser: Browser;
  close(): Promise<void>;
}

/**
 * Debian's Chromium. `chromium.launch` gives it a fresh, temporary --user-data-dir of its own (and
 * removes it on close); every browser context inside is a separate, empty profile.
 */
export async function launchBrowser(): Promise<BrowserHandle> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
    },
  };
}

/** Collects page errors and console errors, so a test can assert none happened. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource|ERR_INTERNET_DISCONNECTED|WebSocket connection/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    errors.push(`dialog: ${d.message()}`);
    void d.dismiss().catch(() => {});
  });
  return errors;
}

let seq = 0;
export interface WebUser {
  context: BrowserContext;
  page: Page;
  name: string;
  handle: string;
  email: string;
  errors: string[];
}

/** A new browser context (its own storage: a separate person) that signs up through the UI. */
export async function signUp(browser: Browser, baseUrl: string, name: string, viewport = { width: 1280, height: 800 }): Promise<WebUser> {
  seq++;
  const handle = `${name.toLowerCase()}${seq}${Math.random().toString(36).slice(2, 6)}`;
  const email = `${handle}@example.test`;
  const context = await browser.newContext({ viewport, baseURL: baseUrl });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto('/');
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Username').fill(handle);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('navigation', { name: 'Conversation list' }).waitFor();
  return { context, page, name, handle, email, errors };
}

/** Opens the new-chat menu and picks an entry. */
export async function openNewChat(page: Page, entry: 'New message' | 'New group' | 'New AI chat'): Promise<void> {
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.getByRole('menuitem', { name: entry }).click();
}

/** Runs `act` (which opens a conversation) and returns the id of the conversation it opened. */
export async function opensConversation(page: Page, act: () => Promise<void>): Promise<string> {
  const before = new URL(page.url()).pathname;
  await act();
  await page.waitForURL((u) => u.pathname.startsWith('/c/') && u.pathname !== before);
  return decodeURIComponent(new URL(page.url()).pathname.split('/')[2]!);
}

export async function startDirect(page: Page, other: WebUser): Promise<string> {
  return opensConversation(page, async () => {
    await openNewChat(page, 'New message');
    await page.getByLabel('Find a person by name or username').fill(other.handle);
    await page.getByRole('button', { name: new RegExp(other.handle) }).click();
  });
}

export async function startAiChat(page: Page): Promise<string> {
  return opensConversation(page, async () => {
    await openNewChat(page, 'New AI chat');
    await page.getByRole('button', { name: 'Start AI chat' }).click();
  });
}

export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.fill(text);
  await box.press('Enter');
}

/** The bubble of a message with this exact text. */
export function bubble(page: Page, text: string) {
  return page.locator('.msg .bubble', { hasText: text });
}

export function row(page: Page, conversationId: string) {
  return page.locator(`.conv-row[data-conversation-id="${conversationId}"]`);
}
