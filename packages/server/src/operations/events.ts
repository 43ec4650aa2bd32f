import type { DomainEvent } from '../bus/bus.ts';
import type { Context } from '../context.ts';
import type { Queryable } from '../storage/db.ts';
import { recordMembershipChanges } from './liveChanges.ts';

/**
 * Runs `fn` in a transaction and publishes the domain events it collected once that transaction
 * has committed, in order: no subscriber (nor client) ever hears of a change that was rolled back.
 * Operations that commit one change without a transaction of their own (a send, a receipt)
 * publish its one event right after the write instead.
 */
export async function commitWithEvents<T>(ctx: Context, fn: (tx: Queryable, events: DomainEvent[]) => Promise<T>): Promise<T> {
  const events: DomainEvent[] = [];
  const result = await ctx.db.transaction(async (tx) => {
    const value = await fn(tx, events);
    // Membership changes are also written down, in the same transaction: the broadcast that takes
    // them to other nodes may be lost, and every node reads the recent ones back (liveChanges.ts).
    // Only on PostgreSQL: the embedded database is one process, so one node, whose in-process bus
    // loses nothing.
    if (ctx.db.kind === 'postgres') await recordMembershipChanges(tx, events.flatMap((e) => (e.type === 'membership' ? [e] : [])));
    return value;
  });
  for (const e of events) ctx.bus.publish(e);
  return result;
}
