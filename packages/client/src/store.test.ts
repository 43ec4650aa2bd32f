import { describe, expect, it } from 'vitest';
import { Store } from './store.ts';
import { FakeClock, conversation, message } from './test/fakes.ts';
import type { ChatMessage } from './types.ts';

const tick = () => new Promise<void>((r) => queueMicrotask(r));

function setup() {
  const clock = new FakeClock();
  const store = new Store(clock);
  store.me = 'u-me';
  store.upsertConversation(conversation({ id: 'c1' }), { startWindowAtEnd: true });
  store.upsertConversation(conversation({ id: 'c2' }), { startWindowAtEnd: true });
  return { clock, store };
}

function watch<T>(q: { get(): T; subscribe(fn: (v: T) => void): () => void }) {
  const calls: T[] = [q.get()];
  const stop = q.subscribe((v) => calls.push(v));
  return { calls, stop };
}

describe('store and live queries', () => {
  it('notifies once per change: a burst of events in one task is one callback', async () => {
    const { store } = setup();
    const w = watch(store.messagesQuery('c1'));
    for (let seq = 1; seq <= 100; seq++) store.applyMessage(message({ id: `m${seq}`, conversationId: 'c1', seq }));
    await tick();
    expect(w.calls.length).toBe(2);
    expect(w.calls[1]!.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    await tick();
    expect(w.calls.length).toBe(2);
  });

  it('does not call back for changes to other slices', async () => {
    const { store } = setup();
    const w = watch(store.messagesQuery('c1'));
    store.applyMessage(message({ id: 'x', conversationId: 'c2', seq: 1 }));
    store.userTyping({ conversationId: 'c1', userId: 'u-other', displayName: 'O', isTyping: true });
    await tick();
    expect(w.calls.length).toBe(1);
  });

  it('keeps the identity of unchanged messages (structural sharing)', async () => {
    const { store } = setup();
    const w = watch(store.messagesQuery('c1'));
    store.applyMessage(message({ id: 'a', conversationId: 'c1', seq: 1 }));
    store.applyMessage(message({ id: 'b', conversationId: 'c1', seq: 2 }));
    await tick();
    const first = w.calls.at(-1)!;
    store.applyMessage(message({ id: 'b', conversationId: 'c1', seq: 2, updatedSeq: 3, content: 'edited' }));
    await tick();
    const second = w.calls.at(-1)!;
    expect(second).not.toBe(first);
    expect(second[0]).toBe(first[0]);
    expect(second[1]).not.toBe(first[1]);
    expect(second[1]!.content).toBe('edited');
  });

  it('applies a duplicate once and keeps the newer state whatever the arrival order', async () => {
    const { store } = setup();
    const w = watch(store.messagesQuery('c1'));
    const v1 = message({ id: 'a', conversationId: 'c1', seq: 1 });
    const v2 = { ...v1, content: 'edited', updatedSeq: 5 };
    expect(store.applyMessage(v2)).toBe('inserted');
    expect(store.applyMessage(v1)).toBe('ignored');
    expect(store.applyMessage({ ...v2 })).toBe('ignored');
    await tick();
    expect(w.calls.length).toBe(2);
    expect(w.calls[1]).toEqual([v2]);
  });

  it('orders by seq whatever the arrival order', () => {
    const { store } = setup();
    for (const seq of [5, 1, 3, 2, 4]) store.applyMessage(message({ id: `m${seq}`, conversationId: 'c1', seq }));
    expect(store.messages('c1').map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('stitches AI pieces by index, each piece once, and lets ai:done settle the content', async () => {
    const { store } = setup();
    store.applyMessage(message({ id: 'ai', conversationId: 'c1', seq: 1, content: '', status: 'streaming', authorId: 'bot' }));
    const w = watch(store.messagesQuery('c1'));
    const delta = (index: number, text: string) => store.aiDelta({ conversationId: 'c1', messageId: 'ai', index, text });
    delta(0, 'Hel');
    delta(2, ' world');
    delta(0, 'Hel'); // duplicate
    await tick();
    expect(w.calls.at(-1)![0]!.content).toBe('Hel');
    delta(1, 'lo,');
    delta(2, ' world'); // duplicate after the gap closed
    delta(1, 'lo,');
    await tick();
    expect(w.calls.at(-1)![0]!.content).toBe('Hello, world');
    const before = w.calls.length;
    delta(2, ' world');
    await tick();
    expect(w.calls.length).toBe(before);
    store.aiDone({ conversationId: 'c1', messageId: 'ai', status: 'complete', content: 'Hello, world!' });
    await tick();
    expect(w.calls.at(-1)![0]).toMatchObject({ content: 'Hello, world!', status: 'complete' });
  });

  it('continues a stream joined midway from its checkpoint (streamIndex), never showing a piece twice', () => {
    const { store } = setup();
    // Joined late: the stored message holds pieces 0..2 ("So far"), the rest arrives as deltas.
    store.applyMessage(message({ id: 'ai', conversationId: 'c1', seq: 1, content: 'So far', status: 'streaming', streamIndex: 3 }));
    const delta = (index: number, text: string) => store.aiDelta({ conversationId: 'c1', messageId: 'ai', index, text });
    delta(2, 'far'); // already in the checkpoint
    delta(4, '!');
    expect(store.messages('c1')[0]!.content).toBe('So far');
    delta(3, ' more');
    delta(3, ' more');
    expect(store.messages('c1')[0]!.content).toBe('So far more!');
    // A newer checkpoint (e.g. after a resync) takes over; later pieces continue from it.
    store.applyMessage(message({ id: 'ai', conversationId: 'c1', seq: 1, updatedSeq: 2, content: 'So far more!', status: 'streaming', streamIndex: 5 }));
    delta(5, ' Done');
    expect(store.messages('c1')[0]!.content).toBe('So far more! Done');
  });

  it('ignores changes below the window, unless an older page is on its way (then the newer state wins)', () => {
    const { store } = setup();
    store.setFloor('c1', 10);
    expect(store.applyMessage(message({ id: 'old', conversationId: 'c1', seq: 3, updatedSeq: 12, content: 'edited' }))).toBe('ignored');
    store.beginOlderLoad('c1');
    store.applyMessage(message({ id: 'old', conversationId: 'c1', seq: 3, updatedSeq: 12, content: 'edited' }));
    // The page was read before the edit committed: its copy is older.
    store.endOlderLoad('c1', {
      messages: [message({ id: 'old', conversationId: 'c1', seq: 3 }), message({ id: 'nine', conversationId: 'c1', seq: 9 })],
      hasMore: true,
    });
    expect(store.messages('c1').map((m) => [m.id, m.content])).toEqual([
      ['old', 'edited'],
      ['nine', 'm9'],
    ]);
    expect(store.floor('c1')).toBe(3);
    expect(store.hasOlder('c1')).toBe(true);
    store.beginOlderLoad('c1');
    store.endOlderLoad('c1', { messages: [], hasMore: false });
    expect(store.hasOlder('c1')).toBe(false);
  });

  it('expires typing after 10 s and excludes the caller', async () => {
    const { store, clock } = setup();
    const w = watch(store.typingQuery('c1'));
    store.userTyping({ conversationId: 'c1', userId: 'u-a', displayName: 'A', isTyping: true });
    store.userTyping({ conversationId: 'c1', userId: 'u-me', displayName: 'Me', isTyping: true });
    await tick();
    expect(w.calls.at(-1)).toEqual(['u-a']);
    await clock.advance(5000);
    store.userTyping({ conversationId: 'c1', userId: 'u-b', displayName: 'B', isTyping: true });
    await clock.advance(5000);
    expect(w.calls.at(-1)).toEqual(['u-b']);
    await clock.advance(5000);
    expect(w.calls).toEqual([[], ['u-a'], ['u-a', 'u-b'], ['u-b'], []]);
  });

  it('keeps the conversation list sorted and up to date from messages and receipts', async () => {
    const { store } = setup();
    const w = watch(store.conversationsQuery());
    store.applyMessage(message({ id: 'a', conversationId: 'c2', seq: 1, createdAt: '2024-02-01T00:00:00.000Z' }));
    await tick();
    expect(w.calls.at(-1)!.map((c) => c.id)).toEqual(['c2', 'c1']);
    expect(w.calls.at(-1)![0]).toMatchObject({ unreadCount: 1, lastSeq: 1 });
    store.upsertConversation({ ...store.getConversation('c1')!, pinned: true });
    await tick();
    expect(w.calls.at(-1)!.map((c) => c.id)).toEqual(['c1', 'c2']);
    store.receipt({ conversationId: 'c2', userId: 'u-me', status: 'read', seq: 1 });
    await tick();
    expect(w.calls.at(-1)![1]).toMatchObject({ id: 'c2', unreadCount: 0, lastReadSeq: 1 });
  });

  it('shows pending changes over a message until removed, keeping identity when nothing changed', async () => {
    const { store } = setup();
    const base = message({ id: 'a', conversationId: 'c1', seq: 1 });
    store.applyMessage(base);
    const token = store.addOverlay('a', (m) => ({ ...m, content: 'pending edit' }));
    const v1 = store.messages('c1')[0] as ChatMessage;
    expect(v1.content).toBe('pending edit');
    store.applyMessage(message({ id: 'b', conversationId: 'c1', seq: 2 }));
    expect(store.messages('c1')[0]).toBe(v1);
    store.removeOverlay('a', token);
    expect(store.messages('c1')[0]).toBe(base);
  });

  it('drops a conversation and its messages', async () => {
    const { store } = setup();
    store.applyMessage(message({ id: 'a', conversationId: 'c1', seq: 1 }));
    const w = watch(store.messagesQuery('c1'));
    const cw = watch(store.conversationsQuery());
    store.patchConversation({ id: 'c1', removed: true });
    await tick();
    expect(w.calls.at(-1)).toEqual([]);
    expect(cw.calls.at(-1)!.map((c) => c.id)).toEqual(['c2']);
  });
});
