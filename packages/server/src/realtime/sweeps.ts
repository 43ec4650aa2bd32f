import type { Context } from '../context.ts';
import { pruneChanges, recentChanges } from '../operations/liveChanges.ts';
import type { SeqGate } from './ordering.ts';
import type { Presence } from './presence.ts';
import type { PresenceStore } from './presenceStore.ts';
import type { RedisClients } from '../redis/redis.ts';
import type { TypingTracker } from './typing.ts';
import type { AppServer, AppSocket, MembershipChange, SessionsEnded } from './types.ts';

export interface SweepDeps {
  ctx: Context;
  log: Context['log'];
  io: AppServer;
  redis: RedisClients | undefined;
  typing: TypingTracker;
  gate: SeqGate;
  presence: Presence;
  store: PresenceStore;
  opts: { sweepIntervalMs: number; reconcileIntervalMs: number; presenceHeartbeatMs: number };
  /** This node's sockets per user (gateway.ts's registry). */
  byUser: ReadonlyMap<string, Set<AppSocket>>;
  checkOutput(socket: AppSocket): boolean;
  onMembership(change: MembershipChange): void;
  onSessionsEnded(ended: SessionsEnded): void;
  isClosed(): boolean;
}

export interface Sweeps {
  /** A membership change heard live: a reconcile whose query is running leaves it alone (see reconcile). */
  heardLive(change: MembershipChange): void;
  reconcileNow(): void;
  /** Stops the timers and waits for a reconcile still running. */
  stop(): Promise<void>;
}

/** The gateway's timers: the periodic sweep, the reconcile backstop, pruning, the presence heartbeat. */
export function startSweeps({ ctx, log, io, redis, typing, gate, presence, store, opts, byUser, checkOutput, onMembership, onSessionsEnded, isClosed }: SweepDeps): Sweeps {
  /** Membership changes heard live while a reconcile's query runs (see reconcile). */
  let heardDuringReconcile: Set<string> | undefined;

  // ---- The periodic sweep (one timer per server, not per socket) ----
  const sweep = () => {
    const now = Date.now();
    typing.sweep(now);
    gate.sweep();
    for (const socket of io.of('/').sockets.values()) {
      if (socket.data.exp * 1000 <= now) {
        // Expired without auth:refresh. The client refreshes its token and reconnects.
        socket.disconnect(true);
        continue;
      }
      checkOutput(socket);
    }
  };
  /**
   * The backstop for lost broadcasts: the membership changes and revoked sessions of the last few
   * seconds, read from the database (one statement whatever the number of sockets; see
   * liveChanges.ts), applied again to this node's sockets. A change is applied as the database has
   * it now. One heard live while the query ran is left alone: the query may have read the state
   * before it, and applying that would undo it (a removed member back in the room until the next
   * tick); the next tick reads it anyway.
   */
  let changesReadAt: Date | undefined;
  let reconciling: Promise<void> | undefined;
  const reconcile = async () => {
    const heard = new Set<string>();
    heardDuringReconcile = heard;
    try {
      const changes = await recentChanges(ctx.db, changesReadAt);
      changesReadAt = changes.at;
      if (isClosed()) return;
      for (const m of changes.memberships) {
        if (!byUser.has(m.userId) || heard.has(`${m.userId} ${m.conversationId}`)) continue;
        onMembership({ userId: m.userId, conversationId: m.conversationId, joined: m.member });
      }
      for (const e of changes.endedSessions) onSessionsEnded({ userId: e.userId, sessionIds: [e.sessionId] });
    } finally {
      if (heardDuringReconcile === heard) heardDuringReconcile = undefined;
    }
  };
  /**
   * One run at a time: with a slow database, ticks that find one running are skipped. A failed run
   * loses nothing (the next reads from the last successful one); while the database is away, one
   * warning per 30 s is enough.
   */
  let lastReconcileWarning = 0;
  const reconcileNow = () => {
    if (reconciling || isClosed()) return;
    reconciling = reconcile()
      .catch((error: unknown) => {
        if (Date.now() - lastReconcileWarning < 30_000) return;
        lastReconcileWarning = Date.now();
        log.warn({ err: error }, 'reconcile failed');
      })
      .finally(() => (reconciling = undefined));
  };
  const heartbeat = async () => {
    // Redis is away: nothing to refresh. The first heartbeat after it returns re-adds every entry.
    if (redis && redis.pub.status !== 'ready') return;
    const conns: Array<[string, string]> = [];
    for (const socket of io.of('/').sockets.values()) if (socket.data.counted) conns.push([socket.data.userId, socket.id]);
    await presence.revive(await store.heartbeat(conns));
    for (const userId of await store.sweepExpired()) await presence.announceOffline(userId);
  };
  const guard = (name: string, fn: () => Promise<void>) => () => {
    fn().catch((error: unknown) => log.warn({ err: error }, `${name} failed`));
  };
  const timers = [
    setInterval(sweep, opts.sweepIntervalMs),
    setInterval(reconcileNow, opts.reconcileIntervalMs),
    setInterval(guard('pruning old changes', () => pruneChanges(ctx.db)), 10 * 60_000),
    ...(redis ? [setInterval(guard('presence heartbeat', heartbeat), opts.presenceHeartbeatMs)] : []),
  ];
  for (const t of timers) t.unref();

  return {
    heardLive(change) {
      heardDuringReconcile?.add(`${change.userId} ${change.conversationId}`);
    },
    reconcileNow,
    async stop() {
      for (const t of timers) clearInterval(t);
      await reconciling;
    },
  };
}
