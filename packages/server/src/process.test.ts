import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Starts `main.ts` as `npm start` would and resolves with the URL it prints. */
function start(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', main], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let out = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  /** Resolves with the first match of `pattern` in the process's output. */
  const waitFor = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = pattern.exec(out);
        if (m) {
          child.stdout.off('data', check);
          resolve(m);
        }
      };
      child.stdout.on('data', check);
      void exited.then((code) => reject(new Error(`exited with ${code}: ${stderr}`)));
      check();
    });
  const url = waitFor(/Confab listening on (http:\/\/\S+)/).then((m) => m[1]!);
  return { child, url, exited, waitFor };
}

describe('server process', () => {
  it('starts on the embedded database, migrates, answers /readyz, and stops gracefully on SIGTERM', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'confab-proc-'));
    try {
      const { child, url, exited, waitFor } = start({ PORT: '0', DATA_DIR: dataDir, DATABASE_URL: '' });
      const base = await url;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      // A request in flight when SIGTERM arrives still completes.
      const inFlight = fetch(`${base}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'late@example.test', password: 'long enough password', handle: 'late', displayName: 'Late' }),
      });
      await waitFor(/"url":"\/api\/auth\/register".*"msg":"incoming request"|"msg":"incoming request".*"url":"\/api\/auth\/register"/);
      child.kill('SIGTERM');
      expect((await inFlight).status).toBe(201);
      expect(await exited).toBe(0);

      // Restart on the same DATA_DIR: the account and the generated secret survive.
      const again = start({ PORT: '0', DATA_DIR: dataDir, DATABASE_URL: '' });
      const base2 = await again.url;
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
