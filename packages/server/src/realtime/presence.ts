import { conversationRoom } from '../bus/bus.ts';
import type { Context } from '../context.ts';
import { conversationsByUser, hidesPresence, markLastSeen } from '../operations/presence.ts';
import type { PresenceStore } from './presenceStore.ts';
import type { AppServer, AppSocket } from './types.ts';

const CONV_PREFIX = conversationRoom('');

/** The conversation rooms a socket is in, i.e. the conversations of its user as this node knows them. */
export function conversationRoomsOf(socket: AppSocket): string[] {
  return [...socket.rooms].filter((r) => r.startsWith(CONV_PREFIX));
}

/**
 * Online/offline announcements (none for a user who hides their presence: privacy's `showLastSeen`
 * false; the presence store still counts them, for notifications and @here). A user is online while at least one of their sockets, on any
 * node, is connected and not away. The store computes each transition atomically; this class
 * announces it with `user:status_changed` to the rooms of the user's conversations (so exactly
 * the people who share a conversation with the user hear of it) and stamps `last_seen_at` when
 * the user goes offline.
 *
 * Races: a user's transitions on one node run one after another (a promise chain per user), so a
 * quick disconnect/reconnect cannot announce "online" before the "offline" it follows. Across
 * nodes the store's order is authoritative, and before announcing "offline" we check that the
 * user did not come back meanwhile; a remaining window (two nodes announcing within the same few
 * milliseconds) can leave a client with a stale status until the next change. Presence is a hint,
 * not part of the delivery guarantee.
 */
export class Presence {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    private readonly ctx: Context,
    private readonly io: AppServer,
    readonly store: PresenceStore,
  ) {}

  /** Serializes a user's presence work on this node. */
  private task(userId: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(userId) ?? Promise.resolve();
    const next = prev
      .then(fn)
      .catch((error: unknown) => this.ctx.log.warn({ err: error, userId }, 'presence update failed'))
      .finally(() => {
        if (this.chains.get(userId) === next) this.chains.delete(userId);
      });
    this.chains.set(userId, next);
    return next;
  }

  /** The socket counts from now on (connected, or back from away). */
  count(socket: AppSocket): Promise<void> {
    if (socket.data.counted) return Promise.resolve();
    socket.data.counted = true;
    const { userId } = socket.data;
    return this.task(userId, async () => {
      if ((await this.store.add(userId, socket.id)) && !socket.data.hidden) this.announceOnline(userId, conversationRoomsOf(socket));
    });
  }

  /** The socket stops counting (disconnected, or away). */
  uncount(socket: AppSocket): Promise<void> {
    if (!socket.data.counted) return Promise.resolve();
    socket.data.counted = false;
    const { userId } = socket.data;
    return this.task(userId, async () => {
      if (await this.store.remove(userId, socket.id)) await this.announceOffline(userId);
    });
  }

  private announceOnline(userId: string, rooms: string[]): void {
    if (rooms.length === 0) return;
    this.io.to(rooms).emit('user:status_changed', { userId, status: 'online', lastSeenAt: new Date().toISOString() });
  }

  /** Stamps last_seen_at and tells the user's conversations, unless the user came back meanwhile. */
  async announceOffline(userId: string): Promise<void> {
    const seen = await markLastSeen(this.ctx, userId);
    if (!seen || seen.hidden || seen.conversationIds.length === 0) return;
    if ((await this.store.online([userId])).has(userId)) return;
    this.io.to(seen.conversationIds.map(conversationRoom)).emit('user:status_changed', {
      userId,
      status: 'offline',
      lastSeenAt: seen.lastSeenAt.toISOString(),
    });
  }

  /** Users brought back by a heartbeat after their entries had expired (a stalled node). */
  async revive(userIds: string[]): Promise<void> {
    if (userIds.length === 0) return;
    const byUser = [...(await conversationsByUser(this.ctx, userIds))];
    const hidden = await Promise.all(byUser.map(([userId]) => hidesPresence(this.ctx, userId)));
    byUser.forEach(([userId, conversationIds], i) => {
      if (!hidden[i]) this.announceOnline(userId, conversationIds.map(conversationRoom));
    });
  }

  /** The current status of these users, for a client that just put a conversation on screen. */
  async snapshot(socket: AppSocket, members: ReadonlyArray<{ id: string; lastSeenAt: Date | null; hidden?: boolean }>): Promise<void> {
    const online = await this.store.online(members.map((m) => m.id));
    for (const m of members) {
      socket.emit('user:status_changed', {
        userId: m.id,
        // A member who hides their presence always shows offline, with no last-seen time.
        status: online.has(m.id) && !m.hidden ? 'online' : 'offline',
        lastSeenAt: m.lastSeenAt ? new Date(m.lastSeenAt).toISOString() : null,
      });
    }
  }

  /** Waits for pending announcements (graceful shutdown, before the database closes). */
  async settle(): Promise<void> {
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()]);
  }
}
