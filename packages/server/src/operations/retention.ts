import { ConfabError, type ConversationRetentionAnswer } from '@confab/protocol';
import type { Context } from '../context.ts';
import { deleteExpiredMessages, findConversationRetention, retentionSweepWaiting, setConversationRetention } from '../storage/retention.ts';
import { instanceSettings, recordAudit, requireAdmin } from './instance.ts';

// Retention (docs/admin.md, "Retention"): instance admins set how many days messages are kept, for
// the instance (PATCH /api/admin/settings { retention: { days } }) and per conversation (PUT
// /api/admin/conversations/:id/retention, over the instance's). A job deletes what is older, with
// its files, and records each sweep that deleted something in the audit log.

export const RETENTION_JOB = 'retention.sweep';

/** Messages deleted per transaction: short transactions, so sends are never held up for long. */
const BATCH = 500;
/** One job's work at most; the rest is left to the next job, queued at once. */
const JOB_BUDGET_MS = 20_000;

/** PUT /api/admin/conversations/:id/retention: a conversation's own retention; null follows the instance's. */
export async function setRetentionOfConversation(ctx: Context, actorId: string, conversationId: string, days: number | null): Promise<ConversationRetentionAnswer> {
  await requireAdmin(ctx, actorId);
  await ctx.db.transaction(async (tx) => {
    if (!(await setConversationRetention(tx, conversationId, days))) throw new ConfabError('NOT_FOUND', 'no such conversation');
    await recordAudit(tx, actorId, 'conversation.retention', { type: 'conversation', id: conversationId }, { days });
  });
  await queueSweep(ctx);
  return { conversationId, days, instanceDays: (await instanceSettings(ctx)).retention.days };
}

/** GET /api/admin/conversations/:id/retention. */
export async function getRetentionOfConversation(ctx: Context, actorId: string, conversationId: string): Promise<ConversationRetentionAnswer> {
  await requireAdmin(ctx, actorId);
  const row = await findConversationRetention(ctx.db, conversationId);
  if (!row) throw new ConfabError('NOT_FOUND', 'no such conversation');
  return { conversationId, days: row.retention_days, instanceDays: (await instanceSettings(ctx)).retention.days };
}

/** Queues a sweep unless one is waiting to start already (every node asks at each maintenance round). */
export async function queueSweep(ctx: Context): Promise<void> {
  if (await retentionSweepWaiting(ctx.db, RETENTION_JOB)) return;
  await ctx.jobs.enqueue(ctx.db, RETENTION_JOB, {});
  ctx.jobs.kick();
}

/**
 * Deletes expired messages in batches until none is left or the job's time is up (then the next
 * job goes on). Each batch that deleted something is one audit entry per conversation, by no one
 * (the instance's rule). Returns how many messages went.
 */
export async function sweepExpiredMessages(ctx: Context): Promise<number> {
  const { days } = (await instanceSettings(ctx)).retention;
  const started = Date.now();
  let total = 0;
  for (;;) {
    const deleted = await ctx.db.transaction(async (tx) => {
      const gone = await deleteExpiredMessages(tx, days, BATCH);
      for (const g of gone) await recordAudit(tx, null, 'retention.delete', { type: 'conversation', id: g.conversation_id }, { messages: g.deleted });
      return gone.reduce((n, g) => n + g.deleted, 0);
    });
    total += deleted;
    if (deleted < BATCH) break;
    if (Date.now() - started > JOB_BUDGET_MS) {
      await ctx.jobs.enqueue(ctx.db, RETENTION_JOB, {});
      break;
    }
  }
  if (total > 0) {
    ctx.jobs.kick(); // the deleted files' jobs
    ctx.log.info({ messages: total }, 'retention: expired messages deleted');
  }
  return total;
}

export function registerRetentionJobs(ctx: Context): void {
  ctx.jobs.register(RETENTION_JOB, async () => void (await sweepExpiredMessages(ctx)));
  ctx.jobs.addMaintenance('retention', () => queueSweep(ctx));
}
