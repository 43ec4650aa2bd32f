import { conversationRoom, userRoom } from '../bus/bus.ts';
import type { Context } from '../context.ts';
import { verifyAccessToken } from '../auth/tokens.ts';
import { socketSession } from '../operations/auth.ts';
import type { AppServer, AppSocket, MembershipChange, SocketData } from './types.ts';

export interface HandshakeDeps {
  ctx: Context;
  log: Context['log'];
  /** This node's registry of sockets per user (gateway.ts), which the handshake joins before its query. */
  register(socket: AppSocket): void;
  unregister(socket: AppSocket): void;
  applyMembership(socket: AppSocket, change: MembershipChange): void;
}

/** Authenticate, then join the user's rooms before the client hears "connect". */
export function useHandshake(io: AppServer, { ctx, log, register, unregister, applyMembership }: HandshakeDeps): void {
  io.use(async (socket, next) => {
    const raw: unknown = (socket.handshake.auth as Record<string, unknown> | undefined)?.token;
    const token = typeof raw === 'string' && raw.length <= 4096 ? raw : undefined;
    if (!token) return next(new Error('UNAUTHENTICATED'));
    // The socket does not keep the bearer token: its claims are all it needs (auth:refresh sends a
    // new one), and every connection would otherwise hold a few hundred bytes of secret for its life.
    socket.handshake.auth = {};
    let claims;
    try {
      // The signature and expiry here; that the session is still live, with the rooms below.
      claims = await verifyAccessToken(ctx.keys.jwtKey, token);
    } catch {
      return next(new Error('UNAUTHENTICATED'));
    }
    const data: SocketData = {
      userId: claims.userId,
      sessionId: claims.sessionId,
      exp: claims.exp,
      displayName: '',
      hidden: false,
      away: false,
      counted: false,
      membershipLog: [],
      inFlight: 0,
      gone: false,
    };
    socket.data = data;
    // Registered before the query, so membership changes made while it runs are logged, not lost.
    register(socket);
    // The client may have gone while we authenticated; its engine 'close' has fired already then.
    if (socket.conn.readyState !== 'open') {
      unregister(socket);
      return next(new Error('UNAVAILABLE'));
    }
    // on, not once: unregister is idempotent, and once would wrap the listener in three more objects per socket.
    socket.conn.on('close', () => unregister(socket));
    try {
      // One batched statement: the session is live, the display name (for typing events) and every
      // conversation of the user.
      const session = await socketSession(ctx, claims);
      if (!session) {
        unregister(socket);
        return next(new Error('UNAUTHENTICATED'));
      }
      data.displayName = session.displayName;
      data.hidden = session.hidden;
      await socket.join([userRoom(claims.userId), ...session.conversationIds.map(conversationRoom)]);
      const pending = data.membershipLog ?? [];
      data.membershipLog = null;
      for (const change of pending) applyMembership(socket, change);
      next();
    } catch (error) {
      unregister(socket);
      log.error({ err: error }, 'socket setup failed');
      next(new Error('UNAVAILABLE'));
    }
  });
}
