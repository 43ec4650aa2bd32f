/**
 * `npm run screenshots`: seeds a fresh server with a few people, a group, a direct chat and an AI
 * chat, then saves the main screens at desktop (1280×800) and phone (390×844) sizes, light and
 * dark, to docs/screenshots/; then the team-chat scenes (channels, threads, mentions) of
 * e2e/screenshots*.ts (alone: shared AI chats with `npm run screenshots -- --only=share`, the assistant in a
 * group with `--only=ai-group`, AI conversation settings with `--only=ai-settings`), the admin console and
 * account settings (e2e/screenshotsAdmin.ts; alone with `--only=admin`), a PDF in an AI chat
 * (e2e/screenshotsAi.ts; alone with `--only=ai-files`) and an answer with a tool call
 * (e2e/screenshotsAiTools.ts; alone with `--only=ai-tools`). The AI answer comes from a tiny local OpenAI-compatible server that
 * streams a canned markdown answer, so the code highlighting shows.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { testAiConfig } from '../packages/server/src/test/fakeOpenAI.ts';
import { startTestServer } from '../packages/server/src/test/harness.ts';
import { ensureBuilt, launchBrowser, ROOT } from './helpers.ts';
import { camera, DESKTOP, named, OUT, PHONE, say, THEMES } from './screenshotKit.ts';
import { channelScreens } from './screenshotsChannels.ts';
import { mentionScreens } from './screenshotsMentions.ts';
import { threadScreens } from './screenshotsThreads.ts';
import { adminScreens } from './screenshotsAdmin.ts';
import { aiFileScreens } from './screenshotsAi.ts';
import { aiGroupScreens } from './screenshotsAiGroup.ts';
import { shareScreens } from './screenshotsShare.ts';
import { aiToolScreens } from './screenshotsAiTools.ts';
import { aiSettingsScreens } from './screenshotsAiSettings.ts';

/** What the canned provider offers: the first is every conversation's model, the others fill the model switcher. */
const MODELS = ['openai:gpt-demo', 'openai:gpt-4.1', 'openai:gpt-4o-mini', 'openai:o4-mini'];

/** Answers to the haiku question, in turn: a regenerated answer differs from the one before. */
const HAIKU = [
  'Cold rain on the roof —\nthe kettle starts its slow song,\nleaves drift past the glass.',
  'Grey streets shine like slate;\numbrellas bloom and close again,\nmaples bleed to red.',
  'Soft drum on the porch,\none last moth beneath the eaves —\nthe gutters hum low.',
];
let haikus = 0;

const ANSWER = `Here is a debounce helper in TypeScript. It waits until calls stop for \`ms\` milliseconds, then runs once:

\`\`\`ts
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms = 300) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return (...args: A) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
\`\`\`

**How to use it**

1. Wrap the handler once, outside the render: \`const save = debounce(saveDraft, 500)\`.
2. Call \`save(text)\` on every keystroke; only the last call in a burst runs.

> Tip: for search boxes, 200–300 ms feels instant and still saves most requests.`;

function cannedProvider(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const parsed = JSON.parse(body || '{}') as { stream?: boolean; messages?: { role: string; content: unknown }[] };
      const asked = JSON.stringify(parsed.messages ?? []);
      const text = /short title/i.test(asked) ? 'Debounce helper in TypeScript' : /haiku about/i.test(asked) ? HAIKU[haikus++ % HAIKU.length]! : ANSWER;
      if (!parsed.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model: 'gpt-demo', choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }] }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const pieces = text.match(/[\s\S]{1,12}/g) ?? [];
      // A question about a "leading edge": about 15 s for the whole answer, to photograph it mid-stream.
      const delay = /leading edge/.test(JSON.stringify(parsed.messages ?? [])) ? 15_000 / pieces.length : 0;
      const chunk = (p: string) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'gpt-demo', choices: [{ index: 0, delta: { content: p }, finish_reason: null }] })}\n\n`;
      const end = () => {
        res.write(`data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'gpt-demo', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
        res.end('data: [DONE]\n\n');
      };
      if (!delay) {
        for (const p of pieces) res.write(chunk(p));
        end();
        return;
      }
      let i = 0;
      const timer = setInterval(() => {
        if (res.destroyed || i >= pieces.length) {
          clearInterval(timer);
          if (!res.destroyed) end();
          return;
        }
        res.write(chunk(pieces[i++]!));
      }, delay);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}

async function main() {
  ensureBuilt();
  mkdirSync(OUT, { recursive: true });
  // `npm run screenshots -- --only=admin`: only the admin console and account settings (their own server).
  // `--only=ai-files`: only the PDF in an AI chat; `--only=ai-tools`: only the answer with a tool call (their own servers too).
  const only = process.argv.includes('--only=admin')
    ? adminScreens
    : process.argv.includes('--only=ai-files')
      ? aiFileScreens
      : process.argv.includes('--only=ai-tools')
        ? aiToolScreens
        : undefined;
  if (only) {
    const chrome = await launchBrowser();
    try {
      const saved = await only(chrome);
      console.log(`saved ${saved.length} screenshots to ${path.relative(ROOT, OUT)}/`);
    } finally {
      await chrome.close();
    }
    return;
  }
  const provider = await cannedProvider();
  const server = await startTestServer({ ai: testAiConfig(provider.url, MODELS, { checkpointMs: 300 }) });
  // `npm run screenshots -- --only=ai-settings`: only the AI conversation settings.
  if (process.argv.includes('--only=ai-settings')) {
    const chrome = await launchBrowser();
    try {
      const saved = await aiSettingsScreens(chrome, server);
      console.log(`saved ${saved.length} screenshots to ${path.relative(ROOT, OUT)}/`);
    } finally {
      await chrome.close();
      await server.close();
      await provider.close();
    }
    return;
  }
  const chrome = await launchBrowser();
  if (process.argv.includes('--only=ai-group')) {
    try {
      const saved = await aiGroupScreens(chrome, server);
      console.log(`saved ${saved.length} screenshots to ${path.relative(ROOT, OUT)}/`);
    } finally {
      await chrome.close();
      await server.close();
      await provider.close();
    }
    return;
  }
  try {
    // `npm run screenshots -- --only=share`: only the shared AI chat scenes (e2e/screenshotsShare.ts).
    if (process.argv.includes('--only=share')) {
      const saved = await shareScreens(chrome, server, 'openai:gpt-demo');
      console.log(`saved ${saved.length} screenshots to ${path.relative(ROOT, OUT)}/`);
      return;
    }
    const maya = await named(server, 'Maya Lin', 'maya');
    const sam = await named(server, 'Sam Carter', 'sam');
    const priya = await named(server, 'Priya Shah', 'priya');
    const leo = await named(server, 'Leo Martin', 'leo');

    // A group with some history, a reaction and a reply.
    const group = (await maya.api.post('/api/conversations/group', { title: 'Design team', participantIds: [sam.id, priya.id, leo.id] })).body as { id: string };
    await say(sam, group.id, 'Morning! The new onboarding screens are up for review 🎨');
    const q = await say(priya, group.id, 'Nice. Are we keeping the three-step flow, or going down to two?');
    await say(leo, group.id, 'Two steps tested better last week: 18% fewer drop-offs.');
    await say(maya, group.id, 'Then two it is. I will update the **spec** and the `onboarding.tsx` copy today.', { replyToId: q.id });
    const last = await say(sam, group.id, 'Perfect, thanks Maya! Review at 3 pm?');
    await maya.api.post(`/api/messages/${last.id}/reactions`, { emoji: '👍' });
    await priya.api.post(`/api/messages/${last.id}/reactions`, { emoji: '👍' });
    await leo.api.post(`/api/messages/${last.id}/reactions`, { emoji: '🎉' });
    await say(maya, group.id, 'Works for me 👌');
    for (const u of [sam, priya]) await u.api.post(`/api/messages/${last.id}/status`, { status: 'read' });

    // Direct chats.
    const withSam = (await maya.api.post('/api/conversations/direct', { userId: sam.id })).body as { id: string };
    await say(sam, withSam.id, 'Did you see the feedback from the user interviews?');
    await say(maya, withSam.id, 'Yes! Mostly about search. People expect it to find words inside messages too.');
    await say(sam, withSam.id, 'Good thing we have that now 😄');
    const withPriya = (await maya.api.post('/api/conversations/direct', { userId: priya.id })).body as { id: string };
    await say(priya, withPriya.id, 'Lunch tomorrow? The new ramen place opened around the corner 🍜');
    await say(priya, withPriya.id, 'I can book for 12:30');
    await maya.api.patch(`/api/conversations/${withPriya.id}`, { pinned: true });

    // An AI chat with a finished answer.
    const ai = (await maya.api.post('/api/conversations/assistant', { model: 'openai:gpt-demo' })).body as { id: string };
    await say(maya, ai.id, 'Write a small debounce helper in TypeScript and show how to use it.');
    for (let i = 0; i < 50; i++) {
      const list = (await maya.api.get(`/api/messages/${ai.id}?limit=5`)).body as { messages: { status: string; authorId: string }[] };
      if (list.messages.some((m) => m.authorId === 'assistant' && m.status === 'complete')) break;
      await new Promise((r) => setTimeout(r, 200));
    }

    const { open, snap, saved } = camera(chrome, server, maya);
    const waitIdle = (page: Page) => page.locator('.conv-row').first().waitFor();

    for (const theme of THEMES) {
      // Desktop
      {
        const { context, page } = await open(DESKTOP, theme);
        await page.goto(`/c/${group.id}`);
        await waitIdle(page);
        await page.locator('.msg', { hasText: 'Works for me' }).waitFor();
        await snap(page, `desktop-group-${theme}`);
        await page.goto(`/c/${ai.id}`);
        await page.locator('.msg.ai .code-block').waitFor();
        await snap(page, `desktop-ai-${theme}`);
        // Group settings.
        await page.goto(`/c/${group.id}`);
        await page.getByRole('button', { name: 'Conversation details' }).click();
        await page.getByRole('dialog', { name: 'Group settings' }).getByText('4 members').waitFor();
        await snap(page, `desktop-group-settings-${theme}`);
        // An answer being written: stop in place of send, spinner in the sidebar.
        const live = (await maya.api.post('/api/conversations/assistant', { model: 'openai:gpt-demo', title: 'Streaming demo' })).body as { id: string };
        await page.goto(`/c/${live.id}`);
        await page.getByRole('textbox', { name: 'Message', exact: true }).fill('And a debounce with a leading edge option?');
        await page.keyboard.press('Enter');
        await page.locator('.msg.ai[data-status="streaming"] .code-block').waitFor();
        await snap(page, `desktop-ai-streaming-${theme}`);
        await page.getByRole('button', { name: 'Stop the answer' }).last().click();
        await page.locator('.msg.ai[data-status="stopped"]').waitFor();
        await maya.api.delete(`/api/conversations/${live.id}`);
        await page.goto(`/c/${withSam.id}`);
        await page.locator('.msg', { hasText: 'Good thing' }).waitFor();
        await page.getByRole('textbox', { name: 'Message', exact: true }).fill('Let me share the notes from the interviews');
        await snap(page, `desktop-direct-${theme}`);
        await page.goto('/settings');
        await page.locator('#settings-appearance').waitFor();
        await snap(page, `desktop-settings-${theme}`);
        await page.getByRole('button', { name: 'New chat' }).click();
        await page.getByRole('menuitem', { name: 'New group' }).click();
        await page.getByLabel('Group name').fill('Launch party');
        await page.getByLabel('Add people').fill('Pri');
        await page.getByRole('dialog').getByRole('button', { name: /Priya Shah/ }).click();
        await page.getByLabel('Add people').fill('Le');
        await page.getByRole('dialog').getByRole('button', { name: /Leo Martin/ }).waitFor();
        await snap(page, `desktop-new-group-${theme}`);
        await page.keyboard.press('Escape');
        await page.keyboard.press('Control+k');
        await page.getByRole('dialog', { name: 'Jump to a conversation' }).waitFor();
        await page.keyboard.type('de');
        await snap(page, `desktop-switcher-${theme}`);
        await context.close();
      }
      // Phone
      {
        const { context, page } = await open(PHONE, theme);
        await page.goto('/');
        await waitIdle(page);
        await snap(page, `phone-list-${theme}`);
        await page.goto(`/c/${group.id}`);
        await page.locator('.msg', { hasText: 'Works for me' }).waitFor();
        await snap(page, `phone-group-${theme}`);
        await page.goto(`/c/${ai.id}`);
        await page.locator('.msg.ai .code-block').waitFor();
        await snap(page, `phone-ai-${theme}`);
        await page.getByRole('button', { name: 'Show conversations' }).click();
        await snap(page, `phone-drawer-${theme}`);
        await context.close();
      }
      // Sign-in
      {
        const { context, page } = await open(DESKTOP, theme, false);
        await page.goto('/');
        await page.getByRole('tab', { name: 'Sign in' }).waitFor();
        await snap(page, `desktop-signin-${theme}`);
        await context.close();
      }
    }
    saved.push(
      ...(await channelScreens(chrome, server)),
      ...(await threadScreens(chrome, server)),
      ...(await mentionScreens(chrome, server)),
      ...(await shareScreens(chrome, server, 'openai:gpt-demo')),
      ...(await aiGroupScreens(chrome, server)),
      ...(await aiSettingsScreens(chrome, server)),
      ...(await adminScreens(chrome)),
      ...(await aiFileScreens(chrome)),
      ...(await aiToolScreens(chrome)),
    );
    console.log(`saved ${saved.length} screenshots to ${path.relative(ROOT, OUT)}/`);
  } finally {
    await chrome.close();
    await server.close();
    await provider.close();
  }
}

await main();
