import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorageTestDatabase } from '../test/harness.ts';
import type { Database } from './db.ts';
import { insertSend, MESSAGE_COLUMNS, storeSends, type PlainSend } from './messages.ts';
import type { MessageRow, ThreadFollowRow } from './rows.ts';

// The two statements that store sends (the batch function, version 10, and insertSend) carry the
// thread root: numbering, the root's summary and seq, follows, and the refusals, straight on the
// database (both kinds: this file runs in the embedded and the PostgreSQL pass).

let db: Database;
let close: () => Promise<void>;
let group: (memberIds: string[]) => Promise<string>;
let n = 0;

beforeAll(async () => {
  ({ db, close, group } = await openStorageTestDatabase(['u1', 'u2', 'u3', 'outsider']));
});
afterAll(() => close?.());

const conversation = () => group(['u1', 'u2', 'u3']);

const send = (conversationId: string, authorId: string, threadRootId: string | null = null, alsoToChannel = false): PlainSend => ({
  id: `m${++n}`,
  conversationId,
  authorId,
  clientId: `k${n}`,
  kind: 'text',
  contentEnc: 'x',
  terms: '{}',
  threadRootId,
  alsoToChannel,
});

const row = async (id: string) => (await db.query<MessageRow>('SELECT * FROM messages WHERE id = $1', [id]))[0]!;
const lastSeq = async (id: string) => (await db.query<{ last_seq: number }>('SELECT last_seq FROM conversations WHERE id = $1', [id]))[0]!.last_seq;
const follows = (rootId: string) =>
  db.query<ThreadFollowRow>('SELECT user_id, following, last_read_seq FROM thread_follows WHERE root_id = $1 ORDER BY user_id', [rootId]);
const watermark = async (c: string, u: string) =>
  (await db.query<{ last_read_seq: number }>('SELECT last_read_seq FROM conversation_members WHERE conversation_id = $1 AND user_id = $2', [c, u]))[0]!.last_read_seq;

describe('storing thread replies', () => {
  it('a batch numbers replies with the conversation, then gives each root replied to the next seq', async () => {
    const c = await conversation();
    const [r1, r2] = await storeSends(db, [send(c, 'u1'), send(c, 'u2')]);
    expect([r1!.seq, r2!.seq]).toEqual([1, 2]);
    const batch = [send(c, 'u2', r1!.id), send(c, 'u3', r1!.id), send(c, 'u3'), send(c, 'u1', r2!.id, true), send(c, 'u2', r1!.id)];
    const rows = await storeSends(db, batch);
    expect(rows.map((r) => [r.seq, r.thread_root_id, r.also_to_channel])).toEqual([
      [3, r1!.id, false],
      [4, r1!.id, false],
      [5, null, false],
      [6, r2!.id, true],
      [7, r1!.id, false],
    ]);
    // Each root replied to takes one seq after the batch's messages: no gap, no seq twice.
    const [root1, root2] = [await row(r1!.id), await row(r2!.id)];
    expect(new Set([root1.updated_seq, root2.updated_seq])).toEqual(new Set([8, 9]));
    expect(await lastSeq(c)).toBe(9);
    expect(root1).toMatchObject({ thread_reply_count: 3, thread_participant_ids: ['u2', 'u3'] });
    expect(root2).toMatchObject({ thread_reply_count: 1, thread_participant_ids: ['u1'] });
    expect(root1.thread_last_reply_at).toBeInstanceOf(Date);
    // Repliers follow, read up to their own reply; the root's author follows, nothing read.
    expect(await follows(r1!.id)).toEqual([
      { user_id: 'u1', following: true, last_read_seq: 0 },
      { user_id: 'u2', following: true, last_read_seq: 7 },
      { user_id: 'u3', following: true, last_read_seq: 4 },
    ]);
    expect(await follows(r2!.id)).toEqual([{ user_id: 'u1', following: true, last_read_seq: 6 }, { user_id: 'u2', following: true, last_read_seq: 0 }]);
    // An author's conversation watermark moves for main-line messages only (alsoToChannel is one).
    expect(await watermark(c, 'u3')).toBe(5);
    expect(await watermark(c, 'u2')).toBe(2);
    expect(await watermark(c, 'u1')).toBe(6);
  });

  it('a batch returns each message as stored, every column, though only id, seq and time come back from the database', async () => {
    const c = await conversation();
    const [root] = await storeSends(db, [send(c, 'u1')]);
    const rows = await storeSends(db, [send(c, 'u2'), send(c, 'u3', root!.id), send(c, 'u1', root!.id, true)]);
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      const [stored] = await db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1`, [r.id]);
      expect(r).toEqual(stored);
    }
  });

  it('a batch with a reply to no root of its conversation, or to a reply, fails whole and stores nothing', async () => {
    const c = await conversation();
    const other = await conversation();
    const [root, foreign] = [(await storeSends(db, [send(c, 'u1')]))[0]!, (await storeSends(db, [send(other, 'u1')]))[0]!];
    const [reply] = await storeSends(db, [send(c, 'u2', root.id)]);
    for (const bad of [foreign.id, reply!.id, 'no-such-message']) {
      await expect(storeSends(db, [send(c, 'u1'), send(c, 'u2', bad)])).rejects.toThrow();
      expect(await lastSeq(c)).toBe(3);
    }
    // A non-member's send is skipped without failing the batch, thread or not.
    const rows = await storeSends(db, [send(c, 'outsider', root.id), send(c, 'u3', root.id)]);
    expect(rows.map((r) => r.author_id)).toEqual(['u3']);
    expect(await lastSeq(c)).toBe(5);
  });

  it('a single send (insertSend) does the same: next seq, root after it, follows; a bad root inserts nothing', async () => {
    const c = await conversation();
    const [root] = await storeSends(db, [send(c, 'u1')]);
    const reply = await insertSend(db, send(c, 'u1', root!.id), null, '[]', []);
    expect(reply).toMatchObject({ seq: 2, thread_root_id: root!.id });
    expect(await row(root!.id)).toMatchObject({ updated_seq: 3, thread_reply_count: 1, thread_participant_ids: ['u1'] });
    expect(await lastSeq(c)).toBe(3);
    expect(await follows(root!.id)).toEqual([{ user_id: 'u1', following: true, last_read_seq: 2 }]);
    // Followers who unfollowed stay unfollowed when someone else replies; a reply of their own follows again.
    await db.query(`UPDATE thread_follows SET following = false WHERE root_id = $1`, [root!.id]);
    await insertSend(db, send(c, 'u2', root!.id), null, '[]', []);
    expect((await follows(root!.id)).map((f) => [f.user_id, f.following])).toEqual([['u1', false], ['u2', true]]);
    await insertSend(db, send(c, 'u1', root!.id), null, '[]', []);
    expect((await follows(root!.id)).map((f) => [f.user_id, f.following])).toEqual([['u1', true], ['u2', true]]);
    expect(await insertSend(db, send(c, 'u1', reply!.id), null, '[]', [])).toBeUndefined();
    expect(await insertSend(db, send(c, 'u1', 'nothing'), null, '[]', [])).toBeUndefined();
    expect(await lastSeq(c)).toBe(7);
    // A repeated clientId inserts nothing and touches no root.
    const again = send(c, 'u2', root!.id);
    await insertSend(db, again, null, '[]', []);
    expect(await insertSend(db, { ...again, id: 'other-id' }, null, '[]', [])).toBeUndefined();
    expect(await lastSeq(c)).toBe(9);
    expect((await row(root!.id)).thread_reply_count).toBe(4);
  });
});
