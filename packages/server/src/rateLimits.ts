import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { ConfabError } from '@confab/protocol';

/**
 * Named rate limits. In-process by default; the realtime issue swaps in Redis-backed limiters
 * (same names) when REDIS_URL is set, so limits hold across nodes.
 * CONFAB_RATE_LIMITS=off lifts them all (load tests on a trusted network).
 */
export const RATE_LIMITS = {
  /** Login attempts per client IP. */
  loginPerIp: { points: 30, duration: 60 },
  /** Failed logins per account, before it is locked for the rest of the window. */
  loginFailuresPerAccount: { points: 10, duration: 15 * 60 },
  /** Registrations per client IP. */
  registerPerIp: { points: 10, duration: 60 * 60 },
  /** Token refreshes per client IP. */
  refreshPerIp: { points: 120, duration: 60 },
  /** REST requests per user. */
  apiPerUser: { points: 1200, duration: 60 },
  /** Messages sent per user (REST and socket alike). */
  sendPerUser: { points: 600, duration: 60 },
  /** Socket.IO client events per user, all kinds together (a burst of 100 in any second). */
  socketEventsPerUser: { points: 100, duration: 1 },
} as const;
export type RateLimitName = keyof typeof RATE_LIMITS;

export interface RateLimits {
  /** Takes one point from `name` for `key`; throws RATE_LIMITED when none are left. */
  consume(name: RateLimitName, key: string): Promise<void>;
  /** Fails with RATE_LIMITED if `key` has no points left, without taking one. */
  check(name: RateLimitName, key: string): Promise<void>;
  reset(name: RateLimitName, key: string): Promise<void>;
}

export function createRateLimits(
  enabled: boolean,
  makeLimiter: (name: RateLimitName, opts: { points: number; duration: number }) => RateLimiterAbstract = (name, opts) =>
    new RateLimiterMemory({ keyPrefix: name, ...opts }),
): RateLimits {
  const limiters = new Map<RateLimitName, RateLimiterAbstract>();
  const get = (name: RateLimitName) => {
    let limiter = limiters.get(name);
    if (!limiter) limiters.set(name, (limiter = makeLimiter(name, RATE_LIMITS[name])));
    return limiter;
  };
  const limited = (res: RateLimiterRes) =>
    new ConfabError('RATE_LIMITED', 'too many requests, try again later', { retryAfterMs: res.msBeforeNext });
  return {
    async consume(name, key) {
      if (!enabled) return;
      try {
        await get(name).consume(key);
      } catch (error) {
        if (error instanceof RateLimiterRes) throw limited(error);
        throw new ConfabError('UNAVAILABLE', 'rate limiter unavailable');
      }
    },
    async check(name, key) {
      if (!enabled) return;
      const res = await get(name).get(key);
      if (res && res.remainingPoints <= 0) throw limited(res);
    },
    async reset(name, key) {
      await get(name).delete(key);
    },
  };
}
