// Branches (operations/branches.ts): a new assistant conversation holding copies of another
// conversation's messages up to one of them.
import type { Queryable } from './db.ts';
import { MAIN_LINE, MESSAGE_COLUMNS } from './messages.ts';
import type { AttachmentRow, MessageRow } from './rows.ts';

/**
 * SQL: the messages a branch copies, `m` the messages alias. $1 the conversation, $2 the chosen
 * message's seq, $3 the thread the chosen message is a reply in (null for the main line): the main
 * line up to it, plus, from a reply, the earlier replies of its thread; no system lines or tombstones.
 */
const BRANCHED = `m.conversation_id = $1 AND m.seq <= $2 AND (${MAIN_LINE} OR m.thread_root_id = $3)
  AND m.deleted_at IS NULL AND m.kind <> 'system'`;

export async function countBranched(db: Queryable, conversationId: string, seq: number, threadRootId: string | null): Promise<number> {
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM messages m WHERE ${BRANCHED}`, [conversationId, seq, threadRootId]);
  return row?.n ?? 0;
}

/** The next `limit` messages to copy after seq `afterSeq`, in seq order. */
export function listBranchedPage(db: Queryable, conversationId: string, seq: number, threadRootId: string | null, afterSeq: number, limit: number): Promise<MessageRow[]> {
  return db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE ${BRANCHED} AND m.seq > $4 ORDER BY m.seq LIMIT $5`, [
    conversationId,
    seq,
    threadRootId,
    afterSeq,
    limit,
  ]);
}

/** The complete attachments of the messages a branch copies (their files are copied before the messages). */
export function listBranchedAttachments(db: Queryable, conversationId: string, seq: number, threadRootId: string | null): Promise<AttachmentRow[]> {
  return db.query<AttachmentRow>(
    `SELECT a.id, a.conversation_id, a.uploader_id, a.message_id, a.status, a.name, a.declared_type, a.declared_size,
            a.type, a.size, a.width, a.height, a.duration_ms, a.has_preview, a.preview_size, a.text_status, a.created_at
       FROM messages m JOIN attachments a ON a.message_id = m.id
      WHERE ${BRANCHED} AND a.status = 'complete'
      ORDER BY m.seq, a.id`,
    [conversationId, seq, threadRootId],
  );
}

/**
 * The branch itself: an assistant conversation of `createdBy` with the source's system prompt,
 * copied by the database as it is stored. `model` is decided by the caller (operations/branches.ts).
 */
export async function insertBranchConversation(
  tx: Queryable,
  b: { id: string; sourceId: string; title: string | null; model: string; createdBy: string },
): Promise<void> {
  await tx.query(
    `INSERT INTO conversations (id, type, title, model, system_prompt, created_by)
     SELECT $1, 'assistant', $2, $3, s.system_prompt, $4 FROM conversations s WHERE s.id = $5`,
    [b.id, b.title, b.model, b.createdBy, b.sourceId],
  );
}

/** The source conversation's title, model and type. */
export async function findBranchSource(db: Queryable, id: string): Promise<{ title: string | null; model: string | null; type: string } | undefined> {
  const [row] = await db.query<{ title: string | null; model: string | null; type: string }>('SELECT title, model, type FROM conversations WHERE id = $1', [id]);
  return row;
}

/** A copy to insert: the source message it copies, and what changes in the copy. */
export interface MessageCopy {
  id: string;
  sourceId: string;
  seq: number;
  contentEnc: string;
  replyToId: string | null;
  /** The message's attachments as it stores them (JSON), with the copies' ids. */
  attachments: string;
  /** bigint[] literal of the blind-index terms (keyed by the new conversation). */
  terms: string;
}

/**
 * Inserts copies into `conversationId` in one statement. The author, kind, status (an answer still
 * streaming is copied as stopped: nothing will finish the copy), model, time, link preview and an
 * answer's tool calls come from the source row; the seq is the copy's own (the branch numbers its copies 1..n).
 */
export async function insertCopies(tx: Queryable, conversationId: string, copies: MessageCopy[]): Promise<void> {
  if (copies.length === 0) return;
  await tx.query(
    `INSERT INTO messages (id, conversation_id, seq, updated_seq, author_id, kind, content_enc, reply_to_id, attachments,
                           status, model, status_reason, created_at, search_terms, link_preview_enc, link_preview_removed, tool_calls_enc)
     SELECT t.id, $1, t.seq, t.seq, s.author_id, s.kind, t.content_enc, t.reply_to_id, t.attachments::jsonb,
            CASE WHEN s.status = 'streaming' THEN 'stopped' ELSE s.status END, s.model, s.status_reason, s.created_at,
            t.terms::bigint[], s.link_preview_enc, s.link_preview_removed, s.tool_calls_enc
       FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[])
            AS t(id, source_id, seq, content_enc, reply_to_id, attachments, terms)
       JOIN messages s ON s.id = t.source_id
      ORDER BY t.seq`,
    [
      conversationId,
      copies.map((c) => c.id),
      copies.map((c) => c.sourceId),
      copies.map((c) => c.seq),
      copies.map((c) => c.contentEnc),
      copies.map((c) => c.replyToId),
      copies.map((c) => c.attachments),
      copies.map((c) => c.terms),
    ],
  );
  // The link previews' images go with them (served to the branch's members under the copy's id).
  await tx.query(
    `INSERT INTO link_preview_images (message_id, content_type, image_enc, created_at)
     SELECT t.id, i.content_type, i.image_enc, i.created_at
       FROM unnest($1::text[], $2::text[]) AS t(id, source_id) JOIN link_preview_images i ON i.message_id = t.source_id`,
    [copies.map((c) => c.id), copies.map((c) => c.sourceId)],
  );
}

/**
 * Rows for attachments whose files were copied: the same metadata and extracted text, in the new
 * conversation, used by the copy `messageId`. The uploader stays who uploaded the original, so
 * deleting that account deletes the copies' files too.
 */
export async function insertAttachmentCopies(tx: Queryable, conversationId: string, copies: { id: string; sourceId: string; messageId: string }[]): Promise<void> {
  if (copies.length === 0) return;
  await tx.query(
    `INSERT INTO attachments (id, conversation_id, uploader_id, message_id, status, name, declared_type, declared_size, type, size,
                              width, height, duration_ms, has_preview, preview_size, text_status, text_enc, created_at)
     SELECT t.id, $1, a.uploader_id, t.message_id, 'complete', a.name, a.declared_type, a.declared_size, a.type, a.size,
            a.width, a.height, a.duration_ms, a.has_preview, a.preview_size, a.text_status, a.text_enc, a.created_at
       FROM unnest($2::text[], $3::text[], $4::text[]) AS t(id, source_id, message_id) JOIN attachments a ON a.id = t.source_id`,
    [conversationId, copies.map((c) => c.id), copies.map((c) => c.sourceId), copies.map((c) => c.messageId)],
  );
}

/** The branch's sequence ends at its last copy. */
export async function setLastSeq(tx: Queryable, conversationId: string, lastSeq: number): Promise<void> {
  await tx.query('UPDATE conversations SET last_seq = $2, last_activity_at = now() WHERE id = $1', [conversationId, lastSeq]);
}
