/**
 * What keying the search index by conversation (index version 2, migration 7) costs a search.
 * One user is a member of N conversations of M messages each (12 words per message from a
 * vocabulary of 2,000); a one-word and a two-word query are timed, Q times each, with
 *   - v2: operations/search.ts as it is: the caller's conversations read first, the query hashed
 *     once per conversation, one GIN probe per conversation's hash of the longest word;
 *   - v1: the single-key query from before migration 7, on the same messages indexed the old way.
 * Times include hashing and both round trips (not hydrating the messages found, which is the same).
 *   node --import tsx bench/search-keys.ts [--db embedded|postgres] [--conversations 10,100,1000] [--messages 20] [--queries 200]
 * PostgreSQL at CONFAB_TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Context } from '../packages/server/src/context.ts';
import { createKeyring } from '../packages/server/src/crypto/keyring.ts';
import { searchMessages } from '../packages/server/src/operations/search.ts';
import { legacyQueryTerms, legacySearchTerms, queryTerms, searchTerms } from '../packages/server/src/search/terms.ts';
import { openEmbedded, openPostgres, type Database } from '../packages/server/src/storage/db.ts';
import { migrate } from '../packages/server/src/storage/migrations.ts';
import { createPostgresDatabase } from '../packages/server/src/test/harness.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'embedded' },
    conversations: { type: 'string', default: '10,100,1000' },
    messages: { type: 'string', default: '20' },
    queries: { type: 'string', default: '200' },
  },
});
const M = Number(values.messages);
const Q = Number(values.queries);
const LIMIT = 20;
const adminUrl = process.env.CONFAB_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

// A fixed pseudo-random sequence, so runs are comparable.
let seed = 42;
const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
const letters = 'abcdefghijklmnopqrstuvwxyz';
const vocabulary = Array.from({ length: 2000 }, () => Array.from({ length: 4 + Math.floor(random() * 7) }, () => letters[Math.floor(random() * 26)]).join(''));
const pick = () => vocabulary[Math.floor(random() * vocabulary.length)]!;

async function open(): Promise<{ db: Database; close: () => Promise<void> }> {
  if (values.db === 'postgres') {
    const created = await createPostgresDatabase(adminUrl);
    const db = await openPostgres(created.url, { poolSize: 4 });
    return { db, close: async () => (await db.close(), await created.drop()) };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'confab-search-bench-'));
  const db = await openEmbedded(dir);
  return { db, close: async () => (await db.close(), rmSync(dir, { recursive: true, force: true })) };
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(2);
  return `median ${at(0.5)} ms, p95 ${at(0.95)} ms`;
}

async function run(n: number): Promise<void> {
  const { db, close } = await open();
  try {
    await migrate(db);
    const keys = createKeyring([randomBytes(32).toString('base64url')]);
    const ctx = { db, keys } as unknown as Context;
    await db.query(`INSERT INTO users (id, handle, display_name) VALUES ('u1', 'u1', 'U')`);
    const convs = Array.from({ length: n }, (_, i) => `conv${i}_${randomBytes(4).toString('hex')}`);
    await db.query(`INSERT INTO conversations (id, type, last_seq) SELECT c, 'group', ${M} FROM unnest($1::text[]) c`, [convs]);
    await db.query(`INSERT INTO conversation_members (conversation_id, user_id, role) SELECT c, 'u1', 'member' FROM unnest($1::text[]) c`, [convs]);
    const rows: { id: string; conv: string; seq: number; text: string }[] = [];
    for (const conv of convs) for (let seq = 1; seq <= M; seq++) rows.push({ id: `m${rows.length}`, conv, seq, text: Array.from({ length: 12 }, pick).join(' ') });
    for (let i = 0; i < rows.length; i += 1000) {
      const part = rows.slice(i, i + 1000);
      await db.query(
        `INSERT INTO messages (id, conversation_id, seq, updated_seq, author_id, kind, content_enc, search_terms, search_version)
         SELECT t.id, t.conv, t.seq, t.seq, 'u1', 'text', 'x', t.terms::bigint[], 2 FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) AS t(id, conv, seq, terms)`,
        [part.map((r) => r.id), part.map((r) => r.conv), part.map((r) => r.seq), part.map((r) => `{${searchTerms(keys.searchKey, r.conv, r.text).join(',')}}`)],
      );
    }
    await db.exec('ANALYZE messages; ANALYZE conversation_members');
    const queries = Array.from({ length: Q }, (_, i) => (i % 2 ? `${pick()} ${pick().slice(0, 3)}` : pick()));
    const time = async (fn: (query: string) => Promise<unknown>) => {
      for (const query of queries.slice(0, 20)) await fn(query); // warm-up
      const ms: number[] = [];
      for (const query of queries) {
        const t0 = performance.now();
        await fn(query);
        ms.push(performance.now() - t0);
      }
      return ms;
    };
    const v2 = await time((query) => searchMessages(ctx, 'u1', { query, limit: LIMIT }));
    const hashing = await time(async (query) => convs.map((c) => queryTerms(keys.searchKey, c, query)));

    // The same messages indexed the old way, searched with the query from before migration 7.
    for (let i = 0; i < rows.length; i += 1000) {
      const part = rows.slice(i, i + 1000);
      await db.query(`UPDATE messages m SET search_terms = t.terms::bigint[], search_version = 1 FROM unnest($1::text[], $2::text[]) AS t(id, terms) WHERE m.id = t.id`, [
        part.map((r) => r.id),
        part.map((r) => `{${legacySearchTerms(keys.searchKey, r.text).join(',')}}`),
      ]);
    }
    await db.exec('VACUUM ANALYZE messages');
    const v1 = await time((query) =>
      db.query(
        `SELECT m.id FROM messages m
           JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $1
          WHERE m.search_terms @> $2::bigint[] AND m.deleted_at IS NULL AND m.kind <> 'system'
          ORDER BY m.created_at DESC LIMIT $3`,
        ['u1', legacyQueryTerms(keys.searchKey, query), LIMIT],
      ),
    );
    console.log(`${values.db}, ${n} conversations x ${M} messages (${rows.length} messages), ${Q} queries:`);
    console.log(`  v1 (one key):              ${stats(v1)}`);
    console.log(`  v2 (key per conversation): ${stats(v2)}   of which hashing ${stats(hashing)}`);
  } finally {
    await close();
  }
}

for (const n of values.conversations.split(',').map(Number)) await run(n);
