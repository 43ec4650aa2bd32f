import { ESLint, type Linter } from 'eslint';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
// The same config eslint.config.js spreads (a JavaScript module, loaded as such).
const { sqlOutsideStorage } = (await import(pathToFileURL(resolve(root, 'scripts/guards/sqlOutsideStorage.js')).href)) as {
  sqlOutsideStorage: Linter.Config[];
};

// Only the guard's rule, with a parser that needs no TypeScript project, so planted files need not exist.
const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: true,
  overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...sqlOutsideStorage],
});

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(root, filePath) });
  return result!.messages.map((m) => `${m.line}: ${m.ruleId ?? m.message}`);
}

const SQL_TEXT = [
  "export const a = 'SELECT id FROM users WHERE id = $1';",
  'export const b = `\n  INSERT INTO messages (id) VALUES ($1)`;',
  'export const c = `UPDATE users SET name = ${"$1"}`;',
  "export const d = \"DELETE FROM sessions\";",
  'export const e = `WITH x AS (SELECT 1) SELECT * FROM x`;',
  'export async function f(db: { query(sql: string): Promise<unknown> }, sql: string) { return db.query(sql); }',
].join('\n');

describe('no SQL outside storage/', () => {
  it('fails on a planted file with SQL in realtime/', async () => {
    expect(await problems('packages/server/src/realtime/planted.ts', SQL_TEXT)).toEqual([
      '1: no-restricted-syntax',
      '2: no-restricted-syntax',
      '4: no-restricted-syntax',
      '5: no-restricted-syntax',
      '6: no-restricted-syntax',
      '7: no-restricted-syntax',
    ]);
  });

  it('fails on SQL in operations/ and ai/ too', async () => {
    expect(await problems('packages/server/src/operations/newThing.ts', "export const a = 'SELECT 1';")).toEqual(['1: no-restricted-syntax']);
    expect(await problems('packages/server/src/assistant/newThing.ts', "export const a = 'SELECT 1';")).toEqual(['1: no-restricted-syntax']);
  });

  it('allows SQL in storage/, in tests and in test helpers', async () => {
    expect(await problems('packages/server/src/storage/messagesTable.ts', SQL_TEXT)).toEqual([]);
    expect(await problems('packages/server/src/realtime/planted.test.ts', SQL_TEXT)).toEqual([]);
    expect(await problems('packages/server/src/test/helper.ts', SQL_TEXT)).toEqual([]);
  });


  it('passes words that merely start like SQL, and strings that are not SQL', async () => {
    const code = [
      "export const a = 'Selected 3 messages';",
      "export const b = 'DELETE';",
      "export const c = 'update available';",
      'export const d = `with ${1} more`;',
      "export const e = new URLSearchParams('a=1').get('query');",
    ].join('\n');
    expect(await problems('packages/server/src/realtime/planted.ts', code)).toEqual([]);
  });
});
