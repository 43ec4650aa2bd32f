import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { io } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer } from '../packages/server/src/test/harness.ts';
import { signUp, type WebUser } from './helpers.ts';
import { webApp } from './webApp.ts';

/**
 * Building on Confab (issue #21) in Debian's Chromium: an admin's API keys and outgoing webhooks
 * in the admin console (the webhook's delivery log, a retry from it, the notice of an endpoint the
 * server turned off, Re-enable), and a person's bots in the settings. The webhook endpoint is a
 * real HTTP server on 127.0.0.1, so this server allows private webhook addresses; a second server,
 * as shipped, shows how a private address is refused.
 */

/** A real endpoint on 127.0.0.1: records what arrives and answers `status`. */
class Receiver {
  received: { headers: http.IncomingHttpHeaders; body: string; status: number }[] = [];
  status = 200;
  url = '';
  private server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      this.received.push({ headers: req.headers, body, status: this.status });
      res.writeHead(this.status).end();
    });
  });
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** Checks `Confab-Signature` the way a receiver would. */
function signedWith(secret: string, header: string, body: string): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const receiver = new Receiver();
// Deliveries are tried at once and retried after 0.3 s then every 0.6 s; an endpoint failing for 5 s
// (a day, as shipped) is turned off: the server's own rule, on a test's time scale.
const DISABLE_AFTER_MS = 5_000;
const app = webApp(async () => {
  await receiver.start();
  return startTestServer({ webhooksAllowPrivate: true }, { webhooks: { pollMs: 50, backoffMs: [300, 600], refreshMs: 200, timeoutMs: 3_000, disableAfterMs: DISABLE_AFTER_MS } });
});
afterAll(() => receiver.close());

async function withKey(key: string, externalId: string): Promise<Response> {
  return fetch(`${app.server.url}/api/platform/users/${externalId}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ displayName: `Customer ${externalId}` }),
  });
}

describe('building on Confab in a real browser', () => {
  let owner: WebUser;

  it('an admin creates an API key, sees it once, the key works; revoked, it is refused', async () => {
    owner = await app.person('Olivia');
    const page = owner.page;
    await page.getByRole('link', { name: 'Admin' }).click();
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.waitForURL('**/admin/api-keys');
    await page.getByText('No API keys yet.').waitFor();

    // Nothing ticked: said in words, nothing created.
    await page.getByLabel('Name', { exact: true }).fill('Shop backend');
    for (const scope of ['Users', 'Tokens']) await page.getByRole('checkbox', { name: new RegExp(`^${scope}`) }).uncheck();
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('alert').filter({ hasText: 'Tick at least one thing the key may do.' }).waitFor();

    await page.getByRole('checkbox', { name: /^Users/ }).check();
    await page.getByRole('checkbox', { name: /^Messages/ }).check();
    await page.getByRole('button', { name: 'Create key' }).click();
    const shown = page.getByRole('status', { name: 'New API key “Shop backend”' });
    await shown.getByText('you will not see it again').waitFor();
    const key = await shown.getByRole('textbox', { name: 'API key' }).inputValue();
    expect(key).toMatch(/^cfk_[\w-]{40,}$/);
    // Listed with its scopes, never with the key.
    const row = page.locator('.admin-api-key', { hasText: 'Shop backend' });
    await expect.poll(() => row.locator('.scope-chips').innerText()).toMatch(/Users\s*Messages/);

    // It works: a platform user is created with it.
    const created = await withKey(key, 'customer-1');
    expect(created.status).toBe(201);
    // A scope it lacks is refused.
    const mint = await fetch(`${app.server.url}/api/platform/tokens`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ externalId: 'customer-1' }) });
    expect(mint.status).toBe(403);

    // Once dismissed, the key is nowhere on the page, and a reload shows when it was last used.
    await shown.getByRole('button', { name: 'Done, I copied it' }).click();
    await shown.waitFor({ state: 'detached' });
    await expect
      .poll(async () => {
        await page.reload();
        return page.locator('.admin-api-key', { hasText: 'Shop backend' }).innerText();
      })
      .toMatch(/last used/);
    expect(await page.content()).not.toContain(key);

    // Revoked after a confirmation: the key is refused at once.
    await row.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.getByRole('dialog', { name: 'Revoke “Shop backend”?' });
    await dialog.getByText('Every request made with this key is refused from now on').waitFor();
    await dialog.getByRole('button', { name: 'Revoke key' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByText('No API keys yet.').waitFor();
    expect((await withKey(key, 'customer-2')).status).toBe(401);
    expect(owner.errors).toEqual([]);
  });

  it('a webhook: its secret once, a message delivered and logged, a retry from the log, turned off after failing, the notice and Re-enable', async () => {
    const page = owner.page;
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.waitForURL('**/admin/webhooks');
    await page.getByText('No webhooks yet.').waitFor();

    // A URL with a password in it is refused, in words.
    const address = page.getByLabel('Address (URL)');
    await address.fill(receiver.url.replace('http://', 'http://user:pass@'));
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await page.getByRole('alert').filter({ hasText: 'Take the user name and password out of the address.' }).waitFor();

    // "A message is sent" is ticked to begin with; members joining too.
    await address.fill(receiver.url);
    expect(await page.getByRole('checkbox', { name: /A message is sent/ }).isChecked()).toBe(true);
    await page.getByRole('checkbox', { name: /Someone joins a conversation/ }).check();
    await page.getByRole('button', { name: 'Add webhook' }).click();
    const shown = page.getByRole('status', { name: /Signing secret for 127\.0\.0\.1/ });
    await shown.getByText('you will not see it again').waitFor();
    const secret = await shown.getByRole('textbox', { name: 'Signing secret' }).inputValue();
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const item = page.locator('.admin-webhook', { hasText: receiver.url });
    // The switch says On or Off; a chip beside the URL only what needs attention.
    const on = item.getByRole('checkbox', { name: `Send events to ${receiver.url}` });
    const chip = item.locator('.webhook-head .chip');
    expect(await on.isChecked()).toBe(true);
    expect(await chip.count()).toBe(0);
    await expect.poll(() => item.locator('.admin-user-meta').innerText()).toMatch(/message\.created, member\.added/);

    // Someone sends a message: the endpoint gets it, signed with the secret shown.
    const sam = await registerUser(app.server, 'sam');
    const group = await sam.api.post<{ id: string }>('/api/conversations/group', { title: 'Orders', participantIds: [] });
    const sent = await sam.api.post<{ id: string }>('/api/messages', { conversationId: group.body.id, content: 'Order 1001 has shipped', clientId: 'p1' });
    expect(sent.status).toBe(201);
    await expect.poll(() => receiver.received.filter((r) => JSON.parse(r.body).type === 'message.created').length, { timeout: 15_000 }).toBe(1);
    const first = receiver.received.find((r) => JSON.parse(r.body).type === 'message.created')!;
    expect(signedWith(secret, String(first.headers['confab-signature']), first.body)).toBe(true);
    await shown.getByRole('button', { name: 'Done, I copied it' }).click();

    // The delivery log shows it: the event, Delivered, the attempt's answer.
    await item.getByRole('button', { name: 'Delivery log' }).click();
    const delivery = item.locator('.delivery', { hasText: 'message.created' });
    await delivery.locator('.chip', { hasText: 'Delivered' }).waitFor();
    await delivery.getByText(/HTTP 200 in \d+ ms/).waitFor();

    // The endpoint breaks; a retry from the log sends the same event again and shows the failure.
    receiver.status = 500;
    const before = receiver.received.length;
    await delivery.getByRole('button', { name: /^Retry/ }).click();
    await delivery.locator('.chip', { hasText: 'Waiting to retry' }).waitFor({ timeout: 15_000 });
    await delivery.getByText(/HTTP 500 in \d+ ms/).first().waitFor();
    const again = receiver.received.slice(before).find((r) => r.status === 500)!;
    expect(again.body).toBe(first.body);
    expect(again.headers['confab-event-id']).toBe(first.headers['confab-event-id']);

    // It keeps failing, so the server turns the endpoint off: a notice says so, and the tab too.
    const notice = page.getByRole('alert').filter({ hasText: 'A webhook was turned off because it kept failing' });
    await notice.waitFor({ timeout: DISABLE_AFTER_MS + 20_000 });
    await expect.poll(() => notice.innerText()).toContain(receiver.url);
    await expect.poll(() => chip.innerText()).toBe('Turned off: kept failing');
    expect(await on.isChecked()).toBe(false);
    await page.getByRole('link', { name: /Webhooks\s*,\s*1 turned off after failing for a day/ }).waitFor();
    // Turned off, nothing more is sent.
    const whileOff = receiver.received.length;
    await page.waitForTimeout(1_500);
    expect(receiver.received.length).toBe(whileOff);

    // Fixed and re-enabled in one click: the waiting delivery goes out and the log says Delivered.
    receiver.status = 200;
    await notice.getByRole('button', { name: 'Re-enable' }).click();
    await notice.waitFor({ state: 'detached' });
    await expect.poll(() => on.isChecked()).toBe(true);
    await expect.poll(() => chip.count()).toBe(0);
    await delivery.locator('.chip', { hasText: 'Delivered' }).waitFor({ timeout: 15_000 });
    await expect.poll(() => page.getByRole('link', { name: /turned off/ }).count()).toBe(0);

    // Edit: only messages now; then off with the switch; then deleted after a confirmation.
    await item.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit webhook' });
    await edit.getByRole('checkbox', { name: /Someone joins a conversation/ }).uncheck();
    await edit.getByRole('button', { name: 'Save' }).click();
    await edit.waitFor({ state: 'detached' });
    await expect.poll(() => item.locator('.admin-user-meta').innerText()).toMatch(/^message\.created ·/);
    await on.uncheck();
    await expect.poll(() => item.locator('.admin-user-meta').innerText()).toMatch(/disabled by an admin/);
    await item.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete this webhook?' }).getByRole('button', { name: 'Delete webhook' }).click();
    await page.getByText('No webhooks yet.').waitFor();

    // The audit log has it all in words.
    await page.getByRole('link', { name: 'Audit log' }).click();
    for (const action of ['api_key.create', 'api_key.revoke', 'webhook.create', 'webhook.delivery_retry', 'webhook.update', 'webhook.delete']) await page.locator(`.audit-list li[data-action="${action}"]`).first().waitFor();
    await expect.poll(() => page.locator('.audit-list li[data-action="webhook.delivery_retry"]').first().innerText()).toMatch(/retried a webhook delivery/);
    expect(owner.errors).toEqual([]);
  });

  it('on a server as shipped, a private or plain-http address is refused in words a person understands', async () => {
    let shipped: TestServer | undefined;
    let admin: WebUser | undefined;
    try {
      shipped = await startTestServer();
      admin = await signUp(app.chrome.browser, shipped.url, 'Petra');
      const page = admin.page;
      await page.goto('/admin/webhooks');
      await page.getByLabel('Address (URL)').fill('https://127.0.0.1/hook');
      await page.getByRole('button', { name: 'Add webhook' }).click();
      await page.getByRole('alert').filter({ hasText: 'That address is on a private or local network' }).waitFor();
      await page.getByLabel('Address (URL)').fill('http://example.com/hook');
      await page.getByRole('button', { name: 'Add webhook' }).click();
      await page.getByRole('alert').filter({ hasText: 'Use an address that starts with https://' }).waitFor();
      await page.getByLabel('Address (URL)').fill('not a web address');
      await page.getByRole('button', { name: 'Add webhook' }).click();
      await page.getByRole('alert').filter({ hasText: 'That is not a web address.' }).waitFor();
      expect(await page.locator('.admin-webhook').count()).toBe(0);
      expect(admin.errors).toEqual([]);
    } finally {
      await admin?.context.close();
      await shipped?.close();
    }
  });

  it('a person makes a bot and sees its token once; a new token ends the old one and its live connection; deleted, it is gone', async () => {
    const max = await app.person('Max');
    const page = max.page;
    await page.goto('/settings/bots');
    const card = page.locator('#settings-bots');
    await card.getByText('You have no bots yet.').waitFor();
    await card.getByLabel('Name', { exact: true }).fill('Deploy Bot');
    expect(await card.getByLabel('Username').inputValue()).toBe('deploy-bot');
    await card.getByRole('button', { name: 'Create bot' }).click();
    const shown = card.getByRole('status', { name: 'Token for Deploy Bot (@deploy-bot)' });
    await shown.getByText('you will not see it again').waitFor();
    const token = await shown.getByRole('textbox', { name: 'Bot token' }).inputValue();
    expect(token).toMatch(/^cfb_/);
    await card.locator('li', { hasText: '@deploy-bot' }).waitFor();

    // The bot signs in with it, over REST and Socket.IO.
    const me = (t: string) => fetch(`${app.server.url}/api/auth/me`, { headers: { authorization: `Bearer ${t}` } });
    const asBot = await me(token);
    expect(asBot.status).toBe(200);
    expect(await asBot.json()).toMatchObject({ handle: 'deploy-bot', isBot: true });
    const socket = io(app.server.url, { auth: { token }, transports: ['websocket'], reconnection: false });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      const cut = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));

      // A new token, after a confirmation that says what happens to the old one.
      await shown.getByRole('button', { name: 'Done, I copied it' }).click();
      await card.locator('li', { hasText: '@deploy-bot' }).getByRole('button', { name: 'New token' }).click();
      const dialog = page.getByRole('dialog', { name: 'Make a new token for Deploy Bot?' });
      await dialog.getByText('The old token stops working at once, and every live connection made with it is cut.').waitFor();
      await dialog.getByRole('button', { name: 'Make new token' }).click();
      const rotated = card.getByRole('status', { name: 'New token for Deploy Bot (@deploy-bot)' });
      const fresh = await rotated.getByRole('textbox', { name: 'Bot token' }).inputValue();
      expect(fresh).toMatch(/^cfb_/);
      expect(fresh).not.toBe(token);
      await cut;
      expect((await me(token)).status).toBe(401);
      expect((await me(fresh)).status).toBe(200);

      // Deleted after a confirmation: the new token stops working too.
      await card.locator('li', { hasText: '@deploy-bot' }).getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('dialog', { name: 'Delete Deploy Bot?' }).getByRole('button', { name: 'Delete bot' }).click();
      await card.getByText('You have no bots yet.').waitFor();
      expect(await rotated.count()).toBe(0);
      expect((await me(fresh)).status).toBe(401);
    } finally {
      socket.close();
    }
    expect(max.errors).toEqual([]);
  });
});
