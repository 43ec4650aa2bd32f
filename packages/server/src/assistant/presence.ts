import { ASSISTANT_ID } from '../ai/assistant.ts';
import type { Context } from '../context.ts';

// The assistant's presence in a conversation: while it answers there, its members see it as a
// member who is typing (`chat:user_typing` with the assistant's user id; the web app says
// "Assistant is answering…"). Through the bus and the realtime fanout, so every node's sockets in
// the conversation's room get it (the Socket.IO Redis adapter).

/** The name the typing event carries (the assistant user's display name, migration 1). */
export const ASSISTANT_NAME = 'Assistant';

/**
 * How often "answering" is said again while an answer runs. Clients end a typing indicator by
 * themselves 10 s after its last refresh (the contract's typing TTL): a refresh every 3 s keeps it
 * on through a slow provider's silences, and lets a client that connects mid-answer learn it within
 * 3 s. If the node dies, the refreshes stop and clients end it within the TTL.
 */
export const ANSWERING_REFRESH_MS = 3000;

export function announceAnswering(ctx: Context, conversationId: string, answering: boolean): void {
  ctx.bus.publish({ type: 'assistant_answering', typing: { conversationId, userId: ASSISTANT_ID, displayName: ASSISTANT_NAME, isTyping: answering } });
}

/**
 * Says "answering" now and every ANSWERING_REFRESH_MS until `stop()` (idempotent). The end itself
 * ("not answering") is said by finishAnswer (answer.ts), which every way an answer ends goes
 * through: done, error, stop, the assistant leaving, and the sweep that closes a dead node's answers.
 */
export function keepAnswering(ctx: Context, conversationId: string): { stop(): void } {
  announceAnswering(ctx, conversationId, true);
  const timer = setInterval(() => announceAnswering(ctx, conversationId, true), ANSWERING_REFRESH_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
