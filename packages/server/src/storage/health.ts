// The database's part of the readiness probe and of the metrics (SQL only in storage/).
import type { Queryable } from './db.ts';

/** Resolves once the database answered a trivial statement; rejects if it cannot. */
export async function ping(db: Queryable): Promise<void> {
  await db.query('SELECT 1');
}

/** What waits in the database: pending jobs and undelivered webhook deliveries (metrics.ts reads it at each scrape). */
export async function readBacklog(db: Queryable): Promise<{ jobs: number; webhookDeliveries: number }> {
  const [row] = await db.query<{ jobs: number; webhook_deliveries: number }>(
    `SELECT (SELECT count(*) FROM jobs WHERE status = 'pending')::int AS jobs,
            (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')::int AS webhook_deliveries`,
  );
  return { jobs: row?.jobs ?? 0, webhookDeliveries: row?.webhook_deliveries ?? 0 };
}
