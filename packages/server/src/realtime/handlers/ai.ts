import { regenerateAnswer, stopAnswer } from '../../operations/ai.ts';
import type { EventHandlers, RealtimeServices } from '../types.ts';

/** Stop and regenerate work from any member's socket on any node (see operations/ai.ts). */
export function aiHandlers({ ctx }: RealtimeServices): Pick<EventHandlers, 'ai:stop' | 'ai:regenerate'> {
  return {
    'ai:stop': async (socket, input) => {
      await stopAnswer(ctx, socket.data.userId, input.messageId);
      return null;
    },
    'ai:regenerate': (socket, input) => regenerateAnswer(ctx, socket.data.userId, input.messageId),
  };
}
