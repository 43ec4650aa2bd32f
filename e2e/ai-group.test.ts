import { afterAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../packages/server/src/test/fakeOpenAI.ts';
import { startTestServer } from '../packages/server/src/test/harness.ts';
import { bubble, openNewChat, opensConversation, row, send, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * The assistant in a group (docs/ai.md, "AI in groups"), in Debian's Chromium against a real
 * server and the fake OpenAI-compatible provider, two people in two browser contexts: each is
 * told only of the answer they asked for ("Your AI answer is ready" note), the assistant shows as
 * answering while it writes (typing line, header, member list), and the other member's unread
 * badge counts the answer when it is finished, not when it starts.
 */
const MODEL = 'openai:test-model';
const TITLE = 'Study group';
/** About 6 s of streaming: time to look at it from both sides. */
const SLOW = '[tokens=40][delay=150]';

let fake: FakeOpenAI;
const app = webApp(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 10 });
  return startTestServer({ ai: testAiConfig(fake.url, [MODEL]) });
});
const person = app.person;

afterAll(async () => {
  await fake?.close();
});

const answering = (u: WebUser) => u.page.locator('.typing-line', { hasText: 'Assistant is answering…' });
const ready = (u: WebUser) => u.page.locator('.toast', { hasText: 'Your AI answer is ready' });
/** Leaves the conversation without reloading (the Threads view, in the sidebar). */
const leave = (u: WebUser) => u.page.getByRole('button', { name: /^Threads/ }).click();

describe('the assistant in a group, in the web app', () => {
  let alice: WebUser, bob: WebUser;
  let group: string;

  it('two people ask in turn: each is told only of their own answer, and the assistant shows as answering', async () => {
    alice = await person('Alice');
    bob = await person('Bob');
    await openNewChat(alice.page, 'New group');
    await alice.page.getByLabel('Group name').fill(TITLE);
    await alice.page.getByLabel('Add people').fill(bob.handle);
    await alice.page.getByRole('button', { name: new RegExp(bob.handle) }).click();
    group = await opensConversation(alice.page, () => alice.page.getByRole('button', { name: /Create group with 2 people/ }).click());
    await alice.page.getByRole('button', { name: 'Conversation details' }).click();
    const panel = alice.page.getByRole('dialog', { name: 'Group settings' });
    await panel.getByRole('button', { name: 'Add assistant' }).click();
    await panel.getByText('3 members').waitFor();
    await panel.getByRole('button', { name: 'Close' }).click();

    // Bob is elsewhere. Alice asks.
    await row(bob.page, group).waitFor();
    await send(alice.page, `@assistant What is a monad? ${SLOW}`);
    // While it writes: "Assistant is answering…" above the composer, in the header and in the member list.
    await answering(alice).waitFor();
    await alice.page.locator('.conv-sub', { hasText: 'Assistant is answering…' }).waitFor();
    await alice.page.getByRole('button', { name: 'Conversation details' }).click();
    await panel.locator('.member', { hasText: 'Assistant' }).getByText('answering…').waitFor();
    await panel.getByRole('button', { name: 'Close' }).click();
    // Bob's badge counts Alice's question, not the answer being written.
    await row(bob.page, group).locator('.badge', { hasText: /^1$/ }).waitFor();
    await alice.page.waitForTimeout(800);
    expect(await answering(alice).count()).toBe(1);
    expect(await row(bob.page, group).locator('.badge').innerText()).toBe('1');

    // Alice steps away; when the answer is done she is told, Bob is not (his badge counts it).
    await leave(alice);
    await ready(alice).filter({ hasText: TITLE }).waitFor({ timeout: 15_000 });
    await row(bob.page, group).locator('.badge', { hasText: /^2$/ }).waitFor();
    await bob.page.waitForTimeout(800);
    expect(await ready(bob).count()).toBe(0);
    // The note leads to the answer.
    await ready(alice).getByRole('button', { name: 'Open' }).click();
    await alice.page.waitForURL((u) => u.pathname === `/c/${group}`);
    await bubble(alice.page, 't39').waitFor();
    await expect.poll(() => answering(alice).count()).toBe(0);

    // Now Bob asks, with Alice looking at the group: both see the assistant answering.
    await row(bob.page, group).locator('a').click();
    await bubble(bob.page, 't39').waitFor();
    await send(bob.page, `@assistant And a functor? ${SLOW}`);
    await answering(bob).waitFor();
    await answering(alice).waitFor();
    await alice.page.locator('.conv-sub', { hasText: 'Assistant is answering…' }).waitFor();
    // Both step away: Bob is told, Alice is not.
    await leave(bob);
    await leave(alice);
    await ready(bob).filter({ hasText: TITLE }).waitFor({ timeout: 15_000 });
    await alice.page.waitForTimeout(800);
    expect(await ready(alice).count()).toBe(0);
    // Alice's badge: the answer to Bob, finished.
    await row(alice.page, group).locator('.badge', { hasText: /^1$/ }).waitFor();
    for (const u of [alice, bob]) expect(u.errors).toEqual([]);
  });
});
