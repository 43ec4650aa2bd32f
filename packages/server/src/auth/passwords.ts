import argon2 from 'argon2';

/** argon2id with OWASP's recommended parameters; tests use a cheaper setting for speed. */
export async function hashPassword(password: string, fast: boolean): Promise<string> {
  return argon2.hash(password, fast ? { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 } : { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
}

let verifications = 0;
/** How many passwords this process has verified: tests count them to show a burst is cut off before verifying. */
export const passwordVerifications = () => verifications;

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  verifications++;
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** A fixed hash to verify against when the account does not exist, so timing does not reveal it. */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(fast: boolean): Promise<string> {
  dummyHash ??= hashPassword('confab-no-such-user', fast);
  return dummyHash;
}
