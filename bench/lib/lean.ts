/**
 * A lean Socket.IO client for load generation: Engine.IO v4 + Socket.IO v5 framing spoken directly
 * over a `ws` WebSocket (the transport socket.io-client itself uses in Node), without
 * socket.io-client's Manager/Socket layers. A connection costs a few KB in the generator, and
 * received frames are handed over raw (a Buffer), so a receiver can count frames without decoding
 * every one. Both Confab and the baseline speak plain Socket.IO, so one client serves both.
 *
 * Frames (text): "0{…}" engine open, "2" ping → answer "3", "40{auth}" connect to "/",
 * "40{sid}" connected, "44{message}" refused, "41" disconnected by the server,
 * "42[event,payload]" event, "42<id>[…]" event with ack, "43<id>[data]" ack.
 */
import WebSocket from 'ws';

export interface LeanOptions {
  /** http://127.0.0.1:port of the server. */
  url: string;
  /** Handshake auth: `{ token }`. */
  token?: string;
  /** Source address on loopback (127.0.0.x), to spread connections over more ephemeral port ranges. */
  localAddress?: string;
  /** Every event frame ("42…"), raw. Acks and control frames are handled here. */
  onEvent?: (frame: Buffer) => void;
  /** The connection ended, for whatever reason (after it was established). */
  onClose?: (reason: string) => void;
  /** How long the WebSocket upgrade plus the Socket.IO handshake may take. */
  timeoutMs?: number;
}

const C_0 = 0x30;
const C_1 = 0x31;
const C_2 = 0x32;
const C_3 = 0x33;
const C_4 = 0x34;

type AckFn = (frame: Buffer, offset: number) => void;

/**
 * What the load loop and the scenarios need of a client connection: the lean Socket.IO client
 * here, or the lean XMPP client (bench/lib/xmpp.ts) for the ejabberd target.
 */
export interface ChatSocket {
  readonly connected: boolean;
  /** Event frames (deliveries) received on this connection. */
  readonly events: number;
  /** Sends an event; `ack` receives the raw ack frame and the offset of its JSON array ("[…]"). */
  emit(event: string, payload: unknown, ack?: AckFn): void;
  readonly inFlight: number;
  close(): void;
}

export class LeanSocket implements ChatSocket {
  connected = false;
  /** Event frames received on this connection. */
  events = 0;
  private readonly acks = new Map<number, AckFn>();
  private nextId = 0;
  private closedReason: string | undefined;

  private constructor(
    readonly ws: WebSocket,
    private readonly opts: LeanOptions,
  ) {}

  /** Connects and resolves once the server accepted the Socket.IO handshake (for Confab: rooms joined). */
  static connect(opts: LeanOptions): Promise<LeanSocket> {
    const wsUrl = `${opts.url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`;
    const ws = new WebSocket(wsUrl, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: opts.timeoutMs ?? 30_000,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    const socket = new LeanSocket(ws, opts);
    return new Promise<LeanSocket>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => fail(new Error('handshake timed out')), opts.timeoutMs ?? 30_000);
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.terminate();
        reject(error);
      };
      ws.on('error', (error) => fail(error));
      ws.on('close', (code) => {
        const was = socket.connected;
        socket.connected = false;
        socket.failAcks();
        if (!settled) fail(new Error(`closed during handshake (${code})`));
        else if (was || socket.closedReason) opts.onClose?.(socket.closedReason ?? `transport close ${code}`);
      });
      ws.on('message', (data: Buffer) => {
        const c0 = data[0];
        if (c0 === C_4) {
          const c1 = data[1];
          if (c1 === C_2) {
            socket.events++;
            opts.onEvent?.(data);
          } else if (c1 === C_3) {
            socket.onAck(data);
          } else if (c1 === C_0) {
            socket.connected = true;
            settled = true;
            clearTimeout(timer);
            resolve(socket);
          } else if (c1 === C_4) {
            const message = (() => {
              try {
                return (JSON.parse(data.toString('utf8', 2)) as { message?: string }).message ?? 'refused';
              } catch {
                return 'refused';
              }
            })();
            fail(new Error(message));
          } else if (c1 === C_1) {
            socket.closedReason = 'io server disconnect';
            ws.close();
          }
        } else if (c0 === C_2) {
          ws.send('3');
        } else if (c0 === C_0) {
          ws.send(opts.token === undefined ? '40' : `40${JSON.stringify({ token: opts.token })}`);
        } else if (c0 === C_1) {
          ws.close();
        }
      });
    });
  }

  private onAck(data: Buffer): void {
    let id = 0;
    let i = 2;
    for (; i < data.length; i++) {
      const c = data[i]!;
      if (c < C_0 || c > 0x39) break;
      id = id * 10 + (c - C_0);
    }
    const fn = this.acks.get(id);
    if (!fn) return;
    this.acks.delete(id);
    fn(data, i);
  }

  private failAcks(): void {
    const pending = [...this.acks.values()];
    this.acks.clear();
    for (const fn of pending) fn(DISCONNECTED, 0);
  }

  /** Sends an event; `ack` receives the raw ack frame and the offset of its JSON array ("[…]"). */
  emit(event: string, payload: unknown, ack?: AckFn): void {
    if (!this.connected) {
      ack?.(DISCONNECTED, 0);
      return;
    }
    if (ack) {
      const id = this.nextId++;
      this.acks.set(id, ack);
      this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
    } else {
      this.ws.send(`42${JSON.stringify([event, payload])}`);
    }
  }

  /** Emits and resolves with the parsed ack data (`{ ok, data }` for Confab), or rejects on disconnect/timeout. */
  request<T>(event: string, payload: unknown, timeoutMs = 15_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${event}: no ack within ${timeoutMs} ms`)), timeoutMs);
      this.emit(event, payload, (frame, offset) => {
        clearTimeout(timer);
        if (frame === DISCONNECTED) return reject(new Error(`${event}: disconnected`));
        resolve((JSON.parse(frame.toString('utf8', offset)) as T[])[0]!);
      });
    });
  }

  get inFlight(): number {
    return this.acks.size;
  }

  close(): void {
    this.closedReason = 'client close';
    this.connected = false;
    this.ws.terminate();
  }
}

/** Passed to ack callbacks when the connection dropped before the ack came. */
export const DISCONNECTED = Buffer.from('disconnected');

const OK_PREFIX = Buffer.from('[{"ok":true');
/** True when an ack frame carries `{ ok: true, … }` (checked on the bytes, without parsing). */
export function ackOk(frame: Buffer, offset: number): boolean {
  return frame !== DISCONNECTED && frame.compare(OK_PREFIX, 0, OK_PREFIX.length, offset, offset + OK_PREFIX.length) === 0;
}

/** True when an event frame is `42["<event>"…` (checked on the bytes). */
export function frameIs(frame: Buffer, prefix: Buffer): boolean {
  return frame.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}
export const eventPrefix = (event: string) => Buffer.from(`42${JSON.stringify([event]).slice(0, -1)}`);

/**
 * Source addresses on loopback: 127.0.0.2 … 127.0.0.254 (then 127.0.1.x …), round robin.
 * Each source address has its own ephemeral port range (~28K ports here), and a connection bound
 * to an address keeps its port while in TIME_WAIT, so spreading keeps reruns from running out.
 */
export class AddressPool {
  private i: number;
  constructor(
    private readonly size = 250,
    start = 0,
  ) {
    this.i = start;
  }
  next(): string {
    const n = 2 + (this.i++ % this.size);
    return `127.0.${Math.floor(n / 256)}.${n % 256}`;
  }
}

/**
 * Connects many sockets with at most `parallel` handshakes at a time; returns them in order.
 * `connect` makes one connection: the lean Socket.IO client unless the target speaks something else.
 */
export async function connectMany<S extends ChatSocket = LeanSocket>(
  count: number,
  parallel: number,
  make: (i: number) => LeanOptions,
  onProgress?: (done: number) => void,
  connect: (opts: LeanOptions) => Promise<S> = LeanSocket.connect as unknown as (opts: LeanOptions) => Promise<S>,
): Promise<S[]> {
  const sockets: S[] = new Array<S>(count);
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        const i = next++;
        let lastError: unknown;
        for (let attempt = 0; attempt < 3; attempt++) {
          try {
            sockets[i] = await connect(make(i));
            lastError = undefined;
            break;
          } catch (error) {
            lastError = error;
            await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
          }
        }
        if (lastError) throw new Error(`connection ${i} failed: ${(lastError as Error).message}`);
        done++;
        if (onProgress && done % 1000 === 0) onProgress(done);
      }
    }),
  );
  return sockets;
}
