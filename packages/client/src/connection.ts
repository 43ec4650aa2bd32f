import { ConfabError, type Ack, type ClientEventName, type ClientEventPayload, type ClientEventResults, type ErrorCode } from '@confab/protocol';
import { createBackoff, type Backoff } from './backoff.ts';
import type { Clock, ConnectionState } from './types.ts';

/** What the SDK needs of a Socket.IO client socket (socket.io-client's `Socket` fits). */
export interface SocketLike {
  readonly connected: boolean;
  connect(): unknown;
  disconnect(): unknown;
  // Listener arguments are the server's payloads; each handler states the type it expects.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
}

export interface SocketOptions {
  transports: ['websocket'];
  autoConnect: false;
  reconnection: false;
  forceNew: true;
  auth: (cb: (data: { token: string }) => void) => void;
}

export type SocketFactory = (url: string, options: SocketOptions) => SocketLike;

export interface ConnectionOptions {
  url: string;
  clock: Clock;
  random: () => number;
  socketFactory: SocketFactory;
  /** A fresh access token, or null when there is no session (then we stay offline). */
  token: () => Promise<string | null>;
  /** After the server refused our token: a new one, or null when the session is over. */
  refreshToken: (rejected: string) => Promise<string | null>;
  /** Attach the live-event handlers to a new socket (they are ignored once the socket is replaced). */
  attach: (socket: SocketLike, isCurrent: () => boolean) => void;
  /** Connected: resubscribe, sync, drain. */
  onConnect: () => void;
  onDisconnect: () => void;
}

export const REQUEST_TIMEOUT_MS = 15_000;

/**
 * One socket at a time, our own reconnection: socket.io-client's is off, because we want full
 * jitter, a fresh token on every attempt, and a network switch (browser offline events, tests)
 * that both drops the socket and holds reconnects until the network is back.
 * Each attempt uses a new socket, so nothing an old socket buffered is ever replayed by it.
 */
export class Connection {
  state: ConnectionState = 'offline';
  readonly backoff: Backoff;
  private socket: SocketLike | null = null;
  private timer: unknown = null;
  private wanted = false;
  private networkUp = true;
  private everConnected = false;
  private generation = 0;
  private listeners = new Set<(state: ConnectionState) => void>();
  private inflight = new Map<number, { reject: (e: ConfabError) => void; timer: unknown }>();
  private requestIds = 0;
  private currentToken = '';

  constructor(private readonly opts: ConnectionOptions) {
    this.backoff = createBackoff({ random: opts.random });
  }

  get connected(): boolean {
    return this.socket?.connected === true && this.state === 'online';
  }

  get network(): boolean {
    return this.networkUp;
  }

  subscribe(fn: (state: ConnectionState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    for (const fn of [...this.listeners]) fn(state);
  }

  /** Start (or keep) connecting. Idempotent. */
  start(): void {
    this.wanted = true;
    if (this.networkUp && !this.socket && this.timer === null) void this.attempt();
  }

  /** Disconnect and stay disconnected until `start`. */
  stop(): void {
    this.wanted = false;
    this.drop();
    this.setState('offline');
  }

  /** Network lost (browser `offline`, or the test hook): drop the socket, hold reconnects. */
  setNetwork(up: boolean): void {
    if (up === this.networkUp) return;
    this.networkUp = up;
    if (!up) {
      this.drop();
      this.setState('offline');
    } else if (this.wanted) {
      // The network is back: try at once rather than waiting out a long backoff.
      this.backoff.reset();
      this.start();
    }
  }

  /** The server refused our session for good: stay offline until a new session starts us. */
  private giveUp(): void {
    this.wanted = false;
    this.drop();
    this.setState('offline');
  }

  private drop(): void {
    this.generation++;
    if (this.timer !== null) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    this.failInflight('connection lost');
    if (socket) {
      try {
        socket.disconnect();
      } catch {
        /* already closed */
      }
      this.opts.onDisconnect();
    }
  }

  private scheduleReconnect(unreachable = false): void {
    if (!this.wanted || !this.networkUp || this.timer !== null) return;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    const delay = unreachable ? this.backoff.nextUnreachable() : this.backoff.next();
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = null;
      void this.attempt();
    }, delay);
  }

  private async attempt(): Promise<void> {
    const generation = ++this.generation;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    let token: string | null;
    try {
      token = await this.opts.token();
    } catch {
      token = null;
      if (generation === this.generation) this.scheduleReconnect();
      return;
    }
    if (generation !== this.generation || !this.wanted || !this.networkUp) return;
    if (!token) {
      this.giveUp();
      return;
    }
    this.currentToken = token;
    const socket = this.opts.socketFactory(this.opts.url, {
      transports: ['websocket'],
      autoConnect: false,
      reconnection: false,
      forceNew: true,
      auth: (cb) => cb({ token: this.currentToken }),
    });
    this.socket = socket;
    const isCurrent = () => this.socket === socket;
    socket.on('connect', () => {
      if (!isCurrent()) return;
      this.backoff.reset();
      this.everConnected = true;
      this.setState('online');
      this.opts.onConnect();
    });
    socket.on('connect_error', (err: Error) => {
      if (!isCurrent()) return;
      this.socket = null;
      this.safeDisconnect(socket);
      if (err?.message === 'UNAUTHENTICATED') {
        // Our token was refused: refresh (shared with REST) before the next attempt.
        this.opts.refreshToken(token).then(
          (fresh) => (fresh ? this.scheduleReconnect() : this.giveUp()),
          () => this.scheduleReconnect(),
        );
        return;
      }
      // socket.io-client reports a server it could not reach at all as a TransportError.
      this.scheduleReconnect((err as { type?: unknown } | undefined)?.type === 'TransportError');
    });
    socket.on('disconnect', (reason: string) => {
      if (!isCurrent()) return;
      this.socket = null;
      this.failInflight(`disconnected: ${reason}`);
      this.opts.onDisconnect();
      if (this.wanted && this.networkUp) this.scheduleReconnect();
      else this.setState('offline');
    });
    this.opts.attach(socket, isCurrent);
    socket.connect();
  }

  private safeDisconnect(socket: SocketLike): void {
    try {
      socket.disconnect();
    } catch {
      /* ignore */
    }
  }

  private failInflight(message: string): void {
    const pending = [...this.inflight.values()];
    this.inflight.clear();
    for (const p of pending) {
      this.opts.clock.clearTimeout(p.timer);
      p.reject(new ConfabError('UNAVAILABLE', message));
    }
  }

  /** Presents a fresh token on the live socket (and uses it for the next connect). */
  presentToken(token: string): void {
    this.currentToken = token;
    if (this.connected) this.request('auth:refresh', { token }).catch(() => {});
  }

  /** Emits a client event and waits for its ack. Fails with UNAVAILABLE when not connected, on timeout or disconnect. */
  request<E extends ClientEventName>(event: E, payload: ClientEventPayload<E>, timeoutMs = REQUEST_TIMEOUT_MS): Promise<ClientEventResults[E]> {
    const socket = this.socket;
    if (!socket?.connected) return Promise.reject(new ConfabError('UNAVAILABLE', 'not connected'));
    return new Promise((resolve, reject) => {
      const id = ++this.requestIds;
      const timer = this.opts.clock.setTimeout(() => {
        if (this.inflight.delete(id)) reject(new ConfabError('UNAVAILABLE', `${event}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.inflight.set(id, { reject, timer });
      socket.emit(event, payload, (ack: Ack<ClientEventResults[E]>) => {
        // A late ack after a timeout or a disconnect was already answered by failInflight.
        if (!this.inflight.delete(id)) return;
        this.opts.clock.clearTimeout(timer);
        if (ack && ack.ok) resolve(ack.data);
        else reject(new ConfabError((ack?.error?.code ?? 'INTERNAL') as ErrorCode, ack?.error?.message ?? 'malformed ack', ack?.error?.details));
      });
    });
  }

  close(): void {
    this.stop();
    this.listeners.clear();
  }
}
