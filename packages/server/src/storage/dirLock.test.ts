import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openEmbedded } from './db.ts';
import { lockDirectory } from './dirLock.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'confab-lock-'));
  dirs.push(d);
  return d;
};

describe('the embedded database lock', () => {
  it('refuses a second opening while the first is open, and allows it after close', async () => {
    const dir = tempDir();
    const first = await openEmbedded(dir);
    await expect(openEmbedded(dir)).rejects.toThrow(/is in use by process \d+/);
    await first.close();
    const again = await openEmbedded(dir);
    await again.close();
  });

  it('refuses while another running process holds it, and takes over a lock its holder left behind', async () => {
    const file = path.join(tempDir(), 'confab.lock');
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(file, String(other.pid));
      expect(() => lockDirectory(file, 'the thing')).toThrow(`the thing is in use by process ${other.pid}`);
    } finally {
      other.kill('SIGKILL');
    }
    // A process that has ended: its lock is stale.
    const ended = spawnSync('true');
    writeFileSync(file, String(ended.pid));
    const release = lockDirectory(file, 'the thing');
    expect(readFileSync(file, 'utf8')).toBe(String(process.pid));
    release();
  });
});
