import type { Message } from '@confab/protocol';
import { ASSISTANT_ID } from '../ai/assistant.ts';
import type { DomainEventOf } from '../bus/bus.ts';
import type { Context } from '../context.ts';
import { assistantIsMember } from '../operations/ai.ts';
import { findConversationType, triggerStillUnanswered } from '../storage/answers.ts';

// When the assistant answers: it listens to messages stored on THIS node (the bus is per node, so
// each message triggers exactly one answer across the cluster) and to the assistant leaving.

/** The message that asked for an answer: its author pays for it. */
export interface Trigger {
  messageId: string;
  authorId: string;
}

export interface TriggerHandlers {
  /** A message asks for an answer in this conversation. */
  answer(conversationId: string, trigger: Trigger): Promise<void>;
  /** The assistant left (or was removed from) a conversation: its answers there stop. */
  assistantLeft(conversationId: string): Promise<void>;
}

/** Subscribes to this node's bus; returns the unsubscribe. */
export function subscribeTriggers(ctx: Context, handlers: TriggerHandlers): () => void {
  const conversationTypes = new Map<string, { type: 'direct' | 'group' | 'assistant' }>();

  /**
   * Assistant conversations answer every message; groups answer messages that mention @assistant.
   * Either way only while the assistant is a member, and paid by the message's author.
   */
  const considerTrigger = async (message: Message): Promise<void> => {
    let info = conversationTypes.get(message.conversationId);
    if (!info) {
      const row = await findConversationType(ctx.db, message.conversationId);
      if (!row) return;
      info = row;
      if (conversationTypes.size > 10_000) conversationTypes.clear();
      conversationTypes.set(message.conversationId, info);
    }
    if (info.type === 'direct') return;
    // What the one mention parser found when the message was stored (operations/mentions.ts): the
    // assistant's id is there only if it was a member then.
    if (info.type === 'group' && !(message.mentions ?? []).includes(ASSISTANT_ID)) return;
    if (!(await assistantIsMember(ctx, message.conversationId))) return;
    await handlers.answer(message.conversationId, { messageId: message.id, authorId: message.authorId });
  };

  /** Stored on this node (the bus carries nothing from other nodes): one answer per trigger. */
  const onMessageStored = (event: DomainEventOf<'message_stored'>): void => {
    if (event.repeat) return;
    const { message } = event;
    if (message.authorId === ASSISTANT_ID || message.kind === 'system' || message.deletedAt) return;
    considerTrigger(message).catch((error: unknown) => ctx.log.error({ err: error, conversationId: message.conversationId }, 'AI trigger failed'));
  };

  const onMembership = (event: DomainEventOf<'membership'>): void => {
    if (event.userId !== ASSISTANT_ID || event.joined) return;
    handlers.assistantLeft(event.conversationId).catch((error: unknown) => ctx.log.warn({ err: error }, 'stopping answers of a conversation the assistant left failed'));
  };

  const unsubscribes = [ctx.bus.subscribe('message_stored', onMessageStored), ctx.bus.subscribe('membership', onMembership)];
  return () => {
    for (const unsubscribe of unsubscribes) unsubscribe();
  };
}

/**
 * A trigger that came while an answer streamed still asks for one if it came after the last answer
 * (one stored before that answer began was in its context), is still there, its author is still a
 * member, and so is the assistant.
 */
export async function stillAsks(ctx: Context, conversationId: string, trigger: Trigger): Promise<boolean> {
  return (await triggerStillUnanswered(ctx.db, trigger.messageId, conversationId, ASSISTANT_ID)) && (await assistantIsMember(ctx, conversationId));
}
