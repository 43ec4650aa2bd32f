import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Keyring } from '../crypto/keyring.ts';

/**
 * Upload URLs are signed: HMAC-SHA-256 over (attachment, uploader, expiry) with a key derived
 * (HKDF) from the token-signing key for this one purpose, so a signature can never be replayed as
 * anything else. Every node sharing CONFAB_SECRET derives the same key.
 */
export interface UrlSigner {
  sign(attachmentId: string, uploaderId: string, expires: number): string;
  verify(attachmentId: string, uploaderId: string, expires: string, signature: string, nowSeconds?: number): 'ok' | 'expired' | 'invalid';
}

export function createUrlSigner(keys: Pick<Keyring, 'jwtKey'>): UrlSigner {
  const key = Buffer.from(hkdfSync('sha256', keys.jwtKey, Buffer.from('confab'), Buffer.from('attachment-upload-url'), 32));
  const mac = (attachmentId: string, uploaderId: string, expires: number) =>
    createHmac('sha256', key).update(`upload\n${attachmentId}\n${uploaderId}\n${expires}`).digest();
  return {
    sign: (attachmentId, uploaderId, expires) => mac(attachmentId, uploaderId, expires).toString('base64url'),
    verify(attachmentId, uploaderId, expires, signature, nowSeconds = Math.floor(Date.now() / 1000)) {
      if (!/^\d{1,12}$/.test(expires) || !/^[A-Za-z0-9_-]{43}$/.test(signature)) return 'invalid';
      const expected = mac(attachmentId, uploaderId, Number(expires));
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
      // Checked after the signature, so a forged expiry is "invalid", not "expired".
      return Number(expires) < nowSeconds ? 'expired' : 'ok';
    },
  };
}
