import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { bubble, openNewChat, opensConversation, send, startDirect, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * Channels and pins in Debian's Chromium: creating a public channel with a topic, the directory
 * (search, member count, Join), the join screen of a `#channel` link, the topic in the header and
 * in group settings, Pin/Unpin and the pinned-messages panel; on a desktop and on a 375 px phone.
 */
const app = webApp();
const person = app.person;

const PHONE = { width: 375, height: 740 };
const noOverflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

/** Shows a message's actions (hover on a desktop, a tap on a phone) and clicks one. */
async function messageAction(page: Page, text: string, action: string, phone = false): Promise<void> {
  const msg = page.locator('.msg', { hasText: text });
  if (phone) await msg.locator('.bubble').click();
  else await msg.hover();
  await msg.getByRole('button', { name: action, exact: true }).click();
}

describe('channels and pins in a real browser', () => {
  let alice: WebUser;
  let bob: WebUser;
  let channelId: string;
  const title = `Design Crew ${Math.random().toString(36).slice(2, 6)}`;
  const slug = title.toLowerCase().replace(/\s+/g, '-');

  it('creates a public channel with a topic; the header shows the topic', async () => {
    alice = await person('Alice');
    await openNewChat(alice.page, 'New group');
    await alice.page.getByLabel('Group name').fill(title);
    await alice.page.getByLabel(/Public channel/).check();
    await alice.page.getByLabel('Topic (optional)').fill('Pixels and critique');
    channelId = await opensConversation(alice.page, () => alice.page.getByRole('button', { name: 'Create channel' }).click());
    await alice.page.locator('.conv-header h1', { hasText: title }).waitFor();
    await alice.page.locator('.conv-header .conv-sub', { hasText: 'Public channel · 1 members · Pixels and critique' }).waitFor();
    await send(alice.page, 'Decision: we ship the blue theme');
    await send(alice.page, `Everything about design goes in #${slug} from now on`);
    // The channel's own name is a link in the text.
    await alice.page.locator('.msg a.channel-link', { hasText: `#${slug}` }).waitFor();
    expect(alice.errors).toEqual([]);
  });

  it('browses the directory, searches, and joins; the history is there after joining', async () => {
    bob = await person('Bob');
    await bob.page.getByRole('button', { name: 'Browse channels' }).click();
    await bob.page.getByRole('heading', { name: 'Browse channels' }).waitFor();
    await bob.page.getByPlaceholder('Search channels by name or topic').fill('pixels and');
    const item = bob.page.locator('.channel-item', { hasText: title });
    await item.waitFor();
    expect(await item.innerText()).toContain('1 member');
    expect(await item.innerText()).toContain('Pixels and critique');
    await bob.page.getByPlaceholder('Search channels by name or topic').fill('no channel is called this');
    await bob.page.getByText('No channel matches').waitFor();
    await bob.page.getByPlaceholder('Search channels by name or topic').fill(title);
    await item.waitFor();
    await bob.page.getByRole('button', { name: `Join ${title}` }).click();
    await bob.page.waitForURL((u) => u.pathname === `/c/${channelId}`);
    await bubble(bob.page, 'Decision: we ship the blue theme').waitFor();
    await bob.page.locator('.system-line', { hasText: 'Bob joined the channel' }).waitFor();
    // Alice sees Bob arrive.
    await alice.page.locator('.system-line', { hasText: 'Bob joined the channel' }).waitFor();
    await alice.page.locator('.conv-header .conv-sub', { hasText: '2 members' }).waitFor();
    expect(bob.errors).toEqual([]);
  });

  it('a #channel link opens the join screen: name, topic, member count, no messages until joined', async () => {
    const carol = await person('Carol');
    await startDirect(alice.page, carol);
    await send(alice.page, `Come and join #${slug} please`);
    const conversation = carol.page.locator('.conv-row', { hasText: 'Alice' }).locator('a');
    await conversation.click();
    const link = carol.page.locator('.msg a.channel-link', { hasText: `#${slug}` });
    await link.click();
    await carol.page.waitForURL((u) => u.pathname === `/c/${channelId}`);
    await carol.page.getByRole('heading', { name: title }).waitFor();
    await carol.page.getByText('A public channel · 2 members').waitFor();
    await carol.page.getByText('Pixels and critique').waitFor();
    expect(await carol.page.getByText('Decision: we ship the blue theme').count()).toBe(0);
    await carol.page.getByRole('button', { name: 'Join channel' }).click();
    await bubble(carol.page, 'Decision: we ship the blue theme').waitFor();
    expect(carol.errors).toEqual([]);
  });

  it('an admin edits the topic in group settings; members see it live', async () => {
    await alice.page.goto(`/c/${channelId}`);
    await alice.page.getByRole('button', { name: 'Conversation details' }).click();
    const topic = alice.page.getByRole('textbox', { name: 'Topic' });
    await topic.fill('Pixels, critique and tea');
    await alice.page.getByRole('button', { name: 'Save' }).click();
    await alice.page.getByText('Topic updated.').waitFor();
    // The keyboard still works in the dialog after saving: Esc closes it.
    await alice.page.keyboard.press('Escape');
    await alice.page.getByRole('dialog', { name: 'Group settings' }).waitFor({ state: 'detached' });
    await bob.page.locator('.conv-header .conv-sub', { hasText: 'Pixels, critique and tea' }).waitFor();
    await bob.page.locator('.system-line', { hasText: 'Alice set the topic to "Pixels, critique and tea"' }).waitFor();
    // A member cannot edit it: group settings show it read-only.
    await bob.page.getByRole('button', { name: 'Conversation details' }).click();
    await bob.page.locator('.channel-topic-read', { hasText: 'Pixels, critique and tea' }).waitFor();
    expect(await bob.page.getByRole('textbox', { name: 'Topic' }).count()).toBe(0);
    await bob.page.keyboard.press('Escape');
    await bob.page.getByRole('dialog', { name: 'Group settings' }).waitFor({ state: 'detached' });
  });

  it('pins a message: the pin shows live, the panel lists it and jumps to it; unpin empties it', async () => {
    // Bob is a member: no Pin action for him in a channel.
    const bobMsg = bob.page.locator('.msg', { hasText: 'Decision: we ship the blue theme' });
    await bobMsg.hover();
    await bobMsg.getByRole('button', { name: 'Reply', exact: true }).waitFor();
    expect(await bobMsg.getByRole('button', { name: 'Pin message' }).count()).toBe(0);

    await messageAction(alice.page, 'Decision: we ship the blue theme', 'Pin message');
    await bob.page.locator('.msg', { hasText: 'Decision: we ship the blue theme' }).locator('.pinned-mark').waitFor();

    await bob.page.getByRole('button', { name: 'Pinned messages' }).click();
    const panel = bob.page.getByRole('dialog', { name: 'Pinned messages' });
    const pin = panel.locator('.pin-item', { hasText: 'Decision: we ship the blue theme' });
    await pin.waitFor();
    expect(await pin.innerText()).toContain('Pinned by Alice');
    await pin.locator('.pin-open').click();
    await panel.waitFor({ state: 'detached' });
    await bob.page.locator('.msg.flash', { hasText: 'Decision: we ship the blue theme' }).waitFor();

    // Unpinned by Alice: Bob's open panel empties live.
    await bob.page.getByRole('button', { name: 'Pinned messages' }).click();
    await pin.waitFor();
    await messageAction(alice.page, 'Decision: we ship the blue theme', 'Unpin message');
    await panel.getByText('Nothing is pinned yet.').waitFor();
    await bob.page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached' });
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('on a 375 px phone: browse, join, pins panel, no sideways scrolling', async () => {
    await messageAction(alice.page, 'Decision: we ship the blue theme', 'Pin message');
    const dana = await person('Dana', PHONE);
    const page = dana.page;
    await page.getByRole('button', { name: 'Browse channels' }).click();
    await page.getByRole('heading', { name: 'Browse channels' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Conversation list' }).isVisible()).toBe(false);
    await page.getByPlaceholder('Search channels by name or topic').fill(title);
    const item = page.locator('.channel-item', { hasText: title });
    await item.waitFor();
    expect(await item.innerText()).toContain('3 members');
    expect(await noOverflow(page)).toBe(true);
    await page.getByRole('button', { name: `Join ${title}` }).click();
    await bubble(page, 'Decision: we ship the blue theme').waitFor();
    expect(await noOverflow(page)).toBe(true);
    await page.getByRole('button', { name: 'Pinned messages' }).click();
    const panel = page.getByRole('dialog', { name: 'Pinned messages' });
    await panel.locator('.pin-item', { hasText: 'Decision: we ship the blue theme' }).locator('.pin-open').click();
    await panel.waitFor({ state: 'detached' });
    await page.locator('.msg', { hasText: 'Decision: we ship the blue theme' }).locator('.pinned-mark').waitFor();
    // The drawer leads back to the directory.
    await page.getByRole('button', { name: 'Show conversations' }).click();
    await page.getByRole('button', { name: 'Browse channels' }).click();
    await page.getByRole('heading', { name: 'Browse channels' }).waitFor();
    expect(dana.errors).toEqual([]);
  });

  it('on a phone, a moderator pins from the message actions', async () => {
    const erin = await person('Erin', PHONE);
    const groupId = await opensConversation(erin.page, async () => {
      await openNewChat(erin.page, 'New group');
      await erin.page.getByLabel('Group name').fill('Phone pins');
      await erin.page.getByRole('button', { name: 'Create group' }).click();
    });
    expect(groupId).toBeTruthy();
    await send(erin.page, 'Remember the milk');
    await messageAction(erin.page, 'Remember the milk', 'Pin message', true);
    await erin.page.locator('.msg', { hasText: 'Remember the milk' }).locator('.pinned-mark').waitFor();
    expect(await noOverflow(erin.page)).toBe(true);
    expect(erin.errors).toEqual([]);
  });
});
