import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimits } from '../rateLimits.ts';
import { breakableProxy, startOwnRedis, type BreakableProxy } from '../test/faults.ts';
import { newRedisPrefix, registerUser, startTestServer, testRedisUrl, type TestServer } from '../test/harness.ts';
import { connectRedis, deleteKeys, redisLimiterFactory } from './redis.ts';
import { call, connect, createGroup, ok, until, waitFor } from '../realtime/test/kit.ts';

let proxy: BreakableProxy;
let server: TestServer;
beforeAll(async () => {
  proxy = await breakableProxy(new URL(testRedisUrl));
  server = await startTestServer({ redisUrl: proxy.url });
});
afterAll(async () => {
  await server?.close();
  proxy.cut();
  await proxy?.close();
});

describe('one node with Redis', () => {
  it('delivers through the Redis adapter and reports Redis in /readyz', async () => {
    const [alice, bob] = await Promise.all([registerUser(server, 'alice'), registerUser(server, 'bob')]);
    const conversationId = await createGroup(server, server.ctx.db, alice!, [bob!]);
    const a = await connect(server.url, alice!.accessToken);
    const b = await connect(server.url, bob!.accessToken);
    const got = waitFor(b, 'chat:message_received');
    await ok(a, 'chat:message_send', { conversationId, content: 'via redis', clientId: 'r' });
    expect(await got).toMatchObject({ content: 'via redis' });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);

    const bounced = new Promise<string>((resolve) => b.once('disconnect', resolve));
    proxy.cut();
    await until(async () => (await fetch(`${server.url}/readyz`)).status === 503, 5000, '/readyz to fail');
    // The local part keeps working while Redis is away (limits fall back to memory).
    expect((await alice!.api.get('/api/auth/me')).status).toBe(200);
    proxy.restore();
    await until(async () => (await fetch(`${server.url}/readyz`)).status === 200, 10_000, '/readyz to recover');
    // Broadcasts may have been lost meanwhile: clients are made to reconnect (and so to sync).
    expect(await bounced).toBe('transport close');
    a.close();
    b.close();
  });

  it('shares rate limits between nodes through Redis', async () => {
    const prefix = newRedisPrefix();
    const log = pino({ level: 'silent' });
    const [r1, r2] = await Promise.all([connectRedis(testRedisUrl, prefix, log), connectRedis(testRedisUrl, prefix, log)]);
    try {
      const node1 = createRateLimits(true, redisLimiterFactory(r1));
      const node2 = createRateLimits(true, redisLimiterFactory(r2));
      const results = await Promise.allSettled(Array.from({ length: 130 }, (_, i) => (i % 2 ? node1 : node2).consume('socketEventsPerUser', 'user-1')));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(100);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'RATE_LIMITED' } });
    } finally {
      await deleteKeys(r1.pub, prefix);
      await Promise.all([r1.close(), r2.close()]);
    }
  });

  it('starts while Redis is down: /readyz 503, local delivery works, Redis-bound acks fail fast, ready once Redis returns', async () => {
    const own = await startOwnRedis({ start: false });
    const node = await startTestServer({ redisUrl: own.url });
    try {
      expect((await fetch(`${node.url}/readyz`)).status).toBe(503);
      const [alice, bob] = [await registerUser(node, 'alice'), await registerUser(node, 'bob')];
      const conversationId = await createGroup(node, node.ctx.db, alice, [bob]);
      const a = await connect(node.url, alice.accessToken);
      const b = await connect(node.url, bob.accessToken);
      // This node's own sockets are served without Redis.
      const got = waitFor(b, 'chat:message_received');
      await ok(a, 'chat:message_send', { conversationId, content: 'no redis yet', clientId: 'n1' });
      expect(await got).toMatchObject({ content: 'no redis yet' });
      // Presence lives in Redis: the ack says so at once instead of hanging.
      const started = performance.now();
      const ack = await call(a, 'subscribe', { conversationId });
      expect(ack).toMatchObject({ ok: false, error: { code: 'UNAVAILABLE' } });
      expect(performance.now() - started).toBeLessThan(2000);

      await own.start();
      await until(async () => (await fetch(`${node.url}/readyz`)).status === 200, 15_000, '/readyz to turn 200');
      await until(async () => (await call(a, 'subscribe', { conversationId })).ok, 15_000, 'subscribe to work');
      a.close();
      b.close();
    } finally {
      await node.close();
      await own.stop();
    }
  });

  it('closes cleanly while Redis is still down', async () => {
    const own = await startOwnRedis({ start: false });
    const node = await startTestServer({ redisUrl: own.url });
    // Subscriptions still waiting for Redis are dropped without an unhandled rejection.
    await node.close();
    await own.stop();
  });
});
