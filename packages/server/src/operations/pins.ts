import { ConfabError, LIMITS, type Message, type PinList } from '@confab/protocol';
import type { Context } from '../context.ts';
import { countPinned, findPinnedMessages, setPin } from '../storage/pins.ts';
import { isModerator, requireMember } from './access.ts';
import { hydrateMessages, loadForChange, nextSeq, reload } from './messages.ts';

/**
 * Pins. A message is pinned in its conversation by a moderator, admin or the owner of a group (the
 * owner of an assistant conversation too), or by either person of a direct conversation; other
 * members get FORBIDDEN, non-members NOT_FOUND. A pin is a change of the message: it takes the
 * conversation's next seq (as an edit does), so `chat:message_updated` carries it live and `sync`
 * carries it later. Pinning what is pinned, or unpinning what is not, changes nothing and emits
 * nothing. Deleted and system messages cannot be pinned; a deletion unpins (storage eraseMessage).
 * At most LIMITS.maxPins messages of one conversation are pinned at once.
 */
export async function setPinned(ctx: Context, userId: string, messageId: string, on: boolean): Promise<Message> {
  const { message, changed } = await ctx.db.transaction(async (tx) => {
    const { row, member } = await loadForChange(tx, messageId, userId);
    if (member.type !== 'direct' && !isModerator(member.role)) throw new ConfabError('FORBIDDEN', 'only moderators, admins and the owner can pin messages here');
    if (row.deleted_at) throw new ConfabError('NOT_FOUND', 'this message was deleted');
    if (on && row.kind === 'system') throw new ConfabError('VALIDATION_ERROR', 'system messages cannot be pinned');
    if (on === Boolean(row.pinned_at)) return { message: await reload(ctx, tx, messageId), changed: false };
    if (on && (await countPinned(tx, row.conversation_id)) >= LIMITS.maxPins) {
      throw new ConfabError('VALIDATION_ERROR', `at most ${LIMITS.maxPins} messages can be pinned in a conversation; unpin one first`);
    }
    const seq = await nextSeq(tx, row.conversation_id, false);
    await setPin(tx, messageId, on ? userId : null, seq);
    return { message: await reload(ctx, tx, messageId), changed: true };
  });
  if (changed) ctx.bus.publish({ type: 'message_changed', message });
  return message;
}

/** A conversation's pinned messages, most recently pinned first: members only (NOT_FOUND otherwise). */
export async function listPins(ctx: Context, userId: string, conversationId: string): Promise<PinList> {
  await requireMember(ctx.db, conversationId, userId);
  const rows = await findPinnedMessages(ctx.db, conversationId, LIMITS.maxPins);
  return { messages: await hydrateMessages(ctx, ctx.db, rows) };
}
