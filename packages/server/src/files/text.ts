import { extractText, getDocumentProxy } from 'unpdf';
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

/**
 * The text of a text file (UTF-8, invalid bytes replaced) or of a PDF, cut at `maxChars`.
 * For text, `bytes` may be just a prefix of the file (4 bytes per character at most).
 */
export async function extractFileText(bytes: Uint8Array, category: Category, maxChars: number): Promise<string> {
  if (category === 'pdf') {
    const pdf = await getDocumentProxy(new Uint8Array(bytes));
    try {
      const { text } = await extractText(pdf, { mergePages: true });
      return text.slice(0, maxChars);
    } finally {
      await pdf.destroy();
    }
  }
  return new TextDecoder('utf-8').decode(bytes).slice(0, maxChars);
}
