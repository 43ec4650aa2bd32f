/**
 * Open-loop send load with a window: sends are due at a fixed rate (evenly spaced), assigned to
 * senders round-robin; a sender has at most `window` sends unacknowledged and queues the rest.
 * Latency is measured from the time a send was *due*, not when it left, so queueing in the
 * generator counts (no coordinated omission). One clock: this process's performance.now().
 */
import { Latency } from './histogram.ts';
import { ackOk, type ChatSocket } from './lean.ts';

export interface Sender {
  socket: ChatSocket;
  conversationId: string;
}

export interface StepResult {
  offered: number;
  seconds: number;
  sent: number;
  acked: number;
  errors: number;
  /** Acks per second within the measured window (after warm-up). */
  achieved: number;
  latency: ReturnType<Latency['summary']>;
  /** Sends still unacknowledged when the step gave up waiting. */
  lost: number;
}

export interface StepOptions {
  rate: number;
  seconds: number;
  warmupSeconds: number;
  window: number;
  /** Content of send k (its clientId is `${prefix}${k}`). */
  content: (k: number, dueAt: number) => string;
  clientIdPrefix: string;
  /** After the sends, wait at most this long for outstanding acks. */
  drainMs?: number;
  /** Called for every ack (ok or not) with the send's due time. */
  onAck?: (dueAt: number, ok: boolean) => void;
}

export async function runStep(senders: Sender[], o: StepOptions): Promise<StepResult> {
  const latency = new Latency();
  const queues = senders.map(() => [] as Array<{ k: number; due: number }>);
  const inflight = senders.map(() => 0);
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let ackedInWindow = 0;
  const start = performance.now();
  const warmupEnd = start + o.warmupSeconds * 1000;
  const end = start + o.seconds * 1000;
  let measureEnd = end;
  const interval = 1000 / o.rate;

  const send = (s: number, k: number, due: number) => {
    inflight[s]!++;
    const { socket, conversationId } = senders[s]!;
    socket.emit('chat:message_send', { conversationId, content: o.content(k, due), clientId: `${o.clientIdPrefix}${k}` }, (frame, offset) => {
      const now = performance.now();
      inflight[s]!--;
      acked++;
      const ok = ackOk(frame, offset);
      if (!ok) errors++;
      if (due >= warmupEnd && now <= measureEnd) {
        latency.record(now - due);
        ackedInWindow++;
      } else if (due >= warmupEnd && due < end) {
        latency.record(now - due);
      }
      o.onAck?.(due, ok);
      const next = queues[s]!.shift();
      if (next) send(s, next.k, next.due);
    });
  };

  let issued = 0;
  while (performance.now() < end) {
    const now = performance.now();
    const due = Math.min(Math.floor((now - start) / interval) + 1, Math.floor(o.seconds * o.rate));
    for (; issued < due; issued++) {
      const s = issued % senders.length;
      const dueAt = start + issued * interval;
      sent++;
      if (inflight[s]! < o.window) send(s, issued, dueAt);
      else queues[s]!.push({ k: issued, due: dueAt });
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  measureEnd = performance.now();
  const windowSeconds = (measureEnd - warmupEnd) / 1000;
  const drainDeadline = performance.now() + (o.drainMs ?? 30_000);
  while (acked < sent && performance.now() < drainDeadline) await new Promise((r) => setTimeout(r, 5));
  for (const q of queues) q.length = 0;
  return {
    offered: o.rate,
    seconds: o.seconds,
    sent,
    acked,
    errors,
    achieved: Math.round(ackedInWindow / windowSeconds),
    latency: latency.summary(),
    lost: sent - acked,
  };
}
