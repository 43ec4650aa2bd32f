import type { AdminUsage, Usage, UsageDay } from '@confab/protocol';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import { insertUsage, serverUsageByDay, serverUsageSince, type UsageEntry } from '../storage/usage.ts';
import { instanceSettings, requireAdmin } from './instance.ts';

// The usage ledger and the daily allowance (API.md, "AI governance"): every answer and title that
// reached a provider leaves one ai_usage row, paid by whoever asked; the allowance counts the rows
// paid with the server's keys, per user and UTC day. Reports show the server's keys only: what the
// allowance counts and what the operator pays for (a user's own key is billed to them).

const DAY_MS = 86_400_000;

/** The start (00:00 UTC) of the UTC day `daysAgo` days before today. */
function utcDayStart(daysAgo = 0, now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - daysAgo * DAY_MS);
}

const dateOf = (d: Date) => d.toISOString().slice(0, 10);

/** One ledger row; a failure to write it is logged, never the answer's failure. */
export async function recordUsage(ctx: Context, entry: Omit<UsageEntry, 'id'>): Promise<void> {
  try {
    await insertUsage(ctx.db, { id: newId(), ...entry });
  } catch (error) {
    ctx.log.warn({ err: error, messageId: entry.messageId }, 'recording AI usage failed');
  }
}

const leftOf = (limit: number, used: number): number | null => (limit === 0 ? null : Math.max(0, limit - used));

/**
 * Why `payerId` may not start an answer on the server's keys now, or undefined when they may: at or
 * over either daily limit. Checked when an answer starts, so answers started at the same moment at
 * the limit may each pass (the allowance can be overshot by the answers in flight).
 */
export async function quotaRefusal(ctx: Context, payerId: string): Promise<string | undefined> {
  const { quota } = (await instanceSettings(ctx)).ai;
  if (quota.answersPerDay === 0 && quota.tokensPerDay === 0) return undefined;
  const used = await serverUsageSince(ctx.db, payerId, utcDayStart());
  const limit =
    quota.answersPerDay > 0 && used.answers >= quota.answersPerDay
      ? `${quota.answersPerDay} ${quota.answersPerDay === 1 ? 'answer' : 'answers'}`
      : quota.tokensPerDay > 0 && used.tokens >= quota.tokensPerDay
        ? `${quota.tokensPerDay} tokens`
        : undefined;
  if (!limit) return undefined;
  return `Your daily AI allowance on this server is used up (${limit}). It resets at midnight UTC; ask an admin for more, or add your own API key.`;
}

/** Every day of the window, oldest first, zero days included. */
function windowDays(days: number): string[] {
  return Array.from({ length: days }, (_, i) => dateOf(utcDayStart(days - 1 - i)));
}

const toDay = (r: { date: string; answers: number; input_tokens: number; output_tokens: number }): UsageDay => ({
  date: r.date,
  answers: r.answers,
  inputTokens: r.input_tokens,
  outputTokens: r.output_tokens,
});

/** GET /api/users/me/usage: the caller's usage of the server's keys per UTC day, and what is left today. */
export async function getUsage(ctx: Context, userId: string, days: number): Promise<Usage> {
  const since = utcDayStart(days - 1);
  const rows = await serverUsageByDay(ctx.db, userId, since);
  const { quota } = (await instanceSettings(ctx)).ai;
  const byDate = new Map(rows.map((r) => [r.date, toDay(r)]));
  const today = await serverUsageSince(ctx.db, userId, utcDayStart());
  return {
    days: windowDays(days).map((date) => byDate.get(date) ?? { date, answers: 0, inputTokens: 0, outputTokens: 0 }),
    today: { answersLeft: leftOf(quota.answersPerDay, today.answers), tokensLeft: leftOf(quota.tokensPerDay, today.tokens), quota },
  };
}

/** GET /api/admin/usage: everyone who used the server's keys in the window, each with the days they did (oldest first). */
export async function getAdminUsage(ctx: Context, actorId: string, days: number): Promise<AdminUsage> {
  await requireAdmin(ctx, actorId);
  const rows = await serverUsageByDay(ctx.db, null, utcDayStart(days - 1));
  const users = new Map<string, AdminUsage['users'][number]>();
  for (const r of rows) {
    let user = users.get(r.user_id);
    if (!user) users.set(r.user_id, (user = { userId: r.user_id, handle: r.handle, displayName: r.display_name, days: [] }));
    user.days.push(toDay(r));
  }
  const tokens = (u: AdminUsage['users'][number]) => u.days.reduce((n, d) => n + d.inputTokens + d.outputTokens, 0);
  // The biggest spenders first.
  return { users: [...users.values()].sort((a, b) => tokens(b) - tokens(a) || a.handle.localeCompare(b.handle)) };
}
