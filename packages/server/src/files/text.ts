import { Worker } from 'node:worker_threads';
import pLimit from 'p-limit';
import type { Category } from './sniff.ts';

/** Files whose text the AI assistant can read. */
export const hasText = (category: Category) => category === 'text' || category === 'markup' || category === 'pdf';

/** The category of a stored type (the inverse of sniffing, for rows read back). */
export function categoryOf(type: string): Category {
  if (type === 'application/pdf') return 'pdf';
  if (type === 'text/html' || type === 'image/svg+xml' || type === 'application/xml') return 'markup';
  if (type.startsWith('text/') || type === 'application/json') return 'text';
  if (type.startsWith('image/')) return 'image';
  if (type.startsWith('audio/')) return 'audio';
  if (type.startsWith('video/')) return 'video';
  return 'other';
}

export interface PdfLimits {
  /** Pages read at most; the rest of the document is left out. */
  maxPages: number;
  /** Wall-clock time allowed; the thread is stopped then and the pages read so far are kept. */
  timeoutMs: number;
}

export interface ExtractedText {
  text: string;
  /** False when a limit cut the text short (pages, time or characters). */
  complete: boolean;
}

/** Worker threads extracting at once, per process: each holds a whole PDF and a parser's memory. */
const pdfSlots = pLimit(2);

/** Heap allowed to one extraction thread: a PDF built to exhaust memory ends that thread, not the server. */
const PDF_WORKER_HEAP_MB = 256;

/**
 * The text of a PDF, read in a worker thread: parsing runs synchronously for as long as a page
 * takes, and on the server's thread one crafted PDF would stop every socket and request meanwhile.
 * Limits: `maxPages`, `timeoutMs` (the thread is terminated) and `maxChars`; a PDF that reaches
 * one gets the text read so far. Rejects when the file cannot be parsed at all.
 */
export function extractPdfText(bytes: Uint8Array, maxChars: number, limits: PdfLimits): Promise<ExtractedText> {
  return pdfSlots(() => runPdfWorker(bytes, maxChars, limits));
}

function runPdfWorker(bytes: Uint8Array, maxChars: number, limits: PdfLimits): Promise<ExtractedText> {
  // A copy of its own, so it can be moved to the thread rather than copied again.
  const copy = new Uint8Array(bytes);
  const worker = new Worker(new URL('./pdfWorker.js', import.meta.url), {
    workerData: { bytes: copy, maxPages: limits.maxPages, maxChars },
    transferList: [copy.buffer],
    resourceLimits: { maxOldGenerationSizeMb: PDF_WORKER_HEAP_MB },
  });
  const pages: string[] = [];
  const merged = (complete: boolean): ExtractedText => {
    // As unpdf's extractText({ mergePages: true }) does.
    const text = pages.join('\n').replace(/\s+/g, ' ');
    return { text: text.slice(0, maxChars), complete: complete && text.length <= maxChars };
  };
  return new Promise<ExtractedText>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      outcome();
    };
    const timer = setTimeout(() => finish(() => resolve(merged(false))), limits.timeoutMs);
    worker.on('message', (message: { page?: string; done?: boolean; numPages?: number }) => {
      if (typeof message.page === 'string') pages.push(message.page);
      else if (message.done) finish(() => resolve(merged((message.numPages ?? 0) <= limits.maxPages)));
    });
    worker.on('error', (error) => finish(() => (pages.length > 0 ? resolve(merged(false)) : reject(error))));
    worker.on('exit', () => finish(() => (pages.length > 0 ? resolve(merged(false)) : reject(new Error('the PDF worker stopped without an answer')))));
  });
}

/**
 * The text of a text file (UTF-8, invalid bytes replaced) or of a PDF, cut at `maxChars`.
 * For text, `bytes` may be just a prefix of the file (4 bytes per character at most).
 */
export async function extractFileText(bytes: Uint8Array, category: Category, maxChars: number, pdf: PdfLimits): Promise<ExtractedText> {
  if (category === 'pdf') return extractPdfText(bytes, maxChars, pdf);
  return { text: new TextDecoder('utf-8').decode(bytes).slice(0, maxChars), complete: true };
}
