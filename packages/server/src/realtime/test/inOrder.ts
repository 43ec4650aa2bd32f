import type { Message, SyncResult } from '@confab/protocol';

/** What the algorithm needs of a message. */
export interface Change {
  id: string;
  conversationId: string;
  updatedSeq: number;
}

/**
 * The client side of the delivery guarantee, the reference the SDK implements; shared by the
 * realtime tests' `Mirror` and the benchmark's reconnect-storm client:
 * - per conversation a cursor: every change up to it is applied;
 * - a live change with updatedSeq = cursor + 1 is applied at once, then the held ones after it;
 *   one at or below the cursor only replaces an older state of the same message (de-dup by id);
 *   one further ahead is held until the gap fills or a sync covers it;
 * - a sync page replaces older states, moves the cursors forward and releases what it unblocks.
 */
export class InOrder<M extends Change> {
  readonly messages = new Map<string, M>();
  readonly cursors: Record<string, number> = {};
  private readonly held = new Map<string, Map<number, M>>();

  /** Applies a live change; false when it is held, waiting for the changes before it. */
  live(m: M): boolean {
    const cursor = this.cursors[m.conversationId];
    if (cursor !== undefined && m.updatedSeq <= cursor) {
      this.merge(m);
      return true;
    }
    if (cursor !== undefined && m.updatedSeq === cursor + 1) {
      this.merge(m);
      this.cursors[m.conversationId] = m.updatedSeq;
      this.drain(m.conversationId);
      return true;
    }
    // Ahead of the cursor (or a conversation without a cursor yet): hold it.
    let held = this.held.get(m.conversationId);
    if (!held) this.held.set(m.conversationId, (held = new Map()));
    held.set(m.updatedSeq, m);
    return false;
  }

  /** Whether any live change still waits for a gap to fill. */
  get holding(): boolean {
    return [...this.held.values()].some((h) => h.size > 0);
  }

  applySync(result: SyncResult, toChange: (m: Message) => M): void {
    for (const m of result.messages) this.merge(toChange(m));
    for (const id of result.removedConversationIds) delete this.cursors[id];
    for (const [id, seq] of Object.entries(result.cursors ?? {})) this.cursors[id] = Math.max(this.cursors[id] ?? 0, seq);
    for (const id of Object.keys(this.cursors)) this.drain(id);
  }

  private merge(m: M): void {
    const known = this.messages.get(m.id);
    if (!known || known.updatedSeq < m.updatedSeq) this.messages.set(m.id, m);
  }

  private drain(conversationId: string): void {
    const held = this.held.get(conversationId);
    if (!held) return;
    for (;;) {
      const cursor = this.cursors[conversationId] ?? 0;
      for (const [seq, m] of held) {
        if (seq <= cursor) {
          this.merge(m);
          held.delete(seq);
        }
      }
      const next = held.get(cursor + 1);
      if (!next) break;
      this.merge(next);
      held.delete(cursor + 1);
      this.cursors[conversationId] = cursor + 1;
    }
  }
}
