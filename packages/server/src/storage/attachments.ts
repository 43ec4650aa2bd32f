// Queries on attachments (issue #17, item 2: the query layer). The SQL moved here as it was from
// operations/attachments.ts, which keeps the rules (who may upload, see or delete what, the size
// limits, what a message may attach) and the files themselves.
import type { Queryable } from './db.ts';
import type { AttachmentRow } from './rows.ts';

/** The columns callers need (not the extracted text, which can be large). */
const COLUMNS = `a.id, a.conversation_id, a.uploader_id, a.message_id, a.status, a.name, a.declared_type, a.declared_size,
  a.type, a.size, a.width, a.height, a.duration_ms, a.has_preview, a.preview_size, a.text_status, a.created_at`;

/** A new attachment waiting for its upload (status `pending`). */
export async function insertAttachment(
  db: Queryable,
  a: { id: string; conversationId: string; uploaderId: string; name: string; declaredType: string; declaredSize: number; durationMs: number | null },
): Promise<void> {
  await db.query(
    `INSERT INTO attachments (id, conversation_id, uploader_id, name, declared_type, declared_size, duration_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [a.id, a.conversationId, a.uploaderId, a.name, a.declaredType, a.declaredSize, a.durationMs],
  );
}

/** The attachment if `uploaderId` created it and is still a member of its conversation. */
export async function findUploadOfMember(db: Queryable, attachmentId: string, uploaderId: string): Promise<AttachmentRow | undefined> {
  const [row] = await db.query<AttachmentRow>(
    `SELECT ${COLUMNS} FROM attachments a
       JOIN conversation_members cm ON cm.conversation_id = a.conversation_id AND cm.user_id = a.uploader_id
      WHERE a.id = $1 AND a.uploader_id = $2`,
    [attachmentId, uploaderId],
  );
  return row;
}

/** Marks a `pending` attachment `uploading`; false if it was in any other state (one upload at a time). */
export async function claimUpload(db: Queryable, id: string): Promise<boolean> {
  const claimed = await db.query(`UPDATE attachments SET status = 'uploading', updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING id`, [id]);
  return claimed.length > 0;
}

/** Ends an upload in progress without completing it: `pending` (try again) or `failed`. */
export async function releaseUpload(db: Queryable, id: string, status: 'pending' | 'failed'): Promise<void> {
  await db.query(`UPDATE attachments SET status = $2, updated_at = now() WHERE id = $1 AND status = 'uploading'`, [id, status]);
}

/** What an upload found out about its file. */
export interface CompletedUpload {
  type: string;
  size: number;
  width: number | null;
  height: number | null;
  hasPreview: boolean;
  previewSize: number | null;
  name: string;
  durationMs: number | null;
  textStatus: AttachmentRow['text_status'];
  /** The extracted text, encrypted; null if there is none (yet). */
  textEnc: string | null;
}

/** Completes an upload in progress; undefined if the attachment is gone or not `uploading`. */
export async function completeUpload(db: Queryable, id: string, u: CompletedUpload): Promise<AttachmentRow | undefined> {
  const [done] = await db.query<AttachmentRow>(
    `UPDATE attachments a SET status = 'complete', type = $2, size = $3, width = $4, height = $5, has_preview = $6,
                preview_size = $7, name = $8, duration_ms = $9, text_status = $10, text_enc = $11, updated_at = now()
          WHERE a.id = $1 AND a.status = 'uploading' RETURNING ${COLUMNS}`,
    [id, u.type, u.size, u.width, u.height, u.hasPreview, u.previewSize, u.name, u.durationMs, u.textStatus, u.textEnc],
  );
  return done;
}

/** Deletes the uploader's attachment if no message uses it and no upload is in progress; false if not deleted. */
export async function deleteUnusedUpload(db: Queryable, id: string, uploaderId: string): Promise<boolean> {
  const rows = await db.query(
    `DELETE FROM attachments WHERE id = $1 AND uploader_id = $2 AND message_id IS NULL AND status <> 'uploading' RETURNING id`,
    [id, uploaderId],
  );
  return rows.length > 0;
}

/** Whether this user uploaded this attachment. */
export async function isUploader(db: Queryable, id: string, uploaderId: string): Promise<boolean> {
  const [attached] = await db.query(`SELECT 1 FROM attachments WHERE id = $1 AND uploader_id = $2`, [id, uploaderId]);
  return attached !== undefined;
}

/**
 * A complete attachment as `userId` may download it: a member of its conversation, and either a
 * message uses it or `userId` uploaded it.
 */
export async function findDownloadable(db: Queryable, id: string, userId: string): Promise<AttachmentRow | undefined> {
  const [row] = await db.query<AttachmentRow>(
    `SELECT ${COLUMNS} FROM attachments a
       JOIN conversation_members cm ON cm.conversation_id = a.conversation_id AND cm.user_id = $2
      WHERE a.id = $1 AND a.status = 'complete' AND (a.message_id IS NOT NULL OR a.uploader_id = $2)`,
    [id, userId],
  );
  return row;
}

/**
 * The attachments `ids` that `uploaderId` uploaded to this conversation (in no particular order),
 * each with `own_retry`: whether the message using it is the uploader's own with this clientId.
 */
export async function findForMessage(
  db: Queryable,
  ids: string[],
  uploaderId: string,
  conversationId: string,
  clientId: string,
): Promise<Array<AttachmentRow & { own_retry: boolean }>> {
  return db.query<AttachmentRow & { own_retry: boolean }>(
    `SELECT ${COLUMNS}, (m.id IS NOT NULL) AS own_retry
       FROM attachments a
       LEFT JOIN messages m ON m.id = a.message_id AND m.author_id = $2 AND m.conversation_id = $3 AND m.client_id = $4
      WHERE a.id = ANY($1::text[]) AND a.uploader_id = $2 AND a.conversation_id = $3`,
    [ids, uploaderId, conversationId, clientId],
  );
}

/** Deletes a message's attachments (the trigger on attachments queues their files); returns how many. */
export async function deleteAttachmentsOfMessage(tx: Queryable, messageId: string): Promise<number> {
  const rows = await tx.query('DELETE FROM attachments WHERE message_id = $1 RETURNING id', [messageId]);
  return rows.length;
}

export async function findComplete(db: Queryable, id: string): Promise<AttachmentRow | undefined> {
  const [row] = await db.query<AttachmentRow>(`SELECT ${COLUMNS} FROM attachments a WHERE a.id = $1 AND a.status = 'complete'`, [id]);
  return row;
}

/** An attachment's extracted text (encrypted) and what decides who may read it. */
export type AttachmentTextRow = Pick<AttachmentRow, 'text_status' | 'conversation_id' | 'message_id' | 'uploader_id'> & { text_enc: string | null };

/** The text of a complete attachment; undefined for one that is missing or not complete. */
export async function findCompleteText(db: Queryable, id: string): Promise<AttachmentTextRow | undefined> {
  const [row] = await db.query<AttachmentTextRow>(
    `SELECT text_status, text_enc, conversation_id, message_id, uploader_id FROM attachments WHERE id = $1 AND status = 'complete'`,
    [id],
  );
  return row;
}

export async function findTextStatus(db: Queryable, id: string): Promise<AttachmentRow['text_status'] | undefined> {
  const [row] = await db.query<{ text_status: AttachmentRow['text_status'] }>('SELECT text_status FROM attachments WHERE id = $1', [id]);
  return row?.text_status;
}

export async function markTextFailed(db: Queryable, id: string): Promise<void> {
  await db.query(`UPDATE attachments SET text_status = 'failed' WHERE id = $1`, [id]);
}

/** Stores the extracted text (encrypted) and marks it ready. */
export async function storeText(db: Queryable, id: string, textEnc: string): Promise<void> {
  await db.query(`UPDATE attachments SET text_status = 'ready', text_enc = $2 WHERE id = $1`, [id, textEnc]);
}

/** Deletes attachments no message used that are older than `olderThanMs`; returns how many. */
export async function deleteAbandonedUploads(db: Queryable, olderThanMs: number): Promise<number> {
  const rows = await db.query(
    `DELETE FROM attachments WHERE message_id IS NULL AND created_at < now() - $1 * interval '1 millisecond' RETURNING id`,
    [olderThanMs],
  );
  return rows.length;
}
