import { ConfabError } from '@confab/protocol';
import { afterAll, beforeAll, expect } from 'vitest';
import { startTestServer, type TestServer, type TestUser } from '../../../server/src/test/harness.ts';
import { createClient, type ClientOptions, type ConfabClient } from '../client.ts';
import { memoryStorage } from '../storage/memory.ts';

/**
 * A real Confab server for the SDK tests of one file (or one describe), started before them and
 * closed after them with every client made by `sdk`. `server` is set once the tests run.
 */
export function liveServer(start: () => Promise<TestServer> = () => startTestServer()) {
  const clients: ConfabClient[] = [];
  const live = {
    server: undefined as unknown as TestServer,
    /** An SDK client (memory storage) signed in as `user`. */
    sdk(user: TestUser, options: Partial<ClientOptions> = {}): ConfabClient {
      const client = createClient({ url: live.server.url, storage: memoryStorage(), ...options });
      clients.push(client);
      client.setSession({ accessToken: user.accessToken, refreshToken: user.refreshToken });
      return client;
    },
  };
  beforeAll(async () => {
    live.server = await start();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await live.server?.close();
  });
  return live;
}

/** Polls `check` every 20 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The contract's error code a call is refused with (it must be refused). */
export async function refused(p: Promise<unknown>): Promise<string> {
  const error = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfabError);
  return (error as ConfabError).code;
}
