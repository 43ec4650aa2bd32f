import { ConfabError, type Message } from '@confab/protocol';
import type { DomainEventOf } from '../bus/bus.ts';
import type { Context } from '../context.ts';
import type { Metrics } from '../metrics.ts';
import { newId } from '../ids.ts';
import { mentions } from '../operations/mentions.ts';
import { hydrateMessages, keepPreviousVersion, MESSAGE_COLUMNS, nextSeq } from '../operations/messages.ts';
import type { MessageRow } from '../storage/rows.ts';
import { redisCall, type RedisClients } from '../realtime/redis.ts';
import { ASSISTANT_ID } from './assistant.ts';
import { describeFailure, failureLogFields, isConnectionFailure } from './failures.ts';
import { answerModelId, resolveModel } from './models.ts';
import { buildContext } from './prompt.ts';
import { loadAiSdk } from './sdk.ts';
import { LIVE_TTL_MS, type StreamRegistry } from './streams.ts';
import { maybeTitle } from './titles.ts';

const INTERRUPTED = 'The answer was interrupted because the server restarted. Regenerate to try again.';

export interface AiRunnerOptions {
  redis?: RedisClients | undefined;
  metrics?: Metrics | undefined;
}

export interface AiStats {
  answers: number;
  /** Database writes of answer text: checkpoints plus the final write. */
  textWrites: number;
}

interface Running {
  conversationId: string;
  controller: AbortController;
  /** Why it was aborted, when it was. */
  reason?: 'stopped' | 'timeout' | 'shutdown';
  done: Promise<void>;
}

/** The message that asked for an answer: its author pays for it. */
interface Trigger {
  messageId: string;
  authorId: string;
}

interface ConversationInfo {
  type: 'direct' | 'group' | 'assistant';
}

/**
 * Runs AI answers. It listens to messages stored on THIS node (the bus is per node, so each
 * message triggers exactly one answer across the cluster), and streams each answer:
 * pieces go to every member's sockets as `ai:delta` (through the bus, so through Redis to every
 * node), the text is checkpointed to the database at most every `checkpointMs`, and the end takes
 * the conversation's next seq with the final text. One answer at a time per conversation, enforced
 * in the database (`conversations.generating`), so two nodes cannot both answer.
 */
export class AiRunner {
  readonly stats: AiStats = { answers: 0, textWrites: 0 };
  private readonly running = new Map<string, Running>();
  /**
   * Conversations that got a new trigger while answering: answer again when done, for the latest
   * trigger, paid by whoever wrote it.
   */
  private readonly pending = new Map<string, Trigger>();
  private readonly conversationTypes = new Map<string, ConversationInfo>();
  private unsubscribe: (() => void) | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly controlChannel: string | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly streams: StreamRegistry,
    private readonly options: AiRunnerOptions = {},
  ) {
    this.controlChannel = options.redis ? `${options.redis.prefix}ai:control` : undefined;
  }

  async start(): Promise<void> {
    // Without Redis (down at start-up) orphans cannot be told from answers streaming on other
    // nodes: the sweep below tries again.
    await this.closeOrphans().catch((error: unknown) => this.ctx.log.warn({ err: error }, 'orphan sweep failed'));
    const unsubscribes = [
      this.ctx.bus.subscribe('message_stored', (event) => this.onMessageStored(event)),
      this.ctx.bus.subscribe('membership', (event) => this.onMembership(event)),
    ];
    this.unsubscribe = () => {
      for (const unsubscribe of unsubscribes) unsubscribe();
    };
    if (this.options.redis && this.controlChannel) {
      // Stop requests reach whichever node runs the answer. Not awaited: with Redis down the
      // subscription waits for it (and fails only when the node closes first).
      const { sub } = this.options.redis;
      sub.subscribe(this.controlChannel).catch((error: unknown) => this.ctx.log.warn({ err: error }, 'AI control subscription failed'));
      sub.on('message', this.onControl);
    }
    // One timer for all answers: keeps live entries of local streams fresh and closes answers
    // whose node died (their live entry expired).
    this.sweepTimer = setInterval(() => {
      for (const id of this.running.keys()) this.streams.touch(id);
      this.closeOrphans().catch((error: unknown) => this.ctx.log.warn({ err: error }, 'orphan sweep failed'));
    }, LIVE_TTL_MS / 3);
    this.sweepTimer.unref();
  }

  /** Graceful shutdown: answers in flight end as `error` with the text so far, never left `streaming`. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    clearInterval(this.sweepTimer);
    if (this.options.redis && this.controlChannel) {
      const { sub } = this.options.redis;
      sub.off('message', this.onControl);
      // While Redis is away the command would wait for it; the connection is closed next anyway.
      if (sub.status === 'ready') await sub.unsubscribe(this.controlChannel).catch(() => {});
    }
    for (const run of this.running.values()) {
      run.reason = 'shutdown';
      run.controller.abort();
    }
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private countWrite(): void {
    this.stats.textWrites++;
    this.options.metrics?.aiTextWrites.inc();
  }

  get activeAnswers(): number {
    return this.running.size;
  }

  private readonly onControl = (channel: string, raw: string) => {
    if (channel !== this.controlChannel) return;
    try {
      const { stop, stopIn, released } = JSON.parse(raw) as { stop?: string; stopIn?: string; released?: string };
      if (stop) this.abortLocal(stop, 'stopped');
      if (stopIn) this.abortConversationLocal(stopIn);
      if (released) this.afterAnswerSafely(released);
    } catch {
      /* not ours */
    }
  };

  /** The assistant left: its answers there stop. */
  private onMembership(event: DomainEventOf<'membership'>): void {
    if (this.closed || event.userId !== ASSISTANT_ID || event.joined) return;
    this.stopConversation(event.conversationId).catch((error: unknown) => this.ctx.log.warn({ err: error }, 'stopping answers of a conversation the assistant left failed'));
  }

  /** Stored on this node (the bus carries nothing from other nodes): one answer per trigger. */
  private onMessageStored(event: DomainEventOf<'message_stored'>): void {
    if (this.closed || event.repeat) return;
    const { message } = event;
    if (message.authorId === ASSISTANT_ID || message.kind === 'system' || message.deletedAt) return;
    this.considerTrigger(message).catch((error: unknown) => this.ctx.log.error({ err: error, conversationId: message.conversationId }, 'AI trigger failed'));
  }

  /**
   * Assistant conversations answer every message; groups answer messages that mention @assistant.
   * Either way only while the assistant is a member, and paid by the message's author.
   */
  private async considerTrigger(message: Message): Promise<void> {
    let info = this.conversationTypes.get(message.conversationId);
    if (!info) {
      const [row] = await this.ctx.db.query<ConversationInfo>('SELECT type FROM conversations WHERE id = $1', [message.conversationId]);
      if (!row) return;
      info = row;
      if (this.conversationTypes.size > 10_000) this.conversationTypes.clear();
      this.conversationTypes.set(message.conversationId, info);
    }
    if (info.type === 'direct') return;
    if (info.type === 'group' && !mentions(message.content, 'assistant')) return;
    if (!(await this.assistantIsMember(message.conversationId))) return;
    await this.answer(message.conversationId, { messageId: message.id, authorId: message.authorId });
  }

  private async assistantIsMember(conversationId: string): Promise<boolean> {
    const rows = await this.ctx.db.query('SELECT 1 FROM conversation_members WHERE conversation_id = $1 AND user_id = $2', [conversationId, ASSISTANT_ID]);
    return rows.length > 0;
  }

  /** Claims the conversation (one answer at a time) and starts a new answer; queues when busy. */
  private async answer(conversationId: string, trigger: Trigger): Promise<void> {
    const claim = await this.claim(conversationId);
    if (!claim) {
      this.pending.set(conversationId, trigger);
      return;
    }
    try {
      const modelId = await answerModelId(this.ctx, trigger.authorId, claim.model);
      const message = await this.createAnswer(conversationId, modelId);
      this.launch(message, trigger.authorId, modelId);
    } catch (error) {
      await this.release(conversationId);
      throw error;
    }
  }

  /** The conversation's stored model comes back: which model that means depends on who pays (answerModelId). */
  private async claim(conversationId: string): Promise<{ model: string | null } | undefined> {
    const [row] = await this.ctx.db.query<{ model: string | null }>(
      'UPDATE conversations SET generating = true WHERE id = $1 AND NOT generating RETURNING model',
      [conversationId],
    );
    return row;
  }

  private async release(conversationId: string): Promise<void> {
    await this.ctx.db.query('UPDATE conversations SET generating = false WHERE id = $1', [conversationId]);
    this.ctx.bus.publish({ type: 'conversation_changed', change: { id: conversationId, generating: false } });
    this.announceRelease(conversationId);
  }

  /**
   * A mention stored on another node while this one answered is queued there: tell every node the
   * conversation is free, so the one holding it answers it (this node does so in launch()).
   */
  private announceRelease(conversationId: string): void {
    if (!this.options.redis || !this.controlChannel) return;
    this.options.redis.pub.publish(this.controlChannel, JSON.stringify({ released: conversationId })).catch((error: unknown) => this.ctx.log.warn({ err: error }, 'announcing a free conversation failed'));
  }

  /** A new answer message: the conversation's next seq, `streaming`, empty. */
  private async createAnswer(conversationId: string, modelId: string): Promise<Message> {
    const id = newId();
    // Registered before the row exists, so the orphan sweep never mistakes a fresh answer for a dead one.
    await this.streams.begin(id);
    const [row] = await this.ctx.db.query<MessageRow>(
      `WITH conv AS (SELECT id, last_seq FROM conversations WHERE id = $1 FOR UPDATE),
       ins AS (
         INSERT INTO messages AS m (id, conversation_id, seq, updated_seq, author_id, kind, content_enc, status, model)
         SELECT $2, conv.id, conv.last_seq + 1, conv.last_seq + 1, $3, 'text', $4, 'streaming', $5 FROM conv
         RETURNING ${MESSAGE_COLUMNS}
       ), bump AS (
         UPDATE conversations c SET last_seq = ins.seq, last_activity_at = now() FROM ins WHERE c.id = ins.conversation_id
       )
       SELECT * FROM ins`,
      [conversationId, id, ASSISTANT_ID, this.ctx.keys.encrypt(''), modelId],
    );
    if (!row) {
      await this.streams.end(id);
      throw new ConfabError('NOT_FOUND', 'no such conversation');
    }
    const message = { ...(await hydrateMessages(this.ctx, this.ctx.db, [row]))[0]!, streamIndex: 0 };
    this.ctx.bus.publish({ type: 'message_stored', message });
    this.ctx.bus.publish({ type: 'conversation_changed', change: { id: conversationId, generating: true } });
    return message;
  }

  /** `requestedBy` pays: the author of the triggering message, or whoever asked to regenerate. */
  private launch(message: Message, requestedBy: string, modelId: string): void {
    const controller = new AbortController();
    const run: Running = { conversationId: message.conversationId, controller, done: Promise.resolve() };
    this.running.set(message.id, run);
    run.done = this.stream(message, requestedBy, modelId, run)
      .catch((error: unknown) => this.ctx.log.error({ err: error, messageId: message.id }, 'AI answer failed to finish'))
      .finally(() => {
        this.running.delete(message.id);
        this.afterAnswerSafely(message.conversationId);
      });
  }

  private async stream(message: Message, requestedBy: string, modelId: string, run: Running): Promise<void> {
    const { ctx } = this;
    const ai = ctx.config.ai;
    let text = '';
    let pieces = 0;
    let lastCheckpoint = Date.now();
    let checkpoint: Promise<unknown> | undefined;
    let status: Message['status'] = 'complete';
    let reason: string | null = null;
    // One timer per answer, refreshed on every piece: a provider that goes quiet is given up on.
    const idle = setTimeout(() => {
      run.reason ??= 'timeout';
      run.controller.abort();
    }, ai.idleTimeoutMs);
    try {
      // Checked again now, for the one who pays: their key or the model may be gone since the
      // conversation was created. A refusal ends the answer here, before any provider request.
      const { model } = await resolveModel(ctx, requestedBy, modelId);
      const { streamText } = await loadAiSdk();
      const { system, messages } = await buildContext(ctx, message, requestedBy);
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
          });
          for await (const part of result.fullStream) {
            if (part.type === 'text-delta' && part.text) {
              idle.refresh();
              // Recorded for late joiners before it is announced (see streams.ts).
              this.streams.append(message.id, part.text);
              ctx.bus.publish({ type: 'answer_delta', delta: { conversationId: message.conversationId, messageId: message.id, index: pieces, text: part.text } });
              text += part.text;
              pieces++;
              if (!checkpoint && Date.now() - lastCheckpoint >= ai.checkpointMs) {
                lastCheckpoint = Date.now();
                this.countWrite();
                // Only while still streaming: a stop or the end may already have written the final state.
                checkpoint = ctx.db
                  .query(`UPDATE messages SET content_enc = $2 WHERE id = $1 AND status = 'streaming'`, [message.id, ctx.keys.encrypt(text)])
                  .catch((error: unknown) => ctx.log.warn({ err: error }, 'checkpoint failed'))
                  .finally(() => (checkpoint = undefined));
              }
            } else if (part.type === 'error') {
              throw part.error;
            } else if (part.type === 'abort') {
              break;
            }
          }
          break;
        } catch (error) {
          if (attempt < 2 && pieces === 0 && !run.reason && isConnectionFailure(error)) continue;
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
    }
    await checkpoint;
    const final = await this.finish(message, text, status, reason);
    await this.streams.end(message.id);
    this.stats.answers++;
    this.options.metrics?.aiAnswers.inc({ status });
    if (final) await maybeTitle(this.ctx, message.conversationId, requestedBy, modelId);
  }

  /** The final state takes the conversation's next seq, so `sync` delivers it to everyone. */
  private async finish(message: Message, text: string, status: Message['status'], reason: string | null): Promise<Message | undefined> {
    const { ctx } = this;
    this.countWrite();
    const final = await ctx.db.transaction(async (tx) => {
      const seq = await nextSeq(tx, message.conversationId, false);
      const rows = await tx.query<MessageRow>(
        `UPDATE messages AS m SET content_enc = $2, status = $3, status_reason = $4, updated_seq = $5
          WHERE id = $1 AND status = 'streaming' RETURNING ${MESSAGE_COLUMNS}`,
        [message.id, ctx.keys.encrypt(text), status, reason, seq],
      );
      await tx.query('UPDATE conversations SET generating = false WHERE id = $1', [message.conversationId]);
      return (await hydrateMessages(ctx, tx, rows))[0];
    });
    if (final) ctx.bus.publish({ type: 'answer_completed', message: final, status });
    ctx.bus.publish({ type: 'conversation_changed', change: { id: message.conversationId, generating: false } });
    this.announceRelease(message.conversationId);
    return final;
  }

  private afterAnswerSafely(conversationId: string): void {
    this.afterAnswer(conversationId).catch((error: unknown) => this.ctx.log.error({ err: error, conversationId }, 'AI trigger failed'));
  }

  private async afterAnswer(conversationId: string): Promise<void> {
    const trigger = this.pending.get(conversationId);
    if (this.closed || !trigger) return;
    this.pending.delete(conversationId);
    // A trigger came while the answer streamed: answer it if it came after the last answer (one
    // stored before that answer began was in its context), is still there, and its author is still
    // a member. Its author pays, whoever wrote last.
    const [still] = await this.ctx.db.query(
      `SELECT 1 FROM messages t
         JOIN conversation_members cm ON cm.conversation_id = t.conversation_id AND cm.user_id = t.author_id
        WHERE t.id = $1 AND t.conversation_id = $2 AND t.deleted_at IS NULL
          AND t.seq > (SELECT COALESCE(max(seq), 0) FROM messages WHERE conversation_id = $2 AND author_id = $3)`,
      [trigger.messageId, conversationId, ASSISTANT_ID],
    );
    if (!still || !(await this.assistantIsMember(conversationId))) return;
    await this.answer(conversationId, trigger);
  }

  // ---- control from clients ----

  /** Stops an answer from any member's socket, on any node. Stopping a finished answer does nothing. */
  async stop(userId: string, messageId: string): Promise<void> {
    const row = await this.visibleAnswer(userId, messageId);
    if (row.status !== 'streaming') return;
    if (this.abortLocal(messageId, 'stopped')) return;
    const live = await this.streams.get([messageId]);
    if (live.has(messageId) && this.options.redis && this.controlChannel) {
      await redisCall(this.options.redis.pub.publish(this.controlChannel, JSON.stringify({ stop: messageId })));
      return;
    }
    // Nobody runs it any more (its node died): close it here with the text checkpointed so far.
    await this.finish((await this.loadMessage(messageId))!, this.ctx.keys.decrypt(row.content_enc), 'stopped', null);
  }

  private abortLocal(messageId: string, reason: 'stopped'): boolean {
    const run = this.running.get(messageId);
    if (!run) return false;
    run.reason ??= reason;
    run.controller.abort();
    return true;
  }

  /**
   * The assistant left (or was removed from) a conversation: its answers there stop, on whichever
   * node runs them, and nothing queued for it starts.
   */
  private async stopConversation(conversationId: string): Promise<void> {
    this.abortConversationLocal(conversationId);
    if (this.options.redis && this.controlChannel) await this.options.redis.pub.publish(this.controlChannel, JSON.stringify({ stopIn: conversationId }));
  }

  private abortConversationLocal(conversationId: string): void {
    this.pending.delete(conversationId);
    for (const [id, run] of this.running) if (run.conversationId === conversationId) this.abortLocal(id, 'stopped');
  }

  /**
   * Regenerates an answer as a new version (the previous text is kept in message_versions), or,
   * given a user message, the answer that follows it (edit-and-resend: edit the message, then
   * regenerate from it). Answers the acking client with the message in its new `streaming` state.
   */
  async regenerate(userId: string, messageId: string): Promise<Message> {
    const target = await this.visibleAnswer(userId, messageId, false);
    // The assistant acts only where it is a member (never in a direct conversation, nor in a group
    // that removed it); the one who asks to regenerate pays.
    if (!(await this.assistantIsMember(target.conversation_id))) throw new ConfabError('FORBIDDEN', 'the assistant is not a member of this conversation');
    const { ctx } = this;
    let answerRow: MessageRow | undefined;
    if (target.author_id === ASSISTANT_ID) answerRow = target;
    else {
      [answerRow] = await ctx.db.query<MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE conversation_id = $1 AND author_id = $2 AND seq > $3 AND deleted_at IS NULL ORDER BY seq LIMIT 1`,
        [target.conversation_id, ASSISTANT_ID, target.seq],
      );
    }
    const claim = await this.claim(target.conversation_id);
    if (!claim) throw new ConfabError('CONFLICT', 'an answer is already being written in this conversation; stop it first');
    try {
      const modelId = await answerModelId(ctx, userId, claim.model);
      if (!answerRow) {
        const message = await this.createAnswer(target.conversation_id, modelId);
        this.launch(message, userId, modelId);
        return message;
      }
      const id = answerRow.id;
      await this.streams.begin(id);
      const message = await ctx.db.transaction(async (tx) => {
        await keepPreviousVersion(tx, id, answerRow.content_enc, answerRow.edited_at ?? answerRow.created_at);
        const seq = await nextSeq(tx, answerRow.conversation_id, true);
        const rows = await tx.query<MessageRow>(
          `UPDATE messages AS m SET content_enc = $2, status = 'streaming', status_reason = NULL, model = $3, edited_at = now(), updated_seq = $4
            WHERE id = $1 RETURNING ${MESSAGE_COLUMNS}`,
          [id, ctx.keys.encrypt(''), modelId, seq],
        );
        return { ...(await hydrateMessages(ctx, tx, rows))[0]!, streamIndex: 0 };
      });
      ctx.bus.publish({ type: 'message_changed', message });
      ctx.bus.publish({ type: 'conversation_changed', change: { id: message.conversationId, generating: true } });
      this.launch(message, userId, modelId);
      return message;
    } catch (error) {
      await this.release(target.conversation_id);
      throw error;
    }
  }

  private async visibleAnswer(userId: string, messageId: string, mustBeAnswer = true): Promise<MessageRow> {
    const [row] = await this.ctx.db.query<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m
         JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = $2
        WHERE m.id = $1 AND m.deleted_at IS NULL`,
      [messageId, userId],
    );
    if (!row) throw new ConfabError('NOT_FOUND', 'no such message');
    if (mustBeAnswer && row.author_id !== ASSISTANT_ID) throw new ConfabError('VALIDATION_ERROR', 'this message is not an AI answer');
    if (row.kind === 'system') throw new ConfabError('VALIDATION_ERROR', 'system messages cannot be answered');
    return row;
  }

  private async loadMessage(id: string): Promise<Message | undefined> {
    const rows = await this.ctx.db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE id = $1`, [id]);
    return (await hydrateMessages(this.ctx, this.ctx.db, rows))[0];
  }

  /**
   * Answers left `streaming` by a node that is gone end as `error` with the text checkpointed so
   * far. Without Redis this is a single node, so at start-up every one of them is an orphan; with
   * Redis, an answer is an orphan when its live entry expired (its node stopped refreshing it).
   */
  private async closeOrphans(): Promise<void> {
    const rows = await this.ctx.db.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE status = 'streaming'`);
    const candidates = rows.filter((r) => !this.running.has(r.id));
    if (candidates.length === 0) return;
    // An answer being started is in the registry before its row exists (createAnswer), and this
    // node's own answers stay there while they stream, so the registry — this process's memory on
    // one node, Redis across nodes — tells a fresh answer from an orphan. (On one node at start-up
    // it is empty: every streaming row is an orphan then.)
    const live = await this.streams.get(candidates.map((r) => r.id));
    for (const row of candidates) {
      if (live.has(row.id)) continue;
      const [message] = await hydrateMessages(this.ctx, this.ctx.db, [row]);
      await this.finish(message!, message!.content, 'error', INTERRUPTED);
      this.ctx.log.warn({ messageId: row.id }, 'closed an AI answer interrupted by a restart');
    }
  }
}
