import { afterAll, beforeAll } from 'vitest';
import { startTestServer, type TestServer } from '../packages/server/src/test/harness.ts';
import { ensureBuilt, launchBrowser, signUp, type BrowserHandle, type WebUser } from './helpers.ts';

/**
 * One browser test file's web app: a server (from `startServer`; a plain test server by default)
 * and Debian's Chromium, started before the file's tests and closed after them together with every
 * person signed up through `person`. `server` and `chrome` are set once the tests run.
 */
export function webApp(startServer: () => Promise<TestServer> = () => startTestServer()) {
  const users: WebUser[] = [];
  const app = {
    server: undefined as unknown as TestServer,
    chrome: undefined as unknown as BrowserHandle,
    /** Everyone `person` signed up, in order. */
    users: users as readonly WebUser[],
    /** A new person (a browser context of their own) who signs up through the UI. */
    async person(name: string, viewport?: { width: number; height: number }): Promise<WebUser> {
      const u = await signUp(app.chrome.browser, app.server.url, name, viewport);
      users.push(u);
      return u;
    },
  };
  beforeAll(async () => {
    ensureBuilt();
    app.server = await startServer();
    app.chrome = await launchBrowser();
  }, 180_000);
  afterAll(async () => {
    for (const u of users) await u.context.close().catch(() => {});
    await app.chrome?.close();
    await app.server?.close();
  });
  return app;
}
