/**
 * The SDK's mention helpers (pure), and watchMentions and unreadMentionCount against a real server
 * (REST + Socket.IO; the database under test).
 */
import type { Conversation, Message } from '@confab/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerUser, startTestServer, type TestServer, type TestUser } from '../../server/src/test/harness.ts';
import { createClient, type ConfabClient } from './client.ts';
import { mentionQueryAt, mentionSegments, mentionSuggestions, type MentionsState } from './mentions.ts';
import { memoryStorage } from './storage/memory.ts';
import { conversation as baseConversation } from './test/fakes.ts';

const member = (userId: string, handle: string, displayName: string, isBot = false) => ({
  userId,
  role: 'member' as const,
  joinedAt: '2026-01-01T00:00:00.000Z',
  lastReadSeq: 0,
  lastDeliveredSeq: 0,
  user: { id: userId, handle, displayName, avatarUrl: null, isBot, lastSeenAt: null },
});

/** A group of five (the caller 'me', Carol, Carl, Zed and the assistant), on the SDK tests' fixture. */
const conversation = (over: Partial<Conversation> = {}): Conversation =>
  baseConversation({
    id: 'c1',
    title: 'Team',
    lastSeq: 1,
    members: [member('me', 'me', 'Me Myself'), member('u-carol', 'carol', 'Carol King'), member('u-carl', 'carl', 'Carl Sagan'), member('u-zed', 'zed', 'Zed Carter'), member('assistant', 'assistant', 'Assistant', true)],
    ...over,
  });

describe('mentionQueryAt', () => {
  it.each([
    ['@', 1, ''],
    ['hi @ca', 6, 'ca'],
    ['(@ca', 4, 'ca'],
    ['hi @carol.s', 11, 'carol.s'],
  ])('%j at %i → %j', (text, caret, query) => {
    expect(mentionQueryAt(text, caret)).toEqual({ start: text.lastIndexOf('@'), end: caret, query });
  });
  it.each([
    ['mail a@b', 8],
    ['hi @ca there', 12],
    ['hi @ca', 3],
    ['@@ca', 4],
    ['', 0],
  ])('%j at %i → nothing', (text, caret) => {
    expect(mentionQueryAt(text, caret)).toBeNull();
  });
});

describe('mentionSuggestions', () => {
  const handles = (list: { handle: string }[]) => list.map((s) => s.handle);
  it('lists members by handle or name, prefix matches first, never the caller', () => {
    expect(handles(mentionSuggestions(conversation(), 'car', 'me'))).toEqual(['carl', 'carol', 'zed']);
    expect(handles(mentionSuggestions(conversation(), 'king', 'me'))).toEqual(['carol']);
    expect(handles(mentionSuggestions(conversation(), 'me', 'me'))).toEqual([]);
    expect(handles(mentionSuggestions(conversation(), '', 'me'))).toEqual(['assistant', 'carl', 'carol', 'zed', 'channel', 'here']);
  });
  it('offers the assistant as the AI, and @here / @channel only to those who may use them', () => {
    const [assistant] = mentionSuggestions(conversation(), 'ass', 'me');
    expect(assistant).toMatchObject({ handle: 'assistant', kind: 'assistant', label: 'Assistant (AI)' });
    expect(handles(mentionSuggestions(conversation(), 'h', 'me'))).toEqual(['here', 'channel']);
    expect(handles(mentionSuggestions(conversation({ mentionChannel: 'admins' }), 'h', 'me'))).toEqual([]);
    expect(handles(mentionSuggestions(conversation({ mentionChannel: 'admins', role: 'admin' }), 'ch', 'me'))).toEqual(['channel']);
    expect(handles(mentionSuggestions(conversation({ type: 'direct' }), 'h', 'me'))).toEqual([]);
  });
});

describe('mentionSegments', () => {
  const members = conversation().members;
  const msg = (content: string, over: Partial<Message> = {}) => ({ content, authorId: 'u-zed', mentions: [] as string[], mentionsHere: false, mentionsChannel: false, ...over });
  it('marks the mentions the server stored, and only those', () => {
    expect(mentionSegments(msg('hi @Carol and @carl, `@carol` @nobody', { mentions: ['u-carol'] }), members, 'me')).toEqual([
      { kind: 'text', text: 'hi ' },
      { kind: 'mention', text: '@Carol', userId: 'u-carol', group: null, me: false },
      { kind: 'text', text: ' and @carl, `@carol` @nobody' },
    ]);
    expect(mentionSegments(msg('@me: @here', { mentions: ['me'], mentionsHere: true }), members, 'me')).toEqual([
      { kind: 'mention', text: '@me', userId: 'me', group: null, me: true },
      { kind: 'text', text: ': ' },
      { kind: 'mention', text: '@here', userId: null, group: 'here', me: true },
    ]);
    // A restricted @channel (not stored as one) stays text.
    expect(mentionSegments(msg('@channel'), members, 'me')).toEqual([{ kind: 'text', text: '@channel' }]);
  });
});

describe('watchMentions and unreadMentionCount (real server)', () => {
  let server: TestServer;
  const clients: ConfabClient[] = [];
  let alice: TestUser, bob: TestUser;

  beforeAll(async () => {
    server = await startTestServer();
    [alice, bob] = [await registerUser(server, 'alice'), await registerUser(server, 'bob')];
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.close();
  });

  function sdk(user: TestUser): ConfabClient {
    const client = createClient({ url: server.url, storage: memoryStorage() });
    clients.push(client);
    client.setSession({ accessToken: user.accessToken, refreshToken: user.refreshToken });
    return client;
  }
  async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
    const start = Date.now();
    while (!check()) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('lists old mentions, adds new ones live, counts unread ones until read, and drops a left conversation', async () => {
    const conv = (await alice.api.post('/api/conversations/group', { title: 'team', participantIds: [bob.id] })).body.id as string;
    const old = (await alice.api.post('/api/messages', { conversationId: conv, content: `@${bob.user.handle} old`, clientId: 'w-1' })).body as Message;
    const b = sdk(bob);
    const a = sdk(alice);
    let state: MentionsState | undefined;
    const watch = b.watchMentions((s) => (state = s), 1);
    await until('first page', () => state?.loading === false);
    expect(state!.messages.map((m) => m.id)).toEqual([old.id]);
    await b.idle();
    await a.idle();
    expect(b.getConversation(conv)?.unreadMentionCount).toBe(1);

    const live = a.send(conv, { content: `and @${bob.user.handle} new` });
    await live.settled;
    await until('the live mention', () => state!.messages.length === 2);
    expect(state!.messages[0]!.content).toBe(`and @${bob.user.handle} new`);
    expect(b.mentionsMe(state!.messages[0]!)).toBe(true);
    await until('the count', () => b.getConversation(conv)?.unreadMentionCount === 2);
    // A plain message counts as unread, not as a mention; own mentions never count.
    a.send(conv, { content: 'plain' });
    await until('plain', () => b.getConversation(conv)?.unreadCount === 3);
    expect(b.getConversation(conv)?.unreadMentionCount).toBe(2);

    // The conversation on screen (its messages held), as in an app: reads count from them.
    const onScreen = b.watchMessages(conv, () => {});
    await until('messages held', () => b.getMessages(conv).filter((m) => m.kind !== 'system').length === 3);
    await b.markRead(old.id);
    await until('one read', () => b.getConversation(conv)?.unreadMentionCount === 1);
    const latest = b.getMessages(conv).at(-1)!;
    await b.markRead(latest.id!);
    await until('all read', () => b.getConversation(conv)?.unreadMentionCount === 0);

    // Paging: one per page here.
    state = undefined;
    const paged = b.watchMentions((s) => (state = s), 1);
    await until('page 1', () => state?.loading === false);
    expect(state!.hasMore).toBe(true);
    await paged.loadMore();
    expect(state!.messages).toHaveLength(2);
    paged.unsubscribe();

    // Bob leaves: his Mentions drop the conversation's messages.
    let watched: MentionsState | undefined;
    const w2 = b.watchMentions((s) => (watched = s));
    await until('loaded', () => watched?.loading === false && watched.messages.length === 2);
    await b.api.removeParticipant(conv, bob.id);
    await until('dropped', () => watched!.messages.length === 0);
    w2.unsubscribe();
    watch.unsubscribe();
    onScreen.unsubscribe();
  });
});
