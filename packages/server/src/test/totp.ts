import { createHmac } from 'node:crypto';

/**
 * RFC 6238 codes (SHA-1, 6 digits, 30 s), written out here from the RFC with node:crypto: tests
 * check the server (which uses otplib) against this independent implementation, not against itself.
 */
export function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${char}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The time step of `atMs` (RFC 6238: T = floor(unix seconds / 30)). */
export const totpStep = (atMs = Date.now()) => Math.floor(atMs / 1000 / 30);

/** The code of time step `step` for a base32 secret (RFC 4226 dynamic truncation). */
export function totpCode(secretBase32: string, step = totpStep()): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secretBase32)).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return binary.toString().padStart(6, '0');
}
