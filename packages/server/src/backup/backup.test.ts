// Backups as an operator takes them (docs/operations.md, "Back up and restore"), while a client
// keeps sending, then restored into a new instance that must hold every message the client had
// an answer for before the backup, exactly as the original shows them (content decrypted by the
// API, order, attachments' bytes). The embedded pass runs `confab backup` / `confab restore`; the
// PostgreSQL pass runs the documented pg_dump / pg_restore commands, taken from the doc itself.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Message } from '@confab/protocol';
import tar from 'tar-stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, startTestServer, type TestServer } from '../test/harness.ts';
import { attachmentHashes, confab, login, populate, readConversation, send, type Populated } from '../test/instanceKit.ts';

const pgAdmin = process.env.CONFAB_TEST_DATABASE_URL;
const scratch = mkdtempSync(path.join(tmpdir(), 'confab-backup-test-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  rmSync(scratch, { recursive: true, force: true });
});

const newDir = (name: string) => path.join(scratch, name);

interface Acked {
  id: string;
  conversationId: string;
  at: number;
}

/** A client sending one message after another (each waits for the last one's answer) until stopped. */
function keepSending(populated: Populated): { acked: Acked[]; stop: () => Promise<void> } {
  const acked: Acked[] = [];
  let stopped = false;
  const [alice, bob] = populated.users;
  const loop = async (user: typeof alice, conversationId: string) => {
    for (let i = 0; !stopped; i++) {
      const m = await send(user!, conversationId, `${user!.user.handle} says ${i}: ${'lorem ipsum '.repeat(i % 7)}`);
      acked.push({ id: m.id, conversationId, at: Date.now() });
    }
  };
  const running = Promise.all([loop(alice, populated.conversationIds[0]!), loop(bob, populated.conversationIds[1]!)]);
  return {
    acked,
    stop: async () => {
      stopped = true;
      await running;
    },
  };
}

async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Seen {
  conversations: Record<string, Message[]>;
  attachments: Awaited<ReturnType<typeof attachmentHashes>>;
}

/** Everything the first user sees, through the API. */
async function readAll(server: { url: string }, populated: Populated): Promise<Seen> {
  const api = await login(server, populated.users[0]!.user.email!);
  const conversations: Record<string, Message[]> = {};
  for (const id of populated.conversationIds) conversations[id] = await readConversation(api, id);
  return { conversations, attachments: await attachmentHashes(server, api, Object.values(conversations).flat()) };
}

/**
 * The copy is the original as of one moment: each conversation's messages up to some seq, exactly
 * as the original shows them (the client only adds messages, so nothing older changed since), with
 * every message acknowledged before the backup began.
 */
async function expectCopyOfMoment(copy: Seen, original: Seen, ackedBefore: Acked[], ackedAfter: Acked[], copyServer: { url: string }, populated: Populated): Promise<void> {
  for (const [id, messages] of Object.entries(original.conversations)) {
    const restored = copy.conversations[id]!;
    const last = restored[restored.length - 1]!.seq;
    expect(restored).toEqual(messages.filter((m) => m.seq <= last));
    // seq order, each message once
    expect(restored.map((m) => m.seq)).toEqual([...new Set(restored.map((m) => m.seq))].sort((a, b) => a - b));
  }
  const ids = new Set(Object.values(copy.conversations).flatMap((ms) => ms.map((m) => m.id)));
  const missing = ackedBefore.filter((a) => !ids.has(a.id));
  expect(missing, 'acknowledged before the backup began, missing from it').toEqual([]);
  // It is a moment before the backup ended: nothing answered after that is in it.
  expect(ackedAfter.filter((a) => ids.has(a.id))).toEqual([]);
  expect(copy.attachments).toEqual(original.attachments);
  expect(Object.keys(copy.attachments).length).toBe(2);
  // Search works in the copy (its blind index came along).
  const api = await login(copyServer, populated.users[0]!.user.email!);
  const found = await api.get(`/api/search?query=${populated.searchWord}`);
  expect(found.status).toBe(200);
  expect(JSON.stringify(found.body)).toContain(populated.searchHit);
}

/** Rewrites a backup's entries (to damage one on purpose). */
async function rewriteBackup(from: string, to: string, change: (name: string, bytes: Buffer) => Buffer): Promise<void> {
  const pack = tar.pack();
  const packed = (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  })();
  const extract = tar.extract();
  extract.end(gunzipSync(readFileSync(from)));
  for await (const entry of extract) {
    const parts: Buffer[] = [];
    for await (const c of entry) parts.push(c as Buffer);
    const bytes = change(entry.header.name, Buffer.concat(parts));
    pack.entry({ ...entry.header, size: bytes.length }, bytes);
  }
  pack.finalize();
  writeFileSync(to, gzipSync(await packed));
}

if (!pgAdmin) {
  describe('confab backup and restore (embedded database)', () => {
    it('backs up a running server while a client keeps sending; the restored instance is the original as of that moment', async () => {
      const original = newDir('original');
      const server: TestServer = await startTestServer({ dataDir: original });
      cleanups.push(() => server.close());
      const populated = await populate(server);
      const sender = keepSending(populated);
      await waitFor(() => sender.acked.length >= 30);

      const file = newDir('instance.backup');
      const ackedBefore = [...sender.acked];
      const countAtStart = sender.acked.length;
      const backup = await confab(['backup', file], { DATA_DIR: original });
      const ackedDuring = sender.acked.length - countAtStart;
      const ackedAfterEnd = sender.acked.length;
      await waitFor(() => sender.acked.length >= ackedAfterEnd + 10);
      await sender.stop();
      expect(backup.stderr).toBe('');
      expect(backup.code).toBe(0);
      expect(backup.stdout).toMatch(/^backup written to .*: [\d.]+ MB \(database [\d.]+ MB, 3 attachment files .*taken by the running server, which held its database for \d+ ms/);
      // The server went on answering while the backup was taken.
      expect(ackedDuring).toBeGreaterThan(0);
      expect(existsSync(`${file}.partial`)).toBe(false);

      const before = await readAll(server, populated);
      await server.close();

      const restoredDir = newDir('restored');
      const restore = await confab(['restore', file], { DATA_DIR: restoredDir });
      expect(restore.stderr).toBe('');
      expect(restore.code).toBe(0);
      expect(restore.stdout).toMatch(/^restored .* into .*: the database and 3 attachment files, checked against their checksums/);

      // The restored DATA_DIR carries its keys (secret.json): a server on it reads everything.
      const restored = await startTestServer({ dataDir: restoredDir });
      cleanups.push(() => restored.close());
      const after = await readAll(restored, populated);
      await expectCopyOfMoment(after, before, ackedBefore, sender.acked.slice(ackedAfterEnd), restored, populated);
      // The restored instance takes new messages after the last one it has.
      const next = await send(await loginAs(restored, populated, 0), populated.conversationIds[0]!, 'after the restore');
      expect(next.seq).toBeGreaterThan(after.conversations[populated.conversationIds[0]!]!.at(-1)!.seq);

      // While it runs, its DATA_DIR cannot be restored over, even with --force.
      const busy = await confab(['restore', file, '--force'], { DATA_DIR: restoredDir });
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/is in use by process \d+/);
      await restored.close();

      // Stopped, and not empty: refused without --force, replaced with it.
      const notEmpty = await confab(['restore', file], { DATA_DIR: original });
      expect(notEmpty.code).toBe(1);
      expect(notEmpty.stderr).toContain('is not empty: restore into an empty DATA_DIR, or add --force');
      const forced = await confab(['restore', file, '--force'], { DATA_DIR: original });
      expect(forced.code).toBe(0);
      const again = await startTestServer({ dataDir: original });
      cleanups.push(() => again.close());
      expect(await readAll(again, populated)).toEqual(after);
      await again.close();

      // With the server stopped, the command takes the backup itself.
      const offline = await confab(['backup', newDir('offline.backup')], { DATA_DIR: original });
      expect(offline.code).toBe(0);
      expect(offline.stdout).toMatch(/the database was held for \d+ ms/);
    }, 300_000);

    it('refuses a damaged, cut short, foreign or newer backup, and leaves the DATA_DIR untouched', async () => {
      const dataDir = newDir('small');
      const server = await startTestServer({ dataDir });
      cleanups.push(() => server.close());
      await populate(server);
      const file = newDir('small.backup');
      expect((await confab(['backup', file], { DATA_DIR: dataDir })).code).toBe(0);
      await server.close();

      const refused = async (damaged: string, message: RegExp) => {
        const target = newDir(`target-${path.basename(damaged)}`);
        const res = await confab(['restore', damaged], { DATA_DIR: target });
        expect(res.code).toBe(1);
        expect(res.stderr).toMatch(message);
        // Nothing was left behind.
        expect(existsSync(target) ? (await import('node:fs')).readdirSync(target) : []).toEqual([]);
      };
      // One byte of one database file changed (the archive itself is well-formed).
      let changed = false;
      await rewriteBackup(file, newDir('flipped.backup'), (name, bytes) => {
        if (changed || !name.startsWith('db/base/') || bytes.length < 100) return bytes;
        changed = true;
        bytes[50] = bytes[50]! ^ 0xff;
        return bytes;
      });
      await refused(newDir('flipped.backup'), /db\/base\/.* in the backup does not match its checksum: the backup is damaged/);
      // Cut short: half of the file.
      const whole = readFileSync(file);
      writeFileSync(newDir('half.backup'), whole.subarray(0, whole.length >> 1));
      await refused(newDir('half.backup'), /is not a Confab backup, or it is damaged|cut short/);
      // Without its checksums.
      await rewriteBackup(file, newDir('nochecksums.backup'), (name, bytes) => (name === 'checksums.json' ? Buffer.from('{}') : bytes));
      await refused(newDir('nochecksums.backup'), /is not in its checksums: damaged/);
      // Made by a newer format.
      await rewriteBackup(file, newDir('newer.backup'), (name, bytes) => (name === 'confab-backup.json' ? Buffer.from(JSON.stringify({ ...JSON.parse(bytes.toString()), version: 99 })) : bytes));
      await refused(newDir('newer.backup'), /format version 99; this Confab reads version 1: restore it with the Confab that made it, or a newer one/);
      // Not a backup at all.
      copyFileSync(new URL('../../package.json', import.meta.url), newDir('package.json'));
      await refused(newDir('package.json'), /is not a Confab backup/);
    }, 240_000);
  });
} else {
  describe('PostgreSQL: the documented pg_dump and pg_restore commands', () => {
    it('back up a running instance while a client keeps sending; the restored one is the original as of that moment', async () => {
      const source = await createPostgresDatabase(pgAdmin);
      cleanups.push(() => source.drop());
      const dataDir = newDir('pg-original');
      const server = await startTestServer({ dataDir, databaseUrl: source.url });
      cleanups.push(() => server.close());
      const populated = await populate(server);
      const sender = keepSending(populated);
      await waitFor(() => sender.acked.length >= 30);

      // `confab backup` is for the embedded database, and says what to do instead.
      const wrong = await confab(['backup', newDir('x.backup')], { DATA_DIR: dataDir, DATABASE_URL: source.url });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('back up PostgreSQL with pg_dump');

      const backupDir = newDir('pg-backups');
      (await import('node:fs')).mkdirSync(backupDir);
      const ackedBefore = [...sender.acked];
      const countAtStart = sender.acked.length;
      await bash(docBlock('back up: PostgreSQL'), { DATABASE_URL: source.url, DATA_DIR: dataDir, BACKUP_DIR: backupDir });
      const ackedAfterEnd = sender.acked.length;
      expect(ackedAfterEnd).toBeGreaterThan(countAtStart);
      await waitFor(() => sender.acked.length >= ackedAfterEnd + 10);
      await sender.stop();
      const before = await readAll(server, populated);
      await server.close();

      // Into a new, empty database and a new DATA_DIR, as on a new machine.
      const target = await createPostgresDatabase(pgAdmin);
      cleanups.push(() => target.drop());
      const restoredDir = newDir('pg-restored');
      await bash(docBlock('restore: PostgreSQL'), { DATABASE_URL: target.url, DATA_DIR: restoredDir, BACKUP_DIR: backupDir });
      const restored = await startTestServer({ dataDir: restoredDir, databaseUrl: target.url });
      cleanups.push(() => restored.close());
      const after = await readAll(restored, populated);
      await expectCopyOfMoment(after, before, ackedBefore, sender.acked.slice(ackedAfterEnd), restored, populated);
      await restored.close();
    }, 300_000);
  });
}

async function loginAs(server: { url: string }, populated: Populated, i: number) {
  const api = await login(server, populated.users[i]!.user.email!);
  return { ...populated.users[i]!, api, accessToken: api.token! };
}

/** A shell block of docs/operations.md, found by its first line (a comment). */
function docBlock(title: string): string {
  const doc = readFileSync(new URL('../../../../docs/operations.md', import.meta.url), 'utf8');
  const start = doc.indexOf(`\`\`\`sh\n# ${title}\n`);
  if (start < 0) throw new Error(`docs/operations.md has no block "# ${title}"`);
  const body = doc.slice(start + '```sh\n'.length);
  return body.slice(0, body.indexOf('```'));
}

function bash(script: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-euo', 'pipefail', '-c', script], { env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      error ? reject(new Error(`${script}\nfailed: ${stderr || stdout || error.message}`)) : resolve(),
    );
  });
}
