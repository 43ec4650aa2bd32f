/**
 * Screenshots of the assistant in a group (issue 22), a scene of `npm run screenshots` (alone:
 * `npm run screenshots -- --only=ai-group`): a group whose member asked the assistant, its answer
 * streaming in, and "Assistant is answering…" in the header and above the composer. The server's
 * provider is screenshots.ts's canned one: a question about a "leading edge" streams for ~15 s.
 */
import type { TestServer } from '../packages/server/src/test/harness.ts';
import type { BrowserHandle } from './helpers.ts';
import { camera, DESKTOP, named, say, THEMES } from './screenshotKit.ts';

export async function aiGroupScreens(chrome: BrowserHandle, server: TestServer): Promise<string[]> {
  const saved: string[] = [];
  // The same scene afresh for each theme (new people, new group): one question, its answer streaming.
  for (const theme of THEMES) {
    const maya = await named(server, 'Maya Lin', 'maya');
    const sam = await named(server, 'Sam Carter', 'sam');
    const priya = await named(server, 'Priya Shah', 'priya');
    const group = (await maya.api.post('/api/conversations/group', { title: 'Frontend guild', participantIds: [sam.id, priya.id, 'assistant'] })).body as { id: string };
    await say(priya, group.id, 'The search box fires a request on every keystroke.');
    await say(maya, group.id, 'We have a debounce helper for that, in utils.');
    await say(sam, group.id, 'It only runs on the trailing edge though.');
    const { open, snap, saved: shots } = camera(chrome, server, maya);
    const { context, page } = await open(DESKTOP, theme);
    await page.goto(`/c/${group.id}`);
    await page.locator('.msg', { hasText: 'trailing edge' }).waitFor();
    // Sam asks; Maya watches the answer come in.
    await say(sam, group.id, '@assistant how would we add a leading edge option to our debounce helper?');
    await page.locator('.msg.ai[data-status="streaming"] .code-block').waitFor();
    await page.locator('.typing-line', { hasText: 'Assistant is answering…' }).waitFor();
    await snap(page, `desktop-ai-group-${theme}`);
    await page.getByRole('button', { name: 'Stop the answer' }).last().click();
    await page.locator('.msg.ai[data-status="stopped"]').waitFor();
    await context.close();
    saved.push(...shots);
  }
  return saved;
}
