// Images the AI assistant generated (assistant/tools/image.ts): stored as complete attachments of
// the answer that drew them, uploaded by the assistant, so they are served, previewed and deleted
// like any image (GET /api/attachments/:id for members only; the files go with the message).
import type { Attachment } from '@confab/protocol';
import type { Queryable } from './db.ts';

export interface GeneratedImage {
  id: string;
  conversationId: string;
  messageId: string;
  /** The assistant's user id (ai/assistant.ts), passed in: storage imports nothing above it. */
  uploaderId: string;
  name: string;
  type: string;
  size: number;
  width: number;
  height: number;
  previewSize: number;
}

/**
 * Inserts the attachment, complete, and adds it to the answer's attachment list; false when the
 * answer is no longer streaming (stopped or ended meanwhile): nothing is stored then.
 */
export async function insertGeneratedImage(tx: Queryable, image: GeneratedImage, attachment: Attachment): Promise<boolean> {
  const updated = await tx.query(
    `UPDATE messages SET attachments = attachments || $2::jsonb WHERE id = $1 AND status = 'streaming' RETURNING id`,
    [image.messageId, JSON.stringify([attachment])],
  );
  if (updated.length === 0) return false;
  await tx.query(
    `INSERT INTO attachments (id, conversation_id, uploader_id, message_id, status, name, declared_type, declared_size, type, size, width, height, has_preview, preview_size)
     VALUES ($1, $2, $3, $4, 'complete', $5, $6, $7, $6, $7, $8, $9, true, $10)`,
    [image.id, image.conversationId, image.uploaderId, image.messageId, image.name, image.type, image.size, image.width, image.height, image.previewSize],
  );
  return true;
}
