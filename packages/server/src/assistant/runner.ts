import { ConfabError, type Message } from '@confab/protocol';
import { LIVE_TTL_MS, type StreamRegistry } from '../ai/streams.ts';
import type { AnswerControl, Context } from '../context.ts';
import type { Metrics } from '../metrics.ts';
import { answerModelId } from '../operations/ai.ts';
import type { RedisClients } from '../redis/redis.ts';
import type { MessageRow } from '../storage/rows.ts';
import { claim, createAnswer, release, restart, streamAnswer, type AiStats, type AnswerDeps, type Running } from './answer.ts';
import { closeDeadAnswer, closeOrphans, ControlChannel } from './control.ts';
import { ToolHost } from './tools/index.ts';
import { stillAsks, subscribeTriggers, type Trigger } from './trigger.ts';

export type { AiStats } from './answer.ts';

export interface AiRunnerOptions {
  redis?: RedisClients | undefined;
  metrics?: Metrics | undefined;
}

/**
 * The AI assistant: answers triggers stored on this node (trigger.ts), one answer at a time per
 * conversation (answer.ts), and serves stop and regenerate (ctx.answers) for operations/ai.ts,
 * across nodes through Redis (control.ts). Built before the context, which holds it as
 * AnswerControl; it works once started with that context.
 */
export class AiRunner implements AnswerControl {
  readonly stats: AiStats = { answers: 0, textWrites: 0 };
  private readonly running = new Map<string, Running>();
  /**
   * Conversations that got a new trigger while answering: answer again when done, for the latest
   * trigger, paid by whoever wrote it.
   */
  private readonly pending = new Map<string, Trigger>();
  private deps: AnswerDeps | undefined;
  private control: ControlChannel | undefined;
  private tools: ToolHost | undefined;
  private unsubscribe: (() => void) | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly streams: StreamRegistry,
    private readonly options: AiRunnerOptions = {},
  ) {}

  async start(ctx: Context): Promise<void> {
    const control = new ControlChannel(this.options.redis, ctx.log, {
      stop: (messageId) => this.abortLocal(messageId),
      stopIn: (conversationId) => this.abortConversationLocal(conversationId),
      released: (conversationId) => this.afterAnswerSafely(conversationId),
    });
    this.control = control;
    this.tools = new ToolHost(ctx);
    this.deps = { ctx, streams: this.streams, stats: this.stats, metrics: this.options.metrics, announceRelease: (id) => control.announceRelease(id), tools: this.tools };
    // Without Redis (down at start-up) orphans cannot be told from answers streaming on other
    // nodes: the sweep below tries again.
    await this.closeOrphans().catch((error: unknown) => ctx.log.warn({ err: error }, 'orphan sweep failed'));
    this.unsubscribe = subscribeTriggers(ctx, {
      answer: (conversationId, trigger) => this.answer(conversationId, trigger),
      assistantLeft: (conversationId) => this.stopConversation(conversationId),
    });
    control.start();
    // One timer for all answers: keeps live entries of local streams fresh and closes answers
    // whose node died (their live entry expired).
    this.sweepTimer = setInterval(() => {
      for (const id of this.running.keys()) this.streams.touch(id);
      this.closeOrphans().catch((error: unknown) => ctx.log.warn({ err: error }, 'orphan sweep failed'));
    }, LIVE_TTL_MS / 3);
    this.sweepTimer.unref();
  }

  /** Graceful shutdown: answers in flight end as `error` with the text so far, never left `streaming`. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    clearInterval(this.sweepTimer);
    await this.control?.close();
    for (const run of this.running.values()) {
      run.reason = 'shutdown';
      run.controller.abort();
    }
    await Promise.all([...this.running.values()].map((r) => r.done));
    // After the answers: their MCP calls have ended with them.
    await this.tools?.close();
  }

  /** The context is the runner's once started; stop and regenerate need it. */
  private started(): AnswerDeps {
    if (!this.deps) throw new ConfabError('UNAVAILABLE', 'AI assistants are starting; try again in a moment');
    return this.deps;
  }

  private closeOrphans(): Promise<void> {
    return closeOrphans(this.started(), this.running);
  }

  // ---- answering triggers ----

  /** Claims the conversation (one answer at a time) and starts a new answer; queues when busy. */
  private async answer(conversationId: string, trigger: Trigger): Promise<void> {
    const deps = this.started();
    const claimed = await claim(deps.ctx, conversationId);
    if (!claimed) {
      this.pending.set(conversationId, trigger);
      return;
    }
    try {
      const modelId = await answerModelId(deps.ctx, trigger.authorId, claimed.model);
      const message = await createAnswer(deps, conversationId, modelId);
      this.launch(message, trigger.authorId, modelId);
    } catch (error) {
      await release(deps, conversationId);
      throw error;
    }
  }

  /** `requestedBy` pays: the author of the triggering message, or whoever asked to regenerate. */
  private launch(message: Message, requestedBy: string, modelId: string): void {
    const deps = this.started();
    const controller = new AbortController();
    const run: Running = { conversationId: message.conversationId, controller, done: Promise.resolve() };
    this.running.set(message.id, run);
    run.done = streamAnswer(deps, message, requestedBy, modelId, run)
      .catch((error: unknown) => deps.ctx.log.error({ err: error, messageId: message.id }, 'AI answer failed to finish'))
      .finally(() => {
        this.running.delete(message.id);
        this.afterAnswerSafely(message.conversationId);
      });
  }

  private afterAnswerSafely(conversationId: string): void {
    this.afterAnswer(conversationId).catch((error: unknown) => this.started().ctx.log.error({ err: error, conversationId }, 'AI trigger failed'));
  }

  /** A trigger came while the answer streamed: answer it if it still asks for one. Its author pays, whoever wrote last. */
  private async afterAnswer(conversationId: string): Promise<void> {
    const trigger = this.pending.get(conversationId);
    if (this.closed || !trigger) return;
    this.pending.delete(conversationId);
    if (!(await stillAsks(this.started().ctx, conversationId, trigger))) return;
    await this.answer(conversationId, trigger);
  }

  // ---- stopping ----

  private abortLocal(messageId: string): boolean {
    const run = this.running.get(messageId);
    if (!run) return false;
    run.reason ??= 'stopped';
    run.controller.abort();
    return true;
  }

  /**
   * The assistant left (or was removed from) a conversation: its answers there stop, on whichever
   * node runs them, and nothing queued for it starts.
   */
  private async stopConversation(conversationId: string): Promise<void> {
    this.abortConversationLocal(conversationId);
    await this.control?.requestStopIn(conversationId);
  }

  private abortConversationLocal(conversationId: string): void {
    this.pending.delete(conversationId);
    for (const [id, run] of this.running) if (run.conversationId === conversationId) this.abortLocal(id);
  }

  // ---- AnswerControl: what operations/ai.ts asks, once it has checked access ----

  async stop(answer: MessageRow): Promise<void> {
    const deps = this.started();
    if (this.abortLocal(answer.id)) return;
    const live = await this.streams.get([answer.id]);
    if (live.has(answer.id) && this.control?.crossNode) {
      await this.control.requestStop(answer.id);
      return;
    }
    // Nobody runs it any more (its node died): close it here with the text checkpointed so far.
    await closeDeadAnswer(deps, answer);
  }

  async regenerate(requestedBy: string, conversationId: string, answer: MessageRow | undefined): Promise<Message> {
    const deps = this.started();
    const claimed = await claim(deps.ctx, conversationId);
    if (!claimed) throw new ConfabError('CONFLICT', 'an answer is already being written in this conversation; stop it first');
    try {
      const modelId = await answerModelId(deps.ctx, requestedBy, claimed.model);
      const message = answer ? await restart(deps, answer, modelId) : await createAnswer(deps, conversationId, modelId);
      this.launch(message, requestedBy, modelId);
      return message;
    } catch (error) {
      await release(deps, conversationId);
      throw error;
    }
  }
}
