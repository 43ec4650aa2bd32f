import type { Message } from '@confab/protocol';
import type { ModelMessage } from 'ai';
import type { Context } from '../context.ts';
import { ASSISTANT_ID } from './assistant.ts';

const SYSTEM_PROMPT =
  'You are Assistant, an AI assistant inside Confab, a chat app. Answer helpfully and concisely. Format with Markdown where it helps.';

/**
 * What the model sees: the system prompt (Confab's, the conversation's, the asking user's custom
 * instructions) and the latest history that fits the context budget, oldest first.
 */
export async function buildContext(ctx: Context, answer: Message, requestedBy: string): Promise<{ system: string; messages: ModelMessage[] }> {
  const [conv] = await ctx.db.query<{ type: string; system_prompt: string | null }>('SELECT type, system_prompt FROM conversations WHERE id = $1', [answer.conversationId]);
  const [user] = await ctx.db.query<{ settings: { customInstructions?: unknown } }>('SELECT settings FROM users WHERE id = $1', [requestedBy]);
  const rows = await ctx.db.query<{ author_id: string; content_enc: string; display_name: string; status: string }>(
    `SELECT m.author_id, m.content_enc, u.display_name, m.status FROM messages m JOIN users u ON u.id = m.author_id
      WHERE m.conversation_id = $1 AND m.seq < $2 AND m.deleted_at IS NULL AND m.kind <> 'system'
        AND m.status IN ('complete', 'stopped')
      ORDER BY m.seq DESC LIMIT 400`,
    [answer.conversationId, answer.seq],
  );
  const group = conv?.type === 'group';
  const history: ModelMessage[] = [];
  let budget = ctx.config.ai.contextChars;
  for (const row of rows) {
    const content = ctx.keys.decrypt(row.content_enc);
    if (!content) continue;
    const fromAssistant = row.author_id === ASSISTANT_ID;
    let text = group && !fromAssistant ? `${row.display_name}: ${content}` : content;
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
