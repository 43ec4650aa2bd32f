/**
 * Screenshots of running Confab for a team (issue #20), a scene of `npm run screenshots` (alone:
 * `npm run screenshots -- --only=admin`): the admin console (users, invites, AI allowance and usage,
 * reports, audit log) and the account settings (security with sessions, two-factor setup, privacy).
 * It starts a server of its own, so the first person registered, Maya, is the instance's owner.
 */
import { startFakeOpenAI, testAiConfig } from '../packages/server/src/test/fakeOpenAI.ts';
import { Api, startTestServer, type TestUser } from '../packages/server/src/test/harness.ts';
import type { BrowserHandle } from './helpers.ts';
import { camera, DESKTOP, named, say, SIZES, THEMES } from './screenshotKit.ts';

async function ok<T>(p: Promise<{ status: number; body: T }>, what: string): Promise<T> {
  const r = await p;
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Another signed-in device of `u`, with a browser of its own, so "Where you are signed in" has rows. */
async function otherDevice(server: { url: string }, u: TestUser, userAgent: string): Promise<{ accessToken: string; refreshToken: string }> {
  const res = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': userAgent },
    body: JSON.stringify({ email: u.user.email, password: 'correct horse battery' }),
  });
  return (await res.json()) as { accessToken: string; refreshToken: string };
}

export async function adminScreens(chrome: BrowserHandle): Promise<string[]> {
  const provider = await startFakeOpenAI();
  const server = await startTestServer({ ai: testAiConfig(provider.url, ['openai:gpt-demo', 'openai:gpt-demo-mini', 'openai:reasoner'], { checkpointMs: 300 }) });
  try {
    const maya = await named(server, 'Maya Lin', 'maya');
    const sam = await named(server, 'Sam Carter', 'sam');
    const priya = await named(server, 'Priya Shah', 'priya');
    const leo = await named(server, 'Leo Martin', 'leo');
    const ana = await named(server, 'Ana Souza', 'ana');
    await named(server, 'Jonas Berg', 'jonas');

    await ok(maya.api.patch('/api/admin/settings', { name: 'Acme Design', registration: 'invite', ai: { models: ['openai:gpt-demo', 'openai:gpt-demo-mini'], defaultModel: 'openai:gpt-demo', quota: { answersPerDay: 50, tokensPerDay: 200000 } } }), 'settings');
    await ok(maya.api.patch(`/api/admin/users/${sam.id}`, { role: 'admin' }), 'role');
    await ok(maya.api.patch(`/api/admin/users/${ana.id}`, { status: 'deactivated' }), 'deactivate');
    await ok(maya.api.post('/api/admin/invites', { maxUses: 5, expiresInHours: 168 }), 'invite');
    await ok(maya.api.post('/api/admin/invites', { maxUses: 1, expiresInHours: 24, role: 'admin' }), 'invite');

    // A group with a message someone reported.
    const team = await ok(maya.api.post<{ id: string }>('/api/conversations/group', { title: 'Design team', participantIds: [sam.id, priya.id, leo.id] }), 'group');
    await say(sam, team.id, 'Morning! The new onboarding screens are up for review 🎨');
    const bad = await say(leo, team.id, 'Honestly whoever designed step two should not be allowed near Figma again.');
    await say(priya, team.id, 'Let us keep the feedback about the work, please.');
    await ok(priya.api.post(`/api/messages/${bad.id}/report`, { reason: 'Personal attack on a colleague' }), 'report');
    const spam = await say(leo, team.id, 'Cheap followers at example.com/deal 🔥🔥');
    await ok(sam.api.post(`/api/messages/${spam.id}/report`, { reason: 'Spam link' }), 'report');

    // AI answers, so the usage table has rows.
    let mayasChat = '';
    for (const u of [maya, priya, sam]) {
      const c = await ok(u.api.post<{ id: string }>('/api/conversations/assistant', {}), 'assistant');
      await say(u, c.id, 'Summarise the onboarding feedback in three bullets.');
      if (u === maya) mayasChat = c.id;
    }
    await new Promise((r) => setTimeout(r, 1500));

    await otherDevice(server, maya, 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1');
    await otherDevice(server, maya, 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36');
    await new Api(server.url, priya.accessToken).put(`/api/users/me/privacy`, { discoverable: false, showLastSeen: true, directMessagesFrom: 'shared' });
    await ok(maya.api.post(`/api/users/${leo.id}/block`), 'block');

    // The browser the screenshots are taken in is "this browser" in Maya's list of sessions.
    const here = await otherDevice(server, maya, 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36');
    const { open, snap, saved } = camera(chrome, server, { ...maya, ...here });
    for (const theme of THEMES) {
      for (const [size, viewport] of SIZES) {
        const desktop = viewport === DESKTOP;
        const { context, page } = await open(viewport, theme);
        try {
          await page.goto('/admin/users');
          await page.locator('.admin-user', { hasText: 'Ana Souza' }).waitFor();
          await snap(page, `${size}-admin-users-${theme}`);
          await page.goto('/admin/reports');
          await page.locator('.admin-report').nth(1).waitFor();
          await snap(page, `${size}-admin-reports-${theme}`);
          if (desktop) {
            await page.goto('/admin/invites');
            await page.locator('.admin-invite').nth(1).waitFor();
            await snap(page, `${size}-admin-invites-${theme}`);
            await page.goto('/admin/ai');
            await page.locator('.admin-table tbody tr').first().waitFor();
            await snap(page, `${size}-admin-ai-${theme}`);
            await page.goto('/admin/audit');
            await page.locator('.audit-list li').nth(3).waitFor();
            await snap(page, `${size}-admin-audit-${theme}`);
          }
          await page.goto('/settings/security');
          await page.locator('.session-list li').nth(2).waitFor();
          await page.locator('#settings-security').scrollIntoViewIfNeeded();
          await snap(page, `${size}-settings-security-${theme}`);
          if (desktop) {
            await page.getByRole('button', { name: 'Set up two-factor sign-in' }).click();
            await page.locator('.totp-qr img').waitFor();
            await page.locator('#settings-two-factor').evaluate((el) => el.scrollIntoView({ block: 'center' }));
            await snap(page, `${size}-settings-two-factor-${theme}`);
            await page.locator('#settings-two-factor').getByRole('button', { name: 'Cancel' }).click();
          }
          await page.goto('/settings/privacy');
          await page.locator('#settings-blocked li').first().waitFor();
          await page.locator('#settings-privacy').evaluate((el) => el.scrollIntoView({ block: 'start' }));
          await snap(page, `${size}-settings-privacy-${theme}`);
        } finally {
          await context.close();
        }
      }
    }
    for (const theme of THEMES) {
      // What is left of today's AI allowance, under the assistant's composer.
      const signedIn = await open(DESKTOP, theme);
      try {
        await signedIn.page.goto(`/c/${mayasChat}`);
        await signedIn.page.getByTestId('ai-allowance').waitFor();
        await snap(signedIn.page, `desktop-ai-allowance-${theme}`);
      } finally {
        await signedIn.context.close();
      }
      // The sign-in page of an invite-only instance.
      const { context, page } = await open(DESKTOP, theme, false);
      try {
        await page.goto('/');
        await page.getByText('need an invite').waitFor();
        await snap(page, `desktop-signin-invite-only-${theme}`);
      } finally {
        await context.close();
      }
    }
    return saved;
  } finally {
    await server.close();
    await provider.close();
  }
}
