import { describe, expect, it } from 'vitest';
import { createBackoff } from './backoff.ts';
import { Connection } from './connection.ts';
import { FakeClock, FakeServer, settle } from './test/fakes.ts';

describe('backoff', () => {
  it('doubles the window from 1 s, caps it at 10 s, and draws the delay uniformly within it (full jitter)', () => {
    const top = createBackoff({ random: () => 0.999999 });
    const ceilings = Array.from({ length: 9 }, () => top.next() + 1);
    expect(ceilings).toEqual([1000, 2000, 4000, 8000, 10000, 10000, 10000, 10000, 10000]);

    const bottom = createBackoff({ random: () => 0 });
    expect(Array.from({ length: 5 }, () => bottom.next())).toEqual([0, 0, 0, 0, 0]);

    const half = createBackoff({ random: () => 0.5 });
    expect(Array.from({ length: 7 }, () => half.next())).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('stays within [0, cap] for any random draw', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const b = createBackoff({ random });
    for (let attempt = 0; attempt < 50; attempt++) {
      const cap = Math.min(10_000, 1000 * 2 ** attempt);
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(cap);
    }
  });

  it('stops the window at 2 s while the server cannot be reached, and goes on from there once it answers', () => {
    const b = createBackoff({ random: () => 0.999999 });
    expect(Array.from({ length: 5 }, () => b.nextUnreachable() + 1)).toEqual([1000, 2000, 2000, 2000, 2000]);
    expect(b.next() + 1).toBe(10_000);
  });

  it('goes back to attempt 0 on reset', () => {
    const b = createBackoff({ random: () => 0.5 });
    b.next();
    b.next();
    b.next();
    expect(b.attempt).toBe(3);
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.next()).toBe(500);
  });
});

describe('connection reconnects with backoff', () => {
  function setup() {
    const clock = new FakeClock();
    const server = new FakeServer();
    const states: string[] = [];
    const conn = new Connection({
      url: 'http://fake',
      clock,
      random: () => 0.5,
      socketFactory: server.socketFactory,
      token: async () => 'token',
      refreshToken: async () => 'token2',
      attach: () => {},
      onConnect: () => {},
      onDisconnect: () => {},
    });
    conn.subscribe((s) => states.push(s));
    return { clock, server, conn, states };
  }

  it('waits 1, 2, 4, 8 s (× jitter) between failed attempts, capped at 10 s, and resets after a success', async () => {
    const { clock, server, conn, states } = setup();
    server.handshakeResult = 'UNAVAILABLE';
    conn.start();
    await settle();
    expect(states).toEqual(['connecting']);
    // Let 7 attempts fail; each schedules the next with the next delay.
    await clock.advance(500 + 1000 + 2000 + 4000 + 5000 + 5000);
    expect(clock.delays).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
    expect(server.created.length).toBe(7);

    server.handshakeResult = 'accept';
    await clock.advance(5000);
    expect(conn.state).toBe('online');
    expect(conn.backoff.attempt).toBe(0);

    // A drop after a success starts over at the 1 s window.
    server.kill();
    await settle();
    expect(conn.state).toBe('reconnecting');
    expect(clock.delays.at(-1)).toBe(500);
    await clock.advance(500);
    expect(conn.state).toBe('online');
    expect(states).toEqual(['connecting', 'online', 'reconnecting', 'online']);
    conn.close();
  });

  it('retries within 2 s while the server is unreachable (a restart), and connects soon after it is back', async () => {
    const { clock, server, conn } = setup();
    server.handshakeResult = 'unreachable';
    conn.start();
    await settle();
    await clock.advance(500 + 1000 + 1000 + 1000 + 1000);
    expect(clock.delays).toEqual([500, 1000, 1000, 1000, 1000, 1000]);
    server.handshakeResult = 'accept';
    await clock.advance(1000);
    expect(conn.state).toBe('online');
    conn.close();
  });

  it('holds reconnects while the network is down and reconnects at once when it returns', async () => {
    const { clock, server, conn } = setup();
    conn.start();
    await settle();
    expect(conn.state).toBe('online');
    conn.setNetwork(false);
    expect(conn.state).toBe('offline');
    await clock.advance(120_000);
    expect(server.created.length).toBe(1);
    conn.setNetwork(true);
    await settle();
    expect(conn.state).toBe('online');
    expect(server.created.length).toBe(2);
    conn.close();
  });

  it('refreshes the token after an UNAUTHENTICATED refusal, and gives up when the session is over', async () => {
    const { clock, server, conn } = setup();
    server.handshakeResult = 'UNAUTHENTICATED';
    conn.start();
    await settle();
    await clock.advance(500);
    expect(server.created.length).toBe(2);
    // Never connected yet: still 'connecting' (not 'reconnecting').
    expect(conn.state).toBe('connecting');
    conn.close();

    const clock2 = new FakeClock();
    const server2 = new FakeServer();
    server2.handshakeResult = 'UNAUTHENTICATED';
    const conn2 = new Connection({
      url: 'http://fake',
      clock: clock2,
      random: () => 0.5,
      socketFactory: server2.socketFactory,
      token: async () => 'token',
      refreshToken: async () => null,
      attach: () => {},
      onConnect: () => {},
      onDisconnect: () => {},
    });
    conn2.start();
    await settle();
    expect(conn2.state).toBe('offline');
    await clock2.advance(60_000);
    expect(server2.created.length).toBe(1);
  });

  it('fails requests in flight when the socket drops, and times out unanswered ones', async () => {
    const { clock, server, conn } = setup();
    conn.start();
    await settle();
    server.overrides.set('chat:typing', () => undefined);
    const unanswered = conn.request('chat:typing', { conversationId: 'c', isTyping: true }, 1000);
    const expectTimeout = expect(unanswered).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await clock.advance(1000);
    await expectTimeout;
    const dropped = conn.request('chat:typing', { conversationId: 'c', isTyping: true });
    server.kill();
    await expect(dropped).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(conn.request('chat:typing', { conversationId: 'c', isTyping: true })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    conn.close();
  });
});
