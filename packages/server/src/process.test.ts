import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServerProcess } from './test/processes.ts';

describe('server process', () => {
  it('starts on the embedded database, migrates, answers /readyz, stops gracefully on SIGTERM, and starts again built', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'confab-proc-'));
    try {
      const { child, url, exited, waitFor } = startServerProcess({ DATA_DIR: dataDir, DATABASE_URL: '' });
      const base = await url;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      // A request in flight when SIGTERM arrives still completes.
      const inFlight = fetch(`${base}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'late@example.test', password: 'long enough password', handle: 'late', displayName: 'Late' }),
      });
      await waitFor(/"route":"\/api\/auth\/register".*"msg":"incoming request"/);
      child.kill('SIGTERM');
      expect((await inFlight).status).toBe(201);
      expect(await exited).toBe(0);

      // Restart on the same DATA_DIR, now the built server that `npm start` runs (npm ci builds
      // it): the account and the generated secret survive, and it serves the web app.
      const again = startServerProcess({ DATA_DIR: dataDir, DATABASE_URL: '' }, { built: true });
      const base2 = await again.url;
      const page = await fetch(`${base2}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="root">');
      const login = await fetch(`${base2}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'late@example.test', password: 'long enough password' }),
      });
      expect(login.status).toBe(200);
      again.child.kill('SIGINT');
      expect(await again.exited).toBe(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
