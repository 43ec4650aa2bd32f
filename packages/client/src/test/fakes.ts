/**
 * Test doubles: a fake clock, and a small in-memory Confab server speaking the contract over a fake
 * socket and a fake fetch. Unit tests drive the client's logic deterministically with them; the
 * integration tests run the same scenarios against the real server.
 */
import type { Ack, Conversation, ErrorCode, Message } from '@confab/protocol';
import type { SocketFactory, SocketLike, SocketOptions } from '../connection.ts';
import type { FetchLike } from '../rest.ts';
import type { Clock } from '../types.ts';

export class FakeClock implements Clock {
  t = 1_700_000_000_000;
  private timers: { id: number; at: number; fn: () => void }[] = [];
  private ids = 0;
  /** Every delay ever scheduled, in order. */
  readonly delays: number[] = [];

  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = ++this.ids;
    this.timers.push({ id, at: this.t + ms, fn });
    this.delays.push(ms);
    return id;
  };
  clearTimeout = (handle: unknown) => {
    this.timers = this.timers.filter((t) => t.id !== handle);
  };
  get pending(): number {
    return this.timers.length;
  }
  /** Runs due timers in time order, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
    await settle();
  }
}

/** Lets pending promise chains and microtasks run (a few macrotask turns). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

export function b64url(s: string): string {
  return Buffer.from(s).toString('base64url');
}

/** An unsigned JWT-shaped token (the fake server does not verify signatures). */
export function fakeJwt(sub: string, expSeconds: number, nonce = Math.random().toString(36).slice(2)): string {
  return `${b64url(JSON.stringify({ alg: 'HS256' }))}.${b64url(JSON.stringify({ sub, exp: expSeconds, n: nonce }))}.sig`;
}

export function message(over: Partial<Message> & { id: string; conversationId: string; seq: number }): Message {
  return {
    authorId: 'u-other',
    clientId: null,
    kind: 'text',
    content: `m${over.seq}`,
    replyToId: null,
    attachments: [],
    reactions: [],
    createdAt: new Date(1_700_000_000_000 + over.seq * 1000).toISOString(),
    editedAt: null,
    deletedAt: null,
    status: 'complete',
    model: null,
    updatedSeq: over.seq,
    ...over,
  };
}

export function conversation(over: Partial<Conversation> & { id: string }): Conversation {
  return {
    type: 'group',
    title: over.id,
    createdAt: '2024-01-01T00:00:00.000Z',
    lastActivityAt: '2024-01-01T00:00:00.000Z',
    lastSeq: 0,
    model: null,
    members: [],
    lastMessage: null,
    unreadCount: 0,
    generating: false,
    visibility: 'private',
    topic: null,
    role: 'member',
    pinned: false,
    muted: false,
    archived: false,
    draft: null,
    projectId: null,
    lastReadSeq: 0,
    lastDeliveredSeq: 0,
    ...over,
  };
}

type Handler = (socket: FakeSocket, payload: any) => any;

export class FakeSocket implements SocketLike {
  connected = false;
  private listeners = new Map<string, ((...args: any[]) => void)[]>();
  readonly sent: { event: string; payload: unknown }[] = [];
  token = '';
  /** The transport the handshake settled on (see FakeServer.webSocketBlocked). */
  transportName: 'websocket' | 'polling' = 'websocket';

  constructor(
    readonly server: FakeServer,
    readonly options: SocketOptions,
  ) {}

  /** As socket.io-client's `socket.io.engine.transport.name`. */
  get io() {
    return { engine: { transport: { name: this.transportName } } };
  }

  on(event: string, fn: (...args: any[]) => void): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), fn]);
    return this;
  }

  fire(event: string, ...args: unknown[]): void {
    for (const fn of this.listeners.get(event) ?? []) fn(...args);
  }

  connect(): this {
    this.options.auth((data) => {
      this.token = data.token;
      queueMicrotask(() => this.server.handshake(this));
    });
    return this;
  }

  disconnect(): this {
    if (this.connected) {
      this.connected = false;
      this.server.sockets.delete(this);
      this.fire('disconnect', 'io client disconnect');
    }
    return this;
  }

  emit(event: string, payload: unknown, ack?: (a: Ack<unknown>) => void): this {
    if (!this.connected) return this;
    this.sent.push({ event, payload });
    void this.server.handle(this, event, payload).then((result) => {
      if (this.connected && ack && result !== undefined) ack(result);
    });
    return this;
  }
}

/** A tiny Confab server: enough of the contract for the client's unit tests. */
export class FakeServer {
  readonly sockets = new Set<FakeSocket>();
  readonly created: FakeSocket[] = [];
  conversations = new Map<string, Conversation>();
  messages = new Map<string, Message[]>();
  /** 'accept', 'unreachable' (a TransportError, as socket.io-client reports a refused connection), or the connect_error message to answer with. */
  handshakeResult: 'accept' | string = 'accept';
  /**
   * A proxy that lets no WebSocket through: a socket that may fall back (transports include
   * 'polling' and tryAllTransports) connects over long-polling, a WebSocket-only one fails as
   * socket.io-client reports it.
   */
  webSocketBlocked = false;
  /** Overrides per event; return an Ack, or undefined to never answer. */
  overrides = new Map<string, Handler>();
  /** Requests seen over REST, e.g. "GET /api/conversations". */
  readonly restLog: string[] = [];
  refreshCount = 0;
  validTokens = new Set<string>();
  checkTokens = false;
  syncLimit = 1000;
  /** Holds every ack until release() (to test what happens while requests are in flight). */
  holdAcks = false;
  private held: (() => void)[] = [];

  socketFactory: SocketFactory = (_url, options) => {
    const s = new FakeSocket(this, options);
    this.created.push(s);
    return s;
  };

  handshake(socket: FakeSocket): void {
    if (this.handshakeResult === 'unreachable') {
      socket.fire('connect_error', Object.assign(new Error('websocket error'), { type: 'TransportError' }));
      return;
    }
    if (this.webSocketBlocked) {
      const { transports, tryAllTransports } = socket.options;
      if (transports[0] === 'websocket' && !(tryAllTransports && transports.includes('polling'))) {
        socket.fire('connect_error', Object.assign(new Error('websocket error'), { type: 'TransportError' }));
        return;
      }
      socket.transportName = 'polling';
    }
    if (this.handshakeResult !== 'accept') {
      socket.fire('connect_error', new Error(this.handshakeResult));
      return;
    }
    if (this.checkTokens && !this.validTokens.has(socket.token)) {
      socket.fire('connect_error', new Error('UNAUTHENTICATED'));
      return;
    }
    socket.connected = true;
    this.sockets.add(socket);
    socket.fire('connect');
  }

  /** The server drops a socket (network loss, restart). */
  kill(socket?: FakeSocket): void {
    for (const s of socket ? [socket] : [...this.sockets]) {
      if (!s.connected) continue;
      s.connected = false;
      this.sockets.delete(s);
      s.fire('disconnect', 'transport close');
    }
  }

  broadcast(event: string, payload: unknown, except?: FakeSocket): void {
    for (const s of this.sockets) if (s !== except) s.fire(event, payload);
  }

  release(): void {
    const held = this.held;
    this.held = [];
    for (const fn of held) fn();
  }

  addConversation(c: Conversation): void {
    this.conversations.set(c.id, c);
    if (!this.messages.has(c.id)) this.messages.set(c.id, []);
  }

  private nextSeq(conversationId: string): number {
    const c = this.conversations.get(conversationId)!;
    const seq = c.lastSeq + 1;
    this.conversations.set(conversationId, { ...c, lastSeq: seq });
    return seq;
  }

  /** Stores a message from `authorId` as the real server would, and broadcasts it. */
  store(conversationId: string, authorId: string, content: string, clientId: string | null = null, opts: { broadcast?: boolean } = {}): Message {
    const list = this.messages.get(conversationId)!;
    if (clientId) {
      const existing = list.find((m) => m.authorId === authorId && m.clientId === clientId);
      if (existing) return existing;
    }
    const seq = this.nextSeq(conversationId);
    const m = message({ id: `m-${conversationId}-${seq}`, conversationId, seq, authorId, clientId, content });
    list.push(m);
    const c = this.conversations.get(conversationId)!;
    this.conversations.set(conversationId, { ...c, lastMessage: m, lastActivityAt: m.createdAt });
    if (opts.broadcast !== false) this.broadcast('chat:message_received', m);
    return m;
  }

  update(messageId: string, patch: Partial<Message>, opts: { broadcast?: boolean } = {}): Message {
    for (const [convId, list] of this.messages) {
      const i = list.findIndex((m) => m.id === messageId);
      if (i < 0) continue;
      const m = { ...list[i]!, ...patch, updatedSeq: this.nextSeq(convId) };
      list[i] = m;
      if (opts.broadcast !== false) this.broadcast('chat:message_updated', m);
      return m;
    }
    throw new Error(`no message ${messageId}`);
  }

  private userOf(socket: FakeSocket): string {
    const part = socket.token.split('.')[1];
    return part ? (JSON.parse(Buffer.from(part, 'base64url').toString()) as { sub: string }).sub : 'anonymous';
  }

  async handle(socket: FakeSocket, event: string, payload: any): Promise<Ack<unknown> | undefined> {
    await Promise.resolve();
    if (this.holdAcks) await new Promise<void>((r) => this.held.push(r));
    const override = this.overrides.get(event);
    if (override) return override(socket, payload);
    const ok = (data: unknown): Ack<unknown> => ({ ok: true, data });
    const fail = (code: ErrorCode, message: string): Ack<unknown> => ({ ok: false, error: { code, message } });
    const me = this.userOf(socket);
    switch (event) {
      case 'chat:message_send': {
        if (!this.conversations.has(payload.conversationId)) return fail('NOT_FOUND', 'no such conversation');
        return ok(this.store(payload.conversationId, me, payload.content, payload.clientId));
      }
      case 'chat:message_edit': {
        const m = [...this.messages.values()].flat().find((x) => x.id === payload.messageId);
        if (!m) return fail('NOT_FOUND', 'no such message');
        if (m.authorId !== me) return fail('FORBIDDEN', 'only the author can edit a message');
        return ok(this.update(m.id, { content: payload.content, editedAt: new Date().toISOString() }));
      }
      case 'chat:message_read':
        return ok({ seq: 1 });
      case 'sync': {
        const cursors = payload.cursors as Record<string, number>;
        const out: Message[] = [];
        const convs: Conversation[] = [];
        const next: Record<string, number> = {};
        let hasMore = false;
        for (const c of this.conversations.values()) {
          const cursor = cursors[c.id] ?? 0;
          if (c.id in cursors && c.lastSeq <= cursor) continue;
          const changed = (this.messages.get(c.id) ?? []).filter((m) => m.updatedSeq > cursor).sort((a, b) => a.updatedSeq - b.updatedSeq);
          const room = Math.min(payload.limit ?? 1000, this.syncLimit) - out.length;
          if (room <= 0) {
            hasMore = true;
            break;
          }
          const taken = changed.slice(0, room);
          out.push(...taken.sort((a, b) => a.seq - b.seq));
          convs.push(c);
          if (taken.length < changed.length) {
            next[c.id] = Math.max(...taken.map((m) => m.updatedSeq));
            hasMore = true;
            break;
          }
          next[c.id] = c.lastSeq;
        }
        const removed = Object.keys(cursors).filter((id) => !this.conversations.has(id));
        return ok({ conversations: convs, messages: out, removedConversationIds: removed, hasMore, cursors: next });
      }
      case 'auth:refresh':
        socket.token = payload.token;
        return ok({ expiresAt: new Date().toISOString() });
      default:
        return ok(null);
    }
  }

  fetch: FetchLike = async (url, init) => {
    const u = new URL(url);
    const method = init.method ?? 'GET';
    this.restLog.push(`${method} ${u.pathname}`);
    const json = (status: number, body: unknown) => new Response(body === undefined ? null : JSON.stringify(body), { status });
    const auth = (init.headers as Record<string, string> | undefined)?.authorization;
    if (u.pathname === '/api/auth/refresh') {
      this.refreshCount++;
      const body = JSON.parse(String(init.body)) as { refreshToken: string };
      if (body.refreshToken === 'revoked') return json(401, { error: { code: 'UNAUTHENTICATED', message: 'revoked' } });
      const user = body.refreshToken.split(':')[0]!;
      const accessToken = fakeJwt(user, Math.floor(Date.now() / 1000) + 900);
      this.validTokens.add(accessToken);
      return json(200, { accessToken, refreshToken: `${user}:r${this.refreshCount}` });
    }
    if (this.checkTokens && (!auth || !this.validTokens.has(auth.slice('Bearer '.length)))) {
      return json(401, { error: { code: 'UNAUTHENTICATED', message: 'bad token' } });
    }
    if (method === 'GET' && u.pathname === '/api/conversations') {
      return json(200, { conversations: [...this.conversations.values()], nextCursor: null });
    }
    const convMatch = /^\/api\/conversations\/([^/]+)$/.exec(u.pathname);
    if (method === 'GET' && convMatch) {
      const c = this.conversations.get(decodeURIComponent(convMatch[1]!));
      return c ? json(200, c) : json(404, { error: { code: 'NOT_FOUND', message: 'no such conversation' } });
    }
    // A conversation's messages (GET /api/conversations/:id/messages, the SDK's listMessages).
    const msgMatch = /^\/api\/conversations\/([^/]+)\/messages$/.exec(u.pathname);
    if (method === 'GET' && msgMatch) {
      const list = this.messages.get(decodeURIComponent(msgMatch[1]!)) ?? [];
      const before = Number(u.searchParams.get('before') ?? Infinity);
      const limit = Number(u.searchParams.get('limit') ?? 50);
      const older = list.filter((m) => m.seq < before).sort((a, b) => a.seq - b.seq);
      return json(200, { messages: older.slice(-limit), hasMore: older.length > limit });
    }
    return json(404, { error: { code: 'NOT_FOUND', message: `no route ${method} ${u.pathname}` } });
  };
}
