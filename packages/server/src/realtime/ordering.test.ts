import { describe, expect, it } from 'vitest';
import { SeqGate, type GatedEvent } from './ordering.ts';
import { sleep } from './test/kit.ts';

function gate(holdMs = 30) {
  const out: Array<string | number> = [];
  const g = new SeqGate((e: GatedEvent) => out.push(e.payload as string | number), { holdMs });
  const push = (seq: number | string) => g.push('c', { room: 'conv:c', event: typeof seq === 'number' ? 'chat:message_received' : 'chat:message_status_updated', payload: seq }, typeof seq === 'number' ? seq : undefined);
  return { g, out, push };
}

describe('SeqGate (per-conversation order on the publishing node)', () => {
  it('passes events in order at once', () => {
    const { out, push, g } = gate();
    for (const s of [4, 5, 6]) push(s);
    expect(out).toEqual([4, 5, 6]);
    expect(g.heldCount).toBe(0);
    g.close();
  });

  it('puts an early event back in order when the missing one arrives', () => {
    const { out, push, g } = gate();
    push(1);
    push(3);
    push('receipt after 3');
    expect(out).toEqual([1]);
    push(2);
    expect(out).toEqual([1, 2, 3, 'receipt after 3']);
    g.close();
  });

  it('gives up waiting after holdMs (the seq was committed elsewhere or never announced)', async () => {
    const { out, push, g } = gate(30);
    push(1);
    push(4);
    push(3);
    expect(out).toEqual([1]);
    await sleep(80);
    expect(out).toEqual([1, 3, 4]);
    // Late and duplicate events pass straight through; the client de-duplicates.
    push(2);
    push(5);
    expect(out).toEqual([1, 3, 4, 2, 5]);
    g.close();
  });

  it('keeps conversations apart and forgets idle ones', () => {
    let now = 0;
    const out: string[] = [];
    const g = new SeqGate((e) => out.push(`${e.room}:${String(e.payload)}`), { holdMs: 10, idleMs: 100, now: () => now });
    g.push('a', { room: 'a', event: 'x', payload: 1 }, 1);
    g.push('b', { room: 'b', event: 'x', payload: 7 }, 7);
    g.push('a', { room: 'a', event: 'x', payload: 2 }, 2);
    expect(out).toEqual(['a:1', 'b:7', 'a:2']);
    now = 1000;
    g.sweep();
    // Forgotten: the next event is taken as the new starting point.
    g.push('a', { room: 'a', event: 'x', payload: 9 }, 9);
    expect(out.at(-1)).toBe('a:9');
    g.close();
  });
});
