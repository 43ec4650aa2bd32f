import { ConfabError, type Message, type UpdateConversationBody } from '@confab/protocol';
import type { Context } from '../context.ts';
import { findChannelSettings, setTopic, setVisibility } from '../storage/channels.ts';
import type { Queryable } from '../storage/db.ts';
import type { MembershipRow } from '../storage/rows.ts';
import { findDisplayNames } from '../storage/users.ts';
import { isAdmin } from './access.ts';
import { appendSystemMessage } from './messages.ts';

/**
 * Applies `visibility` and `topic` of a PATCH to a group, inside the caller's transaction with the
 * conversation locked (`me` from requireMember with `lock`). Groups only, owner and admins only.
 * Each real change leaves a system message (returned, to publish after commit); setting what is
 * already set changes nothing. An empty topic clears it.
 */
export async function applyChannelSettings(
  ctx: Context,
  tx: Queryable,
  me: MembershipRow,
  patch: Pick<UpdateConversationBody, 'visibility' | 'topic'>,
): Promise<Message[]> {
  if (me.type !== 'group') throw new ConfabError('FORBIDDEN', 'only groups have a topic and a visibility');
  if (!isAdmin(me.role)) throw new ConfabError('FORBIDDEN', 'only owners and admins can change the topic or visibility');
  const id = me.conversation_id;
  const current = await findChannelSettings(tx, id);
  if (!current) throw new ConfabError('NOT_FOUND', 'no such conversation');
  const who = (await findDisplayNames(tx, [me.user_id])).get(me.user_id) ?? 'Someone';
  const messages: Message[] = [];
  if (patch.visibility !== undefined && patch.visibility !== current.visibility) {
    await setVisibility(tx, id, patch.visibility);
    const text = patch.visibility === 'public' ? `${who} made this group a public channel` : `${who} made this channel private`;
    messages.push(await appendSystemMessage(ctx, tx, id, me.user_id, text));
  }
  if (patch.topic !== undefined) {
    const topic = patch.topic || null;
    if (topic !== current.topic) {
      await setTopic(tx, id, topic);
      const text = topic === null ? `${who} removed the topic` : `${who} set the topic to "${topic}"`;
      messages.push(await appendSystemMessage(ctx, tx, id, me.user_id, text));
    }
  }
  return messages;
}
