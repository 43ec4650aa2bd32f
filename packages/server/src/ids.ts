import { randomBytes } from 'node:crypto';

/**
 * Opaque ids: 16 random bytes in base64url (22 characters). Ids are never guessable, so an id
 * alone grants nothing, and every access is still checked against membership.
 */
export function newId(): string {
  return randomBytes(16).toString('base64url');
}
