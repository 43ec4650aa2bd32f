import { createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ConfabError, type Attachment, type Conversation } from '@confab/protocol';
import { ASSISTANT_ID } from '../ai/assistant.ts';
import { DEFAULT_MODEL } from '../ai/models.ts';
import type { Context } from '../context.ts';
import { FileNotFoundError, objectKey } from '../files/store.ts';
import { newId } from '../ids.ts';
import { searchTerms } from '../search/terms.ts';
import {
  countBranched,
  findBranchSource,
  insertAttachmentCopies,
  insertBranchConversation,
  insertCopies,
  listBranchedAttachments,
  listBranchedPage,
  setLastSeq,
  type MessageCopy,
} from '../storage/branches.ts';
import { insertMembers } from '../storage/members.ts';
import { findMessage } from '../storage/messages.ts';
import type { AttachmentRow } from '../storage/rows.ts';
import { requireMember } from './access.ts';
import { requireListedModel } from './ai.ts';
import { announceJoins, getConversation } from './conversations.ts';
import { commitWithEvents } from './events.ts';

// Branches (API.md, "AI conversations"; docs/ai.md): `POST /api/conversations/:id/branch
// { messageId }` starts a new assistant conversation of the caller that holds copies of the messages
// up to and including that one, so the caller can take the conversation another way without
// changing it. Any member may branch any conversation they can read (a group too): the branch is
// theirs alone, with the assistant.
//
// What a copy keeps: its content (decrypted and encrypted again, with search terms keyed by the
// new conversation, so search finds it there), its author (the assistant's answers stay the
// assistant's; in a branch of a group, other people's messages stay theirs, so deleting their
// account erases the copies as well), kind, status, model, time and link preview, and a reply to
// another copied message. It drops reactions, pins, mentions, edit history and thread structure:
// a branch from a thread reply holds the main line up to it with that thread's earlier replies,
// all on one line. System lines and deleted messages are not copied.
//
// Files are COPIED, not referenced: each attachment's bytes (and preview) are copied in the file
// store under the new conversation, with their own rows (the extracted text too), so the branch
// shows them to its members whatever happens to the source (deleted, left) and no access rule
// has to look across conversations. The bytes are copied before the transaction that stores the
// messages; copies that end up unused (the transaction failed, or a message was deleted in between)
// are deleted again.

export const BRANCH_LIMITS = {
  /** The most messages one branch copies; above it the branch is refused (PAYLOAD_TOO_LARGE). */
  maxMessages: 5000,
  /** Messages read and inserted per statement; all batches run in one transaction. */
  batch: 500,
  /** The most files one branch copies, and their total size; above either the branch is refused. */
  maxFiles: 200,
  maxFileBytes: 512 * 1024 * 1024,
  /** Longest title, as the protocol allows. */
  titleChars: 200,
};

/** The model of a branch: the source's when the caller may use it, else the caller's default. */
async function branchModel(ctx: Context, userId: string, model: string | null): Promise<string> {
  if (!model || model === DEFAULT_MODEL) return DEFAULT_MODEL;
  try {
    await requireListedModel(ctx, userId, model);
    return model;
  } catch (error) {
    if (error instanceof ConfabError && error.code === 'VALIDATION_ERROR') return DEFAULT_MODEL;
    throw error;
  }
}

function branchTitle(title: string | null): string | null {
  if (!title) return null; // titled from its next exchange, as any new assistant conversation
  const suffix = ' (branch)';
  return title.length + suffix.length <= BRANCH_LIMITS.titleChars ? title + suffix : title.slice(0, BRANCH_LIMITS.titleChars);
}

export async function branchConversation(ctx: Context, userId: string, conversationId: string, messageId: string): Promise<Conversation> {
  await requireMember(ctx.db, conversationId, userId);
  const target = await findMessage(ctx.db, messageId);
  // Messages never move between conversations: no lock needed to trust this.
  if (!target || target.conversation_id !== conversationId) throw new ConfabError('NOT_FOUND', 'no such message in this conversation');
  const threadRootId = target.thread_root_id;

  // Bounded before anything is written: messages, then files.
  const count = await countBranched(ctx.db, conversationId, target.seq, threadRootId);
  if (count > BRANCH_LIMITS.maxMessages) {
    throw new ConfabError('PAYLOAD_TOO_LARGE', `a branch copies at most ${BRANCH_LIMITS.maxMessages} messages; this one would copy ${count}. Branch from an earlier message.`, {
      maxMessages: BRANCH_LIMITS.maxMessages,
    });
  }
  const files = await listBranchedAttachments(ctx.db, conversationId, target.seq, threadRootId);
  const bytes = files.reduce((sum, f) => sum + fileBytes(f), 0);
  if (files.length > BRANCH_LIMITS.maxFiles || bytes > BRANCH_LIMITS.maxFileBytes) {
    throw new ConfabError('PAYLOAD_TOO_LARGE', `a branch copies at most ${BRANCH_LIMITS.maxFiles} files of ${BRANCH_LIMITS.maxFileBytes / 1024 / 1024} MB in all. Branch from an earlier message.`);
  }
  // Copies take space as sends and uploads do: they count against the same kind of allowance.
  await ctx.limits.consume('branchedMessagesPerUser', userId, Math.max(1, count));
  if (bytes > 0) await ctx.limits.consume('uploadBytesPerUser', userId, bytes);

  const source = await findBranchSource(ctx.db, conversationId);
  if (!source) throw new ConfabError('NOT_FOUND', 'no such conversation');
  const model = await branchModel(ctx, userId, source.model);
  const id = newId();

  // source attachment id → its copy's id, for the files whose bytes were copied
  const copied = await copyFiles(ctx, id, files);
  const used = new Set<string>();
  try {
    const conversation = await commitWithEvents(ctx, async (tx, events) => {
      await insertBranchConversation(tx, { id, sourceId: conversationId, title: branchTitle(source.title), model, createdBy: userId });
      const copyOf = new Map<string, string>(); // source message id → copy id
      let seq = 0;
      let after = 0;
      for (;;) {
        const rows = await listBranchedPage(tx, conversationId, target.seq, threadRootId, after, BRANCH_LIMITS.batch);
        const copies: MessageCopy[] = [];
        const fileCopies: { id: string; sourceId: string; messageId: string }[] = [];
        for (const r of rows) {
          const content = ctx.keys.decrypt(r.content_enc);
          const attachments: Attachment[] = [];
          for (const a of r.attachments) {
            const copyId = copied.get(a.id);
            if (copyId) attachments.push({ ...a, id: copyId });
          }
          // A message whose only files could not be copied (gone meanwhile) would show nothing.
          if (!content && attachments.length === 0 && r.status === 'complete') continue;
          const copyId = newId();
          copyOf.set(r.id, copyId);
          seq++;
          copies.push({
            id: copyId,
            sourceId: r.id,
            seq,
            contentEnc: ctx.keys.encrypt(content),
            replyToId: r.reply_to_id ? (copyOf.get(r.reply_to_id) ?? null) : null,
            attachments: JSON.stringify(attachments),
            terms: `{${searchTerms(ctx.keys.searchKey, id, content).join(',')}}`,
          });
          for (const a of r.attachments) {
            const fileId = copied.get(a.id);
            if (!fileId) continue;
            fileCopies.push({ id: fileId, sourceId: a.id, messageId: copyId });
            used.add(fileId);
          }
        }
        // Messages first: an attachment row names its message.
        await insertCopies(tx, id, copies);
        await insertAttachmentCopies(tx, id, fileCopies);
        if (rows.length < BRANCH_LIMITS.batch) break;
        after = rows[rows.length - 1]!.seq;
      }
      await setLastSeq(tx, id, seq);
      // Everything copied counts as read: a branch does not arrive with unread messages.
      await insertMembers(tx, id, [userId], 'owner', seq);
      await insertMembers(tx, id, [ASSISTANT_ID], 'member', seq);
      // The branch appears in the caller's list on every device. No message_stored events: the
      // copies are history, not new messages (nothing notifies, and the assistant does not answer).
      await announceJoins(ctx, tx, id, [userId, ASSISTANT_ID], events);
      return getConversation(ctx, userId, id, tx);
    });
    await discardFiles(ctx, id, [...copied.values()].filter((f) => !used.has(f)));
    return conversation;
  } catch (error) {
    await discardFiles(ctx, id, [...copied.values()]);
    throw error;
  }
}

const fileBytes = (f: AttachmentRow) => Number(f.size ?? f.declared_size ?? 0) + Number(f.preview_size ?? 0);

/**
 * Copies the files' bytes (original, and preview where there is one) under the new conversation,
 * one file at a time. A file whose original is missing from the store is left out of the branch;
 * any other failure of the store undoes the copies made so far and fails the branch (UNAVAILABLE).
 */
async function copyFiles(ctx: Context, conversationId: string, files: AttachmentRow[]): Promise<Map<string, string>> {
  const copied = new Map<string, string>();
  try {
    for (const f of files) {
      const copyId = newId();
      const original = await copyObject(ctx, objectKey(f.conversation_id, f.id, 'original'), objectKey(conversationId, copyId, 'original'), f.type ?? f.declared_type);
      if (!original) continue;
      copied.set(f.id, copyId);
      if (f.has_preview) await copyObject(ctx, objectKey(f.conversation_id, f.id, 'preview'), objectKey(conversationId, copyId, 'preview'), 'image/webp');
    }
  } catch (error) {
    await discardFiles(ctx, conversationId, [...copied.values()]);
    ctx.log.error({ err: error }, 'file storage failed while copying a branch’s files');
    throw new ConfabError('UNAVAILABLE', 'file storage is not available; try again later');
  }
  return copied;
}

/** One object, through a scratch file (the store's `put` takes a file); false when the source is missing. */
async function copyObject(ctx: Context, from: string, to: string, contentType: string): Promise<boolean> {
  const store = ctx.files.store;
  let body;
  try {
    body = await store.get(from);
  } catch (error) {
    if (error instanceof FileNotFoundError) return false;
    throw error;
  }
  await mkdir(store.tmpDir, { recursive: true, mode: 0o700 });
  const scratch = path.join(store.tmpDir, `branch-${newId()}`);
  try {
    await pipeline(body, createWriteStream(scratch, { mode: 0o600 }));
    await store.put(to, scratch, contentType);
  } finally {
    await unlink(scratch).catch(() => {}); // consumed by put when it succeeded
  }
  return true;
}

/** Deletes copied files no row uses; a failure is logged (the bytes are unreachable either way). */
async function discardFiles(ctx: Context, conversationId: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const keys = ids.flatMap((id) => [objectKey(conversationId, id, 'original'), objectKey(conversationId, id, 'preview')]);
  await ctx.files.store.delete(keys).catch((error: unknown) => ctx.log.warn({ err: error }, 'could not delete a failed branch’s copied files'));
}
