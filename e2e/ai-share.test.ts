import { afterAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, type FakeOpenAI, testAiConfig } from '../packages/server/src/test/fakeOpenAI.ts';
import { startTestServer } from '../packages/server/src/test/harness.ts';
import { send, startAiChat, watchErrors, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * Branches and shared snapshots of AI chats in Debian's Chromium (docs/ai.md): branch from a
 * message and land in the new chat with the copies; share a link, read it in a fresh signed-out
 * browser, remove it and see that it was removed. The answers come from the local fake
 * OpenAI-compatible provider (it echoes the question).
 */
const MODEL = 'openai:test-model';

let fake: FakeOpenAI;
const app = webApp(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 5 });
  return startTestServer({ ai: testAiConfig(fake.url, [MODEL], { checkpointMs: 300 }) });
});

afterAll(async () => {
  await fake?.close();
});

/** Sends a question and waits until this many answers are complete. */
async function askAndWait(user: WebUser, text: string, answers: number): Promise<void> {
  await send(user.page, text);
  await expect.poll(() => user.page.locator('.msg.ai[data-status="complete"]').count(), { timeout: 15_000 }).toBe(answers);
}

const contents = (user: WebUser) => user.page.locator('.msg .bubble .md').allInnerTexts();

describe('branches and shares of AI chats in a real browser', () => {
  let alice: WebUser;
  let source: string;
  let shareUrl: string;

  it('branches from a message: a new AI chat opens with the messages up to it, the original unchanged', async () => {
    alice = await app.person('Alice');
    source = await startAiChat(alice.page);
    await alice.page.getByText('How can I help?').waitFor();
    await askAndWait(alice, 'Plan a day in Lisbon with **pastries**', 1);
    await askAndWait(alice, 'And a day in Porto please', 2);
    expect(await contents(alice)).toHaveLength(4);

    // The first answer's actions: "Branch from here".
    const firstAnswer = alice.page.locator('.msg.ai').first();
    await firstAnswer.hover();
    await firstAnswer.getByRole('button', { name: 'Branch from here' }).click();
    await alice.page.waitForURL((u) => u.pathname.startsWith('/c/') && !u.pathname.includes(source));
    const branch = decodeURIComponent(new URL(alice.page.url()).pathname.split('/')[2]!);
    await alice.page.getByText(/Branched: a new AI chat/).waitFor();
    await expect.poll(() => contents(alice)).toEqual(['Plan a day in Lisbon with pastries', 'Plan a day in Lisbon with pastries']);
    // Authors as they were: the caller's question, then the assistant's answer with its model.
    await alice.page.locator('.msg.mine', { hasText: 'Plan a day in Lisbon' }).waitFor();
    await alice.page.locator('.msg.ai .model-badge', { hasText: 'test-model' }).waitFor();
    // It is a chat of its own: a new question gets an answer there.
    await askAndWait(alice, 'What about Sintra', 2);
    expect(await contents(alice)).toHaveLength(4);
    await alice.page.locator(`.conv-row[data-conversation-id="${branch}"]`).waitFor();

    // The original did not change.
    await alice.page.goto(`/c/${source}`);
    await expect.poll(() => contents(alice)).toHaveLength(4);
    expect((await contents(alice)).some((t) => t.includes('Sintra'))).toBe(false);
  });

  it('shares a link that a signed-out browser opens as a read-only snapshot', async () => {
    const page = alice.page;
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Share a read-only link' });
    await dialog.getByText('No links yet').waitFor();
    await dialog.getByRole('button', { name: 'Create link' }).click();
    const created = dialog.getByRole('textbox', { name: 'New shared link' });
    await created.waitFor();
    shareUrl = await created.inputValue();
    expect(shareUrl).toMatch(new RegExp(`^${app.server.url}/shared/[A-Za-z0-9_-]{32}$`));
    await expect.poll(() => dialog.locator('.share-item').count()).toBe(1);
    await dialog.getByText('4 messages').waitFor();
    // Keyboard: Esc closes the dialog.
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.count()).toBe(0);

    // Messages after the snapshot are not in it.
    await askAndWait(alice, 'A later question', 3);

    const stranger = await app.chrome.browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const reader = await stranger.newPage();
      const errors = watchErrors(reader);
      await reader.goto(shareUrl);
      await reader.getByText('Shared snapshot · read-only').waitFor();
      await reader.getByText(/A read-only copy of the conversation as it was on/).waitFor();
      await expect.poll(() => reader.locator('.shared-msg .md').allInnerTexts()).toEqual([
        'Plan a day in Lisbon with pastries',
        'Plan a day in Lisbon with pastries',
        'And a day in Porto please',
        'And a day in Porto please',
      ]);
      // Rendered as markdown, like the chat.
      await reader.locator('.shared-msg .md strong', { hasText: 'pastries' }).first().waitFor();
      // People by display name, the assistant with its model; nothing to write with, no sign-in needed.
      await reader.locator('.shared-msg .msg-author', { hasText: 'Alice' }).first().waitFor();
      await reader.locator('.shared-msg.ai .model-badge', { hasText: 'test-model' }).first().waitFor();
      expect(await reader.getByRole('textbox', { name: 'Message' }).count()).toBe(0);
      expect(await reader.getByText('A later question').count()).toBe(0);
      expect(await reader.locator('body').innerText()).not.toContain(alice.handle);
      expect(await reader.title()).toContain('·');
      expect(errors).toEqual([]);
    } finally {
      await stranger.close();
    }
  });

  it('removes the link: the page then says so', async () => {
    const page = alice.page;
    await page.getByRole('button', { name: 'Share', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Share a read-only link' });
    const item = dialog.locator('.share-item');
    await item.waitFor();
    expect(await item.getByRole('textbox', { name: 'Shared link' }).inputValue()).toBe(shareUrl);
    await item.getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('dialog', { name: 'Remove this link?' }).getByRole('button', { name: 'Remove link' }).click();
    await dialog.getByText('No links yet').waitFor();
    await page.keyboard.press('Escape');

    const stranger = await app.chrome.browser.newContext({ viewport: { width: 390, height: 844 } });
    try {
      const reader = await stranger.newPage();
      const errors = watchErrors(reader);
      await reader.goto(shareUrl);
      await reader.getByRole('heading', { name: 'This link was removed' }).waitFor();
      expect(await reader.locator('.shared-msg').count()).toBe(0);
      // (The 404 of the API call is the expected answer, not an error of the page.)
      expect(errors.filter((e) => !/404/.test(e))).toEqual([]);
    } finally {
      await stranger.close();
    }
    // The owner signed in sees the same page for it.
    await page.goto(shareUrl);
    await page.getByRole('heading', { name: 'This link was removed' }).waitFor();
    expect(alice.errors.filter((e) => !/404/.test(e))).toEqual([]);
  });
});
