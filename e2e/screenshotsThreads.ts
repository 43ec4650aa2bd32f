/**
 * Screenshots of threads (issue #18), a scene of `npm run screenshots`: a conversation with a
 * thread open beside it (a screen of its own on a phone), the reply count on its root, and the
 * Threads view with unread replies.
 */
import type { TestServer } from '../packages/server/src/test/harness.ts';
import type { BrowserHandle } from './helpers.ts';
import { camera, named, say, SIZES, THEMES } from './screenshotKit.ts';

export async function threadScreens(chrome: BrowserHandle, server: TestServer): Promise<string[]> {
  const maya = await named(server, 'Maya Lin', 'maya');
  const sam = await named(server, 'Sam Carter', 'sam');
  const priya = await named(server, 'Priya Shah', 'priya');
  const leo = await named(server, 'Leo Martin', 'leo');
  const team = (await maya.api.post('/api/conversations/group', { title: 'Launch crew', participantIds: [sam.id, priya.id, leo.id] })).body as { id: string };
  await say(sam, team.id, 'Press kit is in the shared folder 📁');
  const root = await say(maya, team.id, 'Launch day plan: who covers support in the first hour?');
  await say(leo, team.id, 'I can take the first hour, I am up early anyway ☕', { threadRootId: root.id });
  await say(priya, team.id, 'I will join at 9:30 and take the social replies.', { threadRootId: root.id });
  await say(sam, team.id, 'Support macros are ready: **refunds**, **login help**, **billing**.', { threadRootId: root.id, alsoToChannel: true });
  const other = await say(priya, team.id, 'Release notes draft is ready for review.');
  await say(maya, team.id, 'Looks good, one typo in the second paragraph.', { threadRootId: other.id });
  await say(leo, team.id, 'Fixed, thanks!', { threadRootId: other.id });
  await say(sam, team.id, 'See you all tomorrow 🚀');

  const { open, snap, saved } = camera(chrome, server, maya);
  for (const theme of THEMES) {
    for (const [size, viewport] of SIZES) {
      const { context, page } = await open(viewport, theme);
      try {
        await page.goto(`/c/${team.id}/t/${root.id}`);
        await page.getByTestId('thread-panel').locator('.thread-replies .bubble', { hasText: 'Support macros' }).waitFor();
        await snap(page, `${size}-thread-${theme}`);
        await page.goto('/threads');
        await page.getByTestId('thread-item').nth(1).waitFor();
        await snap(page, `${size}-threads-${theme}`);
      } finally {
        await context.close();
      }
    }
  }
  return saved;
}
