import type { Message } from '@confab/protocol';
import type { Logger } from 'pino';
import { hydrateMessages } from '../operations/messages.ts';
import { redisCall, type RedisClients } from '../redis/redis.ts';
import { findStreamingAnswers } from '../storage/answers.ts';
import { findMessage } from '../storage/messages.ts';
import type { MessageRow } from '../storage/rows.ts';
import { finishAnswer, INTERRUPTED, type AnswerDeps, type Running } from './answer.ts';

// What crosses nodes about answers, and answers no node runs any more: the Redis control channel
// (stop requests, "conversation free" signals), closing an answer whose node died, and the orphan
// sweep. The bus stays per node (bus/bus.ts), so none of this goes through it.

export interface ControlHandlers {
  /** Stop this answer if it runs on this node. */
  stop(messageId: string): void;
  /** Stop every answer of this conversation that runs on this node, and drop what is queued for it. */
  stopIn(conversationId: string): void;
  /** The conversation is free: answer what this node queued for it. */
  released(conversationId: string): void;
}

/**
 * The assistant's Redis channel, one per deployment (`<prefix>ai:control`). Without Redis there is
 * one node, and every method does nothing.
 */
export class ControlChannel {
  private readonly channel: string | undefined;

  constructor(
    private readonly redis: RedisClients | undefined,
    private readonly log: Logger,
    private readonly handlers: ControlHandlers,
  ) {
    this.channel = redis ? `${redis.prefix}ai:control` : undefined;
  }

  /** Whether other nodes can be reached (with Redis). */
  get crossNode(): boolean {
    return this.channel !== undefined;
  }

  start(): void {
    if (!this.redis || !this.channel) return;
    // Stop requests reach whichever node runs the answer. Not awaited: with Redis down the
    // subscription waits for it (and fails only when the node closes first).
    const { sub } = this.redis;
    sub.subscribe(this.channel).catch((error: unknown) => this.log.warn({ err: error }, 'AI control subscription failed'));
    sub.on('message', this.onMessage);
  }

  async close(): Promise<void> {
    if (!this.redis || !this.channel) return;
    const { sub } = this.redis;
    sub.off('message', this.onMessage);
    // While Redis is away the command would wait for it; the connection is closed next anyway.
    if (sub.status === 'ready') await sub.unsubscribe(this.channel).catch(() => {});
  }

  /** Asks every node to stop the answer; fails with UNAVAILABLE when Redis does not take it. */
  async requestStop(messageId: string): Promise<void> {
    if (!this.redis || !this.channel) return;
    await redisCall(this.redis.pub.publish(this.channel, JSON.stringify({ stop: messageId })));
  }

  /** Asks every node to stop the conversation's answers. */
  async requestStopIn(conversationId: string): Promise<void> {
    if (!this.redis || !this.channel) return;
    await this.redis.pub.publish(this.channel, JSON.stringify({ stopIn: conversationId }));
  }

  /**
   * A mention stored on another node while this one answered is queued there: tell every node the
   * conversation is free, so the one holding it answers it (this node does so when its answer ends).
   */
  announceRelease(conversationId: string): void {
    if (!this.redis || !this.channel) return;
    this.redis.pub.publish(this.channel, JSON.stringify({ released: conversationId })).catch((error: unknown) => this.log.warn({ err: error }, 'announcing a free conversation failed'));
  }

  private readonly onMessage = (channel: string, raw: string) => {
    if (channel !== this.channel) return;
    try {
      const { stop, stopIn, released } = JSON.parse(raw) as { stop?: string; stopIn?: string; released?: string };
      if (stop) this.handlers.stop(stop);
      if (stopIn) this.handlers.stopIn(stopIn);
      if (released) this.handlers.released(released);
    } catch {
      /* not ours */
    }
  };
}

/** Nobody runs the answer any more (its node died): it ends `stopped` with the text checkpointed so far. */
export async function closeDeadAnswer(deps: AnswerDeps, answer: MessageRow): Promise<void> {
  const { ctx } = deps;
  await finishAnswer(deps, (await loadMessage(deps, answer.id))!, ctx.keys.decrypt(answer.content_enc), 'stopped', null);
}

async function loadMessage({ ctx }: AnswerDeps, id: string): Promise<Message | undefined> {
  const row = await findMessage(ctx.db, id);
  return row && (await hydrateMessages(ctx, ctx.db, [row]))[0];
}

/**
 * Answers left `streaming` by a node that is gone end as `error` with the text checkpointed so
 * far. Without Redis this is a single node, so at start-up every one of them is an orphan; with
 * Redis, an answer is an orphan when its live entry expired (its node stopped refreshing it).
 */
export async function closeOrphans(deps: AnswerDeps, running: ReadonlyMap<string, Running>): Promise<void> {
  const { ctx } = deps;
  const rows = await findStreamingAnswers(ctx.db);
  const candidates = rows.filter((r) => !running.has(r.id));
  if (candidates.length === 0) return;
  // An answer being started is in the registry before its row exists (createAnswer), and this
  // node's own answers stay there while they stream, so the registry — this process's memory on
  // one node, Redis across nodes — tells a fresh answer from an orphan. (On one node at start-up
  // it is empty: every streaming row is an orphan then.)
  const live = await deps.streams.get(candidates.map((r) => r.id));
  for (const row of candidates) {
    if (live.has(row.id)) continue;
    const [message] = await hydrateMessages(ctx, ctx.db, [row]);
    await finishAnswer(deps, message!, message!.content, 'error', INTERRUPTED);
    ctx.log.warn({ messageId: row.id }, 'closed an AI answer interrupted by a restart');
  }
}
