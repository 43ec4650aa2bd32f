import type { ImagePart, TextPart } from 'ai';
import type { Context } from '../context.ts';
import { categoryOf, hasText } from '../files/text.ts';
import { getAttachmentText, readStoredFile } from '../operations/attachments.ts';
import type { PromptAttachmentRow } from '../storage/answers.ts';

// What the model gets of a message's attachments (issue 22; docs/ai.md, "Attachments"): images as
// images for models that see them, text files and PDFs as their extracted text within the
// context budget, and for everything else a short note in brackets, so the model never answers as
// if a file it was not given did not exist. prompt.ts asks for the rows (with the download rule
// of GET /api/attachments/:id) and places the parts after the message's own text.

export type PromptPart = TextPart | ImagePart;

/** Images that go to the model with one question, newest first: each can cost as much as a page of text. */
export const MAX_PROMPT_IMAGES = 4;
/** Larger originals go as their preview (512 px WebP); read only within this bound. */
export const MAX_IMAGE_BYTES = 4 * 1024 * 1024;
/** Image types every provider takes (uploads of other kinds are stored as one of these, see files/images.ts). */
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif']);
/** What joins a part's text to the text before it (prompt.ts). */
export const SEPARATOR = '\n\n';
/** Less room than this left for a document: a note that it was left out, rather than a few lines of it. */
const MIN_DOCUMENT_CHARS = 200;

/** What is left for the attachments of the messages still to place (newest first). */
export interface AttachmentBudget {
  /** Characters of the context budget (CONFAB_AI_CONTEXT_CHARS), shared with the messages' text. */
  chars: number;
  /** Images that may still go in. */
  images: number;
  /** Whether the model takes images (ai/models.ts, modelCapabilities). */
  vision: boolean;
}

/** The parts that carry one message's attachments, in order; what they take is charged to `budget`. */
export async function attachmentParts(ctx: Context, rows: PromptAttachmentRow[], budget: AttachmentBudget): Promise<PromptPart[]> {
  const parts: PromptPart[] = [];
  const note = (text: string) => {
    budget.chars -= text.length + SEPARATOR.length;
    parts.push({ type: 'text', text });
  };
  for (const row of rows) {
    const category = categoryOf(row.type);
    if (category === 'image' && IMAGE_TYPES.has(row.type)) {
      if (!budget.vision) note(`[image ${row.name}: this model cannot see images]`);
      else if (budget.images <= 0) note(`[image ${row.name}: left out, at most ${MAX_PROMPT_IMAGES} images go to the model at once]`);
      else {
        const image = await readImage(ctx, row);
        if (typeof image === 'string') note(`[image ${row.name}: ${image}]`);
        else {
          budget.images--;
          note(`[image ${row.name}]`);
          parts.push({ type: 'image', image: image.bytes, mediaType: image.mediaType });
        }
      }
    } else if (hasText(category)) {
      const text = await getAttachmentText(ctx, row.id).catch((error: unknown) => {
        ctx.log.warn({ err: error, attachmentId: row.id }, 'could not read the text of an attachment for the assistant');
        return null;
      });
      if (text === null) note(`[document ${row.name}: its text could not be read]`);
      else if (!text.trim()) note(`[document ${row.name}: it holds no text that could be read]`);
      else document(row.name, text, budget, note);
    } else {
      note(`[file ${row.name} (${row.type}): its contents cannot be given to the model]`);
    }
  }
  return parts;
}

/** A document's text with a header, whole or cut to the budget (saying so), or a note when no room is left. */
function document(name: string, text: string, budget: AttachmentBudget, note: (text: string) => void): void {
  const header = `[document ${name}]\n`;
  const whole = `${header}${text}\n[end of document ${name}]`;
  if (whole.length + SEPARATOR.length <= budget.chars) return note(whole);
  // Room for the header and the cut note too (its numbers have at most as many digits as text.length).
  const room = budget.chars - SEPARATOR.length - header.length - `\n[document cut: first ${text.length} of ${text.length} characters]`.length;
  if (room < MIN_DOCUMENT_CHARS) return note(`[document ${name}: left out, no room is left in the context for it]`);
  note(`${header}${text.slice(0, room)}\n[document cut: first ${room} of ${text.length} characters]`);
}

/** The image's bytes, its preview's when the original is too large, or why neither could be read. */
async function readImage(ctx: Context, row: PromptAttachmentRow): Promise<{ bytes: Uint8Array; mediaType: string } | string> {
  try {
    const small = Number(row.size) <= MAX_IMAGE_BYTES;
    if (small) {
      const bytes = await readStoredFile(ctx, row.conversation_id, row.id, 'original', MAX_IMAGE_BYTES);
      if (bytes) return { bytes, mediaType: row.type };
    }
    if (row.has_preview) {
      const bytes = await readStoredFile(ctx, row.conversation_id, row.id, 'preview', MAX_IMAGE_BYTES);
      if (bytes) return { bytes, mediaType: 'image/webp' };
    }
    return small ? 'its file is missing' : 'too large to show to the model';
  } catch (error) {
    // The file store is down: the question is still answered, and the model is told.
    ctx.log.warn({ err: error, attachmentId: row.id }, 'could not read an image for the assistant');
    return 'it could not be read just now';
  }
}
