import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pooledRandomBytes } from './random.ts';

/**
 * Keys for encryption at rest, the search blind index and token signing, all derived from master
 * secrets. A stored value is `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url), so values written
 * under an old key stay readable after rotation while new ones use the current key.
 */
export interface Keyring {
  encrypt(plaintext: string): string;
  decrypt(stored: string): string;
  /** Signing key for access tokens (HS256). */
  readonly jwtKey: Uint8Array;
  /** Keys for the blind search index: stable across rotations of the encryption key. */
  readonly searchKey: Buffer;
  readonly currentKeyId: string;
}

interface KeyFile {
  /** The newest secret first; the first one encrypts, all decrypt. */
  secrets: string[];
}

function derive(secret: string, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.from('confab'), Buffer.from(info), 32));
}

function keyIdOf(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url').slice(0, 8);
}

/** Reads CONFAB_SECRET, or DATA_DIR/secret.json, creating the file with a new random secret on first start. */
export function loadSecrets(dataDir: string, secret: string | undefined, previous: string[]): string[] {
  if (secret) return [secret, ...previous];
  const file = path.join(dataDir, 'secret.json');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const created: KeyFile = { secrets: [randomBytes(32).toString('base64url')] };
    writeFileSync(file, JSON.stringify(created, null, 2), { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as KeyFile;
  if (!Array.isArray(parsed.secrets) || parsed.secrets.length === 0) throw new Error(`${file} has no secrets`);
  return [...parsed.secrets, ...previous];
}

export function createKeyring(secrets: string[]): Keyring {
  const [current] = secrets;
  if (!current) throw new Error('no secret configured');
  const keys = new Map(secrets.map((s) => [keyIdOf(s), derive(s, 'encryption-at-rest')]));
  const currentKeyId = keyIdOf(current);
  const currentKey = keys.get(currentKeyId)!;
  // Rotation puts the new secret first and keeps the old ones after it. The blind index must not
  // change with rotation (stored term hashes would stop matching), so it derives from the oldest
  // configured secret, the last in the list.
  const stable = secrets[secrets.length - 1]!;
  return {
    currentKeyId,
    jwtKey: new Uint8Array(derive(current, 'jwt-hs256')),
    searchKey: derive(stable, 'search-blind-index'),
    encrypt(plaintext) {
      const iv = pooledRandomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv);
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return ['v1', currentKeyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    },
    decrypt(stored) {
      const [version, keyId, iv, tag, ct] = stored.split('.');
      if (version !== 'v1' || !keyId || iv === undefined || tag === undefined || ct === undefined) throw new Error('not an encrypted value');
      const key = keys.get(keyId);
      if (!key) throw new Error(`unknown encryption key ${keyId}: add its secret to CONFAB_PREVIOUS_SECRETS`);
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

/** SHA-256 of a token, for storing refresh tokens without storing them. */
export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

export function hmac64(key: Buffer, value: string): string {
  // First 8 bytes as a signed 64-bit integer, as text (fits PostgreSQL bigint).
  return createHmac('sha256', key).update(value).digest().readBigInt64BE(0).toString();
}
