import { ConfabError } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../test/harness.ts';
import { batcherFor, sendMessage } from './messages.ts';

let server: TestServer;
let users: TestUser[];
let outsider: TestUser;
const conversations: string[] = [];

beforeAll(async () => {
  server = await startTestServer();
  users = [await registerUser(server, 'a'), await registerUser(server, 'b'), await registerUser(server, 'c')];
  outsider = await registerUser(server, 'outsider');
  for (let i = 0; i < 5; i++) {
    const res = await users[0]!.api.post('/api/conversations/group', { title: `batch ${i}`, participantIds: [users[1]!.id, users[2]!.id] });
    conversations.push(res.body.id);
  }
});
afterAll(() => server?.close());

describe('group commit of plain sends', () => {
  it('stores concurrent sends in batches: each conversation gap-free, each clientId once, outsiders refused', async () => {
    const before = await server.ctx.db.query<{ id: string; last_seq: number }>('SELECT id, last_seq FROM conversations WHERE id = ANY($1::text[])', [conversations]);
    const sends = [];
    for (let i = 0; i < 600; i++) {
      const user = users[i % 3]!;
      const conversationId = conversations[i % 5]!;
      // Every 10th send repeats an earlier clientId of the same author and conversation, often in the same batch.
      const clientId = i % 10 === 9 && i >= 15 ? `k-${i - 15}` : `k-${i}`;
      sends.push(sendMessage(server.ctx, user.id, { conversationId, content: `message ${i}`, clientId }).then((r) => ({ i, ...r })));
    }
    const intruders = conversations.map((conversationId, i) =>
      sendMessage(server.ctx, outsider.id, { conversationId, content: 'let me in', clientId: `x-${i}` }).then(
        () => 'stored',
        (e: unknown) => (e instanceof ConfabError ? e.code : 'other'),
      ),
    );
    const results = await Promise.all(sends);
    expect(await Promise.all(intruders)).toEqual(conversations.map(() => 'NOT_FOUND'));
    expect(batcherFor(server.ctx).stats.batches).toBeGreaterThan(0);
    expect(batcherFor(server.ctx).stats.largest).toBeGreaterThan(1);

    // Repeats got the first message back.
    for (const r of results.filter((r) => r.i % 10 === 9 && r.i >= 15)) {
      const first = results.find((x) => x.i === r.i - 15)!;
      expect(r.created).toBe(false);
      expect(r.message.id).toBe(first.message.id);
    }
    expect(results.filter((r) => r.created)).toHaveLength(600 - 59);
    for (const { id, last_seq } of before) {
      const rows = await server.ctx.db.query<{ seq: number }>('SELECT seq FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq', [id, last_seq]);
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => last_seq + i + 1));
      const [conv] = await server.ctx.db.query<{ last_seq: number }>('SELECT last_seq FROM conversations WHERE id = $1', [id]);
      expect(conv!.last_seq).toBe(last_seq + rows.length);
    }
    // Each author's own read watermark is at their latest message.
    const [mark] = await server.ctx.db.query<{ last_read_seq: number; max: number }>(
      `SELECT cm.last_read_seq, (SELECT max(seq) FROM messages WHERE conversation_id = cm.conversation_id AND author_id = cm.user_id) AS max
         FROM conversation_members cm WHERE cm.conversation_id = $1 AND cm.user_id = $2`,
      [conversations[0], users[1]!.id],
    );
    expect(mark!.last_read_seq).toBe(mark!.max);
    // Content round-trips through encryption and search.
    const found = await users[2]!.api.get('/api/search?query=message%20598');
    expect(found.body.messages.map((m: { content: string }) => m.content)).toContain('message 598');
  });

  it('a batch holding a send stored earlier still stores the others once each, without a hole in seq', async () => {
    const conversationId = conversations[4]!;
    const first = await sendMessage(server.ctx, users[0]!.id, { conversationId, content: 'sent once', clientId: 'again-1' });
    const [before] = await server.ctx.db.query<{ last_seq: number }>('SELECT last_seq FROM conversations WHERE id = $1', [conversationId]);
    const batchesBefore = batcherFor(server.ctx).stats.batches;
    // Sent in one turn, so they go together: the resend of 'again-1' and 39 new sends.
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        sendMessage(server.ctx, users[i === 20 ? 0 : i % 3]!.id, { conversationId, content: i === 20 ? 'sent once' : `fresh ${i}`, clientId: i === 20 ? 'again-1' : `fresh-${i}` }),
      ),
    );
    expect(batcherFor(server.ctx).stats.batches).toBeGreaterThan(batchesBefore);
    const repeat = results[20]!;
    expect(repeat.created).toBe(false);
    expect(repeat.message.id).toBe(first.message.id);
    expect(results.filter((r) => r.created)).toHaveLength(39);
    const rows = await server.ctx.db.query<{ seq: number; client_id: string }>('SELECT seq, client_id FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq', [
      conversationId,
      before!.last_seq,
    ]);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => before!.last_seq + i + 1));
    expect(new Set(rows.map((r) => r.client_id)).size).toBe(39);
    expect(rows.some((r) => r.client_id === 'again-1')).toBe(false);
  });
});
