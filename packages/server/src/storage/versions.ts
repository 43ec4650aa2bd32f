// The versions of a message as members may read them (GET /api/messages/:id/versions): the kept
// earlier contents of message_versions (written by keepPreviousVersion in storage/messages.ts) and
// the current content, in one statement so a regenerate committing meanwhile can neither repeat
// nor drop a version.
import type { Queryable } from './db.ts';

export interface VersionRow {
  content_enc: string;
  /** When this content was written: the message's creation, or the edit or regenerate that wrote it. */
  edited_at: Date;
  model: string | null;
  is_current: boolean;
  /** The message is a tombstone (only on the current row). */
  deleted: boolean;
}

/**
 * The versions of `messageId`, oldest first and the current content last; none when `userId` is not
 * a member of its conversation (or there is no such message). A tombstone's versions were erased
 * with it: only its empty current content is left.
 */
export function findVersions(db: Queryable, messageId: string, userId: string): Promise<VersionRow[]> {
  return db.query<VersionRow>(
    `WITH target AS (
       SELECT m.id, m.content_enc, COALESCE(m.edited_at, m.created_at) AS edited_at, m.model, m.deleted_at IS NOT NULL AS deleted
         FROM messages m JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2
        WHERE m.id = $1
     )
     SELECT content_enc, edited_at, model, is_current, deleted FROM (
       SELECT v.content_enc, v.created_at AS edited_at, v.model, false AS is_current, false AS deleted, v.version
         FROM message_versions v JOIN target t ON t.id = v.message_id
       UNION ALL
       SELECT t.content_enc, t.edited_at, t.model, true AS is_current, t.deleted, NULL::integer AS version FROM target t
     ) all_versions
     ORDER BY is_current, version`,
    [messageId, userId],
  );
}
