/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"):
 * the n-th retry waits random(0, min(cap, base × 2^n)). Full jitter spreads a crowd of clients
 * that lost the same server over the whole window instead of having them return in waves.
 * The 10 s cap keeps a restarted server (a deploy) from leaving clients offline for long after it
 * is back: with a 30 s cap, the benchmark's clients took many times the restart itself to return
 * (docs/benchmarks.md).
 */
export interface Backoff {
  /** The delay before the next attempt, in ms; each call moves one attempt further. */
  next(): number;
  /**
   * The delay after an attempt that could not reach the server at all (connection refused, no
   * route): such attempts cost a server nothing, so their window stops growing at
   * `unreachableCapMs` (2 s) and clients of a restarting server return within about that long
   * after it listens again. The attempt count still grows, so once the server answers but fails
   * (overloaded, timing out) the usual window takes over from there.
   */
  nextUnreachable(): number;
  /** Back to attempt 0, after a successful connection. */
  reset(): void;
  readonly attempt: number;
}

export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  unreachableCapMs?: number;
  /** Uniform in [0, 1); injectable for tests. */
  random?: () => number;
}

export function createBackoff({ baseMs = 1000, capMs = 10_000, unreachableCapMs = 2000, random = Math.random }: BackoffOptions = {}): Backoff {
  let attempt = 0;
  const draw = (cap: number) => {
    // 2^attempt overflows nothing here: the cap is reached long before (attempt is clamped too).
    const ceiling = Math.min(cap, baseMs * 2 ** Math.min(attempt, 30));
    attempt++;
    return Math.floor(random() * ceiling);
  };
  return {
    next: () => draw(capMs),
    nextUnreachable: () => draw(Math.min(capMs, unreachableCapMs)),
    reset() {
      attempt = 0;
    },
    get attempt() {
      return attempt;
    },
  };
}
