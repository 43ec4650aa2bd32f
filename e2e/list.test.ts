import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Message } from '@confab/protocol';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../packages/server/src/test/fakeOpenAI.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../packages/server/src/test/harness.ts';
import { makePdf } from '../packages/server/src/test/pdf.ts';
import { connect, type Client } from '../packages/server/src/realtime/test/kit.ts';
import { bubble, ensureBuilt, launchBrowser, row, send, startAiChat, watchErrors, type BrowserHandle } from './helpers.ts';

/**
 * The defects of issue 18's walk-through, each shown in Debian's Chromium against a real server:
 * the list pinned to the bottom whatever arrives (desktop and phone), "N new messages ↓", Retry
 * of a failed AI answer, online dots after a reload, Copy on code blocks, search and message links
 * that open at the message, and the smaller ones. The other person is a plain API user (with a
 * socket where they must be online), so each test says exactly what arrives and when.
 */
const MODEL = 'openai:test-model';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 720 };

let fake: FakeOpenAI;
let server: TestServer;
let chrome: BrowserHandle;
const contexts: { close(): Promise<void> }[] = [];
const sockets: Client[] = [];

beforeAll(async () => {
  ensureBuilt();
  fake = await startFakeOpenAI({ defaultDelayMs: 20 });
  server = await startTestServer({ ai: testAiConfig(fake.url, [MODEL], { checkpointMs: 300 }) });
  chrome = await launchBrowser();
}, 180_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  for (const c of contexts) await c.close().catch(() => {});
  await chrome?.close();
  await server?.close();
  await fake?.close();
});

interface Person {
  page: Page;
  id: string;
  handle: string;
  errors: string[];
}

let seq = 0;
/** Signs up through the UI in a context of its own (a separate person), with these options. */
async function person(browser: Browser, name: string, options: BrowserContextOptions = {}): Promise<Person> {
  seq++;
  const handle = `${name.toLowerCase()}${seq}${Math.random().toString(36).slice(2, 6)}`;
  const context = await browser.newContext({ viewport: DESKTOP, baseURL: server.url, ...options });
  contexts.push(context);
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto('/');
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Username').fill(handle);
  await page.getByLabel('Email').fill(`${handle}@example.test`);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByRole('navigation', { name: 'Conversation list' }).waitFor();
  const id = await page.evaluate(async () => {
    const me = JSON.parse(localStorage.getItem('confab.me') ?? 'null') as { id?: string } | null;
    return me?.id ?? '';
  });
  return { page, id: id || (await userId(handle)), handle, errors };
}

let helper: TestUser | undefined;
async function userId(handle: string): Promise<string> {
  helper ??= await registerUser(server, 'finder');
  const users = (await helper.api.get(`/api/users?query=${handle}`)).body.users as { id: string; handle: string }[];
  return users.find((u) => u.handle === handle)!.id;
}

/** A direct conversation between `other` (an API user) and `p`, made by `other`. */
async function directWith(other: TestUser, p: Person): Promise<string> {
  const res = await other.api.post('/api/conversations/direct', { userId: p.id });
  expect([200, 201]).toContain(res.status);
  return res.body.id;
}

let n = 0;
async function say(user: TestUser, conversationId: string, content: string, extra: Record<string, unknown> = {}): Promise<Message> {
  const res = await user.api.post('/api/messages', { conversationId, content, clientId: `l-${++n}-${Math.random()}`, ...extra });
  expect(res.status).toBe(201);
  return res.body;
}

async function upload(user: TestUser, conversationId: string, bytes: Buffer, name: string, type: string): Promise<string> {
  const t = await user.api.post('/api/attachments', { conversationId, name, type, size: bytes.byteLength });
  expect(t.status).toBe(201);
  const res = await fetch(server.url + t.body.uploadUrl, { method: 'PUT', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': type }, body: new Uint8Array(bytes) });
  expect(res.status).toBeLessThan(300);
  return t.body.attachmentId;
}

/**
 * Where the list stands: `gap` is the distance from the newest rendered row's bottom to the end of
 * the list (the list's bottom less its 8 px footer); `last` is that row's text.
 */
async function bottom(page: Page): Promise<{ gap: number; last: string } | null> {
  return page.evaluate(() => {
    const scroller = document.querySelector<HTMLElement>('.message-list [data-testid="virtuoso-scroller"]');
    const rows = scroller?.querySelectorAll<HTMLElement>('.msg-row-wrap');
    const last = rows?.[rows.length - 1];
    if (!scroller || !last) return null;
    const footer = scroller.querySelector<HTMLElement>('.list-footer')?.offsetHeight ?? 0;
    return { gap: Math.round((scroller.getBoundingClientRect().bottom - footer - last.getBoundingClientRect().bottom) * 10) / 10, last: last.innerText };
  });
}

/** The newest message (containing `text`) sits at the list's bottom, within 2 px. */
async function expectAtBottom(page: Page, text: string, what: string): Promise<void> {
  await expect
    .poll(
      async () => {
        const b = await bottom(page);
        return b !== null && b.last.includes(text) && Math.abs(b.gap) <= 2 ? 'at bottom' : JSON.stringify(b);
      },
      { timeout: 4000, message: `${what}: the newest message is not at the bottom` },
    )
    .toBe('at bottom');
}

for (const [label, viewport] of [
  ['desktop', DESKTOP],
  ['phone', PHONE],
] as const) {
  describe(`the message list stays at the bottom (${label})`, () => {
    it('on opening, receiving, sending, "Seen", a late image, the composer growing and a streaming answer', async () => {
      const alice = await person(chrome.browser, 'Alice', { viewport });
      const bob = await registerUser(server, 'bob');
      const direct = await directWith(bob, alice);
      // A history longer than the screen, rows of different heights.
      for (let i = 0; i < 40; i++) await say(bob, direct, i % 3 === 0 ? `history ${i}\nsecond line\nthird line` : `history ${i}`);

      // Opening the conversation.
      await row(alice.page, direct).locator('a').click();
      await bubble(alice.page, 'history 39').waitFor();
      await expectAtBottom(alice.page, 'history 39', 'opened');

      // Receiving, several times, one of them long.
      await say(bob, direct, 'a reply from Bob');
      await expectAtBottom(alice.page, 'a reply from Bob', 'received');
      await say(bob, direct, `a long one ${'word '.repeat(120)}end`);
      await expectAtBottom(alice.page, 'end', 'received a long message');

      // Sending, then Bob reads it: the "Seen" line under it still shows.
      await send(alice.page, 'my answer to Bob');
      await expectAtBottom(alice.page, 'my answer to Bob', 'sent');
      const latest = async () => ((await bob.api.get(`/api/messages/${direct}`)).body.messages as Message[]).at(-1)!;
      await expect.poll(async () => (await latest()).content).toBe('my answer to Bob');
      const mine = await latest();
      await bob.api.post(`/api/messages/${mine.id}/status`, { status: 'read' });
      await alice.page.locator('.send-state[data-receipt="seen"]').waitFor();
      await expectAtBottom(alice.page, 'Seen', 'seen');

      // An image whose bytes arrive late.
      await alice.page.route('**/api/attachments/**', async (route) => {
        await new Promise((r) => setTimeout(r, 1200));
        await route.continue();
      });
      const photo = await sharp({ create: { width: 600, height: 900, channels: 3, background: { r: 30, g: 120, b: 200 } } }).jpeg().toBuffer();
      const attachmentId = await upload(bob, direct, photo, 'tall.jpg', 'image/jpeg');
      await say(bob, direct, 'look at this', { kind: 'image', attachmentIds: [attachmentId] });
      await expectAtBottom(alice.page, 'look at this', 'image sent');
      await alice.page.locator('.att-image img').last().waitFor();
      await expectAtBottom(alice.page, 'look at this', 'image loaded');
      await alice.page.unroute('**/api/attachments/**');

      // The composer grows (a long draft): the list's bottom moves up, the newest message with it.
      const box = alice.page.getByRole('textbox', { name: 'Message', exact: true });
      await box.fill('draft line\n'.repeat(6));
      await expectAtBottom(alice.page, 'look at this', 'composer grew');
      await box.fill('');
      await expectAtBottom(alice.page, 'look at this', 'composer shrank');
      expect(alice.errors).toEqual([]);
    });

    it('a growing AI answer stays in view; scrolled up, arrivals show "N new messages ↓", which goes down', async () => {
      const carol = await person(chrome.browser, 'Carol', { viewport });
      await startAiChat(carol.page);
      await send(carol.page, 'Count for me [tokens=160] [delay=25]');
      const answer = carol.page.locator('.msg.ai[data-status="streaming"]');
      await answer.waitFor();
      for (const tokens of [20, 60, 110]) {
        await expect.poll(() => answer.innerText().then((t) => t.split(' ').length).catch(() => 999), { timeout: 15_000 }).toBeGreaterThan(tokens);
        await expectAtBottom(carol.page, '', `answer past ${tokens} tokens`);
      }
      await carol.page.locator('.msg.ai[data-status="complete"]').waitFor({ timeout: 20_000 });
      await expectAtBottom(carol.page, 't159', 'answer complete');

      // Scrolled up: new arrivals do not move the reader, a button counts them.
      const dave = await person(chrome.browser, 'Dave', { viewport });
      const bob = await registerUser(server, 'bob');
      const direct = await directWith(bob, dave);
      for (let i = 0; i < 30; i++) await say(bob, direct, `older ${i}`);
      await row(dave.page, direct).locator('a').click();
      await expectAtBottom(dave.page, 'older 29', 'opened');
      const list = dave.page.locator('.message-list [data-testid="virtuoso-scroller"]');
      await list.hover();
      await dave.page.mouse.wheel(0, -900);
      await expect.poll(() => bottom(dave.page).then((b) => (b ? b.gap : 0))).toBeLessThan(-100);
      await say(bob, direct, 'new one');
      await say(bob, direct, 'new two');
      const jump = dave.page.getByRole('button', { name: /2 new messages/ });
      await jump.waitFor();
      expect(await dave.page.locator('.msg', { hasText: 'new two' }).isVisible()).toBe(false);
      await jump.click();
      await expectAtBottom(dave.page, 'new two', 'after the button');
      await expect.poll(() => dave.page.locator('.jump-latest').count()).toBe(0);
    });
  });
}

describe('AI answers that fail', () => {
  it('offer Retry, which asks again and completes', async () => {
    const erin = await person(chrome.browser, 'Erin');
    await startAiChat(erin.page);
    fake.mode = { status: 500 };
    await send(erin.page, 'will this work');
    const failed = erin.page.locator('.msg.ai[data-status="error"]');
    await failed.waitFor();
    fake.mode = undefined;
    await failed.getByRole('button', { name: 'Retry' }).click();
    await erin.page.locator('.msg.ai[data-status="complete"]', { hasText: 'will this work' }).waitFor();
    expect(await erin.page.locator('.ai-error').count()).toBe(0);
    // The next question goes alone (the provider got one user message).
    await send(erin.page, 'and now');
    await erin.page.locator('.msg.ai[data-status="complete"]', { hasText: 'and now' }).waitFor();
    const last = fake.requests.filter((r) => r.body?.stream === true).at(-1)!;
    expect((last.body.messages as { role: string }[]).filter((m) => m.role === 'user')).toHaveLength(2);
  });
});

describe('online dots in the sidebar', () => {
  it('show after a page load for someone who was online all along', async () => {
    const fay = await person(chrome.browser, 'Fay');
    const bob = await registerUser(server, 'bob');
    const direct = await directWith(bob, fay);
    await say(bob, direct, 'hi Fay');
    sockets.push(await connect(server.url, bob.accessToken));
    await row(fay.page, direct).waitFor();
    await fay.page.reload();
    await row(fay.page, direct).waitFor();
    // Nothing opened: only the sidebar shows Bob.
    await row(fay.page, direct).locator('.presence-dot.online').waitFor({ timeout: 5000 });
  });
});

describe('copying', () => {
  it('Copy on a code block puts the code on the clipboard, also where the page has no Clipboard API', async () => {
    const gus = await person(chrome.browser, 'Gus', { permissions: ['clipboard-read', 'clipboard-write'] });
    const bob = await registerUser(server, 'bob');
    const direct = await directWith(bob, gus);
    await say(bob, direct, 'try this:\n```js\nconst answer = 42;\nconsole.log(answer);\n```');
    await row(gus.page, direct).locator('a').click();
    const code = gus.page.locator('.code-block');
    await code.waitFor();
    await code.getByRole('button', { name: 'Copy' }).click();
    await expect.poll(() => gus.page.evaluate(() => navigator.clipboard.readText())).toBe('const answer = 42;\nconsole.log(answer);\n');
    await code.getByRole('button', { name: 'Copied' }).waitFor();

    // Served over plain http on a LAN address, a page has no Clipboard API (not a secure context):
    // Copy used to throw there and do nothing. The same page, as such a browser shows it.
    const plain = await gus.page.context().newPage();
    await plain.addInitScript(() => {
      Object.defineProperty(window, 'isSecureContext', { value: false });
      Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined });
    });
    await plain.goto(`/c/${direct}`);
    expect(await plain.evaluate(() => typeof navigator.clipboard)).toBe('undefined');
    const block = plain.locator('.code-block');
    await block.waitFor();
    await gus.page.evaluate(() => navigator.clipboard.writeText('something else'));
    await block.getByRole('button', { name: 'Copy' }).click();
    await block.getByRole('button', { name: 'Copied' }).waitFor();
    await expect.poll(() => gus.page.evaluate(() => navigator.clipboard.readText())).toBe('const answer = 42;\nconsole.log(answer);\n');
    await plain.close();
  });
});

describe('opening at a message', () => {
  it('a search hit far back in the history opens there, highlighted; so does a copied message link', async () => {
    const hal = await person(chrome.browser, 'Hal', { permissions: ['clipboard-read', 'clipboard-write'] });
    const bob = await registerUser(server, 'bob');
    const direct = await directWith(bob, hal);
    for (let i = 0; i < 130; i++) await say(bob, direct, i === 3 ? 'the marmalade recipe is here' : `filler ${i}`);
    await row(hal.page, direct).waitFor();
    await hal.page.getByLabel('Search conversations and messages').fill('marmalade');
    await hal.page.locator('.search-hit', { hasText: 'marmalade' }).click();
    await hal.page.waitForURL(/\?at=\d+/);
    const target = hal.page.locator('.msg', { hasText: 'the marmalade recipe is here' });
    await target.waitFor({ timeout: 10_000 });
    await expect.poll(() => target.isVisible()).toBe(true);
    await hal.page.locator('.msg.flash', { hasText: 'marmalade' }).waitFor();
    // Not at the bottom: the latest is out of view.
    expect(await hal.page.locator('.msg', { hasText: 'filler 129' }).isVisible().catch(() => false)).toBe(false);

    // Copy link on a message, opened in a fresh load.
    await target.hover();
    await target.getByRole('button', { name: 'Copy link' }).click();
    const link = await hal.page.evaluate(() => navigator.clipboard.readText());
    expect(link).toMatch(new RegExp(`/c/${direct}\\?at=\\d+$`));
    await hal.page.goto('/');
    await hal.page.goto(link);
    await hal.page.locator('.msg.flash', { hasText: 'the marmalade recipe is here' }).waitFor({ timeout: 10_000 });
    expect(hal.errors).toEqual([]);
  });

  it('AI answers are found by search', async () => {
    const ida = await person(chrome.browser, 'Ida');
    const conv = await startAiChat(ida.page);
    await send(ida.page, 'tell me about axolotls');
    await ida.page.locator('.msg.ai[data-status="complete"]', { hasText: 'axolotls' }).waitFor();
    await ida.page.goto('/');
    await ida.page.getByLabel('Search conversations and messages').fill('axolotls');
    // The question and the answer (which echoes it).
    await expect.poll(() => ida.page.locator('.search-hit', { hasText: 'axolotls' }).count()).toBe(2);
    await ida.page.locator('.search-hit', { hasText: /Assistant/ }).click();
    await ida.page.waitForURL(new RegExp(`/c/${conv}\\?at=`));
    await ida.page.locator('.msg.ai.flash').waitFor();
  });
});

describe('smaller defects', () => {
  it('a removed member is told they no longer have access', async () => {
    const jo = await person(chrome.browser, 'Jo');
    const bob = await registerUser(server, 'bob');
    const group = (await bob.api.post('/api/conversations/group', { title: 'Secret plans', participantIds: [jo.id] })).body.id as string;
    await say(bob, group, 'welcome');
    await row(jo.page, group).locator('a').click();
    await bubble(jo.page, 'welcome').waitFor();
    expect((await bob.api.delete(`/api/conversations/${group}/participants/${jo.id}`)).status).toBeLessThan(300);
    await jo.page.getByRole('heading', { name: 'You no longer have access to this conversation' }).waitFor({ timeout: 10_000 });
    await jo.page.getByText(/You were removed from it/).waitFor();
  });

  it('files: an SVG is a file chip, a text file and a PDF show their first lines', async () => {
    const kim = await person(chrome.browser, 'Kim');
    const bob = await registerUser(server, 'bob');
    const direct = await directWith(bob, kim);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    await say(bob, direct, 'a drawing', { kind: 'file', attachmentIds: [await upload(bob, direct, svg, 'drawing.svg', 'image/svg+xml')] });
    await say(bob, direct, 'notes', { kind: 'file', attachmentIds: [await upload(bob, direct, Buffer.from('Shopping list\n- apples\n- pears\n'), 'notes.txt', 'text/plain')] });
    await row(kim.page, direct).locator('a').click();
    const drawing = kim.page.locator('.msg', { hasText: 'a drawing' });
    await drawing.locator('.att-file', { hasText: 'drawing.svg' }).waitFor();
    expect(await drawing.locator('.att-image').count()).toBe(0);
    await kim.page.locator('.msg', { hasText: 'notes' }).locator('.att-text', { hasText: 'Shopping list' }).waitFor();
    await say(bob, direct, 'the report', { kind: 'file', attachmentIds: [await upload(bob, direct, makePdf('Quarterly figures for the board'), 'report.pdf', 'application/pdf')] });
    await kim.page.locator('.msg', { hasText: 'the report' }).locator('.att-text', { hasText: 'Quarterly figures for the board' }).waitFor();
  });

  it('the edit box grows with its text', async () => {
    const lee = await person(chrome.browser, 'Lee');
    const bob = await registerUser(server, 'bob');
    const direct = await directWith(bob, lee);
    await row(lee.page, direct).locator('a').click();
    await send(lee.page, `a long message ${'that goes on and on '.repeat(30)}the end`);
    await bubble(lee.page, 'the end').waitFor();
    await lee.page.getByRole('textbox', { name: 'Message', exact: true }).press('ArrowUp');
    const edit = lee.page.getByRole('textbox', { name: 'Edit message' });
    await edit.waitFor();
    const size = await edit.evaluate((el) => ({ client: el.clientHeight, scroll: el.scrollHeight, line: parseFloat(getComputedStyle(el).lineHeight) || 20 }));
    expect(size.client).toBeGreaterThan(size.line * 3);
    expect(size.scroll).toBeLessThanOrEqual(size.client + 2);
  });

  it('Esc closes group settings after adding someone', async () => {
    const max = await person(chrome.browser, 'Max');
    const ned = await registerUser(server, 'ned');
    const olive = await registerUser(server, 'olive');
    const group = (await ned.api.post('/api/conversations/group', { title: 'Team', participantIds: [max.id] })).body.id as string;
    await ned.api.patch(`/api/conversations/${group}/participants/${max.id}`, { role: 'admin' });
    await say(ned, group, 'hello team');
    await row(max.page, group).locator('a').click();
    await bubble(max.page, 'hello team').waitFor();
    await max.page.getByRole('button', { name: 'Conversation details' }).click();
    const dialog = max.page.getByRole('dialog', { name: 'Group settings' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Add people' }).click();
    await dialog.getByLabel('Find people to add').fill(olive.user.handle);
    await dialog.locator('.user-pick', { hasText: olive.user.handle }).click();
    await dialog.locator('.member-list', { hasText: 'olive' }).waitFor();
    await max.page.keyboard.press('Escape');
    await expect.poll(() => max.page.getByRole('dialog', { name: 'Group settings' }).count()).toBe(0);
  });

  it('sign-out removes drafts from the browser', async () => {
    const pat = await person(chrome.browser, 'Pat');
    const bob = await registerUser(server, 'bob');
    const direct = await directWith(bob, pat);
    await row(pat.page, direct).locator('a').click();
    await pat.page.getByRole('textbox', { name: 'Message', exact: true }).fill('a private draft');
    await expect.poll(() => pat.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('confab.draft.')).length)).toBe(1);
    await pat.page.getByRole('button', { name: 'Sign out' }).first().click();
    await pat.page.getByRole('tab', { name: 'Create account' }).waitFor();
    expect(await pat.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('confab.draft.')))).toEqual([]);
  });

  it('on a phone, one tap on Stop stops the answer', async () => {
    const quinn = await person(chrome.browser, 'Quinn', { viewport: PHONE, hasTouch: true, isMobile: true });
    await startAiChat(quinn.page);
    await send(quinn.page, 'Long one [tokens=400] [delay=40]');
    const streaming = quinn.page.locator('.msg.ai[data-status="streaming"]');
    await streaming.waitFor();
    await quinn.page.locator('.stop-inline').tap();
    await quinn.page.locator('.msg.ai[data-status="stopped"]').waitFor({ timeout: 5000 });
  });
});
