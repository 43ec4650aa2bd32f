import type { Server as HttpServer } from 'node:http';
import { LIMITS } from '@confab/protocol';
import { Server } from 'socket.io';
import { conversationRoom } from '../bus/bus.ts';
import type { Context } from '../context.ts';
import type { Metrics } from '../metrics.ts';
import { createOriginPolicy } from '../http/origins.ts';
import { eventListener } from './dispatch.ts';
import { bufferedOutput, coalesceWrites, type ConnInternals } from './engine.ts';
import { aiHandlers } from './handlers/ai.ts';
import { authHandlers } from './handlers/auth.ts';
import { messageHandlers } from './handlers/messages.ts';
import { presenceHandlers } from './handlers/presence.ts';
import { syncHandlers } from './handlers/sync.ts';
import { typingHandlers } from './handlers/typing.ts';
import { startFanout } from './fanout.ts';
import { useHandshake } from './handshake.ts';
import { startSweeps } from './sweeps.ts';
import { Presence } from './presence.ts';
import { createLocalPresenceStore, createRedisPresenceStore, type PresenceStore } from './presenceStore.ts';
import type { RedisClients } from '../redis/redis.ts';
import { TypingTracker } from './typing.ts';
import type { AppServer, AppSocket, EventHandlers, MembershipChange, RealtimeServices, SessionsEnded } from './types.ts';

export interface GatewayOptions {
  /** The one periodic sweep: token expiry, slow consumers, typing expiry. */
  sweepIntervalMs: number;
  /**
   * How often this node reads the membership changes and session revocations of the last few
   * seconds from the database and applies them to its sockets: the backstop for a lost broadcast.
   */
  reconcileIntervalMs: number;
  /** Redis presence: heartbeat period and how long an entry outlives its last heartbeat. */
  presenceHeartbeatMs: number;
  presenceTtlMs: number;
  typingTtlMs: number;
  /** How long an event that jumps ahead in seq waits for the missing ones (see ordering.ts). */
  orderingHoldMs: number;
  /** A socket with more output queued than this is a slow consumer and is disconnected. */
  maxBufferedBytes: number;
  maxBufferedPackets: number;
  maxInFlightPerSocket: number;
  /**
   * How often the server pings each connection (Socket.IO's pingInterval). A reverse proxy's read
   * timeout must be longer: the ping is all an idle WebSocket or long-polling request carries
   * (docs/operations.md, "Behind a reverse proxy"). Tests shorten it.
   */
  pingIntervalMs: number;
}

export const DEFAULT_GATEWAY_OPTIONS: GatewayOptions = {
  sweepIntervalMs: 1000,
  reconcileIntervalMs: 1000,
  presenceHeartbeatMs: 10_000,
  presenceTtlMs: 30_000,
  typingTtlMs: 10_000,
  orderingHoldMs: 25,
  maxBufferedBytes: 8 * 1024 * 1024,
  maxBufferedPackets: 10_000,
  maxInFlightPerSocket: 1000,
  pingIntervalMs: 25_000,
};

export interface Gateway {
  io: AppServer;
  presence: Presence;
  /** Local counters, for tests and diagnostics. */
  stats(): { sockets: number; users: number; typing: number; held: number; holds: number; holdTimeouts: number; slowConsumersDropped: number };
  close(): Promise<void>;
}

export interface GatewayDeps {
  ctx: Context;
  metrics: Metrics;
  httpServer: HttpServer;
  redis?: RedisClients | undefined;
  options?: Partial<GatewayOptions> | undefined;
  /** Who is connected, across nodes (see presenceStoreFor); the composition root also gives it to notifications. */
  presenceStore?: PresenceStore | undefined;
}

/** In Redis with several nodes, else in this process. */
export function presenceStoreFor(redis: RedisClients | undefined, options?: Partial<GatewayOptions>): PresenceStore {
  const ttlMs = options?.presenceTtlMs ?? DEFAULT_GATEWAY_OPTIONS.presenceTtlMs;
  return redis ? createRedisPresenceStore(redis.pub, redis.prefix, { ttlMs }) : createLocalPresenceStore();
}

/**
 * Socket.IO on the HTTP server's port, path /socket.io. Transports stay thin: authentication and
 * room setup wired here (handshake.ts, engine tuning in engine.ts), event handlers per domain in
 * handlers/, every use-case in operations/.
 */
/** The reorder buffer's hold with Redis (several nodes); see attachGateway. */
const MULTI_NODE_HOLD_MS = 3;

export function attachGateway({ ctx, metrics, httpServer, redis, options, presenceStore }: GatewayDeps): Gateway {
  // With several nodes, most seq gaps a node sees were published by another node, straight to the
  // sockets through the adapter: they never pass this node's reorder buffer, so waiting 25 ms for
  // them only adds latency (many times the median delivery time over two nodes: docs/benchmarks.md).
  // Hold briefly for this node's own out-of-order continuations; clients fill the rest by sync.
  const opts: GatewayOptions = { ...DEFAULT_GATEWAY_OPTIONS, ...(redis ? { orderingHoldMs: MULTI_NODE_HOLD_MS } : {}), ...options };
  const log = ctx.log.child({ component: 'realtime' });
  const origins = createOriginPolicy(ctx.config.publicUrl, ctx.config.origins, log);
  const io: AppServer = new Server(httpServer, {
    path: '/socket.io',
    serveClient: false,
    maxHttpBufferSize: LIMITS.bodyBytes,
    pingInterval: opts.pingIntervalMs,
    // Only the handshake is checked: later requests of a polling session carry its id.
    allowRequest: (req, callback) => {
      const allowed = origins.allows(req.headers);
      callback(allowed ? null : 'origin not allowed', allowed);
    },
    cors: origins.configured.length > 0 ? { origin: [...origins.configured], credentials: true } : { origin: false },
  });
  if (redis) io.adapter(redis.socketAdapter);
  coalesceWrites(io);

  const store = presenceStore ?? presenceStoreFor(redis, opts);
  const presence = new Presence(ctx, io, store);
  const typing = new TypingTracker((state, isTyping, except) => {
    const target = except ? io.to(conversationRoom(state.conversationId)).except(except) : io.to(conversationRoom(state.conversationId));
    target.emit('chat:user_typing', { conversationId: state.conversationId, userId: state.userId, displayName: state.displayName, isTyping });
  }, opts.typingTtlMs);
  const services: RealtimeServices = { ctx, metrics, io, typing, presence };
  const handlers: EventHandlers = {
    ...messageHandlers(services),
    ...syncHandlers(services),
    ...authHandlers(services),
    ...presenceHandlers(services),
    ...typingHandlers(services),
    ...aiHandlers(services),
  };
  const running = new Set<Promise<void>>();
  // Shared by every socket (Socket.IO calls both with the socket as `this`): no closures per connection.
  const onEvent = eventListener(handlers, services, { maxInFlightPerSocket: opts.maxInFlightPerSocket, running });
  let slowConsumersDropped = 0;
  let closed = false;

  // ---- Local registry: this node's sockets per user, including those still in the handshake ----
  const byUser = new Map<string, Set<AppSocket>>();
  const register = (socket: AppSocket) => {
    let set = byUser.get(socket.data.userId);
    if (!set) byUser.set(socket.data.userId, (set = new Set()));
    set.add(socket);
  };
  /** Idempotent: runs from 'disconnect', and from the engine's 'close' for sockets that never finished the handshake. */
  const unregister = (socket: AppSocket) => {
    if (socket.data.gone) return;
    socket.data.gone = true;
    const set = byUser.get(socket.data.userId);
    set?.delete(socket);
    if (set?.size === 0) byUser.delete(socket.data.userId);
    typing.endSocket(socket.id);
    void presence.uncount(socket);
  };
  // Socket.IO calls it with the socket as `this`: one function for every socket, no closure each.
  function onDisconnect(this: AppSocket) {
    unregister(this);
  }

  // ---- Membership: rooms follow the database ----
  const applyMembership = (socket: AppSocket, change: MembershipChange) => {
    if (socket.data.membershipLog) {
      socket.data.membershipLog.push(change);
      return;
    }
    const room = conversationRoom(change.conversationId);
    if (change.joined) {
      void socket.join(room);
    } else {
      void socket.leave(room);
    }
  };
  /**
   * Applied to this node's sockets of the user, including sockets still in their handshake (they
   * log it and replay it after joining: the handshake's query may predate the change). Removal is
   * immediate: a removed user's socket leaves the room before anything else is emitted to it.
   */
  const onMembership = (change: MembershipChange) => {
    for (const socket of byUser.get(change.userId) ?? []) applyMembership(socket, change);
    if (!change.joined) typing.endMembership(change.conversationId, change.userId);
  };
  // Runs only after attachGateway has returned (events come later), when `sweeps` is set.
  const onLiveMembership = (change: MembershipChange) => {
    sweeps.heardLive(change);
    onMembership(change);
  };
  // Other nodes forward their membership changes here (instead of the adapter's socketsJoin, which
  // cannot reach sockets still in their handshake on this node).
  io.on('confab:membership', (change) => onLiveMembership(change));

  // ---- Ended sessions (endSessions in operations/auth.ts): their sockets close on every node ----
  const onSessionsEnded = ({ userId, sessionIds }: SessionsEnded) => {
    const sockets = byUser.get(userId);
    if (!sockets) return;
    for (const socket of [...sockets]) {
      if (!sessionIds.includes(socket.data.sessionId)) continue;
      // Still in its handshake: dropping the connection unregisters it, and the handshake then
      // refuses it. Connected: told so ("io server disconnect"), so a client does not retry with
      // the same session (the SDK refreshes, which fails, and signs out).
      if (socket.data.membershipLog) socket.conn.close();
      else socket.disconnect(true);
    }
  };
  io.on('confab:sessions_ended', (ended) => onSessionsEnded(ended));

  // ---- Committed events become emits (fanout.ts), membership and ended sessions move sockets ----
  const fanout = startFanout(ctx.bus, io, { onMembership: onLiveMembership, onSessionsEnded }, {
    holdMs: opts.orderingHoldMs,
    crossNodes: redis !== undefined,
    onEmit: (event) => metrics.realtimeEmits.inc({ event }),
  });
  metrics.sources.connections = () => io.engine.clientsCount;
  const { gate } = fanout;

  // ---- Handshake: authenticate, then join the user's rooms before the client hears "connect" ----
  useHandshake(io, { ctx, log, register, unregister, applyMembership });

  io.on('connection', (socket) => {
    if (socket.data.gone || closed) {
      socket.disconnect(true);
      return;
    }
    socket.onAny(onEvent);
    socket.on('disconnect', onDisconnect);
    // Catch a slow consumer between sweeps: checking every 256th queued packet keeps this cheap.
    // Deferred, so a broadcast that is iterating a room never sees the socket vanish under it.
    let checkPending = false;
    socket.conn.on('packetCreate', () => {
      const queued = (socket.conn as unknown as ConnInternals).writeBuffer?.length ?? 0;
      if (checkPending || queued === 0 || queued % 256 !== 0) return;
      checkPending = true;
      setImmediate(() => {
        checkPending = false;
        if (!socket.data.gone) checkOutput(socket);
      });
    });
    void presence.count(socket);
  });

  /** Disconnects a client that does not read what it is sent, before it costs unbounded memory. */
  const checkOutput = (socket: AppSocket): boolean => {
    const { packets, bytes } = bufferedOutput(socket);
    if (packets <= opts.maxBufferedPackets && bytes <= opts.maxBufferedBytes) return false;
    slowConsumersDropped++;
    log.warn({ userId: socket.data.userId, packets, bytes }, 'disconnecting a slow consumer');
    const transport = (socket.conn as unknown as ConnInternals).transport;
    socket.disconnect(true);
    // A peer that does not read cannot complete a close handshake either: free the buffers now.
    transport?.socket?.terminate?.();
    return true;
  };

  // ---- Redis outages: broadcasts published or due while Redis was away are lost for good (pub/sub
  // keeps nothing). When a connection comes back, every local client is made to reconnect, and a
  // client syncs after every reconnect, so nothing is missed for longer than the outage. Clients
  // see a transport close and reconnect by themselves, with their randomized backoff.
  let lastBounce = 0;
  const bounceAfterOutage = () => {
    if (closed || Date.now() - lastBounce < 5000) return;
    lastBounce = Date.now();
    log.warn({ sockets: io.of('/').sockets.size }, 'redis is back: reconnecting local clients so they sync what they missed');
    for (const socket of io.of('/').sockets.values()) socket.conn.close();
  };
  const redisListeners: Array<() => void> = [];
  for (const client of redis ? [redis.pub, redis.sub] : []) {
    let wasReady = client.status === 'ready';
    const onReady = () => {
      if (wasReady) {
        bounceAfterOutage();
        // Broadcasts from the other nodes may have been lost meanwhile: catch up now, not at the next tick.
        sweeps.reconcileNow();
      }
      wasReady = true;
    };
    client.on('ready', onReady);
    redisListeners.push(() => client.off('ready', onReady));
  }

  // ---- The periodic sweeps (sweeps.ts: one timer each per server, not per socket) ----
  const sweeps = startSweeps({ ctx, log, io, redis, typing, gate, presence, store, opts, byUser, checkOutput, onMembership, onSessionsEnded, isClosed: () => closed });

  return {
    io,
    presence,
    stats: () => ({
      sockets: io.of('/').sockets.size,
      users: byUser.size,
      typing: typing.size,
      held: gate.heldCount,
      holds: gate.holds,
      holdTimeouts: gate.timeouts,
      slowConsumersDropped,
    }),
    async close() {
      if (closed) return;
      closed = true;
      fanout.stop();
      await sweeps.stop();
      for (const off of redisListeners) off();
      gate.close();
      // The connections are dropped rather than closed politely: a stock socket.io-client that hears
      // "io server disconnect" stays offline, whereas it retries a dropped connection by itself (the
      // SDK retries either way). It also saves two writes per socket, which adds up in a large shutdown.
      // Each socket's cleanup (presence, typing) runs from its 'disconnect'; wait for all of them and
      // for what they and handlers still running started, so nothing touches the database or
      // Redis after they close.
      const deadline = new Promise((resolve) => setTimeout(resolve, 5000).unref());
      const sockets = [...io.of('/').sockets.values()];
      const gone = sockets.map((socket) => new Promise<void>((resolve) => socket.once('disconnect', () => resolve())));
      for (const socket of sockets) {
        const ws = (socket.conn as unknown as ConnInternals).transport?.socket;
        if (ws?.terminate) ws.terminate();
        else socket.disconnect(true);
      }
      await Promise.race([Promise.all(gone), deadline]);
      await Promise.race([Promise.allSettled([...running]), deadline]);
      await Promise.race([presence.settle(), deadline]);
      typing.clear();
      io.engine.close();
      // Unsubscribes the adapter from Redis (the clients themselves are closed by the server).
      await io.of('/').adapter.close();
    },
  };
}
