import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestDatabase } from '../test/harness.ts';
import type { Database } from './db.ts';

// The driver under test: PostgreSQL when CONFAB_TEST_DATABASE_URL is set, else the embedded one.
let db: Database;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ db, close: cleanup } = await openTestDatabase());
  await db.exec('CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL); INSERT INTO counter VALUES (1, 0); CREATE TABLE notes (id int PRIMARY KEY, note text NOT NULL)');
});
afterAll(() => cleanup?.());

describe(`database driver (${process.env.CONFAB_TEST_DATABASE_URL ? 'PostgreSQL' : 'embedded'})`, () => {
  it('runs concurrent read-increment-write transactions without losing one', async () => {
    await Promise.all(
      Array.from({ length: 50 }, () =>
        db.transaction(async (tx) => {
          const [row] = await tx.query<{ n: number }>('SELECT n FROM counter WHERE id = 1 FOR UPDATE');
          await tx.query('UPDATE counter SET n = $1 WHERE id = 1', [row!.n + 1]);
        }),
      ),
    );
    const [row] = await db.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
    expect(row!.n).toBe(50);
  });

  it('keeps plain queries out of an open transaction: a rollback undoes only its own writes', async () => {
    let insideStarted!: () => void;
    const started = new Promise<void>((resolve) => (insideStarted = resolve));
    const failing = db.transaction(async (tx) => {
      await tx.query('INSERT INTO notes VALUES (1, $1)', ['inside']);
      insideStarted();
      // Give the plain insert below every chance to be sent while this transaction is open.
      await new Promise((resolve) => setTimeout(resolve, 50));
      throw new Error('changed my mind');
    });
    await started;
    const outside = db.query('INSERT INTO notes VALUES (2, $1)', ['outside']);
    await expect(failing).rejects.toThrow('changed my mind');
    await outside;
    expect(await db.query('SELECT id, note FROM notes ORDER BY id')).toEqual([{ id: 2, note: 'outside' }]);
  });

  it('reports PostgreSQL errors with their code, and goes on working after one', async () => {
    const error = await db.query('INSERT INTO notes VALUES (2, $1)', ['again']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: '23505' });
    expect((error as Error).message).toMatch(/duplicate key/);
    const failed = await db.transaction((tx) => tx.query('SELECT * FROM no_such_table')).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: '42P01' });
    expect(await db.query<{ n: number }>('SELECT count(*)::int AS n FROM notes')).toEqual([{ n: 1 }]);
  });

  it('returns dates, JSON and arrays as values', async () => {
    const [row] = await db.query<{ at: Date; doc: { a: number[] }; ids: string[] }>(
      `SELECT '2026-01-02T03:04:05Z'::timestamptz AS at, '{"a":[1,2]}'::jsonb AS doc, ARRAY['x','y'] AS ids`,
    );
    expect(row!.at).toBeInstanceOf(Date);
    expect(row!.at.toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(row!.doc).toEqual({ a: [1, 2] });
    expect(row!.ids).toEqual(['x', 'y']);
  });

  it('keeps the event loop free while a statement runs', async () => {
    // ~0.3 s of SQL. The embedded database runs in a worker thread: timers here keep firing.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    await db.query('SELECT count(*) FROM generate_series(1, 3000000)');
    const elapsed = performance.now() - started;
    clearInterval(timer);
    // A blocked loop would see one tick at most; allow a slow machine a third of the ideal count.
    expect(ticks).toBeGreaterThan(Math.floor(elapsed / 5 / 3));
    expect(ticks).toBeGreaterThan(3);
  });
});
