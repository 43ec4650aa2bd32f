/**
 * Screenshots of running Confab for a team (issue #20), a scene of `npm run screenshots` (alone:
 * `npm run screenshots -- --only=admin`): the admin console (users, invites, AI allowance and usage,
 * API keys, webhooks and their delivery log, reports, audit log) and the account settings (security
 * with sessions, two-factor setup, privacy, bots). It starts a server of its own, so the first person
 * registered, Maya, is the instance's owner; its webhooks go to small HTTP servers on this machine.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** A webhook endpoint on this machine: `answer` gives each request's status (200 unless changed). */
async function endpoint(path: string): Promise<{ url: string; answer: () => number; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(ep.answer()).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const ep = {
    url: `http://localhost:${(server.address() as AddressInfo).port}${path}`,
    answer: () => 200,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
  return ep;
}

export async function adminScreens(chrome: BrowserHandle): Promise<string[]> {
  const provider = await startFakeOpenAI();
  const shop = await endpoint('/webhooks/confab');
  // The old CRM's endpoint is gone for good.
  const crm = await endpoint('/crm/hooks/chat');
  crm.answer = () => 500;
  const server = await startTestServer(
    { webhooksAllowPrivate: true, ai: testAiConfig(provider.url, ['openai:gpt-demo', 'openai:gpt-demo-mini', 'openai:reasoner'], { checkpointMs: 300 }) },
    // An endpoint failing for 3 s (a day, as shipped) is turned off.
    { webhooks: { pollMs: 50, backoffMs: [400, 800], refreshMs: 200, disableAfterMs: 3_000 } },
  );
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

    // Building on Confab: API keys (one used by now), a webhook whose log fills as the team talks, bots.
    const shopKey = await ok(maya.api.post<{ key: string }>('/api/admin/api-keys', { name: 'Shop backend', scopes: ['users', 'tokens'] }), 'api key');
    await ok(sam.api.post('/api/admin/api-keys', { name: 'Support inbox', scopes: ['messages', 'conversations'] }), 'api key');
    await fetch(`${server.url}/api/platform/users/customer-1042`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${shopKey.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'Dana Whitfield' }),
    });
    await ok(maya.api.post('/api/admin/webhooks', { url: shop.url, events: ['message.created', 'member.added', 'user.created'] }), 'webhook');
    await ok(maya.api.post('/api/bots', { handle: 'deploy-bot', displayName: 'Deploy bot' }), 'bot');
    await ok(maya.api.post('/api/bots', { handle: 'standup', displayName: 'Standup reminder' }), 'bot');

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
            await page.goto('/admin/api-keys');
            await page.locator('.admin-api-key').nth(1).waitFor();
            await page.getByLabel('Name', { exact: true }).fill('CRM sync');
            await page.getByRole('checkbox', { name: /^Messages/ }).check();
            await page.getByRole('button', { name: 'Create key' }).click();
            await page.getByRole('textbox', { name: 'API key' }).waitFor();
            await snap(page, `${size}-admin-api-keys-${theme}`);
            const { keys } = await ok(maya.api.get<{ keys: { id: string; name: string }[] }>('/api/admin/api-keys'), 'keys');
            for (const k of keys.filter((x) => x.name === 'CRM sync')) await ok(maya.api.delete(`/api/admin/api-keys/${k.id}`), 'revoke');
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
          if (desktop) {
            // A bot's new token, shown once.
            await page.goto('/settings/bots');
            const bots = page.locator('#settings-bots');
            await bots.locator('li', { hasText: '@standup' }).getByRole('button', { name: 'New token' }).click();
            await page.getByRole('dialog').getByRole('button', { name: 'Make new token' }).click();
            await bots.getByRole('textbox', { name: 'Bot token' }).waitFor();
            await bots.evaluate((el) => el.scrollIntoView({ block: 'start' }));
            await snap(page, `${size}-settings-bots-${theme}`);
          }
        } finally {
          await context.close();
        }
      }
    }
    // The old CRM's endpoint fails until the server turns it off (after the screens above, whose
    // Webhooks tab would otherwise carry the alert too).
    const crmHook = await ok(maya.api.post<{ id: string }>('/api/admin/webhooks', { url: crm.url, events: ['message.created'] }), 'webhook');
    // The shop's endpoint stumbles once (503) on the next message, and takes its retry.
    let stumbled = false;
    shop.answer = () => (stumbled ? 200 : ((stumbled = true), 503));
    await say(priya, team.id, 'Pushed the two-step flow to staging, have a look when you can.');
    await say(sam, team.id, 'Looks great on my phone 👍');
    for (let i = 0; ; i++) {
      const w = await ok(maya.api.get<{ enabled: boolean }>(`/api/admin/webhooks/${crmHook.id}`), 'webhook');
      if (!w.enabled) break;
      if (i > 100) throw new Error('the failing webhook was not turned off');
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const theme of THEMES) {
      for (const [size, viewport] of SIZES) {
        const { context, page } = await open(viewport, theme);
        try {
          await page.goto('/admin/webhooks');
          await page.getByRole('alert').filter({ hasText: 'turned off because it kept failing' }).waitFor();
          if (viewport === DESKTOP) await snap(page, `${size}-admin-webhooks-${theme}`);
          // The shop's delivery log: the stumble and its retry.
          const item = page.locator('.admin-webhook', { hasText: shop.url });
          await item.getByRole('button', { name: 'Delivery log' }).click();
          await item.locator('.delivery').nth(2).waitFor();
          await item.evaluate((el) => el.scrollIntoView({ block: 'start' }));
          await snap(page, `${size}-admin-webhook-log-${theme}`);
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
    await shop.close();
    await crm.close();
  }
}
