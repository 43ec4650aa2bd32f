import type { Message } from '@confab/protocol';
import type { ModelMessage } from 'ai';
import { ASSISTANT_ID } from '../ai/assistant.ts';
import type { Context } from '../context.ts';
import { mentions } from '../operations/mentions.ts';
import { modelCapabilities } from '../ai/models.ts';
import { findPromptAttachments, findPromptConversation, findPromptHistory, findUserSettings, type PromptAttachmentRow } from '../storage/answers.ts';
import { attachmentParts, MAX_PROMPT_IMAGES, SEPARATOR, type AttachmentBudget, type PromptPart } from './attachments.ts';

const SYSTEM_PROMPT =
  'You are Assistant, an AI assistant inside Confab, a chat app. Answer helpfully and concisely. Format with Markdown where it helps.';

/**
 * What the model sees: the system prompt (Confab's, the conversation's, the asking user's custom
 * instructions) and the latest history that fits the context budget, oldest first, each message
 * with its attachments (attachments.ts: images for a model that sees them, documents as their
 * text within the same budget, notes for the rest). Failed answers and the questions they failed
 * on are left out (see below). `modelId` is the model that will answer: it decides whether images go.
 */
export async function buildContext(ctx: Context, answer: Message, requestedBy: string, modelId: string): Promise<{ system: string; messages: ModelMessage[] }> {
  const conv = await findPromptConversation(ctx.db, answer.conversationId);
  const user = await findUserSettings(ctx.db, requestedBy);
  const rows = await findPromptHistory(ctx.db, answer.conversationId, answer.seq);
  // Resolved per message, with the download rule for whoever asked (see findPromptAttachments).
  const files = new Map<string, PromptAttachmentRow[]>();
  const questions = rows.filter((r) => r.author_id !== ASSISTANT_ID).map((r) => r.id);
  for (const a of await findPromptAttachments(ctx.db, answer.conversationId, questions, requestedBy)) {
    files.set(a.message_id, [...(files.get(a.message_id) ?? []), a]);
  }
  const group = conv?.type === 'group';
  const history: Turn[] = [];
  const budget: AttachmentBudget = { chars: ctx.config.ai.contextChars, images: MAX_PROMPT_IMAGES, vision: modelCapabilities(ctx.config.ai, modelId).vision };
  // Newest first. A failed answer (status 'error') is left out, and so is the question it failed on:
  // the messages that asked for it since the assistant's previous answer (in a group, those that
  // mention it). Otherwise that question would ride along, unanswered, with the next one, and a
  // question that made the provider fail would make every later one fail too. Retry regenerates it.
  let failedQuestions = false;
  for (const row of rows) {
    const fromAssistant = row.author_id === ASSISTANT_ID;
    if (fromAssistant) {
      failedQuestions = row.status === 'error';
      if (failedQuestions) continue;
    }
    const content = ctx.keys.decrypt(row.content_enc);
    const attached = fromAssistant ? [] : (files.get(row.id) ?? []);
    if (!content && attached.length === 0) continue;
    if (!fromAssistant && failedQuestions && (!group || mentions(content, 'assistant'))) continue;
    // Named in a group, and in an assistant conversation for messages by anyone but the asker (the
    // copies of other people's messages in a branch of a group: operations/branches.ts).
    const named = !fromAssistant && (group || row.author_id !== requestedBy);
    let text = named ? (content ? `${row.display_name}: ${content}` : `${row.display_name}:`) : content;
    if (history.length === 0) text = text.slice(-ctx.config.ai.contextChars); // the latest always goes in, trimmed to the budget
    else if (text.length > budget.chars) break;
    budget.chars -= text.length;
    // The message's own text first, then its attachments in the room left (the newest get it first).
    const parts: PromptPart[] = text ? [{ type: 'text', text }] : [];
    parts.push(...(await attachmentParts(ctx, attached, budget)));
    history.unshift({ role: fromAssistant ? 'assistant' : 'user', parts });
  }
  // Providers want the conversation to start with the user and to alternate: merge neighbours.
  const merged: Turn[] = [];
  for (const m of history) {
    const prev = merged[merged.length - 1];
    if (prev && prev.role === m.role) prev.parts.push(...m.parts);
    else if (merged.length > 0 || m.role === 'user') merged.push({ role: m.role, parts: [...m.parts] });
  }
  const parts = [SYSTEM_PROMPT];
  if (group) parts.push('This is a group chat; each user message starts with its author\'s name. Answer the latest message that mentions you.');
  // The conversation's own (PATCH /api/conversations/:id { systemPrompt }), stored encrypted; read
  // for every answer, so a change applies from the next one.
  if (conv?.system_prompt) parts.push(ctx.keys.decrypt(conv.system_prompt));
  const custom = user?.settings.customInstructions;
  if (typeof custom === 'string' && custom.trim()) parts.push(`The user's custom instructions:\n${custom.slice(0, 4000)}`);
  return { system: parts.join('\n\n'), messages: merged.length ? merged.map(toModelMessage) : [{ role: 'user', content: '(no message)' }] };
}

interface Turn {
  role: 'user' | 'assistant';
  parts: PromptPart[];
}

/** Neighbouring text parts joined by a blank line; plain text when no image is among them (as before attachments). */
function toModelMessage(turn: Turn): ModelMessage {
  const parts: PromptPart[] = [];
  for (const part of turn.parts) {
    const prev = parts[parts.length - 1];
    if (part.type === 'text' && prev?.type === 'text') parts[parts.length - 1] = { type: 'text', text: `${prev.text}${SEPARATOR}${part.text}` };
    else parts.push(part);
  }
  if (turn.role === 'assistant') return { role: 'assistant', content: parts.map((p) => (p.type === 'text' ? p.text : '')).join('') };
  if (parts.every((p) => p.type === 'text')) return { role: 'user', content: parts.map((p) => p.text).join('') };
  return { role: 'user', content: parts };
}
