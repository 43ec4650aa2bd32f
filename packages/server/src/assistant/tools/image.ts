import { mkdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Attachment, Message } from '@confab/protocol';
import type { ImageModel } from 'ai';
import { ASSISTANT_ID } from '../../ai/assistant.ts';
import { loadAiSdk } from '../../ai/sdk.ts';
import type { Context } from '../../context.ts';
import { EXTENSION_OF, processImage } from '../../files/images.ts';
import { PROCESSED_IMAGE_TYPES, sniffFile } from '../../files/sniff.ts';
import { objectKey } from '../../files/store.ts';
import { newId } from '../../ids.ts';
import { insertGeneratedImage } from '../../storage/generatedImages.ts';
import { ToolFailure } from './guard.ts';

/** What the model (and the tool call shown) learns of a generated image. */
export interface GeneratedImageInfo {
  attachmentId: string;
  name: string;
  width: number;
  height: number;
}

/** Images one answer may generate: each is paid for, and the step bound alone would allow more. */
export const IMAGES_PER_ANSWER = 2;

/**
 * Draws one image with the image model (the AI SDK's `generateImage`, OpenAI's
 * `/v1/images/generations` or a compatible endpoint) and stores it as an image attachment of the
 * answer, processed like an upload (re-encoded without metadata, a preview made), so it shows in
 * the chat like any image and is served to the conversation's members only.
 */
export async function generateImageAttachment(ctx: Context, answer: Message, model: ImageModel, prompt: string, n: number, signal: AbortSignal): Promise<GeneratedImageInfo> {
  const { generateImage } = await loadAiSdk();
  let bytes: Uint8Array;
  let mediaType: string;
  try {
    const result = await generateImage({ model, prompt, n: 1, abortSignal: signal, maxRetries: 0 });
    bytes = result.image.uint8Array;
    mediaType = result.image.mediaType;
  } catch (error) {
    if (signal.aborted) throw signal.reason ?? error;
    const status = (error as { statusCode?: unknown }).statusCode;
    throw new ToolFailure(typeof status === 'number' ? `The image service refused to draw this (${status}).` : 'The image service could not be reached.');
  }
  const opts = ctx.files.options;
  if (bytes.byteLength > opts.maxFileBytes) throw new ToolFailure('The image service sent an image larger than this server stores.');
  const store = ctx.files.store;
  await mkdir(store.tmpDir, { recursive: true, mode: 0o700 });
  const scratch = path.join(store.tmpDir, newId());
  const out = { original: `${scratch}.original`, preview: `${scratch}.preview` };
  const id = newId();
  const stored: string[] = [];
  try {
    await writeFile(scratch, bytes, { mode: 0o600 });
    const sniffed = await sniffFile(scratch, mediaType);
    const image = sniffed.category === 'image' && PROCESSED_IMAGE_TYPES.has(sniffed.type) ? await processImage(scratch, sniffed.type, out, opts) : undefined;
    if (!image) throw new ToolFailure('The image service sent something that is not a picture this server can show.');
    const name = `image-${n}.${EXTENSION_OF[image.type] ?? 'png'}`;
    const size = (await stat(image.originalPath)).size;
    const previewSize = (await stat(image.previewPath)).size;
    for (const [variant, file, type] of [
      ['original', image.originalPath, image.type],
      ['preview', image.previewPath, 'image/webp'],
    ] as const) {
      const key = objectKey(answer.conversationId, id, variant);
      await store.put(key, file, type);
      stored.push(key);
    }
    const attachment: Attachment = { id, name, type: image.type, size, width: image.width, height: image.height, durationMs: null, hasPreview: true };
    const kept = await ctx.db.transaction((tx) =>
      insertGeneratedImage(tx, { id, conversationId: answer.conversationId, messageId: answer.id, uploaderId: ASSISTANT_ID, name, type: image.type, size, width: image.width, height: image.height, previewSize }, attachment),
    );
    // The answer ended meanwhile (stopped): the image is not part of it.
    if (!kept) throw new ToolFailure('The answer ended before the image was ready.');
    return { attachmentId: id, name, width: image.width, height: image.height };
  } catch (error) {
    if (stored.length > 0) await store.delete(stored).catch(() => {});
    throw error;
  } finally {
    await Promise.all([scratch, out.original, out.preview].map((f) => unlink(f).catch(() => {})));
  }
}
