import type { ConfabClient } from '@confab/client';

/**
 * Stop and regenerate (socket events `ai:stop` / `ai:regenerate`, through the SDK). They fail at
 * once while offline, which the buttons report as a toast.
 */
export interface AiControls {
  stop?: (messageId: string) => Promise<unknown>;
  regenerate?: (messageId: string) => Promise<unknown>;
}

export function aiControls(client: ConfabClient): AiControls {
  return {
    stop: (messageId) => client.stopAnswer(messageId),
    regenerate: (messageId) => client.regenerate(messageId),
  };
}
