import { describe, expect, it } from 'vitest';
import { pooledRandomBytes } from './random.ts';

describe('pooledRandomBytes', () => {
  it('hands out each byte once, across pool refills, and never changes a returned view', () => {
    const first = pooledRandomBytes(16);
    const copy = Buffer.from(first);
    const seen = new Set<string>();
    // 1,000 × 16 bytes spans four pools of 4 KB.
    for (let i = 0; i < 1000; i++) {
      const bytes = pooledRandomBytes(16);
      expect(bytes.length).toBe(16);
      seen.add(bytes.toString('hex'));
    }
    expect(seen.size).toBe(1000);
    expect(first.equals(copy)).toBe(true);
  });

  it('serves requests larger than the pool', () => {
    expect(pooledRandomBytes(10_000).length).toBe(10_000);
  });
});
