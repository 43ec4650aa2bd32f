import type { AppServer, AppSocket } from './types.ts';

export interface ConnInternals {
  writeBuffer?: Array<{ data?: unknown }>;
  transport?: { name?: string; socket?: { bufferedAmount?: number; terminate?: () => void; _socket?: { cork(): void; uncork(): void } } };
}

/** Output queued for a socket: engine.io packets waiting for the transport, plus bytes the websocket has not flushed. */
export function bufferedOutput(socket: AppSocket): { packets: number; bytes: number } {
  const conn = socket.conn as unknown as ConnInternals;
  const queue = conn.writeBuffer ?? [];
  let bytes = 0;
  for (const p of queue) {
    const d = p.data;
    bytes += typeof d === 'string' ? d.length : d instanceof Uint8Array || d instanceof ArrayBuffer ? d.byteLength : 0;
  }
  if (conn.transport?.name === 'websocket') bytes += conn.transport.socket?.bufferedAmount ?? 0;
  return { packets: queue.length, bytes };
}

/**
 * One write per socket per turn of the event loop, instead of one per frame.
 *
 * 1. engine.io flushes a socket's queue as soon as a packet is queued, so the first event of a turn
 *    went out alone and the rest of that turn's followed in a second write (a sender's own message
 *    and the ack of its send, a batch of messages committed together). Flushes are deferred to the
 *    end of the turn here: one `process.nextTick` for every socket, not a timer per socket. A tick
 *    runs after the promise continuations of the turn (where sends resolve and acks are emitted)
 *    and before any I/O or timer: with `setImmediate`, output that waited for the previous write
 *    sat a whole loop iteration longer, and the slow-consumer sweep took a fast reader's burst
 *    for a slow one.
 * 2. ws writes each frame with its own system call; corking the TCP socket while engine.io hands a
 *    flush's frames to it sends them in one. Listeners on the engine, not per socket: flush, send
 *    and drain run synchronously one after the other.
 * Over loopback a write costs more CPU than encoding the frame (it wakes the receiving process).
 */
export function coalesceWrites(io: AppServer): void {
  type Conn = { flush(this: Conn): void };
  let flushNow: Conn['flush'] | undefined;
  let pending = new Set<Conn>();
  const flushPending = () => {
    const due = pending;
    pending = new Set();
    for (const conn of due) flushNow!.call(conn);
  };
  // One shared function (`this` is the connection): nothing is allocated per socket.
  function flushAtEndOfTurn(this: Conn) {
    if (pending.size === 0) process.nextTick(flushPending);
    pending.add(this);
  }
  io.engine.on('connection', (conn: Conn) => {
    flushNow ??= (Object.getPrototypeOf(conn) as Conn).flush;
    conn.flush = flushAtEndOfTurn;
  });

  let corked: { cork(): void; uncork(): void } | undefined;
  io.engine.on('flush', (conn: ConnInternals, buffer: unknown[]) => {
    if (buffer.length < 2) return;
    // ws keeps its TCP socket in `_socket` (not public API; without it nothing is corked).
    corked = conn.transport?.socket?._socket;
    corked?.cork();
  });
  io.engine.on('drain', () => {
    corked?.uncork();
    corked = undefined;
  });
}
