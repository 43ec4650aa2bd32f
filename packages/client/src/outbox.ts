import { ConfabError, type ErrorCode, type ErrorPayload, type Message } from '@confab/protocol';
import type { Store } from './store.ts';
import type { ChatMessage, Clock, SendInput, StoredMessage, Storage, UnsentMessage } from './types.ts';

/** One queued message, as persisted. */
export interface OutboxEntry {
  key: string;
  clientId: string;
  conversationId: string;
  authorId: string;
  content: string;
  kind?: SendInput['kind'];
  replyToId?: string | null;
  attachmentIds?: string[];
  threadRootId?: string | null;
  alsoToChannel?: boolean;
  createdAt: string;
  state: 'pending' | 'failed';
  error?: ErrorPayload;
}

/** Errors that another attempt cannot fix: the message is marked failed (retry() is the user's call). */
export const PERMANENT_ERRORS: ReadonlySet<ErrorCode> = new Set(['VALIDATION_ERROR', 'FORBIDDEN', 'NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'CONFLICT']);
/** INTERNAL is a server bug: retried a few times, then failed, so one poisoned message cannot block the queue forever. */
const MAX_INTERNAL_ATTEMPTS = 3;

export interface OutboxOptions {
  storage: Storage;
  store: Store;
  /** Applies a stored message to the store (handles conversations the store does not know yet). */
  apply: (m: StoredMessage) => void;
  clock: Clock;
  /** Sends one message and returns the stored one (throws ConfabError). */
  send: (entry: OutboxEntry) => Promise<Message>;
  /** Online, synced, and (with several tabs) the leader. */
  canDrain: () => boolean;
  /** After UNAUTHENTICATED: true when a fresh token is in place. */
  refresh: () => Promise<boolean>;
  /** Cross-tab: an entry was added or changed here, or left the queue (with the stored message when sent). */
  onChange?: (change: { entry: OutboxEntry } | { removed: string; message: Message | null }) => void;
}

function toError(error: unknown): ConfabError {
  return error instanceof ConfabError ? error : new ConfabError('UNAVAILABLE', (error as Error)?.message ?? String(error));
}

/**
 * The persistent queue of the caller's unsent messages.
 *
 * Sends go out one at a time, in the order they were written: the server numbers messages in the
 * order it stores them, so pipelining could reorder them. Each carries a clientId the server
 * de-duplicates on (the same clientId returns the first message), which makes a resend after a lost
 * ack, a crash or a restart harmless: every message is stored exactly once.
 */
export class Outbox {
  private entries: OutboxEntry[] = [];
  private views = new Map<string, { entry: OutboxEntry; view: UnsentMessage }>();
  private waiters = new Map<string, ((m: ChatMessage) => void)[]>();
  /** Storage writes per clientId, chained so a delete can never be overtaken by an earlier set. */
  private io = new Map<string, Promise<void>>();
  private internalAttempts = new Map<string, number>();
  private draining = false;
  private drainAgain = false;
  private retryTimer: unknown = null;
  private loaded: Promise<void> = Promise.resolve();
  private prefix: string | null = null;
  private order = 0;
  private closed = false;

  constructor(private readonly opts: OutboxOptions) {}

  /** Loads the persisted queue of this user (their messages show as pending at once), then drains. */
  load(userId: string): Promise<void> {
    this.prefix = `outbox/${userId}/`;
    const prefix = this.prefix;
    this.loaded = (async () => {
      const keys = (await this.opts.storage.keys(prefix)).sort();
      const stored: OutboxEntry[] = [];
      for (const key of keys) {
        const value = (await this.opts.storage.get(key)) as OutboxEntry | undefined;
        if (value && typeof value.clientId === 'string' && typeof value.conversationId === 'string') stored.push({ ...value, key });
      }
      if (this.prefix !== prefix) return;
      for (const e of stored) this.upsert(e);
    })().catch(() => {
      /* unreadable storage: start empty rather than not at all */
    });
    void this.loaded.then(() => this.drain());
    return this.loaded;
  }

  get size(): number {
    return this.entries.length;
  }

  get pendingCount(): number {
    return this.entries.filter((e) => e.state === 'pending').length;
  }

  add(conversationId: string, authorId: string, input: SendInput, clientId: string, now: number): OutboxEntry {
    if (!this.prefix) throw new ConfabError('UNAUTHENTICATED', 'not signed in');
    // Keys sort in send order: time, then a counter for sends within one millisecond.
    this.order = Math.max(this.order + 1, now * 1000);
    const entry: OutboxEntry = {
      key: `${this.prefix}${String(this.order).padStart(17, '0')}-${clientId}`,
      clientId,
      conversationId,
      authorId,
      content: input.content,
      createdAt: new Date(now).toISOString(),
      state: 'pending',
    };
    if (input.kind !== undefined) entry.kind = input.kind;
    if (input.replyToId !== undefined) entry.replyToId = input.replyToId;
    if (input.attachmentIds !== undefined) entry.attachmentIds = input.attachmentIds;
    if (input.threadRootId) entry.threadRootId = input.threadRootId;
    if (input.threadRootId && input.alsoToChannel) entry.alsoToChannel = true;
    this.upsert(entry);
    this.persist(entry);
    this.opts.onChange?.({ entry });
    void this.drain();
    return entry;
  }

  /** Adds or replaces an entry (from storage or another tab), keeping key order. */
  upsert(entry: OutboxEntry): void {
    const i = this.entries.findIndex((e) => e.clientId === entry.clientId);
    if (i >= 0) this.entries[i] = entry;
    else {
      let j = this.entries.length;
      while (j > 0 && this.entries[j - 1]!.key > entry.key) j--;
      this.entries.splice(j, 0, entry);
    }
    this.render(entry.conversationId);
    if (entry.state === 'failed') this.settle(entry.clientId);
  }

  find(clientId: string): OutboxEntry | undefined {
    return this.entries.find((e) => e.clientId === clientId);
  }

  /** The message as shown while unsent. */
  unsent(entry: OutboxEntry): UnsentMessage {
    const cached = this.views.get(entry.clientId);
    if (cached?.entry === entry) return cached.view;
    const view: UnsentMessage = {
      id: null,
      seq: null,
      updatedSeq: null,
      clientId: entry.clientId,
      conversationId: entry.conversationId,
      authorId: entry.authorId,
      kind: entry.kind ?? 'text',
      content: entry.content,
      replyToId: entry.replyToId ?? null,
      attachments: [],
      reactions: [],
      createdAt: entry.createdAt,
      editedAt: null,
      deletedAt: null,
      status: 'complete',
      model: null,
      ...(entry.threadRootId ? { threadRootId: entry.threadRootId, alsoToChannel: entry.alsoToChannel === true } : {}),
      sendState: entry.state,
      ...(entry.error ? { error: entry.error } : {}),
    };
    this.views.set(entry.clientId, { entry, view });
    return view;
  }

  private render(conversationId: string): void {
    this.opts.store.setUnsent(
      conversationId,
      this.entries.filter((e) => e.conversationId === conversationId).map((e) => this.unsent(e)),
    );
  }

  private persist(entry: OutboxEntry): void {
    void this.chain(entry.clientId, () => this.opts.storage.set(entry.key, entry));
  }

  private chain(clientId: string, op: () => Promise<void>): Promise<void> {
    const next = (this.io.get(clientId) ?? Promise.resolve()).then(op).catch(() => {
      /* a storage failure loses durability, not the message in memory */
    });
    this.io.set(clientId, next);
    void next.then(() => {
      if (this.io.get(clientId) === next) this.io.delete(clientId);
    });
    return next;
  }

  /** Resolves once every storage write issued so far has landed (tests, close). */
  async flushed(): Promise<void> {
    await Promise.all([...this.io.values()]);
  }

  /** A promise of the final state (sent or failed) of a message. */
  settled(clientId: string): Promise<ChatMessage> {
    return new Promise((resolve) => {
      const list = this.waiters.get(clientId) ?? [];
      list.push(resolve);
      this.waiters.set(clientId, list);
    });
  }

  private settle(clientId: string, message?: ChatMessage): void {
    const list = this.waiters.get(clientId);
    if (!list) return;
    const entry = this.find(clientId);
    const final = message ?? (entry ? this.unsent(entry) : undefined);
    if (!final) return;
    this.waiters.delete(clientId);
    for (const fn of list) fn(final);
  }

  /** The message is stored: it leaves the queue and the stored one takes its place, in one notification. */
  confirm(clientId: string, message: Message | null, opts: { broadcast?: boolean } = {}): void {
    const i = this.entries.findIndex((e) => e.clientId === clientId);
    if (i < 0) return;
    const entry = this.entries[i]!;
    this.entries.splice(i, 1);
    this.views.delete(clientId);
    this.internalAttempts.delete(clientId);
    let stored: StoredMessage | null = null;
    if (message) {
      stored = { ...message, sendState: 'sent' };
      this.opts.apply(stored);
    }
    this.render(entry.conversationId);
    void this.chain(clientId, () => this.opts.storage.delete(entry.key));
    if (opts.broadcast !== false) this.opts.onChange?.({ removed: clientId, message });
    const shown = message ? this.opts.store.getOwnByClientId(message.conversationId, clientId) : null;
    this.settle(clientId, shown ?? stored ?? undefined);
  }

  /** A stored message arrived (live or sync) with the clientId of a queued one: it was sent before the ack got lost. */
  reconcile(message: Message): void {
    if (!message.clientId || this.entries.length === 0) return;
    const entry = this.find(message.clientId);
    if (entry && entry.conversationId === message.conversationId && entry.authorId === message.authorId) this.confirm(entry.clientId, message);
  }

  private fail(entry: OutboxEntry, error: ConfabError): void {
    const failed: OutboxEntry = { ...entry, state: 'failed', error: error.toPayload() };
    this.upsert(failed);
    this.persist(failed);
    this.opts.onChange?.({ entry: failed });
  }

  /** Puts a failed message back in the queue; resolves with its final state. */
  retry(clientId: string): Promise<ChatMessage> {
    const entry = this.find(clientId);
    if (!entry) return Promise.reject(new ConfabError('NOT_FOUND', 'no such unsent message'));
    const done = this.settled(clientId);
    if (entry.state === 'failed') {
      const { error: _error, ...rest } = entry;
      const pending: OutboxEntry = { ...rest, state: 'pending' };
      this.internalAttempts.delete(clientId);
      this.upsert(pending);
      this.persist(pending);
      this.opts.onChange?.({ entry: pending });
    }
    void this.drain();
    return done;
  }

  /** Drops an unsent message for good. */
  discard(clientId: string): void {
    const entry = this.find(clientId);
    if (!entry) return;
    this.entries = this.entries.filter((e) => e !== entry);
    this.views.delete(clientId);
    this.render(entry.conversationId);
    void this.chain(clientId, () => this.opts.storage.delete(entry.key));
    this.opts.onChange?.({ removed: clientId, message: null });
    this.waiters.delete(clientId);
  }

  /** Another tab settled or dropped an entry. */
  removeRemote(clientId: string, message: Message | null): void {
    if (message) this.confirm(clientId, message, { broadcast: false });
    else {
      const entry = this.find(clientId);
      if (!entry) return;
      this.entries = this.entries.filter((e) => e !== entry);
      this.views.delete(clientId);
      this.render(entry.conversationId);
    }
  }

  /** Sends what is queued, in order, while we may. Single-flight: concurrent calls join the running loop. */
  async drain(): Promise<void> {
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = true;
    try {
      await this.loaded;
      do {
        this.drainAgain = false;
        await this.drainOnce();
      } while (this.drainAgain && !this.closed);
    } finally {
      this.draining = false;
    }
  }

  private async drainOnce(): Promise<void> {
    while (!this.closed && this.opts.canDrain()) {
      const entry = this.entries.find((e) => e.state === 'pending');
      if (!entry) return;
      // Durable before it leaves: a crash after the server stored it then costs a harmless resend, never a loss.
      await this.io.get(entry.clientId);
      try {
        const message = await this.opts.send(entry);
        this.confirm(entry.clientId, message);
      } catch (e) {
        const error = toError(e);
        if (!this.find(entry.clientId)) continue; // settled meanwhile (reconciled by sync, or by another tab)
        if (PERMANENT_ERRORS.has(error.code)) {
          this.fail(entry, error);
          continue;
        }
        if (error.code === 'INTERNAL') {
          const n = (this.internalAttempts.get(entry.clientId) ?? 0) + 1;
          this.internalAttempts.set(entry.clientId, n);
          if (n >= MAX_INTERNAL_ATTEMPTS) {
            this.fail(entry, error);
            continue;
          }
        }
        if (error.code === 'UNAUTHENTICATED') {
          if (await this.opts.refresh()) continue;
          return; // the session is over; the queue waits for the next one
        }
        // Transient (offline, timeout, rate limit, unavailable): keep the order, wait and try again.
        // A reconnect drains at once; this timer covers errors that leave the socket up.
        const details = error.details as { retryAfterMs?: number } | undefined;
        this.scheduleRetry(error.code === 'RATE_LIMITED' && details?.retryAfterMs ? details.retryAfterMs : 2000);
        return;
      }
    }
  }

  private scheduleRetry(ms: number): void {
    if (this.retryTimer !== null || this.closed) return;
    this.retryTimer = this.opts.clock.setTimeout(() => {
      this.retryTimer = null;
      void this.drain();
    }, ms);
  }

  /** Forgets the in-memory queue (sign-out); what is persisted stays for the next sign-in. */
  clear(): void {
    const convs = new Set(this.entries.map((e) => e.conversationId));
    this.entries = [];
    this.views.clear();
    this.waiters.clear();
    this.prefix = null;
    for (const id of convs) this.render(id);
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer !== null) this.opts.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
