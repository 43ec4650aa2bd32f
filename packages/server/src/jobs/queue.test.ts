import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../storage/db.ts';
import { migrate } from '../storage/migrations.ts';
import { openTestDatabase } from '../test/harness.ts';
import { backoffMs, createJobQueue, PermanentJobError, RetryLaterError, type Job, type JobQueue } from './queue.ts';

const log = pino({ level: 'silent' });
let db: Database;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ db, close: cleanup } = await openTestDatabase());
  await migrate(db);
});
afterAll(() => cleanup?.());
beforeEach(async () => {
  await db.query('DELETE FROM jobs');
});

const fast = { pollIntervalMs: 10, backoffBaseMs: 20, backoffMaxMs: 200 };
const jobsTable = () => db.query<{ id: number; kind: string; status: string; attempts: number; last_error: string | null }>('SELECT * FROM jobs ORDER BY id');

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('job queue', () => {
  it('runs a job once and deletes it', async () => {
    const queue = createJobQueue(db, log, fast);
    const seen: Job[] = [];
    queue.register('hello', async (job) => void seen.push(job));
    await queue.enqueue(db, 'hello', { name: 'world' });
    await queue.drain();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ kind: 'hello', payload: { name: 'world' }, attempt: 1 });
    expect(await jobsTable()).toHaveLength(0);
  });

  it('enqueues with the transaction: a rolled-back change leaves no job', async () => {
    const queue = createJobQueue(db, log, fast);
    await expect(
      db.transaction(async (tx) => {
        await queue.enqueue(tx, 'never', {});
        throw new Error('rollback');
      }),
    ).rejects.toThrow('rollback');
    expect(await jobsTable()).toHaveLength(0);
  });

  it('retries with exponential backoff, then dead-letters after max attempts', async () => {
    const queue = createJobQueue(db, log, fast);
    const times: number[] = [];
    queue.register('flaky', async () => {
      times.push(Date.now());
      throw new Error('service down');
    });
    await queue.enqueue(db, 'flaky', {}, { maxAttempts: 4 });
    queue.start();
    try {
      await until(async () => (await jobsTable())[0]?.status === 'dead');
    } finally {
      await queue.stop();
    }
    expect(times).toHaveLength(4);
    const [job] = await jobsTable();
    expect(job).toMatchObject({ status: 'dead', attempts: 4 });
    expect(job!.last_error).toContain('service down');
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps[0]!).toBeGreaterThanOrEqual(15);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
  });

  it('backoff doubles from the base up to the cap, with jitter', () => {
    const opts = { backoffBaseMs: 1000, backoffMaxMs: 10_000 };
    expect(backoffMs(1, opts, () => 0.5)).toBe(1000);
    expect(backoffMs(2, opts, () => 0.5)).toBe(2000);
    expect(backoffMs(3, opts, () => 0.5)).toBe(4000);
    expect(backoffMs(10, opts, () => 0.5)).toBe(10_000);
    expect(backoffMs(1, opts, () => 0)).toBe(800);
    expect(backoffMs(1, opts, () => 1)).toBe(1200);
  });

  it('sends a permanent failure straight to the dead letters, and honours retry-after', async () => {
    const queue = createJobQueue(db, log, fast);
    queue.register('hopeless', async () => {
      throw new PermanentJobError('400 bad request');
    });
    let calls = 0;
    queue.register('later', async () => {
      if (++calls === 1) throw new RetryLaterError('429', 150);
    });
    await queue.enqueue(db, 'hopeless', {});
    await queue.enqueue(db, 'later', {});
    await queue.drain();
    const rows = await jobsTable();
    expect(rows.find((r) => r.kind === 'hopeless')).toMatchObject({ status: 'dead', attempts: 1 });
    expect(rows.find((r) => r.kind === 'later')).toMatchObject({ status: 'pending', attempts: 1 });
    await queue.drain();
    expect(calls).toBe(1); // not yet due
    await new Promise((r) => setTimeout(r, 200));
    await queue.drain();
    expect(calls).toBe(2);
    expect((await jobsTable()).map((r) => r.kind)).toEqual(['hopeless']);
  });

  it('several queues on one database never run the same job twice at once', async () => {
    const queues: JobQueue[] = [0, 1, 2].map(() => createJobQueue(db, log, { ...fast, concurrency: 3 }));
    const runs = new Map<number, number>();
    let concurrent = 0;
    let overlap = false;
    const running = new Set<number>();
    for (const q of queues) {
      q.register('work', async (job) => {
        const n = (job.payload as { n: number }).n;
        if (running.has(n)) overlap = true;
        running.add(n);
        concurrent++;
        await new Promise((r) => setTimeout(r, 5));
        runs.set(n, (runs.get(n) ?? 0) + 1);
        running.delete(n);
        concurrent--;
      });
    }
    await queues[0]!.enqueueMany(db, 'work', Array.from({ length: 60 }, (_, n) => ({ n })));
    await Promise.all(queues.map((q) => q.drain()));
    expect(overlap).toBe(false);
    expect(concurrent).toBe(0);
    expect(runs.size).toBe(60);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect(await jobsTable()).toHaveLength(0);
  });

  it('a job whose node died (lease expired) is claimed again: at least once', async () => {
    const crashed = createJobQueue(db, log, { ...fast, leaseMs: 50 });
    const seen: number[] = [];
    crashed.register('important', async () => {
      // The node dies mid-job: this never returns.
      await new Promise(() => {});
    });
    await crashed.enqueue(db, 'important', { n: 1 });
    void crashed.drain();
    await until(async () => (await jobsTable())[0]?.status === 'running');
    const survivor = createJobQueue(db, log, fast);
    survivor.register('important', async (job) => void seen.push(job.attempt));
    await new Promise((r) => setTimeout(r, 80));
    await survivor.drain();
    expect(seen).toEqual([2]);
    expect(await jobsTable()).toHaveLength(0);
  });

  it('kick() wakes the poll loop at once', async () => {
    const queue = createJobQueue(db, log, { ...fast, pollIntervalMs: 60_000 });
    let ran = 0;
    queue.register('now', async () => void ran++);
    queue.start();
    try {
      await new Promise((r) => setTimeout(r, 50));
      await queue.enqueue(db, 'now', {});
      const started = Date.now();
      queue.kick();
      await until(() => ran === 1, 2000);
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      await queue.stop();
    }
  });
});
