import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

/**
 * Cryptographically random bytes, handed out from a pool that is filled 4 KB at a time. Each
 * randomBytes() call has a fixed cost (Node's checks around OpenSSL's DRBG; docs/benchmarks.md),
 * and every send took two: its id and its IV. These are the same CSPRNG bytes, each handed out once.
 * A full pool is replaced, never refilled in place, so a returned view never changes under its
 * holder.
 */
export function pooledRandomBytes(size: number): Buffer {
  if (size > POOL_BYTES) return randomBytes(size);
  if (offset + size > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + size);
  offset += size;
  return bytes;
}
