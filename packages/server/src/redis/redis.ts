import type { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import { ConfabError } from '@confab/protocol';
import type { Logger } from 'pino';
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitName } from '../rateLimits.ts';

/**
 * Redis, when REDIS_URL is set (several nodes): two connections, because a connection in
 * subscriber mode can run nothing but (P)SUBSCRIBE. `pub` publishes for the Socket.IO adapter and
 * runs every other command (rate limits, presence, live AI text); `sub` only receives.
 * Every key and channel starts with `prefix`, so several deployments (or parallel test runs) can
 * share one Redis.
 *
 * Redis is never a reason for the process to stop or a request to hang: a node starts without it,
 * serves its own sockets and the database while it is away (/readyz says 503), and reconnects by
 * itself. Every command on `pub` fails at once while it is disconnected and after
 * REDIS_COMMAND_TIMEOUT_MS when Redis does not answer (paused, overloaded); callers map that to
 * UNAVAILABLE (see `redisCall`) or fall back (rate limits, live AI text).
 */
export interface RedisClients {
  pub: Redis;
  sub: Redis;
  prefix: string;
  /** Socket.IO's Redis adapter on these connections: broadcasts reach every node's sockets. */
  socketAdapter: ReturnType<typeof createAdapter>;
  /** Resolves when Redis answers a PING in time; rejects otherwise (/readyz). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How long a command on `pub` may go unanswered before it fails. Redis answers in well under a
 * millisecond; a request can make two or three Redis calls one after another (rate limits), and
 * all of them together must stay within the 2 s the contract allows a request while Redis is away.
 */
export const REDIS_COMMAND_TIMEOUT_MS = 500;
/** How often each node PINGs Redis, so a Redis that stops answering is noticed without traffic. */
export const REDIS_HEALTH_CHECK_MS = 1000;
/** How long start-up waits for Redis before it goes on without it. */
const START_WAIT_MS = 2000;

/** Runs a Redis command for a caller that needs its answer: failures become UNAVAILABLE (503). */
export async function redisCall<T>(command: Promise<T>): Promise<T> {
  try {
    return await command;
  } catch (error) {
    throw unavailable(error);
  }
}

const unavailable = (error: unknown) => new ConfabError('UNAVAILABLE', 'Redis is not answering; try again shortly', { cause: (error as Error).message });

/**
 * Like redisCall for a pipeline or MULTI: ioredis resolves those with an error per command (when
 * the connection is down, every command's) instead of rejecting.
 */
export async function redisBatch(exec: Promise<Array<[Error | null, unknown]> | null>): Promise<Array<[Error | null, unknown]>> {
  const results = (await redisCall(exec)) ?? [];
  const failed = results.find(([error]) => error);
  if (failed) throw unavailable(failed[0]);
  return results;
}

/**
 * The client as the Socket.IO adapter sees it: the adapter publishes (and subscribes) without
 * handling the returned promise, so each such call gets a handler here. The broadcast is lost either
 * way; the gateway makes clients sync once Redis is back (see its "Redis outages"). Exported for
 * bench/redis-client.ts, which measures what it costs.
 */
export function withHandledCalls(client: Redis, methods: readonly string[], onError: (error: Error) => void): Redis {
  return new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || prop === 'constructor') return value;
      if (typeof prop === 'string' && methods.includes(prop)) {
        return (...args: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          if (result instanceof Promise) result.catch(onError);
          return result;
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

export async function connectRedis(url: string, prefix: string, log: Logger): Promise<RedisClients> {
  // Loaded only with REDIS_URL: a single node does not spend its start-up on them (docs/benchmarks.md).
  const [{ Redis }, { createAdapter }] = await Promise.all([import('ioredis'), import('@socket.io/redis-adapter')]);
  const pub = new Redis(url, {
    lazyConnect: true,
    // While disconnected a command fails at once instead of waiting in a queue: callers have a
    // fallback or answer UNAVAILABLE, and a queued publish would be stale by the time it went out.
    enableOfflineQueue: false,
    // A Redis that accepts connections but does not answer (SIGSTOP, a full disk, a stalled VM)
    // would otherwise hold every command forever. Covers the ready check after a reconnect too.
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    // Commands that timed out were answered already (with an error): never send them again.
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    connectionName: 'confab',
  });
  const sub = pub.duplicate({
    connectionName: 'confab-sub',
    // SUBSCRIBE issued while disconnected (at start, or by the adapter) waits for the connection
    // instead of failing: a subscription that failed would never be made again. Subscriptions that
    // were made are renewed by ioredis on every reconnect.
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    commandTimeout: undefined,
    autoResendUnfulfilledCommands: true,
  });
  let lastErrorLog = 0;
  const warn = (error: Error, what: string) => {
    // ioredis reports every failed reconnection attempt; one line per 10 s is enough.
    if (Date.now() - lastErrorLog > 10_000) {
      lastErrorLog = Date.now();
      log.warn({ err: error }, what);
    }
  };
  const onError = (error: Error) => warn(error, 'redis connection error');
  pub.on('error', onError);
  sub.on('error', onError);
  // Connect in the background: a node starts, and serves, while Redis is down. A short wait lets a
  // normal start have Redis before it listens.
  const connected = Promise.all([pub.connect(), sub.connect()]);
  connected.catch(() => {});
  let waitTimer: NodeJS.Timeout | undefined;
  const waited = await Promise.race([
    connected.then(
      () => true,
      () => false,
    ),
    new Promise<boolean>((resolve) => (waitTimer = setTimeout(() => resolve(false), START_WAIT_MS))),
  ]);
  clearTimeout(waitTimer);
  if (!waited) log.warn('Redis is not reachable at REDIS_URL; serving without it until it is (readyz answers 503 meanwhile)');

  // A Redis that stops answering keeps the connection "ready": two PINGs in a row that time out
  // drop the link, so commands fail at once until Redis answers again, and the reconnect then makes
  // the gateway send its clients to sync what they missed. (Two, because one can time out only
  // because this process stalled while the answer waited to be read.)
  let checking = false;
  const ping = () => pub.ping().then(() => true, () => false);
  const health = setInterval(() => {
    if (checking || pub.status !== 'ready') return;
    checking = true;
    void (async () => {
      try {
        if ((await ping()) || (await ping()) || pub.status !== 'ready') return;
        log.warn('redis did not answer PING: reconnecting');
        pub.disconnect(true);
      } finally {
        checking = false;
      }
    })();
  }, REDIS_HEALTH_CHECK_MS);
  health.unref();

  const onAdapterError = (error: Error) => warn(error, 'redis publish failed');
  const adapterPub = withHandledCalls(pub, ['publish'], onAdapterError);
  const adapterSub = withHandledCalls(sub, ['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe'], onAdapterError);
  let closed = false;
  return {
    pub,
    sub,
    prefix,
    socketAdapter: createAdapter(adapterPub, adapterSub, { key: `${prefix}socket.io` }),
    async ready() {
      if (pub.status !== 'ready' || sub.status !== 'ready') throw new Error(`redis is ${pub.status}/${sub.status}`);
      await pub.ping();
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(health);
      // QUIT lets commands in flight finish; a client that is not connected is just dropped.
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
