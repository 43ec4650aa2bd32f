// Queries of the AI assistant's answers (issue #17, item 2: the query layer): claiming a
// conversation, checkpointing, finishing and regenerating answers, and what the prompt
// and the title read. The SQL moved here as it was from the AI runner, its prompt and its titles
// (now assistant/); the assistant and operations/ai.ts keep the rules. The assistant's
// user id is passed in (it is ai/assistant.ts's), so storage depends on nothing above it.
import type { Message } from '@confab/protocol';
import type { Queryable } from './db.ts';
import { MESSAGE_COLUMNS } from './messages.ts';
import type { MessageRow } from './rows.ts';

// ---- conversations, as the assistant sees them ----

export async function findConversationType(db: Queryable, conversationId: string): Promise<{ type: 'direct' | 'group' | 'assistant' } | undefined> {
  const [row] = await db.query<{ type: 'direct' | 'group' | 'assistant' }>('SELECT type FROM conversations WHERE id = $1', [conversationId]);
  return row;
}

/**
 * Claims the conversation for one answer (`generating`), unless one is being written already:
 * undefined then. Returns the conversation's stored model.
 */
export async function claimConversation(db: Queryable, conversationId: string): Promise<{ model: string | null } | undefined> {
  const [row] = await db.query<{ model: string | null }>('UPDATE conversations SET generating = true WHERE id = $1 AND NOT generating RETURNING model', [
    conversationId,
  ]);
  return row;
}

export async function releaseConversation(db: Queryable, conversationId: string): Promise<void> {
  await db.query('UPDATE conversations SET generating = false WHERE id = $1', [conversationId]);
}

// ---- answer messages ----

/** The text so far, only while still streaming: a stop or the end may already have written the final state. */
export async function checkpointAnswer(db: Queryable, messageId: string, contentEnc: string): Promise<void> {
  await db.query(`UPDATE messages SET content_enc = $2 WHERE id = $1 AND status = 'streaming'`, [messageId, contentEnc]);
}

/** The tool calls so far (encrypted JSON), only while still streaming (like checkpointAnswer). */
export async function checkpointToolCalls(db: Queryable, messageId: string, toolCallsEnc: string): Promise<void> {
  await db.query(`UPDATE messages SET tool_calls_enc = $2 WHERE id = $1 AND status = 'streaming'`, [messageId, toolCallsEnc]);
}

/**
 * The final state with the seq taken for it; undefined if the answer was no longer streaming.
 * `toolCallsEnc`: the final tool calls (null: none); undefined keeps the checkpointed ones.
 */
export async function setAnswerFinal(
  tx: Queryable,
  messageId: string,
  final: { contentEnc: string; status: Message['status']; reason: string | null; seq: number; searchTerms: string[]; toolCallsEnc?: string | null | undefined },
): Promise<MessageRow[]> {
  // The final text is indexed for search here, once (not while it streams).
  return tx.query<MessageRow>(
    `UPDATE messages AS m SET content_enc = $2, status = $3, status_reason = $4, updated_seq = $5, search_terms = $6::bigint[], search_version = 2,
                tool_calls_enc = CASE WHEN $7::boolean THEN $8 ELSE tool_calls_enc END
          WHERE id = $1 AND status = 'streaming' RETURNING ${MESSAGE_COLUMNS}`,
    [messageId, final.contentEnc, final.status, final.reason, final.seq, final.searchTerms, final.toolCallsEnc !== undefined, final.toolCallsEnc ?? null],
  );
}

/** The conversation's activity moves to now (a finished answer is news); its new value. */
export async function touchActivity(tx: Queryable, conversationId: string): Promise<Date | undefined> {
  const [row] = await tx.query<{ last_activity_at: Date }>('UPDATE conversations SET last_activity_at = now() WHERE id = $1 RETURNING last_activity_at', [conversationId]);
  return row?.last_activity_at;
}

/**
 * An answer written again: empty, `streaming`, with the model and the seq taken for it. The
 * previous version's tool calls and the images it generated go (the caller deletes their rows).
 */
export async function setAnswerRestarted(tx: Queryable, messageId: string, again: { contentEnc: string; model: string; seq: number }): Promise<MessageRow[]> {
  return tx.query<MessageRow>(
    `UPDATE messages AS m SET content_enc = $2, status = 'streaming', status_reason = NULL, model = $3, edited_at = now(), updated_seq = $4,
                search_terms = '{}', search_version = 2, tool_calls_enc = NULL, attachments = '[]'::jsonb
            WHERE id = $1 RETURNING ${MESSAGE_COLUMNS}`,
    [messageId, again.contentEnc, again.model, again.seq],
  );
}

/**
 * Whether a trigger that came while an answer streamed still asks for one: it came after the
 * assistant's last answer, is not deleted, and its author is still a member.
 */
export async function triggerStillUnanswered(db: Queryable, triggerId: string, conversationId: string, assistantId: string): Promise<boolean> {
  const [still] = await db.query(
    `SELECT 1 FROM messages t
         JOIN conversation_members cm ON cm.conversation_id = t.conversation_id AND cm.user_id = t.author_id
        WHERE t.id = $1 AND t.conversation_id = $2 AND t.deleted_at IS NULL
          AND t.seq > (SELECT COALESCE(max(seq), 0) FROM messages WHERE conversation_id = $2 AND author_id = $3)`,
    [triggerId, conversationId, assistantId],
  );
  return still !== undefined;
}

/** The first answer after `afterSeq` (the answer to a user message), if any. */
export async function findAnswerAfter(db: Queryable, conversationId: string, assistantId: string, afterSeq: number): Promise<MessageRow | undefined> {
  const [row] = await db.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE conversation_id = $1 AND author_id = $2 AND seq > $3 AND deleted_at IS NULL ORDER BY seq LIMIT 1`,
    [conversationId, assistantId, afterSeq],
  );
  return row;
}

/** A message the user can see (they are a member of its conversation), not deleted. */
export async function findVisibleMessage(db: Queryable, messageId: string, userId: string): Promise<MessageRow | undefined> {
  const [row] = await db.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m
         JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2
        WHERE m.id = $1 AND m.deleted_at IS NULL`,
    [messageId, userId],
  );
  return row;
}

/** Every answer still `streaming`, on any node (the orphan sweep tells live ones from dead ones). */
export async function findStreamingAnswers(db: Queryable): Promise<MessageRow[]> {
  return db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE status = 'streaming'`);
}

// ---- what the prompt reads ----

export async function findPromptConversation(db: Queryable, conversationId: string): Promise<{ type: string; system_prompt: string | null } | undefined> {
  const [conv] = await db.query<{ type: string; system_prompt: string | null }>('SELECT type, system_prompt FROM conversations WHERE id = $1', [conversationId]);
  return conv;
}

export async function findUserSettings(db: Queryable, userId: string): Promise<{ settings: { customInstructions?: unknown } } | undefined> {
  const [user] = await db.query<{ settings: { customInstructions?: unknown } }>('SELECT settings FROM users WHERE id = $1', [userId]);
  return user;
}

/** A message of the prompt's history. */
export interface PromptRow {
  id: string;
  author_id: string;
  content_enc: string;
  display_name: string;
  status: string;
}

/** The latest finished messages before `beforeSeq`, newest first, with their authors' names. */
export async function findPromptHistory(db: Queryable, conversationId: string, beforeSeq: number): Promise<PromptRow[]> {
  return db.query<PromptRow>(
    `SELECT m.id, m.author_id, m.content_enc, u.display_name, m.status FROM messages m JOIN users u ON u.id = m.author_id
      WHERE m.conversation_id = $1 AND m.seq < $2 AND m.deleted_at IS NULL AND m.kind <> 'system'
        AND m.status IN ('complete', 'stopped', 'error')
      ORDER BY m.seq DESC LIMIT 400`,
    [conversationId, beforeSeq],
  );
}

/** An attachment as the prompt needs it: what it is, and where its bytes and text are. */
export interface PromptAttachmentRow {
  id: string;
  conversation_id: string;
  message_id: string;
  name: string;
  type: string;
  size: string | number;
  has_preview: boolean;
}

/**
 * The complete attachments of `messageIds`, each resolved through its own message (never through
 * ids a message names): only rows whose `message_id` is one of them and that belong to this
 * conversation. With the download rule of GET /api/attachments/:id (`findDownloadable` in
 * attachments.ts): `userId`, who asked for the answer, must be a member of the conversation.
 * Metadata only; the text and the bytes are read for the ones that fit the prompt.
 */
export async function findPromptAttachments(db: Queryable, conversationId: string, messageIds: string[], userId: string): Promise<PromptAttachmentRow[]> {
  if (messageIds.length === 0) return [];
  return db.query<PromptAttachmentRow>(
    `SELECT a.id, a.conversation_id, a.message_id, a.name, a.type, a.size, a.has_preview FROM attachments a
       JOIN conversation_members cm ON cm.conversation_id = a.conversation_id AND cm.user_id = $3
      WHERE a.conversation_id = $1 AND a.message_id = ANY($2::text[]) AND a.status = 'complete' AND a.type IS NOT NULL
      ORDER BY a.created_at, a.id`,
    [conversationId, messageIds, userId],
  );
}

// ---- what the title reads and writes ----

export async function findTitleState(db: Queryable, conversationId: string): Promise<{ type: string; title: string | null } | undefined> {
  const [conv] = await db.query<{ type: string; title: string | null }>('SELECT type, title FROM conversations WHERE id = $1', [conversationId]);
  return conv;
}

/** The first message someone other than the assistant wrote in the conversation. */
export async function findFirstQuestion(db: Queryable, conversationId: string, assistantId: string): Promise<{ content_enc: string } | undefined> {
  const [first] = await db.query<{ content_enc: string }>(
    `SELECT content_enc FROM messages WHERE conversation_id = $1 AND author_id <> $2 AND kind <> 'system' AND deleted_at IS NULL ORDER BY seq LIMIT 1`,
    [conversationId, assistantId],
  );
  return first;
}

/** Sets the title unless one was set meanwhile; whether it was set. */
export async function setTitleIfUntitled(db: Queryable, conversationId: string, title: string): Promise<boolean> {
  const updated = await db.query('UPDATE conversations SET title = $2 WHERE id = $1 AND title IS NULL RETURNING 1', [conversationId, title]);
  return updated.length > 0;
}
