/**
 * Backup, restore, export and import of a large instance, with the commands an operator runs (the
 * built `confab`, packages/server/bin/confab.mjs): the figures in docs/operations.md.
 *
 *   node --import tsx bench/backup-transfer.ts [--messages 100000] [--size 300] [--conversations 8] [--heap-cap 64] [--keep]
 *
 * 1. An embedded instance: three people, the conversations of the test kit (attachments included),
 *    and `--messages` messages of about `--size` characters stored through the storage layer as the
 *    send path stores them (encrypted, search terms), in `--conversations` groups.
 * 2. `confab backup` while the server runs and a client keeps sending (the longest answer it waited
 *    for shows how long the backup held the database), then `confab restore` into a new DATA_DIR,
 *    and a server on it: every message is there.
 * 3. `confab export` of the (stopped) embedded instance, `confab import` into a new PostgreSQL
 *    database (CONFAB_TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres, a database of
 *    its own, dropped after): throughput and peak memory of each, with V8's heap capped at
 *    `--heap-cap` MB (they would fail if they held the instance; the file is not gzipped, so its
 *    size shows what holding it would take), then counts, a sample of contents and every
 *    conversation's seq order checked on the target.
 * The server is built first (as `npm run bench` does) so the commands run as in production.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Message } from '@confab/protocol';
import { createKeyring, loadSecrets } from '../packages/server/src/crypto/keyring.ts';
import { openPostgres } from '../packages/server/src/storage/db.ts';
import { createPostgresDatabase, startTestServer } from '../packages/server/src/test/harness.ts';
import { login, populate, reportedPeakMb, seededText, seedMessages, send } from '../packages/server/src/test/instanceKit.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    size: { type: 'string', default: '300' },
    conversations: { type: 'string', default: '8' },
    keep: { type: 'boolean', default: false },
    'heap-cap': { type: 'string', default: '64' },
  },
});
const MESSAGES = Number(values.messages);
/** export and import run with V8's heap capped (MB, NODE_OPTIONS): they would fail if they held the instance. 0: no cap. */
const HEAP_CAP = Number(values['heap-cap']);
const GROWTH_BOUND_MB = 128 + HEAP_CAP;
const capped = HEAP_CAP > 0 ? { NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP}` } : {};
const SIZE = Number(values.size);
const CONVERSATIONS = Number(values.conversations);
const adminUrl = process.env.CONFAB_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const root = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(root, 'packages/server/bin/confab.mjs');
const scratch = mkdtempSync(path.join(tmpdir(), 'confab-bench-backup-'));
const dirs = { source: path.join(scratch, 'source'), restored: path.join(scratch, 'restored'), target: path.join(scratch, 'target') };
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const duBytes = (dir: string) => Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);

function confab(args: string[], env: Record<string, string>): Promise<{ stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, DATABASE_URL: '', REDIS_URL: '', CONFAB_SECRET: '', LOG_LEVEL: '', ...env }, maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
      error ? reject(new Error(`confab ${args.join(' ')}: ${stderr || error.message}`)) : resolve({ stdout, stderr, ms: Date.now() - started }),
    ),
  );
}

const results: string[] = [];
const say = (line: string) => {
  console.log(line);
  results.push(line);
};

execFileSync(process.execPath, [path.join(root, 'packages/server/build.mjs')], { stdio: 'inherit' });
const target = await createPostgresDatabase(adminUrl);
try {
  // ---- 1. the instance
  let server = await startTestServer({ dataDir: dirs.source });
  const populated = await populate(server);
  const [alice, bob, carol] = populated.users;
  const groups: Array<{ id: string; memberIds: string[] }> = [];
  for (let i = 0; i < CONVERSATIONS; i++) {
    const res = await alice!.api.post('/api/conversations/group', { title: `Bench ${i}`, participantIds: [bob!.id, carol!.id] });
    groups.push({ id: res.body.id, memberIds: [alice!.id, bob!.id, carol!.id] });
  }
  const seeded = Date.now();
  const ids = await seedMessages(server.ctx, groups, MESSAGES, SIZE, (done) => {
    if (done % 20_000 === 0) console.log(`seeded ${done}`);
  });
  say(`seeded ${MESSAGES} messages of up to ${SIZE} characters in ${CONVERSATIONS} conversations in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);
  const count = async (db: { query<T>(sql: string): Promise<T[]> }) => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM messages'))[0]!.n;
  const total = await count(server.ctx.db);
  say(`database folder (DATA_DIR/db): ${mb(duBytes(path.join(dirs.source, 'db')))}`);

  // ---- 2. backup while a client keeps sending, restore
  let sending = true;
  let longest = 0;
  let sent = 0;
  const sender = (async () => {
    while (sending) {
      const t = Date.now();
      await send(alice!, populated.conversationIds[0]!, `during the backup ${sent}`);
      longest = Math.max(longest, Date.now() - t);
      sent++;
    }
  })();
  await new Promise((r) => setTimeout(r, 1000));
  const backupFile = path.join(scratch, 'instance.backup');
  const backup = await confab(['backup', backupFile], { DATA_DIR: dirs.source });
  sending = false;
  await sender;
  say(backup.stdout.trim());
  say(`backup: ${(backup.ms / 1000).toFixed(1)} s for the command, file ${mb(statSync(backupFile).size)}; a client sending meanwhile: ${sent} messages, longest wait ${longest} ms`);
  await server.close();

  const restore = await confab(['restore', backupFile], { DATA_DIR: dirs.restored });
  say(restore.stdout.trim().split('\n')[0]!);
  const restored = await startTestServer({ dataDir: dirs.restored });
  const restoredCount = await count(restored.ctx.db);
  await restored.close();
  if (restoredCount < total) throw new Error(`the restored instance has ${restoredCount} messages, the original had ${total} before the backup`);
  say(`restore: ${(restore.ms / 1000).toFixed(1)} s for the command; the restored server has ${restoredCount} messages (${total} before the backup began)`);

  // ---- 3. export (embedded) → import (PostgreSQL)
  // Not gzipped: its size is what the commands would have to hold.
  const exportFile = path.join(scratch, 'instance.ndjson');
  const exported = await confab(['export', exportFile], { DATA_DIR: dirs.source, ...capped });
  say(exported.stdout.trim());
  const imported = await confab(['import', exportFile], { DATA_DIR: dirs.target, DATABASE_URL: target.url, ...capped });
  say(imported.stdout.trim());
  say(`export file ${mb(statSync(exportFile).size)}; peak memory (heap cap ${HEAP_CAP || 'none'}): export ${reportedPeakMb(exported.stdout)} MB, import ${reportedPeakMb(imported.stdout)} MB`);
  // Under the cap, what the commands add once the database is open: the heap, and for the embedded
  // database its cache (shared_buffers, 128 MB at most) filling as it reads.
  if (HEAP_CAP > 0) {
    for (const run of [exported.stdout, imported.stdout]) {
      const growth = reportedPeakMb(run) - Number(/\(([\d.]+) MB once the database was open\)/.exec(run)?.[1]);
      if (!(growth < GROWTH_BOUND_MB)) throw new Error(`memory grew by ${growth} MB, over ${GROWTH_BOUND_MB} MB: ${run}`);
    }
  }

  // ---- checks on the target
  const db = await openPostgres(target.url, { poolSize: 2 });
  try {
    const moved = await count(db);
    server = await startTestServer({ dataDir: dirs.source });
    const expected = await count(server.ctx.db).finally(() => server.close());
    if (moved !== expected) throw new Error(`${moved} messages moved, ${expected} in the source`);
    const gaps = await db.query<{ conversation_id: string }>(
      `SELECT conversation_id FROM messages WHERE conversation_id = ANY($1) GROUP BY conversation_id HAVING count(*) <> max(seq) OR count(DISTINCT seq) <> count(*)`,
      [groups.map((g) => g.id)],
    );
    if (gaps.length > 0) throw new Error(`seq out of order in ${gaps.length} conversations`);
    const keys = createKeyring(loadSecrets(dirs.target, undefined, []));
    for (let k = 0; k < 200; k++) {
      const i = Math.floor(Math.random() * MESSAGES);
      const [row] = await db.query<{ content_enc: string; seq: number; conversation_id: string }>('SELECT content_enc, seq, conversation_id FROM messages WHERE id = $1', [ids[i]]);
      if (!row || keys.decrypt(row.content_enc) !== seededText(i, SIZE) || row.seq !== Math.floor(i / CONVERSATIONS) + 1 || row.conversation_id !== groups[i % CONVERSATIONS]!.id) {
        throw new Error(`message ${i} differs on the target`);
      }
    }
    say(`checked on PostgreSQL: ${moved} messages, seq 1..n in every seeded conversation, 200 sampled contents decrypted with the target's key`);
  } finally {
    await db.close();
  }
  // A person signs in on the moved instance and reads a message.
  const moved = await startTestServer({ dataDir: dirs.target, databaseUrl: target.url });
  try {
    const api = await login(moved, alice!.user.email!);
    const page = await api.get<{ messages: Message[] }>(`/api/messages/${groups[0]!.id}?after=0&limit=1`);
    if (page.body.messages[0]?.content !== seededText(0, SIZE)) throw new Error('the moved instance shows another first message');
  } finally {
    await moved.close();
  }
  console.log(`\n--- summary (${new Date().toISOString()}, ${MESSAGES} messages)\n${results.join('\n')}`);
} finally {
  await target.drop();
  if (values.keep) console.log(`kept ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
}
