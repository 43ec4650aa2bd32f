/**
 * Screenshots of AI conversation settings (issue #22), a scene of `npm run screenshots` (alone with
 * `npm run screenshots -- --only=ai-settings`): the model switcher open in an AI chat's header, an
 * answer regenerated twice with its ‹ 2/3 › versions control, and the system prompt in the details
 * panel. The server's provider (e2e/screenshots.ts) answers the haiku question differently each
 * time, so the versions differ; it offers several models.
 */
import type { Message } from '@confab/protocol';
import { connect, ok, waitFor } from '../packages/server/src/realtime/test/kit.ts';
import type { TestServer } from '../packages/server/src/test/harness.ts';
import type { BrowserHandle } from './helpers.ts';
import { camera, DESKTOP, named, say, THEMES } from './screenshotKit.ts';

export async function aiSettingsScreens(chrome: BrowserHandle, server: TestServer): Promise<string[]> {
  const maya = await named(server, 'Maya Lin', 'maya');
  const models = (await maya.api.get('/api/models')).body as { models: { id: string }[] };
  const model = models.models[0]!.id;
  const ai = (await maya.api.post('/api/conversations/assistant', { model, title: 'Autumn haiku' })).body as { id: string };
  await maya.api.patch(`/api/conversations/${ai.id}`, {
    systemPrompt: 'You are a poet who writes short, vivid haiku. Use the 5-7-5 pattern, and never explain the poem afterwards.',
  });

  // One question, then two regenerates: three versions of the answer.
  const socket = await connect(server.url, maya.accessToken);
  try {
    const ended = () => waitFor<{ conversationId: string; messageId: string }>(socket, 'ai:done', (e) => e.conversationId === ai.id, 30_000);
    let done = ended();
    await say(maya, ai.id, 'Write a haiku about autumn rain.');
    const { messageId } = await done;
    for (let i = 0; i < 2; i++) {
      done = ended();
      await ok<Message>(socket, 'ai:regenerate', { messageId });
      await done;
    }
    // Read, so no "New messages" line crosses the scene.
    await maya.api.post(`/api/messages/${messageId}/status`, { status: 'read' });
  } finally {
    socket.close();
  }

  const { open, snap, saved } = camera(chrome, server, maya);
  for (const theme of THEMES) {
    const { context, page } = await open(DESKTOP, theme);
    try {
      await page.goto(`/c/${ai.id}`);
      const answer = page.locator('.msg.ai').first();
      await answer.getByRole('group', { name: /Version 3 of 3/ }).waitFor();
      await page.getByRole('button', { name: /Switch model/ }).click();
      await page.getByRole('menu', { name: 'Models' }).getByRole('menuitemradio').first().waitFor();
      await snap(page, `desktop-ai-model-switcher-${theme}`);
      await page.keyboard.press('Escape');
      await answer.getByRole('button', { name: 'Previous version' }).click();
      await answer.getByRole('group', { name: /Version 2 of 3/ }).waitFor();
      await page.mouse.move(0, 0);
      await snap(page, `desktop-ai-versions-${theme}`);
      await page.getByRole('button', { name: 'Conversation details' }).click();
      await page.getByRole('dialog', { name: 'Details' }).getByRole('textbox', { name: 'System prompt' }).waitFor();
      await snap(page, `desktop-ai-system-prompt-${theme}`);
    } finally {
      await context.close();
    }
  }
  return saved;
}
