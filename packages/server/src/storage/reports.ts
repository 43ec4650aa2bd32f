// Reports of messages (API.md, "Consent and privacy"). The rules are in operations/reports.ts.
import type { Queryable } from './db.ts';
import { MESSAGE_COLUMNS } from './messages.ts';
import type { MessageRow } from './rows.ts';

export interface ReportRow {
  id: string;
  message_id: string;
  conversation_id: string;
  reporter_id: string | null;
  reason: string;
  status: 'open' | 'resolved' | 'dismissed';
  created_at: Date;
  /** created_at as text at full precision, for keyset cursors. */
  created_at_text: string;
  closed_by: string | null;
  closed_at: Date | null;
}

const COLUMNS = 'id, message_id, conversation_id, reporter_id, reason, status, created_at, created_at::text AS created_at_text, closed_by, closed_at';

/**
 * Files a report, unless the reporter has one open on this message already (a unique index, see
 * migration 14); returns the new report, or the open one.
 */
export async function insertReport(db: Queryable, r: { id: string; messageId: string; conversationId: string; reporterId: string; reason: string }): Promise<{ row: ReportRow; created: boolean }> {
  const [inserted] = await db.query<ReportRow>(
    `INSERT INTO reports (id, message_id, conversation_id, reporter_id, reason) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (message_id, reporter_id) WHERE status = 'open' DO NOTHING RETURNING ${COLUMNS}`,
    [r.id, r.messageId, r.conversationId, r.reporterId, r.reason],
  );
  if (inserted) return { row: inserted, created: true };
  const [open] = await db.query<ReportRow>(`SELECT ${COLUMNS} FROM reports WHERE message_id = $1 AND reporter_id = $2 AND status = 'open'`, [r.messageId, r.reporterId]);
  return { row: open!, created: false };
}

/** Reports newest first, optionally of one status, after a keyset position. */
export function listReportRows(db: Queryable, status: string | undefined, after: { at: string; id: string } | undefined, limit: number): Promise<ReportRow[]> {
  return db.query<ReportRow>(
    `SELECT ${COLUMNS} FROM reports
      WHERE ($1::text IS NULL OR status = $1)
        AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::text))
      ORDER BY created_at DESC, id DESC LIMIT $4`,
    [status ?? null, after?.at ?? null, after?.id ?? null, limit],
  );
}

/** Closes a report (or changes how it was closed); undefined if there is no such report. */
export async function closeReportRow(db: Queryable, id: string, status: 'resolved' | 'dismissed', closedBy: string): Promise<ReportRow | undefined> {
  const [row] = await db.query<ReportRow>(`UPDATE reports SET status = $2, closed_by = $3, closed_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [id, status, closedBy]);
  return row;
}

/** Whether any report (open or closed) names this message. */
export async function isReported(db: Queryable, messageId: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM reports WHERE message_id = $1 LIMIT 1', [messageId]);
  return rows.length > 0;
}

/** The messages of these ids that still exist. */
export function findMessagesByIds(db: Queryable, ids: string[]): Promise<MessageRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = ANY($1::text[])`, [ids]);
}
