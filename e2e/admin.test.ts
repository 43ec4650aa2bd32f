import { describe, expect, it } from 'vitest';
import { watchErrors, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * Running Confab for a team (issue #20) in Debian's Chromium: the admin console, the sign-in page
 * that follows the instance's settings, invites, deactivation reaching an open tab, two-factor
 * sign-in and reports. The first person to sign up on the fresh server is its owner.
 */
const app = webApp();

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
    expect(await page.locator('.audit-list li').first().innerText()).toMatch(/Olivia.*changed the instance settings/s);

    // Open again for the rest of the file.
    await page.getByRole('link', { name: 'Registration' }).click();
    await page.getByRole('radio', { name: /Open/ }).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Settings saved.').waitFor();
    expect(owner.errors).toEqual([]);
  });

  it('a person who is not an admin has no admin console', async () => {
    const member = await app.person('Max');
    expect(await member.page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await member.page.goto('/admin');
    await member.page.getByText("Only the instance's owners and admins can open the admin console.").waitFor();
    expect(member.errors).toEqual([]);
  });
});
