/**
 * Group execution for reads. Requests that arrive while earlier ones are being served wait in a
 * queue and are then served together, by one call of `run`: a few statements for the whole batch
 * instead of a few per request. A reconnect storm (thousands of handshakes and syncs within
 * seconds of a restart) then costs a few hundred round trips instead of tens of thousands; on
 * PostgreSQL over loopback each round trip costs the server more CPU (the write that wakes the
 * backend) than the work the query does.
 *
 * A request that finds nothing running goes at once, with the others of its event-loop turn, so
 * batching adds no latency when there is nothing to batch. `run` starts after every request of its
 * batch arrived, so whatever it reads is at least as fresh as a query made for each on its own.
 * (Group commit for writes, with its per-conversation ordering, is SendBatcher's.)
 *
 * One batch runs at a time while batches are quick: the fewer the batches, the fewer the statements
 * (in the S5 storm one slot brought the clients back sooner than four: docs/benchmarks.md). Another
 * starts beside it only once the running one has taken `spareAfterMs`, so one slow batch (a new
 * device paging through its history) does not hold up everyone else's.
 */
export class Batcher<I, O> {
  private queue: Array<{ input: I; resolve: (output: O) => void; reject: (error: unknown) => void }> = [];
  private readonly slots: BatchSlots;
  /** Batches served, and the most requests one of them held. */
  readonly stats = { batches: 0, largest: 0 };

  constructor(
    /** Serves a batch: one output per input, in the same order. If it throws, every request of the batch fails with it. */
    private readonly run: (inputs: I[]) => Promise<O[]>,
    private readonly opts: { maxConcurrent: number; maxBatch: number; spareAfterMs: number; gatherMs?: number },
  ) {
    this.slots = new BatchSlots(opts, () => this.pump());
  }

  load(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.pumpNextTurn();
    });
  }

  /** Requests that arrive in the same turn of the event loop go together. */
  private readonly pumpNextTurn = onceNextTurn(() => this.pump());

  private pump(): void {
    while (this.queue.length > 0 && this.slots.ready()) {
      this.slots.take();
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.stats.batches++;
      this.stats.largest = Math.max(this.stats.largest, batch.length);
      Promise.resolve()
        .then(() => this.run(batch.map((b) => b.input)))
        .then(
          (outputs) => {
            for (const [i, b] of batch.entries()) b.resolve(outputs[i]!);
          },
          (error: unknown) => {
            for (const b of batch) b.reject(error);
          },
        )
        .finally(() => this.slots.release());
    }
  }
}

/**
 * Admits batches: one at a time while they are quick, another beside the running ones only once
 * the latest has run `spareAfterMs`, and never more than `maxConcurrent` (see Batcher and
 * SendBatcher for why). `onFree` is called whenever another batch may be able to start.
 *
 * With `gatherMs`, a batch also starts no sooner than that after the previous one started: under a
 * steady stream of requests (a reconnect storm at a rate the server keeps up with) quick batches
 * would otherwise hold a handful of requests each, and on PostgreSQL each statement's round trip
 * costs the server more than its requests' share of the work. A request after a quiet spell still
 * goes at once.
 */
export class BatchSlots {
  private running = 0;
  private lastStart = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: { maxConcurrent: number; spareAfterMs: number; gatherMs?: number },
    private readonly onFree: () => void,
  ) {}

  /**
   * Whether a batch may start now. A pure check but for one thing: when the only obstacle is time
   * (a running batch younger than `spareAfterMs`, or the last start less than `gatherMs` ago),
   * `onFree` is scheduled for when it will have passed.
   */
  ready(): boolean {
    if (this.running >= this.opts.maxConcurrent) return false; // release() calls onFree
    const sinceStart = performance.now() - this.lastStart;
    const wait = Math.max(this.running > 0 ? this.opts.spareAfterMs : 0, this.opts.gatherMs ?? 0) - sinceStart;
    if (wait > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.onFree();
      }, wait);
      return false;
    }
    return true;
  }

  /** A batch starts: only after ready() said it may. */
  take(): void {
    this.running++;
    this.lastStart = performance.now();
  }

  release(): void {
    this.running--;
    this.onFree();
  }
}

/**
 * `gatherMs` of the batchers every reconnecting client goes through (its handshake, `subscribe`,
 * `sync`, and the last-seen stamp when it leaves): a few milliseconds more for one of them under
 * load, against a statement per handful of clients (bench/handshake-cost.ts measures both).
 */
export const RECONNECT_GATHER_MS = 5;

/** One batcher (or anything else) per key (a database, a context), made on first use. */
export function getOrCreate<K extends object, V>(cache: WeakMap<K, V>, key: K, make: () => V): V {
  let value = cache.get(key);
  if (value === undefined) cache.set(key, (value = make()));
  return value;
}

/** Returns a function that runs `fn` in the next turn of the event loop, once however often it is called in this one. */
export function onceNextTurn(fn: () => void): () => void {
  let scheduled = false;
  return () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      fn();
    });
  };
}
