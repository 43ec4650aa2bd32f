import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { ConfabError } from '@confab/protocol';

export interface LimitOptions {
  points: number;
  /** The window, in seconds. */
  duration: number;
}

/**
 * Named rate limits. In-process by default; Redis-backed limiters (same names) when REDIS_URL is
 * set, so limits hold across nodes. CONFAB_RATE_LIMITS=off lifts the load limits, not the login
 * protection (see `guardLogin`), which is a security control.
 */
export const RATE_LIMITS = {
  /** Login attempts per client IP (all of them, right or wrong). */
  loginPerIp: { points: 30, duration: 60 },
  /**
   * Consecutive failed logins per account and client IP. Keyed by both so that a stranger
   * guessing at an account locks out only their own address, not the owner.
   */
  loginFailuresByAccountAndIp: { points: 10, duration: 24 * 60 * 60 },
  /** How many lockouts an account and IP has had lately: each one lasts twice as long as the one before. */
  loginLockoutsByAccountAndIp: { points: 1_000_000, duration: 24 * 60 * 60 },
  /** Failed logins per client IP over a day, whatever the account (slow guessing across many accounts). */
  loginFailuresPerIp: { points: 100, duration: 24 * 60 * 60 },
  /**
   * Second-factor codes tried per account, from any address, once its password was right: with the
   * per-address login lockout alone, many addresses could each guess ten 6-digit codes. Cleared by a
   * good code. Whoever can use it up already has the password.
   */
  secondFactorAttemptsPerUser: { points: 10, duration: 60 * 60 },
  /** Registrations per client IP. */
  registerPerIp: { points: 10, duration: 60 * 60 },
  /** Password reset e-mails asked for per client IP (POST /api/auth/password-reset/request), and reset links tried. */
  passwordResetPerIp: { points: 10, duration: 60 * 60 },
  /** Password reset e-mails per account, whoever asks: an inbox is not to be flooded. */
  passwordResetPerAccount: { points: 3, duration: 60 * 60 },
  /** Token refreshes per client IP. */
  refreshPerIp: { points: 120, duration: 60 },
  /** REST requests per user. */
  apiPerUser: { points: 1200, duration: 60 },
  /** Messages sent or edited per user (REST and socket alike). */
  sendPerUser: { points: 600, duration: 60 },
  /** Socket.IO client events per user, all kinds together (a burst of 100 in any second). */
  socketEventsPerUser: { points: 100, duration: 1 },
  /** Files uploaded per user (tickets asked for); the points come from FilesOptions.uploadsPerHour. */
  uploadsPerUser: { points: 200, duration: 60 * 60 },
  /** Bytes uploaded per user, from the tickets' declared sizes; points from FilesOptions.uploadBytesPerDay. */
  uploadBytesPerUser: { points: 1024 * 1024 * 1024, duration: 24 * 60 * 60 },
  /** Bots created per person (POST /api/bots). */
  botsCreatedPerUser: { points: 20, duration: 24 * 60 * 60 },
  /** Messages copied into branches per user (POST /api/conversations/:id/branch; each branch takes its message count). */
  branchedMessagesPerUser: { points: 20_000, duration: 60 * 60 },
  /** Shared snapshots made per user (POST /api/conversations/:id/shares). */
  sharesCreatedPerUser: { points: 60, duration: 60 * 60 },
  /** Shared pages read per client IP (GET /api/shared/:id, no sign-in). */
  sharedViewsPerIp: { points: 120, duration: 60 },
} satisfies Record<string, LimitOptions>;
export type RateLimitName = keyof typeof RATE_LIMITS;

/** The limits that hold even with CONFAB_RATE_LIMITS=off: they protect accounts, not capacity. */
const ALWAYS_ON = new Set<RateLimitName>(['loginFailuresByAccountAndIp', 'loginLockoutsByAccountAndIp', 'loginFailuresPerIp', 'secondFactorAttemptsPerUser']);

/** The first lockout of an account and IP, and the longest one (they double in between). */
export const LOGIN_LOCKOUT = { firstSeconds: 60, maxSeconds: 60 * 60 };

export interface RateLimits {
  /** Takes `points` (one by default) from `name` for `key`; throws RATE_LIMITED when there are not enough left. */
  consume(name: RateLimitName, key: string, points?: number): Promise<void>;
  reset(name: RateLimitName, key: string): Promise<void>;
  /**
   * Runs `verify` (a password check) for a login to `account` from `ip` only once the attempt is
   * counted: the counters are taken atomically before `verify` runs, so a burst of parallel
   * attempts verifies no more passwords than the limit allows. A success clears the account and
   * IP's failures; the tenth failure in a row locks that account for that IP only, for a minute,
   * then two, four... up to an hour. Throws RATE_LIMITED (with retryAfterMs) without calling
   * `verify` while locked.
   */
  guardLogin(account: string, ip: string, verify: () => Promise<boolean>): Promise<boolean>;
}

export interface RateLimitsOptions {
  /** Overrides of RATE_LIMITS (tests use small windows). */
  limits?: Partial<Record<RateLimitName, LimitOptions>>;
  lockout?: { firstSeconds: number; maxSeconds: number };
}

export function createRateLimits(
  enabled: boolean,
  makeLimiter: (name: RateLimitName, opts: LimitOptions) => RateLimiterAbstract = (name, opts) => new RateLimiterMemory({ keyPrefix: name, ...opts }),
  options: RateLimitsOptions = {},
): RateLimits {
  const settings = { ...RATE_LIMITS, ...options.limits };
  const lockout = options.lockout ?? LOGIN_LOCKOUT;
  const limiters = new Map<RateLimitName, RateLimiterAbstract>();
  const get = (name: RateLimitName) => {
    let limiter = limiters.get(name);
    if (!limiter) limiters.set(name, (limiter = makeLimiter(name, settings[name])));
    return limiter;
  };
  const limited = (msBeforeNext: number) => new ConfabError('RATE_LIMITED', 'too many requests, try again later', { retryAfterMs: msBeforeNext });
  const on = (name: RateLimitName) => enabled || ALWAYS_ON.has(name);

  /** Takes points; the rejection (RateLimiterRes) is returned, not thrown, so callers can look at it. */
  async function take(name: RateLimitName, key: string, points = 1): Promise<RateLimiterRes | undefined> {
    try {
      await get(name).consume(key, points);
      return undefined;
    } catch (error) {
      if (error instanceof RateLimiterRes) return error;
      throw new ConfabError('UNAVAILABLE', 'rate limiter unavailable');
    }
  }
  async function quietly(work: Promise<unknown>): Promise<void> {
    try {
      await work;
    } catch {
      // Clearing a counter is a courtesy to the user; failing it must not fail their login.
    }
  }

  return {
    async consume(name, key, points = 1) {
      if (!on(name)) return;
      const refused = await take(name, key, points);
      if (refused) throw limited(refused.msBeforeNext);
    },
    async reset(name, key) {
      await get(name).delete(key);
    },
    async guardLogin(account, ip, verify) {
      const pair = `${account.toLowerCase()}|${ip}`;
      const refused = await take('loginFailuresByAccountAndIp', pair);
      if (refused) {
        // Exactly one attempt (the first one over the limit) sees this count, however many run
        // at once: it starts the lockout, longer each time the pair is locked again.
        // The others wait for it; one that overtook its block() sees the counter's window, longer than any lockout.
        if (refused.consumedPoints !== settings.loginFailuresByAccountAndIp.points + 1) throw limited(Math.min(refused.msBeforeNext, lockout.maxSeconds * 1000));
        let seconds = lockout.maxSeconds;
        try {
          const lockouts = (await get('loginLockoutsByAccountAndIp').consume(pair)).consumedPoints;
          seconds = Math.min(lockout.firstSeconds * 2 ** (lockouts - 1), lockout.maxSeconds);
          await get('loginFailuresByAccountAndIp').block(pair, seconds);
        } catch {
          throw new ConfabError('UNAVAILABLE', 'rate limiter unavailable');
        }
        throw limited(seconds * 1000);
      }
      const ipRefused = await take('loginFailuresPerIp', ip);
      if (ipRefused) throw limited(ipRefused.msBeforeNext);
      const ok = await verify();
      if (ok) {
        await Promise.all([
          quietly(get('loginFailuresByAccountAndIp').delete(pair)),
          quietly(get('loginLockoutsByAccountAndIp').delete(pair)),
          quietly(get('loginFailuresPerIp').reward(ip, 1)),
        ]);
      }
      return ok;
    },
  };
}
