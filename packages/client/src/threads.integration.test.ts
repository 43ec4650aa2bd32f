/**
 * Threads in the SDK against a real Confab server: send with threadRootId / alsoToChannel through
 * the outbox (offline too, exactly once), watchMessages shows the main line only, watchThread one
 * thread (loadOlder), watchThreads the followed threads with unread counts, follow/unfollow.
 */
import { describe, expect, it } from 'vitest';
import { registerUser, type TestUser } from '../../server/src/test/harness.ts';
import type { FollowedThreadsView, ThreadView } from './threads.ts';
import type { ChatMessage } from './types.ts';
import { liveServer, until as waitUntil } from './test/live.ts';

const live = liveServer();
const sdk = (user: TestUser, pageSize?: number) => live.sdk(user, pageSize ? { pageSize } : {});
const until = (what: string, check: () => boolean) => waitUntil(what, check, 20_000);

async function setup() {
  const alice = await registerUser(live.server, 'alice');
  const bob = await registerUser(live.server, 'bob');
  const res = await alice.api.post('/api/conversations/group', { title: 'team', participantIds: [bob.id] });
  const conv = res.body.id as string;
  const a = sdk(alice);
  const b = sdk(bob);
  await Promise.all([a.idle(), b.idle()]);
  return { alice, bob, conv, a, b };
}

const people = (list: ChatMessage[]) => list.filter((m) => m.kind !== 'system').map((m) => m.content);

describe('threads in the SDK', () => {
  it('replies show in the thread, not the main line (unless alsoToChannel), and the root’s count moves live', async () => {
    const { conv, a, b } = await setup();
    let mainA: ChatMessage[] = [];
    let mainB: ChatMessage[] = [];
    a.watchMessages(conv, (l) => (mainA = l));
    b.watchMessages(conv, (l) => (mainB = l));
    const root = await a.send(conv, { content: 'root' }).settled;
    await until('root on b', () => people(mainB).includes('root'));

    let thread: ThreadView | null = null;
    const watch = b.watchThread(conv, root.id!, (t) => (thread = t));
    const r1 = b.send(conv, { content: 'in thread', threadRootId: root.id! });
    expect(r1.threadRootId).toBe(root.id);
    const r2 = a.send(conv, { content: 'also on main', threadRootId: root.id!, alsoToChannel: true });
    await Promise.all([r1.settled, r2.settled]);
    await until('both replies in the thread', () => thread !== null && thread.replies.filter((m) => m.sendState !== 'pending').length === 2);
    expect(thread!.replies.map((m) => m.content)).toEqual(['in thread', 'also on main']);
    expect(thread!.hasMore).toBe(false);
    expect(watch.hasMore).toBe(false);
    await until('the root’s count on both main lines', () =>
      [mainA, mainB].every((l) => l.find((m) => m.id === root.id)?.thread?.replyCount === 2),
    );
    expect(thread!.root?.thread?.replyCount).toBe(2);
    // The main line shows the root and the reply sent to the channel, never the other reply.
    expect(people(mainA)).toEqual(['root', 'also on main']);
    expect(people(mainB)).toEqual(['root', 'also on main']);
    // The conversation's last message is not a thread reply.
    expect(a.getConversation(conv)?.lastMessage?.content).toBe('also on main');
    watch.unsubscribe();
  });

  it('thread replies held before a conversation is opened do not stand in for its main line', async () => {
    const alice = await registerUser(live.server, 'alice');
    const bob = await registerUser(live.server, 'bob');
    const res = await alice.api.post('/api/conversations/group', { title: 'team', participantIds: [bob.id] });
    const conv = res.body.id as string;
    const root = (await alice.api.post('/api/messages', { conversationId: conv, content: 'root', clientId: 'root' })).body;
    await alice.api.post('/api/messages', { conversationId: conv, content: 'main', clientId: 'main' });
    const b = sdk(bob, 5);
    await b.idle();
    // While Bob's client runs (the conversation not on screen), a thread fills up.
    for (let i = 0; i < 6; i++) await alice.api.post('/api/messages', { conversationId: conv, content: `t${i}`, clientId: `t${i}`, threadRootId: root.id });
    // (The last reply's seq; the root's change after it is below the window, so not held.)
    await until('the replies arrived', () => (b.getConversation(conv)?.lastSeq ?? 0) >= root.seq + 12);
    let main: ChatMessage[] = [];
    b.watchMessages(conv, (l) => (main = l));
    await until('the main line', () => people(main).join() === 'root,main');
  });

  it('a reply written offline waits in the outbox, shows in the thread as pending, and is stored once', async () => {
    const { conv, a, b } = await setup();
    const root = await a.send(conv, { content: 'root' }).settled;
    let thread: ThreadView | null = null;
    b.watchThread(conv, root.id!, (t) => (thread = t));
    await until('thread loaded', () => thread !== null && !thread.loadingOlder);
    b.connection.goOffline();
    const pending = b.send(conv, { content: 'written offline', threadRootId: root.id! });
    await until('pending in thread', () => thread!.replies.some((m) => m.content === 'written offline' && m.sendState === 'pending'));
    b.connection.goOnline();
    const sent = await pending.settled;
    expect(sent.sendState).toBe('sent');
    await b.idle();
    await until('stored in thread', () => thread!.replies.length === 1 && thread!.replies[0]!.id === sent.id);
    const listed = await b.api.listMessages(conv, { threadRootId: root.id! });
    expect(listed.messages.map((m) => m.content)).toEqual(['written offline']);
  });

  it('loadOlder pages a long thread; replies that came while away arrive through sync', async () => {
    const { conv, alice, a, b } = await setup();
    const root = await a.send(conv, { content: 'root' }).settled;
    for (let i = 0; i < 7; i++) await alice.api.post('/api/messages', { conversationId: conv, content: `r${i}`, clientId: `r${i}`, threadRootId: root.id });
    const paged = sdk(alice, 3);
    await paged.idle();
    let thread: ThreadView | null = null;
    const watch = paged.watchThread(conv, root.id!, (t) => (thread = t));
    await until('first page', () => thread !== null && thread.replies.length === 3);
    expect(thread!.replies.map((m) => m.content)).toEqual(['r4', 'r5', 'r6']);
    expect(watch.hasMore).toBe(true);
    await watch.loadOlder();
    await watch.loadOlder();
    await until('all pages', () => thread!.replies.length === 7 && !thread!.hasMore);
    expect(thread!.replies.map((m) => m.content)).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);

    paged.connection.goOffline();
    await b.send(conv, { content: 'while away', threadRootId: root.id! }).settled;
    paged.connection.goOnline();
    await paged.idle();
    await until('caught up', () => thread!.replies.at(-1)?.content === 'while away' && thread!.root?.thread?.replyCount === 8);
  });

  it('watchThreads lists followed threads with unread counts; reading and unfollowing move them', async () => {
    const { conv, a, b } = await setup();
    const root = await a.send(conv, { content: 'follow me' }).settled;
    let followed: FollowedThreadsView | null = null;
    a.watchThreads((v) => (followed = v));
    const reply = await b.send(conv, { content: 'news', threadRootId: root.id! }).settled;
    await until('unread 1', () => followed?.threads?.find((t) => t.root.id === root.id)?.unreadCount === 1);
    const before = a.getConversation(conv)!.lastReadSeq;
    await a.markRead(reply.id!);
    await until('unread 0', () => followed?.threads?.find((t) => t.root.id === root.id)?.unreadCount === 0);
    expect(a.getConversation(conv)!.lastReadSeq).toBe(before);
    await a.follow(root.id!, false);
    await until('gone', () => followed?.threads?.some((t) => t.root.id === root.id) === false);
    await a.follow(root.id!, true);
    await until('back', () => followed?.threads?.some((t) => t.root.id === root.id) === true);
  });
});
