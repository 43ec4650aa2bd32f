/**
 * Screenshots of shared AI chats (issue #22), a scene of `npm run screenshots` (alone with
 * `npm run screenshots -- --only=share`): the share dialog with a link made, and the public page
 * of the snapshot as a signed-out reader sees it, on a desktop and on a phone, light and dark.
 */
import type { TestServer } from '../packages/server/src/test/harness.ts';
import type { BrowserHandle } from './helpers.ts';
import { camera, DESKTOP, named, PHONE, say, THEMES } from './screenshotKit.ts';

export async function shareScreens(chrome: BrowserHandle, server: TestServer, model: string): Promise<string[]> {
  const nora = await named(server, 'Nora Quinn', 'nora');
  const ai = (await nora.api.post('/api/conversations/assistant', { model, title: 'Debounce helper in TypeScript' })).body as { id: string };
  await say(nora, ai.id, 'Write a small debounce helper in TypeScript and show how to use it.');
  for (let i = 0; i < 50; i++) {
    const list = (await nora.api.get(`/api/messages/${ai.id}?limit=5`)).body as { messages: { status: string; authorId: string }[] };
    if (list.messages.some((m) => m.authorId === 'assistant' && m.status === 'complete')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const share = (await nora.api.post(`/api/conversations/${ai.id}/shares`)).body as { id: string; url: string };

  const { open, snap, saved } = camera(chrome, server, nora);
  for (const theme of THEMES) {
    {
      const { context, page } = await open(DESKTOP, theme);
      try {
        await page.goto(`/c/${ai.id}`);
        await page.locator('.msg.ai .code-block').waitFor();
        await page.getByRole('button', { name: 'Share', exact: true }).click();
        const dialog = page.getByRole('dialog', { name: 'Share a read-only link' });
        await dialog.locator('.share-item').waitFor();
        await dialog.getByRole('button', { name: 'Create link' }).click();
        await dialog.getByRole('textbox', { name: 'New shared link' }).waitFor();
        await snap(page, `desktop-share-dialog-${theme}`);
        // One link again for the next theme's picture.
        const listed = (await nora.api.get(`/api/conversations/${ai.id}/shares`)).body as { shares: { id: string }[] };
        for (const s of listed.shares) if (s.id !== share.id) await nora.api.delete(`/api/conversations/${ai.id}/shares/${s.id}`);
      } finally {
        await context.close();
      }
    }
    for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      const { context, page } = await open(viewport, theme, false);
      try {
        await page.goto(`/shared/${share.id}`);
        await page.locator('.shared-msg .code-block').waitFor();
        await snap(page, `${size}-shared-page-${theme}`);
      } finally {
        await context.close();
      }
    }
  }
  return saved;
}
