import type { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitName } from '../rateLimits.ts';

/**
 * Redis, when REDIS_URL is set (several nodes): two connections, because a connection in
 * subscriber mode can run nothing but (P)SUBSCRIBE. `pub` publishes for the Socket.IO adapter and
 * runs every other command (rate limits, presence); `sub` only receives.
 * Every key and channel starts with `prefix`, so several deployments (or parallel test runs) can
 * share one Redis.
 */
export interface RedisClients {
  pub: Redis;
  sub: Redis;
  prefix: string;
  /** Socket.IO's Redis adapter on these connections: broadcasts reach every node's sockets. */
  socketAdapter: ReturnType<typeof createAdapter>;
  /** Resolves when Redis answers a PING within a second; rejects otherwise (/readyz). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_REDIS_PREFIX = 'confab:';

export async function connectRedis(url: string, prefix: string, log: Logger): Promise<RedisClients> {
  // Loaded only with REDIS_URL: a single node does not spend ~70 ms of its start-up on them.
  const [{ Redis }, { createAdapter }] = await Promise.all([import('ioredis'), import('@socket.io/redis-adapter')]);
  const pub = new Redis(url, {
    lazyConnect: true,
    // Fail a command after a few reconnection attempts instead of queueing it for minutes:
    // callers (rate limits, presence) have fallbacks, and /readyz reports the outage.
    maxRetriesPerRequest: 3,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    connectionName: 'confab',
  });
  const sub = pub.duplicate({ connectionName: 'confab-sub' });
  let lastErrorLog = 0;
  const onError = (error: Error) => {
    // ioredis reports every failed reconnection attempt; one line per 10 s is enough.
    if (Date.now() - lastErrorLog > 10_000) {
      lastErrorLog = Date.now();
      log.warn({ err: error }, 'redis connection error');
    }
  };
  pub.on('error', onError);
  sub.on('error', onError);
  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (error) {
    pub.disconnect();
    sub.disconnect();
    throw new Error(`cannot connect to Redis at REDIS_URL: ${(error as Error).message}`, { cause: error });
  }
  let closed = false;
  return {
    pub,
    sub,
    prefix,
    socketAdapter: createAdapter(pub, sub, { key: `${prefix}socket.io` }),
    async ready() {
      if (pub.status !== 'ready' || sub.status !== 'ready') throw new Error(`redis is ${pub.status}/${sub.status}`);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          pub.ping(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('redis did not answer PING within 1 s')), 1000);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      // QUIT lets queued commands finish; a client that is not connected is just dropped.
      await Promise.all(
        [pub, sub].map(async (client) => {
          if (client.status !== 'ready') return client.disconnect();
          try {
            await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
          } catch {
            /* already gone */
          }
          client.disconnect();
        }),
      );
    },
  };
}

/**
 * Rate limiters shared by all nodes. When Redis is not ready the in-memory insurance limiter
 * takes over (per node), so an outage of Redis degrades limits instead of refusing every request.
 */
export function redisLimiterFactory(redis: RedisClients) {
  return (name: RateLimitName, opts: { points: number; duration: number }): RateLimiterAbstract =>
    new RateLimiterRedis({
      storeClient: redis.pub,
      keyPrefix: `${redis.prefix}rl:${name}`,
      ...opts,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, ...opts }),
    });
}

/** Deletes every key under a prefix (tests clean up after themselves). */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}
