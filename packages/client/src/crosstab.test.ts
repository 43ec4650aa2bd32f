import { describe, expect, it } from 'vitest';
import { createClient, type ConfabClient } from './client.ts';
import { LEADER_TIMEOUT_MS } from './crosstab.ts';
import { memoryStorage } from './storage/memory.ts';
import { FakeClock, FakeServer, conversation, fakeJwt, settle } from './test/fakes.ts';

/** Two "tabs" of one user in one process: BroadcastChannel works across instances in Node too. */
async function tabs(count: number) {
  const server = new FakeServer();
  server.addConversation(conversation({ id: 'c1' }));
  const clock = new FakeClock();
  const shared = memoryStorage(); // IndexedDB is shared by an origin's tabs
  const accessToken = fakeJwt('u-me', Math.floor(clock.now() / 1000) + 900);
  const list: ConfabClient[] = [];
  for (let i = 0; i < count; i++) {
    const c = createClient({ url: 'http://fake', fetch: server.fetch, socketFactory: server.socketFactory, clock, storage: shared, crossTab: true });
    c.setSession({ accessToken, refreshToken: 'u-me:r0' });
    list.push(c);
  }
  await clock.advance(LEADER_TIMEOUT_MS);
  await settle(20);
  await clock.advance(2000);
  await settle(20);
  return { server, clock, list };
}

const sends = (server: FakeServer) => server.created.map((s) => s.sent.filter((e) => e.event === 'chat:message_send').length);

describe('cross-tab', () => {
  it('elects one leader, which alone drains the shared outbox; every tab shows the message', async () => {
    const { server, clock, list } = await tabs(3);
    expect(list.filter((c) => c.isLeaderTab).length).toBe(1);
    const follower = list.find((c) => !c.isLeaderTab)!;
    const leaderIndex = list.findIndex((c) => c.isLeaderTab);
    const m = follower.send('c1', { content: 'from a follower' });
    await settle(20);
    await clock.advance(100);
    await settle(20);
    expect(await m.settled).toMatchObject({ sendState: 'sent' });
    expect(server.messages.get('c1')!.map((x) => x.content)).toEqual(['from a follower']);
    // Only the leader's socket sent it.
    expect(sends(server).reduce((a, b) => a + b, 0)).toBe(1);
    expect(sends(server)[leaderIndex]).toBe(1);
    for (const c of list) expect(c.getMessages('c1').map((x) => [x.content, x.sendState ?? null])).toEqual([['from a follower', expect.anything()]]);
    await Promise.all(list.map((c) => c.close()));
  });

  it('hands leadership over when the leader goes away, and the new leader sends what was queued', async () => {
    const { server, clock, list } = await tabs(2);
    const leader = list.find((c) => c.isLeaderTab)!;
    const follower = list.find((c) => !c.isLeaderTab)!;
    await leader.close();
    server.kill(); // the leader's socket is gone; the follower's reconnects
    const m = follower.send('c1', { content: 'queued' });
    await settle(10);
    expect(m.sendState).toBe('pending');
    await clock.advance(LEADER_TIMEOUT_MS + 2000);
    await settle(20);
    await clock.advance(1000);
    expect(follower.isLeaderTab).toBe(true);
    expect(await m.settled).toMatchObject({ sendState: 'sent' });
    expect(server.messages.get('c1')!.length).toBe(1);
    await follower.close();
  });

  it('rotates the refresh token in one tab only and shares the new tokens', async () => {
    const { server, clock, list } = await tabs(2);
    const follower = list.find((c) => !c.isLeaderTab)!;
    const leader = list.find((c) => c.isLeaderTab)!;
    server.checkTokens = true;
    server.validTokens.clear();
    // The follower hits a 401: it asks the leader instead of spending the shared refresh token.
    const call = follower.request('GET', '/api/conversations');
    await settle(20);
    await clock.advance(10);
    await settle(20);
    await call;
    expect(server.refreshCount).toBe(1);
    expect(follower.tokens).toEqual(leader.tokens);
    expect(leader.tokens?.refreshToken).toBe('u-me:r1');
    await Promise.all(list.map((c) => c.close()));
  });
});
