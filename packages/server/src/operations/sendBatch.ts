import { BatchSlots, onceNextTurn } from '../storage/batcher.ts';
import type { Database } from '../storage/db.ts';
import { storeSends, type PlainSend } from '../storage/messages.ts';
import type { MessageRow } from '../storage/rows.ts';

/**
 * How many batches run at once. Every call of the batch function has a fixed cost much larger than
 * a row's (bench/store-cost.ts), so fewer, larger batches cost less. With a new batch for every
 * turn's sends, S2's load went out in small batches and cost PostgreSQL more per message than one
 * batch at a time did, at the same latency (bench/cost.ts; figures in docs/benchmarks.md).
 * A second batch starts beside a running one only once that one has run `spareAfterMs`: on
 * PostgreSQL a batch stuck behind a lock (another node's batch of the same conversation) then does
 * not hold up the others; PGlite runs in its own thread (storage/db.ts), where the second batch
 * waits, ready to run the moment a long first one is done.
 */
export const SEND_BATCHING: Record<Database['kind'], { maxConcurrent: number; spareAfterMs: number; maxBatch: number }> = {
  postgres: { maxConcurrent: 8, spareAfterMs: 10, maxBatch: 500 },
  embedded: { maxConcurrent: 2, spareAfterMs: 10, maxBatch: 500 },
};

/**
 * Group commit for plain sends. Sends that arrive while earlier ones are being stored wait in a
 * queue and are then stored together, in one call instead of one statement each: the
 * per-statement cost (a round trip and a commit on PostgreSQL, a whole trip through the WASM
 * engine on PGlite) is paid once per batch. A send that finds the database idle
 * goes at once, alone, so batching never adds latency when there is nothing to batch.
 *
 * A batch is one call of `confab_store_sends` (storage/messages.ts, storeSends and the function's
 * body, which migration 10 created; thread replies go in it too), one round trip:
 *  1. it locks every conversation of the batch, in id order (two batches cannot deadlock);
 *  2. in new statements (so under READ COMMITTED they see every send committed before the locks
 *     were granted) it inserts the sends whose author is a member, numbering them last_seq + 1,
 *     + 2, … per conversation in arrival order, and advances last_seq and the authors' watermarks;
 *  3. if a send had been stored before (its clientId again), the insert skipped it and left a hole
 *     in seq, so the function fails the whole batch, and its sends are stored one by one instead.
 * A clientId repeated within one batch is sent once; the repeat gets the stored message back like
 * any other repeat. So seq has no gaps and a clientId lands once.
 */
export class SendBatcher {
  private queue: { send: PlainSend; resolve: (row: MessageRow | undefined) => void; reject: (error: unknown) => void }[] = [];
  private readonly slots: BatchSlots;
  /** Conversations with a batch being stored. */
  private readonly busy = new Set<string>();
  /** How many batches of two or more were stored, and the largest. */
  readonly stats = { batches: 0, largest: 0 };
  /** Told each batch's size, 1 included (metrics). */
  observe?: (size: number) => void;

  constructor(
    private readonly db: Database,
    private readonly single: (send: PlainSend) => Promise<MessageRow | undefined>,
    private readonly opts: { maxConcurrent: number; spareAfterMs: number; maxBatch: number } = SEND_BATCHING[db.kind],
  ) {
    this.slots = new BatchSlots(opts, () => this.pump());
  }

  /** Stores the send; resolves with its row, or undefined when nothing was inserted (repeat or not a member). */
  store(send: PlainSend): Promise<MessageRow | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ send, resolve, reject });
      this.pumpNextTurn();
    });
  }

  /** Sends that arrive in the same turn of the event loop go together. */
  private readonly pumpNextTurn = onceNextTurn(() => this.pump());

  /**
   * Starts batches while there is room. A batch takes only sends whose conversation no running
   * batch holds: concurrent batches of one busy conversation would just queue on its row lock (in
   * the benchmarks most PostgreSQL backends sat waiting on it), whereas its sends waiting here all
   * go together in its next batch, which is the point of group commit. A conversation's sends keep
   * their order. Another batch starts beside a running one only once that one has run
   * `spareAfterMs` (see SEND_BATCHING).
   */
  private pump(): void {
    // ready() first: while no batch may start, the queue is not even looked at.
    while (this.queue.length > 0 && this.slots.ready()) {
      const batch: SendBatcher['queue'] = [];
      const waiting: SendBatcher['queue'] = [];
      const claimed = new Set<string>();
      for (const item of this.queue) {
        const conversationId = item.send.conversationId;
        if (!this.busy.has(conversationId) && batch.length < this.opts.maxBatch) {
          batch.push(item);
          claimed.add(conversationId);
        } else waiting.push(item);
      }
      if (batch.length === 0) return; // every queued send waits for a running batch of its conversation
      this.slots.take();
      this.queue = waiting;
      for (const id of claimed) this.busy.add(id);
      void this.run(batch).finally(() => {
        for (const id of claimed) this.busy.delete(id);
        this.slots.release();
      });
    }
  }

  private async run(batch: SendBatcher['queue']): Promise<void> {
    this.observe?.(batch.length);
    try {
      if (batch.length === 1) {
        batch[0]!.resolve(await this.single(batch[0]!.send));
        return;
      }
      this.stats.batches++;
      this.stats.largest = Math.max(this.stats.largest, batch.length);
      // A repeat within the batch would make the function fail it (see above); it is stored once.
      const firsts = new Map<string, PlainSend>();
      for (const { send } of batch) {
        const key = `${send.conversationId} ${send.authorId} ${send.clientId}`;
        if (!firsts.has(key)) firsts.set(key, send);
      }
      const rows = await storeSends(this.db, [...firsts.values()]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      for (const b of batch) b.resolve(byId.get(b.send.id));
    } catch (error) {
      if (batch.length === 1) {
        batch[0]!.reject(error);
        return;
      }
      // A send stored before, or one bad send: store them one by one (the others must not fail).
      for (const b of batch) await this.single(b.send).then(b.resolve, b.reject);
    }
  }
}
