import { mentionTokens, type Conversation, type Message } from '@confab/protocol';

/**
 * Mentions in the SDK (docs/sdk.md, "Mentions"): what a composer needs to suggest `@…` as the user
 * types, what a message view needs to highlight them, and the state of the Mentions view
 * (`client.watchMentions`). The grammar is the server's own (`mentionTokens` in @confab/protocol),
 * so what is highlighted is what the server counted.
 */

/** The `@…` being typed at the caret: where it starts (at the `@`) and the text after the `@` so far. */
export interface MentionQuery {
  start: number;
  end: number;
  query: string;
}

/**
 * The mention being typed if the caret (`caret`, a string index) is right after `@` and some
 * handle characters, at a place where a mention may start; else null. `hi @ca|` → `{ query: 'ca' }`.
 */
export function mentionQueryAt(text: string, caret: number): MentionQuery | null {
  const before = text.slice(0, caret);
  const match = /(^|[^\w@.\-/])@([A-Za-z0-9_.-]{0,32})$/.exec(before);
  if (!match) return null;
  const start = match.index + match[1]!.length;
  return { start, end: caret, query: match[2]! };
}

/** One entry of the autocomplete list. */
export interface MentionSuggestion {
  /** What goes after the `@`. */
  handle: string;
  /** What people read: the member's name, or what a group mention does. */
  label: string;
  kind: 'member' | 'assistant' | 'here' | 'channel';
  /** The member's user id (members and the assistant). */
  userId?: string;
  avatarUrl?: string | null;
}

/**
 * Whom `@query` may mean in a conversation: its members by handle or display name (prefix matches
 * first), the assistant when it is a member, `@here` and `@channel` (only when the caller may use
 * them: `mentionChannel` is `everyone`, or the caller is an owner or admin). The caller is left out.
 */
export function mentionSuggestions(conversation: Conversation, query: string, me: string | null, limit = 8): MentionSuggestion[] {
  const q = query.toLowerCase();
  const scored: { s: MentionSuggestion; score: number }[] = [];
  const rank = (...texts: string[]): number => {
    if (q === '') return 1;
    let best = 0;
    for (const t of texts) {
      const lower = t.toLowerCase();
      if (lower.startsWith(q)) best = Math.max(best, 3);
      else if (lower.split(/[\s._-]+/).some((w) => w.startsWith(q))) best = Math.max(best, 2);
      else if (lower.includes(q)) best = Math.max(best, 1);
    }
    return best;
  };
  for (const m of conversation.members) {
    if (m.userId === me) continue;
    const score = rank(m.user.handle, m.user.displayName);
    if (score === 0) continue;
    const assistant = m.user.isBot && m.user.handle.toLowerCase() === 'assistant';
    scored.push({
      s: { handle: m.user.handle, label: assistant ? 'Assistant (AI)' : m.user.displayName, kind: assistant ? 'assistant' : 'member', userId: m.userId, avatarUrl: m.user.avatarUrl },
      // The assistant first when asked for, else people by how well they match.
      score: score * 10 + (assistant ? 5 : 0),
    });
  }
  if (conversation.type === 'group' && mayMentionEveryone(conversation)) {
    for (const [handle, label] of [
      ['here', 'Notify everyone online here'],
      ['channel', 'Notify everyone in this conversation'],
    ] as const) {
      const score = rank(handle);
      if (score > 0) scored.push({ s: { handle, label, kind: handle }, score: score * 10 - 1 });
    }
  }
  return scored
    .sort((a, b) => b.score - a.score || a.s.handle.localeCompare(b.s.handle))
    .slice(0, limit)
    .map((x) => x.s);
}

/** Whether the caller's `@channel` / `@here` take effect in this conversation. */
export function mayMentionEveryone(conversation: Pick<Conversation, 'mentionChannel' | 'role'>): boolean {
  return (conversation.mentionChannel ?? 'everyone') === 'everyone' || conversation.role === 'owner' || conversation.role === 'admin';
}

/** A piece of a message's text: plain text, or a mention (of whom, and whether it is of the caller). */
export type MentionSegment =
  | { kind: 'text'; text: string }
  | { kind: 'mention'; text: string; userId: string | null; group: 'here' | 'channel' | null; me: boolean };

/**
 * Splits `message.content` into text and the mentions the server stored for it: `@handle` of a
 * member it resolved (`message.mentions`), and `@here` / `@channel` when they took effect. `@x`
 * that mentions nobody stays text. `members` maps the conversation's members' handles.
 */
export function mentionSegments(
  message: Pick<Message, 'content' | 'mentions' | 'mentionsHere' | 'mentionsChannel' | 'authorId'>,
  members: readonly { userId: string; user: { handle: string } }[],
  me: string | null,
): MentionSegment[] {
  const { content } = message;
  const mentioned = new Set(message.mentions ?? []);
  const byHandle = new Map(members.filter((m) => mentioned.has(m.userId)).map((m) => [m.user.handle.toLowerCase(), m.userId]));
  const out: MentionSegment[] = [];
  let at = 0;
  for (const t of mentionTokens(content)) {
    const group = t.handle === 'here' && message.mentionsHere ? 'here' : t.handle === 'channel' && message.mentionsChannel ? 'channel' : null;
    const userId = group ? null : (byHandle.get(t.handle) ?? null);
    if (!group && !userId) continue;
    if (t.start > at) out.push({ kind: 'text', text: content.slice(at, t.start) });
    const mine = me !== null && message.authorId !== me && (userId === me || group !== null);
    out.push({ kind: 'mention', text: content.slice(t.start, t.end), userId, group, me: mine });
    at = t.end;
  }
  if (at < content.length) out.push({ kind: 'text', text: content.slice(at) });
  return out;
}

/** What `client.watchMentions` reports. */
export interface MentionsState {
  /** Messages that mention the caller, newest first. */
  messages: Message[];
  /** True while the first page (or `refresh`) is loading. */
  loading: boolean;
  /** Older mentions may exist: `loadMore()` fetches them. */
  hasMore: boolean;
  /** Why the last load failed, if it did. */
  error: unknown;
}

export interface MentionsWatch {
  unsubscribe(): void;
  /** Fetches the next (older) page. */
  loadMore(): Promise<void>;
  /** Reloads the first page from the server. */
  refresh(): Promise<void>;
}

/** What watchMentions needs of the client (kept narrow, so it is testable on its own). */
export interface MentionsSource {
  listMentions(q: { limit?: number; cursor?: string }): Promise<{ messages: Message[]; nextCursor: string | null }>;
  /** Stored messages seen for the first time; returns the unsubscribe. */
  onMessage(fn: (m: Message) => void): () => void;
  /** Whether a message mentions the caller. */
  mentionsMe(m: Message): boolean;
  /** The caller's conversations as they change; returns the unsubscribe. */
  watchConversations(fn: (conversations: readonly Pick<Conversation, 'id' | 'unreadMentionCount'>[]) => void): () => void;
}

const byNewest = (a: Message, b: Message) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1);

/**
 * The Mentions view's state: the first page from `GET /api/mentions`, then new mentions as they
 * arrive live; mentions from a conversation the caller leaves (or is removed from) drop out.
 */
export function watchMentions(source: MentionsSource, cb: (state: MentionsState) => void, pageSize = 30): MentionsWatch {
  let state: MentionsState = { messages: [], loading: true, hasMore: false, error: null };
  let cursor: string | null = null;
  let closed = false;
  let generation = 0;
  const seenConversations = new Set<string>();
  const set = (patch: Partial<MentionsState>) => {
    if (closed) return;
    state = { ...state, ...patch };
    cb(state);
  };
  const merge = (incoming: Message[], base: Message[]): Message[] => {
    const byId = new Map(base.map((m) => [m.id, m]));
    for (const m of incoming) {
      const prev = byId.get(m.id);
      if (!prev || m.updatedSeq >= prev.updatedSeq) byId.set(m.id, m);
    }
    return [...byId.values()].filter((m) => !m.deletedAt).sort(byNewest);
  };
  const load = async (first: boolean) => {
    const mine = first ? ++generation : generation;
    if (first) set({ loading: true, error: null });
    try {
      const page = await source.listMentions({ limit: pageSize, ...(first || cursor === null ? {} : { cursor }) });
      if (closed || mine !== generation) return;
      cursor = page.nextCursor;
      set({ messages: merge(page.messages, first ? [] : state.messages), loading: false, hasMore: page.nextCursor !== null, error: null });
    } catch (error) {
      if (mine === generation) set({ loading: false, error });
    }
  };
  const stopMessages = source.onMessage((m) => {
    if (!source.mentionsMe(m)) return;
    // An old mention met while scrolling a conversation's history belongs to a page not loaded yet.
    const oldest = state.messages.at(-1);
    if (state.hasMore && oldest && byNewest(m, oldest) > 0) return;
    set({ messages: merge([m], state.messages) });
  });
  /** The newest page again, merged into what is held (older pages stay): for mentions not seen live. */
  const refreshHead = async () => {
    try {
      const page = await source.listMentions({ limit: pageSize });
      if (!closed) set({ messages: merge(page.messages, state.messages) });
    } catch {
      /* the next change tries again */
    }
  };
  let unreadMentions: number | null = null;
  const stopConversations = source.watchConversations((list) => {
    const ids = new Set(list.map((c) => c.id));
    const gone = [...seenConversations].filter((id) => !ids.has(id));
    for (const id of ids) seenConversations.add(id);
    for (const id of gone) seenConversations.delete(id);
    if (gone.length > 0) {
      const left = new Set(gone);
      const kept = state.messages.filter((m) => !left.has(m.conversationId));
      if (kept.length !== state.messages.length) set({ messages: kept });
    }
    // More unread mentions than before, e.g. in a conversation joined just now whose messages this
    // client has not held yet: fetch the newest page rather than wait for a message event.
    const total = list.reduce((n, c) => n + (c.unreadMentionCount ?? 0), 0);
    if (unreadMentions !== null && total > unreadMentions && !state.loading) void refreshHead();
    unreadMentions = total;
  });
  cb(state);
  void load(true);
  return {
    unsubscribe() {
      closed = true;
      stopMessages();
      stopConversations();
    },
    loadMore: () => (state.hasMore ? load(false) : Promise.resolve()),
    refresh: () => load(true),
  };
}
