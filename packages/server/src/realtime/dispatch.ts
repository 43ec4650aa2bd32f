import { ClientEventSchemas, ConfabError, EVENT_PAYLOAD_BYTES, parseInput, type Ack, type ClientEventName } from '@confab/protocol';
import { toConfabError } from '../http/errors.ts';
import type { AppSocket, EventHandlers, RealtimeServices } from './types.ts';

const isClientEvent = (name: unknown): name is ClientEventName => typeof name === 'string' && Object.hasOwn(ClientEventSchemas, name);

type AckFn = (result: Ack<unknown>) => void;

function payloadBytes(payload: unknown): number {
  if (payload === undefined) return 0;
  try {
    return Buffer.byteLength(JSON.stringify(payload) ?? '', 'utf8');
  } catch {
    // JSON.stringify recurses: a payload nested thousands deep overflows the stack. It is malformed,
    // not large (no event schema takes nesting that deep; the depth walk is left off the hot path).
    throw new ConfabError('VALIDATION_ERROR', 'the payload is nested too deeply');
  }
}

export interface DispatchOptions {
  /** Client events handled at once per socket; more are refused with RATE_LIMITED. */
  maxInFlightPerSocket: number;
  /** Every running handler, so a graceful shutdown can wait for them before closing the database. */
  running: Set<Promise<void>>;
}

/**
 * The one place where client events enter: size ceiling, per-user rate limit, strict schema,
 * handler, and exactly one ack `{ ok: true, data }` / `{ ok: false, error }`. A handler never
 * sees unvalidated input, and an exception never escapes to Socket.IO (which would log and
 * drop it without answering).
 *
 * Returns one listener for every event of every socket (`socket.onAny(listener)`): Socket.IO calls
 * it with the socket as `this`, so a connection costs no closures of its own here (S1 in
 * docs/benchmarks.md measures memory per connection).
 */
export function eventListener(handlers: EventHandlers, services: RealtimeServices, opts: DispatchOptions): (this: AppSocket, event: unknown, ...args: unknown[]) => void {
  const { ctx, metrics } = services;

  const run = async (socket: AppSocket, event: ClientEventName, args: unknown[]): Promise<void> => {
    const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckFn) : undefined;
    if (socket.data.inFlight >= opts.maxInFlightPerSocket) {
      metrics.socketEvents.inc({ event, outcome: 'error' });
      ack?.({ ok: false, error: new ConfabError('RATE_LIMITED', 'too many events in flight on this connection; wait for acks').toPayload() });
      return;
    }
    socket.data.inFlight++;
    const started = performance.now();
    try {
      if (args.length > 1) throw new ConfabError('VALIDATION_ERROR', 'an event carries one payload (and an ack callback)');
      const payload = args[0];
      if (payloadBytes(payload) > EVENT_PAYLOAD_BYTES[event]) {
        throw new ConfabError('PAYLOAD_TOO_LARGE', `the ${event} payload must be at most ${EVENT_PAYLOAD_BYTES[event]} bytes`);
      }
      // Before validation: junk costs the sender as much as a valid event.
      await ctx.limits.consume('socketEventsPerUser', socket.data.userId);
      const input = parseInput(ClientEventSchemas[event], payload);
      const handler = handlers[event] as (s: AppSocket, p: unknown) => Promise<unknown>;
      const data = await handler(socket, input);
      metrics.socketEvents.inc({ event, outcome: 'ok' });
      ack?.({ ok: true, data: data ?? null });
    } catch (error) {
      const confabError = toConfabError(error);
      if (confabError.code === 'INTERNAL') ctx.log.error({ err: error, event, userId: socket.data.userId }, 'socket event failed');
      metrics.socketEvents.inc({ event, outcome: 'error' });
      ack?.({ ok: false, error: confabError.toPayload() });
    } finally {
      socket.data.inFlight--;
      metrics.socketEventSeconds.observe({ event }, (performance.now() - started) / 1000);
    }
  };

  // Unknown events are counted (one label for all of them: client-chosen names must not grow the
  // metric's cardinality) and answered if the client asked for an answer.
  return function onEvent(this: AppSocket, event: unknown, ...args: unknown[]) {
    if (isClientEvent(event)) {
      const task = run(this, event, args);
      opts.running.add(task);
      void task.finally(() => opts.running.delete(task));
      return;
    }
    metrics.socketEvents.inc({ event: 'unknown', outcome: 'unknown' });
    const ack = args[args.length - 1];
    if (typeof ack === 'function') {
      const name = String(event).slice(0, 64);
      (ack as AckFn)({ ok: false, error: { code: 'VALIDATION_ERROR', message: `unknown event "${name}"` } });
    }
  };
}
