import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const config = join(root, '.dependency-cruiser.cjs');
const depcruise = join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
const known = createRequire(import.meta.url)('./knownFolderCycles.cjs') as Array<[string, string]>;

interface Violation { from: string; to: string; rule: { name: string } }

/** Runs the check `npm run lint` runs, on `target`, from `cwd`; returns its folder-cycle violations. */
async function cruise(cwd: string, target: string, env: Record<string, string> = {}): Promise<Violation[]> {
  const run = promisify(execFile)(process.execPath, [depcruise, target, '--config', config, '--output-type', 'json'], {
    cwd,
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  // depcruise exits non-zero when it finds violations; the JSON is on stdout either way.
  const { stdout } = await run.catch((error: { stdout?: string }) => {
    if (!error.stdout) throw error;
    return { stdout: error.stdout };
  });
  const result = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  return result.summary.violations.filter((v) => v.rule.name === 'no-folder-cycle');
}

const edges = (violations: Violation[]) => [...new Set(violations.map((v) => `${v.from} -> ${v.to}`))].sort();

describe('no import cycles between folders', () => {
  it('lists exactly the cycles that exist today, so the allow-list only shrinks', async () => {
    const all = await cruise(root, 'packages', { CONFAB_KNOWN_CYCLES: 'none' });
    expect(edges(all)).toEqual(known.map(([from, to]) => `${from} -> ${to}`).sort());
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

  it('allows a listed cycle, but fails a new cycle through a folder that has one', async () => {
    const listed = {
      'packages/server/src/ai/runner.ts': "import { send } from '../operations/messages.ts';\nexport const answer = () => send();\n",
      'packages/server/src/operations/messages.ts': "import { answer } from '../ai/runner.ts';\nexport const send = (): unknown => answer;\n",
    };
    // The repository's own list is empty now: the test lists this cycle itself.
    const list = { CONFAB_KNOWN_CYCLES: JSON.stringify([['packages/server/src/ai', 'packages/server/src/operations'], ['packages/server/src/operations', 'packages/server/src/ai']]) };
    expect(await cruise(tree(listed), 'packages', list)).toEqual([]);
    const planted = tree({
      ...listed,
      'packages/server/src/ai/sql.ts': "import { q } from '../storage/q.ts';\nexport const run = () => q;\n",
      'packages/server/src/storage/q.ts': "import { run } from '../ai/sql.ts';\nexport const q = (): unknown => run;\n",
    });
    expect(edges(await cruise(planted, 'packages', list))).toEqual([
      'packages/server/src/ai -> packages/server/src/storage',
      'packages/server/src/storage -> packages/server/src/ai',
    ]);
  });
});
