// Queries for a user's own account (API.md, "Accounts"): signed-in sessions, password changes and
// reset links, deleting an account, and reading everything back for an export. The rules live in
// operations/accounts.ts and operations/exportData.ts.
import type { Queryable } from './db.ts';
import type { ConversationRow, MessageRow } from './rows.ts';
import { MESSAGE_COLUMNS } from './messages.ts';
import { sessionIsLive } from './sessions.ts';

// ---- sessions ----

export interface SessionRow {
  id: string;
  created_at: Date;
  last_used_at: Date;
  user_agent: string | null;
  ip: string | null;
}

/** The user's live sessions, most recently used first. */
export function listLiveSessions(db: Queryable, userId: string): Promise<SessionRow[]> {
  return db.query<SessionRow>(
    `SELECT s.id, s.created_at, s.last_used_at, s.user_agent, s.ip FROM sessions s
      WHERE s.user_id = $1 AND ${sessionIsLive('s')}
      ORDER BY s.last_used_at DESC, s.id`,
    [userId],
  );
}

/** A refresh used the session: what "signed-in devices" shows as last used. */
export async function touchSession(db: Queryable, sessionId: string): Promise<void> {
  await db.query('UPDATE sessions SET last_used_at = now() WHERE id = $1', [sessionId]);
}

// ---- passwords ----

export async function setPasswordHash(db: Queryable, userId: string, hash: string): Promise<void> {
  await db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [userId, hash]);
}

export async function insertPasswordReset(db: Queryable, r: { tokenHash: string; userId: string; createdBy: string | null; expiresAt: Date }): Promise<void> {
  await db.query('INSERT INTO password_resets (token_hash, user_id, created_by, expires_at) VALUES ($1, $2, $3, $4)', [r.tokenHash, r.userId, r.createdBy, r.expiresAt]);
}

/**
 * Spends a reset link once, atomically (UPDATE ... WHERE used_at IS NULL: two uses racing cannot
 * both win), if it has not expired and its account is a person's that is not deleted. Returns whose it was.
 */
export async function spendPasswordReset(db: Queryable, tokenHash: string): Promise<{ user_id: string } | undefined> {
  const [row] = await db.query<{ user_id: string }>(
    `UPDATE password_resets r SET used_at = now()
       FROM users u
      WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now()
        AND u.id = r.user_id AND u.status <> 'deleted' AND NOT u.is_bot
      RETURNING r.user_id`,
    [tokenHash],
  );
  return row;
}

/** A new password makes the links made for the old one worthless. */
export async function dropPasswordResets(db: Queryable, userId: string): Promise<void> {
  await db.query('DELETE FROM password_resets WHERE user_id = $1 AND used_at IS NULL', [userId]);
}

// ---- deleting an account ----

/** Locks the user's row for the deletion; undefined if there is no such user. */
export async function lockUser(db: Queryable, userId: string): Promise<{ id: string; role: string; status: string; is_bot: boolean } | undefined> {
  const [row] = await db.query<{ id: string; role: string; status: string; is_bot: boolean }>('SELECT id, role, status, is_bot FROM users WHERE id = $1 FOR UPDATE', [userId]);
  return row;
}

/** Active owners other than `userId` (the "last owner" rule; call under lockInstance). */
export async function countOtherActiveOwners(db: Queryable, userId: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE role = 'owner' AND status = 'active' AND id <> $1`, [userId]);
  return row?.n ?? 0;
}

/**
 * The profile becomes "Deleted user": no e-mail, password, second factor, avatar or key, a handle
 * nobody chose (`handle`), privacy and settings back to their defaults. The row stays, so the
 * conversations the user was in stay whole for the others.
 */
export async function anonymizeUser(db: Queryable, userId: string, handle: string): Promise<void> {
  await db.query(
    `UPDATE users SET status = 'deleted', deleted_at = now(), display_name = 'Deleted user', email = NULL, handle = $2,
            password_hash = NULL, totp_secret_enc = NULL, totp_enabled_at = NULL, totp_last_step = NULL,
            avatar_url = NULL, public_key = NULL, settings = '{}'::jsonb, role = 'user',
            discoverable = true, show_last_seen = true, direct_messages_from = 'everyone'
      WHERE id = $1`,
    [userId, handle],
  );
}

export async function isHandleTaken(db: Queryable, handle: string): Promise<boolean> {
  const rows = await db.query('SELECT 1 FROM users WHERE lower(handle) = lower($1)', [handle]);
  return rows.length > 0;
}

/** What belongs to the person alone and goes with the account: provider keys, push subscriptions, recovery codes, reset links. */
export async function deletePersonalData(db: Queryable, userId: string): Promise<void> {
  await db.query('DELETE FROM user_api_keys WHERE user_id = $1', [userId]);
  await db.query('DELETE FROM push_subscriptions WHERE user_id = $1', [userId]);
  await db.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
  await db.query('DELETE FROM password_resets WHERE user_id = $1', [userId]);
}

/** The conversations in which the user wrote messages that are not erased yet. */
export async function conversationsWithMessagesBy(db: Queryable, userId: string): Promise<string[]> {
  const rows = await db.query<{ conversation_id: string }>(
    `SELECT DISTINCT conversation_id FROM messages WHERE author_id = $1 AND deleted_at IS NULL AND kind <> 'system'`,
    [userId],
  );
  return rows.map((r) => r.conversation_id);
}

/**
 * Erases every message the user wrote in one conversation as deleteMessage does one
 * (storage/messages.ts eraseMessage): content, edit history, reactions, search terms, mentions,
 * pins and link previews go; the tombstone keeps its seq and takes a new updated_seq, the
 * conversation's next ones in seq order, so `sync` hands it to every member. Returns the erased
 * messages with the thread root of those that were replies.
 */
export async function eraseMessagesBy(tx: Queryable, conversationId: string, userId: string): Promise<Array<{ id: string; thread_root_id: string | null }>> {
  const targets = `SELECT id FROM messages WHERE conversation_id = $1 AND author_id = $2 AND deleted_at IS NULL AND kind <> 'system'`;
  await tx.query(`DELETE FROM message_versions WHERE message_id IN (${targets})`, [conversationId, userId]);
  await tx.query(`DELETE FROM message_reactions WHERE message_id IN (${targets})`, [conversationId, userId]);
  await tx.query(`DELETE FROM link_preview_images WHERE message_id IN (${targets})`, [conversationId, userId]);
  return tx.query<{ id: string; thread_root_id: string | null }>(
    `WITH t AS (
       SELECT id, row_number() OVER (ORDER BY seq)::int AS n FROM messages
        WHERE conversation_id = $1 AND author_id = $2 AND deleted_at IS NULL AND kind <> 'system'
     ), bumped AS (
       UPDATE conversations SET last_seq = last_seq + (SELECT count(*) FROM t)::int WHERE id = $1
       RETURNING last_seq - (SELECT count(*) FROM t)::int AS base
     )
     UPDATE messages m SET content_enc = '', search_terms = '{}', attachments = '[]'::jsonb, deleted_at = now(),
            updated_seq = bumped.base + t.n, pinned_at = NULL, pinned_by = NULL, mentions = '{}', mentions_here = false,
            mentions_channel = false, here_user_ids = '{}', link_preview_enc = NULL
       FROM t, bumped
      WHERE m.id = t.id
      RETURNING m.id, m.thread_root_id`,
    [conversationId, userId],
  );
}

/** A thread root lost `count` replies: one change of the root, with the seq it took (threads.ts threadReplyRemoved, for many). */
export async function threadRepliesRemoved(tx: Queryable, rootId: string, count: number, seq: number): Promise<void> {
  await tx.query('UPDATE messages SET thread_reply_count = GREATEST(thread_reply_count - $3, 0), updated_seq = $2 WHERE id = $1', [rootId, seq, count]);
}

/** Every file the user uploaded; the trigger on attachments queues the files' deletion in this transaction. */
export async function deleteAttachmentsBy(tx: Queryable, userId: string): Promise<number> {
  const rows = await tx.query('DELETE FROM attachments WHERE uploader_id = $1 RETURNING id', [userId]);
  return rows.length;
}

export function findMessagesById(db: Queryable, ids: string[]): Promise<MessageRow[]> {
  return db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.id = ANY($1::text[]) ORDER BY m.conversation_id, m.seq`, [ids]);
}

// ---- export ----

export interface ExportConversationRow extends Pick<ConversationRow, 'id' | 'type' | 'title' | 'created_at'> {
  role: string;
  joined_at: Date;
  members: Array<{ id: string; handle: string; display_name: string; role: string }>;
}

/** Every conversation the user is in, with its members, oldest first. */
export function exportConversations(db: Queryable, userId: string): Promise<ExportConversationRow[]> {
  return db.query<ExportConversationRow>(
    `SELECT c.id, c.type, c.title, c.created_at, me.role, me.joined_at,
            COALESCE((SELECT json_agg(json_build_object('id', u.id, 'handle', u.handle, 'display_name', u.display_name, 'role', cm.role) ORDER BY cm.joined_at, u.id)
                        FROM conversation_members cm JOIN users u ON u.id = cm.user_id
                       WHERE cm.conversation_id = c.id), '[]'::json) AS members
       FROM conversation_members me JOIN conversations c ON c.id = me.conversation_id
      WHERE me.user_id = $1
      ORDER BY c.created_at, c.id`,
    [userId],
  );
}

export interface ExportMessageRow {
  id: string;
  seq: number;
  author_id: string;
  kind: string;
  content_enc: string;
  reply_to_id: string | null;
  thread_root_id: string | null;
  attachments: Array<{ id: string; name: string; type?: string; size?: number }>;
  created_at: Date;
  edited_at: Date | null;
  deleted_at: Date | null;
}

/** One page of a conversation's messages after `afterSeq`, in seq order (keyset on (conversation_id, seq)). */
export function exportMessagePage(db: Queryable, conversationId: string, afterSeq: number, limit: number): Promise<ExportMessageRow[]> {
  return db.query<ExportMessageRow>(
    `SELECT id, seq, author_id, kind, content_enc, reply_to_id, thread_root_id, attachments, created_at, edited_at, deleted_at
       FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [conversationId, afterSeq, limit],
  );
}

/**
 * The handle a deleted account (or bot) takes, freeing its own for someone else:
 * `deleted-<id prefix>`, longer if that is taken.
 */
export async function deletedHandle(db: Queryable, userId: string): Promise<string> {
  const id = userId.toLowerCase().replace(/[^a-z0-9]/g, '');
  for (const length of [8, 12, 16, id.length]) {
    const handle = `deleted-${id.slice(0, length)}`;
    if (!(await isHandleTaken(db, handle))) return handle;
  }
  return `deleted-${userId}`;
}
