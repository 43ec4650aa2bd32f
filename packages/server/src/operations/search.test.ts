import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../realtime/test/kit.ts';
import { legacySearchTerms, queryTerms, searchTerms } from '../search/terms.ts';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';
import { scheduleReindex } from './search.ts';

describe('search index keyed by conversation (index version 2), and the upgrade from version 1', () => {
  let server: TestServer;
  let alice: TestUser, bob: TestUser;
  let shared: string, own: string;

  beforeAll(async () => {
    server = await startTestServer({}, { jobs: { pollIntervalMs: 20, backoffBaseMs: 20 } });
    [alice, bob] = [await registerUser(server, 'alice'), await registerUser(server, 'bob')];
    shared = (await alice.api.post('/api/conversations/group', { title: 'Shared', participantIds: [bob.id] })).body.id;
    own = (await alice.api.post('/api/conversations/group', { title: 'Own', participantIds: [] })).body.id;
  });
  afterAll(() => server?.close());

  let n = 0;
  const send = async (user: TestUser, conversationId: string, content: string) => {
    const res = await user.api.post('/api/messages', { conversationId, content, clientId: `s-${++n}` });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const found = async (user: TestUser, query: string, conversationId?: string) =>
    (await user.api.get(`/api/search?query=${encodeURIComponent(query)}${conversationId ? `&conversationId=${conversationId}` : ''}`)).body.messages.map((m: { id: string }) => m.id).sort();
  const row = async (id: string) =>
    (await server.ctx.db.query<{ search_terms: string[]; search_version: number }>('SELECT search_terms::text[] AS search_terms, search_version FROM messages WHERE id = $1', [id]))[0]!;

  it('the same word in two conversations is stored as unrelated hashes, sorted; search finds it in each, for members only', async () => {
    const a = await send(alice, shared, 'Quarterly zanzibar planning');
    const b = await send(alice, own, 'zanzibar again, alone');
    const [ra, rb] = [await row(a), await row(b)];
    expect(ra.search_version).toBe(2);
    expect(ra.search_terms.filter((t) => rb.search_terms.includes(t))).toEqual([]);
    expect(ra.search_terms).toEqual(searchTerms(server.ctx.keys.searchKey, shared, 'Quarterly zanzibar planning').map(String));
    expect(ra.search_terms).toEqual([...ra.search_terms].sort());
    expect(await found(alice, 'zanz')).toEqual([a, b].sort());
    expect(await found(alice, 'zanzibar plan')).toEqual([a]);
    expect(await found(alice, 'zanz', own)).toEqual([b]);
    expect(await found(bob, 'zanzibar')).toEqual([a]);
    // A hash of one conversation presented in another matches nothing there.
    const [foreign] = queryTerms(server.ctx.keys.searchKey, shared, 'zanzibar');
    expect(await server.ctx.db.query('SELECT 1 FROM messages WHERE conversation_id = $1 AND search_terms @> $2::bigint[]', [own, [foreign]])).toHaveLength(0);
  });

  it('messages indexed the old way stay searchable before and after the background re-index', async () => {
    const texts = { edited: 'legacy madagascar first', deleted: 'legacy madagascar deleted', kept: 'legacy madagascar kept', other: 'legacy madagascar elsewhere' };
    const ids = {
      edited: await send(alice, shared, texts.edited),
      deleted: await send(alice, shared, texts.deleted),
      kept: await send(bob, shared, texts.kept),
      other: await send(alice, own, texts.other),
    };
    // As a version before migration 8 left them: one key for all conversations, version 1.
    for (const [name, id] of Object.entries(ids)) {
      const terms = legacySearchTerms(server.ctx.keys.searchKey, texts[name as keyof typeof texts]);
      await server.ctx.db.query('UPDATE messages SET search_terms = $2::bigint[], search_version = 1 WHERE id = $1', [id, terms]);
    }
    expect(await found(alice, 'madag')).toEqual(Object.values(ids).sort());
    expect(await found(bob, 'madagascar legacy')).toEqual([ids.edited, ids.deleted, ids.kept].sort());
    expect(await found(alice, 'madagascar', own)).toEqual([ids.other]);
    // Changes to old rows before the re-index: an edit indexes the new way, a delete erases terms.
    expect((await alice.api.patch(`/api/messages/${ids.edited}`, { content: 'legacy madagascar edited' })).status).toBe(200);
    expect((await row(ids.edited)).search_version).toBe(2);
    expect((await alice.api.delete(`/api/messages/${ids.deleted}`)).status).toBeLessThan(300);
    expect(await found(alice, 'madagascar')).toEqual([ids.edited, ids.kept, ids.other].sort());

    // What a restart does: a re-index job is queued, and the poll loop runs it.
    await scheduleReindex(server.ctx);
    server.ctx.jobs.kick();
    await until(async () => (await server.ctx.db.query('SELECT 1 FROM messages WHERE search_version = 1')).length === 0, 20_000, 're-index');
    expect((await row(ids.kept)).search_terms).toEqual(searchTerms(server.ctx.keys.searchKey, shared, texts.kept).map(String));
    expect((await row(ids.deleted)).search_terms).toEqual([]);
    expect(await found(alice, 'madag')).toEqual([ids.edited, ids.kept, ids.other].sort());
    expect(await found(bob, 'madagascar')).toEqual([ids.edited, ids.kept].sort());
    expect(await found(alice, 'madagascar first')).toEqual([]);
  });
});
