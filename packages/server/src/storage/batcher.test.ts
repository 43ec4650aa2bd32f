import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A batcher whose batches take `ms` each and are recorded; outputs are the inputs doubled. */
function recording(ms: number, opts: { maxConcurrent: number; maxBatch: number; spareAfterMs: number; gatherMs?: number } = { maxConcurrent: 2, maxBatch: 100, spareAfterMs: 50 }) {
  const batches: number[][] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const t0 = performance.now();
  const batcher = new Batcher(async (inputs: number[]) => {
    batches.push(inputs);
    starts.push(performance.now() - t0);
    await sleep(ms);
    ends.push(performance.now() - t0);
    if (inputs.includes(-1)) throw new Error('bad batch');
    return inputs.map((i) => i * 2);
  }, opts);
  return { batcher, batches, starts, ends };
}

describe('Batcher', () => {
  it('serves the requests of one turn together, each with its own output', async () => {
    const { batcher, batches } = recording(5);
    expect(await Promise.all([1, 2, 3].map((i) => batcher.load(i)))).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('gathers what arrives while a batch runs into the next batch, not one batch each', async () => {
    const { batcher, batches } = recording(20);
    const first = batcher.load(1);
    await sleep(5);
    const later = [2, 3, 4].map((i) => batcher.load(i));
    await sleep(5);
    later.push(batcher.load(5));
    expect(await Promise.all([first, ...later])).toEqual([2, 4, 6, 8, 10]);
    expect(batches).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('starts a second batch beside a slow one only after spareAfterMs', async () => {
    const { batcher, batches, starts, ends } = recording(200, { maxConcurrent: 2, maxBatch: 100, spareAfterMs: 50 });
    const slow = batcher.load(1);
    await sleep(5);
    const next = batcher.load(2);
    await Promise.all([slow, next]);
    expect(batches).toEqual([[1], [2]]);
    // The second started once the first had run 50 ms, and before the first ended.
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(45);
    expect(starts[1]!).toBeLessThan(ends[0]!);
  });

  it('with gatherMs, starts a batch no sooner than that after the previous start, and at once after a quiet spell', async () => {
    const { batcher, batches, starts } = recording(1, { maxConcurrent: 2, maxBatch: 100, spareAfterMs: 50, gatherMs: 40 });
    // A steady stream, one request every 5 ms: gathered into batches at least 40 ms apart.
    const stream: Array<Promise<number>> = [];
    const t0 = performance.now();
    for (let i = 0; i < 24; i++) {
      stream.push(batcher.load(i));
      await sleep(5);
    }
    const elapsed = performance.now() - t0;
    expect(await Promise.all(stream)).toEqual(Array.from({ length: 24 }, (_, i) => i * 2));
    expect(batches.flat()).toEqual(Array.from({ length: 24 }, (_, i) => i));
    // (However slow the machine made the stream.)
    expect(batches.length).toBeLessThanOrEqual(Math.ceil(elapsed / 40) + 1);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(39);
    // After a quiet spell longer than gatherMs, a request goes at once.
    await sleep(60);
    const t = performance.now();
    expect(await batcher.load(100)).toBe(200);
    expect(performance.now() - t).toBeLessThan(30);
  });

  it('fails the requests of a failed batch, and only those', async () => {
    const { batcher } = recording(5, { maxConcurrent: 1, maxBatch: 2, spareAfterMs: 50 });
    const results = await Promise.allSettled([batcher.load(-1), batcher.load(2), batcher.load(3)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(batcher.stats).toEqual({ batches: 2, largest: 2 });
  });
});
