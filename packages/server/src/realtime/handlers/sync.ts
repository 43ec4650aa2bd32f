import type { Message, SyncResult } from '@confab/protocol';
import { withLiveText } from '../../ai/streams.ts';
import type { Context } from '../../context.ts';
import { hydrateMessages, MESSAGE_COLUMNS, type MessageRow } from '../../operations/messages.ts';
import { sync } from '../../operations/sync.ts';
import type { EventHandlers, RealtimeServices } from '../types.ts';

/**
 * Answers still streaming are always part of the last sync page, with their live text and
 * `streamIndex`, even when the cursor is past their seq: a client that was away mid-answer
 * missed `ai:delta` pieces that no seq covers.
 */
async function withStreamingAnswers(ctx: Context, userId: string, result: SyncResult): Promise<SyncResult> {
  let messages: Message[] = result.messages;
  if (!result.hasMore) {
    const rows = await ctx.db.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m
         JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $1
        WHERE m.status = 'streaming'`,
      [userId],
    );
    const known = new Set(messages.map((m) => m.id));
    const extra = await hydrateMessages(ctx, ctx.db, rows.filter((r) => !known.has(r.id)));
    if (extra.length) messages = [...messages, ...extra];
  }
  return { ...result, messages: await withLiveText(ctx.streams, messages) };
}

/** Catch-up; see operations/sync.ts for the cursor rules. */
export function syncHandlers({ ctx }: RealtimeServices): Pick<EventHandlers, 'sync'> {
  return {
    sync: async (socket, input) => withStreamingAnswers(ctx, socket.data.userId, await sync(ctx, socket.data.userId, input)),
  };
}
