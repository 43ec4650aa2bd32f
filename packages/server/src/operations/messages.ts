import { ConfabError, LIMITS, type Attachment, type Message, type MessageList, type SendMessageBody } from '@confab/protocol';
import { withLiveText } from '../ai/streams.ts';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import { searchTerms } from '../search/terms.ts';
import { getOrCreate } from '../storage/batcher.ts';
import type { Database, Queryable } from '../storage/db.ts';
import { takeNextSeq } from '../storage/messages.ts';
import type { MessageRow } from '../storage/rows.ts';
import { isModerator, requireMember } from './access.ts';
import { deleteMessageAttachments, resolveMessageAttachments } from './attachments.ts';
import { SendBatcher, type PlainSend } from './sendBatch.ts';
import { iso } from './users.ts';

/** Every column but the search index, qualified with the `m` alias. */
export const MESSAGE_COLUMNS = [
  'id', 'conversation_id', 'seq', 'updated_seq', 'author_id', 'client_id', 'kind', 'content_enc',
  'reply_to_id', 'attachments', 'status', 'model', 'created_at', 'edited_at', 'deleted_at', 'status_reason',
].map((c) => `m.${c}`).join(', ');

/** Turns stored rows into protocol messages: decrypts content and gathers reactions in one query. */
export async function hydrateMessages(ctx: Context, db: Queryable, rows: MessageRow[]): Promise<Message[]> {
  if (rows.length === 0) return [];
  const reactions = await db.query<{ message_id: string; emoji: string; user_ids: string[] }>(
    `SELECT message_id, emoji, array_agg(user_id ORDER BY created_at) AS user_ids
       FROM message_reactions WHERE message_id = ANY($1::text[])
      GROUP BY message_id, emoji ORDER BY min(created_at)`,
    [rows.map((r) => r.id)],
  );
  const byMessage = new Map<string, Message['reactions']>();
  for (const r of reactions) {
    const list = byMessage.get(r.message_id) ?? [];
    list.push({ emoji: r.emoji, count: r.user_ids.length, userIds: r.user_ids });
    byMessage.set(r.message_id, list);
  }
  return rows.map((r) => toMessage(ctx, r, byMessage.get(r.id) ?? []));
}

/** `plaintext`: the content when the caller has it already (saves decrypting it). */
export function toMessage(ctx: Context, r: MessageRow, reactions: Message['reactions'], plaintext?: string): Message {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    seq: r.seq,
    authorId: r.author_id,
    clientId: r.client_id,
    kind: r.kind,
    content: r.deleted_at ? '' : (plaintext ?? ctx.keys.decrypt(r.content_enc)),
    replyToId: r.reply_to_id,
    attachments: r.deleted_at ? [] : r.attachments,
    reactions,
    createdAt: iso(r.created_at)!,
    editedAt: iso(r.edited_at),
    deletedAt: iso(r.deleted_at),
    status: r.status,
    model: r.model,
    updatedSeq: r.updated_seq,
    ...(r.status_reason ? { statusReason: r.status_reason } : {}),
  };
}

/** The conversation's next sequence number (storage/messages.ts), or NOT_FOUND. */
export async function nextSeq(tx: Queryable, conversationId: string, activity: boolean): Promise<number> {
  const seq = await takeNextSeq(tx, conversationId, activity);
  if (seq === undefined) throw new ConfabError('NOT_FOUND', 'no such conversation');
  return seq;
}

function checkContent(content: string, allowEmpty: boolean): void {
  if (Buffer.byteLength(content, 'utf8') > LIMITS.messageContentBytes) {
    throw new ConfabError('PAYLOAD_TOO_LARGE', `message content must be at most ${LIMITS.messageContentBytes / 1024} KB`);
  }
  if (!allowEmpty && content.trim() === '') throw new ConfabError('VALIDATION_ERROR', 'content must not be empty');
}

/**
 * Appends a system message (member added, renamed, …) inside the caller's transaction. Membership
 * changes take a `seq` like every other change, so `sync` replays them in order.
 * Returns the stored message; publish it after the transaction commits.
 */
export async function appendSystemMessage(ctx: Context, tx: Queryable, conversationId: string, actorId: string, text: string): Promise<Message> {
  const seq = await nextSeq(tx, conversationId, false);
  const [row] = await tx.query<MessageRow>(
    `INSERT INTO messages AS m (id, conversation_id, seq, updated_seq, author_id, kind, content_enc)
     VALUES ($1, $2, $3, $3, $4, 'system', $5) RETURNING ${MESSAGE_COLUMNS}`,
    [newId(), conversationId, seq, actorId, ctx.keys.encrypt(text)],
  );
  return (await hydrateMessages(ctx, tx, [row!]))[0]!;
}

export interface SendResult {
  message: Message;
  /** False when the clientId had been sent before and the first message is returned. */
  created: boolean;
}

/**
 * Stores one message in one statement: lock the conversation row (membership is part of the join),
 * insert with the next seq, advance last_seq and the author's own watermarks. The row lock is held
 * for a single statement instead of a round-trip-long transaction, which is what bounds sends per
 * conversation. Under READ COMMITTED a concurrent sender waits at FOR UPDATE and then re-reads the
 * row, so it sees the seq this one took. A repeated clientId hits the unique constraint and
 * inserts nothing. Attachments ride in the same statement: `claim` locks them (after the
 * conversation row, as conv is read first; deletes take the same order) and re-checks that each is
 * still free, and the insert happens only if every one was claimed. A concurrent send that took
 * one first makes this insert nothing, so a failed send attaches nothing and a message never
 * shares a file. Returns undefined when nothing was inserted.
 */
async function insertOne(ctx: Context, send: PlainSend, replyToId: string | null, attachments: Attachment[]): Promise<MessageRow | undefined> {
  const attachmentIds = attachments.map((a) => a.id);
  const [inserted] = await ctx.db.query<MessageRow>(
    `WITH conv AS (
       SELECT c.id, c.last_seq FROM conversations c
         JOIN conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $3
        WHERE c.id = $2 FOR UPDATE OF c
     ), claim AS (
       SELECT a.id FROM attachments a JOIN conv ON a.conversation_id = conv.id
        WHERE a.id = ANY($10::text[]) AND a.uploader_id = $3 AND a.status = 'complete' AND a.message_id IS NULL
        FOR UPDATE OF a
     ), ins AS (
       INSERT INTO messages AS m (id, conversation_id, seq, updated_seq, author_id, client_id, kind, content_enc, reply_to_id, search_terms, attachments)
       SELECT $1, conv.id, conv.last_seq + 1, conv.last_seq + 1, $3, $4, $5, $6, $7, $8::bigint[], $9::jsonb FROM conv
        WHERE (SELECT count(*) FROM claim) = cardinality($10::text[])
       ON CONFLICT (conversation_id, author_id, client_id) DO NOTHING
       RETURNING ${MESSAGE_COLUMNS}
     ), attach AS (
       UPDATE attachments a SET message_id = ins.id, updated_at = now() FROM ins WHERE a.id = ANY($10::text[])
     ), bump AS (
       UPDATE conversations c SET last_seq = ins.seq, last_activity_at = now() FROM ins WHERE c.id = ins.conversation_id
     ), own_watermarks AS (
       UPDATE conversation_members cm SET last_read_seq = ins.seq, last_delivered_seq = ins.seq
         FROM ins WHERE cm.conversation_id = ins.conversation_id AND cm.user_id = ins.author_id
     )
     SELECT * FROM ins`,
    [send.id, send.conversationId, send.authorId, send.clientId, send.kind, send.contentEnc, replyToId, send.terms, JSON.stringify(attachments), attachmentIds],
    { prepare: true },
  );
  return inserted;
}

/** One batcher per database: sends to the same database share its batches. */
const batchers = new WeakMap<Database, SendBatcher>();
export function batcherFor(ctx: Context): SendBatcher {
  return getOrCreate(batchers, ctx.db, () => new SendBatcher(ctx.db, (send) => insertOne(ctx, send, null, []), MESSAGE_COLUMNS));
}

/**
 * Stores a message exactly once per (conversation, author, clientId).
 * The conversation row is locked first, which serializes sends per conversation; the insert then
 * relies on the unique constraint (ON CONFLICT DO NOTHING) for idempotency, and the sequence only
 * advances when a row was actually inserted, so `seq` has no gaps.
 */
export async function sendMessage(ctx: Context, userId: string, body: SendMessageBody): Promise<SendResult> {
  checkContent(body.content, (body.attachmentIds?.length ?? 0) > 0);
  await ctx.limits.consume('sendPerUser', userId);
  // Checked before the statement; the statement then claims them (see insertOne).
  const attachments = await resolveMessageAttachments(ctx, userId, body);
  const attachmentIds = attachments.map((a) => a.id);
  if (body.replyToId) {
    // Messages never move between conversations (deletes leave tombstones), so this needs no lock.
    const [target] = await ctx.db.query('SELECT 1 FROM messages WHERE id = $1 AND conversation_id = $2', [body.replyToId, body.conversationId]);
    if (!target) {
      // A non-member gets the answer of any send to a conversation they are not in, whether or not
      // the message is there: otherwise the two answers would tell them which ids live where.
      await requireMember(ctx.db, body.conversationId, userId);
      throw new ConfabError('NOT_FOUND', 'the message replied to is not in this conversation');
    }
  }
  const send: PlainSend = {
    id: newId(),
    conversationId: body.conversationId,
    authorId: userId,
    clientId: body.clientId,
    kind: body.kind ?? 'text',
    contentEnc: ctx.keys.encrypt(body.content),
    terms: `{${searchTerms(ctx.keys.searchKey, body.conversationId, body.content).join(',')}}`,
  };
  // Plain sends are group-committed with the sends that arrive alongside them (sendBatch.ts).
  const inserted =
    attachments.length === 0 && !body.replyToId ? await batcherFor(ctx).store(send) : await insertOne(ctx, send, body.replyToId ?? null, attachments);
  if (inserted) {
    // The plaintext is at hand: no need to decrypt what was just encrypted.
    const message = toMessage(ctx, inserted, [], body.content);
    ctx.bus.publish({ type: 'message_stored', message });
    return { message, created: true };
  }
  // Nothing inserted: either this clientId was sent before, or the caller is not a member.
  const [existing] = await ctx.db.query<MessageRow>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m
       JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = m.author_id
      WHERE m.conversation_id = $1 AND m.author_id = $2 AND m.client_id = $3`,
    [body.conversationId, userId, body.clientId],
  );
  if (!existing) {
    // Or an attachment was taken by a concurrent send: checking again says which (and why).
    if (attachmentIds.length > 0) {
      await requireMember(ctx.db, body.conversationId, userId);
      await resolveMessageAttachments(ctx, userId, body);
      throw new ConfabError('CONFLICT', 'the attachments changed while sending; send again');
    }
    throw new ConfabError('NOT_FOUND', 'no such conversation');
  }
  const message = (await hydrateMessages(ctx, ctx.db, [existing]))[0]!;
  // Announced again: a client retries when it got no answer, e.g. because the node that stored the
  // message died between commit and publish; without this the others would see it only at their
  // next sync. Clients de-duplicate by id; `repeat` keeps the AI and notifications from reacting twice.
  ctx.bus.publish({ type: 'message_stored', message, repeat: true });
  return { message, created: false };
}

export async function listMessages(
  ctx: Context,
  userId: string,
  conversationId: string,
  query: { limit: number; before?: number | undefined; after?: number | undefined },
): Promise<MessageList> {
  await requireMember(ctx.db, conversationId, userId);
  const forward = query.after !== undefined;
  const rows = await ctx.db.query<MessageRow>(
    forward
      ? `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE conversation_id = $1 AND seq > $2 ORDER BY seq ASC LIMIT $3`
      : `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
    [conversationId, forward ? query.after : (query.before ?? 2 ** 31 - 1), query.limit + 1],
  );
  const hasMore = rows.length > query.limit;
  const page = rows.slice(0, query.limit);
  if (!forward) page.reverse();
  return { messages: await withLiveText(ctx.streams, await hydrateMessages(ctx, ctx.db, page)), hasMore };
}

/** Loads a message and the caller's membership of its conversation, locking the conversation. */
async function loadForChange(tx: Queryable, messageId: string, userId: string) {
  const [row] = await tx.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE id = $1`, [messageId]);
  if (!row) throw new ConfabError('NOT_FOUND', 'no such message');
  try {
    const member = await requireMember(tx, row.conversation_id, userId, { lock: true });
    return { row, member };
  } catch {
    throw new ConfabError('NOT_FOUND', 'no such message');
  }
}

async function reload(ctx: Context, tx: Queryable, messageId: string): Promise<Message> {
  const rows = await tx.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE id = $1`, [messageId]);
  return (await hydrateMessages(ctx, tx, rows))[0]!;
}

/**
 * Keeps a message's previous content (encrypted) in message_versions, and only the last
 * LIMITS.messageVersionsKept of them: every edit may carry 64 KB, and a history without a cap is
 * storage anyone can fill by editing one message over and over.
 */
export async function keepPreviousVersion(tx: Queryable, messageId: string, contentEnc: string, createdAt: Date): Promise<void> {
  const [kept] = await tx.query<{ version: number }>(
    `INSERT INTO message_versions (message_id, version, content_enc, created_at)
     SELECT $1, COALESCE(max(version), 0) + 1, $2, $3 FROM message_versions WHERE message_id = $1
     RETURNING version`,
    [messageId, contentEnc, createdAt],
  );
  await tx.query('DELETE FROM message_versions WHERE message_id = $1 AND version <= $2', [messageId, kept!.version - LIMITS.messageVersionsKept]);
}

/** The author edits; the previous content is kept (encrypted) in message_versions. Edits count as sends. */
export async function editMessage(ctx: Context, userId: string, messageId: string, content: string): Promise<Message> {
  checkContent(content, false);
  await ctx.limits.consume('sendPerUser', userId);
  const message = await ctx.db.transaction(async (tx) => {
    const { row } = await loadForChange(tx, messageId, userId);
    if (row.author_id !== userId || row.kind === 'system') throw new ConfabError('FORBIDDEN', 'only the author can edit a message');
    if (row.deleted_at) throw new ConfabError('NOT_FOUND', 'this message was deleted');
    await keepPreviousVersion(tx, messageId, row.content_enc, row.edited_at ?? row.created_at);
    const seq = await nextSeq(tx, row.conversation_id, false);
    await tx.query(
      `UPDATE messages SET content_enc = $2, search_terms = $3::bigint[], search_version = 2, edited_at = now(), updated_seq = $4 WHERE id = $1`,
      [messageId, ctx.keys.encrypt(content), searchTerms(ctx.keys.searchKey, row.conversation_id, content), seq],
    );
    return reload(ctx, tx, messageId);
  });
  ctx.bus.publish({ type: 'message_changed', message });
  return message;
}

/**
 * Deletes for everyone, leaving a tombstone (id, seq, author, times) so every client removes it.
 * Content, edit history, reactions and search terms are erased, not hidden.
 */
export async function deleteMessage(ctx: Context, userId: string, messageId: string): Promise<Message> {
  const { message, changed } = await ctx.db.transaction(async (tx) => {
    const { row, member } = await loadForChange(tx, messageId, userId);
    const mayModerate = member.type === 'group' && isModerator(member.role);
    if (row.author_id !== userId && !mayModerate) throw new ConfabError('FORBIDDEN', 'only the author or a moderator can delete this message');
    if (row.deleted_at) return { message: await reload(ctx, tx, messageId), changed: false };
    const seq = await nextSeq(tx, row.conversation_id, false);
    await tx.query('DELETE FROM message_versions WHERE message_id = $1', [messageId]);
    await tx.query('DELETE FROM message_reactions WHERE message_id = $1', [messageId]);
    await tx.query(
      `UPDATE messages SET content_enc = '', search_terms = '{}', attachments = '[]'::jsonb, deleted_at = now(), updated_seq = $2 WHERE id = $1`,
      [messageId, seq],
    );
    // Its files go after commit: the trigger on attachments queues their deletion in this transaction.
    await deleteMessageAttachments(tx, messageId);
    return { message: await reload(ctx, tx, messageId), changed: true };
  });
  if (changed) {
    ctx.jobs.kick();
    ctx.bus.publish({ type: 'message_changed', message });
  }
  return message;
}

/**
 * Moves the caller's delivered (or read, which implies delivered) watermark up to this message.
 * Watermarks only move forward; a receipt for an older message changes nothing and emits nothing.
 * Receipts do not take a `seq`: they are frequent, and the member list in a synced conversation carries them.
 */
export async function markStatus(ctx: Context, userId: string, messageId: string, status: 'delivered' | 'read'): Promise<{ seq: number }> {
  const [row] = await ctx.db.query<{ conversation_id: string; seq: number }>(
    `SELECT m.conversation_id, m.seq FROM messages m
       JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2
      WHERE m.id = $1`,
    [messageId, userId],
    { prepare: true },
  );
  if (!row) throw new ConfabError('NOT_FOUND', 'no such message');
  const moved = await ctx.db.query<{ last_read_seq: number; last_delivered_seq: number }>(
    status === 'read'
      ? `UPDATE conversation_members SET last_read_seq = $3, last_delivered_seq = GREATEST(last_delivered_seq, $3)
          WHERE conversation_id = $1 AND user_id = $2 AND last_read_seq < $3 RETURNING last_read_seq, last_delivered_seq`
      : `UPDATE conversation_members SET last_delivered_seq = $3
          WHERE conversation_id = $1 AND user_id = $2 AND last_delivered_seq < $3 RETURNING last_read_seq, last_delivered_seq`,
    [row.conversation_id, userId, row.seq],
    { prepare: true },
  );
  if (moved.length > 0) {
    ctx.bus.publish({ type: 'receipt_moved', receipt: { conversationId: row.conversation_id, userId, status, seq: row.seq } });
  }
  return { seq: row.seq };
}

const MAX_REACTIONS_PER_USER = 20;

/** Toggles the caller's reaction; a change takes a `seq` and is broadcast, a no-op is not. */
export async function setReaction(ctx: Context, userId: string, messageId: string, emoji: string, on: boolean): Promise<Message> {
  if (emoji.trim() === '' || /\s/.test(emoji)) throw new ConfabError('VALIDATION_ERROR', 'emoji must be a single emoji or short code');
  const { message, changed } = await ctx.db.transaction(async (tx) => {
    const { row } = await loadForChange(tx, messageId, userId);
    if (row.deleted_at) throw new ConfabError('NOT_FOUND', 'this message was deleted');
    let changedRows: unknown[];
    if (on) {
      const [count] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM message_reactions WHERE message_id = $1 AND user_id = $2', [messageId, userId]);
      if ((count?.n ?? 0) >= MAX_REACTIONS_PER_USER) throw new ConfabError('VALIDATION_ERROR', `at most ${MAX_REACTIONS_PER_USER} reactions per message`);
      changedRows = await tx.query('INSERT INTO message_reactions (message_id, user_id, emoji) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1', [messageId, userId, emoji]);
    } else {
      changedRows = await tx.query('DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3 RETURNING 1', [messageId, userId, emoji]);
    }
    if (changedRows.length === 0) return { message: await reload(ctx, tx, messageId), changed: false };
    const seq = await nextSeq(tx, row.conversation_id, false);
    await tx.query('UPDATE messages SET updated_seq = $2 WHERE id = $1', [messageId, seq]);
    return { message: await reload(ctx, tx, messageId), changed: true };
  });
  if (changed) ctx.bus.publish({ type: 'message_changed', message });
  return message;
}
