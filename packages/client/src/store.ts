import type { Conversation, Member, Message, ServerEventPayload, ToolCall } from '@confab/protocol';
import { LiveQuery, Notifier, shallowEqual } from './query.ts';
import type { ChatMessage, Clock, Presence, StoredMessage, UnsentMessage } from './types.ts';

type ConversationPatch = ServerEventPayload<'conversation:update'>;
type TypingEvent = ServerEventPayload<'chat:user_typing'>;
type ReceiptEvent = ServerEventPayload<'chat:message_status_updated'>;
type AiDelta = ServerEventPayload<'ai:delta'>;
type AiDone = ServerEventPayload<'ai:done'>;
type AiTool = ServerEventPayload<'ai:tool'>;

/** How long a typing indicator lasts without a refresh (the contract's 10 s). */
export const TYPING_TTL_MS = 10_000;

/**
 * One conversation's slice of the store.
 *
 * The message window: we hold EVERY message with `seq >= floor`, each in its state as of `cursor`
 * (the highest `updatedSeq` applied contiguously). Older messages are fetched on demand
 * (`loadOlder`, REST `before=floor`), always in their latest state. A change to a message below
 * the floor is therefore ignored: the page that later brings that message brings it as it is then.
 * `floor <= 1` means we hold the conversation from its first message.
 */
interface ConvState {
  id: string;
  conversation: Conversation | null;
  cursor: number | null;
  floor: number | null;
  /** Stored messages, sorted by seq. */
  list: StoredMessage[];
  byId: Map<string, StoredMessage>;
  /** The caller's own messages by clientId → message id, for reconciling the outbox. */
  ownByClientId: Map<string, string>;
  /** While an older page is in flight: changes to messages below the floor, merged when it lands. */
  stash: Map<string, Message> | null;
  /**
   * AI answers seen streaming below the floor (a device that started mid-answer holds the
   * conversation from its end on), by id → updatedSeq: when one finishes, it still counts as unread.
   */
  streamingBelow: Map<string, number> | null;
  unsent: readonly UnsentMessage[];
  /** Cached watchMessages result; null when it must be rebuilt. */
  view: ChatMessage[] | null;
}

interface Overlay {
  token: number;
  apply: (m: StoredMessage) => StoredMessage;
}

interface Stream {
  conversationId: string;
  /** `ai:delta` pieces by index; a repeated index is ignored. */
  pieces: (string | undefined)[];
  /** `ai:tool` states by call id (each event carries a call's whole state). */
  tools: Map<string, ToolCall>;
  /** Bumped for every new piece. */
  version: number;
}

interface Decorated {
  base: StoredMessage;
  overlays: readonly Overlay[] | undefined;
  streamVersion: number;
  view: StoredMessage;
}

export type ApplyResult = 'inserted' | 'updated' | 'ignored';

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * The text of a streaming answer so far. The stored message holds the first `streamIndex` pieces
 * in `content` (a checkpoint); the pieces from there on that arrived without a hole are appended.
 * Without `streamIndex` (an older server), the pieces from 0 are used when they run ahead of the
 * checkpoint. Null: nothing to add.
 */
function streamedText(m: StoredMessage, stream: Stream): string | null {
  const start = m.streamIndex ?? 0;
  let text = m.streamIndex === undefined ? '' : m.content;
  let i = start;
  while (stream.pieces[i] !== undefined) text += stream.pieces[i++]!;
  if (i === start) return null;
  return m.streamIndex === undefined && text.length <= m.content.length ? null : text;
}

/**
 * The tool calls of a streaming answer: the stored (or synced) ones with the live `ai:tool` states
 * over them. A call never goes back from an end state to `running` (that would be an older event).
 */
function streamedTools(m: StoredMessage, stream: Stream): ToolCall[] | null {
  if (stream.tools.size === 0) return null;
  const calls = [...(m.toolCalls ?? [])];
  for (const live of stream.tools.values()) {
    const i = calls.findIndex((c) => c.id === live.id);
    if (i < 0) calls.push(live);
    else if (!(live.status === 'running' && calls[i]!.status !== 'running')) calls[i] = live;
  }
  return calls;
}

/** Binary search: index of the first message with seq >= `seq`. */
function lowerBound(list: readonly StoredMessage[], seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.seq < seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * On the conversation's main line: not a reply in a thread, or one also sent to the channel.
 * watchMessages lists these; thread replies are listed by watchThread (threads.ts).
 */
export function onMainLine(m: Pick<Message, 'threadRootId' | 'alsoToChannel'>): boolean {
  return !m.threadRootId || m.alsoToChannel === true;
}

function compareConversations(a: Conversation, b: Conversation): number {
  if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
  if (a.lastActivityAt !== b.lastActivityAt) return a.lastActivityAt < b.lastActivityAt ? 1 : -1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The normalized client-side state: conversations, message windows, typing, presence, AI
 * streams, optimistic overlays. Every mutation marks what it touched; live queries recompute only
 * their own slice, and unchanged objects keep their identity.
 */
export class Store {
  readonly notifier = new Notifier();
  me: string | null = null;
  private convs = new Map<string, ConvState>();
  private convList: Conversation[] | null = null;
  private overlays = new Map<string, Overlay[]>();
  private decorated = new Map<string, Decorated>();
  private streams = new Map<string, Stream>();
  private typing = new Map<string, Map<string, { displayName: string; expiresAt: number }>>();
  private typingViews = new Map<string, string[]>();
  private typingTimer: unknown = null;
  private presence = new Map<string, Presence>();
  private overlayTokens = 0;
  /** Message ids seen for the first time are reported here (bots listen through `client.on('message')`). */
  onNewMessage: ((m: Message) => void) | null = null;
  /**
   * Every stored message applied (live, sync, page, ack), before de-duplication and before the
   * window decides to keep it: the threads' copies (threads.ts) and the pinned messages (pins).
   */
  onApplied: ((m: StoredMessage) => void) | null = null;

  constructor(private readonly clock: Clock) {}

  // ---------------------------------------------------------------- conversations

  private state(id: string): ConvState | undefined {
    return this.convs.get(id);
  }

  private ensure(id: string): ConvState {
    let st = this.convs.get(id);
    if (!st) {
      st = {
        id,
        conversation: null,
        cursor: null,
        floor: null,
        list: [],
        byId: new Map(),
        ownByClientId: new Map(),
        stash: null,
        streamingBelow: null,
        unsent: EMPTY,
        view: null,
      };
      this.convs.set(id, st);
    }
    return st;
  }

  private touchMessages(st: ConvState): void {
    st.view = null;
    this.notifier.touch(`msgs:${st.id}`);
  }

  private touchConversations(): void {
    this.convList = null;
    this.notifier.touch('convs');
  }

  hasConversation(id: string): boolean {
    return this.convs.get(id)?.conversation != null;
  }

  getConversation(id: string): Conversation | null {
    return this.convs.get(id)?.conversation ?? null;
  }

  knownConversationIds(): string[] {
    return [...this.convs.keys()];
  }

  /**
   * Stores a full conversation. A conversation seen for the first time through a list or a fetch
   * (not through sync) starts its window at its current end: cursor = lastSeq, floor = lastSeq + 1,
   * so its history is paged in on demand rather than replayed by sync.
   */
  upsertConversation(c: Conversation, opts: { startWindowAtEnd?: boolean } = {}): void {
    const st = this.ensure(c.id);
    if (opts.startWindowAtEnd && st.cursor === null) {
      st.cursor = c.lastSeq;
      st.floor ??= c.lastSeq + 1;
      this.notifier.touch(`meta:${c.id}`);
    }
    const prev = st.conversation;
    // Keep the newer lastMessage when ours is ahead of a snapshot that was taken earlier.
    let next = c;
    if (prev?.lastMessage && c.lastMessage && prev.lastMessage.seq > c.lastMessage.seq) {
      next = { ...c, lastMessage: prev.lastMessage, lastSeq: Math.max(c.lastSeq, prev.lastSeq) };
    }
    if (prev && shallowEqual(prev, next)) return;
    st.conversation = next;
    this.touchConversations();
  }

  /** `conversation:update`: a partial conversation; `deleted`/`removed` drop it. Returns false when unknown and incomplete. */
  patchConversation(patch: ConversationPatch): boolean {
    const { deleted, removed, ...fields } = patch;
    if (deleted || removed) {
      this.removeConversation(patch.id);
      return true;
    }
    const st = this.state(patch.id);
    if (!st?.conversation) {
      const full = fields as Partial<Conversation>;
      // Complete enough to show? (The gateway normally sends the whole conversation.)
      if (full.type && full.members && full.lastActivityAt && typeof full.lastSeq === 'number' && full.role) {
        this.upsertConversation(full as Conversation, { startWindowAtEnd: true });
        return true;
      }
      return false;
    }
    this.upsertConversation({ ...st.conversation, ...(fields as Partial<Conversation>) } as Conversation);
    return true;
  }

  removeConversation(id: string): void {
    const st = this.state(id);
    if (!st) return;
    this.convs.delete(id);
    for (const m of st.list) {
      this.overlays.delete(m.id);
      this.decorated.delete(m.id);
      this.streams.delete(m.id);
    }
    if (this.typing.delete(id)) this.notifier.touch(`typing:${id}`);
    this.touchConversations();
    this.notifier.touch(`msgs:${id}`);
    this.notifier.touch(`meta:${id}`);
  }

  // ---------------------------------------------------------------- cursors and the window

  cursor(id: string): number | null {
    return this.state(id)?.cursor ?? null;
  }

  setCursor(id: string, cursor: number): void {
    const st = this.ensure(id);
    if (st.cursor === null || cursor > st.cursor) st.cursor = cursor;
  }

  /** Every cursor we hold: the `sync` request. */
  cursors(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const st of this.convs.values()) if (st.cursor !== null) out[st.id] = st.cursor;
    return out;
  }

  floor(id: string): number | null {
    return this.state(id)?.floor ?? null;
  }

  setFloor(id: string, floor: number): void {
    const st = this.ensure(id);
    if (st.floor !== floor) {
      st.floor = floor;
      this.notifier.touch(`meta:${id}`);
    }
  }

  /** True when messages older than the window may exist. */
  hasOlder(id: string): boolean {
    const st = this.state(id);
    if (!st) return false;
    if (st.floor === null) return st.cursor !== null && st.cursor > 0;
    return st.floor > 1;
  }

  /** The `before` of the next older page. */
  olderBefore(id: string): number | null {
    const st = this.state(id);
    if (!st) return null;
    return st.floor ?? (st.cursor === null ? null : st.cursor + 1);
  }

  beginOlderLoad(id: string): void {
    this.ensure(id).stash ??= new Map();
  }

  /** Lands an older page (REST, oldest first): lowers the floor, then merges what was stashed meanwhile. */
  endOlderLoad(id: string, page: { messages: Message[]; hasMore: boolean } | null): void {
    const st = this.state(id);
    if (!st) return;
    const stash = st.stash;
    st.stash = null;
    if (!page) return;
    const first = page.messages[0];
    const floor = !page.hasMore ? 1 : first ? first.seq : st.floor;
    if (floor !== null && (st.floor === null || floor < st.floor)) this.setFloor(id, floor);
    for (const m of page.messages) this.applyMessage(m);
    for (const m of stash?.values() ?? []) this.applyMessage(m);
  }

  // ---------------------------------------------------------------- messages

  /**
   * Applies one stored message (live, sync, REST page or ack). De-duplicates by id: the state with
   * the higher `updatedSeq` wins, so replays and out-of-order deliveries converge. `replaceEqual`
   * lets an ack (same state, now marked `sendState: 'sent'`) replace the live copy.
   */
  applyMessage(m: StoredMessage, opts: { replaceEqual?: boolean } = {}): ApplyResult {
    this.onApplied?.(m);
    const st = this.ensure(m.conversationId);
    if (m.status !== 'streaming' && this.streams.has(m.id)) this.streams.delete(m.id);
    const existing = st.byId.get(m.id);
    if (existing) {
      const newer = m.updatedSeq > existing.updatedSeq || (opts.replaceEqual === true && m.updatedSeq === existing.updatedSeq);
      if (!newer || existing === m) return 'ignored';
      const i = lowerBound(st.list, m.seq);
      if (st.list[i]?.id === m.id) st.list[i] = m;
      st.byId.set(m.id, m);
      this.afterMessage(st, m, false, existing);
      return 'updated';
    }
    if (st.floor === null || m.seq < st.floor) {
      this.answerBelowFloor(st, m);
      // Below the window: not ours to hold (see ConvState). Keep it if an older page is on its way.
      if (st.stash) {
        const prev = st.stash.get(m.id);
        if (!prev || m.updatedSeq > prev.updatedSeq) st.stash.set(m.id, m);
      }
      return 'ignored';
    }
    const i = lowerBound(st.list, m.seq);
    if (i === st.list.length) st.list.push(m);
    else st.list.splice(i, 0, m);
    st.byId.set(m.id, m);
    if (m.authorId === this.me && m.clientId) st.ownByClientId.set(m.clientId, m.id);
    this.afterMessage(st, m, true);
    this.onNewMessage?.(m);
    return 'inserted';
  }

  /**
   * An AI answer below the window (not held): one seen streaming that finishes after the server's
   * count was taken joins the unread count, once, and the conversation's last message follows it.
   */
  private answerBelowFloor(st: ConvState, m: StoredMessage): void {
    if (m.status === 'streaming') {
      if (st.streamingBelow && st.streamingBelow.size > 100) st.streamingBelow.clear();
      (st.streamingBelow ??= new Map()).set(m.id, m.updatedSeq);
      return;
    }
    const c = st.conversation;
    const seen = st.streamingBelow?.get(m.id);
    if (c?.lastMessage?.id === m.id && m.updatedSeq > c.lastMessage.updatedSeq) {
      st.conversation = { ...c, lastMessage: m };
      this.touchConversations();
    }
    if (seen === undefined || m.updatedSeq <= seen) return;
    st.streamingBelow!.delete(m.id);
    const now = st.conversation;
    if (now && m.updatedSeq > now.lastSeq && this.countsUnread(now, m)) {
      st.conversation = { ...now, unreadCount: now.unreadCount + 1 };
      this.touchConversations();
    }
  }

  /**
   * Whether a message counts as unread for the caller, as the server counts it: someone else's,
   * on the main line, after the read watermark, not deleted, not system, and not an AI answer
   * still streaming (it counts once finished).
   */
  private countsUnread(c: Conversation, m: StoredMessage): boolean {
    return m.authorId !== this.me && m.kind !== 'system' && !m.deletedAt && m.status !== 'streaming' && onMainLine(m) && m.seq > c.lastReadSeq;
  }

  private afterMessage(st: ConvState, m: StoredMessage, inserted: boolean, previous?: StoredMessage): void {
    this.touchMessages(st);
    const c = st.conversation;
    if (!c) return;
    let next: Conversation | null = null;
    // A thread reply that is not on the main line neither is the last message nor counts as unread.
    const ahead = m.seq > (c.lastMessage?.seq ?? 0) && onMainLine(m);
    // An AI answer that starts streaming is not news yet: it counts as unread, and moves the
    // conversation up, when it is finished (below, and the server's `lastActivityAt` then).
    const streaming = m.status === 'streaming';
    if (inserted && ahead) {
      // The server's unreadCount counts up to its lastSeq; only later messages add to it.
      const unread = m.seq > c.lastSeq && m.authorId !== this.me && m.kind !== 'system' && m.seq > c.lastReadSeq && !streaming;
      next = {
        ...c,
        lastMessage: m,
        lastActivityAt: !streaming && m.createdAt > c.lastActivityAt ? m.createdAt : c.lastActivityAt,
        lastSeq: Math.max(c.lastSeq, m.updatedSeq),
        unreadCount: c.unreadCount + (unread ? 1 : 0),
        unreadMentionCount: (c.unreadMentionCount ?? 0) + (unread && this.mentionsMe(m) ? 1 : 0),
      };
      if (m.authorId === this.me) next = { ...next, lastReadSeq: Math.max(next.lastReadSeq, m.seq), unreadCount: 0, unreadMentionCount: 0 };
      if (m.status === 'streaming') next = { ...next, generating: true };
    } else if (c.lastMessage?.id === m.id && c.lastMessage !== m) {
      next = { ...c, lastMessage: m, lastSeq: Math.max(c.lastSeq, m.updatedSeq) };
    } else if (m.updatedSeq > c.lastSeq) {
      next = { ...c, lastSeq: m.updatedSeq };
    }
    // An answer finished (or, regenerated, streaming again) after the server's count was taken:
    // it joins (leaves) the unread count now, once.
    if (!inserted && previous && (previous.status === 'streaming') !== streaming && m.updatedSeq > c.lastSeq) {
      const base = next ?? c;
      const delta = (this.countsUnread(c, m) ? 1 : 0) - (this.countsUnread(c, previous) ? 1 : 0);
      if (delta !== 0) next = { ...base, unreadCount: Math.max(0, base.unreadCount + delta) };
    }
    if (next) {
      st.conversation = next;
      this.touchConversations();
    }
  }

  getMessage(messageId: string): StoredMessage | null {
    for (const st of this.convs.values()) {
      const m = st.byId.get(messageId);
      if (m) return m;
    }
    return null;
  }

  /** The caller's own stored message that was sent with this clientId, if we hold it. */
  getOwnByClientId(conversationId: string, clientId: string): StoredMessage | null {
    const st = this.state(conversationId);
    const id = st?.ownByClientId.get(clientId);
    return (id && st?.byId.get(id)) || null;
  }

  /** The outbox's messages of this conversation (thread replies included). */
  unsentOf(conversationId: string): readonly UnsentMessage[] {
    return this.state(conversationId)?.unsent ?? EMPTY;
  }

  /** Messages held on the main line (what watchMessages shows; thread replies do not fill a page). */
  messageCount(conversationId: string): number {
    const st = this.state(conversationId);
    if (!st) return 0;
    let n = 0;
    for (const m of st.list) if (onMainLine(m)) n++;
    return n;
  }

  /** The outbox's messages of this conversation, shown after the stored ones. */
  setUnsent(conversationId: string, unsent: readonly UnsentMessage[]): void {
    const st = this.ensure(conversationId);
    if (shallowEqual(st.unsent, unsent)) return;
    st.unsent = unsent.length === 0 ? EMPTY : unsent;
    this.touchMessages(st);
  }

  // ---------------------------------------------------------------- optimistic overlays

  /** Shows a pending change over a stored message until `removeOverlay` (confirmed or rolled back). */
  addOverlay(messageId: string, apply: (m: StoredMessage) => StoredMessage): number {
    const token = ++this.overlayTokens;
    this.overlays.set(messageId, [...(this.overlays.get(messageId) ?? []), { token, apply }]);
    this.touchMessageById(messageId);
    this.notifier.touch('overlays');
    return token;
  }

  removeOverlay(messageId: string, token: number): void {
    const list = this.overlays.get(messageId);
    if (!list) return;
    const rest = list.filter((o) => o.token !== token);
    if (rest.length === list.length) return;
    if (rest.length) this.overlays.set(messageId, rest);
    else this.overlays.delete(messageId);
    this.touchMessageById(messageId);
    this.notifier.touch('overlays');
  }

  private touchMessageById(messageId: string): void {
    for (const st of this.convs.values()) {
      const m = st.byId.get(messageId);
      if (!m) continue;
      this.touchMessages(st);
      if (st.conversation?.lastMessage?.id === messageId) this.touchConversations();
      return;
    }
  }

  /** A stored message as shown: with pending changes over it and the text streamed so far. */
  view(m: StoredMessage): StoredMessage {
    const overlays = this.overlays.get(m.id);
    const stream = m.status === 'streaming' ? this.streams.get(m.id) : undefined;
    if (!overlays && !stream) return m;
    const streamVersion = stream?.version ?? -1;
    const cached = this.decorated.get(m.id);
    if (cached && cached.base === m && cached.overlays === overlays && cached.streamVersion === streamVersion) return cached.view;
    let v = m;
    for (const o of overlays ?? []) v = o.apply(v);
    if (stream) {
      const text = streamedText(m, stream);
      if (text !== null && text !== v.content) v = { ...v, content: text };
      const tools = streamedTools(m, stream);
      if (tools) v = { ...v, toolCalls: tools };
    }
    this.decorated.set(m.id, { base: m, overlays, streamVersion, view: v });
    return v;
  }

  // ---------------------------------------------------------------- AI streams

  /** A piece of a streaming answer. Pieces are stitched by `index`, so a repeated one counts once. */
  aiDelta(e: AiDelta): void {
    let s = this.streams.get(e.messageId);
    if (!s) this.streams.set(e.messageId, (s = { conversationId: e.conversationId, pieces: [], tools: new Map(), version: 0 }));
    if (e.index < 0 || e.index > 1_000_000 || s.pieces[e.index] !== undefined) return;
    s.pieces[e.index] = e.text;
    s.version++;
    const st = this.state(e.conversationId);
    if (st?.byId.has(e.messageId)) this.touchMessages(st);
  }

  /** A tool call of a streaming answer started or ended: its whole state, kept until the answer ends. */
  aiTool(e: AiTool): void {
    let s = this.streams.get(e.messageId);
    if (!s) this.streams.set(e.messageId, (s = { conversationId: e.conversationId, pieces: [], tools: new Map(), version: 0 }));
    const known = s.tools.get(e.call.id);
    if (known && known.status !== 'running' && e.call.status === 'running') return;
    if (s.tools.size >= 1000 && !known) return;
    s.tools.set(e.call.id, e.call);
    s.version++;
    const st = this.state(e.conversationId);
    if (st?.byId.has(e.messageId)) this.touchMessages(st);
  }

  /** The answer is over: its final content replaces the pieces. */
  aiDone(e: AiDone): void {
    this.streams.delete(e.messageId);
    this.decorated.delete(e.messageId);
    const st = this.state(e.conversationId);
    const m = st?.byId.get(e.messageId);
    if (st && m && (m.status !== e.status || m.content !== e.content)) {
      // Same updatedSeq: the server's own message_updated (if any) carries a higher one and wins.
      const done: StoredMessage = { ...m, status: e.status, content: e.content };
      const i = lowerBound(st.list, m.seq);
      if (st.list[i]?.id === m.id) st.list[i] = done;
      st.byId.set(m.id, done);
      this.afterMessage(st, done, false);
      // The server sends message_updated (the final state, a new seq) before ai:done, so this
      // is the fallback when that did not arrive first: the answer is unread from now on.
      const c = st.conversation;
      if (m.status === 'streaming' && c && this.countsUnread(c, done)) {
        st.conversation = { ...c, unreadCount: c.unreadCount + 1 };
        this.touchConversations();
      }
    }
    // Its author is no longer answering (the server says so too; this covers a lost event).
    const answering = m && this.typing.get(e.conversationId);
    if (m && answering?.delete(m.authorId)) this.notifier.touch(`typing:${e.conversationId}`);
    if (st?.conversation?.generating) {
      st.conversation = { ...st.conversation, generating: false };
      this.touchConversations();
    }
  }


  // ---------------------------------------------------------------- receipts, typing, presence

  receipt(e: ReceiptEvent): void {
    const st = this.state(e.conversationId);
    const c = st?.conversation;
    if (!st || !c) return;
    const field = e.status === 'read' ? 'lastReadSeq' : 'lastDeliveredSeq';
    let changed = false;
    const members = c.members.map((mb): Member => {
      if (mb.userId !== e.userId) return mb;
      const read = e.status === 'read' ? Math.max(mb.lastReadSeq, e.seq) : mb.lastReadSeq;
      const delivered = Math.max(mb.lastDeliveredSeq, e.seq);
      if (read === mb.lastReadSeq && delivered === mb.lastDeliveredSeq) return mb;
      changed = true;
      return { ...mb, lastReadSeq: read, lastDeliveredSeq: delivered };
    });
    let next: Conversation = changed ? { ...c, members } : c;
    if (e.userId === this.me && e.seq > c[field]) {
      next = { ...next, [field]: e.seq, lastDeliveredSeq: Math.max(c.lastDeliveredSeq, e.seq) };
      if (e.status === 'read') {
        next = { ...next, unreadCount: this.unreadAfter(st, e.seq, c.unreadCount), unreadMentionCount: this.unreadAfter(st, e.seq, c.unreadMentionCount ?? 0, true) };
      }
    }
    if (next !== c) {
      st.conversation = next;
      this.touchConversations();
    }
  }

  /**
   * Unread messages after `seq` (only those that mention the caller, with `mentionsOnly`), counted
   * from the window when it covers them, else from the server's count.
   */
  private unreadAfter(st: ConvState, seq: number, fallback: number, mentionsOnly = false): number {
    if (st.floor === null || st.floor > seq + 1) return st.conversation && seq >= st.conversation.lastSeq ? 0 : fallback;
    let n = 0;
    for (let i = st.list.length - 1; i >= 0 && st.list[i]!.seq > seq; i--) {
      const m = st.list[i]!;
      // Unread counts the main line (thread replies count in the Threads view); mentions count wherever they are, as the server's count does.
      if (m.authorId !== this.me && m.kind !== 'system' && !m.deletedAt && (mentionsOnly ? this.mentionsMe(m) : onMainLine(m) && m.status !== 'streaming')) n++;
    }
    return n;
  }

  /**
   * Whether a message mentions the signed-in user: by handle, `@channel`, or `@here` (a message
   * that reaches this client live found its user online; the server's count, which knows who was
   * online, replaces this guess at the next list or sync).
   */
  mentionsMe(m: Pick<Message, 'authorId' | 'mentions' | 'mentionsHere' | 'mentionsChannel' | 'deletedAt'>): boolean {
    if (!this.me || m.authorId === this.me || m.deletedAt) return false;
    return (m.mentions ?? []).includes(this.me) || m.mentionsChannel === true || m.mentionsHere === true;
  }

  /** Local read state (optimistic markRead); returns a function that restores the previous state. */
  setOwnRead(conversationId: string, seq: number): () => void {
    const st = this.state(conversationId);
    const c = st?.conversation;
    if (!st || !c || seq <= c.lastReadSeq) return () => {};
    const next: Conversation = {
      ...c,
      lastReadSeq: seq,
      lastDeliveredSeq: Math.max(c.lastDeliveredSeq, seq),
      unreadCount: this.unreadAfter(st, seq, c.unreadCount),
      unreadMentionCount: this.unreadAfter(st, seq, c.unreadMentionCount ?? 0, true),
    };
    st.conversation = next;
    this.touchConversations();
    return () => {
      // Roll back only if nothing newer (e.g. the server's receipt) replaced our guess meanwhile.
      if (st.conversation === next && this.convs.get(conversationId) === st) {
        st.conversation = c;
        this.touchConversations();
      }
    };
  }

  userTyping(e: TypingEvent): void {
    let byUser = this.typing.get(e.conversationId);
    if (e.isTyping) {
      if (!byUser) this.typing.set(e.conversationId, (byUser = new Map()));
      const had = byUser.has(e.userId);
      byUser.set(e.userId, { displayName: e.displayName, expiresAt: this.clock.now() + TYPING_TTL_MS });
      if (!had) this.notifier.touch(`typing:${e.conversationId}`);
      this.scheduleTypingExpiry();
    } else if (byUser?.delete(e.userId)) {
      this.notifier.touch(`typing:${e.conversationId}`);
    }
  }

  private scheduleTypingExpiry(): void {
    if (this.typingTimer !== null) this.clock.clearTimeout(this.typingTimer);
    this.typingTimer = null;
    let next = Infinity;
    for (const byUser of this.typing.values()) for (const t of byUser.values()) next = Math.min(next, t.expiresAt);
    if (next === Infinity) return;
    this.typingTimer = this.clock.setTimeout(() => {
      this.typingTimer = null;
      this.expireTyping();
    }, Math.max(0, next - this.clock.now()));
  }

  expireTyping(): void {
    const now = this.clock.now();
    for (const [conv, byUser] of this.typing) {
      for (const [user, t] of byUser) {
        if (t.expiresAt <= now) {
          byUser.delete(user);
          this.notifier.touch(`typing:${conv}`);
        }
      }
      if (byUser.size === 0) this.typing.delete(conv);
    }
    this.scheduleTypingExpiry();
  }

  typingUsers(conversationId: string): string[] {
    const ids = [...(this.typing.get(conversationId)?.keys() ?? [])].filter((id) => id !== this.me);
    const prev = this.typingViews.get(conversationId);
    if (prev && shallowEqual(prev, ids)) return prev;
    this.typingViews.set(conversationId, ids);
    return ids;
  }

  setPresence(e: ServerEventPayload<'user:status_changed'>): void {
    const prev = this.presence.get(e.userId);
    if (prev && prev.status === e.status && prev.lastSeenAt === e.lastSeenAt) return;
    this.presence.set(e.userId, { status: e.status, lastSeenAt: e.lastSeenAt });
    this.notifier.touch(`presence:${e.userId}`);
  }

  getPresence(userId: string): Presence {
    let p = this.presence.get(userId);
    if (!p) {
      // Not heard of yet: what the members' profiles say, if we know the user.
      let lastSeenAt: string | null = null;
      for (const st of this.convs.values()) {
        const mb = st.conversation?.members.find((x) => x.userId === userId);
        if (mb) {
          lastSeenAt = mb.user.lastSeenAt;
          break;
        }
      }
      p = { status: 'unknown', lastSeenAt };
      this.presence.set(userId, p);
    }
    return p;
  }

  // ---------------------------------------------------------------- views

  conversations(): Conversation[] {
    if (!this.convList) {
      const list: Conversation[] = [];
      for (const st of this.convs.values()) if (st.conversation) list.push(st.conversation);
      this.convList = list.sort(compareConversations);
    }
    return this.convList;
  }

  messages(conversationId: string): ChatMessage[] {
    const st = this.state(conversationId);
    if (!st) return EMPTY as unknown as ChatMessage[];
    if (!st.view) {
      // The main line: thread replies are watchThread's (threads.ts), unless also sent to the channel.
      const out: ChatMessage[] = [];
      for (const m of st.list) if (onMainLine(m)) out.push(this.view(m));
      for (const u of st.unsent) if (onMainLine(u)) out.push(u);
      st.view = out;
    }
    return st.view;
  }

  // ---------------------------------------------------------------- queries

  conversationsQuery(): LiveQuery<Conversation[]> {
    return new LiveQuery(this.notifier, () => ['convs'], () => this.conversations());
  }

  messagesQuery(conversationId: string, onActive?: (active: boolean) => void): LiveQuery<ChatMessage[]> {
    return new LiveQuery(this.notifier, () => [`msgs:${conversationId}`], () => this.messages(conversationId), shallowEqual, onActive);
  }

  typingQuery(conversationId: string, onActive?: (active: boolean) => void): LiveQuery<string[]> {
    return new LiveQuery(this.notifier, () => [`typing:${conversationId}`], () => this.typingUsers(conversationId), shallowEqual, onActive);
  }

  presenceQuery(userIds: readonly string[], onActive?: (active: boolean) => void): LiveQuery<Record<string, Presence>> {
    const ids = [...new Set(userIds)];
    return new LiveQuery(
      this.notifier,
      () => ids.map((id) => `presence:${id}`),
      () => Object.fromEntries(ids.map((id) => [id, this.getPresence(id)])),
      shallowEqual,
      onActive,
    );
  }

  /** Drops everything (sign-out). */
  clear(): void {
    const ids = [...this.convs.keys()];
    this.convs.clear();
    this.overlays.clear();
    this.decorated.clear();
    this.streams.clear();
    for (const id of ids) {
      this.notifier.touch(`msgs:${id}`);
      this.notifier.touch(`meta:${id}`);
    }
    for (const id of this.typing.keys()) this.notifier.touch(`typing:${id}`);
    this.typing.clear();
    for (const id of this.presence.keys()) this.notifier.touch(`presence:${id}`);
    this.presence.clear();
    this.touchConversations();
  }

  dispose(): void {
    if (this.typingTimer !== null) this.clock.clearTimeout(this.typingTimer);
    this.typingTimer = null;
  }
}
