import type { Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../packages/server/src/test/fakeOpenAI.ts';
import { startTestServer } from '../packages/server/src/test/harness.ts';
import { send, startAiChat, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * AI conversations in the web app (Debian's Chromium, a real server, the local fake provider): the
 * model switcher in the header, the system prompt in the details panel, and browsing the versions
 * of a regenerated answer (‹ 1/3 ›). What the provider was asked is read from the fake's requests.
 */
const [A, B] = ['openai:model-a', 'openai:model-b'];

let fake: FakeOpenAI;
const app = webApp(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 10 });
  return startTestServer({ ai: testAiConfig(fake.url, [A, B], { checkpointMs: 300 }) });
});

afterAll(async () => {
  await fake?.close();
});

/** The streamed (answer) requests the provider got since `from`; titles are asked without streaming. */
const answerRequests = (from: number) => fake.requests.slice(from).filter((r) => r.path === '/v1/chat/completions' && r.body.stream);
const systemOf = (request: { body: any }): string => request.body.messages.find((m: { role: string }) => m.role === 'system')?.content ?? '';

/** Sends and waits for the answer that follows to be complete; returns the provider's request for it. */
async function askAndWait(page: Page, text: string, answersBefore: number) {
  const before = fake.requests.length;
  await send(page, text);
  await expect.poll(() => page.locator('.msg.ai[data-status="complete"]').count(), { timeout: 15_000 }).toBe(answersBefore + 1);
  await expect.poll(() => answerRequests(before).length).toBe(1);
  return answerRequests(before)[0]!;
}

describe('AI conversation settings in the web app', () => {
  let mia: WebUser;

  it('switches the model from the header: the next answer is asked of it and labelled with it', async () => {
    mia = await app.person('Mia');
    const page = mia.page;
    await startAiChat(page);
    const switcher = page.getByRole('button', { name: /Switch model/ });
    await expect.poll(() => switcher.innerText()).toContain('model-a');

    const first = await askAndWait(page, 'Hello there [tokens=3]', 0);
    expect(first.body.model).toBe('model-a');
    await page.locator('.msg.ai').nth(0).locator('.model-badge', { hasText: 'model-a' }).waitFor();

    // Open with the keyboard: the current model is checked and focused; Esc closes, focus back.
    await switcher.focus();
    await page.keyboard.press('Enter');
    const menu = page.getByRole('menu', { name: 'Models' });
    await menu.waitFor();
    expect(await menu.getByRole('menuitemradio', { name: /model-a/ }).getAttribute('aria-checked')).toBe('true');
    expect(await menu.getByRole('menuitemradio', { name: /model-b/ }).getAttribute('aria-checked')).toBe('false');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('role'))).toBe('menuitemradio');
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
    await expect.poll(() => switcher.evaluate((el) => el === document.activeElement)).toBe(true);

    // Pick the other one with the arrow keys.
    await page.keyboard.press('Enter');
    await menu.waitFor();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.locator('.system-line', { hasText: 'switched the model to model-b' }).waitFor();
    await expect.poll(() => switcher.innerText()).toContain('model-b');

    const second = await askAndWait(page, 'And now? [tokens=4]', 1);
    expect(second.body.model).toBe('model-b');
    await page.locator('.msg.ai').nth(1).locator('.model-badge', { hasText: 'model-b' }).waitFor();
    // The earlier answer keeps the model that wrote it.
    await page.locator('.msg.ai').nth(0).locator('.model-badge', { hasText: 'model-a' }).waitFor();
    expect(mia.errors).toEqual([]);
  });

  it('sets a system prompt in the details panel: the next answer is asked with it; clearing removes it', async () => {
    const page = mia.page;
    await startAiChat(page);
    await page.getByRole('button', { name: 'Conversation details' }).click();
    const panel = page.getByRole('dialog', { name: 'Details' });
    const prompt = panel.getByRole('textbox', { name: 'System prompt' });
    await prompt.fill('You are a ship captain. Keep answers under ten words.');
    await panel.getByRole('button', { name: 'Save prompt' }).click();
    await page.getByText('System prompt saved. It applies from the next answer.').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('.system-line', { hasText: 'set a system prompt' }).waitFor();

    const asked = await askAndWait(page, 'Where are we headed? [tokens=2]', 0);
    expect(systemOf(asked)).toContain('You are a ship captain. Keep answers under ten words.');

    // Kept by the server: after a reload the panel shows it; Clear removes it for the next answer.
    await page.reload();
    await page.getByRole('button', { name: 'Conversation details' }).click();
    await expect.poll(() => panel.getByRole('textbox', { name: 'System prompt' }).inputValue()).toBe('You are a ship captain. Keep answers under ten words.');
    await panel.getByRole('button', { name: 'Clear' }).click();
    await page.getByText('System prompt removed.').waitFor();
    await page.keyboard.press('Escape');
    const after = await askAndWait(page, 'And now? [tokens=2]', 1);
    expect(systemOf(after)).not.toContain('ship captain');
    expect(mia.errors).toEqual([]);
  });

  it('regenerates twice and browses the versions with ‹ 1/3 ›, the latest shown by default', async () => {
    const page = mia.page;
    await startAiChat(page);
    await askAndWait(page, 'Tell me something [vary] [tokens=2]', 0);
    const answer = page.locator('.msg.ai').first();
    await answer.locator('.bubble', { hasText: 'v1 t0 t1' }).waitFor();
    expect(await answer.locator('.version-pager').count()).toBe(0);

    for (const n of [2, 3]) {
      await answer.hover();
      await answer.getByRole('button', { name: 'Regenerate the answer' }).click();
      await page.locator('.msg.ai[data-status="complete"] .bubble', { hasText: `v${n} t0 t1` }).waitFor();
    }
    const pager = answer.getByRole('group', { name: /Version 3 of 3/ });
    await pager.waitFor();
    expect(await answer.locator('.version-count').innerText()).toBe('3/3');
    expect(await answer.getByRole('button', { name: 'Next version' }).isDisabled()).toBe(true);

    await answer.getByRole('button', { name: 'Previous version' }).click();
    await answer.locator('.bubble', { hasText: 'v2 t0 t1' }).waitFor();
    expect(await answer.locator('.version-count').innerText()).toBe('2/3');
    await answer.getByRole('button', { name: 'Previous version' }).click();
    await answer.locator('.bubble', { hasText: 'v1 t0 t1' }).waitFor();
    expect(await answer.locator('.version-count').innerText()).toBe('1/3');
    expect(await answer.getByRole('button', { name: 'Previous version' }).isDisabled()).toBe(true);
    await answer.getByRole('button', { name: 'Next version' }).click();
    await answer.locator('.bubble', { hasText: 'v2 t0 t1' }).waitFor();

    // Browsing is the viewer's own: a reload shows the latest again; the question has no versions.
    await page.reload();
    await page.locator('.msg.ai').first().locator('.bubble', { hasText: 'v3 t0 t1' }).waitFor();
    await page.locator('.msg.ai').first().getByRole('group', { name: /Version 3 of 3/ }).waitFor();
    expect(await page.locator('.msg.mine .version-pager').count()).toBe(0);
    expect(mia.errors).toEqual([]);
  });
});
