import { ConfabError } from '@confab/protocol';
import type { Context } from '../../context.ts';
import type { EventHandlers, RealtimeServices } from '../types.ts';

function runner(ctx: Context) {
  if (!ctx.ai) throw new ConfabError('UNAVAILABLE', 'AI assistants are starting; try again in a moment');
  return ctx.ai;
}

/** Stop and regenerate work from any member's socket on any node (see ai/runner.ts). */
export function aiHandlers({ ctx }: RealtimeServices): Pick<EventHandlers, 'ai:stop' | 'ai:regenerate'> {
  return {
    'ai:stop': async (socket, input) => {
      await runner(ctx).stop(socket.data.userId, input.messageId);
      return null;
    },
    'ai:regenerate': (socket, input) => runner(ctx).regenerate(socket.data.userId, input.messageId),
  };
}
