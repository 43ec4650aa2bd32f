import { afterAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../packages/server/src/test/fakeOpenAI.ts';
import { registerUser, startTestServer } from '../packages/server/src/test/harness.ts';
import { bubble, openNewChat, opensConversation, row, send, startAiChat, startDirect, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * The web app in Debian's Chromium (playwright-core), against a real server on a random port with
 * a fresh embedded database and a local OpenAI-compatible provider. Each person is a browser
 * context of their own (own storage, own session), as two people on two machines would be.
 */
const MODEL = 'openai:test-model';

let fake: FakeOpenAI;
const app = webApp(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 20 });
  return startTestServer({ ai: testAiConfig(fake.url, [MODEL], { checkpointMs: 300 }) });
});
const person = app.person;

afterAll(async () => {
  await fake?.close();
});

describe('the web app in a real browser', () => {
  let alice: WebUser;
  let bob: WebUser;
  let direct: string;
  let dana: WebUser | undefined;

  it('serves the app shell with a strict CSP, and the API still answers JSON', async () => {
    const res = await fetch(`${app.server.url}/c/anything`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(await res.text()).toContain('<div id="root">');
    const api = await fetch(`${app.server.url}/api/nope`, { headers: { accept: 'text/html' } });
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('two people chat directly: messages, typing, receipts and unread badges update live', async () => {
    alice = await person('Alice');
    bob = await person('Bob');
    direct = await startDirect(alice.page, bob);
    await send(alice.page, 'Hello Bob, how are you?');
    await expect.poll(() => bubble(alice.page, 'Hello Bob, how are you?').count()).toBe(1);

    // Bob, not looking at it: the conversation appears with an unread badge.
    await row(bob.page, direct).locator('.badge').filter({ hasText: '1' }).waitFor({ state: 'attached' });
    expect(await bob.page.title()).toBe('(1) Confab');
    await row(bob.page, direct).locator('a').click();
    await bubble(bob.page, 'Hello Bob, how are you?').waitFor();
    await bob.page.locator('.unread-divider', { hasText: 'New messages' }).waitFor();
    await expect.poll(() => row(bob.page, direct).locator('.badge').count()).toBe(0);

    // Alice sees that Bob read it.
    await alice.page.locator('.send-state[data-receipt="seen"]', { hasText: 'Seen' }).waitFor();

    // Bob types: Alice sees it, in the header and above the composer.
    await bob.page.getByRole('textbox', { name: 'Message', exact: true }).pressSequentially('Fine, thank', { delay: 20 });
    await alice.page.locator('.typing-line', { hasText: 'Bob is typing…' }).waitFor();
    await bob.page.getByRole('textbox', { name: 'Message', exact: true }).pressSequentially(' you!', { delay: 10 });
    await bob.page.getByRole('textbox', { name: 'Message', exact: true }).press('Enter');
    await bubble(alice.page, 'Fine, thank you!').waitFor();
    await expect.poll(() => alice.page.locator('.typing-line', { hasText: 'typing' }).count(), { timeout: 5000 }).toBe(0);

    // Shift+Enter makes a new line; Enter sends.
    const box = alice.page.getByRole('textbox', { name: 'Message', exact: true });
    await box.pressSequentially('line one');
    await box.press('Shift+Enter');
    await box.pressSequentially('line two');
    await box.press('Enter');
    await bubble(bob.page, 'line two').waitFor();
    // Read as soon as it is on Bob's screen.
    await alice.page.locator('.msg', { hasText: 'line two' }).locator('[data-receipt="seen"]').waitFor();
    expect(await bubble(bob.page, 'line two').innerText()).toMatch(/line one\s*\n\s*line two/);

    // Bob goes elsewhere; a new message from Alice makes a badge again.
    await bob.page.goto('/');
    await send(alice.page, 'Are you there?');
    await row(bob.page, direct).locator('.badge').filter({ hasText: '1' }).waitFor({ state: 'attached' });

    // A reaction, live on the other side.
    await row(bob.page, direct).locator('a').click();
    const msg = bob.page.locator('.msg', { hasText: 'Are you there?' });
    await msg.hover();
    await msg.getByRole('button', { name: 'Add a reaction' }).click();
    await bob.page.getByRole('menuitem', { name: 'React with 🎉' }).click();
    await alice.page.locator('.msg', { hasText: 'Are you there?' }).locator('.reaction', { hasText: '🎉' }).waitFor();

    // Up edits the last own message, Esc cancels, Enter saves.
    await box.press('ArrowUp');
    const edit = alice.page.getByRole('textbox', { name: 'Edit message' });
    await edit.waitFor();
    await edit.press('Escape');
    await expect.poll(() => alice.page.getByRole('textbox', { name: 'Edit message' }).count()).toBe(0);
    await box.press('ArrowUp');
    await edit.fill('Are you there, Bob?');
    await edit.press('Enter');
    await bob.page.locator('.msg', { hasText: 'Are you there, Bob?' }).locator('.edited').waitFor();

    // The session survives a reload.
    await bob.page.reload();
    await bubble(bob.page, 'Are you there, Bob?').waitFor();
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('a group of three: everyone sees the messages and who read them', async () => {
    const carol = await person('Carol');
    await openNewChat(alice.page, 'New group');
    await alice.page.getByLabel('Group name').fill('Weekend trip');
    for (const u of [bob, carol]) {
      await alice.page.getByLabel('Add people').fill(u.handle);
      await alice.page.getByRole('button', { name: new RegExp(u.handle) }).click();
    }
    const group = await opensConversation(alice.page, () => alice.page.getByRole('button', { name: /Create group with 3 people/ }).click());
    await alice.page.locator('.conv-header h1', { hasText: 'Weekend trip' }).waitFor();
    await send(alice.page, 'Saturday at the lake?');

    for (const u of [bob, carol]) {
      await expect.poll(() => row(u.page, group).locator('.conv-bottom').innerText().catch(() => 'no row'), { timeout: 10_000 }).toMatch(/Saturday at the lake\?\s*1$/);
      await row(u.page, group).locator('a').click();
      await bubble(u.page, 'Saturday at the lake?').waitFor();
    }
    await alice.page.locator('.send-state', { hasText: /Seen by (Bob, Carol|Carol, Bob)/ }).waitFor();

    await send(carol.page, "I'm in 🙌");
    await bubble(bob.page, "I'm in 🙌").waitFor();
    await bubble(alice.page, "I'm in 🙌").waitFor();
    // Grouped by author: Carol's name shows above her message for the others.
    await alice.page.locator('.msg.first', { hasText: "I'm in" }).locator('.msg-author', { hasText: 'Carol' }).waitFor();

    // Group settings: members and roles.
    await alice.page.getByRole('button', { name: 'Conversation details' }).click();
    const panel = alice.page.getByRole('dialog', { name: 'Group settings' });
    await panel.getByText('3 members').waitFor();
    await panel.getByLabel('Role of Bob').selectOption('admin');
    await bob.page.getByRole('button', { name: 'Conversation details' }).click();
    await bob.page.getByRole('dialog', { name: 'Group settings' }).getByRole('button', { name: 'Add people' }).waitFor();
    await bob.page.keyboard.press('Escape');
    await panel.getByRole('button', { name: 'Close' }).click();

    // Ctrl+K jumps to a conversation by name.
    await alice.page.goto('/');
    await alice.page.locator('.conv-row').first().waitFor();
    await alice.page.keyboard.press('Control+k');
    await alice.page.getByRole('combobox', { name: 'Conversation name' }).fill('weekend');
    await alice.page.keyboard.press('Enter');
    await alice.page.waitForURL((u) => u.pathname === `/c/${encodeURIComponent(group)}`);

    // Search finds message text (server search), not only titles.
    await alice.page.goto(`/c/${encodeURIComponent(direct)}`);
    await alice.page.getByRole('searchbox', { name: 'Search conversations and messages' }).fill('lake');
    await alice.page.locator('.search-hit', { hasText: 'Saturday at the lake?' }).click();
    await alice.page.waitForURL((u) => u.pathname === `/c/${encodeURIComponent(group)}`);
    expect(carol.errors).toEqual([]);
  });

  it('an AI answer streams in, shows its model, and stops on request', async () => {
    dana ??= await person('Dana');
    const ai = await startAiChat(dana.page);
    await dana.page.getByText('How can I help?').waitFor();
    await send(dana.page, 'Count for me please [tokens=400] [delay=40]');

    const answer = dana.page.locator('.msg.ai').last();
    await dana.page.locator('.msg.ai[data-status="streaming"]').waitFor();
    await dana.page.locator('.msg.ai[data-status="streaming"] .bubble', { hasText: 't5 ' }).waitFor();
    const early = (await answer.locator('.bubble').innerText()).length;
    await dana.page.locator('.msg.ai[data-status="streaming"] .bubble', { hasText: 't20 ' }).waitFor();
    expect((await answer.locator('.bubble').innerText()).length).toBeGreaterThan(early);
    await answer.locator('.model-badge', { hasText: 'test-model' }).waitFor();
    // The sidebar shows the answer being written.
    await row(dana.page, ai).locator('.generating').waitFor();

    await dana.page.getByRole('button', { name: 'Stop the answer' }).last().click();
    await dana.page.locator('.msg.ai[data-status="stopped"]').waitFor();
    await dana.page.locator('.ai-note', { hasText: 'Stopped' }).waitFor();
    const text = await dana.page.locator('.msg.ai[data-status="stopped"] .bubble').innerText();
    expect(text).not.toContain('t399');
    // Regenerate answers again.
    const stopped = dana.page.locator('.msg.ai[data-status="stopped"]').last();
    await stopped.hover();
    await stopped.getByRole('button', { name: 'Regenerate the answer' }).click();
    await dana.page.locator('.msg.ai[data-status="streaming"]').waitFor();
    await dana.page.getByRole('button', { name: 'Stop the answer' }).last().click();
    await expect.poll(() => dana!.page.locator('.msg.ai[data-status="streaming"]').count()).toBe(0);
    const page = dana.page;
    await expect.poll(() => row(page, ai).locator('.generating').count()).toBe(0);
  });

  it('settings: theme follows the account, and custom instructions reach the assistant', async () => {
    dana ??= await person('Dana');
    const page = dana.page;
    await page.goto('/settings');
    await page.getByRole('radio', { name: 'Dark' }).check({ force: true });
    await expect.poll(() => page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.getByLabel('Custom instructions').fill('Answer like a pirate.');
    await page.getByRole('button', { name: 'Save instructions' }).click();
    await page.getByText('Custom instructions saved.').waitFor();
    // A new device (fresh storage) signs in and gets the same theme from the settings document.
    const other = await app.chrome.browser.newContext({ baseURL: app.server.url, colorScheme: 'light' });
    const p2 = await other.newPage();
    await p2.goto('/');
    await p2.getByLabel('Email').fill(dana.email);
    await p2.getByLabel('Password').fill('correct horse battery');
    await p2.getByRole('button', { name: 'Sign in' }).click();
    await p2.getByRole('navigation', { name: 'Conversation list' }).waitFor();
    await expect.poll(() => p2.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await other.close();

    await startAiChat(page);
    const before = fake.requests.length;
    await send(page, 'Hi there [tokens=3]');
    await page.locator('.msg.ai[data-status="complete"]').waitFor();
    expect(JSON.stringify(fake.requests.slice(before))).toContain('Answer like a pirate.');

    // Editing the question in an AI chat asks again (edit and resend).
    await page.getByRole('textbox', { name: 'Message', exact: true }).press('ArrowUp');
    await page.getByRole('textbox', { name: 'Edit message' }).fill('Hi again [tokens=6]');
    await page.getByRole('textbox', { name: 'Edit message' }).press('Enter');
    await page.locator('.msg.ai[data-status="complete"] .bubble', { hasText: 't5' }).waitFor();

    // A provider failure ends the answer with a reason a person can act on.
    await send(page, 'Now fail [status=401]');
    const failed = page.locator('.msg.ai[data-status="error"]');
    await failed.locator('.ai-error').waitFor();
    expect((await failed.locator('.ai-error').innerText()).length).toBeGreaterThan(10);
  });

  it('a reload in the middle of an answer shows the text so far, then the rest', async () => {
    dana ??= await person('Dana');
    await startAiChat(dana.page);
    await send(dana.page, 'Long one [tokens=120] [delay=50]');
    await dana.page.locator('.msg.ai[data-status="streaming"] .bubble', { hasText: 't15 ' }).waitFor();
    await dana.page.reload();
    // After the reload the answer is there at once (from the checkpoint) and keeps growing.
    await dana.page.locator('.msg.ai .bubble', { hasText: 't10 ' }).waitFor();
    await dana.page.locator('.msg.ai[data-status="complete"] .bubble', { hasText: 't119' }).waitFor({ timeout: 30_000 });
    const text = await dana.page.locator('.msg.ai[data-status="complete"] .bubble').innerText();
    // Every piece exactly once, in order.
    const pieces = text.trim().split(/\s+/);
    expect(pieces).toEqual(Array.from({ length: 120 }, (_, i) => `t${i}`));
  });

  it('a message sent offline is queued, then delivered after reconnecting', async () => {
    await alice.page.goto(`/c/${encodeURIComponent(direct)}`);
    await bubble(alice.page, 'Are you there, Bob?').waitFor();
    await bob.page.goto(`/c/${encodeURIComponent(direct)}`);
    await bubble(bob.page, 'Are you there, Bob?').waitFor();

    await alice.context.setOffline(true);
    await alice.page.locator('.conn-banner', { hasText: "You're offline" }).waitFor();
    // Reading still works from what the app holds.
    await bubble(alice.page, 'Fine, thank you!').waitFor();
    await send(alice.page, 'Written in a tunnel');
    await alice.page.locator('.msg', { hasText: 'Written in a tunnel' }).locator('.send-state.pending').waitFor();
    await bob.page.waitForTimeout(700);
    expect(await bubble(bob.page, 'Written in a tunnel').count()).toBe(0);

    await alice.context.setOffline(false);
    await alice.page.locator('.conn-banner', { hasText: 'Back online' }).waitFor();
    await bubble(bob.page, 'Written in a tunnel').waitFor();
    await expect.poll(() => alice.page.locator('.msg', { hasText: 'Written in a tunnel' }).locator('.send-state.pending').count()).toBe(0);
    expect(await bubble(bob.page, 'Written in a tunnel').count()).toBe(1);
  });

  it('uploads an attachment and shows its preview on both sides', async () => {
    const png = await alice.page.evaluate(async () => {
      const canvas = document.createElement('canvas');
      canvas.width = 64;
      canvas.height = 48;
      const g = canvas.getContext('2d')!;
      g.fillStyle = '#4f46e5';
      g.fillRect(0, 0, 64, 48);
      g.fillStyle = '#fbbf24';
      g.fillRect(16, 12, 32, 24);
      const blob = await new Promise<Blob>((r) => canvas.toBlob((b) => r(b!), 'image/png'));
      return Array.from(new Uint8Array(await blob.arrayBuffer()));
    });
    await alice.page.locator('input[type="file"]').setInputFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: Buffer.from(png) });
    await alice.page.locator('.pending-file.done', { hasText: 'sunset.png' }).waitFor();
    await send(alice.page, 'Look at this');
    for (const u of [alice, bob]) {
      const img = u.page.locator('.msg', { hasText: 'Look at this' }).locator('.att-image img');
      await img.waitFor();
      expect(await img.getAttribute('src')).toMatch(/^blob:/);
      await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);
    }
  });

  it('a long history scrolls up page by page, and only what is on screen is in the page', async () => {
    const [eve, finn] = [await registerUser(app.server, 'eve'), await registerUser(app.server, 'finn')];
    const conv = (await eve.api.post('/api/conversations/direct', { userId: finn.id })).body as { id: string };
    for (let i = 1; i <= 130; i++) {
      await eve.api.post('/api/messages', { conversationId: conv.id, content: `History message number ${i}`, clientId: `h-${i}` });
    }
    const context = await app.chrome.browser.newContext({ baseURL: app.server.url, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto('/');
    await page.getByLabel('Email').fill(finn.user.email);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await row(page, conv.id).locator('a').click();
    await bubble(page, 'History message number 130').waitFor();
    // Virtualized: far fewer rows in the DOM than messages held.
    expect(await page.locator('.msg').count()).toBeLessThan(50);
    // Scrolling to the top pages in older messages until the first one.
    const first = page.locator('.msg .bubble', { hasText: /^\s*History message number 1\s*$/ });
    for (let i = 0; i < 30 && (await first.count()) === 0; i++) {
      await page.locator('.virtuoso').evaluate((el) => el.scrollTo({ top: 0 }));
      await page.waitForTimeout(250);
    }
    await first.waitFor();
    await page.locator('.list-start', { hasText: 'beginning of the conversation' }).waitFor();
    await context.close();
  });

  it('replies quote the message, and drafts are kept per conversation', async () => {
    await bob.page.goto(`/c/${encodeURIComponent(direct)}`);
    const original = bob.page.locator('.msg', { hasText: 'Written in a tunnel' });
    await original.hover();
    await original.getByRole('button', { name: 'Reply', exact: true }).click();
    await bob.page.locator('.reply-bar', { hasText: 'Written in a tunnel' }).waitFor();
    await send(bob.page, 'Which tunnel?');
    const reply = alice.page.locator('.msg', { hasText: 'Which tunnel?' });
    await reply.locator('.reply-quote', { hasText: 'Written in a tunnel' }).waitFor();

    // A draft stays with its conversation, across switching and reloading.
    const box = alice.page.getByRole('textbox', { name: 'Message', exact: true });
    await box.fill('half-written thought');
    await alice.page.keyboard.press('Control+k');
    await alice.page.getByRole('combobox', { name: 'Conversation name' }).fill('weekend');
    await alice.page.keyboard.press('Enter');
    await expect.poll(() => box.inputValue()).toBe('');
    await alice.page.goBack();
    await expect.poll(() => box.inputValue()).toBe('half-written thought');
    await alice.page.reload();
    await expect.poll(() => alice.page.getByRole('textbox', { name: 'Message', exact: true }).inputValue()).toBe('half-written thought');
    await alice.page.getByRole('textbox', { name: 'Message', exact: true }).fill('');
  });

  it('a message the server refuses shows why, and can be discarded', async () => {
    await alice.page.goto(`/c/${encodeURIComponent(direct)}`);
    await bubble(alice.page, 'Written in a tunnel').waitFor();
    await send(alice.page, 'x'.repeat(70 * 1024));
    const failed = alice.page.locator('.send-state.failed');
    await failed.waitFor();
    expect(await failed.innerText()).toMatch(/Not sent: That is too large to send/);
    await failed.getByRole('button', { name: 'Discard' }).click();
    await failed.waitFor({ state: 'detached' });
  });

  it('fits a 375 px phone: the list is home, a conversation has a drawer', async () => {
    const gus = await person('Gus', { width: 375, height: 740 });
    const page = gus.page;
    const noOverflow = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    expect(await page.locator('main').isVisible()).toBe(false);
    expect(await noOverflow()).toBe(true);
    await startAiChat(page);
    await page.getByText('How can I help?').waitFor();
    expect(await page.getByRole('navigation', { name: 'Conversation list' }).isVisible()).toBe(false);
    await send(page, 'Short one [tokens=5]');
    await page.locator('.msg.ai[data-status="complete"]').waitFor();
    expect(await noOverflow()).toBe(true);
    await page.getByRole('button', { name: 'Show conversations' }).click();
    await page.getByRole('navigation', { name: 'Conversation list' }).waitFor();
    await page.getByRole('button', { name: 'Close conversation list' }).click();
    await page.getByRole('navigation', { name: 'Conversation list' }).waitFor({ state: 'hidden' });
    expect(gus.errors).toEqual([]);
  });

  it('sends a voice note that plays back on the other side', async () => {
    // Half a second of a 440 Hz tone, as a 16-bit mono WAV.
    const rate = 8000;
    const samples = rate / 2;
    const wav = Buffer.alloc(44 + samples * 2);
    wav.write('RIFF', 0);
    wav.writeUInt32LE(36 + samples * 2, 4);
    wav.write('WAVEfmt ', 8);
    wav.writeUInt32LE(16, 16);
    wav.writeUInt16LE(1, 20);
    wav.writeUInt16LE(1, 22);
    wav.writeUInt32LE(rate, 24);
    wav.writeUInt32LE(rate * 2, 28);
    wav.writeUInt16LE(2, 32);
    wav.writeUInt16LE(16, 34);
    wav.write('data', 36);
    wav.writeUInt32LE(samples * 2, 40);
    for (let i = 0; i < samples; i++) wav.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
    await alice.page.locator('input[type="file"]').setInputFiles({ name: 'voice-hello.wav', mimeType: 'audio/wav', buffer: wav });
    await alice.page.locator('.pending-file.done', { hasText: 'voice-hello.wav' }).waitFor();
    await alice.page.getByRole('button', { name: 'Send' }).click();
    const play = bob.page.getByRole('button', { name: /Play voice message \(0:01\)|Play voice message \(0:00\)/ });
    await play.last().click();
    const audio = bob.page.locator('audio.att-audio').last();
    await audio.waitFor();
    expect(await audio.getAttribute('src')).toMatch(/^blob:/);
    await expect.poll(() => audio.evaluate((el) => (el as HTMLAudioElement).duration)).toBeGreaterThan(0.4);
  });

  it('renders an XSS payload as harmless text', async () => {
    await send(alice.page, '<img src=x onerror=alert(1)> and [x](javascript:alert(1)) and ![t](https://tracker.example/p.gif)');
    const b = bubble(bob.page, 'onerror=alert(1)');
    await b.waitFor();
    expect(await b.innerText()).toContain('<img src=x onerror=alert(1)>');
    expect(await b.locator('img').count()).toBe(0);
    expect(await b.locator('a[href^="javascript"]').count()).toBe(0);
    // The outside image is a placeholder link: nothing was fetched from it.
    await b.locator('.md-image-placeholder', { hasText: 'tracker.example' }).waitFor();

    // Markdown still renders, and code is highlighted (highlight.js loads on first need).
    await send(alice.page, '**bold** and `inline`\n\n```js\nconst answer = 42;\n```');
    const code = bob.page.locator('.msg .code-block').last();
    await code.locator('.hljs-keyword', { hasText: 'const' }).waitFor();
    await bob.page.locator('.msg .md strong', { hasText: 'bold' }).last().waitFor();
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('the service worker shows web push notifications, one per conversation', async () => {
    const context = await app.chrome.browser.newContext({ baseURL: app.server.url });
    await context.grantPermissions(['notifications'], { origin: app.server.url });
    const page = await context.newPage();
    await page.goto('/');
    const cdp = await context.newCDPSession(page);
    const registrations: string[] = [];
    cdp.on('ServiceWorker.workerRegistrationUpdated', (e: { registrations: { registrationId: string; isDeleted: boolean }[] }) => {
      for (const r of e.registrations) if (!r.isDeleted) registrations.push(r.registrationId);
    });
    await cdp.send('ServiceWorker.enable');
    await page.evaluate(async () => {
      await navigator.serviceWorker.register('/sw.js');
      await navigator.serviceWorker.ready;
    });
    await expect.poll(() => registrations.length).toBeGreaterThan(0);
    // With no window of the app open, a push shows a notification; a newer one replaces it.
    await page.goto('about:blank');
    const push = (body: string) =>
      cdp.send('ServiceWorker.deliverPushMessage', {
        origin: `${new URL(app.server.url).origin}/`,
        registrationId: registrations[0]!,
        data: JSON.stringify({ kind: 'message', conversationId: 'c1', messageId: body, title: 'Bob', body }),
      });
    await push('first');
    await push('second');
    await page.goto('/');
    await expect
      .poll(() => page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => `${n.title}: ${n.body}`)))
      .toEqual(['Bob: second']);
    await context.close();
  });

  it('a second tab shares the session, and signing out in one signs out both', async () => {
    const second = await alice.context.newPage();
    await second.goto('/');
    await row(second, direct).waitFor();
    await alice.page.getByRole('button', { name: 'Sign out' }).click();
    await alice.page.getByRole('tab', { name: 'Sign in' }).waitFor();
    await second.getByRole('tab', { name: 'Sign in' }).waitFor();
    await second.reload();
    await second.getByRole('tab', { name: 'Sign in' }).waitFor();
    await second.close();
  });
});
