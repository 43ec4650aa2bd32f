// Queries on link previews (issue 18): the preview column of messages, the "removed" flag, and
// link_preview_images (migration 12). operations/previews.ts keeps the rules (who may remove one,
// when one is stale, which events).
import type { Queryable } from './db.ts';
import type { LinkPreviewImageRow } from './rows.ts';

/** Whether the sender removed this message's preview (undefined: no such message). */
export async function isLinkPreviewRemoved(db: Queryable, messageId: string): Promise<boolean | undefined> {
  const [row] = await db.query<{ link_preview_removed: boolean }>('SELECT link_preview_removed FROM messages WHERE id = $1', [messageId]);
  return row?.link_preview_removed;
}

/** Sets the preview (encrypted JSON) of a change that took the seq `seq`. */
export async function setLinkPreview(tx: Queryable, messageId: string, previewEnc: string, seq: number): Promise<void> {
  await tx.query('UPDATE messages SET link_preview_enc = $2, updated_seq = $3 WHERE id = $1', [messageId, previewEnc, seq]);
}

/**
 * Drops the preview and its image. `removedBySender` also marks it removed, stamped with the seq
 * `seq` that change took; without it (an edit that changed the link, a delete) the caller's change
 * stamps the message itself.
 */
export async function dropLinkPreview(tx: Queryable, messageId: string, removal?: { seq: number }): Promise<void> {
  if (removal) {
    await tx.query('UPDATE messages SET link_preview_enc = NULL, link_preview_removed = true, updated_seq = $2 WHERE id = $1', [messageId, removal.seq]);
  } else {
    await tx.query('UPDATE messages SET link_preview_enc = NULL WHERE id = $1 AND link_preview_enc IS NOT NULL', [messageId]);
  }
  await tx.query('DELETE FROM link_preview_images WHERE message_id = $1', [messageId]);
}

/** Stores (or replaces) a message's preview image. */
export async function putLinkPreviewImage(tx: Queryable, messageId: string, contentType: string, imageEnc: string): Promise<void> {
  await tx.query(
    `INSERT INTO link_preview_images (message_id, content_type, image_enc) VALUES ($1, $2, $3)
     ON CONFLICT (message_id) DO UPDATE SET content_type = EXCLUDED.content_type, image_enc = EXCLUDED.image_enc, created_at = now()`,
    [messageId, contentType, imageEnc],
  );
}

export async function deleteLinkPreviewImage(tx: Queryable, messageId: string): Promise<void> {
  await tx.query('DELETE FROM link_preview_images WHERE message_id = $1', [messageId]);
}

export async function findLinkPreviewImage(db: Queryable, messageId: string): Promise<LinkPreviewImageRow | undefined> {
  const [row] = await db.query<LinkPreviewImageRow>('SELECT content_type, image_enc, created_at FROM link_preview_images WHERE message_id = $1', [messageId]);
  return row;
}
