/**
 * Channels and pins through the SDK against a real Confab server (REST + Socket.IO): the typed
 * `client.api` calls, `createGroup` with a visibility and topic, `joinChannel` (the conversation
 * and then its live messages arrive without a reconnect), and `watchPins` kept live by pins, unpins
 * and deletions made elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { registerUser } from '../../server/src/test/harness.ts';
import type { PinsState } from './pins.ts';
import { liveServer, until, refused } from './test/live.ts';

const live = liveServer();
const sdk = live.sdk;


describe('channels through the SDK', () => {
  it('creates, lists, shows and joins a channel; the joiner then gets its messages live', async () => {
    const [alice, bob] = await Promise.all([registerUser(live.server, 'alice'), registerUser(live.server, 'bob')]);
    const a = sdk(alice);
    const b = sdk(bob);
    await Promise.all([a.idle(), b.idle()]);
    const tag = `sdk${Math.random().toString(36).slice(2, 8)}`;
    const c = await a.createGroup(`${tag} general`, [], { visibility: 'public', topic: 'Everything' });
    expect(c).toMatchObject({ visibility: 'public', topic: 'Everything' });
    expect(a.getConversation(c.id)?.topic).toBe('Everything');

    const listed = await b.api.listChannels({ query: tag });
    expect(listed.channels).toEqual([expect.objectContaining({ id: c.id, memberCount: 1, isMember: false, topic: 'Everything' })]);
    expect((await b.api.getChannel(c.id)).title).toBe(`${tag} general`);
    expect(await refused(b.api.listMessages(c.id))).toBe('NOT_FOUND');

    const joined = await b.joinChannel(c.id);
    expect(joined.role).toBe('member');
    expect(b.getConversation(c.id)).not.toBeNull();
    const seen: string[][] = [];
    const watch = b.watchMessages(c.id, (list) => seen.push(list.map((m) => m.content)));
    a.send(c.id, { content: 'welcome aboard' });
    await until('the message after joining', () => seen.at(-1)?.includes('welcome aboard') ?? false);
    watch.unsubscribe();

    const changed = await a.api.updateConversation(c.id, { topic: 'Only news' });
    expect(changed.topic).toBe('Only news');
    await until('the topic on the other side', () => b.getConversation(c.id)?.topic === 'Only news');
    expect(await refused(b.api.updateConversation(c.id, { visibility: 'private' }))).toBe('FORBIDDEN');
    expect(await refused(b.api.joinChannel('no-such-channel'))).toBe('NOT_FOUND');
  });

  it('watchPins: fetched once, then live through pins, unpins and deletions made elsewhere', async () => {
    const [alice, bob] = await Promise.all([registerUser(live.server, 'alice'), registerUser(live.server, 'bob')]);
    const a = sdk(alice);
    const b = sdk(bob);
    const c = await a.createGroup('pins', [], { visibility: 'public' });
    await b.joinChannel(c.id);
    const first = await a.api.sendMessage({ conversationId: c.id, content: 'first', clientId: 'p1' });
    const second = await a.api.sendMessage({ conversationId: c.id, content: 'second', clientId: 'p2' });
    await a.pin(first.id);

    const states: PinsState[] = [];
    const sub = b.watchPins(c.id, (s) => states.push(s));
    const latest = () => states.at(-1)!;
    await until('the first fetch', () => !latest().loading);
    expect(latest().messages.map((m) => m.content)).toEqual(['first']);
    expect(latest().messages[0]!.pinnedBy).toBe(alice.id);

    await b.idle();
    const pinned = await a.pin(second.id);
    expect(pinned.pinnedAt).not.toBeNull();
    await until('the live pin', () => latest().messages.length === 2);
    expect(latest().messages.map((m) => m.content)).toEqual(['second', 'first']);

    await a.pin(second.id, false);
    await until('the live unpin', () => latest().messages.length === 1);
    await a.remove(first.id);
    await until('the deletion', () => latest().messages.length === 0);
    expect(latest().error).toBeNull();

    // Bob is a member, not a moderator: refused, and nothing changes.
    expect(await refused(b.pin(second.id))).toBe('FORBIDDEN');
    sub.unsubscribe();

    // A non-member's watch ends in NOT_FOUND.
    const mallory = sdk(await registerUser(live.server, 'mallory'));
    const theirs: PinsState[] = [];
    const refusedWatch = mallory.watchPins(c.id, (s) => theirs.push(s));
    await until('the refused fetch', () => Boolean(theirs.at(-1)?.error));
    expect(theirs.at(-1)!.error!.code).toBe('NOT_FOUND');
    refusedWatch.unsubscribe();
  });
});
