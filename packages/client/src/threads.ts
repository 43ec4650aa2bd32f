import type { MessageList, ThreadList, ThreadListItem } from '@confab/protocol';
import { LiveQuery, shallowEqual, type Notifier } from './query.ts';
import type { Store } from './store.ts';
import type { ChatMessage, Clock, StoredMessage } from './types.ts';

/**
 * Threads in the SDK (docs/sdk.md, "Threads"). A thread reply is a message of its conversation:
 * it arrives, syncs and is sent (through the outbox) like any other, and the store holds it with
 * the conversation's messages. What is kept here on top, per watched thread: its root and a window
 * of its replies (every reply with `seq >= floor`; older ones paged in with loadOlder over REST
 * `?threadRootId=`), fed by every message the store applies. And the caller's followed threads,
 * as `GET /api/threads` lists them, fetched again shortly after anything in a thread changes.
 */

/** What watchThread shows. */
export interface ThreadView {
  /** The thread's root, with its `thread` summary; null until known. */
  root: StoredMessage | null;
  /** The replies, oldest first; the caller's unsent ones last. */
  replies: ChatMessage[];
  /** True when older replies may exist (see loadOlder). */
  hasMore: boolean;
  loadingOlder: boolean;
  /** The last page fetch failed (e.g. NOT_FOUND: no such thread, or not yours to see). */
  error: unknown;
}

/** What watchThreads shows. */
export interface FollowedThreadsView {
  /** Null until the first page arrived. */
  threads: ThreadListItem[] | null;
  hasMore: boolean;
  loading: boolean;
  /** The last fetch failed (the list shown is the one before). */
  error: unknown;
}

interface ThreadState {
  conversationId: string;
  rootId: string;
  root: StoredMessage | null;
  /** Every reply with seq >= floor is held; null: nothing loaded yet. 0: the whole thread. */
  floor: number | null;
  list: StoredMessage[];
  /** While a page is on its way: replies that arrived meanwhile, merged when it lands. */
  stash: Map<string, StoredMessage> | null;
  loading: Promise<void> | null;
  error: unknown;
  watchers: number;
  query: LiveQuery<ThreadView> | null;
}

export interface ThreadsOptions {
  store: Store;
  notifier: Notifier;
  clock: Clock;
  pageSize: number;
  listThread: (conversationId: string, rootId: string, before: number | undefined, limit: number) => Promise<MessageList>;
  listFollowed: (cursor: string | undefined, limit: number) => Promise<ThreadList>;
  onError: (error: unknown) => void;
}

/** How long after a change in some thread the followed-threads list is fetched again (changes in a burst share one fetch). */
export const THREADS_REFRESH_MS = 300;

export class Threads {
  private readonly threads = new Map<string, ThreadState>();
  private followed: FollowedThreadsView = { threads: null, hasMore: false, loading: false, error: null };
  private followedCursor: string | null = null;
  private followedPages = 1;
  private followedWatchers = 0;
  private followedQuery: LiveQuery<FollowedThreadsView> | null = null;
  private refreshTimer: unknown = null;
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;

  constructor(private readonly opts: ThreadsOptions) {}

  // ---------------------------------------------------------------- one thread

  private state(conversationId: string, rootId: string): ThreadState {
    let t = this.threads.get(rootId);
    if (!t) {
      t = { conversationId, rootId, root: this.opts.store.getMessage(rootId), floor: null, list: [], stash: null, loading: null, error: null, watchers: 0, query: null };
      this.threads.set(rootId, t);
    }
    return t;
  }

  private touch(t: ThreadState): void {
    this.opts.notifier.touch(`thread:${t.rootId}`);
  }

  /** Every stored message the store applies: a watched thread's root or reply, and news for the followed list. */
  apply(m: StoredMessage): void {
    const root = this.threads.get(m.id);
    if (root && (!root.root || m.updatedSeq > root.root.updatedSeq || (m.updatedSeq === root.root.updatedSeq && m !== root.root))) {
      root.root = m;
      this.touch(root);
    }
    if (m.threadRootId) {
      const t = this.threads.get(m.threadRootId);
      if (t) this.applyReply(t, m);
    }
    // A reply came, changed or was deleted: unread counts and the order may have moved.
    if (this.followedWatchers > 0 && m.threadRootId) this.scheduleRefresh();
  }

  /** A reply held by a watched thread (which the conversation's window may not hold). */
  getReply(messageId: string): StoredMessage | null {
    for (const t of this.threads.values()) {
      const m = t.list.find((x) => x.id === messageId);
      if (m) return m;
    }
    return null;
  }

  private applyReply(t: ThreadState, m: StoredMessage): void {
    const i = t.list.findIndex((x) => x.id === m.id);
    if (i >= 0) {
      const existing = t.list[i]!;
      if (existing === m || m.updatedSeq < existing.updatedSeq) return;
      t.list[i] = m;
      this.touch(t);
      return;
    }
    if (t.floor === null || m.seq < t.floor) {
      // Not in the window (see ThreadState); kept if a page that may hold it is on its way.
      if (t.stash) {
        const prev = t.stash.get(m.id);
        if (!prev || m.updatedSeq > prev.updatedSeq) t.stash.set(m.id, m);
      }
      return;
    }
    let j = t.list.length;
    while (j > 0 && t.list[j - 1]!.seq > m.seq) j--;
    t.list.splice(j, 0, m);
    this.touch(t);
  }

  /** The replies of a thread as shown (optimistic changes over them), and the caller's unsent replies. */
  private view(t: ThreadState): ThreadView {
    const replies: ChatMessage[] = t.list.map((m) => this.opts.store.view(m));
    for (const u of this.opts.store.unsentOf(t.conversationId)) if (u.threadRootId === t.rootId) replies.push(u);
    const root = t.root ? this.opts.store.view(t.root) : null;
    return { root, replies, hasMore: t.floor === null || t.floor > 0, loadingOlder: t.loading !== null, error: t.error };
  }

  query(conversationId: string, rootId: string): LiveQuery<ThreadView> {
    const t = this.state(conversationId, rootId);
    return (t.query ??= new LiveQuery(
      this.opts.notifier,
      () => [`thread:${rootId}`, `msgs:${conversationId}`, 'overlays'],
      () => this.view(t),
      (a, b) => a.root === b.root && a.hasMore === b.hasMore && a.loadingOlder === b.loadingOlder && a.error === b.error && shallowEqual(a.replies, b.replies),
      (active) => {
        t.watchers += active ? 1 : -1;
        // A thread once watched stays held (and fed) while the client lives: watching it again
        // shows it at once, up to date.
        if (active && t.floor === null) this.loadOlder(conversationId, rootId).catch((error: unknown) => this.opts.onError(error));
      },
    ));
  }

  /** Pages in older replies of a thread (the first call fetches the latest page). */
  loadOlder(conversationId: string, rootId: string): Promise<void> {
    const t = this.state(conversationId, rootId);
    if (t.loading) return t.loading;
    if (t.floor === 0) return Promise.resolve();
    const before = t.floor ?? undefined;
    t.stash ??= new Map();
    const p = (async () => {
      try {
        const page = await this.opts.listThread(conversationId, rootId, before, this.opts.pageSize);
        if (page.root && (!t.root || page.root.updatedSeq > t.root.updatedSeq)) t.root = page.root;
        const first = page.messages[0];
        const floor = !page.hasMore ? 0 : first ? first.seq : t.floor;
        if (floor !== null && (t.floor === null || floor < t.floor)) t.floor = floor;
        const stash = t.stash;
        t.stash = null;
        for (const m of page.messages) this.applyReply(t, m);
        for (const m of stash?.values() ?? []) this.applyReply(t, m);
        t.error = null;
      } catch (error) {
        t.error = error;
        throw error;
      } finally {
        t.stash = null;
        t.loading = null;
        this.touch(t);
      }
    })();
    t.loading = p;
    this.touch(t);
    return p;
  }

  // ---------------------------------------------------------------- followed threads

  followedThreadsQuery(): LiveQuery<FollowedThreadsView> {
    return (this.followedQuery ??= new LiveQuery(
      this.opts.notifier,
      () => ['threads'],
      () => this.followed,
      (a, b) => a === b,
      (active) => {
        this.followedWatchers += active ? 1 : -1;
        if (active) void this.refresh();
      },
    ));
  }

  private setFollowed(next: Partial<FollowedThreadsView>): void {
    this.followed = { ...this.followed, ...next };
    this.opts.notifier.touch('threads');
  }

  /** Fetches the followed threads again soon (a burst of changes shares one fetch). */
  scheduleRefresh(): void {
    if (this.refreshTimer !== null || this.followedWatchers <= 0) return;
    this.refreshTimer = this.opts.clock.setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh();
    }, THREADS_REFRESH_MS);
  }

  /** Fetches the followed threads now: as many pages as are shown. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.setFollowed({ loading: true });
    const p = (async () => {
      try {
        let cursor: string | undefined;
        const threads: ThreadListItem[] = [];
        let next: string | null = null;
        for (let i = 0; i < this.followedPages; i++) {
          const page = await this.opts.listFollowed(cursor, this.opts.pageSize);
          threads.push(...page.threads);
          next = page.nextCursor;
          if (!next) break;
          cursor = next;
        }
        this.followedCursor = next;
        this.setFollowed({ threads, hasMore: next !== null, loading: false, error: null });
      } catch (error) {
        this.setFollowed({ loading: false, error });
      } finally {
        this.refreshing = null;
        if (this.refreshAgain) {
          this.refreshAgain = false;
          void this.refresh();
        }
      }
    })();
    this.refreshing = p;
    return p;
  }

  /** The next page of followed threads. */
  async loadMoreFollowed(): Promise<void> {
    if (!this.followedCursor || this.followed.loading) return;
    this.setFollowed({ loading: true });
    try {
      const page = await this.opts.listFollowed(this.followedCursor, this.opts.pageSize);
      this.followedPages++;
      this.followedCursor = page.nextCursor;
      this.setFollowed({ threads: [...(this.followed.threads ?? []), ...page.threads], hasMore: page.nextCursor !== null, loading: false, error: null });
    } catch (error) {
      this.setFollowed({ loading: false, error });
      throw error;
    }
  }

  /** Sign-out. */
  clear(): void {
    for (const t of this.threads.values()) this.touch(t);
    this.threads.clear();
    if (this.refreshTimer !== null) this.opts.clock.clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    this.followedPages = 1;
    this.followedCursor = null;
    this.setFollowed({ threads: null, hasMore: false, loading: false, error: null });
  }

  dispose(): void {
    if (this.refreshTimer !== null) this.opts.clock.clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
  }
}
