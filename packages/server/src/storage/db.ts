import { mkdirSync } from 'node:fs';
import type { Pool, PoolClient } from 'pg';

/** Anything that runs SQL: the database itself or an open transaction. */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface QueryOptions {
  /**
   * PostgreSQL: run as a named prepared statement, parsed once per pooled connection and, once
   * PostgreSQL finds a generic plan as good as planning each call, planned once too. Parsing and
   * planning were most of the cost of a small statement: a lone send's insert took 607 µs of
   * PostgreSQL CPU unprepared, 233 µs prepared (.probe measurements in bench/lib/analysis.md).
   * Only for hot statements whose text is fixed (each distinct text stays prepared on every
   * connection) and whose best plan does not depend on the parameters. PGlite ignores it.
   */
  prepare?: boolean;
}

/** Prepared statements are named after their text: one name per distinct text, the same on every connection. */
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) statementNames.set(sql, (name = `confab_${statementNames.size + 1}`));
  return name;
}

/**
 * One SQL dialect (PostgreSQL), two drivers: PGlite embedded in DATA_DIR, or a real PostgreSQL.
 * Operations only see this interface, so the same tests run on both.
 */
export interface Database extends Queryable {
  readonly kind: 'embedded' | 'postgres';
  /**
   * Runs `fn` in one transaction. `snapshot: true` makes it REPEATABLE READ and READ ONLY: every
   * statement sees the same snapshot (on PostgreSQL in the BEGIN itself, saving a round trip).
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, opts?: { snapshot?: boolean }): Promise<T>;
  close(): Promise<void>;
}

// Each driver is loaded when its database is opened: a server needs one of them, never both.

export async function openPostgres(url: string, poolSize = 20): Promise<Database> {
  const { default: pg } = await import('pg');
  // PostgreSQL sends int8 and numeric as strings; our int8 values (counts) fit in a double.
  pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // A pool error on an idle client must not crash the process; the next query reports it.
  pool.on('error', () => {});
  const run = async <T>(client: Pool | PoolClient, sql: string, params?: unknown[], opts?: QueryOptions) =>
    (await client.query({ text: sql, values: params ?? [], ...(opts?.prepare ? { name: statementName(sql) } : {}) })).rows as T[];
  return {
    kind: 'postgres',
    query: (sql, params, opts) => run(pool, sql, params, opts),
    exec: async (sql) => void (await pool.query(sql)),
    async transaction(fn, opts) {
      const client = await pool.connect();
      try {
        await client.query(opts?.snapshot ? 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY' : 'BEGIN');
        const result = await fn({
          query: (sql, params, opts) => run(client, sql, params, opts),
          exec: async (sql) => void (await client.query(sql)),
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    close: () => pool.end(),
  };
}

/**
 * PGlite is a single database session. Its own `transaction()` holds an exclusive lock that plain
 * queries also wait for, so concurrent transactions cannot interleave (sending BEGIN/COMMIT as
 * plain queries would let them).
 */
export async function openEmbedded(dir: string): Promise<Database> {
  mkdirSync(dir, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create(dir);
  return {
    kind: 'embedded',
    query: async (sql, params) => (await db.query(sql, params)).rows as never[],
    exec: async (sql) => void (await db.exec(sql)),
    transaction: (fn, opts) =>
      db.transaction(async (tx) => {
        // PGlite runs one transaction at a time, so every one sees a single snapshot anyway.
        if (opts?.snapshot) await tx.query('SET TRANSACTION READ ONLY');
        return fn({
          query: async (sql, params) => (await tx.query(sql, params)).rows as never[],
          exec: async (sql) => void (await tx.exec(sql)),
        });
      }),
    close: () => db.close(),
  };
}
