/**
 * What each node's once-a-second reconcile costs (realtime/gateway.ts, operations/liveChanges.ts):
 * the statement that reads the membership changes and revoked sessions of the last seconds, on a
 * database sized for a node of 10,000 sockets (10,000 users with a live session each, 40,000 older
 * revoked sessions, 100,000 memberships, an hour of membership changes at 10 a second), in the
 * steady state of 10 changes and 1 revocation a second (the 10 s window holds 100 and 10 rows).
 * Then, for comparison, checking every socket instead: the sessions of 10,000 sockets (the check
 * this replaced, every 30 s) and the memberships of their 10,000 users.
 *
 *   node --import tsx bench/reconcile-cost.ts [--db postgres|embedded] [--runs 300] [--sockets 10000]
 *
 * Reports wall time per run (median, p99), the database's CPU per run (the PostgreSQL backend's,
 * from /proc; PGlite runs in this process, so there it is this process's) and this process's CPU.
 * PostgreSQL at CONFAB_TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { recentChanges } from '../packages/server/src/operations/liveChanges.ts';
import { openEmbedded, openPostgres, type Database } from '../packages/server/src/storage/db.ts';
import { migrate } from '../packages/server/src/storage/migrations.ts';
import { createPostgresDatabase } from '../packages/server/src/test/harness.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'postgres' },
    runs: { type: 'string', default: '300' },
    sockets: { type: 'string', default: '10000' },
  },
});
const runs = Number(values.runs);
const users = Number(values.sockets);
const adminUrl = process.env.CONFAB_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function open(): Promise<{ db: Database; dbCpuMs: () => number; close: () => Promise<void> }> {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  if (values.db === 'embedded') {
    const dir = mkdtempSync(path.join(tmpdir(), 'confab-reconcile-cost-'));
    const db = await openEmbedded(dir);
    return { db, dbCpuMs: cpu, close: async () => (await db.close(), rmSync(dir, { recursive: true, force: true })) };
  }
  const created = await createPostgresDatabase(adminUrl);
  // One connection, so the backend whose CPU is read is the one that does the work.
  const db = await openPostgres(created.url, { poolSize: 1 });
  const [{ pid }] = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')) as [{ pid: number }];
  return {
    db,
    dbCpuMs: () => {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    close: async () => (await db.close(), await created.drop()),
  };
}

const processCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function time(label: string, db: Database, dbCpuMs: () => number, n: number, fn: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 10; i++) await fn(); // warm-up: caches, plans
  const walls: number[] = [];
  const cpu0 = dbCpuMs();
  const own0 = processCpuMs();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    walls.push(performance.now() - t0);
  }
  const dbCpu = (dbCpuMs() - cpu0) / n;
  const own = (processCpuMs() - own0) / n;
  walls.sort((a, b) => a - b);
  const q = (p: number) => walls[Math.min(walls.length - 1, Math.floor(p * walls.length))]!.toFixed(2);
  console.log(
    `${label.padEnd(44)} wall median ${q(0.5)} ms, p99 ${q(0.99)} ms; database CPU ${dbCpu.toFixed(2)} ms/run; this process ${own.toFixed(2)} ms/run` +
      ` (${values.db === 'embedded' ? 'the same process' : 'client side'})`,
  );
  void db;
}

const { db, dbCpuMs, close } = await open();
try {
  await migrate(db);
  const conversations = users; // 10 members each: 10 conversations per user
  console.log(`${values.db}: seeding ${users} users and sessions, ${users * 10} memberships, an hour of changes…`);
  await db.exec(`
    INSERT INTO users (id, handle, display_name) SELECT 'u' || g, 'u' || g, 'U' FROM generate_series(1, ${users}) g;
    INSERT INTO sessions (id, user_id) SELECT 's' || g, 'u' || g FROM generate_series(1, ${users}) g;
    INSERT INTO sessions (id, user_id, revoked_at)
      SELECT 'old' || g, 'u' || (1 + g % ${users}), now() - (g || ' seconds')::interval FROM generate_series(1, ${users * 4}) g;
    INSERT INTO conversations (id, type) SELECT 'c' || g, 'group' FROM generate_series(1, ${conversations}) g;
    INSERT INTO conversation_members (conversation_id, user_id, role)
      SELECT 'c' || c, 'u' || (1 + (c * 10 + k) % ${users}), 'member' FROM generate_series(1, ${conversations}) c, generate_series(0, 9) k
      ON CONFLICT DO NOTHING;
    INSERT INTO membership_changes (user_id, conversation_id, changed_at)
      SELECT 'u' || (1 + g % ${users}), 'c' || (1 + g % ${conversations}), now() - (g / 10.0 || ' seconds')::interval FROM generate_series(1, 36000) g;
    -- The steady window: dated ahead, so they stay in it for the whole run.
    INSERT INTO membership_changes (user_id, conversation_id, changed_at)
      SELECT 'u' || (1 + g * 97 % ${users}), 'c' || (1 + g * 31 % ${conversations}), now() + interval '1 hour' FROM generate_series(1, 100) g;
    UPDATE sessions SET revoked_at = now() + interval '1 hour' WHERE id IN (SELECT 's' || g FROM generate_series(1, 10) g);
    ANALYZE;
  `);

  // The node's side: its users' sockets, and the apply loop of the gateway's reconcile.
  const byUser = new Map<string, Set<{ sessionId: string }>>();
  for (let i = 1; i <= users; i++) byUser.set(`u${i}`, new Set([{ sessionId: `s${i}` }]));
  let at: Date | undefined;
  let applied = 0;
  await time('reconcile (recent changes, 10 s window)', db, dbCpuMs, runs, async () => {
    const changes = await recentChanges(db, at);
    at = changes.at;
    for (const m of changes.memberships) if (byUser.has(m.userId)) applied++;
    for (const e of changes.endedSessions) for (const s of byUser.get(e.userId) ?? []) if (s.sessionId === e.sessionId) applied++;
  });
  const last = await recentChanges(db, at);
  console.log(`  (each run read ${last.memberships.length} membership changes and ${last.endedSessions.length} revoked sessions)`);

  const sessionIds = [...byUser.values()].flatMap((set) => [...set].map((s) => s.sessionId));
  const userIds = [...byUser.keys()];
  const fullRuns = Math.max(10, Math.floor(runs / 10));
  await time(`for comparison: sessions of all ${users} sockets`, db, dbCpuMs, fullRuns, () =>
    db.query('SELECT id FROM sessions WHERE id = ANY($1::text[]) AND revoked_at IS NOT NULL', [sessionIds]),
  );
  await time(`for comparison: memberships of all ${users} users`, db, dbCpuMs, fullRuns, () =>
    db.query('SELECT user_id, array_agg(conversation_id) FROM conversation_members WHERE user_id = ANY($1::text[]) GROUP BY user_id', [userIds]),
  );
  void applied;
} finally {
  await close();
}
