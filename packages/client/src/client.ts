import {
  ConfabError,
  LIMITS,
  type AuthResult,
  type ClientEventName,
  type ClientEventPayload,
  type ClientEventResults,
  type Conversation,
  type LoginBody,
  type Me,
  type Message,
  type RegisterBody,
  type ServerEventName,
  type ServerEventPayload,
  type ThreadFollow,
  type TokenPair,
  type Visibility,
} from '@confab/protocol';
import { io } from 'socket.io-client';
import { RestApi } from './api.ts';
import { Connection, type SocketFactory, type SocketLike, type Transport } from './connection.ts';
import { CrossTab, type TabMessage } from './crosstab.ts';
import { Outbox, type OutboxEntry } from './outbox.ts';
import { PinsTracker, type PinsState } from './pins.ts';
import { watchMentions, type MentionsState, type MentionsWatch } from './mentions.ts';
import { LiveQuery } from './query.ts';
import { Rest, type FetchLike } from './rest.ts';
import { Session, REFRESH_MARGIN_MS, type TokenProvider } from './session.ts';
import { tokenExpiry } from './jwt.ts';
import { indexedDbStorage } from './storage/indexeddb.ts';
import { memoryStorage } from './storage/memory.ts';
import { Store } from './store.ts';
import { SyncEngine } from './sync.ts';
import { Threads, type FollowedThreadsView, type ThreadView } from './threads.ts';
import {
  systemClock,
  type ChatMessage,
  type Clock,
  type ConnectionState,
  type OutgoingMessage,
  type Presence,
  type SendInput,
  type Storage,
  type StoredMessage,
  type Unsubscribe,
} from './types.ts';

export interface ClientOptions {
  /** The server, e.g. http://localhost:3000: REST and Socket.IO both go there. */
  url: string;
  /** Where the outbox persists. Browser default: IndexedDB ('confab'); Node default: memory. */
  storage?: Storage;
  fetch?: FetchLike;
  /** Replaces socket.io-client (tests use an in-memory socket). */
  socketFactory?: SocketFactory;
  clock?: Clock;
  /** Uniform in [0, 1): backoff jitter, ids. */
  random?: () => number;
  /**
   * For apps that manage tokens themselves: called for every REST call and socket connect;
   * `forceRefresh` after the server refused the token. Replaces login/setSession and refresh.
   */
  getToken?: TokenProvider;
  /**
   * A bot's token (`cfb_…`, from `api.createBot`): the client is signed in as the bot from the
   * start. It does not expire, so there is nothing to refresh (instead of login/setSession).
   */
  token?: string;
  /**
   * Share tokens and the outbox with the user's other tabs (BroadcastChannel) and drain the outbox
   * from one leader tab. Default: on in browsers (when `window` and BroadcastChannel exist), off elsewhere.
   */
  crossTab?: boolean;
  /** Connect as soon as there is a session (default true). */
  autoConnect?: boolean;
  /** Messages per `sync` page (default 500). */
  syncPageSize?: number;
  /** Messages per `loadOlder` page, and how many `watchMessages` fills in at first (default 50). */
  pageSize?: number;
  /**
   * How the live connection reaches the server. 'auto' (default): a WebSocket, or HTTP long-polling
   * where a proxy or network lets no WebSocket through (a WebSocket is then tried again every
   * `websocketRetryMs`, doubling up to 5 minutes). 'websocket': never long-polling, for several
   * server nodes behind a load balancer without sticky sessions (docs/operations.md).
   */
  transport?: 'auto' | 'websocket';
  /** On long-polling, the first wait before a WebSocket is tried again (default 30 s). */
  websocketRetryMs?: number;
}

export interface ClientEvents {
  /** A stored message seen for the first time (live, sync or page), own messages included. */
  message: (message: Message) => void;
  notification: (event: ServerEventPayload<'notification'>) => void;
  /** The refresh token was refused: the user must sign in again. */
  sessionExpired: () => void;
  /** A background failure (sync, bootstrap); the client keeps going. */
  error: (error: unknown) => void;
}

export interface MessagesWatch extends Unsubscribe {
  /** Fetches the page before the oldest message held (REST `before=`). */
  loadOlder(): Promise<void>;
  /** True when older messages may exist. */
  readonly hasMore: boolean;
}

export interface ThreadWatch extends Unsubscribe {
  /** Fetches older replies of the thread. */
  loadOlder(): Promise<void>;
  /** True when older replies may exist. */
  readonly hasMore: boolean;
}

export interface ThreadsWatch extends Unsubscribe {
  /** The next page of followed threads. */
  loadMore(): Promise<void>;
  /** Fetches the list again now. */
  refresh(): Promise<void>;
}

export interface MessagesMeta {
  hasMore: boolean;
  loadingOlder: boolean;
}

export { GAP_GRACE_MS } from './sync.ts';

const defaultSocketFactory: SocketFactory = (url, options) => io(url, options) as unknown as SocketLike;

function isBrowser(): boolean {
  return typeof window !== 'undefined' && typeof document !== 'undefined';
}

/** The live query kept for `key`, made on first use: every watcher of one slice shares one query. */
function sharedQuery<Q>(queries: Map<string, Q>, key: string, make: () => Q): Q {
  let query = queries.get(key);
  if (!query) {
    query = make();
    queries.set(key, query);
  }
  return query;
}

/** A UUID v4. crypto.randomUUID exists only in secure contexts; getRandomValues everywhere. */
function newClientId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The fields of a message, as getters on what `send` returns: they always read the latest state. */
const MESSAGE_KEYS = [
  'id', 'conversationId', 'seq', 'authorId', 'clientId', 'kind', 'content', 'replyToId', 'attachments', 'reactions',
  'createdAt', 'editedAt', 'deletedAt', 'status', 'model', 'updatedSeq', 'statusReason', 'streamIndex', 'sendState', 'error',
  'pinnedAt', 'pinnedBy',
  'threadRootId', 'alsoToChannel', 'thread',
  'mentions', 'mentionsHere', 'mentionsChannel',
  'toolCalls',
] as const;

/**
 * The Confab client: session, connection, sync, store, outbox and live queries.
 * See docs/sdk.md for the guide.
 */
export class ConfabClient {
  readonly url: string;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly storage: Storage;
  private readonly store: Store;
  private readonly rest: Rest;
  /** Every REST route of the contract as a typed call (see REST_ROUTES); plain requests that leave the local store alone. */
  readonly api: RestApi;
  private readonly session: Session;
  private readonly conn: Connection;
  private readonly outbox: Outbox;
  private readonly pageSize: number;
  private readonly syncPageSize: number;
  private readonly autoConnect: boolean;
  private readonly crossTabEnabled: boolean;
  private tabs: CrossTab | null = null;
  private me: Me | null = null;
  private signedInAs: string | null = null;

  private readonly sync: SyncEngine;
  private readonly threads: Threads;

  private interest = new Map<string, number>();
  /** Users whose presence a live query shows, with how many queries show them. */
  private presenceWatched = new Map<string, number>();
  private typingSent = new Map<string, { isTyping: boolean; at: number }>();
  private loadingOlder = new Map<string, Promise<void>>();
  private fillBlocked = new Set<string>();
  private messageQueries = new Map<string, LiveQuery<ChatMessage[]>>();
  private typingQueries = new Map<string, LiveQuery<string[]>>();
  private pinQueries = new Map<string, LiveQuery<PinsState>>();
  private readonly pins: PinsTracker;
  private metaQueries = new Map<string, LiveQuery<MessagesMeta>>();
  private conversationsLiveQuery: LiveQuery<Conversation[]> | null = null;
  private listeners: { [K in keyof ClientEvents]: Set<ClientEvents[K]> } = {
    message: new Set(),
    notification: new Set(),
    sessionExpired: new Set(),
    error: new Set(),
  };
  private newMessages: Message[] = [];
  private idleWaiters = new Set<() => void>();
  private refreshWaiters = new Set<(tokens: TokenPair | null) => void>();
  private removeWindowListeners: (() => void) | null = null;
  private closed = false;

  /** Connection state and the network switch. */
  readonly connection: {
    readonly state: ConnectionState;
    /** 'websocket', or 'polling' where no WebSocket gets through (see the `transport` option); null while not connected. */
    readonly transport: Transport | null;
    subscribe(fn: (state: ConnectionState) => void): () => void;
    /** Drops the socket and holds reconnects and REST calls, as a lost network does (also a test hook). */
    goOffline(): void;
    /** The network is back: reconnect at once. */
    goOnline(): void;
  };

  constructor(options: ClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.storage = options.storage ?? (isBrowser() && typeof indexedDB !== 'undefined' ? indexedDbStorage('confab') : memoryStorage());
    this.pageSize = options.pageSize ?? LIMITS.pageSize;
    this.syncPageSize = options.syncPageSize ?? 500;
    this.autoConnect = options.autoConnect ?? true;
    this.crossTabEnabled = options.crossTab ?? (isBrowser() && typeof BroadcastChannel !== 'undefined');
    this.store = new Store(this.clock);
    this.store.onNewMessage = (m) => this.queueNewMessage(m);

    const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    // A bot token is a token provider that always has the same answer.
    const botToken = options.token;
    const getToken: TokenProvider | undefined = options.getToken ?? (botToken === undefined ? undefined : () => botToken);
    const bareRest = new Rest({
      baseUrl: this.url,
      fetch: fetchImpl,
      token: async () => null,
      refresh: async () => null,
      online: () => this.conn.network,
    });
    this.session = new Session({
      clock: this.clock,
      getToken,
      refreshRequest: (refreshToken) => bareRest.request<TokenPair>('POST', '/api/auth/refresh', { refreshToken }, { auth: false }),
      onTokens: (tokens, origin) => {
        if (origin === 'local') this.tabs?.post({ type: 'tokens', tokens });
        for (const fn of [...this.refreshWaiters]) fn(tokens);
      },
      onAccessToken: (token) => this.conn.presentToken(token),
      onExpired: () => this.sessionEnded(),
      delegateRefresh: (stale) => this.delegateRefresh(stale),
    });
    this.rest = new Rest({
      baseUrl: this.url,
      fetch: fetchImpl,
      token: () => this.session.accessToken(),
      refresh: (rejected) => this.session.refresh(rejected),
      online: () => this.conn.network,
    });
    this.api = new RestApi(this.rest);
    this.pins = new PinsTracker(this.store.notifier, (id) => this.api.listPins(id));
    this.threads = new Threads({
      store: this.store,
      notifier: this.store.notifier,
      clock: this.clock,
      pageSize: this.pageSize,
      listThread: (conversationId, threadRootId, before, limit) =>
        this.api.listMessages(conversationId, before === undefined ? { limit, threadRootId } : { limit, before, threadRootId }),
      listFollowed: (cursor, limit) => this.api.listThreads(cursor === undefined ? { limit } : { limit, cursor }),
      onError: (error) => this.emit('error', error),
    });
    this.store.onApplied = (m) => {
      this.threads.apply(m);
      this.pins.observe(m);
    };
    this.conn = new Connection({
      url: this.url,
      clock: this.clock,
      random: this.random,
      socketFactory: options.socketFactory ?? defaultSocketFactory,
      token: () => this.session.accessToken(),
      refreshToken: (rejected) => this.session.refresh(rejected),
      attach: (socket, isCurrent) => this.attach(socket, isCurrent),
      onConnect: () => this.onConnect(),
      onDisconnect: () => {
        this.sync.disconnected();
        this.signal();
      },
      transport: options.transport,
      websocketRetryMs: options.websocketRetryMs,
    });
    this.conn.subscribe(() => this.signal());
    this.outbox = new Outbox({
      storage: this.storage,
      store: this.store,
      clock: this.clock,
      apply: (m) => this.sync.applyChange(m, { replaceEqual: true }),
      send: (entry) => this.sendEntry(entry),
      canDrain: () => this.conn.connected && this.sync.synced && (this.tabs === null || this.tabs.isLeader),
      refresh: async () => (await this.session.refresh().catch(() => null)) !== null,
      onChange: (change) => {
        this.signal();
        if ('entry' in change) this.tabs?.post({ type: 'outbox', entry: change.entry });
        else this.tabs?.post({ type: 'outbox-removed', clientId: change.removed, message: change.message });
      },
    });

    this.sync = new SyncEngine({
      store: this.store,
      conn: this.conn,
      api: this.api,
      outbox: this.outbox,
      clock: this.clock,
      random: this.random,
      pageSize: this.syncPageSize,
      signedInAs: () => this.signedInAs,
      closed: () => this.closed,
      onError: (error) => this.emit('error', error),
      signal: () => this.signal(),
    });

    const conn = this.conn;
    this.connection = {
      get state() {
        return conn.state;
      },
      get transport() {
        return conn.transport;
      },
      subscribe: (fn) => conn.subscribe(fn),
      goOffline: () => conn.setNetwork(false),
      goOnline: () => conn.setNetwork(true),
    };

    if (typeof window !== 'undefined' && typeof window.addEventListener === 'function') {
      const offline = () => conn.setNetwork(false);
      const online = () => conn.setNetwork(true);
      window.addEventListener('offline', offline);
      window.addEventListener('online', online);
      this.removeWindowListeners = () => {
        window.removeEventListener('offline', offline);
        window.removeEventListener('online', online);
      };
      if (typeof navigator !== 'undefined' && navigator.onLine === false) conn.setNetwork(false);
    }

    if (getToken) void this.startWithProvider();
  }

  // ================================================================ session

  /** The signed-in user's id (from the access token), or null. */
  get userId(): string | null {
    return this.session.userId;
  }

  /** The signed-in user's profile, when known (after login/register or `fetchMe`). */
  get user(): Me | null {
    return this.me;
  }

  /** The current token pair (e.g. to persist it yourself); null without a session. */
  get tokens(): TokenPair | null {
    return this.session.current;
  }

  async login(body: LoginBody): Promise<Me> {
    const result = await this.rest.request<AuthResult>('POST', '/api/auth/login', body, { auth: false });
    this.me = result.user;
    this.setSession(result);
    return result.user;
  }

  async register(body: RegisterBody): Promise<Me> {
    const result = await this.rest.request<AuthResult>('POST', '/api/auth/register', body, { auth: false });
    this.me = result.user;
    this.setSession(result);
    return result.user;
  }

  /** Starts from tokens obtained elsewhere. */
  setSession(tokens: TokenPair): void {
    this.assertOpen();
    this.session.set({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken });
    this.signedIn();
  }

  async fetchMe(): Promise<Me> {
    this.me = await this.rest.request<Me>('GET', '/api/auth/me');
    return this.me;
  }

  /** Ends the session on the server and here. Unsent messages stay persisted for the next sign-in. */
  async logout(): Promise<void> {
    const tokens = this.session.current;
    if (tokens) await this.rest.request('POST', '/api/auth/logout', { refreshToken: tokens.refreshToken }, { auth: false }).catch(() => {});
    this.session.set(null);
    this.signedOut();
  }

  private async startWithProvider(): Promise<void> {
    try {
      const token = await this.session.accessToken();
      // A bot token is no JWT and names nobody: the server says whose it is.
      if (token && !this.session.userId) this.session.identify((await this.fetchMe()).id);
    } catch (error) {
      this.emit('error', error);
    }
    if (this.session.userId) this.signedIn();
  }

  private signedIn(): void {
    const uid = this.session.userId;
    if (!uid) throw new ConfabError('UNAUTHENTICATED', 'the access token names no user');
    if (uid !== this.signedInAs) {
      if (this.signedInAs) this.resetUserState();
      this.signedInAs = uid;
      this.store.me = uid;
      void this.outbox.load(uid);
      if (this.crossTabEnabled && typeof BroadcastChannel !== 'undefined') this.startCrossTab(uid);
    }
    if (this.autoConnect) this.conn.start();
  }

  /** Connects (when autoConnect is off, or after the session expired and was set again). */
  connect(): void {
    this.assertOpen();
    this.conn.start();
  }

  private sessionEnded(): void {
    this.conn.stop();
    this.emit('sessionExpired');
  }

  private signedOut(): void {
    this.conn.stop();
    this.resetUserState();
    this.signedInAs = null;
    this.me = null;
  }

  private resetUserState(): void {
    this.tabs?.close();
    this.tabs = null;
    this.outbox.clear();
    this.store.clear();
    this.pins.forget();
    this.threads.clear();
    this.sync.reset();
    this.typingSent.clear();
  }

  // ================================================================ cross-tab

  private startCrossTab(uid: string): void {
    const locks = (globalThis as { navigator?: { locks?: { request(name: string, cb: () => Promise<void>): Promise<unknown> } } }).navigator?.locks;
    this.tabs = new CrossTab({
      userId: uid,
      clock: this.clock,
      random: this.random,
      locks: locks ?? null,
      onMessage: (m) => this.onTabMessage(m),
      onLeaderChange: (leader) => {
        if (leader) {
          // A new leader takes over the queue as persisted (the old leader may have died mid-way),
          // and a refresh this tab was waiting for from a leader is now its own to do.
          void this.outbox.load(uid);
          for (const fn of [...this.refreshWaiters]) fn(null);
        }
        this.signal();
      },
    });
    this.tabs.start();
  }

  /** Exposed for tests and debugging: is this tab the one that drains the outbox? */
  get isLeaderTab(): boolean {
    return this.tabs === null || this.tabs.isLeader;
  }

  private onTabMessage(m: TabMessage): void {
    switch (m.type) {
      case 'tokens':
        if (m.tokens) this.session.set(m.tokens, 'remote');
        else if (this.session.current) {
          this.session.set(null, 'remote');
          this.signedOut();
        }
        for (const fn of [...this.refreshWaiters]) fn(m.tokens);
        break;
      case 'refresh-request': {
        if (!this.tabs?.isLeader) break;
        const tokens = this.session.current;
        const exp = tokens ? tokenExpiry(tokens.accessToken) : null;
        // Already newer than what the asker holds, and fresh: hand them over without rotating again.
        if (tokens && tokens.accessToken !== m.stale && exp !== null && exp - this.clock.now() > REFRESH_MARGIN_MS) {
          this.tabs.post({ type: 'tokens', tokens });
        } else {
          // session.refresh(stale) rotates only if our token is the stale one; either way the answer is broadcast.
          this.session.refresh(m.stale).then(
            () => this.session.current && this.tabs?.post({ type: 'tokens', tokens: this.session.current }),
            () => {},
          );
        }
        break;
      }
      case 'outbox':
        this.outbox.upsert(m.entry);
        if (this.tabs?.isLeader) {
          // Our storage may not be the sender's (memory storage): keep a copy.
          void this.storage.set(m.entry.key, m.entry).catch(() => {});
          void this.outbox.drain();
        }
        break;
      case 'outbox-removed':
        this.outbox.removeRemote(m.clientId, m.message);
        break;
      default:
        break;
    }
  }

  private delegateRefresh(stale: string): Promise<TokenPair | null> {
    if (!this.tabs || this.tabs.isLeader) return Promise.resolve(null);
    return new Promise((resolve) => {
      const done = (tokens: TokenPair | null) => {
        this.refreshWaiters.delete(done);
        this.clock.clearTimeout(timer);
        resolve(tokens);
      };
      const timer = this.clock.setTimeout(() => done(null), 5000);
      this.refreshWaiters.add(done);
      this.tabs!.post({ type: 'refresh-request', stale });
    });
  }

  // ================================================================ live events and sync

  private attach(socket: SocketLike, isCurrent: () => boolean): void {
    const on = <E extends ServerEventName>(event: E, handler: (payload: ServerEventPayload<E>) => void, buffered = true) => {
      socket.on(event, (payload: ServerEventPayload<E>) => {
        if (!isCurrent() || this.closed) return;
        // While a sync runs, live events wait: what sync returns is applied first, then these, in order.
        if (buffered) this.sync.deliver(() => handler(payload));
        else handler(payload);
      });
    };
    on('chat:message_received', (m) => this.sync.applyChange(m));
    on('chat:message_updated', (m) => this.sync.applyChange(m));
    on('chat:message_status_updated', (e) => this.store.receipt(e));
    on('chat:user_typing', (e) => this.store.userTyping(e), false);
    on('user:status_changed', (e) => this.store.setPresence(e), false);
    on('conversation:update', (c) => this.sync.onConversationUpdate(c));
    on('ai:delta', (e) => this.store.aiDelta(e));
    on('ai:tool', (e) => this.store.aiTool(e));
    on('ai:done', (e) => this.store.aiDone(e));
    on('notification', (e) => this.emit('notification', e), false);
  }

  private onConnect(): void {
    for (const id of this.fillBlocked) this.store.notifier.touch(`meta:${id}`);
    this.fillBlocked.clear();
    // Interest is per socket: tell the new one what is on screen.
    for (const id of this.interest.keys()) this.conn.request('subscribe', { conversationId: id }).catch(() => {});
    // Statuses may have changed while we were away: ask again for everyone shown.
    this.askPresence([...this.presenceWatched.keys()]);
    this.sync.connected();
  }

  // ================================================================ live queries

  /** The caller's conversations, pinned first, then by last activity. */
  watchConversations(cb: (conversations: Conversation[]) => void): Unsubscribe {
    return this.watch(this.conversationsQuery(), cb);
  }

  /** One conversation's messages, oldest first, the caller's unsent ones last. */
  watchMessages(conversationId: string, cb: (messages: ChatMessage[]) => void): MessagesWatch {
    const sub = this.watch(this.messagesQuery(conversationId), cb);
    const stopFill = this.autoFill(conversationId);
    const store = this.store;
    return {
      unsubscribe: () => {
        stopFill();
        sub.unsubscribe();
      },
      loadOlder: () => this.loadOlder(conversationId),
      get hasMore() {
        return store.hasOlder(conversationId);
      },
    };
  }

  /**
   * One thread: its root (with the `thread` summary) and its replies, oldest first, the caller's
   * unsent replies last. The latest page is fetched at once; `loadOlder` pages further back.
   * Replies sent with `send(conversationId, { content, threadRootId })` show here.
   */
  watchThread(conversationId: string, rootId: string, cb: (thread: ThreadView) => void): ThreadWatch {
    const sub = this.watch(this.threadQuery(conversationId, rootId), cb);
    const query = this.threadQuery(conversationId, rootId);
    return {
      unsubscribe: () => sub.unsubscribe(),
      loadOlder: () => this.threads.loadOlder(conversationId, rootId),
      get hasMore() {
        return query.get().hasMore;
      },
    };
  }

  /** The caller's followed threads with their unread replies (`GET /api/threads`), fetched again shortly after a thread changes. */
  watchThreads(cb: (view: FollowedThreadsView) => void): ThreadsWatch {
    const sub = this.watch(this.followedThreadsQuery(), cb);
    return {
      unsubscribe: () => sub.unsubscribe(),
      loadMore: () => this.threads.loadMoreFollowed(),
      refresh: () => this.threads.refresh(),
    };
  }

  threadQuery(conversationId: string, rootId: string): LiveQuery<ThreadView> {
    return this.threads.query(conversationId, rootId);
  }

  followedThreadsQuery(): LiveQuery<FollowedThreadsView> {
    return this.threads.followedThreadsQuery();
  }

  /** Fetches the followed threads again now (what `watchThreads` shows). */
  refreshThreads(): Promise<void> {
    return this.threads.refresh();
  }

  /** The next page of followed threads. */
  loadMoreThreads(): Promise<void> {
    return this.threads.loadMoreFollowed();
  }

  /** Pages in older replies of a thread (the React hook's `loadOlder`). */
  loadOlderReplies(conversationId: string, rootId: string): Promise<void> {
    return this.threads.loadOlder(conversationId, rootId);
  }

  /** Follows (or, with `false`, stops following) the thread of a message. */
  async follow(messageId: string, following = true): Promise<ThreadFollow> {
    this.assertOpen();
    const result = await this.api.followThread(messageId, following);
    void this.threads.refresh();
    return result;
  }

  /** User ids typing in a conversation (the caller excluded). */
  watchTyping(conversationId: string, cb: (userIds: string[]) => void): Unsubscribe {
    return this.watch(this.typingQuery(conversationId), cb);
  }

  watchPresence(userIds: readonly string[], cb: (byUser: Record<string, Presence>) => void): Unsubscribe {
    return this.watch(this.presenceQuery(userIds), cb);
  }

  /**
   * The messages that mention the caller, newest first (the Mentions view): the first page from
   * `GET /api/mentions`, then new mentions live; `loadMore()` pages back (mentions.ts).
   */
  watchMentions(cb: (state: MentionsState) => void, pageSize?: number): MentionsWatch {
    this.assertOpen();
    return watchMentions(
      {
        listMentions: (q) => this.api.listMentions(q),
        onMessage: (fn) => this.on('message', fn),
        mentionsMe: (m) => this.mentionsMe(m),
        watchConversations: (fn) => this.watch(this.conversationsQuery(), fn).unsubscribe,
      },
      cb,
      pageSize,
    );
  }

  /** Whether a message mentions the signed-in user (by handle, `@channel` or `@here`; never their own). */
  mentionsMe(message: Pick<Message, 'authorId' | 'mentions' | 'mentionsHere' | 'mentionsChannel' | 'deletedAt'>): boolean {
    return this.store.mentionsMe(message);
  }

  private watch<T>(query: LiveQuery<T>, cb: (value: T) => void): Unsubscribe {
    this.assertOpen();
    cb(query.get());
    const unsubscribe = query.subscribe(cb);
    return { unsubscribe };
  }

  /** Live queries, shared by every watcher of the same slice (the React hooks use these). */
  conversationsQuery(): LiveQuery<Conversation[]> {
    return (this.conversationsLiveQuery ??= this.store.conversationsQuery());
  }

  messagesQuery(conversationId: string): LiveQuery<ChatMessage[]> {
    return sharedQuery(this.messageQueries, conversationId, () =>
      this.store.messagesQuery(conversationId, (active) => this.setInterest(conversationId, active)),
    );
  }

  messagesMetaQuery(conversationId: string): LiveQuery<MessagesMeta> {
    return sharedQuery(this.metaQueries, conversationId, () =>
      new LiveQuery(this.store.notifier, () => [`meta:${conversationId}`], () => ({
        hasMore: this.store.hasOlder(conversationId),
        loadingOlder: this.loadingOlder.has(conversationId),
      })),
    );
  }

  typingQuery(conversationId: string): LiveQuery<string[]> {
    return sharedQuery(this.typingQueries, conversationId, () =>
      this.store.typingQuery(conversationId, (active) => this.setInterest(conversationId, active)),
    );
  }

  presenceQuery(userIds: readonly string[]): LiveQuery<Record<string, Presence>> {
    const ids = [...new Set(userIds)];
    return this.store.presenceQuery(ids, (active) => {
      for (const id of ids) {
        const n = (this.presenceWatched.get(id) ?? 0) + (active ? 1 : -1);
        if (n > 0) this.presenceWatched.set(id, n);
        else this.presenceWatched.delete(id);
      }
      if (active) this.askPresence(ids.filter((id) => this.store.getPresence(id).status === 'unknown'));
    });
  }

  /**
   * The server tells the current status of a conversation's members when a client says `subscribe`
   * to it; `user:status_changed` only reports changes. So a status shown outside an open
   * conversation (the sidebar's dots after a page load) is asked for through a conversation shared
   * with that user: direct ones first, then as few others as cover the rest. The server keeps
   * nothing per `subscribe`, so nothing needs undoing.
   */
  private askPresence(userIds: readonly string[]): void {
    if (userIds.length === 0 || !this.conn.connected) return;
    const wanted = new Set(userIds);
    const conversations = this.store.conversations();
    const picked = new Set<string>();
    for (const direct of [true, false]) {
      for (const c of conversations) {
        if (wanted.size === 0) break;
        if ((c.type === 'direct') !== direct) continue;
        const covers = c.members.filter((m) => wanted.has(m.userId));
        if (covers.length === 0) continue;
        picked.add(c.id);
        for (const m of covers) wanted.delete(m.userId);
      }
    }
    // Conversations on screen were asked on subscribe already.
    for (const id of picked) if (!this.interest.has(id)) this.conn.request('subscribe', { conversationId: id }).catch(() => {});
  }

  /** A conversation's pinned messages, most recently pinned first: fetched when first watched, then kept live. */
  watchPins(conversationId: string, cb: (state: PinsState) => void): Unsubscribe {
    return this.watch(this.pinsQuery(conversationId), cb);
  }

  pinsQuery(conversationId: string): LiveQuery<PinsState> {
    return sharedQuery(this.pinQueries, conversationId, () => this.pins.query(conversationId));
  }

  /** While watched: fetch the first page when the window holds less than a page (and whenever it moves). */
  autoFill(conversationId: string): () => void {
    const check = () => {
      if (this.closed || this.loadingOlder.has(conversationId) || this.fillBlocked.has(conversationId)) return;
      if (!this.store.hasOlder(conversationId) || this.store.messageCount(conversationId) >= this.pageSize || !this.session.hasSession) return;
      this.loadOlder(conversationId).catch((error: unknown) => this.emit('error', error));
    };
    const stop = this.store.notifier.listen([`meta:${conversationId}`], check);
    check();
    return stop;
  }

  /** Pages in older messages of a conversation (REST `before=` the oldest held). */
  loadOlder(conversationId: string): Promise<void> {
    const running = this.loadingOlder.get(conversationId);
    if (running) return running;
    const before = this.store.olderBefore(conversationId);
    if (!this.store.hasOlder(conversationId) || before === null) return Promise.resolve();
    this.store.beginOlderLoad(conversationId);
    const p = (async () => {
      try {
        const page = await this.api.listMessages(conversationId, { limit: this.pageSize, before });
        // The window may have moved while we waited (the conversation was dropped, or re-based).
        if (this.store.olderBefore(conversationId) !== before) this.store.endOlderLoad(conversationId, null);
        else {
          this.store.endOlderLoad(conversationId, page);
          for (const m of page.messages) if (m.clientId && m.authorId === this.signedInAs) this.outbox.reconcile(m);
        }
      } catch (error) {
        this.store.endOlderLoad(conversationId, null);
        // No automatic attempt again until the next connection: a failing fetch must not retry in a loop.
        this.fillBlocked.add(conversationId);
        throw error;
      } finally {
        this.loadingOlder.delete(conversationId);
        this.store.notifier.touch(`meta:${conversationId}`);
      }
    })();
    this.loadingOlder.set(conversationId, p);
    this.store.notifier.touch(`meta:${conversationId}`);
    return p;
  }

  private setInterest(conversationId: string, active: boolean): void {
    const n = (this.interest.get(conversationId) ?? 0) + (active ? 1 : -1);
    if (n > 0) this.interest.set(conversationId, n);
    else this.interest.delete(conversationId);
    const changed = (active && n === 1) || (!active && n <= 0);
    if (changed && this.conn.connected) this.conn.request(active ? 'subscribe' : 'unsubscribe', { conversationId }).catch(() => {});
  }

  // ================================================================ writes

  /**
   * Sends a message. Returns at once with the optimistic message (`sendState: 'pending'`), which
   * is listed by watchMessages after the stored ones; the object always reads the latest state:
   * the stored message (`'sent'`) once acknowledged, or `'failed'` with `error` when refused.
   * Offline, it waits in the persisted outbox and goes out on reconnect, exactly once.
   */
  send(conversationId: string, input: SendInput): OutgoingMessage {
    this.assertOpen();
    const uid = this.signedInAs;
    if (!uid) throw new ConfabError('UNAUTHENTICATED', 'not signed in');
    const clientId = newClientId();
    const settled = this.outbox.settled(clientId);
    const entry = this.outbox.add(conversationId, uid, input, clientId, this.clock.now());
    return this.outgoing(entry, settled);
  }

  private outgoing(entry: OutboxEntry, settled: Promise<ChatMessage>): OutgoingMessage {
    let last: ChatMessage = this.outbox.unsent(entry);
    let lastStored: StoredMessage | null = null;
    const current = (): ChatMessage => {
      const queued = this.outbox.find(entry.clientId);
      if (queued) return (last = this.outbox.unsent(queued));
      const stored = this.store.getOwnByClientId(entry.conversationId, entry.clientId);
      if (stored) {
        if (stored !== lastStored) {
          lastStored = stored;
          last = stored.sendState ? stored : { ...stored, sendState: 'sent' };
        }
        return last;
      }
      return last;
    };
    const handle = {} as Record<string, unknown>;
    for (const key of MESSAGE_KEYS) {
      Object.defineProperty(handle, key, { enumerable: true, get: () => (current() as unknown as Record<string, unknown>)[key] });
    }
    Object.defineProperty(handle, 'settled', { enumerable: false, value: settled });
    return handle as unknown as OutgoingMessage;
  }

  private async sendEntry(entry: OutboxEntry): Promise<Message> {
    if (new TextEncoder().encode(entry.content).length > LIMITS.messageContentBytes) {
      // Checked here too: a frame over the socket limit would cut the connection, again at every resend.
      throw new ConfabError('PAYLOAD_TOO_LARGE', `message content must be at most ${LIMITS.messageContentBytes / 1024} KB`);
    }
    const payload: ClientEventPayload<'chat:message_send'> = { conversationId: entry.conversationId, content: entry.content, clientId: entry.clientId };
    if (entry.kind !== undefined) payload.kind = entry.kind;
    if (entry.replyToId !== undefined) payload.replyToId = entry.replyToId;
    if (entry.attachmentIds !== undefined) payload.attachmentIds = entry.attachmentIds;
    if (entry.threadRootId) payload.threadRootId = entry.threadRootId;
    if (entry.alsoToChannel) payload.alsoToChannel = true;
    return this.conn.request('chat:message_send', payload);
  }

  /** Sends a failed message again; resolves with its final state. */
  retry(clientId: string): Promise<ChatMessage> {
    this.assertOpen();
    return this.outbox.retry(clientId);
  }

  /** Drops an unsent (failed or pending) message. */
  discard(clientId: string): void {
    this.outbox.discard(clientId);
  }

  /** Over the socket when connected, else over REST (which fails fast when the network is down). */
  private async call<E extends ClientEventName>(event: E, payload: ClientEventPayload<E>, rest: () => Promise<ClientEventResults[E]>): Promise<ClientEventResults[E]> {
    if (this.conn.connected) return this.conn.request(event, payload);
    return rest();
  }

  /** Applies a pending change over a message, runs the write, and either confirms it or rolls it back (and rethrows). */
  private async optimistic(messageId: string, patch: (m: StoredMessage) => StoredMessage, write: () => Promise<Message>): Promise<Message> {
    this.assertOpen();
    const token = this.store.addOverlay(messageId, patch);
    try {
      const message = await write();
      this.sync.applyChange(message);
      return message;
    } finally {
      // Confirmed: the stored state replaces the guess in the same notification. Refused: the guess goes.
      this.store.removeOverlay(messageId, token);
    }
  }

  edit(messageId: string, content: string): Promise<Message> {
    return this.optimistic(
      messageId,
      // Idempotent: once the stored state shows the edit (live event before the ack), the guess steps aside.
      (m) => (m.content === content && m.editedAt ? m : { ...m, content, editedAt: new Date(this.clock.now()).toISOString() }),
      () => this.call('chat:message_edit', { messageId, content }, () => this.api.editMessage(messageId, content)),
    );
  }

  remove(messageId: string): Promise<Message> {
    return this.optimistic(
      messageId,
      (m) => (m.deletedAt ? m : { ...m, content: '', attachments: [], reactions: [], deletedAt: new Date(this.clock.now()).toISOString() }),
      () => this.call('chat:message_delete', { messageId }, () => this.api.deleteMessage(messageId)),
    );
  }

  /** Removes the link preview of one of the caller's messages: gone at once here, for everyone once the server confirms. */
  removePreview(messageId: string): Promise<Message> {
    return this.optimistic(
      messageId,
      (m) => (m.linkPreview ? { ...m, linkPreview: null } : m),
      () => this.api.removeLinkPreview(messageId),
    );
  }

  react(messageId: string, emoji: string, on = true): Promise<Message> {
    const me = this.signedInAs ?? '';
    return this.optimistic(
      messageId,
      (m) => {
        const mine = m.reactions.some((r) => r.emoji === emoji && r.userIds.includes(me));
        if (mine === on) return m;
        const reactions = m.reactions.map((r) => (r.emoji === emoji ? { ...r, userIds: r.userIds.filter((u) => u !== me) } : r));
        let target = reactions.find((r) => r.emoji === emoji);
        if (on) {
          if (!target) reactions.push((target = { emoji, count: 0, userIds: [] }));
          target.userIds = [...target.userIds, me];
        }
        return { ...m, reactions: reactions.map((r) => ({ ...r, count: r.userIds.length })).filter((r) => r.count > 0) };
      },
      () =>
        this.call('chat:reaction', { messageId, emoji, on }, () => (on ? this.api.addReaction(messageId, emoji) : this.api.removeReaction(messageId, emoji))),
    );
  }

  /** Stops an AI answer that is streaming (any member may); it ends as `stopped` with the text so far. */
  async stopAnswer(messageId: string): Promise<void> {
    await this.aiRequest('ai:stop', { messageId });
  }

  /**
   * Regenerates an AI answer as a new version; given one of the user's own messages, regenerates
   * the answer that follows it (edit-and-resend: `edit()` the message, then `regenerate()` it).
   */
  regenerate(messageId: string): Promise<Message> {
    return this.aiRequest('ai:regenerate', { messageId });
  }

  /** AI control exists only as socket events: offline it fails at once instead of queueing. */
  private aiRequest<E extends 'ai:stop' | 'ai:regenerate'>(event: E, payload: ClientEventPayload<E>): Promise<ClientEventResults[E]> {
    this.assertOpen();
    if (!this.conn.connected) return Promise.reject(new ConfabError('UNAVAILABLE', 'not connected: try again when back online'));
    return this.conn.request(event, payload);
  }

  /** Moves the caller's read watermark up to this message (optimistic; rolled back when refused). */
  async markRead(messageId: string): Promise<{ seq: number }> {
    this.assertOpen();
    const m = this.store.getMessage(messageId) ?? this.threads.getReply(messageId);
    // A thread reply moves the caller's place in its thread (the followed threads' unread counts), not in the main line.
    const inThread = m?.threadRootId ? !m.alsoToChannel : false;
    const rollback = m && !inThread ? this.store.setOwnRead(m.conversationId, m.seq) : () => {};
    try {
      const result = await this.call('chat:message_read', { messageId }, () => this.api.markMessage(messageId, 'read'));
      if (m?.threadRootId) this.threads.scheduleRefresh();
      return result;
    } catch (error) {
      rollback();
      throw error;
    }
  }

  /** Tells the others whether the caller is typing. Throttled: while typing, at most once every 3 s. */
  setTyping(conversationId: string, isTyping: boolean): void {
    if (this.closed) return;
    const last = this.typingSent.get(conversationId);
    const now = this.clock.now();
    if (isTyping && last?.isTyping && now - last.at < 3000) return;
    if (!isTyping && !last?.isTyping) return;
    this.typingSent.set(conversationId, { isTyping, at: now });
    if (this.conn.connected) this.conn.request('chat:typing', { conversationId, isTyping }).catch(() => {});
  }

  // ================================================================ conversations and REST

  /** Any REST route of the contract, with the session's token (and one refresh after a 401); `api` has a typed call for each. */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    return this.rest.request<T>(method, path, body);
  }

  /**
   * A new group with the caller as owner, added to the local store. `visibility: 'public'` makes it
   * a channel anyone may find (`api.listChannels`) and join; `topic` is shown in its header.
   */
  async createGroup(title: string, participantIds: string[] = [], options: { visibility?: Visibility; topic?: string | null } = {}): Promise<Conversation> {
    return this.adopt(await this.api.createGroup({ title, participantIds, ...options }));
  }

  /** Joins a public channel (again is harmless), added to the local store; its history pages in as for any conversation. */
  async joinChannel(conversationId: string): Promise<Conversation> {
    return this.adopt(await this.api.joinChannel(conversationId));
  }

  /** Pins (or with `on = false` unpins) a message in its conversation; watchers see `pinnedAt` change. */
  async pin(messageId: string, on = true): Promise<Message> {
    this.assertOpen();
    const message = on ? await this.api.pinMessage(messageId) : await this.api.unpinMessage(messageId);
    this.sync.applyChange(message);
    return message;
  }

  /** The direct conversation with a user (created if there is none), added to the local store. */
  async createDirect(userId: string): Promise<Conversation> {
    return this.adopt(await this.api.createDirect(userId));
  }

  /** A new conversation with the assistant, added to the local store. */
  async createAssistant(options: { model?: string; title?: string } = {}): Promise<Conversation> {
    return this.adopt(await this.api.createAssistant(options));
  }

  /**
   * Branches a conversation at one of its messages: a new assistant conversation of the caller with
   * copies of the messages up to and including it (docs/ai.md). Added to the local store at once.
   */
  async branchConversation(conversationId: string, messageId: string): Promise<Conversation> {
    return this.adopt(await this.api.branchConversation(conversationId, messageId));
  }

  private adopt(c: Conversation): Conversation {
    this.store.upsertConversation(c, { startWindowAtEnd: true });
    return c;
  }

  getConversation(id: string): Conversation | null {
    return this.store.getConversation(id);
  }

  /** The messages of a conversation as watchMessages shows them right now. */
  getMessages(conversationId: string): ChatMessage[] {
    return this.store.messages(conversationId);
  }

  // ================================================================ events, idle, close

  on<K extends keyof ClientEvents>(event: K, fn: ClientEvents[K]): () => void {
    const set = this.listeners[event] as Set<ClientEvents[K]>;
    set.add(fn);
    return () => set.delete(fn);
  }

  private emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const fn of [...(this.listeners[event] as Set<(...a: unknown[]) => void>)]) {
      try {
        fn(...args);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  private queueNewMessage(m: Message): void {
    if (this.listeners.message.size === 0) return;
    // Outside the store's mutation: a listener may well send or edit in response.
    if (this.newMessages.push(m) === 1) {
      queueMicrotask(() => {
        const batch = this.newMessages;
        this.newMessages = [];
        for (const msg of batch) this.emit('message', msg);
      });
    }
  }

  private signal(): void {
    for (const fn of [...this.idleWaiters]) fn();
  }

  /** True when online, synced, and no message waits to be sent (failed ones do not count). */
  get isIdle(): boolean {
    return this.conn.state === 'online' && this.conn.connected && this.sync.synced && !this.sync.syncing && this.outbox.pendingCount === 0;
  }

  /** Resolves once `isIdle` (after a reconnect: synced and the outbox drained). */
  idle(): Promise<void> {
    if (this.isIdle) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!this.isIdle && !this.closed) return;
        this.idleWaiters.delete(check);
        resolve();
      };
      this.idleWaiters.add(check);
    });
  }

  /** Number of messages waiting in the outbox (pending, not failed). */
  get pendingCount(): number {
    return this.outbox.pendingCount;
  }

  private assertOpen(): void {
    if (this.closed) throw new ConfabError('UNAVAILABLE', 'the client is closed');
  }

  /** Disconnects, stops every timer, and lets pending storage writes land. The outbox stays persisted. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.conn.close();
    this.session.close();
    this.outbox.close();
    this.tabs?.close();
    this.tabs = null;
    this.store.dispose();
    this.threads.dispose();
    this.sync.close();
    this.removeWindowListeners?.();
    this.signal();
    await this.outbox.flushed();
  }
}

export function createClient(options: ClientOptions): ConfabClient {
  return new ConfabClient(options);
}
