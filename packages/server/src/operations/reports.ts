import { ConfabError, type CloseReportBody, type Report, type ReportList, type ReportListQuery } from '@confab/protocol';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import type { Queryable } from '../storage/db.ts';
import { findMessage } from '../storage/messages.ts';
import { closeReportRow, findMessagesByIds, insertReport, isReported, listReportRows, type ReportRow } from '../storage/reports.ts';
import type { MessageRow } from '../storage/rows.ts';
import { requireMember } from './access.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { recordAudit, requireAdmin } from './instance.ts';
import { hydrateMessages } from './messages.ts';
import { iso } from './users.ts';

// Reports of messages (API.md, "Consent and privacy"): members report, instance admins read the
// reports with the messages' content, close them, and may delete a reported message.

function toReport(r: ReportRow, message: Report['message']): Report {
  return {
    id: r.id,
    messageId: r.message_id,
    conversationId: r.conversation_id,
    reporterId: r.reporter_id,
    reason: r.reason,
    status: r.status,
    createdAt: iso(r.created_at)!,
    closedBy: r.closed_by,
    closedAt: iso(r.closed_at),
    message,
  };
}

/**
 * A member reports a message of their conversation (NOT_FOUND for anyone else, as for any message
 * they may not see). A reporter has at most one open report per message: a repeat returns it.
 * The reporter's answer carries no message (they have it); admins see it in the list.
 */
export async function reportMessage(ctx: Context, userId: string, messageId: string, reason: string): Promise<{ report: Report; created: boolean }> {
  const message = await findMessage(ctx.db, messageId);
  if (!message) throw new ConfabError('NOT_FOUND', 'no such message');
  try {
    await requireMember(ctx.db, message.conversation_id, userId);
  } catch {
    throw new ConfabError('NOT_FOUND', 'no such message');
  }
  const { row, created } = await insertReport(ctx.db, { id: newId(), messageId, conversationId: message.conversation_id, reporterId: userId, reason });
  return { report: toReport(row, null), created };
}

/** The reports, newest first, each with the reported message as it is now (null once it is gone). */
export async function listReports(ctx: Context, actorId: string, query: ReportListQuery): Promise<ReportList> {
  await requireAdmin(ctx, actorId);
  const after = decodeCursor(query.cursor);
  if (after && Number.isNaN(Date.parse(after.key))) throw new ConfabError('VALIDATION_ERROR', 'cursor is not one this server gave out');
  const rows = await listReportRows(ctx.db, query.status, after && { at: after.key, id: after.id }, query.limit + 1);
  const page = rows.slice(0, query.limit);
  const messages = await messagesById(ctx, ctx.db, page.map((r) => r.message_id));
  const last = page.at(-1);
  return {
    reports: page.map((r) => toReport(r, messages.get(r.message_id) ?? null)),
    nextCursor: rows.length > query.limit && last ? encodeCursor(last.created_at_text, last.id) : null,
  };
}

async function messagesById(ctx: Context, db: Queryable, ids: string[]): Promise<Map<string, Report['message']>> {
  const rows: MessageRow[] = await findMessagesByIds(db, [...new Set(ids)]);
  return new Map((await hydrateMessages(ctx, db, rows)).map((m) => [m.id, m]));
}

/** An admin resolves or dismisses a report; audited as report.resolve / report.dismiss. */
export async function closeReport(ctx: Context, actorId: string, reportId: string, body: CloseReportBody): Promise<Report> {
  return ctx.db.transaction(async (tx) => {
    await requireAdmin(ctx, actorId, tx);
    const row = await closeReportRow(tx, reportId, body.status, actorId);
    if (!row) throw new ConfabError('NOT_FOUND', 'no such report');
    await recordAudit(tx, actorId, body.status === 'resolved' ? 'report.resolve' : 'report.dismiss', { type: 'report', id: reportId }, { messageId: row.message_id });
    const messages = await messagesById(ctx, tx, [row.message_id]);
    return toReport(row, messages.get(row.message_id) ?? null);
  });
}

/**
 * Whether `userId` may delete this message as an instance admin: they are one, and a report (open
 * or closed) named the message, so it was shown to them. Inside the delete's transaction.
 */
export async function mayDeleteAsAdmin(ctx: Context, tx: Queryable, userId: string, messageId: string): Promise<boolean> {
  try {
    await requireAdmin(ctx, userId, tx);
  } catch {
    return false;
  }
  return isReported(tx, messageId);
}
