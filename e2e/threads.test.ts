import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { row, send, startDirect, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * Threads in the web app (Debian's Chromium via playwright-core, a real server): reply in a thread,
 * the reply count moving live on the root, "Also send to channel", follow and unfollow, unread
 * replies in the Threads view, and the thread as a screen of its own on a phone.
 */
const app = webApp();
const person = app.person;

/** The main line's bubble (not the thread panel's). */
const mainBubble = (page: Page, text: string) => page.locator('.conversation .msg .bubble', { hasText: text });
const panel = (page: Page) => page.getByTestId('thread-panel');

async function replyInThreadTo(page: Page, text: string): Promise<void> {
  const msg = page.locator('.conversation .msg', { has: page.locator('.bubble', { hasText: text }) });
  await msg.hover();
  await msg.getByRole('button', { name: 'Reply in thread' }).click();
  await panel(page).waitFor();
}

async function replyInPanel(page: Page, text: string, alsoToChannel = false): Promise<void> {
  const box = panel(page).getByRole('textbox', { name: 'Reply in thread' });
  await box.fill(text);
  if (alsoToChannel) await panel(page).getByLabel('Also send to channel').check();
  await box.press('Enter');
}

describe('threads in the web app', () => {
  let alice: WebUser;
  let bob: WebUser;
  let direct: string;

  it('a reply in a thread shows in the panel, and the root’s count moves live for the other person', async () => {
    alice = await person('Alice');
    bob = await person('Bob');
    direct = await startDirect(alice.page, bob);
    await send(alice.page, 'Shall we plan the launch?');
    await row(bob.page, direct).locator('a').click();
    await mainBubble(bob.page, 'Shall we plan the launch?').waitFor();

    await replyInThreadTo(bob.page, 'Shall we plan the launch?');
    expect(new URL(bob.page.url()).pathname).toMatch(/^\/c\/[^/]+\/t\/[^/]+$/);
    await panel(bob.page).locator('.thread-root .bubble', { hasText: 'Shall we plan the launch?' }).waitFor();
    await panel(bob.page).getByText('No replies yet').first().waitFor();
    await replyInPanel(bob.page, 'Yes, Thursday works');
    await panel(bob.page).locator('.thread-replies .bubble', { hasText: 'Yes, Thursday works' }).waitFor();

    // Alice sees the count on the root, live; the reply itself stays out of the main line.
    const chip = alice.page.locator('.conversation').getByTestId('thread-chip');
    await chip.filter({ hasText: '1 reply' }).waitFor();
    expect(await mainBubble(alice.page, 'Yes, Thursday works').count()).toBe(0);
    await chip.click();
    await panel(alice.page).locator('.thread-replies .bubble', { hasText: 'Yes, Thursday works' }).waitFor();

    // A second reply, also sent to the channel: in the thread for both, and on the main line.
    await replyInPanel(bob.page, 'I will book the room', true);
    await panel(alice.page).locator('.thread-replies .bubble', { hasText: 'I will book the room' }).waitFor();
    await mainBubble(alice.page, 'I will book the room').waitFor();
    await alice.page.locator('.conversation .thread-chip', { hasText: 'View thread' }).waitFor();
    await chip.filter({ hasText: '2 replies' }).waitFor();
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('the Threads view lists followed threads with their unread replies; reading and unfollowing change it', async () => {
    // Alice closes the thread (Esc) and goes to Threads: she follows it as the root's author.
    await alice.page.keyboard.press('Escape');
    await panel(alice.page).waitFor({ state: 'detached' });
    await alice.page.getByRole('button', { name: /^Threads/ }).click();
    const item = alice.page.getByTestId('thread-item');
    await item.filter({ hasText: 'Shall we plan the launch?' }).waitFor();
    await expect.poll(() => alice.page.getByTestId('thread-unread').count()).toBe(0);

    // Bob replies again: Alice's Threads view shows one unread reply, live.
    await replyInPanel(bob.page, 'Room 4 is free');
    await alice.page.getByTestId('thread-unread').filter({ hasText: '1' }).waitFor();
    await alice.page.getByRole('button', { name: /^Threads, 1 unread/ }).waitFor();

    // Opening it reads it.
    await item.click();
    await panel(alice.page).locator('.thread-replies .bubble', { hasText: 'Room 4 is free' }).waitFor();
    await alice.page.getByRole('button', { name: 'Threads', exact: true }).click();
    await item.waitFor();
    await expect.poll(() => alice.page.getByTestId('thread-unread').count()).toBe(0);

    // Bob unfollows: his Threads view is empty, and the button says Follow again.
    await panel(bob.page).getByRole('button', { name: 'Unfollow', exact: true }).click();
    await panel(bob.page).getByRole('button', { name: 'Follow', exact: true }).waitFor();
    await bob.page.getByRole('button', { name: /^Threads/ }).click();
    await bob.page.getByText('No threads yet').waitFor();
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('on a phone the thread is a screen of its own, with Back', async () => {
    const pia = await person('Pia', { width: 390, height: 844 });
    const conv = await startDirect(alice.page, pia);
    await send(alice.page, 'Pia, lunch tomorrow?');
    await row(pia.page, conv).locator('a').click();
    const msg = pia.page.locator('.conversation .msg', { has: pia.page.locator('.bubble', { hasText: 'Pia, lunch tomorrow?' }) });
    await msg.waitFor();
    await msg.click();
    await msg.getByRole('button', { name: 'Reply in thread' }).click();
    await panel(pia.page).waitFor();
    const box = await panel(pia.page).boundingBox();
    expect(box?.width).toBe(390);
    expect(box?.x).toBe(0);
    await replyInPanel(pia.page, 'Sure, 12:30');
    await panel(pia.page).locator('.thread-replies .bubble', { hasText: 'Sure, 12:30' }).waitFor();
    await panel(pia.page).getByRole('button', { name: 'Back to the conversation' }).click();
    await panel(pia.page).waitFor({ state: 'detached' });
    await pia.page.locator('.conversation').getByTestId('thread-chip').filter({ hasText: '1 reply' }).waitFor();
    expect(new URL(pia.page.url()).pathname).toBe(`/c/${encodeURIComponent(conv)}`);
    expect(pia.errors).toEqual([]);
  });
});
