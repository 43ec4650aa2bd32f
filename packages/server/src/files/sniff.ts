import { open } from 'node:fs/promises';

/**
 * What a file is, decided from its bytes: file-type's magic numbers for binary formats, then a
 * look at the text for everything else. The client's name never counts, and its claimed type
 * only picks between text types the bytes cannot tell apart (CSV or Markdown are both just text)
 * and between audio and video for containers that hold either.
 */
export type Category = 'image' | 'audio' | 'video' | 'pdf' | 'text' | 'markup' | 'other';

export interface Sniffed {
  type: string;
  category: Category;
}

/** Raster images browsers show and that cannot run script. SVG is not one of them. */
export const INLINE_IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/avif']);
/** Images the server decodes (dimensions, EXIF stripped, preview); others are plain files. */
export const PROCESSED_IMAGE_TYPES = new Set([...INLINE_IMAGE_TYPES, 'image/heic', 'image/heif', 'image/tiff']);

/** Served inline (the browser may show or play them); everything else is a download. */
export function isInlineType(type: string): boolean {
  return INLINE_IMAGE_TYPES.has(type) || type.startsWith('audio/') || type.startsWith('video/');
}

const TEXT_TYPES_FROM_CLAIM = new Set(['text/plain', 'text/markdown', 'text/csv', 'text/tab-separated-values', 'application/json']);
/** Containers that hold audio or video alike; the claim says which. */
const AV_CONTAINERS: Record<string, string> = { 'video/webm': 'audio/webm', 'video/mp4': 'audio/mp4', 'video/ogg': 'audio/ogg', 'application/ogg': 'audio/ogg' };

const HEAD_BYTES = 64 * 1024;

async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** UTF-8 without NUL bytes and with few control characters. */
export function looksLikeText(head: Buffer): boolean {
  if (head.length === 0) return false;
  if (head.includes(0)) return false;
  try {
    // stream: true tolerates a character cut in two at the end of the sample.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
  } catch {
    return false;
  }
  let control = 0;
  for (const byte of head) if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c && byte !== 0x1b) control++;
  return control <= head.length / 100;
}

/** Markup a browser would render or run, wherever it sits in the sample (never served inline). */
export function markupType(head: Buffer): string | undefined {
  const text = head.subarray(0, 8192).toString('utf8').toLowerCase();
  if (/<svg[\s>]/.test(text)) return 'image/svg+xml';
  if (/<(!doctype\s+html|html|head|body|script|iframe|object|embed|frameset)[\s>/]/.test(text)) return 'text/html';
  if (/^\s*<\?xml[\s?]/.test(text.replace(/^\ufeff/, ''))) return 'application/xml';
  return undefined;
}

const baseType = (type: string) => type.split(';')[0]!.trim().toLowerCase();

export async function sniffFile(file: string, claimedType: string): Promise<Sniffed> {
  const claimed = baseType(claimedType);
  // Loaded on first use: it would otherwise lengthen every start-up (docs/benchmarks.md).
  const { fileTypeFromFile } = await import('file-type');
  const detected = await fileTypeFromFile(file);
  if (detected) {
    const mime = detected.mime as string;
    if (mime === 'application/xml' || mime === 'image/svg+xml' || mime === 'text/html') return { type: mime, category: 'markup' };
    if (mime === 'application/pdf') return { type: mime, category: 'pdf' };
    const audioTwin = AV_CONTAINERS[mime];
    if (audioTwin && claimed.startsWith('audio/')) return { type: audioTwin, category: 'audio' };
    if (mime.startsWith('image/')) return { type: mime, category: 'image' };
    if (mime.startsWith('audio/')) return { type: mime, category: 'audio' };
    if (mime.startsWith('video/')) return { type: mime, category: 'video' };
    return { type: mime, category: 'other' };
  }
  const head = await readHead(file);
  if (!looksLikeText(head)) return { type: 'application/octet-stream', category: 'other' };
  const markup = markupType(head);
  if (markup) return { type: markup, category: 'markup' };
  return { type: TEXT_TYPES_FROM_CLAIM.has(claimed) ? claimed : 'text/plain', category: 'text' };
}
