import { ConfabError, type MessageVersion, type MessageVersionList } from '@confab/protocol';
import type { Context } from '../context.ts';
import { findVersions } from '../storage/versions.ts';
import { iso } from './users.ts';

/**
 * GET /api/messages/:id/versions: what a message said before each edit or regenerate, oldest first,
 * then what it says now (so a client can page "‹ 2/3 ›" through them with the current one last).
 * Members only: anyone else gets NOT_FOUND, as for the message itself.
 *
 * Earlier versions without text (an answer that failed or was stopped before its first word) are
 * left out: there is nothing to show. A deleted message has no versions (they were erased with it).
 * While an answer streams, its current entry holds the text checkpointed so far.
 */
export async function listMessageVersions(ctx: Context, userId: string, messageId: string): Promise<MessageVersionList> {
  const rows = await findVersions(ctx.db, messageId, userId);
  if (rows.length === 0) throw new ConfabError('NOT_FOUND', 'no such message');
  if (rows.some((r) => r.deleted)) return { versions: [] };
  const versions: MessageVersion[] = [];
  for (const r of rows) {
    const content = ctx.keys.decrypt(r.content_enc);
    if (!content && !r.is_current) continue;
    versions.push({ content, editedAt: iso(r.edited_at)!, model: r.model });
  }
  return { versions };
}
