import 'fake-indexeddb/auto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IDBFactory } from 'fake-indexeddb';
import { afterAll, describe, expect, it } from 'vitest';
import { Outbox } from '../outbox.ts';
import { Store } from '../store.ts';
import { FakeClock, message, settle } from '../test/fakes.ts';
import type { Storage } from '../types.ts';
import { fileStorage } from './file.ts';
import { indexedDbStorage } from './indexeddb.ts';
import { memoryStorage } from './memory.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'confab-client-storage-'));
  dirs.push(d);
  return d;
}

/** Each kind, with a way to open "the same" storage again (as a restarted process would). */
const kinds: { name: string; open: () => { storage: Storage; reopen: () => Storage } }[] = [
  {
    name: 'memoryStorage',
    open: () => {
      const s = memoryStorage();
      return { storage: s, reopen: () => s };
    },
  },
  {
    name: 'fileStorage',
    open: () => {
      const dir = tmp();
      return { storage: fileStorage(dir), reopen: () => fileStorage(dir) };
    },
  },
  {
    name: 'indexedDbStorage (fake-indexeddb)',
    open: () => {
      const factory = new IDBFactory();
      return { storage: indexedDbStorage('confab-test', factory), reopen: () => indexedDbStorage('confab-test', factory) };
    },
  },
];

describe.each(kinds)('$name', ({ open }) => {
  it('gets, sets, deletes and lists keys by prefix', async () => {
    const { storage, reopen } = open();
    expect(await storage.get('missing')).toBeUndefined();
    await storage.set('outbox/u1/a', { n: 1, nested: { s: 'x/y?z' } });
    await storage.set('outbox/u1/b', [1, 2]);
    await storage.set('outbox/u2/a', 'other user');
    await storage.set('other', true);
    expect(await storage.get('outbox/u1/a')).toEqual({ n: 1, nested: { s: 'x/y?z' } });
    expect((await storage.keys('outbox/u1/')).sort()).toEqual(['outbox/u1/a', 'outbox/u1/b']);
    await storage.delete('outbox/u1/a');
    await storage.delete('never-there');
    expect(await storage.get('outbox/u1/a')).toBeUndefined();
    const again = reopen();
    expect(await again.keys('outbox/')).toHaveLength(2);
    expect(await again.get('outbox/u2/a')).toBe('other user');
  });

  it('persists the outbox: a new instance shows the same messages as pending, in order, and forgets sent ones', async () => {
    const { storage, reopen } = open();
    const clock = new FakeClock();
    const makeOutbox = (s: Storage) => {
      const store = new Store(clock);
      store.me = 'u1';
      const outbox = new Outbox({
        storage: s,
        store,
        clock,
        apply: (m) => store.applyMessage(m),
        send: async () => {
          throw new Error('offline');
        },
        canDrain: () => false,
        refresh: async () => false,
      });
      return { store, outbox };
    };
    const first = makeOutbox(storage);
    await first.outbox.load('u1');
    for (let i = 0; i < 5; i++) first.outbox.add('c1', 'u1', { content: `hello ${i}` }, `client-${i}`, clock.now());
    first.outbox.add('c2', 'u1', { content: 'elsewhere', replyToId: 'x' }, 'client-x', clock.now());
    // One of them gets stored in the meantime (e.g. its ack arrived just before the crash).
    first.outbox.confirm('client-2', { ...message({ id: 'm2', conversationId: 'c1', seq: 1 }), authorId: 'u1', clientId: 'client-2' });
    await first.outbox.flushed();

    const second = makeOutbox(reopen());
    await second.outbox.load('u1');
    const shown = second.store.messages('c1');
    expect(shown.map((m) => [m.content, m.sendState, m.seq])).toEqual([
      ['hello 0', 'pending', null],
      ['hello 1', 'pending', null],
      ['hello 3', 'pending', null],
      ['hello 4', 'pending', null],
    ]);
    expect(second.store.messages('c2')[0]).toMatchObject({ content: 'elsewhere', replyToId: 'x', clientId: 'client-x' });
    // Another user's queue is not theirs.
    const third = makeOutbox(reopen());
    await third.outbox.load('u2');
    expect(third.outbox.size).toBe(0);
    await settle();
  });
});

describe('fileStorage', () => {
  it('writes through a temporary file and leaves none behind', async () => {
    const dir = tmp();
    const s = fileStorage(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => s.set(`k/${i % 3}`, { i })));
    const files = readdirSync(dir);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(files.sort()).toEqual(['k%2F0.json', 'k%2F1.json', 'k%2F2.json']);
  });
});
