import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oidcProviders } from '../../config.ts';
import { Api, registerUser, startTestServer, type TestServer, type TestUser } from '../../test/harness.ts';

// API.md, "Single sign-on": the whole flow against a real OpenID provider (oidc-provider) over
// real HTTP, driven as a browser would (redirects, cookies, the provider's login and consent forms).

interface Account {
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
}

/** The provider's people, by account id (the login typed into its form). */
const accounts = new Map<string, Account>();

/** A browser: follows nothing by itself, keeps each origin's cookies (and drops those set with Max-Age=0). */
class Browser {
  readonly jar = new Map<string, Map<string, string>>();

  async fetch(url: string, init: { method?: string; body?: URLSearchParams } = {}): Promise<Response> {
    const origin = new URL(url).origin;
    const cookies = this.jar.get(origin) ?? new Map<string, string>();
    const res = await fetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...(init.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      ...(init.body ? { body: init.body.toString() } : {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at).trim();
      if (attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || /expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(name);
      else cookies.set(name, pair!.slice(at + 1).trim());
    }
    this.jar.set(origin, cookies);
    return res;
  }
}

const location = (res: Response) => res.headers.get('location') ?? '';

describe('single sign-on (OpenID Connect)', () => {
  let server: TestServer;
  let owner: TestUser;
  let providerHttp: Server;
  const callbackPrefix = () => `${server.url}/api/auth/oidc/test/callback`;

  beforeAll(async () => {
    // The provider's address first (Confab's configuration names it), then Confab's (the provider's client names it).
    providerHttp = createServer();
    await new Promise<void>((resolve) => providerHttp.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${(providerHttp.address() as AddressInfo).port}`;
    server = await startTestServer({ oidc: [{ id: 'test', issuer, clientId: 'confab-test', clientSecret: 'test-client-secret', name: 'Test ID' }] });
    const provider = new Provider(issuer, {
      clients: [{ client_id: 'confab-test', client_secret: 'test-client-secret', redirect_uris: [`${server.url}/api/auth/oidc/test/callback`], grant_types: ['authorization_code'], response_types: ['code'] }],
      async findAccount(_ctx, id) {
        const account = accounts.get(id);
        return account && { accountId: id, claims: async () => ({ sub: id, ...account }) };
      },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
      cookies: { keys: ['test-provider-cookie-key'] },
      ttl: { AccessToken: 600, AuthorizationCode: 60, Grant: 600, IdToken: 600, Interaction: 600, Session: 600 },
    });
    providerHttp.on('request', provider.callback());
    owner = await registerUser(server, 'owner');
  });
  afterAll(async () => {
    await server?.close();
    providerHttp?.closeAllConnections();
    await new Promise((resolve) => providerHttp?.close(resolve));
  });

  /** A new provider account; returns its id (its subject). */
  function person(account: Account): string {
    const id = `p_${randomBytes(5).toString('hex')}`;
    accounts.set(id, account);
    return id;
  }

  /**
   * Starts a sign-in in `browser` and goes through the provider's login and consent as `accountId`,
   * up to (not into) Confab's callback: returns the callback URL the provider sent the browser to.
   */
  async function toCallback(browser: Browser, accountId: string, start = `${server.url}/api/auth/oidc/test/start`): Promise<string> {
    let url = start;
    let body: URLSearchParams | undefined;
    for (let step = 0; step < 20; step++) {
      if (url.startsWith(callbackPrefix())) return url;
      const res = await browser.fetch(url, body ? { method: 'POST', body } : {});
      body = undefined;
      if (res.status >= 300 && res.status < 400) {
        url = new URL(location(res), url).href;
        continue;
      }
      const html = await res.text();
      expect(res.status, html).toBe(200);
      const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1];
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      if (!prompt || !action) throw new Error(`unexpected page at ${url}: ${html.slice(0, 300)}`);
      url = new URL(action, url).href;
      body = new URLSearchParams(prompt === 'login' ? { prompt, login: accountId, password: 'any' } : { prompt });
    }
    throw new Error('the provider never sent the browser back');
  }

  /** Follows the callback: the web app's /sso URL Confab redirects to, as { code } or { error }. */
  async function callback(browser: Browser, url: string): Promise<{ code: string | null; error: string | null }> {
    const res = await browser.fetch(url);
    expect(res.status).toBe(302);
    const to = new URL(location(res));
    expect(to.origin + to.pathname).toBe(`${server.url}/sso`);
    return { code: to.searchParams.get('code'), error: to.searchParams.get('error') };
  }

  const exchange = (code: string) => new Api(server.url).post('/api/auth/oidc/exchange', { code });

  /** The whole sign-in of a provider account: the exchange's answer, or the error the web app was sent. */
  async function signIn(accountId: string, start?: string): Promise<{ status: number; body: any; error: string | null }> {
    const browser = new Browser();
    const result = await callback(browser, await toCallback(browser, accountId, start));
    if (!result.code) return { status: 0, body: undefined, error: result.error };
    const res = await exchange(result.code);
    return { status: res.status, body: res.body, error: null };
  }

  const userCount = async () => (await owner.api.get('/api/admin/users?limit=200')).body.users.length as number;

  it('GET /api/instance lists the provider for the sign-in page', async () => {
    const res = await new Api(server.url).get('/api/instance');
    expect(res.status).toBe(200);
    expect(res.body.sso).toEqual([{ id: 'test', name: 'Test ID' }]);
  });

  it('registers a new person (registration open) and signs them in again as the same user', async () => {
    const email = `new_${randomBytes(4).toString('hex')}@example.test`;
    const id = person({ email, email_verified: true, name: 'Nova Newcomer', preferred_username: 'nova' });
    const first = await signIn(id);
    expect(first.error).toBeNull();
    expect(first.status).toBe(200);
    expect(first.body.user).toMatchObject({ email, displayName: 'Nova Newcomer', role: 'user' });
    expect(first.body.user.handle).toMatch(/^nova/);
    const me = await new Api(server.url, first.body.accessToken).get('/api/auth/me');
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(first.body.user.id);
    // The refresh token is a normal session's.
    expect((await new Api(server.url).post('/api/auth/refresh', { refreshToken: first.body.refreshToken })).status).toBe(200);

    const again = await signIn(id);
    expect(again.status).toBe(200);
    expect(again.body.user.id).toBe(first.body.user.id);
  });

  it('links an existing password account through a verified e-mail address', async () => {
    const existing = await registerUser(server, 'pw');
    const id = person({ email: existing.user.email.toUpperCase(), email_verified: true, name: 'Someone Else' });
    const result = await signIn(id);
    expect(result.status).toBe(200);
    expect(result.body.user.id).toBe(existing.id);
    // Linked by subject from now on, whatever the provider later says of the address.
    accounts.set(id, { email: 'changed@example.test', email_verified: false });
    expect((await signIn(id)).body.user.id).toBe(existing.id);
    const links = (await owner.api.get('/api/admin/audit?limit=200')).body.entries.filter((e: any) => e.action === 'sso.link' && e.actorId === existing.id);
    expect(links).toHaveLength(1);
    expect(links[0].details).toEqual({ provider: 'test' });
  });

  it('does not link an existing account through an unverified address, and creates no second account', async () => {
    const existing = await registerUser(server, 'unverified');
    const id = person({ email: existing.user.email, email_verified: false });
    const before = await userCount();
    const result = await signIn(id);
    expect(result.status).toBe(0);
    expect(result.error).toMatch(/not verified/);
    expect(await userCount()).toBe(before);
  });

  it('registers a new person whose unverified address is no one else\'s, without keeping the address', async () => {
    const email = `unv_${randomBytes(4).toString('hex')}@example.test`;
    const result = await signIn(person({ email, email_verified: false, preferred_username: 'here' }));
    expect(result.status).toBe(200);
    expect(result.body.user.email).toBe('');
    expect(result.body.user.handle).toMatch(/^userhere/);
    // The address stays free for its owner.
    const owner2 = await new Api(server.url).post('/api/auth/register', { email, password: 'correct horse battery', handle: `h${randomBytes(4).toString('hex')}`, displayName: 'Real owner' });
    expect(owner2.status).toBe(201);
  });

  it('refuses a callback whose state does not match the browser that started it', async () => {
    const id = person({ email: `state_${randomBytes(4).toString('hex')}@example.test`, email_verified: true });
    const browser = new Browser();
    const url = new URL(await toCallback(browser, id));
    const forged = new URL(url);
    forged.searchParams.set('state', 'forged-state');
    const bad = await callback(browser, forged.href);
    expect(bad.code).toBeNull();
    expect(bad.error).toMatch(/not valid or has expired/);
    // Another browser (no flow cookie) with the right state: refused too.
    const other = await callback(new Browser(), url.href);
    expect(other.code).toBeNull();
    expect(other.error).toMatch(/not valid or has expired/);
    // A forged cookie: refused.
    const forger = new Browser();
    forger.jar.set(new URL(server.url).origin, new Map([['confab_oidc', `${Buffer.from(JSON.stringify({ p: 'test', s: url.searchParams.get('state'), n: 'n', v: 'v', e: Date.now() + 60_000 })).toString('base64url')}.AAAA`]]));
    expect((await callback(forger, url.href)).error).toMatch(/not valid or has expired/);
  });

  it('refuses a replayed authorization code: no second session', async () => {
    const id = person({ email: `replay_${randomBytes(4).toString('hex')}@example.test`, email_verified: true });
    const browser = new Browser();
    const url = await toCallback(browser, id);
    const confabCookies = new Map(browser.jar.get(new URL(server.url).origin));
    const first = await callback(browser, url);
    expect(first.code).toBeTruthy();
    // The same code and state, with the flow cookie put back (an attacker replaying all of it).
    browser.jar.set(new URL(server.url).origin, confabCookies);
    const replay = await callback(browser, url);
    expect(replay.code).toBeNull();
    expect(replay.error).toMatch(/did not confirm this sign-in/);
  });

  it('exchanges a one-time code once only', async () => {
    const id = person({ email: `once_${randomBytes(4).toString('hex')}@example.test`, email_verified: true });
    const browser = new Browser();
    const { code } = await callback(browser, await toCallback(browser, id));
    expect(code).toBeTruthy();
    const first = await exchange(code!);
    expect(first.status).toBe(200);
    const second = await exchange(code!);
    expect(second.status).toBe(401);
    expect(second.body.error.code).toBe('UNAUTHENTICATED');
    expect((await exchange('not-a-code')).status).toBe(401);
  });

  it('follows the registration setting: closed refuses a new person (linked people still sign in); invite needs an invite link', async () => {
    const linked = person({ email: `linked_${randomBytes(4).toString('hex')}@example.test`, email_verified: true });
    const linkedUser = (await signIn(linked)).body.user;
    expect((await owner.api.patch('/api/admin/settings', { registration: 'closed' })).status).toBe(200);
    try {
      const before = await userCount();
      const stranger = await signIn(person({ email: `closed_${randomBytes(4).toString('hex')}@example.test`, email_verified: true }));
      expect(stranger.error).toMatch(/registration on this server is closed/);
      expect(await userCount()).toBe(before);
      expect((await signIn(linked)).body.user.id).toBe(linkedUser.id);

      expect((await owner.api.patch('/api/admin/settings', { registration: 'invite' })).status).toBe(200);
      const invited = person({ email: `invited_${randomBytes(4).toString('hex')}@example.test`, email_verified: true });
      expect((await signIn(invited)).error).toMatch(/by invitation/);
      const invite = await owner.api.post('/api/admin/invites', {});
      expect(invite.status).toBe(201);
      const withInvite = await signIn(invited, `${server.url}/api/auth/oidc/test/start?invite=${encodeURIComponent(invite.body.token)}`);
      expect(withInvite.status).toBe(200);
      expect(withInvite.body.user.role).toBe('user');
    } finally {
      await owner.api.patch('/api/admin/settings', { registration: 'open' });
    }
  });

  it('refuses a deactivated account', async () => {
    const id = person({ email: `deact_${randomBytes(4).toString('hex')}@example.test`, email_verified: true });
    const user = (await signIn(id)).body.user;
    expect((await owner.api.patch(`/api/admin/users/${user.id}`, { status: 'deactivated' })).status).toBe(200);
    expect((await signIn(id)).error).toMatch(/deactivated/);
  });

  it('lists a person\'s links; unlinks one (audit-logged) unless it is their only way in', async () => {
    const existing = await registerUser(server, 'unlinker');
    const id = person({ email: existing.user.email, email_verified: true, name: 'Unlinker' });
    expect((await signIn(id)).body.user.id).toBe(existing.id);
    const listed = await existing.api.get('/api/users/me/sso');
    expect(listed.status).toBe(200);
    expect(listed.body.links).toEqual([{ provider: 'test', name: 'Test ID', email: existing.user.email.toLowerCase(), linkedAt: expect.any(String) }]);
    // Someone else sees only their own (none).
    expect((await owner.api.get('/api/users/me/sso')).body.links).toEqual([]);
    expect((await owner.api.delete('/api/users/me/sso/test')).status).toBe(404);

    expect((await existing.api.delete('/api/users/me/sso/test')).status).toBe(204);
    expect((await existing.api.get('/api/users/me/sso')).body.links).toEqual([]);
    expect((await existing.api.delete('/api/users/me/sso/test')).status).toBe(404);
    const audit = (await owner.api.get('/api/admin/audit?limit=200')).body.entries.filter((e: any) => e.action === 'sso.unlink' && e.actorId === existing.id);
    expect(audit).toHaveLength(1);
    // No longer linked: a provider that now says the address is unverified does not get in.
    accounts.set(id, { email: existing.user.email, email_verified: false });
    expect((await signIn(id)).error).toMatch(/not linked/);

    // An account made by the provider has no password: its only link stays.
    const only = person({ email: `only_${randomBytes(4).toString('hex')}@example.test`, email_verified: true });
    const made = await signIn(only);
    const api = new Api(server.url, made.body.accessToken);
    const refused = await api.delete('/api/users/me/sso/test');
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('CONFLICT');
    expect((await api.get('/api/users/me/sso')).body.links).toHaveLength(1);
  });

  it('answers an unknown provider with the web app error page', async () => {
    const res = await new Browser().fetch(`${server.url}/api/auth/oidc/nope/start`);
    expect(res.status).toBe(302);
    expect(new URL(location(res)).searchParams.get('error')).toMatch(/no such sign-in provider/);
  });
});

describe('CONFAB_OIDC_* configuration', () => {
  it('reads any number of providers, ids lowercased, the name defaulting to the id', () => {
    expect(
      oidcProviders({
        CONFAB_OIDC_GOOGLE_ISSUER: 'https://accounts.google.com',
        CONFAB_OIDC_GOOGLE_CLIENT_ID: 'gid',
        CONFAB_OIDC_GOOGLE_CLIENT_SECRET: 'gsecret',
        CONFAB_OIDC_GOOGLE_NAME: 'Google',
        CONFAB_OIDC_CORP2_ISSUER: 'http://localhost:8080/realms/corp',
        CONFAB_OIDC_CORP2_CLIENT_ID: 'cid',
        CONFAB_OIDC_CORP2_CLIENT_SECRET: 'csecret',
      }),
    ).toEqual([
      { id: 'corp2', issuer: 'http://localhost:8080/realms/corp', clientId: 'cid', clientSecret: 'csecret', name: 'corp2' },
      { id: 'google', issuer: 'https://accounts.google.com', clientId: 'gid', clientSecret: 'gsecret', name: 'Google' },
    ]);
    expect(oidcProviders({})).toEqual([]);
  });

  it('stops on a missing part, a typo or a plain-http issuer, naming the variable and never the secret', () => {
    expect(() => oidcProviders({ CONFAB_OIDC_X_ISSUER: 'https://id.example.com', CONFAB_OIDC_X_CLIENT_SECRET: 'hunter2' })).toThrow(/CONFAB_OIDC_X_CLIENT_ID must be set/);
    expect(() => oidcProviders({ CONFAB_OIDC_X_ISSUR: 'https://id.example.com' })).toThrow(/CONFAB_OIDC_X_ISSUR is not a single sign-on variable/);
    expect(() => oidcProviders({ CONFAB_OIDC_X_ISSUER: 'http://id.example.com', CONFAB_OIDC_X_CLIENT_ID: 'a', CONFAB_OIDC_X_CLIENT_SECRET: 'hunter2' })).toThrow(/must be an https: URL/);
    try {
      oidcProviders({ CONFAB_OIDC_X_CLIENT_SECRET: 'hunter2' });
    } catch (error) {
      expect(String(error)).not.toContain('hunter2');
    }
  });
});
