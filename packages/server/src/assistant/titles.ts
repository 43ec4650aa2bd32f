import { ASSISTANT_ID } from '../ai/assistant.ts';
import { failureLogFields } from '../ai/failures.ts';
import { loadAiSdk } from '../ai/sdk.ts';
import type { Context } from '../context.ts';
import { AiFailure } from '../ai/models.ts';
import { resolveModel } from '../operations/ai.ts';
import { recordUsage, quotaRefusal } from '../operations/usage.ts';
import { findFirstQuestion, findTitleState, setTitleIfUntitled } from '../storage/answers.ts';

/** Titles a new assistant conversation from its first exchange: a cheap model, else the first words. */
export async function maybeTitle(ctx: Context, conversationId: string, requestedBy: string, modelId: string): Promise<void> {
  const conv = await findTitleState(ctx.db, conversationId);
  if (!conv || conv.type !== 'assistant' || conv.title) return;
  const first = await findFirstQuestion(ctx.db, conversationId, ASSISTANT_ID);
  if (!first) return;
  const question = ctx.keys.decrypt(first.content_enc);
  let title = '';
  try {
    // The title model is the admin's choice, so it need not be among those offered; the answer's model was checked.
    const titleModel = ctx.config.ai.titleModel;
    const titleModelId = titleModel ?? modelId;
    const { model, keySource } = await resolveModel(ctx, requestedBy, titleModelId, { unlisted: titleModel !== undefined });
    // Titles are paid like answers, by whoever asked: on the server's keys, not past the allowance
    // (the first words do then); they count as tokens, not as answers.
    if (keySource === 'server' && (await quotaRefusal(ctx, requestedBy))) throw new AiFailure('over the daily allowance');
    const { generateText } = await loadAiSdk();
    let result;
    try {
      result = await generateText({
        model,
        maxOutputTokens: ctx.config.ai.maxOutputTokens,
        system: 'Write a short title (at most 6 words) for a chat that starts with the message below. Answer with the title only, no quotes.',
        prompt: question.slice(0, 2000),
        maxRetries: 0,
        abortSignal: AbortSignal.timeout(15_000),
      });
    } finally {
      const usage = result?.totalUsage;
      await recordUsage(ctx, {
        userId: requestedBy,
        conversationId,
        messageId: null,
        model: titleModelId,
        keySource,
        inputTokens: usage?.inputTokens ?? 0,
        outputTokens: usage?.outputTokens ?? 0,
      });
    }
    title = cleanTitle(result.text);
  } catch (error) {
    ctx.log.info({ conversationId, ...failureLogFields(ctx.config.ai.titleModel ?? modelId, error, false) }, 'title generation failed; using the first words');
  }
  title ||= firstWords(question);
  if (!title) return;
  if (await setTitleIfUntitled(ctx.db, conversationId, title)) ctx.bus.publish({ type: 'conversation_changed', change: { id: conversationId, title } });
}

function cleanTitle(raw: string): string {
  const line = raw.replace(/[*_`#>"“”]/g, '').split('\n').find((l) => l.trim()) ?? '';
  const title = line.trim().replace(/^title:\s*/i, '').replace(/[.\s]+$/, '');
  return title.length > 80 ? `${title.slice(0, 79)}…` : title;
}

export function firstWords(text: string, count = 6): string {
  const words = text.replace(/\s+/g, ' ').trim().split(' ');
  const title = words.slice(0, count).join(' ');
  const cut = title.length > 60 ? `${title.slice(0, 59)}…` : words.length > count ? `${title}…` : title;
  return cut;
}
