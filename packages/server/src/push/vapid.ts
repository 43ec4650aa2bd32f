import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

function valid(keys: { publicKey?: string | undefined; privateKey?: string | undefined }): keys is VapidKeys {
  return (
    typeof keys.publicKey === 'string' &&
    typeof keys.privateKey === 'string' &&
    Buffer.from(keys.publicKey, 'base64url').length === 65 &&
    Buffer.from(keys.privateKey, 'base64url').length === 32
  );
}

/**
 * The server's VAPID key pair (the identity push services check, and browsers bind subscriptions
 * to): CONFAB_VAPID_PUBLIC_KEY / CONFAB_VAPID_PRIVATE_KEY, else DATA_DIR/vapid.json, created on
 * first start. Changing the keys orphans every subscription (browsers must subscribe again), so
 * several nodes must share them: set the variables, or share DATA_DIR.
 */
export async function loadVapidKeys(dataDir: string, configured: VapidKeys | undefined): Promise<VapidKeys> {
  // Checked by config.ts when read from the environment.
  if (configured) return configured;
  const file = path.join(dataDir, 'vapid.json');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Needed on the first start only: loaded here, not on every start.
    const { default: webpush } = await import('web-push');
    const created = webpush.generateVAPIDKeys();
    try {
      // 'wx': when two processes start on one DATA_DIR at once, the first file wins and both read it.
      writeFileSync(file, JSON.stringify({ publicKey: created.publicKey, privateKey: created.privateKey }, null, 2), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<VapidKeys>;
  if (!valid(stored)) throw new Error(`${file} does not hold a VAPID key pair`);
  return { publicKey: stored.publicKey, privateKey: stored.privateKey };
}
