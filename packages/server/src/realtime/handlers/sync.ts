import { sync } from '../../operations/sync.ts';
import type { EventHandlers, RealtimeServices } from '../types.ts';

/** Catch-up; see operations/sync.ts for the cursor rules, the fast path and the streaming answers. */
export function syncHandlers({ ctx }: RealtimeServices): Pick<EventHandlers, 'sync'> {
  return {
    sync: (socket, input) => sync(ctx, socket.data.userId, input),
  };
}
