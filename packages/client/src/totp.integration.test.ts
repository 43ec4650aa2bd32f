/**
 * Two-factor sign-in through the SDK against a real Confab server: setupTotp, enableTotp,
 * disableTotp, and a login that needs a code surfaces as a ConfabError whose details say so
 * (without the client trying to refresh a session it does not have).
 */
import { ConfabError } from '@confab/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { registerUser } from '../../server/src/test/harness.ts';
import { totpCode, totpStep } from '../../server/src/test/totp.ts';
import { createClient, type ConfabClient } from './client.ts';
import { memoryStorage } from './storage/memory.ts';
import { liveServer } from './test/live.ts';

const live = liveServer();
const fresh: ConfabClient[] = [];
afterAll(() => Promise.all(fresh.map((c) => c.close())));

describe('second factor in the SDK', () => {
  it('sets up, enables, asks for a code at login, and turns off', async () => {
    const alice = await registerUser(live.server, 'alice');
    const a = live.sdk(alice, { autoConnect: false });
    const { secret, otpauthUrl } = await a.api.setupTotp();
    expect(otpauthUrl).toContain(`secret=${secret}`);
    const step = totpStep();
    const { recoveryCodes } = await a.api.enableTotp(totpCode(secret, step));
    expect(recoveryCodes).toHaveLength(10);

    const requests: string[] = [];
    const signIn = createClient({
      url: live.server.url,
      storage: memoryStorage(),
      autoConnect: false,
      fetch: (input, init) => {
        requests.push(`${init.method} ${new URL(input).pathname}`);
        return fetch(input, init);
      },
    });
    fresh.push(signIn);
    const credentials = { email: alice.user.email, password: 'correct horse battery' };
    const error = await signIn.login(credentials).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfabError);
    expect((error as ConfabError).code).toBe('UNAUTHENTICATED');
    expect((error as ConfabError).details).toEqual({ totpRequired: true });
    // One request: no refresh attempted for a sign-in.
    expect(requests).toEqual(['POST /api/auth/login']);
    const me = await signIn.login({ ...credentials, totpCode: totpCode(secret, step + 1) });
    expect(me.totpEnabled).toBe(true);

    await a.api.disableTotp('correct horse battery');
    expect((await a.fetchMe()).totpEnabled).toBe(false);
  });
});
