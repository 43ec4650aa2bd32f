/**
 * An SDK-like client on the lean socket, for the reconnect storm (S5): the tests' ordering algorithm
 * (packages/server/src/realtime/test/inOrder.ts, what the SDK implements) plus the SDK's
 * reconnection (its own full-jitter backoff, packages/client/src/backoff.ts) and outbox (a send
 * without an ack is sent again after reconnecting, with the same clientId).
 *   - per conversation a cursor: every change up to it is applied;
 *   - a live change with updatedSeq = cursor + 1 is applied at once (and the held ones after it); one
 *     at or below the cursor only replaces an older state (de-dup by id); one further ahead is held,
 *     and if the gap has not filled within 300 ms the client syncs;
 *   - after every (re)connect the client syncs from its cursors, paging while hasMore.
 */
import type { Ack, Message, SyncResult } from '@confab/protocol';
import { createBackoff, type Backoff } from '../../packages/client/src/backoff.ts';
import { InOrder } from '../../packages/server/src/realtime/test/inOrder.ts';
import { eventPrefix, frameIs, LeanSocket } from './lean.ts';

const RECEIVED = eventPrefix('chat:message_received');
const UPDATED = eventPrefix('chat:message_updated');

type Lite = Pick<Message, 'id' | 'conversationId' | 'seq' | 'updatedSeq' | 'authorId' | 'clientId'>;
const lite = (m: Message): Lite => ({ id: m.id, conversationId: m.conversationId, seq: m.seq, updatedSeq: m.updatedSeq, authorId: m.authorId, clientId: m.clientId });

/** Why connection attempts failed (all clients of this process), for the storm's diagnosis. */
export const failureReasons = new Map<string, number>();

export interface ClientStats {
  connects: number;
  failedAttempts: number;
  syncs: number;
  gapSyncs: number;
  liveDuplicates: number;
}

export class MirrorClient {
  socket: LeanSocket | undefined;
  private readonly state = new InOrder<Lite>();
  readonly messages = this.state.messages;
  readonly cursors = this.state.cursors;
  readonly stats: ClientStats = { connects: 0, failedAttempts: 0, syncs: 0, gapSyncs: 0, liveDuplicates: 0 };
  /** performance.now() when the first sync after the latest (re)connect completed. */
  syncedAt = 0;
  /** Bumped on every connection; a sync that started on an older one is abandoned. */
  private generation = 0;
  private gapTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly backoff: Backoff;
  private stopped = false;
  private syncing: Promise<void> | undefined;
  onSynced?: (client: MirrorClient) => void;
  onConnected?: (client: MirrorClient) => void;

  constructor(
    private readonly url: () => string,
    private readonly token: string,
    private readonly localAddress: string,
    /** The SDK's defaults: 1 s base, doubling, 10 s cap, full jitter. */
    backoff: { baseMs?: number; capMs?: number } = {},
  ) {
    this.backoff = createBackoff(backoff);
  }

  get connected(): boolean {
    return this.socket?.connected === true;
  }

  /** First connection: resolves once connected and synced (rejects if the first attempt fails). */
  async start(): Promise<void> {
    await this.attempt(true);
  }

  private async attempt(first = false): Promise<void> {
    if (this.stopped) return;
    const generation = ++this.generation;
    let socket: LeanSocket;
    try {
      socket = await LeanSocket.connect({
        url: this.url(),
        token: this.token,
        localAddress: this.localAddress,
        onEvent: (f) => this.onFrame(f),
        onClose: () => {
          if (this.socket !== socket) return;
          this.socket = undefined;
          this.scheduleReconnect();
        },
      });
    } catch (error) {
      this.stats.failedAttempts++;
      const reason = String((error as Error).message ?? error).replace(/\d+/g, 'N').slice(0, 60);
      failureReasons.set(reason, (failureReasons.get(reason) ?? 0) + 1);
      if (first) throw error;
      // Like the SDK: a server that refuses connections (restarting) is retried within 2 s.
      this.scheduleReconnect(/ECONNREFUSED/.test(String((error as Error).message)));
      return;
    }
    if (this.stopped || generation !== this.generation) {
      socket.close();
      return;
    }
    this.socket = socket;
    this.stats.connects++;
    this.backoff.reset();
    this.onConnected?.(this);
    try {
      await this.sync();
      if (generation === this.generation) {
        this.syncedAt = performance.now();
        this.onSynced?.(this);
      }
    } catch {
      // The connection dropped during the sync: the next connection syncs again.
      if (first) throw new Error('first sync failed');
    }
  }

  private scheduleReconnect(unreachable = false): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(
      () => {
        this.reconnectTimer = undefined;
        void this.attempt();
      },
      unreachable ? this.backoff.nextUnreachable() : this.backoff.next(),
    );
  }

  private onFrame(f: Buffer): void {
    if (!frameIs(f, RECEIVED) && !frameIs(f, UPDATED)) return;
    const [, m] = JSON.parse(f.toString('utf8', 2)) as [string, Message];
    this.onLive(lite(m));
  }

  private onLive(m: Lite): void {
    if ((this.messages.get(m.id)?.updatedSeq ?? -1) >= m.updatedSeq) this.stats.liveDuplicates++;
    if (this.state.live(m)) return;
    this.gapTimer ??= setTimeout(() => {
      this.gapTimer = undefined;
      if (this.connected && this.state.holding) {
        if (!this.syncing) this.stats.gapSyncs++;
        void this.sync().catch(() => {});
      }
    }, 300);
  }

  /** Pages through `sync` until nothing is left; concurrent calls on one connection share a run. */
  sync(): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error('offline'));
    if (this.syncing) return this.syncing;
    const run = (async () => {
      for (;;) {
        const ack = await socket.request<Ack<SyncResult>>('sync', { cursors: { ...this.cursors } }, 30_000);
        if (!ack.ok) throw new Error(`sync: ${ack.error.code}`);
        const result = ack.data;
        this.stats.syncs++;
        this.state.applySync(result, lite);
        if (!result.hasMore) return;
      }
    })().finally(() => {
      this.syncing = undefined;
    });
    this.syncing = run;
    return run;
  }

  stop(): void {
    this.stopped = true;
    if (this.gapTimer) clearTimeout(this.gapTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.socket?.close();
  }
}

/** A sender with an outbox: every send is kept until acked and sent again (same clientId) after a reconnect or a 15 s timeout. */
export class OutboxSender {
  readonly pending = new Map<string, { conversationId: string; content: string; sentAt: number }>();
  readonly acked = new Map<string, { id: string; seq: number }>();
  resent = 0;
  errors = 0;
  private seq = 0;

  constructor(
    readonly client: MirrorClient,
    private readonly prefix: string,
  ) {
    client.onConnected = () => this.flush();
  }

  send(conversationId: string): void {
    const clientId = `${this.prefix}${this.seq++}`;
    this.pending.set(clientId, { conversationId, content: `storm message ${clientId}`, sentAt: 0 });
    this.emit(clientId);
  }

  private emit(clientId: string): void {
    const p = this.pending.get(clientId);
    const socket = this.client.socket;
    if (!p || !socket?.connected) return;
    if (p.sentAt) this.resent++;
    p.sentAt = performance.now();
    socket
      .request<Ack<Message>>('chat:message_send', { conversationId: p.conversationId, content: p.content, clientId }, 15_000)
      .then(
        (ack) => {
          if (!ack.ok) {
            this.errors++;
            return;
          }
          this.pending.delete(clientId);
          this.acked.set(clientId, { id: ack.data.id, seq: ack.data.seq });
        },
        () => {
          // Disconnected or timed out: sent again on the next connection (or now, if still connected).
          if (this.client.connected && this.pending.has(clientId)) setTimeout(() => this.emit(clientId), 100);
        },
      );
  }

  /** Sends everything not yet acknowledged (after a reconnect). */
  flush(): void {
    for (const clientId of this.pending.keys()) this.emit(clientId);
  }
}
