import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStorageTestDatabase } from '../test/harness.ts';
import type { Database } from './db.ts';
import { insertPlainSend, MESSAGE_COLUMNS, storeSends, type PlainSend } from './messages.ts';
import type { MessageRow } from './rows.ts';

// The lean statements for plain sends (migration 13's batch function and insertPlainSend), straight
// on the database (this file runs in the embedded and the PostgreSQL pass): the rows they return
// are the rows stored, a repeat or an outsider stores nothing, and seq never gets a hole.

let db: Database;
let close: () => Promise<void>;
let group: (memberIds: string[]) => Promise<string>;
let n = 0;

beforeAll(async () => {
  ({ db, close, group } = await openStorageTestDatabase(['u1', 'u2', 'outsider']));
});
afterAll(() => close?.());

const conversation = () => group(['u1', 'u2']);

const send = (conversationId: string, authorId: string, clientId = `k${++n}`): PlainSend => ({
  id: `m${++n}`,
  conversationId,
  authorId,
  clientId,
  kind: 'text',
  contentEnc: `content ${n}`,
  terms: '{1,-2}',
  threadRootId: null,
  alsoToChannel: false,
});

const stored = async (id: string) => (await db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = $1`, [id]))[0];
const lastSeq = async (id: string) => (await db.query<{ last_seq: number }>('SELECT last_seq FROM conversations WHERE id = $1', [id]))[0]!.last_seq;
const watermark = async (c: string, u: string) =>
  (await db.query<{ last_read_seq: number }>('SELECT last_read_seq FROM conversation_members WHERE conversation_id = $1 AND user_id = $2', [c, u]))[0]!.last_read_seq;

describe('storing plain sends', () => {
  it('one send: the next seq, the row as stored, the author read up to it; a repeat or an outsider stores nothing', async () => {
    const c = await conversation();
    const first = await insertPlainSend(db, send(c, 'u1', 'same'));
    expect(first).toEqual(await stored(first!.id));
    expect(first!.seq).toBe(1);
    expect(await watermark(c, 'u1')).toBe(1);
    expect(await insertPlainSend(db, send(c, 'u1', 'same'))).toBeUndefined();
    expect(await insertPlainSend(db, send(c, 'outsider'))).toBeUndefined();
    expect(await insertPlainSend(db, send('no-such-conversation', 'u1'))).toBeUndefined();
    const second = await insertPlainSend(db, send(c, 'u2'));
    expect(second!.seq).toBe(2);
    expect(await lastSeq(c)).toBe(2);
  });

  it('a batch: numbered in order per conversation, rows as stored, outsiders left out, watermarks at each author\'s last', async () => {
    const [c, d] = [await conversation(), await conversation()];
    const rows = await storeSends(db, [send(c, 'u1'), send(d, 'u2'), send(c, 'outsider'), send(c, 'u2'), send(c, 'u1'), send(d, 'u2')]);
    expect(rows.map((r) => [r.conversation_id, r.author_id, r.seq])).toEqual([
      [c, 'u1', 1],
      [d, 'u2', 1],
      [c, 'u2', 2],
      [c, 'u1', 3],
      [d, 'u2', 2],
    ]);
    for (const r of rows) expect(r).toEqual(await stored(r.id));
    expect([await lastSeq(c), await lastSeq(d)]).toEqual([3, 2]);
    expect([await watermark(c, 'u1'), await watermark(c, 'u2'), await watermark(d, 'u2')]).toEqual([3, 2, 2]);
  });

  it('a batch holding a clientId stored before fails whole: nothing stored, no hole in seq', async () => {
    const c = await conversation();
    await storeSends(db, [send(c, 'u1', 'once')]);
    await expect(storeSends(db, [send(c, 'u2'), send(c, 'u1', 'once'), send(c, 'u2')])).rejects.toThrow();
    expect(await lastSeq(c)).toBe(1);
    expect((await db.query('SELECT 1 FROM messages WHERE conversation_id = $1', [c])).length).toBe(1);
  });
});
