import type { ClientEventName, ClientEventPayload, ClientEventResults, ServerEvents } from '@confab/protocol';
import type { DefaultEventsMap, Server, Socket } from 'socket.io';
import type { Context } from '../context.ts';
import type { Metrics } from '../metrics.ts';
import type { Presence } from './presence.ts';
import type { TypingTracker } from './typing.ts';

/** A user joined or left a conversation (from the bus, or forwarded by another node). */
export interface MembershipChange {
  userId: string;
  conversationId: string;
  joined: boolean;
}

/** Events between nodes (Socket.IO serverSideEmit through the Redis adapter). */
export interface InterServerEvents {
  'confab:membership': (change: MembershipChange) => void;
  'confab:sessions_ended': (ended: SessionsEnded) => void;
}

/** Sessions of a user ended (from the bus, or forwarded by another node). */
export interface SessionsEnded {
  userId: string;
  sessionIds: string[];
}

export interface SocketData {
  userId: string;
  sessionId: string;
  /** Access-token expiry, seconds since the epoch; `auth:refresh` moves it. */
  exp: number;
  displayName: string;
  /** The user hides their presence (privacy), as of the handshake: their coming online is not announced. */
  hidden: boolean;
  /** The client said `presence:offline` (away) on this socket. */
  away: boolean;
  /** True while this socket counts in the presence store. */
  counted: boolean;
  /**
   * Membership changes that arrived while the handshake was still reading the user's
   * conversations; replayed after the rooms are joined (null once the socket is set up).
   */
  membershipLog: MembershipChange[] | null;
  /** Client events being handled right now (bounded per socket). */
  inFlight: number;
  /** Set once the socket is gone, so cleanup runs once. */
  gone: boolean;
}

/** Client events arrive untyped: the dispatcher validates them against the protocol's schemas. */
export type AppServer = Server<DefaultEventsMap, ServerEvents, InterServerEvents, SocketData>;
export type AppSocket = Socket<DefaultEventsMap, ServerEvents, InterServerEvents, SocketData>;

/** What handlers may use. */
export interface RealtimeServices {
  ctx: Context;
  metrics: Metrics;
  io: AppServer;
  typing: TypingTracker;
  presence: Presence;
}

export type EventHandler<E extends ClientEventName> = (socket: AppSocket, payload: ClientEventPayload<E>) => Promise<ClientEventResults[E]>;
export type EventHandlers = { [E in ClientEventName]: EventHandler<E> };
