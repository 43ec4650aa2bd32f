import { ConfabError, LIMITS, type ConversationList, type ServerEventPayload, type SyncResult } from '@confab/protocol';
import type { RestApi } from './api.ts';
import type { Connection } from './connection.ts';
import type { Outbox } from './outbox.ts';
import type { Store } from './store.ts';
import type { Clock, StoredMessage } from './types.ts';

/** How long a gap in a conversation's live changes may stay open before we sync (see scheduleGapSync). */
export const GAP_GRACE_MS = 100;

export interface SyncOptions {
  store: Store;
  conn: Connection;
  api: RestApi;
  outbox: Outbox;
  clock: Clock;
  random: () => number;
  /** Largest sync page asked for. */
  pageSize: number;
  signedInAs: () => string | null;
  closed: () => boolean;
  onError: (error: unknown) => void;
  /** Something that `isIdle` depends on changed. */
  signal: () => void;
}

/**
 * The sync engine: keeps the store's per-conversation cursors moving, applies live changes in
 * order, notices gaps and fills them, and runs the `sync` exchange after each (re)connect. Live
 * events that arrive while a sync runs wait (`deliver`) and are applied after what sync returned.
 */
export class SyncEngine {
  private readonly store: Store;
  private readonly conn: Connection;
  private readonly outbox: Outbox;
  private readonly clock: Clock;
  private _syncing = false;
  private syncQueued = false;
  private _synced = false;
  private bootstrapped = false;
  private buffer: (() => void)[] = [];
  private syncRetryTimer: unknown = null;
  /** Per conversation: changes applied ahead of a gap (updatedSeq > cursor + 1). */
  private ahead = new Map<string, Set<number>>();
  private gapTimer: unknown = null;
  private syncFailures = 0;
  private fetchingConversations = new Map<string, Promise<void>>();

  constructor(private readonly opts: SyncOptions) {
    this.store = opts.store;
    this.conn = opts.conn;
    this.outbox = opts.outbox;
    this.clock = opts.clock;
  }

  /** A sync is running (live events wait for it). */
  get syncing(): boolean {
    return this._syncing;
  }

  /** The first sync of this connection has finished (sends wait for it). */
  get synced(): boolean {
    return this._synced;
  }

  /** A new connection: sync from the cursors. */
  connected(): void {
    this._synced = false;
    this.syncFailures = 0;
    this.requestSync();
  }

  disconnected(): void {
    this._synced = false;
  }

  /** Signed out or another user: forget what was synced. */
  reset(): void {
    this.bootstrapped = false;
    this._synced = false;
    this.ahead.clear();
  }

  /** Applies a live event now, or after the sync that is running. */
  deliver(apply: () => void): void {
    if (this._syncing) this.buffer.push(apply);
    else apply();
  }

  close(): void {
    if (this.syncRetryTimer !== null) this.clock.clearTimeout(this.syncRetryTimer);
    if (this.gapTimer !== null) this.clock.clearTimeout(this.gapTimer);
  }

  /**
   * A change to one message (live event or ack). The cursor moves only when the change is the
   * next one in its conversation; a jump means we missed something, and sync fills the hole
   * (the message itself is applied at once: the store orders by seq, not by arrival).
   */
  applyChange(m: StoredMessage, opts: { replaceEqual?: boolean } = {}): void {
    const conv = m.conversationId;
    let cursor = this.store.cursor(conv);
    if (cursor === null) {
      // A conversation we have not heard of: start its window here; sync brings the conversation.
      cursor = m.updatedSeq - 1;
      this.store.setCursor(conv, cursor);
      if (this.store.floor(conv) === null) this.store.setFloor(conv, m.updatedSeq);
      this.requestSync();
    }
    this.applyStored(m, opts);
    if (m.updatedSeq === cursor + 1) this.advanceCursor(conv, m.updatedSeq);
    else if (m.updatedSeq > cursor + 1) {
      let ahead = this.ahead.get(conv);
      if (!ahead) this.ahead.set(conv, (ahead = new Set()));
      ahead.add(m.updatedSeq);
      this.scheduleGapSync();
    }
  }

  /** Moves a cursor to `seq`, then on through changes that had arrived ahead of a gap it closes. */
  private advanceCursor(conv: string, seq: number): void {
    const ahead = this.ahead.get(conv);
    let cursor = seq;
    while (ahead?.delete(cursor + 1)) cursor++;
    if (ahead?.size === 0) this.ahead.delete(conv);
    this.store.setCursor(conv, cursor);
  }

  /**
   * A gap rarely stays open: the missing change is usually an event a moment behind (two writers,
   * two nodes). Wait briefly for it, then sync from the cursor for whatever is still missing.
   */
  private scheduleGapSync(): void {
    if (this.gapTimer !== null) return;
    this.gapTimer = this.clock.setTimeout(() => {
      this.gapTimer = null;
      let open = false;
      for (const [conv, ahead] of this.ahead) {
        const cursor = this.store.cursor(conv) ?? 0;
        for (const seq of ahead) if (seq <= cursor) ahead.delete(seq);
        if (ahead.size === 0) this.ahead.delete(conv);
        else open = true;
      }
      if (open) this.requestSync();
    }, GAP_GRACE_MS);
  }

  private applyStored(m: StoredMessage, opts: { replaceEqual?: boolean } = {}): void {
    this.store.applyMessage(m, opts);
    if (m.clientId && m.authorId === this.opts.signedInAs()) this.outbox.reconcile(m);
  }

  onConversationUpdate(c: ServerEventPayload<'conversation:update'>): void {
    const known = this.store.hasConversation(c.id);
    if (!this.store.patchConversation(c) && !known) void this.fetchConversation(c.id);
    else if (!known && this.store.hasConversation(c.id)) this.requestSync();
  }

  private fetchConversation(id: string): Promise<void> {
    let p = this.fetchingConversations.get(id);
    if (!p) {
      p = this.opts.api
        .getConversation(id)
        .then((c) => this.store.upsertConversation(c, { startWindowAtEnd: true }))
        .catch((error: unknown) => {
          if (error instanceof ConfabError && (error.code === 'NOT_FOUND' || error.code === 'FORBIDDEN')) this.store.removeConversation(id);
          else this.opts.onError(error);
        })
        .finally(() => this.fetchingConversations.delete(id));
      this.fetchingConversations.set(id, p);
    }
    return p;
  }

  /** Runs a sync now, or right after the one running. */
  private requestSync(): void {
    if (!this.conn.connected || this.opts.closed()) return;
    if (this._syncing) {
      this.syncQueued = true;
      return;
    }
    void this.runSync();
  }

  private async runSync(): Promise<void> {
    this._syncing = true;
    let ok = false;
    try {
      if (!this.bootstrapped) await this.bootstrap();
      do {
        this.syncQueued = false;
        await this.syncLoop();
      } while (this.syncQueued && this.conn.connected);
      ok = true;
      this.bootstrapped = true;
      this.syncFailures = 0;
    } catch (error) {
      this.opts.onError(error);
      this.syncFailures++;
    } finally {
      // Live events that arrived during the sync, in arrival order, after what sync returned.
      const buffered = this.buffer;
      this.buffer = [];
      this._syncing = false;
      for (const apply of buffered) apply();
    }
    if (!this.conn.connected) return;
    // Sends wait for the first sync of a connection, which reconciles messages whose ack was lost.
    this._synced = true;
    if (ok) {
      for (const id of this.store.knownConversationIds()) {
        if (!this.store.hasConversation(id) && this.store.cursor(id) !== null) void this.fetchConversation(id);
      }
    } else if (this.syncRetryTimer === null) {
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(this.syncFailures, 5)) * (0.5 + this.opts.random() / 2);
      this.syncRetryTimer = this.clock.setTimeout(() => {
        this.syncRetryTimer = null;
        this.requestSync();
      }, delay);
    }
    if (this.syncQueued) this.requestSync();
    void this.outbox.drain();
    this.opts.signal();
  }

  /**
   * A first start knows no conversation. Rather than have sync replay every conversation's whole
   * history, list the conversations and start each window at its end; history is paged in when a
   * conversation is watched. If the list fails, sync alone still brings everything.
   */
  private async bootstrap(): Promise<void> {
    try {
      let cursor: string | null = null;
      do {
        const page: ConversationList = await this.opts.api.listConversations({ limit: LIMITS.maxPageSize, archived: 'all', ...(cursor ? { cursor } : {}) });
        for (const c of page.conversations) this.store.upsertConversation(c, { startWindowAtEnd: true });
        cursor = page.nextCursor;
      } while (cursor);
    } catch (error) {
      // Sync alone will do (it brings unknown conversations whole); try listing again next time.
      this.opts.onError(error);
    }
  }

  private async syncLoop(): Promise<void> {
    for (;;) {
      const result = await this.conn.request('sync', { cursors: this.store.cursors(), limit: this.opts.pageSize }, 30_000);
      this.applySyncPage(result);
      if (!result.hasMore) break;
    }
    // Conversations sync told us about without messages or cursors: start their windows at their end.
    for (const id of this.store.knownConversationIds()) {
      const c = this.store.getConversation(id);
      if (!c) continue;
      if (this.store.cursor(id) === null) this.store.setCursor(id, c.lastSeq);
      if (this.store.floor(id) === null) this.store.setFloor(id, (this.store.cursor(id) ?? c.lastSeq) + 1);
    }
  }

  /** One sync page, applied synchronously: its changes reach watchers in one notification. */
  private applySyncPage(result: SyncResult): void {
    for (const id of result.removedConversationIds ?? []) this.store.removeConversation(id);
    for (const c of result.conversations) this.store.upsertConversation(c);
    const minSeq = new Map<string, number>();
    const maxUpdated = new Map<string, number>();
    for (const m of result.messages) {
      minSeq.set(m.conversationId, Math.min(minSeq.get(m.conversationId) ?? Infinity, m.seq));
      maxUpdated.set(m.conversationId, Math.max(maxUpdated.get(m.conversationId) ?? -1, m.updatedSeq));
    }
    // A conversation new to us: its window starts at the oldest message this page brings.
    for (const [id, seq] of minSeq) if (this.store.floor(id) === null) this.store.setFloor(id, seq);
    for (const m of result.messages) this.applyStored(m);
    const next = result.cursors ? Object.entries(result.cursors) : [...maxUpdated];
    for (const [id, cursor] of next) {
      this.store.setCursor(id, cursor);
      const ahead = this.ahead.get(id);
      if (ahead) {
        for (const seq of ahead) if (seq <= cursor) ahead.delete(seq);
        this.advanceCursor(id, this.store.cursor(id) ?? cursor);
      }
    }
  }
}
