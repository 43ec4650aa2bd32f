/**
 * Screenshots of channels and pins (issue #18), a scene of `npm run screenshots`: the channel
 * directory, a channel with its topic, a pinned message and the pinned-messages panel, and the join
 * screen of a channel one is not in.
 */
import type { TestServer, TestUser } from '../packages/server/src/test/harness.ts';
import type { BrowserHandle } from './helpers.ts';
import { camera, named, say, SIZES, THEMES } from './screenshotKit.ts';

export async function channelScreens(chrome: BrowserHandle, server: TestServer): Promise<string[]> {
  const maya = await named(server, 'Maya Lin', 'maya');
  const sam = await named(server, 'Sam Carter', 'sam');
  const priya = await named(server, 'Priya Shah', 'priya');
  const leo = await named(server, 'Leo Martin', 'leo');
  const channel = async (owner: TestUser, title: string, topic: string, joiners: TestUser[]) => {
    const c = (await owner.api.post('/api/conversations/group', { title, visibility: 'public', topic })).body as { id: string };
    for (const u of joiners) await u.api.post(`/api/channels/${c.id}/join`);
    return c;
  };

  const design = await channel(sam, 'Design', 'Screens, critique and the design system', [maya, priya, leo]);
  await channel(priya, 'Release train', 'What ships on Thursday, and what does not', [sam]);
  await channel(leo, 'Random', 'Lunch spots, pets and weekend plans', [sam, priya]);
  const research = await channel(priya, 'User research', 'Interview notes and findings; summaries pinned', [leo]);
  await channel(sam, 'Frontend', 'React, the SDK and the web app', []);
  await say(priya, research.id, 'Summary of this week: search is the top request.');

  await say(sam, design.id, 'The new onboarding screens are up for review 🎨');
  const decision = await say(leo, design.id, 'Decision: two-step onboarding. It tested 18% better than three steps.');
  await say(priya, design.id, 'Notes from the interviews are in #user-research if you want the details.');
  await say(maya, design.id, 'Great, I will update the spec today.');
  await sam.api.post(`/api/messages/${decision.id}/pin`);
  const tokens = await say(sam, design.id, 'Reminder: colour tokens live in `tokens.ts`, never hex in components.');
  await sam.api.post(`/api/messages/${tokens.id}/pin`);

  const { open, snap, saved } = camera(chrome, server, maya);

  for (const theme of THEMES) {
    for (const [size, viewport] of SIZES) {
      const { context, page } = await open(viewport, theme);
      try {
        await page.goto('/channels');
        await page.locator('.channel-item').nth(4).waitFor();
        await snap(page, `${size}-channels-${theme}`);
        await page.goto(`/c/${design.id}`);
        await page.locator('.msg .pinned-mark').first().waitFor();
        await page.locator('.msg a.channel-link').waitFor();
        await snap(page, `${size}-channel-${theme}`);
        await page.getByRole('button', { name: 'Pinned messages' }).click();
        await page.locator('.pin-item').nth(1).waitFor();
        await snap(page, `${size}-channel-pins-${theme}`);
        await page.keyboard.press('Escape');
        await page.locator('.msg a.channel-link').click();
        await page.getByRole('button', { name: 'Join channel' }).waitFor();
        await snap(page, `${size}-channel-join-${theme}`);
      } finally {
        await context.close();
      }
    }
  }
  return saved;
}
