import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Pool, PoolClient } from 'pg';
import { lockDirectory } from './dirLock.ts';

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
   * planning were most of the cost of a small statement: preparing cut a lone send's insert to
   * well under half its PostgreSQL CPU (docs/benchmarks.md, fifth round).
   * Only for hot statements whose text is fixed (each distinct text stays prepared on every
   * connection) and whose best plan does not depend on the parameters.
   * PGlite: prepared once in its session, like a connection of the pool (embeddedWorker.js). There a
   * statement's parsing and planning cost several times its execution: a plain send's insert took
   * about a quarter of the CPU prepared (docs/benchmarks.md, eighth round).
   */
  prepare?: boolean;
}

/**
 * Prepared statements are named after a hash of their text: the same name for the same text in
 * every process. Behind a pooler, a server connection may hold statements another Confab process
 * prepared; a name that meant different text there would run the wrong statement.
 */
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (name === undefined) statementNames.set(sql, (name = `confab_${createHash('sha256').update(sql).digest('hex').slice(0, 32)}`));
  return name;
}

/**
 * The errors of a named prepared statement run through a pooler in transaction mode (PgBouncer
 * before 1.21, or with max_prepared_statements = 0): the statement was prepared on another server
 * connection (26000), or this one has it already (42P05).
 */
const POOLER_STATEMENT_ERRORS = new Set(['26000', '42P05']);
const isPoolerStatementError = (error: unknown) => POOLER_STATEMENT_ERRORS.has((error as { code?: string }).code ?? '');

export interface PostgresOptions {
  poolSize?: number;
  /** Named prepared statements (QueryOptions.prepare); off behind a transaction-mode pooler. */
  preparedStatements?: boolean;
  /** Told once, when a pooler's refusal of named statements turned them off. */
  onPreparedStatementsOff?: (error: Error) => void;
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
  /**
   * Embedded only: runs `fn` while no other statement reaches the database (every query and
   * transaction waits until it ends, none is refused). The consistent backup (backup/backup.ts)
   * checkpoints and copies the database's folder in it.
   */
  exclusive?<T>(fn: (session: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// Each driver is loaded when its database is opened: a server needs one of them, never both.

/**
 * A real PostgreSQL, directly or through a pooler. Named prepared statements are used unless
 * `preparedStatements` is false; when a transaction-mode pooler refuses one anyway, they are turned
 * off for this process and the query (or the whole transaction, which the error aborted before it
 * could commit) runs once more without them.
 */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<Database> {
  const { default: pg } = await import('pg');
  // PostgreSQL sends int8 and numeric as strings; our int8 values (counts) fit in a double.
  pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));
  const pool = new pg.Pool({ connectionString: url, max: options.poolSize ?? 20 });
  // A pool error on an idle client must not crash the process; the next query reports it.
  pool.on('error', () => {});
  let prepared = options.preparedStatements ?? true;
  /** True when this error means the pooler refused named statements (and they are off from now on). */
  const turnedOff = (error: unknown): boolean => {
    if (!isPoolerStatementError(error)) return false;
    if (prepared) {
      prepared = false;
      options.onPreparedStatementsOff?.(error as Error);
    }
    return true;
  };
  const run = async <T>(client: Pool | PoolClient, sql: string, params?: unknown[], opts?: QueryOptions) =>
    (await client.query({ text: sql, values: params ?? [], ...(opts?.prepare && prepared ? { name: statementName(sql) } : {}) })).rows as T[];
  const transaction = async <T>(fn: (tx: Queryable) => Promise<T>, opts?: { snapshot?: boolean }): Promise<T> => {
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
  };
  return {
    kind: 'postgres',
    async query(sql, params, opts) {
      try {
        return await run(pool, sql, params, opts);
      } catch (error) {
        if (opts?.prepare && turnedOff(error)) return run(pool, sql, params, opts);
        throw error;
      }
    },
    exec: async (sql) => void (await pool.query(sql)),
    async transaction(fn, opts) {
      try {
        return await transaction(fn, opts);
      } catch (error) {
        if (turnedOff(error)) return transaction(fn, opts);
        throw error;
      }
    },
    close: () => pool.end(),
  };
}

/**
 * PGlite, the embedded database, runs in a worker thread (embeddedWorker.js). It is PostgreSQL
 * compiled to WebAssembly and every statement runs synchronously: on the server's own thread a
 * batch of sends held the event loop for milliseconds, during which no socket was read or written,
 * and SQL and sockets shared one core of the two. In its own thread it runs beside them.
 *
 * PGlite is a single database session: statements run one at a time, in the order they are sent.
 * A transaction is BEGIN … COMMIT on that session, so while one is open nothing else may be sent
 * (it would run inside it): plain queries wait for it to end, and transactions wait for each other.
 */
export async function openEmbedded(dir: string): Promise<Database> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const unlock = lockDirectory(path.join(dir, 'confab.lock'), `the embedded database in ${dir}`);
  const worker = new Worker(new URL('./embeddedWorker.js', import.meta.url), { workerData: { dir } });
  const pending = new Map<number, { resolve: (rows: never[]) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let failed: Error | undefined;
  // Keeps the process alive only while an answer is awaited: an idle database holds nothing open.
  worker.unref();
  const settle = (id: number) => {
    const waiter = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) worker.unref();
    return waiter;
  };
  worker.on('message', (answer: { id: number; rows?: never[]; error?: { message: string } & Record<string, unknown> }) => {
    const waiter = settle(answer.id);
    if (answer.error) waiter?.reject(Object.assign(new Error(answer.error.message), answer.error));
    else waiter?.resolve(answer.rows ?? []);
  });
  const fail = (error: Error) => {
    failed ??= error;
    for (const id of [...pending.keys()]) settle(id)?.reject(error);
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the embedded database stopped (worker exit ${code})`)));

  const send = (op: 'query' | 'prepared' | 'exec' | 'close', sql?: string, params?: unknown[]): Promise<never[]> =>
    new Promise((resolve, reject) => {
      if (failed) return reject(failed);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      if (pending.size === 1) worker.ref();
      worker.postMessage({ id, op, sql, params });
    });

  // The open transaction's end, while one is open; transactions queue behind `lastTransaction`.
  let open: Promise<void> | undefined;
  let lastTransaction: Promise<void> = Promise.resolve();
  const outsideTransactions = async () => {
    // Re-checked after waking: the next transaction may have begun in the meantime.
    while (open) await open;
  };
  const session: Queryable = {
    query: async (sql, params, opts) => send(opts?.prepare ? 'prepared' : 'query', sql, params),
    exec: async (sql) => void (await send('exec', sql)),
  };

  /** Runs `fn` with the session to itself: after the transactions before it, with plain queries held until it ends. */
  const alone = async <T>(fn: () => Promise<T>): Promise<T> => {
    const previous = lastTransaction;
    let done!: () => void;
    lastTransaction = new Promise((resolve) => (done = resolve));
    try {
      await previous;
      await outsideTransactions();
      let end!: () => void;
      // Set in the same turn as the check above: no plain query can slip in before fn's first statement.
      open = new Promise((resolve) => (end = resolve));
      try {
        return await fn();
      } finally {
        open = undefined;
        end();
      }
    } finally {
      done();
    }
  };

  try {
    await send('exec', 'SELECT 1'); // the database opened (or the reason it did not)
  } catch (error) {
    await worker.terminate();
    unlock();
    throw error;
  }
  return {
    kind: 'embedded',
    query: async (sql, params, opts) => {
      await outsideTransactions();
      return send(opts?.prepare ? 'prepared' : 'query', sql, params);
    },
    exec: async (sql) => {
      await outsideTransactions();
      await send('exec', sql);
    },
    async transaction(fn, opts) {
      return alone(async () => {
        // One session runs one transaction at a time, so every one sees a single snapshot anyway.
        await send('exec', opts?.snapshot ? 'BEGIN READ ONLY' : 'BEGIN');
        try {
          const result = await fn(session);
          await send('exec', 'COMMIT');
          return result;
        } catch (error) {
          await send('exec', 'ROLLBACK').catch(() => {});
          throw error;
        }
      });
    },
    exclusive: (fn) => alone(() => fn(session)),
    async close() {
      await lastTransaction;
      await outsideTransactions();
      await send('close').catch(() => {});
      await worker.terminate();
      unlock();
    },
  };
}
