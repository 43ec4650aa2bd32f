import type { Message } from '@confab/protocol';
import type { ModelMessage } from 'ai';
import { ASSISTANT_ID } from '../ai/assistant.ts';
import type { Context } from '../context.ts';
import { mentions } from '../operations/mentions.ts';
import { findPromptConversation, findPromptHistory, findUserSettings } from '../storage/answers.ts';

const SYSTEM_PROMPT =
  'You are Assistant, an AI assistant inside Confab, a chat app. Answer helpfully and concisely. Format with Markdown where it helps.';

/**
 * What the model sees: the system prompt (Confab's, the conversation's, the asking user's custom
 * instructions) and the latest history that fits the context budget, oldest first. Failed answers
 * and the questions they failed on are left out (see below).
 */
export async function buildContext(ctx: Context, answer: Message, requestedBy: string): Promise<{ system: string; messages: ModelMessage[] }> {
  const conv = await findPromptConversation(ctx.db, answer.conversationId);
  const user = await findUserSettings(ctx.db, requestedBy);
  const rows = await findPromptHistory(ctx.db, answer.conversationId, answer.seq);
  const group = conv?.type === 'group';
  const history: ModelMessage[] = [];
  let budget = ctx.config.ai.contextChars;
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
    if (!content) continue;
    if (!fromAssistant && failedQuestions && (!group || mentions(content, 'assistant'))) continue;
    // Named in a group, and in an assistant conversation for messages by anyone but the asker (the
    // copies of other people's messages in a branch of a group: operations/branches.ts).
    let text = !fromAssistant && (group || row.author_id !== requestedBy) ? `${row.display_name}: ${content}` : content;
    if (history.length === 0) text = text.slice(-ctx.config.ai.contextChars); // the latest always goes in, trimmed to the budget
    else if (text.length > budget) break;
    budget -= text.length;
    history.unshift({ role: fromAssistant ? 'assistant' : 'user', content: text });
  }
  // Providers want the conversation to start with the user and to alternate: merge neighbours.
  const merged: ModelMessage[] = [];
  for (const m of history) {
    const prev = merged[merged.length - 1];
    if (prev && prev.role === m.role) prev.content = `${prev.content as string}\n\n${m.content as string}`;
    else if (merged.length > 0 || m.role === 'user') merged.push({ ...m } as ModelMessage);
  }
  const parts = [SYSTEM_PROMPT];
  if (group) parts.push('This is a group chat; each user message starts with its author\'s name. Answer the latest message that mentions you.');
  if (conv?.system_prompt) parts.push(conv.system_prompt);
  const custom = user?.settings.customInstructions;
  if (typeof custom === 'string' && custom.trim()) parts.push(`The user's custom instructions:\n${custom.slice(0, 4000)}`);
  return { system: parts.join('\n\n'), messages: merged.length ? merged : [{ role: 'user', content: '(no message)' }] };
}
