import { ConfabError } from '@confab/protocol';
import { authenticate } from '../../operations/auth.ts';
import type { EventHandlers, RealtimeServices } from '../types.ts';

/**
 * A live socket presents a fresh access token before its current one expires; the gateway's
 * sweep disconnects sockets whose token expired without one. The identity of a socket never
 * changes: a token of another user is refused and the socket keeps its old one.
 */
export function authHandlers({ ctx }: RealtimeServices): Pick<EventHandlers, 'auth:refresh'> {
  return {
    async 'auth:refresh'(socket, { token }) {
      const claims = await authenticate(ctx, token);
      if (claims.userId !== socket.data.userId) throw new ConfabError('FORBIDDEN', 'this token belongs to another user; reconnect to switch users');
      socket.data.exp = claims.exp;
      socket.data.sessionId = claims.sessionId;
      return { expiresAt: new Date(claims.exp * 1000).toISOString() };
    },
  };
}
