import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Database, Queryable } from '../storage/db.ts';
import { claimJobs, deleteClaimedJob, insertJobs, purgeDeadJobs, releaseFailedJob } from '../storage/jobs.ts';
import type { ClaimedJobRow } from '../storage/rows.ts';

/**
 * A small retrying job queue in the database (table `jobs`, migration 3).
 *
 * - **At least once.** A job is claimed with `FOR UPDATE SKIP LOCKED` (so several nodes, each with
 *   its own poll loop, never take the same job at the same time) and gets a lease. It is deleted
 *   when its handler succeeds. A node that dies mid-job leaves it `running` until the lease ends;
 *   then any node claims it again. Handlers must therefore be idempotent.
 * - **Retries** with exponential backoff and jitter; after `max_attempts` the job stays in the
 *   table as `dead` (the dead letters), with its last error, for an operator to look at.
 * - **Enqueued inside the caller's transaction** (`enqueue(tx, …)`), so a job exists exactly when
 *   the change that asked for it committed.
 * - Never on the request path: requests only insert rows; the poll loop runs the work.
 */
export interface JobQueueOptions {
  /** How long the loop sleeps when there was nothing to do (a `kick()` wakes it early). */
  pollIntervalMs: number;
  /** Jobs claimed and run at once per node. */
  concurrency: number;
  /** The first retry waits about this long; each further one twice as long… */
  backoffBaseMs: number;
  /** …up to this. */
  backoffMaxMs: number;
  defaultMaxAttempts: number;
  /** A claimed job whose node went silent this long is claimed again. */
  leaseMs: number;
  /** How often maintenance tasks (clean-ups) run on each node. */
  maintenanceIntervalMs: number;
}

export const DEFAULT_JOB_OPTIONS: JobQueueOptions = {
  pollIntervalMs: 1000,
  concurrency: 4,
  backoffBaseMs: 5000,
  backoffMaxMs: 60 * 60 * 1000,
  defaultMaxAttempts: 8,
  leaseMs: 5 * 60 * 1000,
  maintenanceIntervalMs: 15 * 60 * 1000,
};

export interface Job {
  id: number;
  kind: string;
  payload: unknown;
  /** 1 on the first run. */
  attempt: number;
  maxAttempts: number;
}

/** Returning normally means done (the job is deleted); throwing means retry later. */
export type JobHandler = (job: Job) => Promise<void>;

/** Thrown by a handler when trying again cannot help: the job goes straight to the dead letters. */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}

/** Thrown by a handler that knows when to try again (e.g. a Retry-After header). */
export class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

export interface EnqueueOptions {
  delayMs?: number;
  maxAttempts?: number;
}

export interface JobQueue {
  register(kind: string, handler: JobHandler): void;
  /** Runs `fn` on each node every maintenance interval (clean-ups; errors are logged). */
  addMaintenance(name: string, fn: () => Promise<void>): void;
  /** Inserts a job; pass the transaction so it commits (or not) with the change it belongs to. */
  enqueue(db: Queryable, kind: string, payload: unknown, opts?: EnqueueOptions): Promise<number>;
  /** Inserts one job per payload in one statement. */
  enqueueMany(db: Queryable, kind: string, payloads: unknown[], opts?: EnqueueOptions): Promise<number>;
  /** Wakes the poll loop now (after a commit that enqueued something). */
  kick(): void;
  start(): void;
  /** Stops polling and waits for the jobs in hand. */
  stop(): Promise<void>;
  /** Runs due jobs until none are left (tests, tools); does not need start(). */
  drain(): Promise<void>;
  readonly options: JobQueueOptions;
}

export function backoffMs(attempt: number, opts: Pick<JobQueueOptions, 'backoffBaseMs' | 'backoffMaxMs'>, random = Math.random): number {
  const exp = Math.min(opts.backoffMaxMs, opts.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
  // ±20 % jitter, so jobs that failed together (a push service outage) do not retry in lockstep.
  return Math.round(exp * (0.8 + 0.4 * random()));
}

const errorText = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 2000);

export function createJobQueue(db: Database, log: Logger, options: Partial<JobQueueOptions> = {}): JobQueue {
  const opts: JobQueueOptions = { ...DEFAULT_JOB_OPTIONS, ...options };
  const nodeId = randomBytes(6).toString('base64url');
  const handlers = new Map<string, JobHandler>();
  const maintenance: Array<{ name: string; fn: () => Promise<void> }> = [];
  const qlog = log.child({ component: 'jobs' });
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let kicked = false;
  let lastMaintenance = Date.now();
  // Dead letters are kept a month for an operator to look at, then go.
  maintenance.push({
    name: 'jobs.purge_dead',
    fn: () => purgeDeadJobs(db),
  });

  async function finish(row: ClaimedJobRow): Promise<void> {
    // Guarded by the claim, so a node whose lease ran out cannot delete a job another node now runs.
    await deleteClaimedJob(db, row.id, nodeId, row.attempts);
  }

  async function fail(row: ClaimedJobRow, error: unknown): Promise<void> {
    const permanent = error instanceof PermanentJobError;
    const dead = permanent || row.attempts >= row.max_attempts;
    const delay = error instanceof RetryLaterError ? Math.min(Math.max(error.retryAfterMs, 0), opts.backoffMaxMs) : backoffMs(row.attempts, opts);
    await releaseFailedJob(db, { id: row.id, nodeId, attempts: row.attempts }, { status: dead ? 'dead' : 'pending', delayMs: dead ? 0 : delay, error: errorText(error) });
    const fields = { jobId: row.id, kind: row.kind, attempt: row.attempts, err: error };
    if (dead) qlog.warn(fields, permanent ? 'job failed for good: dead-lettered' : 'job failed its last attempt: dead-lettered');
    else qlog.info({ ...fields, retryInMs: delay }, 'job failed; will retry');
  }

  async function runOne(row: ClaimedJobRow): Promise<void> {
    const handler = handlers.get(row.kind);
    try {
      if (!handler) throw new PermanentJobError(`no handler for job kind ${row.kind}`);
      // A job reclaimed after crashes of the nodes running it must not loop forever.
      if (row.attempts > row.max_attempts) throw new PermanentJobError('lease expired on the last attempt');
      await handler({ id: row.id, kind: row.kind, payload: row.payload, attempt: row.attempts, maxAttempts: row.max_attempts });
    } catch (error) {
      await fail(row, error).catch((e: unknown) => qlog.error({ err: e, jobId: row.id }, 'could not record a job failure'));
      return;
    }
    await finish(row).catch((e: unknown) => qlog.error({ err: e, jobId: row.id }, 'could not delete a finished job'));
  }

  /** Claims and runs one batch; returns how many jobs it ran. */
  async function runBatch(): Promise<number> {
    // Leased for opts.leaseMs: if this node dies mid-job, another claims it again after that.
    const rows = await claimJobs(db, opts.concurrency, nodeId, opts.leaseMs);
    await Promise.all(rows.map(runOne));
    return rows.length;
  }

  async function runMaintenance(): Promise<void> {
    for (const task of maintenance) {
      try {
        await task.fn();
      } catch (error) {
        qlog.warn({ err: error, task: task.name }, 'maintenance task failed');
      }
    }
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (kicked) {
        kicked = false;
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  async function pollLoop(): Promise<void> {
    while (running) {
      let ran = 0;
      try {
        ran = await runBatch();
        if (Date.now() - lastMaintenance >= opts.maintenanceIntervalMs) {
          lastMaintenance = Date.now();
          await runMaintenance();
        }
      } catch (error) {
        // The database is down or closing: keep polling at the normal pace, it is logged once per poll.
        if (running) qlog.warn({ err: error }, 'job poll failed');
      }
      // A full batch means there may be more: go again at once.
      if (running && ran < opts.concurrency) await sleep(opts.pollIntervalMs);
    }
  }

  async function insert(q: Queryable, kind: string, payloads: unknown[], o: EnqueueOptions): Promise<number> {
    if (payloads.length === 0) return 0;
    return insertJobs(
      q,
      kind,
      payloads.map((p) => JSON.stringify(p)),
      o.maxAttempts ?? opts.defaultMaxAttempts,
      o.delayMs ?? 0,
    );
  }

  return {
    options: opts,
    register(kind, handler) {
      handlers.set(kind, handler);
    },
    addMaintenance(name, fn) {
      maintenance.push({ name, fn });
    },
    enqueue: (q, kind, payload, o = {}) => insert(q, kind, [payload], o),
    async enqueueMany(q, kind, payloads, o = {}) {
      await insert(q, kind, payloads, o);
      return payloads.length;
    },
    kick() {
      if (wake) wake();
      else kicked = true;
    },
    start() {
      if (running) return;
      running = true;
      loop = pollLoop();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
    async drain() {
      while ((await runBatch()) > 0) {
        /* until nothing is due */
      }
    },
  };
}
