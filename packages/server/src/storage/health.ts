// The database's part of the readiness probe (issue #17, item 2: SQL only in storage/).
import type { Queryable } from './db.ts';

/** Resolves once the database answered a trivial statement; rejects if it cannot. */
export async function ping(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}
