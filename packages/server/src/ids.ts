import { pooledRandomBytes } from './crypto/random.ts';

/**
 * Opaque ids: 16 random bytes in base64url (22 characters). Ids are never guessable, so an id
 * alone grants nothing, and every access is still checked against membership.
 */
export function newId(): string {
  return pooledRandomBytes(16).toString('base64url');
}
