import { afterAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI, testAiConfig, type FakeOpenAI } from '../packages/server/src/test/fakeOpenAI.ts';
import { startTestServer } from '../packages/server/src/test/harness.ts';
import { totpCode, totpStep } from '../packages/server/src/test/totp.ts';
import { send, startAiChat, startDirect, watchErrors, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

const PASSWORD = 'correct horse battery';

/**
 * Running Confab for a team (issue #20) in Debian's Chromium: the admin console, the sign-in page
 * that follows the instance's settings, invites, deactivation reaching an open tab, two-factor
 * sign-in and reports. The first person to sign up on the fresh server is its owner.
 */
let fake: FakeOpenAI;
const app = webApp(async () => {
  fake = await startFakeOpenAI({ defaultDelayMs: 10 });
  return startTestServer({ ai: testAiConfig(fake.url, ['openai:test-model', 'openai:other-model']) });
});
afterAll(async () => {
  await fake?.close();
});

describe('the admin console and account settings in a real browser', () => {
  let owner: WebUser;

  it('the owner renames the instance and closes sign-ups; the sign-in page follows, and the audit log records it', async () => {
    owner = await app.person('Olivia');
    const page = owner.page;
    // Owners and admins have the admin console in the sidebar.
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.waitForURL('**/admin');
    await page.getByRole('link', { name: 'Registration' }).click();
    await page.getByLabel('Instance name').fill('Acme Chat');
    await page.getByRole('radio', { name: /Closed/ }).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Settings saved.').waitFor();

    // Someone new arrives: the name is Acme Chat, and there is no way to sign up, said in words.
    const context = await app.chrome.browser.newContext({ baseURL: app.server.url });
    try {
      const visitor = await context.newPage();
      const errors = watchErrors(visitor);
      await visitor.goto('/');
      await visitor.getByRole('heading', { name: 'Acme Chat' }).waitFor();
      await visitor.getByText('Sign-ups are closed on Acme Chat. Ask an admin to create an account for you.').waitFor();
      expect(await visitor.getByRole('tab', { name: 'Create account' }).count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }

    // The change is in the audit log.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.locator('.audit-list li[data-action="settings.update"]').first().waitFor();
    await expect.poll(() => page.locator('.audit-list li').first().innerText()).toMatch(/Olivia.*changed the instance settings/s);

    // Open again for the rest of the file.
    await page.getByRole('link', { name: 'Registration' }).click();
    await page.getByRole('radio', { name: /Open/ }).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(async () => ((await (await fetch(`${app.server.url}/api/instance`)).json()) as { registration: string }).registration).toBe('open');
    expect(owner.errors).toEqual([]);
  });

  it('a person who is not an admin has no admin console', async () => {
    const member = await app.person('Max');
    expect(await member.page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await member.page.goto('/admin');
    await member.page.getByText("Only the instance's owners and admins can open the admin console.").waitFor();
    expect(member.errors).toEqual([]);
  });

  it('invite → sign-up with the link → the admin deactivates → the open tab is signed out and told why', async () => {
    const page = owner.page;
    await page.goto('/admin/invites');
    await page.getByLabel('Uses').fill('1');
    await page.getByRole('button', { name: 'Create invite link' }).click();
    const link = await page.getByRole('textbox', { name: 'New invite link' }).inputValue();
    expect(link).toMatch(/\/invite\/[\w-]+$/);
    // The list shows it, not yet used.
    await page.locator('.admin-invite', { hasText: '0 of 1 used' }).waitFor();

    // The invitee opens the link in a browser of their own: sign-up with the invite.
    const context = await app.chrome.browser.newContext({ baseURL: app.server.url });
    try {
      const tab = await context.newPage();
      const errors = watchErrors(tab);
      await tab.goto(new URL(link).pathname);
      await tab.getByText('You are invited to join').waitFor();
      const handle = `ivy${Date.now().toString(36)}`;
      await tab.getByLabel('Your name').fill('Ivy Invited');
      await tab.getByLabel('Username').fill(handle);
      await tab.getByLabel('Email').fill(`${handle}@example.test`);
      await tab.getByLabel('Password').fill(PASSWORD);
      await tab.getByRole('button', { name: 'Create account' }).click();
      await tab.getByRole('navigation', { name: 'Conversation list' }).waitFor();
      expect(new URL(tab.url()).pathname).toBe('/');

      // The invite is spent: the admin's list says so after a reload.
      await page.reload();
      await page.locator('.admin-invite', { hasText: '1 of 1 used' }).waitFor();

      // The admin finds Ivy and deactivates her.
      await page.getByRole('link', { name: 'Users' }).click();
      await page.getByLabel('Search users by name, username or email').fill(handle);
      const row = page.locator('.admin-user', { hasText: 'Ivy Invited' });
      await row.waitFor();
      await row.getByRole('button', { name: 'Deactivate' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Deactivate' }).click();
      await row.locator('.chip', { hasText: 'Deactivated' }).waitFor();

      // Ivy's open tab goes back to the sign-in page, with a sentence saying why.
      const started = Date.now();
      await tab.getByText('You were signed out: your session was ended on the server').waitFor({ timeout: 15_000 });
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(await tab.getByRole('navigation', { name: 'Conversation list' }).count()).toBe(0);
      // Signing in again is refused in words.
      await tab.getByLabel('Email').fill(`${handle}@example.test`);
      await tab.getByLabel('Password').fill(PASSWORD);
      await tab.getByRole('button', { name: 'Sign in' }).click();
      await tab.getByRole('alert').filter({ hasText: 'This account is deactivated' }).waitFor();

      // The audit log has the invite, its use and the deactivation.
      await page.getByRole('link', { name: 'Audit log' }).click();
      for (const action of ['invite.create', 'invite.use', 'user.deactivate']) await page.locator(`.audit-list li[data-action="${action}"]`).first().waitFor();
      expect(errors.filter((e) => !/401|403|Unauthorized|Forbidden/.test(e))).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('two-factor sign-in: set up with the QR code key, recovery codes shown once, then sign-in asks for a code', async () => {
    const person = await app.person('Tess');
    const page = person.page;
    await page.goto('/settings/security');
    await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
    // A QR code (a data: image) and the key as text.
    const qr = page.getByRole('img', { name: 'QR code to scan with your authenticator app' });
    await qr.waitFor();
    expect(await qr.getAttribute('src')).toMatch(/^data:image\/png;base64,/);
    const secret = (await page.getByLabel('Setup key').innerText()).replace(/\s+/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await page.getByLabel('2. Enter the 6-digit code the app shows').fill(totpCode(secret));
    await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
    const dialog = page.getByRole('dialog', { name: 'Save your recovery codes' });
    await dialog.waitFor();
    const codes = await dialog.locator('.recovery-codes li').allInnerTexts();
    expect(codes).toHaveLength(10);
    await dialog.getByRole('button', { name: 'I saved them' }).click();
    await page.getByText('On: signing in asks for a code from your authenticator app.').waitFor();

    // Sign out, and in again: the password, then the code.
    await page.getByRole('button', { name: 'Sign out' }).first().click();
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Two-factor sign-in' }).waitFor();
    // A wrong code is refused in words; the right one (the next time step: the current one was spent turning it on) signs in.
    await page.getByLabel('Authentication code').fill('000000' === totpCode(secret) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'That code did not work' }).waitFor();
    await page.getByLabel('Authentication code').fill(totpCode(secret, totpStep() + 1));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('navigation', { name: 'Conversation list' }).waitFor();

    // A recovery code works once, in the same field.
    await page.getByRole('button', { name: 'Sign out' }).first().click();
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByLabel('Authentication code').fill(codes[0]!);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('navigation', { name: 'Conversation list' }).waitFor();
    expect(person.errors.filter((e) => !/401/.test(e))).toEqual([]);
  });

  it('sessions: "sign out everywhere else" signs the other browser out; an admin\'s reset link sets a new password and ends every session', async () => {
    const person = await app.person('Rosa');
    // Rosa also signs in in another browser.
    const other = await app.chrome.browser.newContext({ baseURL: app.server.url });
    const resetContext = await app.chrome.browser.newContext({ baseURL: app.server.url });
    try {
      const tab2 = await other.newPage();
      await tab2.goto('/');
      await tab2.getByLabel('Email').fill(person.email);
      await tab2.getByLabel('Password').fill(PASSWORD);
      await tab2.getByRole('button', { name: 'Sign in' }).click();
      await tab2.getByRole('navigation', { name: 'Conversation list' }).waitFor();

      const page = person.page;
      await page.goto('/settings/security');
      await page.locator('.session-list li').nth(1).waitFor();
      expect(await page.locator('.session-list li.current').count()).toBe(1);
      await page.getByRole('button', { name: 'Sign out everywhere else' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Sign out others' }).click();
      await tab2.getByText('You were signed out: your session was ended on the server').waitFor({ timeout: 15_000 });
      await expect.poll(() => page.locator('.session-list li').count()).toBe(1);

      // The owner makes a reset link for Rosa.
      await owner.page.goto('/admin/users');
      await owner.page.getByLabel('Search users by name, username or email').fill(person.handle);
      const row = owner.page.locator('.admin-user', { hasText: person.handle });
      await row.getByRole('button', { name: 'More actions for Rosa' }).click();
      await owner.page.getByRole('menuitem', { name: 'Make a password reset link' }).click();
      const link = await owner.page.getByRole('textbox', { name: 'Password reset link' }).inputValue();
      expect(link).toMatch(/\/reset-password\/[\w-]+$/);
      await owner.page.getByRole('button', { name: 'Done' }).click();

      const reset = await resetContext.newPage();
      await reset.goto(new URL(link).pathname);
      await reset.getByLabel('New password', { exact: true }).fill('a brand new password');
      await reset.getByLabel('Repeat the new password').fill('a brand new password');
      await reset.getByRole('button', { name: 'Set new password' }).click();
      await reset.getByText('Your password is changed').waitFor();
      await reset.getByLabel('Email').fill(person.email);
      await reset.getByLabel('Password').fill('a brand new password');
      await reset.getByRole('button', { name: 'Sign in' }).click();
      await reset.getByRole('navigation', { name: 'Conversation list' }).waitFor();
      // Rosa's first browser was signed out by the reset.
      await page.getByText('You were signed out: your session was ended on the server').waitFor({ timeout: 15_000 });
      // The link works once.
      const again = await resetContext.newPage();
      await again.goto(new URL(link).pathname);
      await again.getByLabel('New password', { exact: true }).fill('another new password');
      await again.getByLabel('Repeat the new password').fill('another new password');
      await again.getByRole('button', { name: 'Set new password' }).click();
      await again.getByRole('alert').filter({ hasText: 'This link is no longer valid' }).waitFor();
    } finally {
      await other.close();
      await resetContext.close();
    }
  });

  it('report → an admin reads it, deletes the message and resolves it; block and unblock from a message', async () => {
    const rita = await app.person('Rita');
    const abe = await app.person('Abe');
    await startDirect(abe.page, rita);
    await send(abe.page, 'You will regret crossing me, Rita.');
    await rita.page.locator('.conv-row', { hasText: 'Abe' }).locator('a').click();
    const message = rita.page.locator('.msg', { hasText: 'You will regret crossing me' });
    await message.hover();
    await message.getByRole('button', { name: 'More message actions' }).click();
    await rita.page.getByRole('menuitem', { name: 'Report message' }).click();
    const dialog = rita.page.getByRole('dialog', { name: 'Report this message' });
    await dialog.getByLabel('What is wrong with it?').fill('A threat');
    await dialog.getByRole('button', { name: 'Send report' }).click();
    await rita.page.getByText('Thank you. The admins will look at it.').waitFor();

    // The owner sees it with the message's text, deletes the message and resolves the report.
    const page = owner.page;
    await page.goto('/admin/reports');
    const report = page.locator('.admin-report', { hasText: 'A threat' });
    await report.locator('.report-message', { hasText: 'You will regret crossing me, Rita.' }).waitFor();
    await expect.poll(() => report.innerText()).toMatch(/Rita.*reported a message by.*Abe/s);
    await report.getByRole('button', { name: 'Delete message' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete message' }).click();
    await report.getByText('The message was deleted.').waitFor();
    await report.getByRole('button', { name: 'Resolve' }).click();
    await page.getByText('No open reports.').waitFor();
    await page.getByText('Resolved', { exact: true }).click();
    await page.locator('.admin-report', { hasText: 'A threat' }).getByText(/Resolved by Olivia/).waitFor();
    // Gone for Rita too.
    await rita.page.locator('.msg.deleted').first().waitFor();
    await page.getByRole('link', { name: 'Audit log' }).click();
    for (const action of ['report.resolve', 'message.delete']) await page.locator(`.audit-list li[data-action="${action}"]`).first().waitFor();

    // Rita blocks Abe from one of his messages, and unblocks him in her settings.
    await send(abe.page, 'Hello?');
    const hello = rita.page.locator('.msg', { hasText: 'Hello?' });
    await hello.waitFor();
    await hello.hover();
    await hello.getByRole('button', { name: 'More message actions' }).click();
    await rita.page.getByRole('menuitem', { name: /^Block Abe/ }).click();
    await rita.page.getByRole('dialog').getByRole('button', { name: 'Block' }).click();
    await rita.page.getByText('Abe is blocked.').waitFor();
    // Abe cannot write to her any more.
    await send(abe.page, 'Are you there?');
    await abe.page.locator('.msg.failed', { hasText: 'Are you there?' }).or(abe.page.getByText("You don't have permission to do that here.")).first().waitFor();
    await rita.page.goto('/settings/privacy');
    const blocked = rita.page.getByRole('list', { name: 'Blocked people' }).locator('li', { hasText: 'Abe' });
    await blocked.getByRole('button', { name: 'Unblock' }).click();
    await rita.page.getByText('You have not blocked anyone.').waitFor();
    expect(rita.errors).toEqual([]);
  });

  it("the AI allowance: an admin sets a daily quota, a person sees what is left under the assistant's composer until it is used up", async () => {
    await owner.page.goto('/admin/ai');
    await owner.page.getByLabel('Answers per person per day').fill('2');
    await owner.page.getByRole('button', { name: 'Save' }).click();
    await owner.page.getByText('AI settings saved.').waitFor();

    const person = await app.person('Quinn');
    await startAiChat(person.page);
    const allowance = person.page.getByTestId('ai-allowance');
    await allowance.filter({ hasText: '2 of 2 answers left today' }).waitFor();
    await send(person.page, 'First question');
    await allowance.filter({ hasText: '1 of 2 answers left today' }).waitFor({ timeout: 15_000 });
    await send(person.page, 'Second question');
    await allowance.filter({ hasText: "You have used today's AI allowance" }).waitFor({ timeout: 15_000 });
    // Past it, the question is kept and the answer ends at once, saying why.
    await send(person.page, 'Third question');
    await person.page.locator('.msg', { hasText: 'Third question' }).waitFor();
    await person.page.locator('.ai-error').filter({ hasText: /allowance/i }).waitFor({ timeout: 15_000 });

    // The admin sees Quinn's answers in the usage table.
    await owner.page.reload();
    await owner.page.locator('.admin-table tbody tr', { hasText: 'Quinn' }).locator('td').first().filter({ hasText: '2' }).waitFor();
    expect(person.errors).toEqual([]);
  });

  it('download my data, then delete the account: signed out with a sentence, and the account is gone', async () => {
    const person = await app.person('Dora');
    const page = person.page;
    await page.goto('/settings/data');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^confab-${person.handle}-\\d{4}-\\d{2}-\\d{2}\\.json$`));
    const path = await download.path();
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(path, 'utf8')).toContain(person.handle);

    await page.getByRole('button', { name: 'Delete account' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete your account?' });
    await dialog.getByLabel('Your password').fill('not my password');
    await dialog.getByRole('button', { name: 'Delete my account' }).click();
    await dialog.getByRole('alert').filter({ hasText: 'That is not your current password.' }).waitFor();
    await dialog.getByLabel('Your password').fill(PASSWORD);
    await dialog.getByRole('button', { name: 'Delete my account' }).click();
    await page.getByText('Your account is deleted.').waitFor();
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'That email and password do not match.' }).waitFor();
  });
});
