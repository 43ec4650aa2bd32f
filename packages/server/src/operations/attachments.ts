import { mkdir, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ConfabError, type Attachment, type AttachmentTicket, type CreateAttachmentBody, type MessageKind } from '@confab/protocol';
import type { Context } from '../context.ts';
import { processImage, EXTENSION_OF } from '../files/images.ts';
import { receiveToFile, UploadAbortedError, UploadTooLargeError } from '../files/receive.ts';
import { sanitizeFileName, withExtension } from '../files/http.ts';
import { isInlineType, PROCESSED_IMAGE_TYPES, sniffFile } from '../files/sniff.ts';
import type { FilesOptions } from '../files/options.ts';
import { FileNotFoundError, objectKey, type Variant } from '../files/store.ts';
import { categoryOf, extractFileText, hasText } from '../files/text.ts';
import { newId } from '../ids.ts';
import {
  claimUpload,
  completeUpload,
  deleteAbandonedUploads,
  deleteAttachmentsOfMessage,
  deleteUnusedUpload,
  findComplete,
  findCompleteText,
  findDownloadable,
  findForMessage,
  findTextStatus,
  findUploadOfMember,
  insertAttachment,
  isUploader,
  markTextFailed,
  releaseUpload,
  storeText,
} from '../storage/attachments.ts';
import type { Queryable } from '../storage/db.ts';
import type { AttachmentRow } from '../storage/rows.ts';
import { requireMember } from './access.ts';

/**
 * Attachments: a ticket (id + signed upload URL) for a conversation the caller belongs to, the
 * upload itself (streamed to disk under the size limit, sniffed, images stripped of metadata and
 * previewed, text extracted), downloads for members, and the rules a message applies when it
 * references attachments. Files are deleted by the database: a trigger on `attachments` queues
 * their deletion whenever rows go (message deleted, conversation deleted, abandoned upload).
 */

export function toAttachment(r: AttachmentRow): Attachment {
  return {
    id: r.id,
    name: r.name,
    type: r.type ?? r.declared_type,
    size: Number(r.size ?? r.declared_size),
    width: r.width,
    height: r.height,
    durationMs: r.duration_ms,
    hasPreview: r.has_preview,
  };
}

// ---------------------------------------------------------------------------------------------
// Ticket
// ---------------------------------------------------------------------------------------------

export async function createAttachment(ctx: Context, userId: string, body: CreateAttachmentBody): Promise<AttachmentTicket> {
  await requireMember(ctx.db, body.conversationId, userId);
  const { maxFileBytes, uploadUrlTtlSeconds } = ctx.files.options;
  if (body.size > maxFileBytes) {
    throw new ConfabError('PAYLOAD_TOO_LARGE', `a file can have at most ${maxFileBytes} bytes`, { maxBytes: maxFileBytes });
  }
  // Counted on the ticket: the upload must then match the declared size exactly.
  await ctx.limits.consume('uploadsPerUser', userId);
  if (body.size > 0) await ctx.limits.consume('uploadBytesPerUser', userId, body.size);
  const id = newId();
  await insertAttachment(ctx.db, {
    id,
    conversationId: body.conversationId,
    uploaderId: userId,
    name: sanitizeFileName(body.name),
    declaredType: body.type.slice(0, 255),
    declaredSize: body.size,
    durationMs: body.durationMs ?? null,
  });
  const expires = Math.floor(Date.now() / 1000) + uploadUrlTtlSeconds;
  const signature = ctx.files.signer.sign(id, userId, expires);
  return {
    attachmentId: id,
    uploadUrl: `/api/attachments/${encodeURIComponent(id)}/upload?expires=${expires}&signature=${signature}`,
    expiresAt: new Date(expires * 1000).toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------
// Upload
// ---------------------------------------------------------------------------------------------

export interface UploadInput {
  expires: string;
  signature: string;
  /** The Content-Length header, when the client sent one. */
  contentLength: number | undefined;
  body: Readable;
}

const unlinkQuietly = (file: string) => unlink(file).catch(() => {});

async function setStatus(ctx: Context, id: string, status: 'pending' | 'failed'): Promise<void> {
  await releaseUpload(ctx.db, id, status).catch(() => {});
}

/**
 * Receives the bytes of an attachment. Only its uploader, still a member, with a valid and
 * unexpired signed URL; anyone else learns nothing (404). The body streams to a scratch file and
 * is refused (413) as soon as it passes the declared size or the limit.
 */
export async function uploadAttachment(ctx: Context, userId: string, attachmentId: string, input: UploadInput): Promise<Attachment> {
  const row = await findUploadOfMember(ctx.db, attachmentId, userId);
  if (!row) throw new ConfabError('NOT_FOUND', 'no such attachment');
  const verdict = ctx.files.signer.verify(row.id, row.uploader_id, input.expires, input.signature);
  if (verdict === 'expired') throw new ConfabError('FORBIDDEN', 'this upload URL has expired; ask for a new one');
  if (verdict !== 'ok') throw new ConfabError('FORBIDDEN', 'this upload URL is not valid');

  const declared = Number(row.declared_size);
  const limit = Math.min(declared, ctx.files.options.maxFileBytes);
  if (input.contentLength !== undefined && input.contentLength > limit) {
    throw new ConfabError('PAYLOAD_TOO_LARGE', `this upload was declared with ${declared} bytes`, { declaredSize: declared });
  }
  // One upload at a time per attachment; a finished one cannot be overwritten.
  const claimed = await claimUpload(ctx.db, row.id);
  if (!claimed) {
    throw new ConfabError('CONFLICT', row.status === 'complete' ? 'this attachment is already uploaded' : row.status === 'uploading' ? 'an upload of this attachment is in progress' : 'this upload failed; ask for a new attachment');
  }

  await mkdir(ctx.files.store.tmpDir, { recursive: true, mode: 0o700 });
  const scratch = path.join(ctx.files.store.tmpDir, newId());
  const temps = [scratch, `${scratch}.original`, `${scratch}.preview`];
  let stored: string[] = [];
  try {
    let received: number;
    try {
      received = await receiveToFile(input.body, scratch, limit);
    } catch (error) {
      if (error instanceof UploadTooLargeError) {
        await setStatus(ctx, row.id, 'failed');
        throw new ConfabError('PAYLOAD_TOO_LARGE', `this upload was declared with ${declared} bytes (at most ${ctx.files.options.maxFileBytes})`, { declaredSize: declared });
      }
      await setStatus(ctx, row.id, 'pending');
      if (error instanceof UploadAbortedError) throw new ConfabError('VALIDATION_ERROR', 'the upload was cut short; send it again');
      throw error;
    }
    if (received !== declared) {
      await setStatus(ctx, row.id, 'pending');
      throw new ConfabError('VALIDATION_ERROR', `received ${received} bytes, but ${declared} were declared`);
    }
    const result = await processUpload(ctx, row, scratch, received);
    stored = result.keys;
    const attachment = await ctx.db.transaction(async (tx) => {
      const done = await completeUpload(tx, row.id, {
        type: result.type,
        size: result.size,
        width: result.width,
        height: result.height,
        hasPreview: result.previewSize !== null,
        previewSize: result.previewSize,
        name: result.name,
        durationMs: result.durationMs,
        textStatus: result.textStatus,
        textEnc: result.text === null ? null : ctx.keys.encrypt(result.text),
      });
      if (done && result.textStatus === 'pending') await ctx.jobs.enqueue(tx, 'attachments.extract_text', { attachmentId: row.id }, { maxAttempts: 3 });
      return done;
    });
    // Gone meanwhile (the conversation was deleted during the upload): so are its files.
    if (!attachment) {
      await ctx.files.store.delete(stored).catch(() => {});
      throw new ConfabError('NOT_FOUND', 'no such attachment');
    }
    if (result.textStatus === 'pending') ctx.jobs.kick();
    return toAttachment(attachment);
  } catch (error) {
    // Anything but the refusals above leaves the attachment ready for another try.
    if (!(error instanceof ConfabError) || error.code === 'UNAVAILABLE') {
      await setStatus(ctx, row.id, 'pending');
      if (stored.length > 0) await ctx.files.store.delete(stored).catch(() => {});
    }
    throw error;
  } finally {
    await Promise.all(temps.map(unlinkQuietly));
  }
}

interface Processed {
  type: string;
  name: string;
  size: number;
  width: number | null;
  height: number | null;
  previewSize: number | null;
  durationMs: number | null;
  textStatus: AttachmentRow['text_status'];
  text: string | null;
  /** What went into the store. */
  keys: string[];
}

async function fileSize(file: string): Promise<number> {
  const handle = await open(file, 'r');
  try {
    return (await handle.stat()).size;
  } finally {
    await handle.close();
  }
}

async function readPrefix(file: string, bytes: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Decides the type from the bytes, makes the stored original (and preview), extracts text. */
async function processUpload(ctx: Context, row: AttachmentRow, scratch: string, size: number): Promise<Processed> {
  const opts = ctx.files.options;
  const sniffed = await sniffFile(scratch, row.declared_type);
  let type = sniffed.type;
  let name = row.name;
  let originalPath = scratch;
  let width: number | null = null;
  let height: number | null = null;
  let previewPath: string | undefined;
  if (sniffed.category === 'image' && PROCESSED_IMAGE_TYPES.has(sniffed.type)) {
    const image = await processImage(scratch, sniffed.type, { original: `${scratch}.original`, preview: `${scratch}.preview` }, opts);
    if (image) {
      ({ type, width, height, originalPath, previewPath } = image);
      const ext = EXTENSION_OF[type];
      if (type !== sniffed.type && ext) name = withExtension(name, ext);
    } else {
      // Not decodable (corrupt, or over the pixel limit): kept, but only ever as a download, since
      // its metadata could not be stripped.
      type = 'application/octet-stream';
    }
  }
  let textStatus: AttachmentRow['text_status'] = 'none';
  let text: string | null = null;
  if (sniffed.category === 'pdf') {
    // PDFs can take a while to parse: a job does it, off the request.
    textStatus = 'pending';
  } else if (hasText(sniffed.category)) {
    text = (await extractFileText(await readPrefix(scratch, opts.maxTextChars * 4), sniffed.category, opts.maxTextChars, pdfLimits(opts))).text;
    textStatus = 'ready';
  }
  const keys: string[] = [];
  const storedSize = originalPath === scratch ? size : await fileSize(originalPath);
  const originalKey = objectKey(row.conversation_id, row.id, 'original');
  await putObject(ctx, originalKey, originalPath, type);
  keys.push(originalKey);
  let previewSize: number | null = null;
  if (previewPath) {
    previewSize = await fileSize(previewPath);
    const previewKey = objectKey(row.conversation_id, row.id, 'preview');
    try {
      await putObject(ctx, previewKey, previewPath, 'image/webp');
    } catch (error) {
      await ctx.files.store.delete(keys).catch(() => {});
      throw error;
    }
    keys.push(previewKey);
  }
  const category = categoryOf(type);
  return {
    type,
    name,
    size: storedSize,
    width,
    height,
    previewSize,
    durationMs: category === 'audio' || category === 'video' ? row.duration_ms : null,
    textStatus,
    text,
    keys,
  };
}

/** The uploader cancels an upload that no message uses yet. */
export async function deleteAttachment(ctx: Context, userId: string, attachmentId: string): Promise<void> {
  if (!(await deleteUnusedUpload(ctx.db, attachmentId, userId))) {
    if (!(await isUploader(ctx.db, attachmentId, userId))) throw new ConfabError('NOT_FOUND', 'no such attachment');
    throw new ConfabError('CONFLICT', 'this attachment is part of a message (delete the message) or is being uploaded');
  }
  ctx.jobs.kick();
}

// ---------------------------------------------------------------------------------------------
// Download
// ---------------------------------------------------------------------------------------------

export interface Download {
  key: string;
  size: number;
  /** The Content-Type to send. */
  contentType: string;
  inline: boolean;
  name: string;
  etag: string;
}

/** Active content, never sent with its own type even as a download. */
const ACTIVE = /html|xml|svg|javascript|ecmascript/;

/**
 * A member's view of a file. Before a message uses an attachment, only its uploader sees it.
 * Everyone else, and every member for a missing preview, gets NOT_FOUND.
 */
export async function openDownload(ctx: Context, userId: string, attachmentId: string, variant: Variant): Promise<Download> {
  const row = await findDownloadable(ctx.db, attachmentId, userId);
  if (!row || !row.type) throw new ConfabError('NOT_FOUND', 'no such attachment');
  if (variant === 'preview') {
    if (!row.has_preview || row.preview_size === null) throw new ConfabError('NOT_FOUND', 'this attachment has no preview');
    const base = row.name.replace(/\.[^.]*$/, '');
    return { key: objectKey(row.conversation_id, row.id, 'preview'), size: row.preview_size, contentType: 'image/webp', inline: true, name: `${base || 'preview'}.webp`, etag: `"${row.id}.p"` };
  }
  const inline = isInlineType(row.type);
  const category = categoryOf(row.type);
  const contentType = inline ? row.type : ACTIVE.test(row.type) ? 'application/octet-stream' : category === 'text' ? `${row.type}; charset=utf-8` : row.type;
  return { key: objectKey(row.conversation_id, row.id, 'original'), size: Number(row.size), contentType, inline, name: row.name, etag: `"${row.id}"` };
}

export async function readDownload(ctx: Context, download: Download, range?: { start: number; end: number }): Promise<Readable> {
  try {
    return await ctx.files.store.get(download.key, range);
  } catch (error) {
    if (error instanceof FileNotFoundError) throw new ConfabError('NOT_FOUND', 'no such attachment');
    throw storageDown(ctx, error);
  }
}

/** The file store failed (object storage unreachable, disk full): a dependency is down. */
function storageDown(ctx: Context, error: unknown): ConfabError {
  ctx.log.error({ err: error }, 'file storage failed');
  return new ConfabError('UNAVAILABLE', 'file storage is not available; try again later');
}

async function putObject(ctx: Context, key: string, file: string, type: string): Promise<void> {
  try {
    await ctx.files.store.put(key, file, type);
  } catch (error) {
    throw storageDown(ctx, error);
  }
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/**
 * Checks the attachments a message wants (before its one-statement insert, see sendMessage) and
 * returns their metadata in the order given. Only the sender's own uploads in this conversation,
 * complete, not used by another message. A repeated send of the same clientId finds them
 * attached to its own first message and passes: the insert then returns that message.
 */
export async function resolveMessageAttachments(
  ctx: Context,
  userId: string,
  body: { conversationId: string; clientId: string; kind?: MessageKind | undefined; attachmentIds?: string[] | undefined },
): Promise<Attachment[]> {
  const ids = body.attachmentIds ?? [];
  const kind = body.kind ?? 'text';
  if (ids.length === 0) {
    if (kind === 'voice' || kind === 'image' || kind === 'file') throw new ConfabError('VALIDATION_ERROR', `a ${kind} message needs an attachment`);
    return [];
  }
  if (new Set(ids).size !== ids.length) throw new ConfabError('VALIDATION_ERROR', 'attachmentIds: the same attachment twice');
  if (ids.length > ctx.files.options.maxPerMessage) throw new ConfabError('VALIDATION_ERROR', `attachmentIds: at most ${ctx.files.options.maxPerMessage}`);
  const rows = await findForMessage(ctx.db, ids, userId, body.conversationId, body.clientId);
  const byId = new Map(rows.map((r) => [r.id, r]));
  const ordered = ids.map((id) => {
    const r = byId.get(id);
    if (!r) throw new ConfabError('NOT_FOUND', 'no such attachment');
    return r;
  });
  for (const r of ordered) {
    if (r.message_id !== null && !r.own_retry) throw new ConfabError('CONFLICT', 'an attachment can be part of one message only');
    if (r.status !== 'complete') throw new ConfabError('CONFLICT', 'an attachment is not uploaded yet');
  }
  const attachments = ordered.map(toAttachment);
  if (kind === 'voice') {
    const [audio] = attachments;
    if (attachments.length !== 1 || !audio || categoryOf(audio.type) !== 'audio') throw new ConfabError('VALIDATION_ERROR', 'a voice message has exactly one audio attachment');
    if (audio.durationMs === null || audio.durationMs === undefined) throw new ConfabError('VALIDATION_ERROR', 'a voice message needs its duration (durationMs when creating the attachment)');
  }
  if (kind === 'image' && attachments.some((a) => categoryOf(a.type) !== 'image')) {
    throw new ConfabError('VALIDATION_ERROR', 'an image message only has image attachments');
  }
  return attachments;
}

/** Inside deleteMessage's transaction: the rows go now; the trigger queues their files. */
export async function deleteMessageAttachments(tx: Queryable, messageId: string): Promise<number> {
  return deleteAttachmentsOfMessage(tx, messageId);
}

// ---------------------------------------------------------------------------------------------
// Text for the AI assistant
// ---------------------------------------------------------------------------------------------

async function readAll(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > max) break;
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

const pdfLimits = (opts: FilesOptions) => ({ maxPages: opts.pdfMaxPages, timeoutMs: opts.pdfTimeoutMs });

/** Extracts and stores the text of a complete attachment; the job and the lazy path share it. */
async function extractAndStore(ctx: Context, id: string): Promise<string | null> {
  const row = await findComplete(ctx.db, id);
  if (!row?.type) return null;
  const category = categoryOf(row.type);
  if (!hasText(category)) return null;
  let text: string;
  try {
    const bytes = await readAll(await ctx.files.store.get(objectKey(row.conversation_id, row.id, 'original')), ctx.files.options.maxFileBytes);
    const extracted = await extractFileText(bytes, category, ctx.files.options.maxTextChars, pdfLimits(ctx.files.options));
    text = extracted.text;
    // Kept and served as usual; the assistant reads the part that was extracted.
    if (!extracted.complete) ctx.log.info({ attachmentId: id }, 'the text of an attachment was cut short by the extraction limits');
  } catch (error) {
    if (error instanceof FileNotFoundError) return null;
    await markTextFailed(ctx.db, id);
    ctx.log.warn({ err: error, attachmentId: id }, 'could not extract the text of an attachment');
    return null;
  }
  await storeText(ctx.db, id, ctx.keys.encrypt(text));
  return text;
}

/**
 * The stored bytes of a complete attachment (or its preview), for the AI assistant, read only if
 * they fit `maxBytes`; null when they do not, or the file is missing. The caller has checked access.
 * A store that fails throws UNAVAILABLE, as a download does.
 */
export async function readStoredFile(ctx: Context, conversationId: string, attachmentId: string, variant: Variant, maxBytes: number): Promise<Buffer | null> {
  let stream: Readable;
  try {
    stream = await ctx.files.store.get(objectKey(conversationId, attachmentId, variant));
  } catch (error) {
    if (error instanceof FileNotFoundError) return null;
    throw storageDown(ctx, error);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) return null; // leaving the loop destroys the stream
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    throw storageDown(ctx, error);
  }
  return Buffer.concat(chunks);
}

/**
 * The text of a text or PDF attachment, for the AI assistant; null for other files, missing ones,
 * and PDFs whose text could not be read. A PDF still waiting for its extraction job is read now.
 * Pass `userId` to have membership checked (NOT_FOUND otherwise); without it, the caller has.
 */
export async function getAttachmentText(ctx: Context, attachmentId: string, opts: { userId?: string } = {}): Promise<string | null> {
  const row = await findCompleteText(ctx.db, attachmentId);
  if (opts.userId !== undefined) {
    if (!row || (row.message_id === null && row.uploader_id !== opts.userId)) throw new ConfabError('NOT_FOUND', 'no such attachment');
    await requireMember(ctx.db, row.conversation_id, opts.userId).catch(() => {
      throw new ConfabError('NOT_FOUND', 'no such attachment');
    });
  }
  if (!row) return null;
  if (row.text_status === 'ready') return row.text_enc === null ? '' : ctx.keys.decrypt(row.text_enc);
  if (row.text_status === 'pending') return extractAndStore(ctx, attachmentId);
  return null;
}

// ---------------------------------------------------------------------------------------------
// Jobs and clean-up
// ---------------------------------------------------------------------------------------------

export function registerAttachmentJobs(ctx: Context): void {
  // Queued by the trigger on attachments (migration 3) in the transaction that deleted the rows.
  ctx.jobs.register('files.delete', async (job) => {
    const objects = (job.payload as { objects?: unknown }).objects;
    if (!Array.isArray(objects)) return;
    const keys: string[] = [];
    for (const o of objects) {
      if (!Array.isArray(o) || typeof o[0] !== 'string' || typeof o[1] !== 'string') continue;
      for (const variant of ['original', 'preview'] as const) keys.push(objectKey(o[0], o[1], variant));
    }
    await ctx.files.store.delete(keys);
  });
  ctx.jobs.register('attachments.extract_text', async (job) => {
    const id = (job.payload as { attachmentId?: unknown }).attachmentId;
    if (typeof id !== 'string') return;
    if ((await findTextStatus(ctx.db, id)) === 'pending') await extractAndStore(ctx, id);
  });
  ctx.jobs.addMaintenance('attachments.abandoned', async () => void (await sweepAbandonedUploads(ctx)));
}

/** Uploads no message used within `abandonedAfterMs`, and scratch files of dead processes. */
export async function sweepAbandonedUploads(ctx: Context): Promise<number> {
  const deleted = await deleteAbandonedUploads(ctx.db, ctx.files.options.abandonedAfterMs);
  await ctx.files.store.sweepTmp();
  if (deleted > 0) ctx.jobs.kick();
  return deleted;
}
