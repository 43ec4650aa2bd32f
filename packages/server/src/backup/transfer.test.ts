// `confab export` / `confab import` as an operator runs them (docs/operations.md, "Move between
// databases"): the embedded pass moves an embedded instance to PostgreSQL, the PostgreSQL pass a
// PostgreSQL one to the embedded database, each to an instance with keys of its own. The copy is
// then read through the API and compared with the original. 10,000 seeded messages and a large
// attachment make the file far larger than what the commands may hold in memory; the 100,000
// message run is bench/backup-transfer.ts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Message } from '@confab/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { Api, createPostgresDatabase, startTestServer, type TestServer } from '../test/harness.ts';
import { attachmentHashes, confab, login, populate, readConversation, reportedPeakMb, seededText, seedMessages, send, uploadBytes } from '../test/instanceKit.ts';
import { describeTables } from '../storage/transfer.ts';
import type { Database } from '../storage/db.ts';

const pgAdmin = process.env.CONFAB_TEST_DATABASE_URL;
// The embedded pass moves to PostgreSQL: the suite's PostgreSQL (scripts/test-services.sh starts it).
const postgresUrl = pgAdmin ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const scratch = mkdtempSync(path.join(tmpdir(), 'confab-transfer-test-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  rmSync(scratch, { recursive: true, force: true });
});

const SEEDED = 10_000;
const SEEDED_SIZE = 600;
const BIG_FILE_BYTES = 40 * 1024 * 1024;
/**
 * Memory. The export file is over 60 MB (the big file alone is 53 MB as base64), and holding the
 * instance would take more than that as JavaScript strings and objects. The commands run with V8's
 * heap capped at HEAP_CAP_MB (NODE_OPTIONS), so that they would fail if they held it, and their
 * resident memory may grow by MEMORY_GROWTH_BOUND_MB at most once the database is open (the heap,
 * the embedded database's cache filling as it reads, buffers).
 */
const HEAP_CAP_MB = 64;
const MEMORY_GROWTH_BOUND_MB = 96;

async function tableCounts(db: Database): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const t of await describeTables(db)) {
    const [row] = await db.query<{ n: number | string }>(`SELECT count(*) AS n FROM "${t.name}"`);
    counts[t.name] = Number(row!.n);
  }
  return counts;
}

function memory(stdout: string): { peak: number; atStart: number } {
  const atStart = /\(([\d.]+) MB once the database was open\)/.exec(stdout);
  return { peak: reportedPeakMb(stdout), atStart: Number(atStart?.[1]) };
}

describe(`confab export and import (${pgAdmin ? 'PostgreSQL to embedded' : 'embedded to PostgreSQL'})`, () => {
  it('moves a whole instance to a new database with other keys: every message, attachment, member and sign-in comes along', async () => {
    // ---- the original, on the database under test
    const source = pgAdmin ? await createPostgresDatabase(pgAdmin) : undefined;
    if (source) cleanups.push(() => source.drop());
    const sourceDir = path.join(scratch, 'source');
    const server: TestServer = await startTestServer({ dataDir: sourceDir, ...(source && { databaseUrl: source.url }) }, { files: { maxFileBytes: 64 * 1024 * 1024 } });
    cleanups.push(() => server.close());
    const populated = await populate(server);
    const [alice, bob, carol] = populated.users;
    const big = randomBytes(BIG_FILE_BYTES);
    const bigId = await uploadBytes(server, alice!, populated.conversationIds[0]!, 'big.bin', 'application/octet-stream', big);
    await send(alice!, populated.conversationIds[0]!, 'a big file', { kind: 'file', attachmentIds: [bigId] });
    const seededConversations: Array<{ id: string; memberIds: string[] }> = [];
    for (let i = 0; i < 4; i++) {
      const res = await alice!.api.post('/api/conversations/group', { title: `Seeded ${i}`, participantIds: [bob!.id, carol!.id] });
      seededConversations.push({ id: res.body.id, memberIds: [alice!.id, bob!.id, carol!.id] });
    }
    const seededIds = await seedMessages(server.ctx, seededConversations, SEEDED, SEEDED_SIZE);

    const aliceApi = await login(server, alice!.user.email!);
    const original: Record<string, Message[]> = {};
    for (const id of populated.conversationIds) original[id] = await readConversation(aliceApi, id);
    const originalFiles = await attachmentHashes(server, aliceApi, Object.values(original).flat());
    const sourceCounts = await tableCounts(server.ctx.db);
    await server.close();

    // ---- export, with the original's environment
    const file = path.join(scratch, 'instance.ndjson');
    const capped = { NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP_MB}` };
    const exported = await confab(['export', file], { DATA_DIR: sourceDir, DATABASE_URL: source?.url ?? '', ...capped });
    expect(exported.stderr).not.toContain('confab:');
    expect(exported.code, exported.stderr).toBe(0);
    const messageCount = sourceCounts.messages!;
    expect(exported.stdout).toContain(`, ${messageCount} messages, 4 files`);
    // Not a TTY here: plain progress lines, and the last says 100%.
    expect(exported.stderr.trim().split('\n').at(-1)).toMatch(/^export: 100% \(\d+\/\d+\), files$/);

    // ---- import into a new instance on the other database, with its own keys (made on first use)
    const target = pgAdmin ? undefined : await createPostgresDatabase(postgresUrl);
    if (target) cleanups.push(() => target.drop());
    const targetDir = path.join(scratch, 'target');
    const targetEnv = { DATA_DIR: targetDir, DATABASE_URL: target?.url ?? '' };
    const imported = await confab(['import', file], { ...targetEnv, ...capped });
    expect(imported.stderr).not.toContain('confab:');
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain(`, ${messageCount} messages, 4 files`);

    // Streaming: neither command held the instance.
    const fileMb = statSync(file).size / 1024 / 1024;
    for (const run of [exported.stdout, imported.stdout]) {
      const { peak, atStart } = memory(run);
      console.log(`${run.trim()} [file ${fileMb.toFixed(1)} MB]`);
      expect(peak - atStart).toBeLessThan(MEMORY_GROWTH_BOUND_MB);
    }
    expect(fileMb).toBeGreaterThan(60);

    // Only into an empty instance.
    const again = await confab(['import', file], targetEnv);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/this instance is not empty \(its table \w+ has rows\): import only into a new, empty instance/);

    // ---- the copy, through its own server
    // databaseUrl '' is the embedded database (else the harness would make a PostgreSQL one in the PostgreSQL pass).
    const copy = await startTestServer({ dataDir: targetDir, databaseUrl: target?.url ?? '' });
    cleanups.push(() => copy.close());
    expect(await tableCounts(copy.ctx.db)).toEqual(sourceCounts);
    // Other keys: nothing the original encrypted is readable with them, yet the API shows it all.
    expect(copy.ctx.keys.currentKeyId).not.toBe(server.ctx.keys.currentKeyId);

    // People sign in with their passwords; a signed-in device stays signed in (its refresh token works).
    const copyApi = await login(copy, alice!.user.email!);
    expect((await new Api(copy.url).post('/api/auth/refresh', { refreshToken: bob!.refreshToken })).status).toBe(200);
    for (const id of populated.conversationIds) expect(await readConversation(copyApi, id)).toEqual(original[id]);
    expect(await attachmentHashes(copy, copyApi, Object.values(original).flat())).toEqual(originalFiles);

    // The seeded conversations: seq 1..n in order, and a sample of contents.
    for (const c of seededConversations) {
      const rows = await copy.ctx.db.query<{ seq: number }>('SELECT seq FROM messages WHERE conversation_id = $1 ORDER BY seq', [c.id]);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: SEEDED / seededConversations.length }, (_, i) => i + 1));
    }
    for (let k = 0; k < 40; k++) {
      const i = Math.floor(Math.random() * SEEDED);
      const conversation = seededConversations[i % seededConversations.length]!;
      const seq = Math.floor(i / seededConversations.length) + 1;
      const res = await copyApi.get<{ messages: Message[] }>(`/api/messages/${conversation.id}?after=${seq - 1}&limit=1`);
      expect(res.body.messages[0]).toMatchObject({ id: seededIds[i], seq, content: seededText(i, SEEDED_SIZE), clientId: `seed-${i}` });
    }

    // Search terms were made again with the copy's key.
    const hit = await copyApi.get(`/api/search?query=${populated.searchWord}`);
    expect(JSON.stringify(hit.body)).toContain(populated.searchHit);
    const seededHit = await copyApi.get(`/api/search?query=word1234`);
    expect(JSON.stringify(seededHit.body)).toContain(seededIds[1234]);
    // And the copy goes on: a new message takes the next seq.
    const next = await copyApi.post<Message>('/api/messages', { conversationId: seededConversations[0]!.id, content: 'after the move', clientId: 'after-move' });
    expect(next.body.seq).toBe(SEEDED / seededConversations.length + 1);
    await copy.close();
  }, 600_000);
});
