import { ConfabError, type Message, type ToolCall } from '@confab/protocol';
import { ASSISTANT_ID } from '../ai/assistant.ts';
import { describeFailure, failureLogFields, isConnectionFailure } from '../ai/failures.ts';
import { loadAiSdk } from '../ai/sdk.ts';
import type { StreamRegistry } from '../ai/streams.ts';
import type { Context } from '../context.ts';
import { newId } from '../ids.ts';
import type { Metrics } from '../metrics.ts';
import { AiFailure } from '../ai/models.ts';
import { resolveModel } from '../operations/ai.ts';
import { quotaRefusal, recordUsage } from '../operations/usage.ts';
import { hydrateMessages, keepPreviousVersion, nextSeq } from '../operations/messages.ts';
import { checkpointAnswer, claimConversation, releaseConversation, setAnswerFinal, setAnswerRestarted, touchActivity } from '../storage/answers.ts';
import { deleteAttachmentsOfMessage } from '../storage/attachments.ts';
import { insertMessage } from '../storage/messages.ts';
import { searchTerms } from '../search/terms.ts';
import type { MessageRow } from '../storage/rows.ts';
import { iso } from '../operations/users.ts';
import { announceAnswering, keepAnswering } from './presence.ts';
import { buildContext } from './prompt.ts';
import { maybeTitle } from './titles.ts';
import { ToolCallLog, type ToolHost } from './tools/index.ts';

// One answer's life: claim the conversation, create (or restart) the answer message, stream the
// provider's pieces with checkpoints, and finish with the conversation's next seq.

export const INTERRUPTED = 'The answer was interrupted because the server restarted. Regenerate to try again.';

export interface AiStats {
  answers: number;
  /** Database writes of answer text: checkpoints plus the final write. */
  textWrites: number;
}

/** An answer streaming on this node. */
export interface Running {
  conversationId: string;
  controller: AbortController;
  /** Why it was aborted, when it was. */
  reason?: 'stopped' | 'timeout' | 'shutdown';
  done: Promise<void>;
}

/** What writing answers needs besides the context; the runner (runner.ts) holds one. */
export interface AnswerDeps {
  ctx: Context;
  streams: StreamRegistry;
  stats: AiStats;
  metrics?: Metrics | undefined;
  /** Tells every node the conversation is free again (control.ts), so a trigger queued elsewhere gets its answer. */
  announceRelease(conversationId: string): void;
  /** The tools answers may call (tools/); none when absent. */
  tools?: ToolHost | undefined;
}

function countWrite(deps: AnswerDeps): void {
  deps.stats.textWrites++;
  deps.metrics?.aiTextWrites.inc();
}

/**
 * One answer at a time per conversation, enforced in the database (`conversations.generating`), so
 * two nodes cannot both answer. The conversation's stored model comes back: which model that means
 * depends on who pays (answerModelId in operations/ai.ts). Undefined when it is taken.
 */
export async function claim(ctx: Context, conversationId: string): Promise<{ model: string | null } | undefined> {
  return claimConversation(ctx.db, conversationId);
}

export async function release(deps: AnswerDeps, conversationId: string): Promise<void> {
  await releaseConversation(deps.ctx.db, conversationId);
  deps.ctx.bus.publish({ type: 'conversation_changed', change: { id: conversationId, generating: false } });
  deps.announceRelease(conversationId);
}

/**
 * A new answer message: the conversation's next seq, `streaming`, empty. It does not move the
 * conversation's activity, and members' unread counts leave it out while it streams
 * (storage/members.ts): the answer counts as news when it is finished (finishAnswer).
 */
export async function createAnswer(deps: AnswerDeps, conversationId: string, modelId: string): Promise<Message> {
  const { ctx, streams } = deps;
  const id = newId();
  // Registered before the row exists, so the orphan sweep never mistakes a fresh answer for a dead one.
  await streams.begin(id);
  const answer = { id, conversationId, authorId: ASSISTANT_ID, kind: 'text', contentEnc: ctx.keys.encrypt(''), status: 'streaming', model: modelId } as const;
  const row = await ctx.db.transaction((tx) => insertMessage(tx, answer, { activity: false }));
  if (!row) {
    await streams.end(id);
    throw new ConfabError('NOT_FOUND', 'no such conversation');
  }
  const message = { ...(await hydrateMessages(ctx, ctx.db, [row]))[0]!, streamIndex: 0 };
  ctx.bus.publish({ type: 'message_stored', message });
  ctx.bus.publish({ type: 'conversation_changed', change: { id: conversationId, generating: true } });
  return message;
}

/** An existing answer written again as a new version (the previous text is kept in message_versions). */
export async function restart(deps: AnswerDeps, answer: MessageRow, modelId: string): Promise<Message> {
  const { ctx } = deps;
  const id = answer.id;
  await deps.streams.begin(id);
  let imagesDropped = 0;
  const message = await ctx.db.transaction(async (tx) => {
    await keepPreviousVersion(tx, id, answer.content_enc, answer.edited_at ?? answer.created_at, answer.model);
    // Images the previous version drew go with it (the trigger on attachments queues their files).
    imagesDropped = await deleteAttachmentsOfMessage(tx, id);
    // Like a new answer: activity moves when it is finished.
    const seq = await nextSeq(tx, answer.conversation_id, false);
    const rows = await setAnswerRestarted(tx, id, { contentEnc: ctx.keys.encrypt(''), model: modelId, seq });
    return { ...(await hydrateMessages(ctx, tx, rows))[0]!, streamIndex: 0 };
  });
  if (imagesDropped > 0) ctx.jobs.kick();
  ctx.bus.publish({ type: 'message_changed', message });
  ctx.bus.publish({ type: 'conversation_changed', change: { id: message.conversationId, generating: true } });
  return message;
}

/**
 * Streams one answer: pieces go to every member's sockets as `ai:delta` (through the bus, so
 * through Redis to every node), the text is checkpointed to the database at most every
 * `checkpointMs`, and the end takes the conversation's next seq with the final text.
 * `requestedBy` pays: the author of the triggering message, or whoever asked to regenerate.
 */
export async function streamAnswer(deps: AnswerDeps, message: Message, requestedBy: string, modelId: string, run: Running): Promise<void> {
  const { ctx, streams } = deps;
  const ai = ctx.config.ai;
  let text = '';
  let pieces = 0;
  let lastCheckpoint = Date.now();
  let checkpoint: Promise<unknown> | undefined;
  let status: Message['status'] = 'complete';
  let reason: string | null = null;
  /** Set once the provider is to be asked: only such answers go into the usage ledger. */
  let keySource: 'user' | 'server' | undefined;
  const usage = { input: 0, output: 0 };
  // The assistant shows as answering in the conversation until finishAnswer says otherwise.
  const answering = keepAnswering(ctx, message.conversationId);
  const calls = new ToolCallLog(ctx, streams, message, () => countWrite(deps));
  // One timer per answer, refreshed on every piece: a provider that goes quiet is given up on.
  // While a tool runs the provider waits for it: the tool's own time bound applies then.
  const idle = setTimeout(() => {
    if (calls.running > 0) {
      idle.refresh();
      return;
    }
    run.reason ??= 'timeout';
    run.controller.abort();
  }, ai.idleTimeoutMs);
  try {
    // Checked again now, for the one who pays: their key or the model may be gone since the
    // conversation was created. A refusal ends the answer here, before any provider request.
    const { model, keySource: source } = await resolveModel(ctx, requestedBy, modelId);
    // On the server's keys, within the payer's daily allowance (their own key is not limited).
    if (source === 'server') {
      const refusal = await quotaRefusal(ctx, requestedBy);
      if (refusal) throw new AiFailure(refusal);
    }
    keySource = source;
    const { streamText, stepCountIs } = await loadAiSdk();
    const { system, messages } = await buildContext(ctx, message, requestedBy, modelId);
    // Tools (tools/): several steps, the last one without tools so that the answer ends in words.
    const tools = await deps.tools?.forAnswer(message, requestedBy);
    const maxSteps = tools ? deps.tools!.maxSteps : 1;
    /** A new step's text starts a new paragraph after the previous step's. */
    let paragraph = false;
    // A request that never reached the provider is sent once more, at once, while nothing has
    // been streamed (so nothing can show twice); every other failure ends the answer. The AI
    // SDK's own retries stay off: they would also wait out 429s and 5xx for seconds.
    for (let attempt = 1; ; attempt++) {
      try {
        const result = streamText({
          model,
          system,
          messages,
          maxOutputTokens: ai.maxOutputTokens,
          abortSignal: run.controller.signal,
          maxRetries: 0,
          onError: () => {},
          ...(tools ? { tools, stopWhen: stepCountIs(maxSteps), prepareStep: ({ stepNumber }: { stepNumber: number }) => (stepNumber >= maxSteps - 1 ? { activeTools: [] } : undefined) } : {}),
        });
        for await (const raw of result.fullStream) {
          let part = raw;
          if (part.type === 'text-delta' && part.text && paragraph) {
            paragraph = false;
            if (text && !text.endsWith('\n\n')) part = { ...part, text: `${text.endsWith('\n') ? '\n' : '\n\n'}${part.text}` };
          }
          if (part.type === 'text-delta' && part.text) {
            idle.refresh();
            // Recorded for late joiners before it is announced (see ai/streams.ts).
            streams.append(message.id, part.text);
            ctx.bus.publish({ type: 'answer_delta', delta: { conversationId: message.conversationId, messageId: message.id, index: pieces, text: part.text } });
            text += part.text;
            pieces++;
            if (!checkpoint && Date.now() - lastCheckpoint >= ai.checkpointMs) {
              lastCheckpoint = Date.now();
              countWrite(deps);
              // Only while still streaming: a stop or the end may already have written the final state.
              checkpoint = checkpointAnswer(ctx.db, message.id, ctx.keys.encrypt(text))
                .catch((error: unknown) => ctx.log.warn({ err: error }, 'checkpoint failed'))
                .finally(() => (checkpoint = undefined));
            }
          } else if (part.type === 'finish-step') {
            // What the provider reported (usage arrives with the end of each step).
            usage.input += part.usage.inputTokens ?? 0;
            usage.output += part.usage.outputTokens ?? 0;
            paragraph = true;
          } else if (part.type === 'tool-call') {
            idle.refresh();
            calls.start(part.toolCallId, part.toolName, part.input);
          } else if (part.type === 'tool-result') {
            idle.refresh();
            calls.done(part.toolCallId, part.output);
          } else if (part.type === 'tool-error') {
            idle.refresh();
            calls.failed(part.toolCallId, toolErrorText(part.error));
          } else if (part.type === 'error') {
            throw part.error;
          } else if (part.type === 'abort') {
            break;
          }
        }
        break;
      } catch (error) {
        // Never once a tool ran: it would run again.
        if (attempt < 2 && pieces === 0 && calls.calls.length === 0 && !run.reason && isConnectionFailure(error)) continue;
        throw error;
      }
    }
    if (run.reason) throw new Error(`aborted: ${run.reason}`);
  } catch (error) {
    if (run.reason === 'stopped') status = 'stopped';
    else {
      status = 'error';
      reason = run.reason === 'shutdown' ? INTERRUPTED : describeFailure(error, run.reason === 'timeout');
      if (run.reason !== 'shutdown') ctx.log.warn({ messageId: message.id, ...failureLogFields(modelId, error, run.reason === 'timeout') }, 'AI answer ended in error');
    }
  } finally {
    clearTimeout(idle);
    // No refresh may come after finishAnswer's "not answering". Should the end below fail, nothing
    // says it: clients end the indicator after the typing TTL, and the orphan sweep later closes
    // the answer (and says it then).
    answering.stop();
  }
  if (status !== 'complete') calls.endRunning(status === 'stopped' ? 'stopped' : 'error');
  await checkpoint;
  await calls.flushed();
  // Before the end is announced, so whoever sees the answer end sees it counted. A stopped or
  // failed answer counts with what the provider reported (0 when it reported nothing).
  deps.metrics?.aiTokens.inc({ direction: 'input' }, usage.input);
  deps.metrics?.aiTokens.inc({ direction: 'output' }, usage.output);
  if (keySource) {
    await recordUsage(ctx, {
      userId: requestedBy,
      conversationId: message.conversationId,
      messageId: message.id,
      model: modelId,
      keySource,
      inputTokens: usage.input,
      outputTokens: usage.output,
    });
  }
  const final = await finishAnswer(deps, message, text, status, reason, requestedBy, calls.calls.length > 0 ? calls.calls : undefined);
  await streams.end(message.id);
  deps.stats.answers++;
  deps.metrics?.aiAnswers.inc({ status });
  if (final) await maybeTitle(ctx, message.conversationId, requestedBy, modelId);
}

/**
 * The final state takes the conversation's next seq, so `sync` delivers it to everyone; its text is
 * indexed for search. This is when the answer becomes news: the conversation's activity moves (its
 * new `lastActivityAt` goes out with `generating: false`) and members' unread counts include it from
 * now on. `requestedBy` (unknown for answers closed after their node died) is told it is ready.
 * `toolCalls`: the answer's calls (by default the ones checkpointed, as a closed orphan has them);
 * calls left running end with the answer.
 */
export async function finishAnswer(
  deps: AnswerDeps,
  message: Message,
  text: string,
  status: Message['status'],
  reason: string | null,
  requestedBy?: string,
  toolCalls: ToolCall[] | undefined = message.toolCalls,
): Promise<Message | undefined> {
  const { ctx } = deps;
  countWrite(deps);
  const ended = new Date().toISOString();
  const calls = toolCalls?.map((c): ToolCall => (c.status === 'running' ? { ...c, status: status === 'stopped' ? 'stopped' : 'error', endedAt: ended } : c));
  const { final, lastActivityAt } = await ctx.db.transaction(async (tx) => {
    const seq = await nextSeq(tx, message.conversationId, false);
    const terms = searchTerms(ctx.keys.searchKey, message.conversationId, text);
    const rows = await setAnswerFinal(tx, message.id, {
      contentEnc: ctx.keys.encrypt(text),
      status,
      reason,
      seq,
      searchTerms: terms,
      ...(calls?.length ? { toolCallsEnc: ctx.keys.encrypt(JSON.stringify(calls)) } : {}),
    });
    await releaseConversation(tx, message.conversationId);
    // Only an answer that was still streaming (a racing stop may have finished it already).
    const activity = rows.length > 0 ? await touchActivity(tx, message.conversationId) : undefined;
    return { final: (await hydrateMessages(ctx, tx, rows))[0], lastActivityAt: activity && iso(activity) };
  });
  if (final) ctx.bus.publish({ type: 'answer_completed', message: final, status, ...(requestedBy ? { requestedBy } : {}) });
  ctx.bus.publish({ type: 'conversation_changed', change: { id: message.conversationId, generating: false, ...(lastActivityAt ? { lastActivityAt } : {}) } });
  announceAnswering(ctx, message.conversationId, false);
  deps.announceRelease(message.conversationId);
  return final;
}

/** A tool's error as the people in the conversation read it (tools/guard.ts words them). */
function toolErrorText(error: unknown): string {
  if (error instanceof Error && error.name === 'ToolFailure') return error.message;
  if (error instanceof Error && error.name === 'AbortError') return 'The call was stopped.';
  // The AI SDK's own (e.g. the model's input did not match the tool's schema).
  const text = error instanceof Error ? error.message : String(error);
  return text.slice(0, 500) || 'The tool failed.';
}
