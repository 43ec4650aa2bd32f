import { readFileSync } from 'node:fs';
import path from 'node:path';
import { VARIABLES, type Variable } from './config.ts';

/**
 * The configuration tables of the docs, generated from config.ts's table so they cannot drift:
 * `npm run docs:config` rewrites them, config.test.ts fails when they differ. Each sits between
 * two marker comments; everything around them is written by hand.
 */
export const CONFIG_DOCS: ReadonlyArray<{ file: string; group?: 'ai' }> = [{ file: 'README.md' }, { file: 'docs/ai.md', group: 'ai' }];

export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

const START = '<!-- config-table:start (generated from packages/server/src/config.ts by `npm run docs:config`; edit there) -->';
const END = '<!-- config-table:end -->';

function shownDefault(spec: Variable<unknown, unknown>): string {
  if (spec.shown !== undefined) return spec.shown;
  const value = spec.default;
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return 'unset';
  return `\`${String(value)}\``;
}

/** The table in Markdown: every variable, or those of one group. */
export function configTable(group?: 'ai'): string {
  const rows = (Object.entries(VARIABLES) as Array<[string, Variable<unknown, unknown>]>)
    .filter(([, spec]) => group === undefined || spec.group === group)
    .map(([name, spec]) => `| \`${name}\` | ${spec.kind.type} | ${shownDefault(spec)} | ${spec.doc.replaceAll('|', '\\|')} |`);
  return ['| variable | type | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** `text` with the part between the markers replaced by the table; throws when the markers are missing. */
export function withConfigTable(text: string, group?: 'ai'): string {
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`no configuration table markers (${START} … ${END})`);
  return `${text.slice(0, start)}${START}\n${configTable(group)}\n${text.slice(end)}`;
}

/** Each document as it is, and as it should be. */
export function configDocs(): Array<{ file: string; current: string; expected: string }> {
  return CONFIG_DOCS.map(({ file, group }) => {
    const current = readFileSync(path.join(REPO_ROOT, file), 'utf8');
    return { file, current, expected: withConfigTable(current, group) };
  });
}
