/**
 * Per-conversation ordering of live events on the node that publishes them.
 *
 * Why: every change in a conversation takes the next `seq` under the conversation row's lock, so
 * changes COMMIT in seq order. But operations publish to the bus *after* the commit is
 * acknowledged, and two acknowledgements may be handled in either order: on PostgreSQL they
 * arrive on different pool connections, and the one that committed second can be read first (a
 * send is one statement, so the second waits for the lock and then finishes within microseconds);
 * on the embedded database continuations race in the microtask queue. Without help, a live client
 * could see seq 8 before seq 7.
 *
 * What: events that carry a seq (`chat:message_received`, `chat:message_updated`: the message's
 * `updatedSeq`, which is the seq of the change being announced) pass through a tiny reorder
 * buffer per conversation. An event whose seq is exactly the next one after the last emitted is
 * emitted at once; one that jumps ahead is held for at most `holdMs` waiting for the missing
 * seqs, then everything held is emitted in seq order anyway. Other events for the conversation
 * (receipts, typing, AI deltas) queue behind anything held, so relative order is kept.
 *
 * What it does not do: it only orders what THIS node publishes. A seq committed on another node
 * never passes through here (it reaches the sockets through the Redis adapter), so with several
 * writers on several nodes a client can still, rarely, see a jump or an inversion; after a crash
 * between commit and publish a seq is never announced at all. That is why the protocol's
 * guarantee is completed by the client: it applies a conversation's changes contiguously by
 * `updatedSeq` and calls `sync` from its cursor when it sees a gap that does not fill quickly
 * (docs/scaling.md, "Ordering"). The database is the source of truth; this buffer only makes the
 * common single-node case strictly ordered without a round trip.
 */
export interface GatedEvent {
  room: string;
  event: string;
  payload: unknown;
}

interface Held extends GatedEvent {
  /** The seq for seq-bearing events; for the others, the highest key held when they arrived. */
  key: number;
  seqBearing: boolean;
  order: number;
}

interface ConvState {
  /** Highest seq emitted for this conversation by this node. */
  last: number;
  held: Held[];
  /** When the oldest held event must be flushed regardless of gaps. */
  deadline: number;
  touched: number;
}

export interface SeqGateOptions {
  /** How long an event that jumps ahead waits for the missing seqs. */
  holdMs: number;
  /** Conversation states idle this long are forgotten (the next event simply passes). */
  idleMs?: number;
  now?: () => number;
}

export class SeqGate {
  private readonly convs = new Map<string, ConvState>();
  private timer: NodeJS.Timeout | undefined;
  private order = 0;
  private readonly idleMs: number;
  private readonly now: () => number;
  private closed = false;
  /** Events that had to wait for a missing seq, and waits that ended by timeout (diagnostics). */
  holds = 0;
  timeouts = 0;

  constructor(
    private readonly emit: (e: GatedEvent) => void,
    private readonly opts: SeqGateOptions,
  ) {
    this.idleMs = opts.idleMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** Hands an event for a conversation room to the gate; `seq` is undefined for events without one. */
  push(conversationId: string, e: GatedEvent, seq: number | undefined): void {
    if (this.closed) return;
    const now = this.now();
    let state = this.convs.get(conversationId);
    if (!state) {
      if (seq === undefined) return this.emit(e);
      // First event seen for this conversation: nothing to compare with, so it passes.
      state = { last: seq - 1, held: [], deadline: 0, touched: now };
      this.convs.set(conversationId, state);
    }
    state.touched = now;
    if (state.held.length === 0) {
      if (seq === undefined) return this.emit(e);
      if (seq <= state.last + 1) {
        // The next one, or a late/duplicate one (the client de-duplicates by id and updatedSeq).
        state.last = Math.max(state.last, seq);
        return this.emit(e);
      }
    }
    const maxKey = state.held.reduce((m, h) => Math.max(m, h.key), state.last);
    state.held.push({ ...e, key: seq ?? maxKey, seqBearing: seq !== undefined, order: this.order++ });
    this.holds++;
    state.held.sort((a, b) => a.key - b.key || a.order - b.order);
    if (state.held.length === 1) state.deadline = now + this.opts.holdMs;
    this.drain(state, false);
    this.schedule();
  }

  /** Emits what is contiguous; with `force`, everything held (the wait is over). */
  private drain(state: ConvState, force: boolean): void {
    while (state.held.length > 0) {
      const head = state.held[0]!;
      const ready = head.seqBearing ? head.key <= state.last + 1 : head.key <= state.last;
      if (!ready && !force) break;
      state.held.shift();
      if (head.seqBearing) state.last = Math.max(state.last, head.key);
      this.emit(head);
    }
  }

  /** One timer per gate (not per conversation), armed only while something is held. */
  private schedule(): void {
    if (this.timer || this.closed) return;
    let next = Infinity;
    for (const s of this.convs.values()) if (s.held.length > 0) next = Math.min(next, s.deadline);
    if (next === Infinity) return;
    // The flush runs in setImmediate after the timer: the timers phase of the event loop comes
    // before the poll phase, so on a busy loop the timer could fire while the missing event's
    // database response is already waiting to be read. Deferring to the check phase lets that
    // poll phase run first (the usual reason for a hold is a commit acknowledged a moment later).
    this.timer = setTimeout(
      () => {
        setImmediate(() => {
          this.timer = undefined;
          this.flushDue();
        });
      },
      Math.max(0, next - this.now()),
    );
    this.timer.unref();
  }

  private flushDue(): void {
    const now = this.now();
    for (const s of this.convs.values()) {
      if (s.held.length > 0 && s.deadline <= now) {
        this.timeouts++;
        this.drain(s, true);
      }
    }
    this.schedule();
  }

  /** Forgets idle conversations; called from the gateway's periodic sweep. */
  sweep(): void {
    const now = this.now();
    for (const [id, s] of this.convs) if (s.held.length === 0 && now - s.touched > this.idleMs) this.convs.delete(id);
  }

  /** Number of events currently held (tests, metrics). */
  get heldCount(): number {
    let n = 0;
    for (const s of this.convs.values()) n += s.held.length;
    return n;
  }

  /** Emits everything still held and stops. */
  close(): void {
    for (const s of this.convs.values()) this.drain(s, true);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.convs.clear();
  }
}
