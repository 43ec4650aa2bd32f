/**
 * What a reconnecting client costs the server: N clients connect with a valid token (the
 * handshake: auth, rooms), then do what the SDK does on every (re)connect (packages/client:
 * `subscribe` the conversation on screen and `sync` with its cursors, both sent at once), as up to
 * date clients: the common case after a restart or a network blip. Beside it, in the same run, the
 * bare Socket.IO handshake of the baseline server (bench/baseline/server.ts, STORE=none: token from
 * an in-memory map, rooms joined), which is what issue 19 measures Confab against.
 *
 *   node --import tsx bench/handshake-cost.ts [--clients 2000] [--users 200] [--rounds 3] [--parallel 64]
 *     [--targets confab-postgres,confab-embedded,baseline-none] [--profile DIR] [--handshake-only]
 *
 * Per client and per phase (connect; subscribe + sync; disconnect), for each round: the server's
 * CPU (/proc; embedded PGlite runs in a worker thread of the server, so it is counted there), the
 * CPU of the PostgreSQL backends serving the target's database, and the statements PostgreSQL ran
 * for it: commits in pg_stat_database, which count each statement outside a transaction and each
 * transaction once (the reconnect path runs none), less the rate of an idle server (its
 * once-a-second reconcile). Counts are read after PostgreSQL has published them (some seconds
 * later), so a round takes a while. Rounds alternate between the targets; with 2 shared cores
 * compare ratios and ranges, not single figures.
 * `--profile DIR`: the servers run under V8's sampling profiler; the summary of each one's profile
 * (setup and all rounds) is printed at the end.
 * `--handshake-only`: connect and disconnect only, as with the baseline.
 * Runs the built server: build it first (`npm run build -w @confab/server`).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { SyncResult } from '@confab/protocol';
import { AddressPool, connectMany, type LeanSocket } from './lib/lean.ts';
import { cpuMeter, databaseCpuMeter, log, mapLimit, sleep } from './lib/proc.ts';
import { inclusive, newestProfile, summarizeProfile } from './lib/profile.ts';
import { startTarget, type BenchUser, type ConfabTarget, type Target } from './lib/targets.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '2000' },
    users: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    // Unrecorded rounds first: the first connections of a process run before V8 has compiled the hot paths.
    warmup: { type: 'string', default: '1' },
    parallel: { type: 'string', default: '64' },
    targets: { type: 'string', default: 'confab-postgres,confab-embedded,baseline-none' },
    profile: { type: 'string' },
    // Connect and disconnect only, as the baseline does: to compare the handshakes alone.
    'handshake-only': { type: 'boolean', default: false },
  },
});
const clients = Number(values.clients);
const userCount = Number(values.users);
const rounds = Number(values.rounds);
const parallel = Number(values.parallel);
const GROUP_SIZE = 5;
const adminUrl = process.env.CONFAB_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const profileDir = values.profile ? path.resolve(values.profile) : undefined;
const cpuProfPreload = fileURLToPath(new URL('./lib/cpu-prof.mjs', import.meta.url));

interface Prepared {
  target: Target;
  users: BenchUser[];
  /** The group each user has on screen (it subscribes to it). */
  groupOf: string[];
  /** Each user's up-to-date sync cursors. */
  cursors: Array<Record<string, number>>;
  /** Commits in the target's PostgreSQL database so far; undefined for embedded and the baseline. */
  commits?: () => Promise<number>;
  /** Commits per ms of an idle server (its background sweeps), subtracted from each phase's. */
  idleCommitsPerMs: number;
}

interface Phase {
  serverUs: number;
  databaseUs: number;
  statements: number;
  perSecond: number;
}

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();

async function prepare(key: string): Promise<Prepared> {
  const dir = profileDir ? path.join(profileDir, key) : undefined;
  if (dir) mkdirSync(dir, { recursive: true });
  const target = await startTarget(key, dir ? { env: { NODE_OPTIONS: `--import ${cpuProfPreload}`, BENCH_CPU_PROF_DIR: dir } } : {});
  const users = await target.createUsers(userCount);
  const groupOf: string[] = [];
  for (let g = 0; g < userCount / GROUP_SIZE; g++) {
    const id = await target.conversation(users.slice(g * GROUP_SIZE, (g + 1) * GROUP_SIZE), 'group');
    for (let k = 0; k < GROUP_SIZE; k++) groupOf.push(id);
  }
  // And a direct conversation each: a user with one conversation would be an easy case.
  for (let i = 0; i + 1 < userCount; i += 2) await target.conversation([users[i]!, users[i + 1]!], 'direct');
  const cursors: Array<Record<string, number>> = users.map(() => ({}));
  if (target.system === 'confab') {
    // One first sync per user gives the cursors of a client that holds everything.
    const sockets = await connectMany(userCount, 16, (i) => ({ url: target.url, token: users[i]!.token }));
    await mapLimit(sockets, 16, async (s, i) => {
      const ack = await s.request<{ ok: boolean; data: SyncResult }>('sync', { cursors: {} });
      if (!ack.ok || ack.data.hasMore) throw new Error('first sync failed');
      cursors[i] = ack.data.cursors ?? {};
    });
    for (const s of sockets) s.close();
  }
  const databaseUrl = (target as Partial<ConfabTarget>).databaseUrl;
  const name = databaseUrl ? new URL(databaseUrl).pathname.slice(1) : undefined;
  const commits = name
    ? async () => Number((await admin.query<{ n: string }>('SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = $1', [name])).rows[0]!.n)
    : undefined;
  const prepared: Prepared = { target, users, groupOf, cursors, idleCommitsPerMs: 0, ...(commits ? { commits } : {}) };
  if (commits) {
    const a = await settledCommits(prepared);
    const b = await settledCommits(prepared);
    prepared.idleCommitsPerMs = (b.commits - a.commits) / (b.at - a.at);
  }
  return prepared;
}

/**
 * A backend publishes its counts when it goes idle, but at most once a second; one that published
 * less than a second ago publishes 10 s later (PostgreSQL 15's PGSTAT_IDLE_INTERVAL): wait for that.
 */
const STATS_DELAY_MS = 11_000;
async function settledCommits(p: Prepared): Promise<{ commits: number; at: number }> {
  if (!p.commits) return { commits: NaN, at: performance.now() };
  await sleep(STATS_DELAY_MS);
  return { commits: await p.commits(), at: performance.now() };
}

async function measure(p: Prepared, fn: () => Promise<unknown>, countStatements: boolean): Promise<Phase> {
  const before = countStatements ? await settledCommits(p) : { commits: NaN, at: performance.now() };
  const server = cpuMeter(p.target.pid);
  const database = databaseCpuMeter(p.target.pid);
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  const serverSeconds = server().seconds;
  const databaseSeconds = database?.().seconds ?? NaN;
  const after = countStatements ? await settledCommits(p) : { commits: NaN, at: performance.now() };
  const statements = after.commits - before.commits - p.idleCommitsPerMs * (after.at - before.at);
  return { serverUs: (serverSeconds * 1e6) / clients, databaseUs: (databaseSeconds * 1e6) / clients, statements: statements / clients, perSecond: clients / seconds };
}

async function round(p: Prepared, r: number, { countStatements }: { countStatements: boolean }): Promise<Record<string, Phase>> {
  const addresses = new AddressPool(250, r * 37);
  let sockets: LeanSocket[] = [];
  const out: Record<string, Phase> = {};
  out.connect = await measure(p, async () => {
    sockets = await connectMany(clients, parallel, (i) => ({ url: p.target.url, token: p.users[i % userCount]!.token, localAddress: addresses.next() }));
  }, countStatements);
  if (p.target.system === 'confab' && !values['handshake-only']) {
    out['subscribe + sync'] = await measure(p, () =>
      mapLimit(sockets, parallel, async (s, i) => {
        const u = i % userCount;
        const [subscribed, synced] = await Promise.all([
          s.request<{ ok: boolean }>('subscribe', { conversationId: p.groupOf[u]! }),
          s.request<{ ok: boolean; data: SyncResult }>('sync', { cursors: p.cursors[u]!, limit: 100 }),
        ]);
        if (!subscribed.ok || !synced.ok) throw new Error(`refused: ${JSON.stringify([subscribed, synced])}`);
        // Up to date: the answer must be empty, or the cursors were not what the client holds.
        if (synced.data.messages.length || synced.data.conversations.length) throw new Error('an up-to-date client was sent changes');
      }),
      countStatements,
    );
  }
  out.disconnect = await measure(p, async () => {
    for (const s of sockets) s.close();
    // The server's side of a close (presence, last seen) runs after the client is gone.
    await sleep(2000);
  }, countStatements);
  return out;
}

const keys = values.targets.split(',').map((k) => k.trim());
const prepared: Prepared[] = [];
const results = new Map<string, Array<Record<string, Phase>>>();
try {
  for (const key of keys) {
    log(`preparing ${key}: ${userCount} users`);
    prepared.push(await prepare(key));
    results.set(key, []);
  }
  for (let w = 0; w < Number(values.warmup); w++) {
    for (const p of prepared) {
      log(`warm-up round ${w + 1} ${p.target.key}`);
      await round(p, rounds + w, { countStatements: false });
    }
  }
  for (let r = 0; r < rounds; r++) {
    // Alternate the order too: whatever else the machine does then is spread over the targets.
    const order = r % 2 === 0 ? prepared : [...prepared].reverse();
    for (const p of order) {
      // The kernel's work for the previous target's closed connections (loopback runs in softirq
      // context, counted to whichever process is running) must not land in this one's figures.
      await sleep(3000);
      const phases = await round(p, r, { countStatements: true });
      results.get(p.target.key)!.push(phases);
      log(
        `round ${r + 1} ${p.target.key}: ` +
          Object.entries(phases)
            .map(([name, x]) => `${name} server ${x.serverUs.toFixed(0)} µs, db ${x.databaseUs.toFixed(0)} µs, ${x.statements.toFixed(3)} stmt, ${x.perSecond.toFixed(0)}/s`)
            .join('; '),
      );
    }
  }
} finally {
  for (const p of prepared) await p.target.stop();
  await admin.end();
}

const range = (xs: number[], digits = 0) => {
  const finite = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return '–';
  const f = (x: number) => x.toFixed(digits);
  return finite.length === 1 || f(finite[0]!) === f(finite.at(-1)!) ? f(finite[0]!) : `${f(finite[0]!)}–${f(finite.at(-1)!)}`;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const reconnect = (ph: Record<string, Phase>, f: (x: Phase) => number) => f(ph.connect!) + (ph['subscribe + sync'] ? f(ph['subscribe + sync']) : 0);
const bare = results.get('baseline-none')?.map((ph) => ph.connect!.serverUs);

console.log(`\n${clients} clients (${userCount} users, groups of ${GROUP_SIZE} and a direct conversation each), ${parallel} at a time, ${rounds} rounds; ranges over rounds, per client:`);
for (const [key, rs] of results) {
  console.log(`${key}:`);
  for (const name of Object.keys(rs[0] ?? {})) {
    const xs = rs.map((ph) => ph[name]!);
    console.log(
      `  ${name.padEnd(17)} server ${range(xs.map((x) => x.serverUs)).padStart(9)} µs   PostgreSQL ${range(xs.map((x) => x.databaseUs)).padStart(7)} µs   statements ${range(
        xs.map((x) => x.statements),
        2,
      ).padStart(9)}   ${range(xs.map((x) => x.perSecond))}/s`,
    );
  }
  if (key.startsWith('confab')) {
    const server = rs.map((ph) => reconnect(ph, (x) => x.serverUs));
    console.log(
      `  reconnect total   server ${range(server).padStart(9)} µs   PostgreSQL ${range(rs.map((ph) => reconnect(ph, (x) => x.databaseUs))).padStart(7)} µs   statements ${range(
        rs.map((ph) => reconnect(ph, (x) => x.statements)),
        2,
      ).padStart(9)}` + (bare ? `   ${(median(server) / median(bare)).toFixed(2)}× the bare handshake (medians)` : ''),
    );
  }
}

if (profileDir) {
  for (const key of keys) {
    const file = newestProfile(path.join(profileDir, key));
    if (!file) continue;
    const s = summarizeProfile(file, 30);
    console.log(`\nprofile ${key} (${file}): ${Math.round(s.totalMs)} ms sampled`);
    console.log('  by area:', s.byArea.map((a) => `${a.area} ${a.selfPct}%`).join(', '));
    for (const t of s.top) console.log(`  ${String(t.selfPct).padStart(5)}%  ${t.function}  ${t.location}`);
    for (const line of inclusive(file, { top: 30 })) console.log(`  ${line}`);
  }
}
process.exit(0);
