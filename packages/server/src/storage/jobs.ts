// Queries on jobs, the job queue's table (issue #17, item 2: the query layer). The SQL moved here
// as it was from jobs/queue.ts, which keeps the queue's logic: leases, retries, backoff, the poll loop.
import type { Queryable } from './db.ts';
import type { ClaimedJobRow } from './rows.ts';

/**
 * Inserts one job per payload (each already JSON), due after `delayMs`, in one statement; returns
 * the first one's id (0 for none).
 */
export async function insertJobs(db: Queryable, kind: string, payloadsJson: string[], maxAttempts: number, delayMs: number): Promise<number> {
  const rows = await db.query<{ id: number }>(
    `INSERT INTO jobs (kind, payload, max_attempts, run_at)
       SELECT $1, p, $3, now() + $4 * interval '1 millisecond' FROM unnest($2::jsonb[]) AS p RETURNING id`,
    [kind, payloadsJson, maxAttempts, delayMs],
  );
  return rows[0]?.id ?? 0;
}

/**
 * Claims up to `limit` due jobs for node `nodeId` with a lease of `leaseMs`, counting an attempt.
 * `FOR UPDATE SKIP LOCKED`: nodes polling at once never claim the same job. A job whose lease ran
 * out (its node died) is claimable again, like a due pending one.
 */
export async function claimJobs(db: Queryable, limit: number, nodeId: string, leaseMs: number): Promise<ClaimedJobRow[]> {
  return db.query<ClaimedJobRow>(
    `UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, locked_by = $2,
              locked_until = now() + $3 * interval '1 millisecond', updated_at = now()
        WHERE j.id IN (
          SELECT id FROM jobs
           WHERE (status = 'pending' AND run_at <= now()) OR (status = 'running' AND locked_until < now())
           ORDER BY run_at, id
           LIMIT $1
           FOR UPDATE SKIP LOCKED)
        RETURNING j.id, j.kind, j.payload, j.attempts, j.max_attempts`,
    [limit, nodeId, leaseMs],
  );
}

/** Deletes a job done under this claim (node and attempt): a node whose lease ran out deletes nothing. */
export async function deleteClaimedJob(db: Queryable, id: number, nodeId: string, attempts: number): Promise<void> {
  await db.query('DELETE FROM jobs WHERE id = $1 AND locked_by = $2 AND attempts = $3', [id, nodeId, attempts]);
}

/**
 * Releases a job that failed under this claim: `pending` again after `delayMs`, or `dead` (kept
 * for an operator) with its last error.
 */
export async function releaseFailedJob(
  db: Queryable,
  claim: { id: number; nodeId: string; attempts: number },
  outcome: { status: 'pending' | 'dead'; delayMs: number; error: string },
): Promise<void> {
  await db.query(
    `UPDATE jobs SET status = $4, run_at = now() + $5 * interval '1 millisecond', locked_until = NULL, locked_by = NULL,
              last_error = $6, updated_at = now()
        WHERE id = $1 AND locked_by = $2 AND attempts = $3`,
    [claim.id, claim.nodeId, claim.attempts, outcome.status, outcome.delayMs, outcome.error],
  );
}

/** Deletes dead jobs (dead letters) untouched for a month. */
export async function purgeDeadJobs(db: Queryable): Promise<void> {
  await db.query(`DELETE FROM jobs WHERE status = 'dead' AND updated_at < now() - interval '30 days'`);
}

/** Whether a job of this kind is waiting or running. */
export async function jobPending(db: Queryable, kind: string): Promise<boolean> {
  const [queued] = await db.query(`SELECT 1 FROM jobs WHERE kind = $1 AND status IN ('pending', 'running') LIMIT 1`, [kind]);
  return queued !== undefined;
}
