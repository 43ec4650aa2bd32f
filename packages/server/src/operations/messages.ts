import { ConfabError, LIMITS, type Attachment, type Message, type MessageList, type SendMessageBody, type ToolCall } from '@confab/protocol';
import { withLiveText } from '../ai/streams.ts';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import { searchTerms } from '../search/terms.ts';
import { getOrCreate } from '../storage/batcher.ts';
import type { Database, Queryable } from '../storage/db.ts';
import {
  addReaction,
  countReactionsBy,
  eraseMessage,
  findMessage,
  findMessageAuthor,
  findReactions,
  findSentByClientId,
  insertMessage,
  insertPlainSend,
  insertSend,
  keepPreviousVersion as storeVersion,
  listMessagePage,
  removeReaction,
  setUpdatedSeq,
  takeNextSeq,
  updateMessageContent,
  type PlainSend,
} from '../storage/messages.ts';
import { findMessageSeqForMember, moveWatermark } from '../storage/receipts.ts';
import { findThreadRoot, listThreadPage, moveThreadWatermark, threadReplyRemoved } from '../storage/threads.ts';
import type { MessageRow } from '../storage/rows.ts';
import { isModerator, requireMember } from './access.ts';
import { checkSend } from './consent.ts';
import { recordAudit } from './instance.ts';
import { mentionInput, parseMentions, type MentionInput } from './mentions.ts';
import { beforeSend } from './beforeSend.ts';
import { linkPreviewField, previewAfterDelete, previewAfterEdit } from './previews.ts';
import { deleteMessageAttachments, resolveMessageAttachments } from './attachments.ts';
import { mayDeleteAsAdmin } from './reports.ts';
import { SendBatcher } from './sendBatch.ts';
import { iso } from './users.ts';

/** Turns stored rows into protocol messages: decrypts content and gathers reactions in one query. */
export async function hydrateMessages(ctx: Context, db: Queryable, rows: MessageRow[]): Promise<Message[]> {
  if (rows.length === 0) return [];
  const reactions = await findReactions(db, rows.map((r) => r.id));
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
    pinnedAt: iso(r.pinned_at ?? null),
    pinnedBy: r.pinned_by ?? null,
    ...threadFields(r),
    mentions: r.mentions ?? [],
    mentionsHere: r.mentions_here ?? false,
    mentionsChannel: r.mentions_channel ?? false,
    ...linkPreviewField(ctx, r),
    ...toolCallsField(ctx, r),
  };
}

/** An AI answer's tool calls (assistant/tools/), stored encrypted; absent when there are none. */
function toolCallsField(ctx: Context, r: MessageRow): Pick<Message, 'toolCalls'> {
  if (!r.tool_calls_enc || r.deleted_at) return {};
  try {
    return { toolCalls: JSON.parse(ctx.keys.decrypt(r.tool_calls_enc)) as ToolCall[] };
  } catch {
    return {};
  }
}

/** Threads: a reply names its root; a root that has had a reply carries its summary. */
function threadFields(r: MessageRow): Pick<Message, 'threadRootId' | 'alsoToChannel' | 'thread'> {
  const fields: Pick<Message, 'threadRootId' | 'alsoToChannel' | 'thread'> = { threadRootId: r.thread_root_id };
  if (r.thread_root_id !== null) fields.alsoToChannel = r.also_to_channel;
  if (r.thread_last_reply_at !== null) {
    fields.thread = { replyCount: r.thread_reply_count, lastReplyAt: iso(r.thread_last_reply_at), participantIds: r.thread_participant_ids };
  }
  return fields;
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
  const row = await insertMessage(tx, { id: newId(), conversationId, authorId: actorId, kind: 'system', contentEnc: ctx.keys.encrypt(text) }, { activity: false });
  if (!row) throw new ConfabError('NOT_FOUND', 'no such conversation');
  return (await hydrateMessages(ctx, tx, [row]))[0]!;
}

export interface SendResult {
  message: Message;
  /** False when the clientId had been sent before and the first message is returned. */
  created: boolean;
}

/** Stores one send in one statement (storage/messages.ts, insertSend); undefined when nothing was inserted. */
function insertOne(ctx: Context, send: PlainSend, replyToId: string | null, attachments: Attachment[], mentions?: MentionInput): Promise<MessageRow | undefined> {
  return insertSend(ctx.db, send, replyToId, JSON.stringify(attachments), attachments.map((a) => a.id), mentions);
}

/** One batcher per database: sends to the same database share its batches. */
const batchers = new WeakMap<Database, SendBatcher>();
export function batcherFor(ctx: Context): SendBatcher {
  // A send alone in its batch: a thread reply needs insertSend's thread parts; any other goes by the leaner statement.
  const single = (send: PlainSend) => (send.threadRootId === null ? insertPlainSend(ctx.db, send) : insertOne(ctx, send, null, []));
  return getOrCreate(batchers, ctx.db, () => {
    const batcher = new SendBatcher(ctx.db, single);
    batcher.observe = (size) => ctx.metrics?.sendBatchSize.observe(size);
    return batcher;
  });
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
  // Blocks (operations/consent.ts): only direct conversations are checked; a group send reads
  // nothing (and awaits nothing) once this process knows the conversation's kind.
  const blockCheck = checkSend(ctx, userId, body.conversationId);
  if (blockCheck) await blockCheck;
  // Checked before the statement; the statement then claims them (see insertSend in storage/messages.ts).
  const attachments = await resolveMessageAttachments(ctx, userId, body);
  const attachmentIds = attachments.map((a) => a.id);
  if (body.threadRootId) await checkThreadRoot(ctx, userId, body.conversationId, body.threadRootId);
  else if (body.alsoToChannel) throw new ConfabError('VALIDATION_ERROR', 'alsoToChannel is for replies in a thread (threadRootId)');
  if (body.replyToId) {
    // Messages never move between conversations (deletes leave tombstones), so this needs no lock.
    if ((await findMessageAuthor(ctx.db, body.replyToId, body.conversationId)) === undefined) {
      // A non-member gets the answer of any send to a conversation they are not in, whether or not
      // the message is there: otherwise the two answers would tell them which ids live where.
      await requireMember(ctx.db, body.conversationId, userId);
      throw new ConfabError('NOT_FOUND', 'the message replied to is not in this conversation');
    }
  }
  // The before-send hook (operations/beforeSend.ts) sees only sends that could be stored; without
  // it configured this costs one property read.
  let content = body.content;
  if (ctx.config.beforeSend) content = await hookedContent(ctx, userId, body, attachmentIds);
  const send: PlainSend = {
    id: newId(),
    conversationId: body.conversationId,
    authorId: userId,
    clientId: body.clientId,
    kind: body.kind ?? 'text',
    contentEnc: ctx.keys.encrypt(content),
    terms: `{${searchTerms(ctx.keys.searchKey, body.conversationId, content).join(',')}}`,
    threadRootId: body.threadRootId ?? null,
    alsoToChannel: body.threadRootId ? body.alsoToChannel === true : false,
  };
  // Mentions are resolved by the statement that stores the message (storage/messages.ts); a
  // message without '@' costs nothing more (operations/mentions.ts).
  const mentions = await mentionInput(ctx, body.conversationId, userId, content);
  // Plain sends are group-committed with the sends that arrive alongside them (sendBatch.ts).
  const inserted =
    attachments.length === 0 && !body.replyToId && !mentions
      ? await batcherFor(ctx).store(send)
      : await insertOne(ctx, send, body.replyToId ?? null, attachments, mentions);
  if (inserted) {
    // The plaintext is at hand: no need to decrypt what was just encrypted.
    const message = toMessage(ctx, inserted, [], content);
    ctx.bus.publish({ type: 'message_stored', message });
    // The root's summary changed with the reply (it took the next seq): announced as its change.
    // Read after the commit, so it may already show later replies too; clients keep the newest.
    if (inserted.thread_root_id) await publishRoot(ctx, inserted.thread_root_id);
    return { message, created: true };
  }
  // Nothing inserted: either this clientId was sent before, or the caller is not a member.
  const existing = await findSentByClientId(ctx.db, body.conversationId, userId, body.clientId);
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

/** Asks the before-send hook about a send by a member: the content to store, validated like the author's. */
async function hookedContent(ctx: Context, userId: string, body: SendMessageBody, attachmentIds: string[]): Promise<string> {
  // Not a member: the send fails as it would without the hook, and the hook never sees it.
  await requireMember(ctx.db, body.conversationId, userId);
  const content = await beforeSend(ctx, ctx.config.beforeSend!, {
    event: 'message.send',
    conversationId: body.conversationId,
    authorId: userId,
    content: body.content,
    kind: body.kind ?? 'text',
    clientId: body.clientId,
    replyToId: body.replyToId ?? null,
    threadRootId: body.threadRootId ?? null,
    attachmentIds,
    mentions: mentionedHandles(body.content),
  });
  if (content !== body.content) checkContent(content, attachmentIds.length > 0);
  return content;
}

/** The handles an `@` names in `content`, `here` and `channel` included, for the before-send hook. */
function mentionedHandles(content: string): string[] {
  const parsed = parseMentions(content);
  return [...parsed.handles, ...(parsed.here ? ['here'] : []), ...(parsed.channel ? ['channel'] : [])];
}

/**
 * A thread reply's root must be a message of the same conversation that is not itself a reply.
 * A non-member gets NOT_FOUND whatever the root, as for any send to a conversation they are not in.
 */
async function checkThreadRoot(ctx: Context, userId: string, conversationId: string, rootId: string): Promise<void> {
  // Messages never move between conversations and a message never becomes a reply: no lock needed.
  const root = await findThreadRoot(ctx.db, rootId, conversationId);
  if (root && root.thread_root_id === null) return;
  await requireMember(ctx.db, conversationId, userId);
  if (!root) throw new ConfabError('NOT_FOUND', 'the thread’s root is not in this conversation');
  throw new ConfabError('VALIDATION_ERROR', 'a reply in a thread cannot start a thread of its own');
}

/** Announces a thread root's current state (its summary changed). */
async function publishRoot(ctx: Context, rootId: string): Promise<void> {
  const root = await findMessage(ctx.db, rootId);
  if (root) ctx.bus.publish({ type: 'message_changed', message: (await hydrateMessages(ctx, ctx.db, [root]))[0]! });
}

export async function listMessages(
  ctx: Context,
  userId: string,
  conversationId: string,
  query: { limit: number; before?: number | undefined; after?: number | undefined; threadRootId?: string | undefined },
): Promise<MessageList> {
  await requireMember(ctx.db, conversationId, userId);
  const forward = query.after !== undefined;
  const page0 = query.after !== undefined ? { after: query.after } : { before: query.before ?? 2 ** 31 - 1 };
  let root: MessageRow | undefined;
  if (query.threadRootId !== undefined) {
    root = await findMessage(ctx.db, query.threadRootId);
    if (!root || root.conversation_id !== conversationId || root.thread_root_id !== null) throw new ConfabError('NOT_FOUND', 'no such thread');
  }
  const rows = root ? await listThreadPage(ctx.db, root.id, page0, query.limit + 1) : await listMessagePage(ctx.db, conversationId, page0, query.limit + 1);
  const hasMore = rows.length > query.limit;
  const page = rows.slice(0, query.limit);
  if (!forward) page.reverse();
  const messages = await withLiveText(ctx.streams, await hydrateMessages(ctx, ctx.db, root ? [...page, root] : page));
  if (!root) return { messages, hasMore };
  return { messages: messages.slice(0, -1), hasMore, root: messages.at(-1)! };
}

/** Loads a message and the caller's membership of its conversation, locking the conversation. */
export async function loadForChange(tx: Queryable, messageId: string, userId: string) {
  const row = await findMessage(tx, messageId);
  if (!row) throw new ConfabError('NOT_FOUND', 'no such message');
  try {
    const member = await requireMember(tx, row.conversation_id, userId, { lock: true });
    return { row, member };
  } catch {
    throw new ConfabError('NOT_FOUND', 'no such message');
  }
}

export async function reload(ctx: Context, tx: Queryable, messageId: string): Promise<Message> {
  const row = await findMessage(tx, messageId);
  return (await hydrateMessages(ctx, tx, row ? [row] : []))[0]!;
}

/**
 * Keeps a message's previous content (encrypted) in message_versions, and only the last
 * LIMITS.messageVersionsKept of them: every edit may carry 64 KB, and a history without a cap is
 * storage anyone can fill by editing one message over and over.
 */
export function keepPreviousVersion(tx: Queryable, messageId: string, contentEnc: string, createdAt: Date, model: string | null = null): Promise<void> {
  return storeVersion(tx, messageId, contentEnc, createdAt, LIMITS.messageVersionsKept, model);
}

/** The author edits; the previous content is kept (encrypted) in message_versions. Edits count as sends. */
export async function editMessage(ctx: Context, userId: string, messageId: string, content: string): Promise<Message> {
  checkContent(content, false);
  await ctx.limits.consume('sendPerUser', userId);
  if (ctx.config.beforeSend) content = await hookedEdit(ctx, userId, messageId, content);
  // Parsed (and @here's online members looked up) before the transaction: on the embedded
  // database nothing else may run while it is open. The update resolves handles against the members.
  const target = content.includes('@') ? await findMessage(ctx.db, messageId) : undefined;
  const mentions = target ? await mentionInput(ctx, target.conversation_id, userId, content) : undefined;
  const message = await ctx.db.transaction(async (tx) => {
    const { row } = await loadForChange(tx, messageId, userId);
    if (row.author_id !== userId || row.kind === 'system') throw new ConfabError('FORBIDDEN', 'only the author can edit a message');
    if (row.deleted_at) throw new ConfabError('NOT_FOUND', 'this message was deleted');
    await keepPreviousVersion(tx, messageId, row.content_enc, row.edited_at ?? row.created_at);
    const seq = await nextSeq(tx, row.conversation_id, false);
    await updateMessageContent(tx, messageId, ctx.keys.encrypt(content), searchTerms(ctx.keys.searchKey, row.conversation_id, content), seq, mentions);
    await previewAfterEdit(ctx, tx, row, content);
    return reload(ctx, tx, messageId);
  });
  ctx.bus.publish({ type: 'message_changed', message });
  ctx.previews?.schedule(message);
  return message;
}

/**
 * Asks the before-send hook about an edit: the content to store. Only an edit the author could make
 * is asked about; any other fails in the transaction below as it would without the hook.
 */
async function hookedEdit(ctx: Context, userId: string, messageId: string, content: string): Promise<string> {
  const row = await findMessage(ctx.db, messageId);
  if (!row || row.author_id !== userId || row.kind === 'system' || row.deleted_at) return content;
  await requireMember(ctx.db, row.conversation_id, userId);
  const replaced = await beforeSend(ctx, ctx.config.beforeSend!, {
    event: 'message.edit',
    messageId,
    conversationId: row.conversation_id,
    authorId: userId,
    content,
    kind: row.kind,
    replyToId: row.reply_to_id,
    threadRootId: row.thread_root_id,
    attachmentIds: row.attachments.map((a) => a.id),
    mentions: mentionedHandles(content),
  });
  if (replaced !== content) checkContent(replaced, false);
  return replaced;
}

/**
 * Deletes for everyone, leaving a tombstone (id, seq, author, times) so every client removes it.
 * Content, edit history, reactions and search terms are erased, not hidden.
 */
export async function deleteMessage(ctx: Context, userId: string, messageId: string): Promise<Message> {
  const { message, changed } = await ctx.db.transaction(async (tx) => {
    // An instance admin may delete a message a report showed them, member or not (operations/reports.ts).
    let asAdmin = false;
    const { row, member } = await loadForChange(tx, messageId, userId).catch(async (error: unknown) => {
      if (!(await mayDeleteAsAdmin(ctx, tx, userId, messageId))) throw error;
      asAdmin = true;
      return { row: (await findMessage(tx, messageId))!, member: undefined };
    });
    const mayModerate = member?.type === 'group' && isModerator(member.role);
    if (row.author_id !== userId && !mayModerate && !asAdmin) {
      if (!(await mayDeleteAsAdmin(ctx, tx, userId, messageId))) throw new ConfabError('FORBIDDEN', 'only the author or a moderator can delete this message');
      asAdmin = true;
    }
    if (row.deleted_at) return { message: await reload(ctx, tx, messageId), changed: false };
    if (asAdmin) await recordAudit(tx, userId, 'message.delete', { type: 'message', id: messageId }, { conversationId: row.conversation_id });
    const seq = await nextSeq(tx, row.conversation_id, false);
    await eraseMessage(tx, messageId, seq);
    await previewAfterDelete(tx, messageId);
    // Its files go after commit: the trigger on attachments queues their deletion in this transaction.
    await deleteMessageAttachments(tx, messageId);
    // A thread reply: its root counts one reply less, a change of the root with the next seq.
    if (row.thread_root_id) await threadReplyRemoved(tx, row.thread_root_id, await nextSeq(tx, row.conversation_id, false));
    return { message: await reload(ctx, tx, messageId), changed: true };
  });
  if (changed) {
    ctx.jobs.kick();
    ctx.bus.publish({ type: 'message_changed', message });
    if (message.threadRootId) await publishRoot(ctx, message.threadRootId);
  }
  return message;
}

/**
 * Moves the caller's delivered (or read, which implies delivered) watermark up to this message.
 * Watermarks only move forward; a receipt for an older message changes nothing and emits nothing.
 * Receipts do not take a `seq`: they are frequent, and the member list in a synced conversation carries them.
 */
export async function markStatus(ctx: Context, userId: string, messageId: string, status: 'delivered' | 'read'): Promise<{ seq: number }> {
  const row = await findMessageSeqForMember(ctx.db, messageId, userId);
  if (!row) throw new ConfabError('NOT_FOUND', 'no such message');
  if (row.thread_root_id && status === 'read') {
    // Reading a thread reply moves the caller's watermark in that thread (if they follow it), and
    // the conversation's only when the reply is on the main line too: reading a thread must not
    // mark the main line read.
    await moveThreadWatermark(ctx.db, row.thread_root_id, userId, row.seq);
    if (!row.also_to_channel) return { seq: row.seq };
  }
  if (await moveWatermark(ctx.db, row.conversation_id, userId, status, row.seq)) {
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
    let changedAny: boolean;
    if (on) {
      if ((await countReactionsBy(tx, messageId, userId)) >= MAX_REACTIONS_PER_USER) throw new ConfabError('VALIDATION_ERROR', `at most ${MAX_REACTIONS_PER_USER} reactions per message`);
      changedAny = await addReaction(tx, messageId, userId, emoji);
    } else {
      changedAny = await removeReaction(tx, messageId, userId, emoji);
    }
    if (!changedAny) return { message: await reload(ctx, tx, messageId), changed: false };
    const seq = await nextSeq(tx, row.conversation_id, false);
    await setUpdatedSeq(tx, messageId, seq);
    return { message: await reload(ctx, tx, messageId), changed: true };
  });
  if (changed) ctx.bus.publish({ type: 'message_changed', message });
  return message;
}
