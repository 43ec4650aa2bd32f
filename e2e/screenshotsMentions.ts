/**
 * Screenshots of mentions (issue #18), a scene of `npm run screenshots`: the composer's @
 * autocomplete, highlighted mentions with the sidebar's @ badges, and the Mentions view.
 */
import type { TestServer } from '../packages/server/src/test/harness.ts';
import type { BrowserHandle } from './helpers.ts';
import { camera, named, say, SIZES, THEMES } from './screenshotKit.ts';

export async function mentionScreens(chrome: BrowserHandle, server: TestServer): Promise<string[]> {
  const maya = await named(server, 'Maya Lin', 'maya');
  const sam = await named(server, 'Sam Carter', 'sam');
  const priya = await named(server, 'Priya Shah', 'priya');
  const leo = await named(server, 'Leo Martin', 'leo');
  const team = (await sam.api.post('/api/conversations/group', { title: 'Design team', participantIds: [maya.id, priya.id, leo.id] })).body as { id: string };
  const launch = (await priya.api.post('/api/conversations/group', { title: 'Launch', participantIds: [maya.id, sam.id] })).body as { id: string };
  await sam.api.post(`/api/conversations/${team.id}/participants`, { userIds: ['assistant'] });
  await say(sam, team.id, 'The onboarding screens are up for review 🎨');
  await say(priya, team.id, `@${maya.user.handle} can you check the copy on step two before 3 pm?`);
  await say(leo, team.id, `Two steps tested better last week. @${priya.user.handle} has the numbers.`);
  await say(sam, team.id, '@channel review moved to 3:30, same room');
  await say(priya, launch.id, `@${maya.user.handle} the press kit is ready for a last look`);
  await say(sam, launch.id, 'Shipping on Thursday 🚀');

  const { open, snap, saved } = camera(chrome, server, maya);

  for (const theme of THEMES) {
    for (const [size, viewport] of SIZES) {
      const { context, page } = await open(viewport, theme);
      // The list: @ badges on the conversations that mention Maya, and the Mentions link.
      await page.goto('/');
      await page.locator('.conv-row .mention-badge').first().waitFor();
      if (size === 'phone') await snap(page, `${size}-mentions-list-${theme}`);
      // The Mentions view.
      await page.goto('/mentions');
      await page.locator('.mention-item').nth(2).waitFor();
      await snap(page, `${size}-mentions-view-${theme}`);
      // A conversation with highlighted mentions, and the composer's autocomplete open.
      await page.goto(`/c/${team.id}`);
      await page.locator('.msg .mention-me').first().waitFor();
      const box = page.getByRole('textbox', { name: 'Message', exact: true });
      await box.pressSequentially('Thanks! @', { delay: 10 });
      await page.getByRole('listbox', { name: 'Mention someone' }).waitFor();
      await snap(page, `${size}-mentions-autocomplete-${theme}`);
      await context.close();
    }
  }
  return saved;
}
