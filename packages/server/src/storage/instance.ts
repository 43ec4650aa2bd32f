// Queries on instance_settings (one row: what admins changed at run time) and audit_log.
import type { Queryable } from './db.ts';

/** The settings admins stored; {} when none were ever stored. */
export async function readInstanceSettings(db: Queryable): Promise<Record<string, unknown>> {
  const [row] = await db.query<{ settings: Record<string, unknown> }>('SELECT settings FROM instance_settings WHERE id');
  return row?.settings ?? {};
}

/** Replaces the stored settings with `json` (serialized by the caller). */
export async function writeInstanceSettings(db: Queryable, json: string): Promise<void> {
  await db.query(
    `INSERT INTO instance_settings (id, settings, updated_at) VALUES (true, $1::jsonb, now())
     ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`,
    [json],
  );
}

/**
 * Serializes changes that must see every other such change: the first account on an empty
 * instance, and the "last owner" rule (two admins demoting the last two owners at once). Held
 * until the transaction ends.
 */
export async function lockInstance(db: Queryable): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1)', [4_242_014]);
}

export interface AuditRow {
  id: string;
  at: Date;
  /** `at` at full precision, for the cursor. */
  at_text: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: Record<string, unknown>;
}

export async function insertAuditEntry(
  db: Queryable,
  entry: { id: string; actorId: string | null; action: string; targetType: string | null; targetId: string | null; details: Record<string, unknown> },
): Promise<void> {
  await db.query('INSERT INTO audit_log (id, actor_id, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5, $6::jsonb)', [
    entry.id,
    entry.actorId,
    entry.action,
    entry.targetType,
    entry.targetId,
    JSON.stringify(entry.details),
  ]);
}

/** Entries newest first, after the cursor's (at, id) when given. */
export async function listAuditEntries(db: Queryable, after: { at: string; id: string } | undefined, limit: number): Promise<AuditRow[]> {
  return db.query<AuditRow>(
    `SELECT id, at, at::text AS at_text, actor_id, action, target_type, target_id, details FROM audit_log
      WHERE $1::timestamptz IS NULL OR (at, id) < ($1::timestamptz, $2::text)
      ORDER BY at DESC, id DESC LIMIT $3`,
    [after?.at ?? null, after?.id ?? null, limit],
  );
}
