import { afterAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../packages/server/src/test/fakeOpenAI.ts';
import { startTestServer } from '../packages/server/src/test/harness.ts';
import { bubble, openNewChat, opensConversation, row, send, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * Mentions in the web app (docs/mentions.md), in Debian's Chromium against a real server: the
 * composer's @ autocomplete (mouse, keyboard, a phone's tap), highlighted mentions (your own stand
 * out), the sidebar's unread mention badge, the Mentions view, and "Add assistant" in group settings.
 */
const MODEL = 'openai:test-model';

let fake: FakeOpenAI;
const app = webApp(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 10 });
  return startTestServer({ ai: testAiConfig(fake.url, [MODEL]) });
});
const person = app.person;

afterAll(async () => {
  await fake?.close();
});

const box = (u: WebUser) => u.page.getByRole('textbox', { name: 'Message', exact: true });
const popup = (u: WebUser) => u.page.getByRole('listbox', { name: 'Mention someone' });

describe('mentions in the web app', () => {
  let alice: WebUser, bob: WebUser, carol: WebUser;
  let group: string;

  it('suggests members, @assistant, @here and @channel as you type @, by keyboard and by pointer', async () => {
    alice = await person('Alice');
    bob = await person('Bob');
    carol = await person('Carol', { width: 390, height: 800 });
    await openNewChat(alice.page, 'New group');
    await alice.page.getByLabel('Group name').fill('Launch team');
    for (const u of [bob, carol]) {
      await alice.page.getByLabel('Add people').fill(u.handle);
      await alice.page.getByRole('button', { name: new RegExp(u.handle) }).click();
    }
    group = await opensConversation(alice.page, () => alice.page.getByRole('button', { name: /Create group with 3 people/ }).click());

    // "Add assistant" in group settings, with the model it answers with.
    await alice.page.getByRole('button', { name: 'Conversation details' }).click();
    const panel = alice.page.getByRole('dialog', { name: 'Group settings' });
    await panel.locator('.assistant-card .model-badge', { hasText: 'test-model' }).waitFor();
    await panel.getByRole('button', { name: 'Add assistant' }).click();
    await panel.getByText('write @assistant to ask it').waitFor();
    await panel.getByText('4 members').waitFor();
    await panel.getByRole('button', { name: 'Close' }).click();

    // Typing "@" lists everyone but yourself; letters narrow it (by handle or name).
    await box(alice).pressSequentially('Hi @', { delay: 10 });
    await popup(alice).waitFor();
    const options = popup(alice).getByRole('option');
    await expect.poll(() => options.allInnerTexts()).toEqual(expect.arrayContaining([expect.stringContaining(`@${bob.handle}`), expect.stringContaining('@assistant'), expect.stringContaining('@here'), expect.stringContaining('@channel')]));
    expect(await options.allInnerTexts()).not.toContainEqual(expect.stringContaining(`@${alice.handle}`));
    await box(alice).pressSequentially('ca', { delay: 10 });
    await expect.poll(() => options.count()).toBe(1);
    expect(await options.first().innerText()).toContain(carol.handle);
    // Esc closes it (the text stays).
    await box(alice).press('Escape');
    await expect.poll(() => popup(alice).count()).toBe(0);
    expect(await box(alice).inputValue()).toBe('Hi @ca');
    // Backspace over it and type again: a new @, the list is back; arrows move, Tab picks.
    await box(alice).fill('');
    await box(alice).pressSequentially('Hi @', { delay: 10 });
    await popup(alice).waitFor();
    await box(alice).pressSequentially('b', { delay: 10 });
    await expect.poll(() => options.first().innerText()).toContain(bob.handle);
    await box(alice).press('ArrowDown');
    await box(alice).press('ArrowUp');
    expect(await options.first().getAttribute('aria-selected')).toBe('true');
    await box(alice).press('Tab');
    await expect.poll(() => box(alice).inputValue()).toBe(`Hi @${bob.handle} `);
    await expect.poll(() => popup(alice).count()).toBe(0);
    // Enter picks too (and does not send); then Enter sends.
    await box(alice).pressSequentially('and @', { delay: 10 });
    await box(alice).pressSequentially(carol.handle.slice(0, 4), { delay: 10 });
    await popup(alice).waitFor();
    await box(alice).press('Enter');
    await expect.poll(() => box(alice).inputValue()).toBe(`Hi @${bob.handle} and @${carol.handle} `);
    await box(alice).pressSequentially('see the plan', { delay: 5 });
    await box(alice).press('Enter');
    await bubble(alice.page, 'see the plan').waitFor();
    expect(await box(alice).inputValue()).toBe('');

    // On a phone-sized screen, a touch of an option picks it (the box keeps the focus, so a phone's keyboard stays up).
    await row(carol.page, group).locator('a').click();
    await box(carol).pressSequentially('@ass', { delay: 10 });
    await popup(carol).getByRole('option', { name: /@assistant/ }).click();
    await expect.poll(() => box(carol).inputValue()).toBe('@assistant ');
    expect(await carol.page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Message');
    await expect.poll(() => popup(carol).count()).toBe(0);
    await box(carol).fill('');
  });

  it('highlights mentions in messages, yours more than others\'; @x of a non-member and code stay plain', async () => {
    await bob.page.goto(`/c/${encodeURIComponent(group)}`);
    const mine = bubble(bob.page, 'see the plan');
    await mine.waitFor();
    // For bob: his own mention stands out, carol's is a plain mention.
    await mine.locator('.mention.mention-me', { hasText: `@${bob.handle}` }).waitFor();
    await mine.locator('.mention:not(.mention-me)', { hasText: `@${carol.handle}` }).waitFor();
    const styles = await mine.locator('.mention').evaluateAll((els) => els.map((e) => getComputedStyle(e).fontWeight));
    expect(Number(styles[0])).toBeGreaterThan(Number(styles[1]));
    // For carol it is the other way round.
    await bubble(carol.page, 'see the plan').locator('.mention.mention-me', { hasText: `@${carol.handle}` }).waitFor();

    await send(alice.page, 'ask @nobody_here or `@' + bob.handle + '` in code, mail x@' + bob.handle + '.example');
    const plain = bubble(bob.page, 'in code');
    await plain.waitFor();
    expect(await plain.locator('.mention').count()).toBe(0);
  });

  it('shows an unread mention badge in the sidebar that clears on reading', async () => {
    // Bob looks elsewhere (the Mentions view), then is mentioned twice.
    await bob.page.goto('/mentions');
    await bob.page.getByRole('heading', { name: 'Mentions' }).waitFor();
    await send(alice.page, `@${bob.handle} first`);
    await send(alice.page, `second for @${bob.handle}, thanks`);
    const badge = row(bob.page, group).locator('.mention-badge');
    await expect.poll(() => badge.getAttribute('aria-label').catch(() => null), { timeout: 10_000 }).toBe('2 unread mentions');
    expect(await badge.innerText()).toContain('2');
    // The Mentions link counts them over all conversations.
    await expect.poll(() => bob.page.locator('.sidebar-view-link .mention-badge').innerText().catch(() => '')).toBe('2');
    // ...and lists them, newest first, live.
    await expect.poll(() => bob.page.locator('.mention-item .mention-text').allInnerTexts(), { timeout: 10_000 }).toEqual(
      expect.arrayContaining([expect.stringContaining('second for'), expect.stringContaining('first')]),
    );
    const texts = await bob.page.locator('.mention-item .mention-text').allInnerTexts();
    expect(texts.findIndex((t) => t.includes('second for'))).toBeLessThan(texts.findIndex((t) => t.includes('first')));
    expect(await bob.page.locator('.mention-item.unread').count()).toBeGreaterThanOrEqual(2);

    // Opening the conversation from a mention reads it: the badges go.
    await bob.page.locator('.mention-item', { hasText: 'second for' }).locator('.mention-link').click();
    await bob.page.waitForURL(`**/c/${encodeURIComponent(group)}`);
    await bubble(bob.page, 'second for').waitFor();
    await expect.poll(() => badge.count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => bob.page.locator('.sidebar-view-link .mention-badge').count()).toBe(0);
  });

  it('the Mentions view: empty state, phone layout, and a removed member no longer sees old mentions', async () => {
    const dan = await person('Dan', { width: 375, height: 740 });
    await dan.page.getByRole('link', { name: /Mentions/ }).click();
    await dan.page.getByText('No mentions yet').waitFor();
    // On a phone the view is a full screen with a way back to the list.
    await dan.page.getByRole('button', { name: 'Show conversations' }).waitFor();

    // Alice adds dan and mentions him: the view shows it live.
    await alice.page.getByRole('button', { name: 'Conversation details' }).click();
    const panel = alice.page.getByRole('dialog', { name: 'Group settings' });
    await panel.getByRole('button', { name: 'Add people' }).click();
    await panel.getByLabel('Find people to add').fill(dan.handle);
    await panel.getByRole('button', { name: new RegExp(dan.handle) }).click();
    await panel.getByRole('button', { name: 'Close' }).click();
    await send(alice.page, `welcome @${dan.handle}!`);
    await dan.page.locator('.mention-item', { hasText: 'welcome' }).waitFor({ timeout: 10_000 });
    await dan.page.locator('.mention-item .mention-me', { hasText: `@${dan.handle}` }).waitFor();

    // Removed from the group, dan's Mentions no longer hold it (after a reload too).
    await alice.page.getByRole('button', { name: 'Conversation details' }).click();
    await panel.getByRole('button', { name: `Remove Dan` }).click();
    await alice.page.getByRole('button', { name: 'Remove', exact: true }).click();
    await panel.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => dan.page.locator('.mention-item', { hasText: 'welcome' }).count(), { timeout: 10_000 }).toBe(0);
    await dan.page.reload();
    await dan.page.getByText('No mentions yet').waitFor();

    for (const u of app.users) expect(u.errors, u.name).toEqual([]);
  });
});
