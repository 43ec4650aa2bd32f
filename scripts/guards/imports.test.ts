import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const config = join(root, '.dependency-cruiser.cjs');
const depcruise = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation { from: string; to: string; rule: { name: string } }

/** Runs the check `npm run lint` runs, on `target`, from `cwd`; returns the violations of `rule`. */
async function cruise(cwd: string, target: string, rule = 'no-folder-cycle'): Promise<Violation[]> {
  const run = promisify(execFile)(process.execPath, [depcruise, target, '--config', config, '--output-type', 'json'], {
    cwd,
    maxBuffer: 64 * 1024 * 1024,
  });
  // depcruise exits non-zero when it finds violations; the JSON is on stdout either way.
  const { stdout } = await run.catch((error: { stdout?: string }) => {
    if (!error.stdout) throw error;
    return { stdout: error.stdout };
  });
  const result = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  return result.summary.violations.filter((v) => v.rule.name === rule);
}

const edges = (violations: Violation[]) => [...new Set(violations.map((v) => `${v.from} -> ${v.to}`))].sort();

describe('no import cycles between folders', () => {
  it('finds none in the repository', async () => {
    expect(edges(await cruise(root, 'packages'))).toEqual([]);
  });

  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** A throwaway tree laid out like the repository, with the given files. */
  function tree(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'confab-cycles-'));
    dirs.push(dir);
    copyFileSync(join(root, 'tsconfig.base.json'), join(dir, 'tsconfig.base.json'));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    return dir;
  }

  it('fails on a planted cycle between two folders', async () => {
    const dir = tree({
      'packages/server/src/storage/rows.ts': "import type { Seq } from '../operations/seq.ts';\nexport type Row = { seq: Seq };\n",
      'packages/server/src/operations/seq.ts': "import type { Row } from '../storage/rows.ts';\nexport type Seq = number;\nexport type Rows = Row[];\n",
    });
    expect(edges(await cruise(dir, 'packages'))).toEqual([
      'packages/server/src/operations -> packages/server/src/storage',
      'packages/server/src/storage -> packages/server/src/operations',
    ]);
  });


  it('fails on an import against the layers: storage/ upwards, ai/ into operations/, anything but server.ts into assistant/', async () => {
    const dir = tree({
      'packages/server/src/storage/messages.ts': "import { LIMIT } from '../operations/limits.ts';\nexport const n = LIMIT;\n",
      'packages/server/src/operations/limits.ts': 'export const LIMIT = 1;\n',
      'packages/server/src/ai/models.ts': "import { LIMIT } from '../operations/limits.ts';\nexport const m = LIMIT;\n",
      'packages/server/src/realtime/handlers.ts': "import { start } from '../assistant/runner.ts';\nexport const h = start;\n",
      'packages/server/src/assistant/runner.ts': 'export const start = () => 1;\n',
      'packages/server/src/server.ts': "import { start } from './assistant/runner.ts';\nexport const s = start;\n",
    });
    const found = async (rule: string) => (await cruise(dir, 'packages', rule)).map((v) => `${v.from} -> ${v.to}`);
    expect(await found('storage-is-the-bottom')).toEqual(['packages/server/src/storage/messages.ts -> packages/server/src/operations/limits.ts']);
    expect(await found('ai-below-operations')).toEqual(['packages/server/src/ai/models.ts -> packages/server/src/operations/limits.ts']);
    expect(await found('assistant-started-by-server-only')).toEqual(['packages/server/src/realtime/handlers.ts -> packages/server/src/assistant/runner.ts']);
  });
});
