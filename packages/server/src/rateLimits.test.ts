import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimits, type RateLimits, type RateLimitsOptions } from './rateLimits.ts';
import { connectRedis, deleteKeys, redisLimiterFactory, type RedisClients } from './redis/redis.ts';
import { newRedisPrefix, testRedisUrl } from './test/harness.ts';
import { until } from './realtime/test/kit.ts';

// Small numbers so a test sees lockouts begin and end.
const small: RateLimitsOptions = { limits: { loginFailuresByAccountAndIp: { points: 3, duration: 3600 } }, lockout: { firstSeconds: 1, maxSeconds: 2 } };

/** A login guard over `nodes` (one limiter set per node), counting the passwords verified. */
function guardedLogins(nodes: RateLimits[]) {
  let verified = 0;
  const attempt = (i: number, account: string, ip: string, right: boolean) =>
    nodes[i % nodes.length]!.guardLogin(account, ip, async () => {
      verified++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return right;
    }).then(
      (ok) => (ok ? 'in' : 'wrong'),
      (error: { code?: string; details?: { retryAfterMs: number } }) => {
        if (error.code !== 'RATE_LIMITED') throw error;
        return error.details!.retryAfterMs;
      },
    );
  return { attempt, verified: () => verified };
}

function behaves(makeNodes: () => Promise<RateLimits[]>) {
  it('counts a burst before verifying, keys failures by account and IP, and locks for longer each time', async () => {
    const nodes = await makeNodes();
    const { attempt, verified } = guardedLogins(nodes);
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => attempt(i, 'Owner@example.test', '10.0.0.1', false)));
    expect(verified()).toBe(3);
    expect(burst.filter((r) => r === 'wrong')).toHaveLength(3);
    expect(burst.filter((r) => typeof r === 'number').every((ms) => (ms as number) > 0)).toBe(true);
    // Locked for that address only, and the right password does not help there.
    expect(await attempt(0, 'owner@example.test', '10.0.0.1', true)).toEqual(expect.any(Number));
    expect(await attempt(1, 'owner@example.test', '10.0.0.2', true)).toBe('in');
    expect(verified()).toBe(4);

    // The lockout ends; the next one, after as many failures, lasts twice as long.
    await until(async () => (await attempt(0, 'owner@example.test', '10.0.0.1', false)) === 'wrong', 5000, 'the first lockout to end');
    await attempt(1, 'owner@example.test', '10.0.0.1', false);
    await attempt(0, 'owner@example.test', '10.0.0.1', false);
    const second = await attempt(1, 'owner@example.test', '10.0.0.1', false);
    expect(second).toBeGreaterThan(1000);
    expect(second).toBeLessThanOrEqual(2000);

    // A success clears the address's failures and lockouts.
    await until(async () => (await attempt(0, 'owner@example.test', '10.0.0.1', true)) === 'in', 5000, 'the second lockout to end');
    expect(await attempt(0, 'owner@example.test', '10.0.0.1', false)).toBe('wrong');
  });
}

describe('login guard, in memory', () => {
  behaves(async () => [createRateLimits(false, undefined, small)]);
});

describe('login guard, shared by two nodes through Redis', () => {
  const prefix = newRedisPrefix();
  let clients: RedisClients[] = [];
  beforeAll(async () => {
    const log = pino({ level: 'silent' });
    clients = await Promise.all([connectRedis(testRedisUrl, prefix, log), connectRedis(testRedisUrl, prefix, log)]);
  });
  afterAll(async () => {
    if (clients[0]) await deleteKeys(clients[0].pub, prefix);
    await Promise.all(clients.map((c) => c.close()));
  });
  behaves(async () => clients.map((c) => createRateLimits(false, redisLimiterFactory(c), small)));
});
