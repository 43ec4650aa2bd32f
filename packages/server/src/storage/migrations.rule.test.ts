/**
 * The rule of docs/operations.md, "Upgrade", checked on the SQL: during a rolling upgrade the first
 * node of a new release migrates the database while nodes of the release before still serve, so a
 * migration may only expand the schema. It may add tables, indexes, nullable columns or columns with
 * a default, and new functions (or overloads); it may not drop, rename or retype what the release
 * before reads or writes, nor make a column it does not fill required. Removing something takes two
 * releases: the first stops using it, the next drops it (expand, then contract).
 *
 * Every migration shipped so far keeps the rule, so it is checked on all of them. A contract step,
 * dropping what the release before already stopped using, goes in CONTRACTS with its reason.
 * upgrade.multinode.test.ts runs the release before against the migrated database.
 */
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from './migrations.ts';

/** version → why dropping or changing there is safe (what the release before it no longer uses). */
const CONTRACTS: Record<number, string> = {};

const FORBIDDEN: Array<[RegExp, string]> = [
  [/\bDROP\s+(COLUMN|TABLE|VIEW|FUNCTION|TYPE)\b/i, 'drops what the release before may use'],
  [/\bRENAME\b/i, 'renames what the release before uses by its old name'],
  [/\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b/i, "changes a column's type under the release before"],
  [/\bSET\s+NOT\s+NULL\b/i, 'makes a column required that the release before does not fill'],
];

/** The SQL without its comments (they explain, and may well say "rename"). */
const code = (sql: string) => sql.replace(/--[^\n]*/g, '');

/** What in `sql` breaks the release before: each a phrase, empty when it keeps the rule. */
function breaksPreviousRelease(sql: string): string[] {
  const text = code(sql);
  const found = FORBIDDEN.filter(([pattern]) => pattern.test(text)).map(([pattern, why]) => `${pattern.exec(text)![0]}: ${why}`);
  // A column added NOT NULL without a default: the release before inserts rows without it.
  for (const m of text.matchAll(/\bADD\s+COLUMN\s+[^,;]*/gi)) {
    if (/\bNOT\s+NULL\b/i.test(m[0]) && !/\bDEFAULT\b/i.test(m[0])) found.push(`${m[0].trim()}: required, with no default, for rows the release before inserts`);
  }
  return found;
}

describe('migrations keep the release before working (expand, then contract)', () => {
  it('no migration drops, renames or retypes a column or table, or adds a required column without a default', () => {
    const broken = MIGRATIONS.filter((m) => !(m.version in CONTRACTS)).flatMap((m) => breaksPreviousRelease(m.sql).map((why) => `migration ${m.version} (${m.name}): ${why}`));
    expect(broken).toEqual([]);
  });

  it('the check finds each kind of breaking change, and lets expanding ones through', () => {
    expect(breaksPreviousRelease('ALTER TABLE messages DROP COLUMN model;')).toHaveLength(1);
    expect(breaksPreviousRelease('DROP TABLE IF EXISTS uploads;')).toHaveLength(1);
    expect(breaksPreviousRelease('ALTER TABLE messages RENAME COLUMN content_enc TO body_enc;')).toHaveLength(1);
    expect(breaksPreviousRelease('ALTER TABLE users RENAME TO people;')).toHaveLength(1);
    expect(breaksPreviousRelease('ALTER TABLE messages ALTER COLUMN seq TYPE bigint;')).toHaveLength(1);
    expect(breaksPreviousRelease('ALTER TABLE messages ALTER COLUMN seq SET DATA TYPE bigint;')).toHaveLength(1);
    expect(breaksPreviousRelease('ALTER TABLE messages ALTER COLUMN model SET NOT NULL;')).toHaveLength(1);
    expect(breaksPreviousRelease('ALTER TABLE messages ADD COLUMN lang text NOT NULL;')).toHaveLength(1);
    expect(breaksPreviousRelease('DROP FUNCTION confab_store_sends(text[]);')).toHaveLength(1);
    // Expanding: allowed.
    expect(breaksPreviousRelease('ALTER TABLE messages ADD COLUMN lang text;')).toEqual([]);
    expect(breaksPreviousRelease("ALTER TABLE messages ADD COLUMN lang text NOT NULL DEFAULT 'en';")).toEqual([]);
    expect(breaksPreviousRelease('CREATE TABLE t (id text PRIMARY KEY, n integer NOT NULL); CREATE INDEX t_n ON t (n);')).toEqual([]);
    expect(breaksPreviousRelease('-- we never rename or DROP COLUMN here\nALTER TABLE t ADD COLUMN x integer;')).toEqual([]);
  });
});
