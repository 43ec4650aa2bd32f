import { afterAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../packages/server/src/test/fakeOpenAI.ts';
import { startFakeSearch, type FakeSearch } from '../packages/server/src/test/fakeSearch.ts';
import { startTestServer } from '../packages/server/src/test/harness.ts';
import { send, startAiChat } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * Tools in AI answers in the web app (docs/ai.md, "Tools"), in Debian's Chromium against a real
 * server, the fake OpenAI-compatible provider and a local SearXNG-compatible search: the call shows
 * above the answer while it runs (a spinner), then done; opened, its input and results; the text
 * that used it below. A drawn picture shows as the answer's image.
 */
const MODEL = 'openai:test-model';

let fake: FakeOpenAI;
let search: FakeSearch;
const app = webApp(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 10 });
  search = await startFakeSearch();
  return startTestServer({
    ai: testAiConfig(fake.url, [MODEL], {
      tools: { searchUrl: search.url, searchResults: 3, imageModel: 'openai:gpt-image-1', mcpServers: [], maxSteps: 5, callTimeoutMs: 10_000, answerBudgetMs: 30_000 },
    }),
  });
});

afterAll(async () => {
  await fake?.close();
  await search?.close();
});

describe('tool calls in the web app', () => {
  it('shows a web search call running, then done, collapsible with its results, and the answer that used them', async () => {
    const alice = await app.person('Alice');
    const { page } = alice;
    await startAiChat(page);
    await send(page, 'What do we know about otters? [tool=web_search:{"query":"otters [delay=1500]"}]');
    const call = page.locator('.msg.ai .tool-call[data-tool="web_search"]');
    // While it runs: a spinner and the present tense.
    await call.locator('[data-status="running"], .spinner').first().waitFor();
    await expect.poll(() => call.locator('.tool-what').innerText()).toBe('Searching the web for “otters [delay=1500]”');
    // Done: the past tense, a check, and the text below it.
    await page.locator('.msg.ai .tool-call[data-status="done"]').waitFor({ timeout: 15_000 });
    expect(await call.locator('.tool-what').innerText()).toBe('Searched the web for “otters [delay=1500]”');
    await page.locator('.msg.ai[data-status="complete"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('.msg.ai .bubble .md').innerText()).toContain('Result 1 about otters');
    // Collapsed at first; opened by keyboard: the input and the results, as links.
    const head = call.getByRole('button');
    expect(await head.getAttribute('aria-expanded')).toBe('false');
    expect(await call.locator('.tool-body').count()).toBe(0);
    await head.focus();
    await page.keyboard.press('Enter');
    expect(await head.getAttribute('aria-expanded')).toBe('true');
    expect(await call.locator('.tool-pre').first().innerText()).toContain('"query": "otters [delay=1500]"');
    const links = call.locator('.tool-results a');
    await expect.poll(() => links.count()).toBe(3);
    expect(await links.first().innerText()).toBe('Result 1 about otters');
    expect(await links.first().getAttribute('href')).toBe('https://example.org/otters/1');
    expect(await links.first().getAttribute('rel')).toContain('noopener');
    // Closed again with a click.
    await head.click();
    await expect.poll(() => call.locator('.tool-body').count()).toBe(0);
    // A reload shows the call as stored.
    await page.reload();
    await page.locator('.msg.ai .tool-call[data-status="done"]').waitFor();
    expect(alice.errors).toEqual([]);
  });

  it("shows a drawn picture as the answer's image", async () => {
    const bob = await app.person('Bob');
    const { page } = bob;
    await startAiChat(page);
    await send(page, 'Draw me something [tool=generate_image:{"prompt":"a blue square"}]');
    await page.locator('.msg.ai .tool-call[data-tool="generate_image"][data-status="done"]').waitFor({ timeout: 15_000 });
    const image = page.locator('.msg.ai img[alt="image-1.png"]');
    await image.waitFor({ timeout: 15_000 });
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    expect(bob.errors).toEqual([]);
  });
});
