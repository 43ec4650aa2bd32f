import { ConfabError, type Ack, type ClientEventName, type ClientEventPayload, type ClientEventResults, type ErrorCode } from '@confab/protocol';
import { createBackoff, type Backoff } from './backoff.ts';
import type { Clock, ConnectionState } from './types.ts';

/** How the live connection reaches the server: a WebSocket, or HTTP long-polling where WebSockets are blocked. */
export type Transport = 'websocket' | 'polling';

/** What the SDK needs of a Socket.IO client socket (socket.io-client's `Socket` fits). */
export interface SocketLike {
  readonly connected: boolean;
  /** socket.io-client's Manager, read for the transport in use (a socket without it counts as a WebSocket). */
  readonly io?: { engine?: { transport?: { name?: string } } };
  connect(): unknown;
  disconnect(): unknown;
  // Listener arguments are the server's payloads; each handler states the type it expects.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
}

export interface SocketOptions {
  /** `['websocket', 'polling']`: a WebSocket first, long-polling when it cannot be opened; or only `['websocket']`. */
  transports: Transport[];
  /** Go on to the next transport when one cannot be opened (socket.io-client ≥ 4.8). */
  tryAllTransports: boolean;
  /** Send cookies with long-polling requests (a load balancer's sticky-session cookie); Node keeps a cookie jar per socket. */
  withCredentials: true;
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
  /** 'auto' (default): WebSocket, falling back to long-polling; 'websocket': never long-polling. */
  transport?: 'auto' | 'websocket' | undefined;
  /** On long-polling: how long until a WebSocket is tried again (doubling after each failure, up to MAX_WEBSOCKET_RETRY_MS). */
  websocketRetryMs?: number | undefined;
}

export const REQUEST_TIMEOUT_MS = 15_000;
export const WEBSOCKET_RETRY_MS = 30_000;
export const MAX_WEBSOCKET_RETRY_MS = 5 * 60_000;

function transportOf(socket: SocketLike): Transport {
  return socket.io?.engine?.transport?.name === 'polling' ? 'polling' : 'websocket';
}

/**
 * One socket at a time, our own reconnection: socket.io-client's is off, because we want full
 * jitter, a fresh token on every attempt, and a network switch (browser offline events, tests)
 * that both drops the socket and holds reconnects until the network is back.
 * Each attempt uses a new socket, so nothing an old socket buffered is ever replayed by it.
 *
 * Transports: every attempt opens a WebSocket first (any load balancing works for it, and it is the
 * cheapest), and falls back to HTTP long-polling within the same attempt when the WebSocket cannot
 * be opened (a proxy that does not pass upgrades). engine.io's own upgrade probe runs once, right
 * after the polling connection opens; we keep trying instead: while on long-polling, a WebSocket-only
 * socket is opened in the background every `websocketRetryMs` (doubling), and when it connects it
 * replaces the polling one exactly as a reconnect does: it is in every room before it hears
 * "connect", `onConnect` syncs from the cursors, and the polling socket's live events are ignored
 * from then on (it stays open only until the requests sent on it have their answers). So the
 * guarantees of a reconnect hold: nothing is missed (sync), nothing is applied twice (ids).
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
  private inflight = new Map<number, { reject: (e: ConfabError) => void; timer: unknown; socket: SocketLike }>();
  private requestIds = 0;
  private currentToken = '';
  /** The background WebSocket attempt while on long-polling, and when the next one starts. */
  private probe: SocketLike | null = null;
  private probeTimer: unknown = null;
  private probeDelay: number;
  /** Replaced sockets that still wait for answers to requests sent on them. */
  private retiring = new Set<SocketLike>();
  private readonly transportMode: 'auto' | 'websocket';
  private readonly websocketRetryMs: number;

  constructor(private readonly opts: ConnectionOptions) {
    this.backoff = createBackoff({ random: opts.random });
    this.transportMode = opts.transport ?? 'auto';
    this.websocketRetryMs = opts.websocketRetryMs ?? WEBSOCKET_RETRY_MS;
    this.probeDelay = this.websocketRetryMs;
  }

  get connected(): boolean {
    return this.socket?.connected === true && this.state === 'online';
  }

  /** The transport of the live connection, or null while not connected. */
  get transport(): Transport | null {
    return this.connected ? transportOf(this.socket!) : null;
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
    this.cancelProbe();
    for (const old of this.retiring) this.safeDisconnect(old);
    this.retiring.clear();
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
    const socket = this.newSocket(this.transportMode === 'auto' ? ['websocket', 'polling'] : ['websocket']);
    this.socket = socket;
    const isCurrent = () => this.socket === socket;
    socket.on('connect', () => {
      if (!isCurrent()) return;
      this.backoff.reset();
      this.everConnected = true;
      this.setState('online');
      this.opts.onConnect();
      this.afterConnect(socket);
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
    this.onDisconnected(socket);
    this.opts.attach(socket, isCurrent);
    socket.connect();
  }

  private newSocket(transports: Transport[]): SocketLike {
    return this.opts.socketFactory(this.opts.url, {
      transports,
      tryAllTransports: transports.length > 1,
      withCredentials: true,
      autoConnect: false,
      reconnection: false,
      forceNew: true,
      auth: (cb) => cb({ token: this.currentToken }),
    });
  }

  /** The live socket went away: reconnect. A replaced one only fails the requests still waiting on it. */
  private onDisconnected(socket: SocketLike): void {
    socket.on('disconnect', (reason: string) => {
      if (this.retiring.delete(socket)) {
        this.failInflight(`disconnected: ${reason}`, socket);
        return;
      }
      if (this.socket !== socket) return;
      this.socket = null;
      this.cancelProbe();
      this.failInflight(`disconnected: ${reason}`, socket);
      this.opts.onDisconnect();
      if (this.wanted && this.networkUp) this.scheduleReconnect();
      else this.setState('offline');
    });
  }

  /** Connected over long-polling: try a WebSocket again later. Over a WebSocket: the next fallback starts the wait afresh. */
  private afterConnect(socket: SocketLike): void {
    if (this.transportMode === 'auto' && transportOf(socket) === 'polling') this.scheduleProbe();
    else this.probeDelay = this.websocketRetryMs;
  }

  private scheduleProbe(): void {
    if (this.probeTimer !== null || this.probe) return;
    const delay = this.probeDelay;
    this.probeDelay = Math.min(delay * 2, Math.max(MAX_WEBSOCKET_RETRY_MS, this.websocketRetryMs));
    this.probeTimer = this.opts.clock.setTimeout(() => {
      this.probeTimer = null;
      void this.probeWebSocket();
    }, delay);
  }

  private cancelProbe(): void {
    if (this.probeTimer !== null) this.opts.clock.clearTimeout(this.probeTimer);
    this.probeTimer = null;
    const probe = this.probe;
    this.probe = null;
    if (probe) this.safeDisconnect(probe);
  }

  /** Opens a WebSocket-only socket next to the polling one; when it connects, it takes over. */
  private async probeWebSocket(): Promise<void> {
    const current = this.socket;
    if (!current || !this.connected || transportOf(current) !== 'polling') return;
    let token: string | null = null;
    try {
      token = await this.opts.token();
    } catch {
      /* tried again later */
    }
    // Reconnected or dropped meanwhile: a new attempt tries a WebSocket first by itself.
    if (this.socket !== current || !this.connected) return;
    if (!token) {
      this.scheduleProbe();
      return;
    }
    this.currentToken = token;
    const probe = this.newSocket(['websocket']);
    this.probe = probe;
    probe.on('connect', () => {
      if (this.probe !== probe) return;
      this.probe = null;
      if (this.socket !== current || !this.connected) {
        this.safeDisconnect(probe);
        return;
      }
      this.socket = probe;
      this.probeDelay = this.websocketRetryMs;
      this.retire(current);
      // A new socket, as after a reconnect: interest, presence, sync from the cursors, the outbox.
      this.opts.onConnect();
    });
    probe.on('connect_error', () => {
      if (this.probe !== probe) return;
      this.probe = null;
      this.safeDisconnect(probe);
      if (this.socket === current) this.scheduleProbe();
    });
    this.onDisconnected(probe);
    this.opts.attach(probe, () => this.socket === probe);
    probe.connect();
  }

  /** A replaced socket: closed once the requests sent on it are answered (its live events are ignored already). */
  private retire(socket: SocketLike): void {
    this.retiring.add(socket);
    this.closeIfDone(socket);
  }

  private closeIfDone(socket: SocketLike): void {
    if (!this.retiring.has(socket)) return;
    for (const p of this.inflight.values()) if (p.socket === socket) return;
    this.retiring.delete(socket);
    this.safeDisconnect(socket);
  }

  private safeDisconnect(socket: SocketLike): void {
    try {
      socket.disconnect();
    } catch {
      /* ignore */
    }
  }

  /** Fails the requests waiting for an answer: all of them, or those sent on `socket`. */
  private failInflight(message: string, socket?: SocketLike): void {
    for (const [id, p] of [...this.inflight]) {
      if (socket && p.socket !== socket) continue;
      this.inflight.delete(id);
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
        if (!this.inflight.delete(id)) return;
        this.closeIfDone(socket);
        reject(new ConfabError('UNAVAILABLE', `${event}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.inflight.set(id, { reject, timer, socket });
      socket.emit(event, payload, (ack: Ack<ClientEventResults[E]>) => {
        // A late ack after a timeout or a disconnect was already answered by failInflight.
        if (!this.inflight.delete(id)) return;
        this.opts.clock.clearTimeout(timer);
        this.closeIfDone(socket);
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
