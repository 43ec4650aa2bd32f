/**
 * Screenshots of tools in AI answers (issue 22), a scene of `npm run screenshots` (alone with
 * `npm run screenshots -- --only=ai-tools`): an answer that searched the web, its call opened to
 * show the query and the results, desktop, light and dark. Its own server, with the fake
 * OpenAI-compatible provider (which calls the tool when asked) and a local SearXNG-compatible search.
 */
import type { Page } from 'playwright-core';
import { startFakeOpenAI, testAiConfig } from '../packages/server/src/test/fakeOpenAI.ts';
import { startFakeSearch } from '../packages/server/src/test/fakeSearch.ts';
import { startTestServer } from '../packages/server/src/test/harness.ts';
import type { BrowserHandle } from './helpers.ts';
import { camera, DESKTOP, named, say, THEMES } from './screenshotKit.ts';

const ANSWER = `Here is what the search found this year:

- **Tool use is older than thought.** Wear patterns on rocks suggest sea otters have cracked shellfish on anvils for thousands of years ([example.org](https://example.org/sea%20otter%20research%202026/1)).
- **Kelp forests recover where otters return**, because they keep sea urchins in check ([example.org](https://example.org/sea%20otter%20research%202026/2)).
- **Pups learn by watching**: mothers spend months showing them how to dive and forage ([example.org](https://example.org/sea%20otter%20research%202026/3)).

Want me to look into any of these in more detail?`;

export async function aiToolScreens(chrome: BrowserHandle): Promise<string[]> {
  const fake = await startFakeOpenAI({ defaultDelayMs: 2, toolFor: (text) => (/otter/.test(text) ? { name: 'web_search', args: { query: 'sea otter research 2026' } } : undefined), toolAnswer: () => ANSWER });
  const search = await startFakeSearch();
  const server = await startTestServer({
    ai: testAiConfig(fake.url, ['openai:gpt-demo'], {
      tools: { searchUrl: search.url, searchResults: 3, imageModel: undefined, mcpServers: [], maxSteps: 5, callTimeoutMs: 10_000, answerBudgetMs: 30_000 },
    }),
  });
  try {
    const maya = await named(server, 'Maya Lin', 'maya');
    const ai = (await maya.api.post('/api/conversations/assistant', { model: 'openai:gpt-demo' })).body as { id: string };
    await say(maya, ai.id, 'Which sea otter facts are new this year?');
    for (let i = 0; i < 100; i++) {
      const list = (await maya.api.get(`/api/messages/${ai.id}?limit=5`)).body as { messages: { status: string; authorId: string }[] };
      if (list.messages.some((m) => m.authorId === 'assistant' && m.status === 'complete')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const { open, snap, saved } = camera(chrome, server, maya);
    for (const theme of THEMES) {
      const { context, page } = await open(DESKTOP, theme);
      await page.goto(`/c/${ai.id}`);
      await openCall(page);
      await snap(page, `desktop-ai-tools-${theme}`);
      await context.close();
    }
    return saved;
  } finally {
    await server.close();
    await fake.close();
    await search.close();
  }
}

async function openCall(page: Page): Promise<void> {
  const head = page.locator('.msg.ai .tool-call[data-status="done"] .tool-head');
  await head.waitFor();
  await head.click();
  await page.locator('.msg.ai .tool-results a').first().waitFor();
  // Neither hovered nor focused: the message's toolbar stays hidden.
  await page.mouse.move(160, 650);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
}
