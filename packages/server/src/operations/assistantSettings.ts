import { ConfabError, type Message, type UpdateConversationBody } from '@confab/protocol';
import type { Context } from '../context.ts';
import { findSystemPrompt, setConversationModel, setSystemPrompt } from '../storage/conversations.ts';
import type { Queryable } from '../storage/db.ts';
import type { MembershipRow } from '../storage/rows.ts';
import { findDisplayNames } from '../storage/users.ts';
import { isAdmin } from './access.ts';
import { appendSystemMessage } from './messages.ts';

/** `openai:gpt-4o-mini` → `gpt-4o-mini`, as the apps label models. */
const modelName = (model: string) => model.slice(model.indexOf(':') + 1);

/**
 * Applies `model` and `systemPrompt` of a PATCH (docs/ai.md, "Model and system prompt per
 * conversation") inside the caller's transaction, the conversation locked (`me` from requireMember
 * with `lock`). Assistant conversations: the owner; groups: owners and admins; never a direct
 * conversation. The model was checked against the caller's list before (requireListedModel).
 * Each real change leaves a system message, as a rename does (returned, to publish after commit);
 * setting what is already set changes nothing. The next answer uses what is set here: the runner
 * reads the model when it claims the conversation, the prompt when it builds the context.
 */
export async function applyAssistantSettings(
  ctx: Context,
  tx: Queryable,
  me: MembershipRow,
  patch: Pick<UpdateConversationBody, 'model' | 'systemPrompt'>,
): Promise<{ messages: Message[]; changed: boolean }> {
  if (me.type === 'direct') throw new ConfabError('FORBIDDEN', 'a direct conversation has no assistant');
  const allowed = me.type === 'assistant' ? me.role === 'owner' : isAdmin(me.role);
  if (!allowed) {
    throw new ConfabError('FORBIDDEN', me.type === 'assistant' ? 'only the owner can change the model or system prompt' : "only owners and admins can change the assistant's model or system prompt");
  }
  const id = me.conversation_id;
  const who = (await findDisplayNames(tx, [me.user_id])).get(me.user_id) ?? 'Someone';
  const messages: Message[] = [];
  let changed = false;
  if (patch.model !== undefined && (await setConversationModel(tx, id, patch.model))) {
    changed = true;
    messages.push(await appendSystemMessage(ctx, tx, id, me.user_id, `${who} switched the model to ${modelName(patch.model)}`));
  }
  if (patch.systemPrompt !== undefined) {
    // Encrypted at rest like the messages it steers; compared as text (each encryption differs).
    const stored = await findSystemPrompt(tx, id);
    const current = stored === null ? null : ctx.keys.decrypt(stored);
    const next = patch.systemPrompt || null;
    if (next !== current) {
      await setSystemPrompt(tx, id, next === null ? null : ctx.keys.encrypt(next));
      changed = true;
      const text = next === null ? `${who} removed the system prompt` : current === null ? `${who} set a system prompt` : `${who} changed the system prompt`;
      messages.push(await appendSystemMessage(ctx, tx, id, me.user_id, text));
    }
  }
  return { messages, changed };
}

/** The stored (encrypted) system prompt as text, for the prompt and for members' views. */
export function systemPromptText(ctx: Context, stored: string | null | undefined): string | null {
  return stored ? ctx.keys.decrypt(stored) : null;
}
