import type { ConfabError, Message, PinList } from '@confab/protocol';
import { LiveQuery, type Notifier } from './query.ts';

/** What `watchPins` / `usePins` show of one conversation's pinned messages. */
export interface PinsState {
  /** The pinned messages, the most recently pinned first. */
  messages: Message[];
  /** True until the first fetch answered. */
  loading: boolean;
  /** Why the fetch failed (e.g. NOT_FOUND: not a member), or null. */
  error: ConfabError | null;
}

interface Tracked {
  loaded: boolean;
  loading: Promise<void> | null;
  error: ConfabError | null;
  pinned: Map<string, Message>;
  /** Messages seen while the first fetch was in flight: merged over its answer (newer state wins). */
  seen: Map<string, Message> | null;
  view: PinsState | null;
}

const NOT_LOADED: PinsState = Object.freeze({ messages: [], loading: true, error: null }) as PinsState;

const byPinnedAt = (a: Message, b: Message) => (b.pinnedAt ?? '').localeCompare(a.pinnedAt ?? '') || b.seq - a.seq;

/**
 * The pinned messages of the conversations someone watches. The list is fetched once
 * (`GET /api/conversations/:id/pins`) when first watched and then kept current from every message
 * the client applies (live `chat:message_updated`, sync, acks): a pin or unpin takes a seq like an
 * edit, so it arrives as the message's new state, whose `pinnedAt` says which it is. The message
 * window need not hold a pinned message for this to work.
 */
export class PinsTracker {
  private tracked = new Map<string, Tracked>();

  constructor(
    private readonly notifier: Notifier,
    private readonly fetch: (conversationId: string) => Promise<PinList>,
  ) {}

  /** Every stored message the client applies passes here. */
  observe(m: Message): void {
    const t = this.tracked.get(m.conversationId);
    if (!t) return;
    if (t.seen) {
      const prev = t.seen.get(m.id);
      if (!prev || m.updatedSeq > prev.updatedSeq) t.seen.set(m.id, m);
    }
    if (this.merge(t, m)) this.touch(m.conversationId, t);
  }

  private merge(t: Tracked, m: Message): boolean {
    const prev = t.pinned.get(m.id);
    if (prev && prev.updatedSeq >= m.updatedSeq) return false;
    if (m.pinnedAt) t.pinned.set(m.id, m);
    else if (prev) t.pinned.delete(m.id);
    else return false;
    return true;
  }

  private touch(conversationId: string, t: Tracked): void {
    t.view = null;
    this.notifier.touch(`pins:${conversationId}`);
  }

  /** Fetches (again) the pinned messages of a conversation. */
  load(conversationId: string): Promise<void> {
    let t = this.tracked.get(conversationId);
    if (!t) this.tracked.set(conversationId, (t = { loaded: false, loading: null, error: null, pinned: new Map(), seen: null, view: null }));
    if (t.loading) return t.loading;
    const tracked = t;
    tracked.seen = new Map();
    tracked.loading = (async () => {
      try {
        const { messages } = await this.fetch(conversationId);
        const seen = tracked.seen ?? new Map<string, Message>();
        tracked.pinned = new Map(messages.map((m) => [m.id, m]));
        for (const m of seen.values()) this.merge(tracked, m);
        tracked.error = null;
      } catch (error) {
        tracked.error = error as ConfabError;
      } finally {
        tracked.loaded = true;
        tracked.loading = null;
        tracked.seen = null;
        this.touch(conversationId, tracked);
      }
    })();
    this.touch(conversationId, tracked);
    return tracked.loading;
  }

  state(conversationId: string): PinsState {
    const t = this.tracked.get(conversationId);
    if (!t) return NOT_LOADED;
    t.view ??= { messages: [...t.pinned.values()].sort(byPinnedAt), loading: !t.loaded, error: t.error };
    return t.view;
  }

  /** A live query of one conversation's pins; the first subscriber fetches them. */
  query(conversationId: string): LiveQuery<PinsState> {
    return new LiveQuery(
      this.notifier,
      () => [`pins:${conversationId}`],
      () => this.state(conversationId),
      (a, b) => a === b,
      (active) => {
        if (active) void this.load(conversationId);
      },
    );
  }

  /** The conversation is gone (left, removed, deleted) or the user signed out. */
  forget(conversationId?: string): void {
    if (conversationId === undefined) this.tracked.clear();
    else this.tracked.delete(conversationId);
  }
}
