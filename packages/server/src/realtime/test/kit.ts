import type { Ack, ClientEventName, Conversation, Message, SyncResult } from '@confab/protocol';
import { io as connectClient, type ManagerOptions, type Socket as ClientSocket, type SocketOptions } from 'socket.io-client';
import type { Queryable } from '../../storage/db.ts';
import { expect } from 'vitest';
import { Api, type TestUser } from '../../test/harness.ts';
import { InOrder } from './inOrder.ts';

/**
 * Test helpers for the realtime tests: real socket.io-client connections over real sockets, and
 * `Mirror`, the reference client algorithm the SDK implements (apply a conversation's changes
 * contiguously by updatedSeq, de-duplicate by id, `sync` on reconnect and on a gap that does not fill).
 */
export type Client = ClientSocket;

export type ClientOptions = Partial<ManagerOptions & SocketOptions>;

const defaults: ClientOptions = { transports: ['websocket'], reconnection: false, forceNew: true, timeout: 10_000 };

/** Connects and resolves once the server accepted the handshake (rooms joined). */
export function connect(url: string, token: string | (() => string), opts: ClientOptions = {}): Promise<Client> {
  const auth = typeof token === 'function' ? (cb: (data: object) => void) => cb({ token: token() }) : { token };
  const socket = connectClient(url, { ...defaults, auth, ...opts });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

/** Connects expecting a refusal; resolves with the connect_error. */
export async function connectError(url: string, auth: Record<string, unknown>, opts: ClientOptions = {}): Promise<Error> {
  const socket = connectClient(url, { ...defaults, auth, ...opts });
  try {
    return await new Promise<Error>((resolve, reject) => {
      socket.once('connect', () => reject(new Error('connected, but a refusal was expected')));
      socket.once('connect_error', resolve);
    });
  } finally {
    socket.close();
  }
}

/** Emits a client event and resolves with its ack. */
export async function call<T = any>(socket: Client, event: ClientEventName | string, payload?: unknown, timeoutMs = 15_000): Promise<Ack<T>> {
  const args = payload === undefined ? [] : [payload];
  return (await socket.timeout(timeoutMs).emitWithAck(event, ...args)) as Ack<T>;
}

/** Like call, but throws on an error ack. */
export async function ok<T = any>(socket: Client, event: ClientEventName | string, payload?: unknown, timeoutMs?: number): Promise<T> {
  const ack = await call<T>(socket, event, payload, timeoutMs);
  if (!ack.ok) throw new Error(`${event} failed: ${ack.error.code} ${ack.error.message}`);
  return ack.data;
}

/** Resolves with the next `event` whose payload passes `match`. */
export function waitFor<T = any>(socket: Client, event: string, match: (payload: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, handler);
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    const handler = (payload: T) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      socket.off(event, handler);
      resolve(payload);
    };
    socket.on(event, handler);
  });
}

/** Collects every server event a socket receives, for "nothing leaked" assertions. */
export function record(socket: Client): Array<{ event: string; payload: any }> {
  const seen: Array<{ event: string; payload: any }> = [];
  socket.onAny((event: string, payload: unknown) => seen.push({ event, payload }));
  return seen;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A group of users. Through POST /api/conversations/group when that route exists; else straight
 * into the tables (the route is written by another issue).
 */
export async function createGroup(server: { url: string }, db: Queryable, owner: TestUser, members: TestUser[], title = 'group'): Promise<string> {
  const res = await owner.api.post<Conversation>('/api/conversations/group', { title, participantIds: members.map((m) => m.id) });
  if (res.status === 201) return res.body.id;
  if (res.status !== 404) throw new Error(`create group failed: ${res.status} ${JSON.stringify(res.body)}`);
  const id = `g${Math.random().toString(36).slice(2, 12)}${Date.now().toString(36)}`;
  await db.query(`INSERT INTO conversations (id, type, title, created_by) VALUES ($1, 'group', $2, $3)`, [id, title, owner.id]);
  await db.query(`INSERT INTO conversation_members (conversation_id, user_id, role) VALUES ($1, $2, 'owner')`, [id, owner.id]);
  for (const m of members) await db.query(`INSERT INTO conversation_members (conversation_id, user_id, role) VALUES ($1, $2, 'member')`, [id, m.id]);
  void server;
  return id;
}

/**
 * The client side of the delivery guarantee, as the SDK does it:
 * - per conversation a cursor: every change up to it is applied;
 * - a live change with updatedSeq = cursor + 1 is applied at once (and the held ones after it);
 *   one at or below the cursor only replaces an older state of the same message (de-dup by id);
 *   one further ahead is held, and if the gap has not filled after `gapWaitMs` the client syncs;
 * - after every (re)connect the client syncs from its cursors.
 */
export class Mirror {
  private readonly state = new InOrder<Message>();
  readonly messages = this.state.messages;
  readonly cursors = this.state.cursors;
  /** updatedSeq of every live message event, per conversation, in arrival order. */
  readonly arrivals = new Map<string, number[]>();
  /** How many times each message id arrived as chat:message_received. */
  readonly receivedCount = new Map<string, number>();
  gaps = 0;
  syncs = 0;
  private socket: Client | undefined;
  private syncing: Promise<void> | undefined;
  private syncingOn: Client | undefined;
  private gapTimer: NodeJS.Timeout | undefined;

  constructor(private readonly gapWaitMs = 300) {}

  attach(socket: Client): void {
    this.socket = socket;
    socket.on('chat:message_received', (m: Message) => {
      this.receivedCount.set(m.id, (this.receivedCount.get(m.id) ?? 0) + 1);
      this.onLive(m);
    });
    socket.on('chat:message_updated', (m: Message) => this.onLive(m));
  }

  private onLive(m: Message): void {
    const list = this.arrivals.get(m.conversationId) ?? [];
    list.push(m.updatedSeq);
    this.arrivals.set(m.conversationId, list);
    if (this.state.live(m)) return;
    this.gaps++;
    this.gapTimer ??= setTimeout(() => {
      this.gapTimer = undefined;
      if (this.socket?.connected && this.state.holding) void this.sync().catch(() => {});
    }, this.gapWaitMs);
  }

  /** Pages through `sync` until nothing is left; concurrent calls on one socket share one run. */
  sync(): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error('not attached'));
    // A run on an older (dropped) socket is abandoned: its acks will never come.
    if (this.syncing && this.syncingOn === socket) return this.syncing;
    const run: Promise<void> = this.pages(socket).finally(() => {
      if (this.syncing === run) this.syncing = undefined;
    });
    this.syncing = run;
    this.syncingOn = socket;
    return run;
  }

  private async pages(socket: Client): Promise<void> {
    for (;;) {
      const result = await ok<SyncResult>(socket, 'sync', { cursors: { ...this.cursors } });
      this.syncs++;
      this.state.applySync(result, (m) => m);
      if (!result.hasMore) return;
    }
  }

  /** The conversation as the user sees it: messages in seq order. */
  list(conversationId: string): Message[] {
    return [...this.messages.values()].filter((m) => m.conversationId === conversationId).sort((a, b) => a.seq - b.seq);
  }

  close(): void {
    if (this.gapTimer) clearTimeout(this.gapTimer);
  }
}

/** Resolves with the disconnect reason and how long after `since` it came. */
/** The sockets a test opens, closed together in its afterAll. */
export function socketPool() {
  const open: Client[] = [];
  return {
    /** Connects to `node` with `token`, to be closed by closeAll. */
    async on(node: { url: string }, token: string): Promise<Client> {
      const s = await connect(node.url, token);
      open.push(s);
      return s;
    },
    /** Sockets opened otherwise, to be closed by closeAll too. */
    track(...sockets: Client[]): void {
      open.push(...sockets);
    },
    closeAll(): void {
      for (const s of open) s.close();
    },
  };
}

export const closedAfter = (s: Client) => {
  const since = { at: Date.now() };
  const done = new Promise<{ reason: string; ms: number }>((resolve) => s.once('disconnect', (reason) => resolve({ reason, ms: Date.now() - since.at })));
  return { since, done };
};

export async function loginAgain(server: { url: string }, user: TestUser): Promise<{ accessToken: string; refreshToken: string }> {
  const res = await new Api(server.url).post('/api/auth/login', { email: user.user.email, password: 'correct horse battery' });
  expect(res.status).toBe(200);
  return res.body;
}
