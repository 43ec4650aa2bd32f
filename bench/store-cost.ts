/**
 * What storing a send costs the database, per row, by batch size: `confab_store_sends` (the group
 * commit of operations/sendBatch.ts) called back to back into C conversations with B sends per
 * call, on a fresh database with the real schema. Reports wall time and the database's CPU per
 * row (the PostgreSQL backend's, read from /proc; for PGlite this process's). The table grows as
 * it runs, as in the benchmarks: a plan that degrades with the size of a conversation shows here.
 *   node --import tsx bench/store-cost.ts [--db postgres|embedded] [--batch 1,10,30,100] [--rows 30000]
 *                                         [--conversations 1] [--function 6|4]
 * `--function 4` measures migration 4's version of the function (before this round) on the same
 * schema, for comparison. PostgreSQL at CONFAB_TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { MIGRATIONS } from '../packages/server/src/storage/migrations.ts';
import { createPostgresDatabase } from '../packages/server/src/test/harness.ts';
import { searchTerms } from '../packages/server/src/search/terms.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'postgres' },
    batch: { type: 'string', default: '1,10,30,100' },
    rows: { type: 'string', default: '30000' },
    conversations: { type: 'string', default: '1' },
    function: { type: 'string', default: '6' },
  },
});
const adminUrl = process.env.CONFAB_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const conversations = Number(values.conversations);
const CONTENT = 'fan-out test message — about as long as a short chat line, sent to everyone in the room';
const terms = `{${searchTerms(Buffer.alloc(32, 7), 'bench-conversation', CONTENT).join(',')}}`;
// As long as a real encrypted value of CONTENT (v1.<key id>.<iv>.<tag>.<ciphertext>).
const contentEnc = `v1.abcdefgh.${'x'.repeat(16)}.${'y'.repeat(22)}.${'z'.repeat(120)}`;
const COLUMNS = 'm.id, m.conversation_id, m.seq, m.updated_seq, m.author_id, m.client_id, m.kind, m.content_enc, m.reply_to_id, m.attachments, m.status, m.model, m.created_at, m.edited_at, m.deleted_at, m.status_reason';

interface Session {
  query(sql: string, params?: unknown[]): Promise<unknown>;
  exec(sql: string): Promise<unknown>;
  /** CPU milliseconds the database has used so far. */
  cpuMs(): number;
  close(): Promise<void>;
}

async function openSession(): Promise<Session> {
  if (values.db === 'embedded') {
    const dir = mkdtempSync(path.join(tmpdir(), 'confab-store-cost-'));
    const db = await PGlite.create(dir);
    return {
      query: (sql, params) => db.query(sql, params),
      exec: (sql) => db.exec(sql),
      cpuMs: () => {
        const u = process.cpuUsage();
        return (u.user + u.system) / 1000;
      },
      close: async () => {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const created = await createPostgresDatabase(adminUrl);
  // One connection, so that the backend whose CPU is read is the one that does the work.
  const client = new pg.Client(created.url);
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const pid = rows[0]!.pid;
  return {
    query: (sql, params) => client.query(sql, params),
    exec: (sql) => client.query(sql),
    cpuMs: () => {
      // utime + stime in clock ticks (100 per second) of the backend serving this connection.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    close: async () => {
      await client.end();
      await created.drop();
    },
  };
}

async function measure(batch: number): Promise<void> {
  const db = await openSession();
  try {
    for (const m of MIGRATIONS) await db.exec(m.sql);
    if (values.function === '4') {
      const v4 = MIGRATIONS.find((m) => m.version === 4)!.sql;
      await db.exec(v4.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'));
    }
    await db.exec(`INSERT INTO users (id, handle, display_name) SELECT 'u' || g, 'u' || g, 'U' FROM generate_series(1, 10) g;
      INSERT INTO conversations (id, type) SELECT 'c' || g, 'group' FROM generate_series(1, ${conversations}) g;
      INSERT INTO conversation_members (conversation_id, user_id, role)
        SELECT 'c' || c, 'u' || g, 'member' FROM generate_series(1, 10) g, generate_series(1, ${conversations}) c;`);
    let k = 0;
    const call = async () => {
      const columns: string[][] = [[], [], [], [], [], [], []];
      for (let i = 0; i < batch; i++) {
        k++;
        const row = [`m${k}`, `c${1 + (k % conversations)}`, `u${1 + (k % 10)}`, `k${k}`, 'text', contentEnc, terms];
        row.forEach((v, j) => columns[j]!.push(v));
      }
      await db.query(`SELECT ${COLUMNS} FROM confab_store_sends($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) m`, columns);
    };
    const calls = Math.max(20, Math.ceil(Number(values.rows) / batch));
    for (let i = 0; i < 20; i++) await call(); // warm-up: caches, plans
    const cpu0 = db.cpuMs();
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) {
      await call();
      // Progress on a terminal only: in a log, carriage returns would pile up into one long line.
      if (process.stderr.isTTY && i % 100 === 99) process.stderr.write(`\r  batch ${batch}: ${i + 1} / ${calls} calls`);
    }
    const rows = calls * batch;
    const wallUs = ((performance.now() - t0) * 1000) / rows;
    const cpuUs = ((db.cpuMs() - cpu0) * 1000) / rows;
    if (process.stderr.isTTY) process.stderr.write('\r');
    console.log(`${values.db}, function v${values.function}, ${conversations} conversation(s), batches of ${batch}: ${rows} rows, ${wallUs.toFixed(1)} µs wall and ${cpuUs.toFixed(1)} µs database CPU per row`);
  } finally {
    await db.close();
  }
}

for (const batch of values.batch.split(',').map(Number)) await measure(batch);
process.exit(0);
